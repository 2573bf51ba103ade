// The model's side of a real server (sim/server/external.ts), without a real process: a peer
// scripted here answers as a libfuse server would, so the in-model session loop, the ioctls it
// makes for the server, the findings in kernel terms and replay from the transcript are
// tested anywhere (no root, no libfuse). test/server.test.ts runs the real passthrough_hp.
import { afterEach, describe, expect, it } from 'vitest';
import { attachExternalPeer, detachExternalPeer, externalState, type ExternalEvent, type ExternalPeer, type ExternalRequest } from '../sim/server/external.ts';
import { runScenario } from '../sim/scenario/run-scenario.ts';
import { ScenarioSchema, type Scenario } from '../sim/scenario/schema.ts';
import { serverOf } from '../sim/server/state.ts';
import { decodeRequest, encodeReply, type Wide } from '../sim/wire/messages.ts';
import { encode, zeroValue, FUSE_BACKING_MAP, FUSE_ENTRY_OUT, FUSE_INIT_OUT, FUSE_OPEN_OUT } from '../sim/wire/structs.ts';
import { FOPEN_PASSTHROUGH, FUSE_DEV_IOC_BACKING_OPEN, FUSE_INIT_FLAG, splitInitFlags } from '../sim/wire/uapi.ts';
import { toHex } from '../sim/kernel/fuse/hex.ts';

/** A server that shares one backing id per open, like passthrough_hp without the sharing. */
class ScriptedPeer implements ExternalPeer {
  private openUnique: Wide = 0;
  constructor(private readonly o: { initPassthrough: boolean; content: string }) {}

  deliver(req: ExternalRequest): ExternalEvent[] {
    const u = decodeRequest(req.bytes).header.unique;
    const reply = (err: number, body: Uint8Array | null): ExternalEvent[] => [{ t: 'reply', hex: toHex(encodeReply(u, err, body)) }];
    switch (req.name) {
      case 'INIT': {
        const flags = FUSE_INIT_FLAG.INIT_EXT | (this.o.initPassthrough ? FUSE_INIT_FLAG.PASSTHROUGH : 0n);
        return reply(0, encode(FUSE_INIT_OUT, { ...zeroValue(FUSE_INIT_OUT), major: 7, minor: 40, max_write: 131072, max_stack_depth: 1, ...splitInitFlags(flags) }));
      }
      case 'LOOKUP': {
        const e = zeroValue(FUSE_ENTRY_OUT);
        e.nodeid = 2;
        e.entry_valid = 86400;
        e.attr_valid = 86400;
        e.attr.ino = 2;
        e.attr.mode = 0o100644;
        e.attr.nlink = 1;
        e.attr.size = this.o.content.length;
        return reply(0, encode(FUSE_ENTRY_OUT, e));
      }
      case 'OPEN':
        this.openUnique = u;
        return [
          {
            t: 'ioctl',
            cmd: FUSE_DEV_IOC_BACKING_OPEN,
            arg: toHex(encode(FUSE_BACKING_MAP, { fd: 7, flags: 0, padding: 0 })),
            file: { kind: 'reg', ino: '77', flags: 0o100000, fsName: 'tmpfs', path: '/srv/f0', data: this.o.content },
          },
        ];
      case 'FORGET':
      case 'BATCH_FORGET':
        return [];
      default:
        return reply(0, null);
    }
  }

  answer(ret: number): ExternalEvent[] {
    const out = { ...zeroValue(FUSE_OPEN_OUT), fh: 1, open_flags: ret > 0 ? FOPEN_PASSTHROUGH : 0, backing_id: ret > 0 ? ret : 0 };
    return [{ t: 'reply', hex: toHex(encodeReply(this.openUnique, 0, encode(FUSE_OPEN_OUT, out))) }];
  }
}

