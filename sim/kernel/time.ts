// kernel/time/hrtimer.c: nanosleep(2). The model's clock (world.jiffies, HZ 1000) moves only
// when a task sleeps, so what expires (a dentry's entry_valid, an inode's attr_valid) is a
// function of the program, not of how fast the model runs.
import { entry, kfunc, ret } from './exec.ts';
import { neg } from './lib/errno.ts';

export const sys_sleep = entry(
  'sleep',
  kfunc<{ ms: number }>('hrtimer_nanosleep', 'kernel/time/hrtimer.c', {
    start(c, l) {
      if (l.ms < 0) return ret(neg('EINVAL'));
      c.w.jiffies += l.ms;
      if (c.record) c.emit('field', `jiffies ${c.w.jiffies - l.ms} -> ${c.w.jiffies} (${c.t.name} slept ${l.ms} ms)`);
      return ret(0);
    },
  }),
);
