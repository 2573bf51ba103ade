// A fuzz worker thread (fuzz/run.ts): runs the jobs it is sent, reports after every input (the
// parent's watchdog counts a silence as a hang) and a tally per job.
import { parentPort, threadId } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fuzzer } from './harness.ts';
import { add, chunkInputs, emptyTally, runOne, type Job } from './campaign.ts';

const fz = new Fuzzer(join(tmpdir(), `fpsim-fuzz-${process.pid}-${threadId}`));
parentPort!.on('message', async (m: { job?: Job; stop?: true }) => {
  if (m.stop) {
    fz.close();
    process.exit(0);
  }
  const job = m.job!;
  const inputs = chunkInputs(job.cls, job.seed, job.chunk);
  const tally = emptyTally();
  for (let i = job.from; i < job.to; i++) {
    parentPort!.postMessage({ type: 'start', index: i });
    const o = await runOne(fz, job.cls, inputs[i]);
    if (o.kind === 'crash' && o.detail) o.detail = `${o.detail}\ninput: ${JSON.stringify(inputs[i]).slice(0, 2000)}`;
    if (o.kind === 'rejected' && !o.located && o.detail) o.detail = `${o.detail}\ninput: ${JSON.stringify(inputs[i]).slice(0, 1000)}`;
    add(tally, o, job.chunk, i);
  }
  parentPort!.postMessage({ type: 'done', tally });
});
parentPort!.postMessage({ type: 'ready' });
