// What a violation means in kernel terms: what went wrong, why the real code is written the
// way it is, and what the real kernel would have printed. Used by `fpsim replay` (and any
// tour) when a run reaches its first violation.
import type { Violation, ViolationKind } from '../kernel/lib/violation.ts';

export interface Explanation {
  /** what the kernel would report, as its first line would read */
  report: string;
  /** a few sentences: what happened, and the rule of the real code that prevents it */
  text: string;
}

const inFn = (v: Violation) => (v.fn ? ` in ${v.fn}` : '');
const obj = (v: Violation, fallback: string) => v.object ?? fallback;

const EXPLAIN: Record<ViolationKind, (v: Violation) => Explanation> = {
  'use-after-free': (v) => ({
    report: `BUG: KASAN: slab-use-after-free${inFn(v)}`,
    text:
      (/dereferences/.test(v.message)
        ? `${v.task} read freed memory: ${obj(v, 'the object')} was freed while a task still held a pointer it had not taken a reference for (or had already put). `
        : `Freed memory is still reachable: ${obj(v, 'an object')} was freed while a pointer to it was left behind by a holder that had not taken a reference for it (or had already put it); the next reader will read freed memory. `) +
      'A pointer is only safe to follow while you own a reference (or sit in an RCU read-side section that began before the object became unreachable, with the free deferred by kfree_rcu). ' +
      'In the kernel this is KASAN: slab-use-after-free, reported with three stacks: where the object was allocated, where it was freed, and where it was read; without KASAN it is silent corruption, or a crash much later.',
  }),
  'double-free': (v) => ({
    report: `BUG: KASAN: double-free${inFn(v)}`,
    text:
      `${obj(v, 'An object')} was freed twice: two paths each believed they dropped the last reference. That means one reference was put twice, or put by a path that never took it ` +
      '(an extra fuse_backing_put, say). In the kernel KASAN reports double-free (or invalid-free); without it the slab freelist is corrupted and a later, unrelated allocation crashes.',
  }),
  leak: (v) => ({
    report: `kmemleak: unreferenced object (${obj(v, 'an object')})`,
    text:
      'Once every file, backing id and connection is gone, nothing may stay allocated. Something took a reference and never put it: typically an error path that forgets ' +
      'fuse_backing_put (the EBUSY, ETXTBSY or backing-file-open failure of a passthrough open), or fi->fb overwritten with a plain store instead of xchg, losing the reference it held. ' +
      'In the kernel kmemleak reports "unreferenced object" with the allocation backtrace; a leaked fuse_backing also pins its backing file and creds, so the lower filesystem stays busy (umount: target is busy).',
  }),
  'refcount-inc-from-zero': (v) => ({
    report: 'refcount_t: addition on 0; use-after-free.',
    text:
      `A count of 0 was incremented${inFn(v)}: the object is already on its way to being freed, and the increment resurrects it. ` +
      'This is why fuse_backing_get must use refcount_inc_not_zero: a lookup finds the fuse_backing in backing_files_map under rcu_read_lock without owning a reference. ' +
      'A BACKING_CLOSE racing with it may already have removed the id and dropped the last reference (count 0, kfree_rcu queued). refcount_inc_not_zero fails on 0 and the lookup treats the id as absent (ENOENT); ' +
      'a plain refcount_inc "succeeds" and the open goes on using memory that is freed after the grace period. The kernel\'s refcount_t warns (WARNING: refcount_t: addition on 0) and saturates the counter, leaking the object rather than freeing it under a user.',
  }),
  'refcount-underflow': (v) => ({
    report: 'refcount_t: underflow; use-after-free.',
    text:
      `A reference was put that nobody held${inFn(v)}: the count went below zero, so some earlier put already freed the object while others still used it. ` +
      'Every put must match a get (or the initial reference from allocation). The kernel\'s refcount_t warns (WARNING: refcount_t: underflow; use-after-free) and saturates the counter; KASAN usually reports the use-after-free too.',
  }),
  'refcount-owners': (v) => ({
    report: `(no kernel report: the count of ${obj(v, 'a fuse_backing')} no longer matches its owners)`,
    text:
      'A fuse_backing\'s count must equal the references that exist: one for its id in backing_files_map, one if an inode\'s fi->fb points to it, one per task holding it in flight (a lookup\'s get). ' +
      'A count above its owners is a reference nobody will ever put (a leak, found later by kmemleak); a count below is a put waiting to free the object under someone still using it (a use-after-free, found later by KASAN). ' +
      'The real kernel has no check at this point: the model catches the bookkeeping error at the step that makes it, long before the symptom.',
  }),
  'rcu-early-free': (v) => ({
    report: `BUG: KASAN: slab-use-after-free (a reader of ${obj(v, 'an RCU-published object')} after kfree)`,
    text:
      'Lookups find a fuse_backing under rcu_read_lock without owning a reference: between idr_find and refcount_inc_not_zero, the only thing keeping its memory valid is that its free waits for a grace period. ' +
      'That is why fuse_backing_free uses kfree_rcu(fb, rcu), not kfree: every reader that could have seen the pointer (it entered its read-side section before idr_remove) leaves before the memory goes. ' +
      'With kfree, a reader in that window reads freed memory (refcount_inc_not_zero on a freed count): KASAN reports slab-use-after-free in fuse_backing_get; without KASAN it may resurrect garbage.',
  }),
  'rcu-unbalanced': (v) => ({
    report: 'WARNING: suspicious RCU usage / bad rcu_read_unlock',
    text:
      `An RCU read-side section was not balanced${inFn(v)}. rcu_read_lock and rcu_read_unlock must pair on every path: an unlock without a lock (or a section left open) breaks the grace-period logic. ` +
      'A section never left stalls every grace period (the RCU CPU stall warning), so no kfree_rcu callback ever runs; an extra unlock can end a grace period while a reader still holds a pointer. With CONFIG_PROVE_RCU lockdep reports it at once.',
  }),
  'lock-misuse': (v) => ({
    report: 'BUG: spinlock recursion / bad unlock balance detected!',
    text:
      `A spinlock was misused${inFn(v)}: taken while already held (on one CPU that spins forever: a deadlock) or released by a task that did not hold it (the data it guards is now unprotected). ` +
      'Every spin_lock must be paired with spin_unlock by the same task on every path, error paths included. Lockdep (CONFIG_PROVE_LOCKING, CONFIG_DEBUG_SPINLOCK) reports it.',
  }),
  iomode: (v) => ({
    report: `(no kernel report: ${obj(v, 'an inode')} mixes cached and passthrough io)`,
    text:
      'fi->iocachectr counts the users of one io mode: cached (page cache, > 0) or uncached (passthrough or parallel direct writes, < 0), never both; fi->fb is set only in uncached mode. ' +
      'Mixing them lets the page cache and the backing file disagree: a read sees stale pages, a write through an mmap of the cached file is lost. ' +
      'That is why a cached open fails with ETXTBSY while fi->fb is set, a passthrough open fails with ETXTBSY while the inode is cached, and every release undoes exactly its own count. The kernel does not notice a broken count: it shows as wrong data or a file that can never be opened again.',
  }),
  'stack-depth': (v) => ({
    report: `(no kernel report until the stack overflows: ${obj(v, 'a mount')} is stacked too deep)`,
    text:
      'Each stacked filesystem (overlayfs, FUSE passthrough) adds its own frames to a read or write: an unbounded stack can overflow the fixed kernel stack ("BUG: stack guard page was hit" / kernel stack overflow). ' +
      'So FILESYSTEM_MAX_STACK_DEPTH is 2: INIT enables passthrough only with 1 <= max_stack_depth <= 2, and FUSE_DEV_IOC_BACKING_OPEN refuses (ELOOP) a backing file whose s_stack_depth >= fc->max_stack_depth.',
  }),
  idr: (v) => ({
    report: `(no kernel report: backing id trouble${v.object ? ` for ${v.object}` : ''})`,
    text:
      'Backing ids must be positive, unique among live entries, and not handed out again while anyone may still use the old one. The kernel allocates them with idr_alloc_cyclic, so a just-closed id is not reused at once: ' +
      'a server that still has a stale id (or a racing open reply carrying it) would otherwise silently open some other file as the backing file, and a file\'s data goes to the wrong place.',
  }),
  'warn-on': (v) => ({
    report: `WARNING: CPU: … at ${v.fn || 'fs/fuse'} (${v.message})`,
    text:
      'A WARN_ON fired: the code checked a condition its authors consider impossible. The kernel prints a warning with a backtrace and carries on (or panics with panic_on_warn, as syzbot runs do). ' +
      'It means the state is already inconsistent: look at the earlier steps for the put, store or count that made it so.',
  }),
  deadlock: (v) => ({
    report: `INFO: task ${v.task} blocked for more than 120 seconds.`,
    text:
      `${v.task} waits for something nothing can ever bring: a reply the server will not send, an io mode that will never change (a parallel direct write that never ended its uncached reference, a cached open waiting for it), a grace period that cannot end. ` +
      'In the kernel the task sits in D state and the hung-task detector reports it; the process cannot be killed while it waits uninterruptibly.',
  }),
  'file-lock': (v) => ({
    report: /Leaked/.test(v.message) ? v.message : `kernel BUG at fs/locks.c${inFn(v)}`,
    text:
      `The file locks of an inode are inconsistent: ${v.message}. fs/locks.c keeps every inode's locks on its lists (no two conflicting locks of different owners, one owner's POSIX ranges merged and never overlapping) and every waiting request linked behind exactly one blocker until a release wakes it. ` +
      'A lock left on the list after its file is gone (the close/fcntl race fcntl_setlk recovers from with locks_remove_posix) is reported at the last fput as "Leaked POSIX lock"; a request freed while still linked is a BUG_ON in locks_free_lock.',
  }),
  outcome: (v) => ({
    report: '(not a kernel report: the scenario and the model disagree)',
    text:
      `A scenario assertion failed: ${v.message.replace(/^assert: /, '')}. The scenario states what the real kernel does at this point; either the scenario is wrong or the model is. ` +
      'Read the effects of the steps before this one to see which field took the unexpected value.',
  }),
  server: (v) => ({
    report: '(not a kernel report: the FUSE server is at fault)',
    text:
      `The real FUSE server under test did something the kernel refuses or cannot live with: ${v.message}. ` +
      'The kernel itself is consistent here; the user-visible symptom (an open failing EIO, a hung request, an aborted connection) is what that server would cause on a real kernel.',
  }),
};

/** The explanation of a violation, in kernel terms. */
export function explainViolation(v: Violation): Explanation {
  const f = EXPLAIN[v.kind] as ((v: Violation) => Explanation) | undefined;
  return f ? f(v) : { report: `(${v.kind})`, text: v.message };
}
