// A throwaway Node-side harness for the transport's cleanup tests: it starts
// a transport served by the shared server core (a file "f" with inline data),
// answers INIT, prints one JSON line {pid, helperPid, mountpoint} and then
// serves until it is killed. The tests kill this process (SIGKILL or SIGTERM)
// and check that the helper noticed and removed its mount.
// Run: npx tsx oracle/harness-child.ts
import { RealServer } from './real-server.ts';
import { RealFuseTransport } from './transport.ts';

const t = await RealFuseTransport.start();
const server = new RealServer(t, { files: { f: { data: 'SERVER--DATA-456' } } });
await server.init;
process.stdout.write(`${JSON.stringify({ pid: process.pid, helperPid: t.helperPid, mountpoint: t.mountpoint })}\n`);
// keep serving until killed; a transport that closes on its own ends us too
const keepAlive = setInterval(() => {}, 60_000);
await server.done;
clearInterval(keepAlive);
