// The content of docs/diagrams.md, generated from the machines the model actually uses.
import { toMermaid } from '../sim/server/mermaid.ts';
import { lifecycleMachine } from '../sim/server/lifecycle.ts';
import { ioModeMachine } from '../sim/kernel/fuse/iomode-machine.ts';

export function diagramsMarkdown(): string {
  return `# State diagrams

Generated from the xstate machines by \`npm run docs\`; a test fails if this file drifts from
the code.

## The FUSE server's connection lifecycle (\`sim/server/lifecycle.ts\`)

The scripted server moves through these states as it reads requests from the device: it
answers INIT first, then handles one request at a time, until the connection is aborted or
the filesystem is unmounted (its read of /dev/fuse then fails with ENODEV).

\`\`\`mermaid
${toMermaid(lifecycleMachine)}
\`\`\`

## An inode's io mode (\`sim/kernel/fuse/iomode-machine.ts\`)

\`fi->iocachectr\` counts cached opens (> 0) or uncached users (< 0: passthrough files and
parallel direct writes). Every change the model makes to the counter is checked against this
machine: a cached open of an inode in uncached mode (or the reverse) is a violation.

\`\`\`mermaid
${toMermaid(ioModeMachine)}
\`\`\`
`;
}
