// Which shard this process is: --shard i/n, or a Kubernetes Indexed Job's environment
// (JOB_COMPLETION_INDEX is set by the Job controller in every pod of an Indexed Job; the
// count is the manifest's `completions`, passed as FPSIM_SHARD_COUNT since the pod is not
// told it). docs/scale-out.md shows the manifest.
import { InputError } from '../sim/scenario/load.ts';

export interface Shard {
  /** 0-based */
  index: number;
  count: number;
}

export function parseShard(v: string | undefined, flag = '--shard'): Shard | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,6})\/(\d{1,6})$/.exec(v.trim());
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
    throw new InputError(`${flag}: expected i/n with 0 <= i < n <= 999999 (e.g. 0/4), got "${v}"`);
  }
  return { index: Number(m[1]), count: Number(m[2]) };
}

/** The shard from JOB_COMPLETION_INDEX and FPSIM_SHARD_COUNT, or undefined when the index is not set. */
export function shardFromEnv(env: NodeJS.ProcessEnv = process.env): Shard | undefined {
  const index = env['JOB_COMPLETION_INDEX'];
  if (index === undefined || index === '') return undefined;
  const count = env['FPSIM_SHARD_COUNT'];
  if (count === undefined || count === '') {
    throw new InputError('JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but FPSIM_SHARD_COUNT is not: set it to the Job\'s completions (docs/scale-out.md)');
  }
  return parseShard(`${index}/${count}`, 'JOB_COMPLETION_INDEX/FPSIM_SHARD_COUNT');
}

/** --shard wins over the environment; a shard of 1 is the whole space. */
export function resolveShard(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Shard | undefined {
  return parseShard(flag) ?? shardFromEnv(env);
}
