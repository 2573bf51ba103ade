// Worker threads do not inherit tsx's loader: from the sources (a .ts entry), register it
// first; compiled (dist/, an installed fpsim, no tsx), import the .js entry as it is.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