const scenario = (): Scenario =>
  ScenarioSchema.parse({
    name: 'scripted external server',
    kernel: '6.18',
    filesystems: [
      { name: 'host', type: 'plain', files: {} },
      { name: 'fuse', type: 'fuse', server: { files: {}, external: { command: 'scripted', host: 'host' } } },
    ],
    tasks: [{ name: 't0', ops: [{ op: 'open', path: '/fuse/f0', save: 'fd' }, { op: 'read', fd: '$fd', n: 100 }, { op: 'close', fd: '$fd' }] }],
  });

afterEach(() => detachExternalPeer('fuse'));

describe('an external server in the model (scripted peer)', () => {
  it('passthrough: the BACKING_OPEN is the model\'s ioctl on a model file standing for the real one; reads reach its content; replay needs no peer', () => {
    attachExternalPeer('fuse', new ScriptedPeer({ initPassthrough: true, content: 'hello, backing' }));
    const s = scenario();
    const r = runScenario(s, { record: true });
    const t0 = r.world.tasks.find((t) => t.name === 't0')!;
    expect(t0.results.map((x) => x.ret)).toEqual([3, 14, 0]);
    expect(t0.results[1]!.data).toBe('hello, backing');
    const srv = serverOf(r.world, 'fuse');
    expect(srv.seen).not.toContain('READ'); // passthrough
    expect(r.violations.map((v) => v.message)).toEqual([
      // the scripted server never closes its id: the model says so when the connection ends
      expect.stringMatching(/^backing ids 1 are still in fc->backing_files_map at the end of the connection: the server never closed them/),
    ]);
    // the transcript replays without the peer, step for step
    detachExternalPeer('fuse');
    const replayed = structuredClone(s);
    const fs = replayed.filesystems[1]!;
    if (fs.type !== 'fuse' || !fs.server.external) throw new Error('no external server');
    fs.server.external.transcript = externalState(srv).transcript;
    const again = runScenario(replayed, { record: true });
    expect(again.steps.map((x) => x.rec)).toEqual(r.steps.map((x) => x.rec));
    // another program under the same transcript: the model notices the first request it was not recorded for
    const other = structuredClone(replayed);
    other.tasks[0]!.ops.unshift({ op: 'stat', path: '/fuse/f1' });
    const diverged = runScenario(other, { record: false });
    expect(diverged.violations.map((v) => v.message)).toContainEqual(expect.stringMatching(/answers LOOKUP \(unique \d+\) here, but the model sent OPEN|answers OPEN \(unique \d+\) here, but the model sent LOOKUP|a transcript replays only the schedule it was recorded under/));
  });

  it('an INIT reply without FUSE_PASSTHROUGH: the BACKING_OPEN fails EPERM and the model says why', () => {
    attachExternalPeer('fuse', new ScriptedPeer({ initPassthrough: false, content: 'data' }));
    const r = runScenario(scenario(), { record: false });
    expect(r.violations.map((v) => v.message)).toEqual([expect.stringMatching(/BACKING_OPEN failed EPERM: passthrough was never enabled on this connection because its INIT reply did not ask for FUSE_PASSTHROUGH/)]);
    // the open went on without passthrough: the read went to the server, which answered nothing
    expect(serverOf(r.world, 'fuse').seen).toContain('READ');
  });

  it('no peer and no transcript: the session ends with a report, the users see ENOTCONN', () => {
    const r = runScenario(scenario(), { record: false });
    expect(r.violations.map((v) => `${v.kind}: ${v.message}`)).toEqual([expect.stringMatching(/^server: the server of \/fuse is a real process \(scripted\) and this scenario has no transcript/)]);
    expect(r.world.tasks.find((t) => t.name === 't0')!.results.map((x) => x.ret)).toEqual(['ENOTCONN', 'EBADF', 'EBADF']);
  });

  it('a scenario whose external server names no plain filesystem is refused where it says so', () => {
    const bad = { ...JSON.parse(JSON.stringify(scenario())) };
    bad.filesystems[1].server.external.host = 'nope';
    const p = ScenarioSchema.safeParse(bad);
    expect(p.success).toBe(false);
    expect(p.error?.issues.map((i) => i.message).join('\n')).toMatch(/"nope" is no plain filesystem of this scenario/);
  });
});
