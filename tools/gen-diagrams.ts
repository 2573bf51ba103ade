// Regenerates docs/diagrams.md from the xstate machines (`npm run docs`).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { diagramsMarkdown } from './diagrams.ts';

const out = fileURLToPath(new URL('../docs/diagrams.md', import.meta.url));
writeFileSync(out, diagramsMarkdown());
console.log(`wrote ${out}`);
