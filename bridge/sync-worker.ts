// The worker side of bridge/sync.ts: owns one ServerProcess and answers the main thread's
// calls, one at a time, over a MessagePort; after posting each answer it flips the shared
// flag the main thread sleeps on (Atomics.wait), so the main thread's step function can use a
// real server as if it were a function call.
import { readFileSync } from 'node:fs';
import { workerData, type MessagePort } from 'node:worker_threads';
import { ServerProcess, type BridgeEvent } from './server-process.ts';
import type { SyncCall, SyncEvent, SyncReply } from './sync.ts';

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };
let sp: ServerProcess | null = null;

/** A bridge event as plain, cloneable data (the backing file's content read at once). */
function plainEvent(ev: BridgeEvent): SyncEvent {
  switch (ev.t) {
    case 'msg':
      return { t: 'msg', bytes: new Uint8Array(ev.bytes) };
    case 'ioctl': {
      const out: SyncEvent = { t: 'ioctl', chan: ev.chan, cmd: ev.cmd, arg: new Uint8Array(ev.arg) };
      if (ev.file) {
        const f = ev.file;
        let data: string | undefined;
        if (f.kind === 'reg') {
          try {
            data = readFileSync(f.procPath, 'latin1');
          } catch {
            data = undefined;
          }
        }
        out.file = { handle: f.handle, kind: f.kind, mode: f.mode, dev: f.dev, ino: f.ino.toString(), size: f.size, flags: f.flags, accmode: f.accmode, fsName: f.fsName, path: f.path, ...(data !== undefined ? { data } : {}) };
      }
      return out;
    }
    case 'exit':
      return { t: 'exit', code: ev.code, signal: ev.signal, stderrTail: ev.stderrTail };
    case 'timeout':
      return { t: 'timeout' };
  }
}

/**
 * Events until the server is idle again: every reply it owes has come and then nothing more
 * for quietMs (an ioctl may follow a reply: a server may close a backing id after replying),
 * or a thread blocks in an ioctl (the caller must answer), or the server exits, or timeoutMs
 * pass with a reply still owed.
 */
async function gather(owed: number, quietMs: number, timeoutMs: number): Promise<SyncEvent[]> {
  const out: SyncEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const wait = owed > 0 ? Math.max(0, deadline - Date.now()) : quietMs;
    const ev = await sp!.next(wait);
    if (ev.t === 'timeout') {
      if (owed > 0) out.push(ev);
      return out;
    }
    out.push(plainEvent(ev));
    if (ev.t === 'msg') {
      // a reply (unique != 0) pays one owed; a notification does not
      const unique = ev.bytes.length >= 16 ? new DataView(ev.bytes.buffer, ev.bytes.byteOffset).getBigUint64(8, true) : 0n;
      if (unique !== 0n && owed > 0) owed--;
      continue;
    }
    return out; // ioctl (to be answered) or exit
  }
}

async function handle(m: SyncCall): Promise<SyncReply> {
  try {
    switch (m.op) {
      case 'start':
        sp = await ServerProcess.start({ argv: m.argv, env: { ...process.env, ...(m.noAslr ? { FPSIM_NO_ASLR: '1' } : {}), ...(m.orphanTree ? { FPSIM_BRIDGE_ORPHAN_TREE: m.orphanTree } : {}) }, ...(m.cwd ? { cwd: m.cwd } : {}), ...(m.stderrFile ? { stderrFile: m.stderrFile } : {}) });
        return { ok: true, bridgePid: sp.bridgePid, serverPid: sp.serverPid };
      case 'deliver':
        sp!.deliver(m.bytes);
        return { ok: true, events: await gather(m.owed, m.quietMs, m.timeoutMs) };
      case 'answer':
        sp!.answerIoctl(m.chan, m.ret);
        if (m.closeHandle !== undefined) sp!.closeHandle(m.closeHandle);
        return { ok: true, events: await gather(m.owed, m.quietMs, m.timeoutMs) };
      case 'stop':
        await sp?.stop();
        sp = null;
        return { ok: true };
    }
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

port.on('message', (m: SyncCall & { id: number }) => {
  void handle(m).then((r) => {
    port.postMessage({ ...r, id: m.id });
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
});
