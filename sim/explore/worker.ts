// One shard of a parallel exploration, in a worker thread (see parallel.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { explore, type ExploreOptions } from './explore.ts';
import type { Scenario } from '../scenario/schema.ts';

interface Job {
  scenario: Scenario;
  opts: Omit<ExploreOptions, 'onProgress'>;
}

const job = (workerData as { job: Job }).job;
const result = explore(job.scenario, {
  ...job.opts,
  keepHashes: true,
  onProgress: (p) => parentPort!.postMessage({ type: 'progress', progress: p }),
});
parentPort!.postMessage({ type: 'done', result });
