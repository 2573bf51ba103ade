// The guided tour: each lesson drives real scenarios through the model, shows the steps that
// matter, checks its own claims against the runs, and ends with a question (OSTEP-style
// homework: `--answers` shows the answer).
import { ScenarioSchema, type ScenarioInput } from '../sim/scenario/schema.ts';
import { runScenario, type ScenarioResult } from '../sim/scenario/run-scenario.ts';
import * as S from './scenarios.ts';

export interface LessonRun {
  label: string;
  scenario: ScenarioInput;
  /** effects worth showing (the rest of the trace is one `fpsim run` away) */
  focus: RegExp;
}

export interface Claim {
  text: string;
  holds(runs: ScenarioResult[]): boolean;
}

export interface Lesson {
  id: string;
  aliases: string[];
  title: string;
  intro: string[];
  runs: LessonRun[];
  claims: Claim[];
  question: string;
  answer: string;
}

const kinds = (r: ScenarioResult) => new Set(r.violations.map((v) => v.kind));
const results = (r: ScenarioResult, task: string) => r.outcomes.filter((o) => o.task === task).map((o) => o.actual);

export const LESSONS: Lesson[] = [
  {
    id: 'stack-depth',
    aliases: ['init', 'max_stack_depth', 'eloop'],
    title: 'What INIT negotiates, and why max_stack_depth is at most 2',
    intro: [
      'Passthrough is off until the server asks for it in its INIT reply: FUSE_PASSTHROUGH (bit 37, so it travels in flags2 and needs FUSE_INIT_EXT) together with max_stack_depth, a new u32 at offset 36 of fuse_init_out.',
      'process_init_reply accepts 1 <= max_stack_depth <= FILESYSTEM_MAX_STACK_DEPTH (2) and copies it into the FUSE superblock\'s s_stack_depth: the mount now counts as that deep, whatever its backing files really are. Any other value leaves the feature silently off; the ioctls then say EPERM.',
      'BACKING_OPEN refuses (ELOOP) a backing file whose superblock is already s_stack_depth >= max_stack_depth, so FUSE never ends up more than two filesystems above a real one: the kernel\'s stack (and lockdep\'s nesting classes) stays bounded. The price: a server that wants backing files on overlayfs (depth 1) must ask for 2, and then its own mount (depth 2) cannot be a layer of another overlay.',
    ],
    runs: [
      { label: 'INIT asks for max_stack_depth 3: passthrough stays off', scenario: S.initDepth(3), focus: /passthrough|fuse_ioctl returns/ },
      { label: 'FUSE(max 2) over overlayfs over FUSE(max 1): the backing file is at depth 2', scenario: S.stackTooDeep(), focus: /s_stack_depth|fuse_ioctl returns/ },
      { label: 'an overlay over a FUSE mount that asked for 2', scenario: S.overlayOverFuse(2), focus: /overlayfs|s_stack_depth|mount returns/ },
      { label: 'the same overlay over a FUSE mount that asked for 1', scenario: S.overlayOverFuse(1), focus: /overlay|s_stack_depth|mount returns/ },
    ],
    claims: [
      { text: 'max_stack_depth 3 leaves passthrough off: BACKING_OPEN says EPERM', holds: (r) => results(r[0]!, 'ctl')[1] === 'EPERM' },
      { text: 'a backing file on overlayfs-over-FUSE is refused with ELOOP even at max_stack_depth 2', holds: (r) => results(r[1]!, 'ctl')[1] === 'ELOOP' },
      { text: 'an overlay over a depth-2 FUSE mount fails (EINVAL); over a depth-1 one it mounts', holds: (r) => results(r[2]!, 'admin')[0] === 'EINVAL' && results(r[3]!, 'admin')[0] === '0' },
    ],
    question: 'A server keeps its backing files on ext4 and wants its FUSE mount to be the lower layer of a container\'s overlayfs. Which max_stack_depth should it ask for, and what would go wrong with the other choice?',
    answer: 'max_stack_depth 1: ext4 has depth 0 < 1, so the backing files are accepted, and the FUSE sb gets s_stack_depth 1, so an overlay over it has depth 2, still allowed. With 2, the overlay would be depth 3 > FILESYSTEM_MAX_STACK_DEPTH and its mount fails.',
  },
  {
    id: 'backing-id',
    aliases: ['ownership', 'references'],
    title: 'What a backing id is, and who owns which reference',
    intro: [
      'FUSE_DEV_IOC_BACKING_OPEN takes a file the server opened and wraps it in a fuse_backing: one reference to the struct file, the server\'s creds, and a refcount_t that starts at 1. That first reference belongs to the id map (fc->backing_files_map, an IDR allocated cyclically from 1): the id is a handle the server can name in OPEN replies.',
      'An OPEN reply with FOPEN_PASSTHROUGH and backing_id looks the id up and takes a reference of its own. The first passthrough open of an inode gives that reference to the inode (fi->fb); later opens of the same inode drop theirs again: the inode holds exactly one reference, however many files are open. When the last passthrough file closes, the inode lets go of it.',
      'So the count of a fuse_backing is: 1 while its id is in the map, plus 1 while some inode points to it, plus references in flight (a lookup between its get and its hand-over).',
    ],
    runs: [{ label: 'passthrough_hp: two opens of one file share one id', scenario: S.twoOpens(), focus: /fuse_backing#\d+\.count|fuse_inode#\d+\.fb|backing_files_map|open returns/ }],
    claims: [
      { text: 'with two files open, the fuse_backing has count 2: the map and the inode, not one per file', holds: (r) => r[0]!.passed },
      { text: 'everything is freed after teardown (no leak)', holds: (r) => !kinds(r[0]!).has('leak') },
    ],
    question: 'The server closes the backing id while both files are still open. What is the count now, and when is the fuse_backing freed?',
    answer: 'Count 1: only the inode\'s reference is left (the map\'s went with the id). The files keep using their own per-open backing files; when the last one closes, fuse_inode_uncached_io_end takes fi->fb out with xchg and puts it: count 0, and the free goes through kfree_rcu.',
  },
  {
    id: 'inc-not-zero',
    aliases: ['refcount', 'fuse_backing_get', 'get'],
    title: 'Why fuse_backing_get must be refcount_inc_not_zero',
    intro: [
      'The open path finds the fuse_backing with idr_find under rcu_read_lock, without holding fc->lock and without a reference: the pointer is only guaranteed to point to memory, not to a live object. BACKING_CLOSE may meanwhile remove the id and drop the map\'s reference: if that was the last one, the count is 0 and the free is already queued.',
      'refcount_inc_not_zero refuses to take a reference on an object whose count reached 0, so the lookup treats it as absent (ENOENT, and open(2) gets EIO). A plain refcount_inc would resurrect it: the kernel warns ("refcount_t: addition on 0; use-after-free") and saturates the counter, but the free that was queued still happens.',
    ],
    runs: [
      { label: 'the race, as merged: lookup finds the fb, close drops the last reference, get fails', scenario: S.lookupVsClose([]), focus: /idr_find|fuse_backing#\d+\.count|backing_files_map|fuse_backing#\d+: freed|frees fuse_backing|open returns|rcu_read/ },
      { label: 'the same schedule with fuse_backing_get using refcount_inc', scenario: S.lookupVsClose(['get-without-not-zero']), focus: /idr_find|fuse_backing#\d+\.count|backing_files_map|fuse_backing#\d+: freed|frees fuse_backing|open returns/ },
    ],
    claims: [
      { text: 'as merged, the open fails cleanly (EIO) and nothing breaks', holds: (r) => results(r[0]!, 'user')[0] === 'EIO' && r[0]!.violations.length === 0 },
      { text: 'with a plain inc the open "succeeds" on a dying object: inc from 0, then use-after-free', holds: (r) => results(r[1]!, 'user')[0] === '3' && kinds(r[1]!).has('refcount-inc-from-zero') && kinds(r[1]!).has('use-after-free') },
    ],
    question: 'Saturation is supposed to make a refcount bug "leak instead of free". Why does the resurrected fuse_backing still get freed here?',
    answer: 'The put that reached 0 had already called fuse_backing_free, which queued kfree_rcu before the lookup\'s inc: saturating the counter afterwards cannot cancel a free that is already queued. After the grace period fi->fb points to freed memory.',
  },
  {
    id: 'rcu',
    aliases: ['kfree_rcu', 'grace-period', 'free'],
    title: 'Why the free is RCU-deferred',
    intro: [
      'Even with refcount_inc_not_zero, the lookup reads fb->count after finding the pointer: that read must hit valid memory. fuse_backing_free therefore frees with kfree_rcu: the memory stays until a grace period ends, and a grace period waits for every task that was inside an rcu_read_lock section when it started. The lookup is in such a section from idr_find until rcu_read_unlock.',
      'The model runs grace periods as steps of an rcu_gp kthread, so you can see which readers a grace period waits for and when callbacks run.',
    ],
    runs: [
      { label: 'the race, as merged', scenario: S.lookupVsClose([]), focus: /rcu_read|grace period|fuse_backing#\d+: freed|frees fuse_backing|kfree fuse_backing|idr_find/ },
      { label: 'the race with kfree instead of kfree_rcu', scenario: S.lookupVsClose(['free-without-grace-period']), focus: /rcu_read|grace period|fuse_backing#\d+: freed|frees fuse_backing|kfree fuse_backing|idr_find/ },
    ],
    claims: [
      { text: 'as merged, the fb is freed by an RCU callback after the reader left', holds: (r) => r[0]!.violations.length === 0 },
      { text: 'with kfree, the lookup reads freed memory (use-after-free), and the free itself is flagged', holds: (r) => kinds(r[1]!).has('use-after-free') && kinds(r[1]!).has('rcu-early-free') },
    ],
    question: 'Could fuse_backing_close take fc->lock around the put instead, and make RCU unnecessary?',
    answer: 'Not without taking fc->lock in the lookup too: the lookup deliberately runs under rcu_read_lock only, so open never contends with the server\'s ioctls on fc->lock. As long as readers do not take the lock, only a grace period can tell when no reader can still hold the pointer.',
  },
  {
    id: 'xchg',
    aliases: ['fi-fb', 'one-reference'],
    title: 'Why fi->fb is set with xchg, and why the inode holds exactly one reference',
    intro: [
      'fuse_inode_uncached_io_start installs the lookup\'s reference in fi->fb only when the inode has none; otherwise it drops it (same object) or refuses the open (EBUSY: a different fuse_backing, even for the same file). So an inode holds one reference, and every passthrough file of the inode uses the same backing object.',
      'fuse_inode_uncached_io_end, when the last uncached user leaves, takes the pointer out with xchg(&fi->fb, NULL) and puts what it got: whoever swapped it out owns that reference, exactly once. fuse_free_inode does the same at inode free. A plain store would lose the old pointer (a leak); putting once too often frees an fb the map still names.',
    ],
    runs: [
      { label: 'two opens of one inode, one id', scenario: S.twoOpens(), focus: /fuse_inode#\d+\.fb|fuse_backing#\d+\.count/ },
      { label: 'with the release clearing fi->fb by a plain store', scenario: S.twoOpens(['store-instead-of-xchg']), focus: /fuse_inode#\d+\.fb|fuse_backing#\d+\.count/ },
      { label: 'with the second open putting its extra reference twice', scenario: S.twoOpens(['extra-put-same-fb']), focus: /fuse_inode#\d+\.fb|fuse_backing#\d+\.count/ },
    ],
    claims: [
      { text: 'as merged, the counts balance and nothing leaks', holds: (r) => r[0]!.passed },
      { text: 'a plain store leaks the inode\'s reference', holds: (r) => kinds(r[1]!).has('leak') && kinds(r[1]!).has('refcount-owners') },
      { text: 'an extra put leaves the count below its owners and ends in an underflow', holds: (r) => kinds(r[2]!).has('refcount-owners') && kinds(r[2]!).has('refcount-underflow') },
    ],
    question: 'Why is it safe that fuse_inode_uncached_io_end calls fuse_backing_put after dropping fi->lock?',
    answer: 'Because the xchg under the lock already moved the reference out of the inode: no one else can reach it through fi->fb any more, so the put needs no lock; a new open that comes in between sees fi->fb == NULL and installs its own reference.',
  },
  {
    id: 'iomode',
    aliases: ['iocachectr', 'io-modes', 'cached'],
    title: 'What the io-mode counter forbids',
    intro: [
      'An inode is either cached (its page cache is used: iocachectr > 0 counts those opens) or uncached (passthrough files and parallel direct writes: iocachectr < 0), never both: a passthrough write goes to the backing file behind the page cache\'s back, so mixing them would show stale data.',
      'fuse_file_io_open turns a conflicting reply into EIO for open(2), because it is the server\'s mistake: a passthrough reply while the inode is cached (ETXTBSY inside), a cached or direct-io reply while the inode has fi->fb (every open of such an inode must ask for passthrough). mmap of a passthrough file maps the backing file; mmap of any other file of an inode with fi->fb is ENODEV.',
    ],
    runs: [{ label: 'one inode, opened in turn with different replies', scenario: S.ioModeConflicts(), focus: /iocachectr|fuse_inode#\d+\.fb|open returns|mmap returns|failed to open/ }],
    claims: [
      {
        text: 'passthrough while cached, cached while passthrough, and direct io while passthrough are all EIO; the passthrough mmap works',
        holds: (r) => {
          const u = results(r[0]!, 'user');
          return u[2] === 'EIO' && u[5] === 'EIO' && u[6] === 'EIO' && u[7] === '1' && r[0]!.violations.length === 0;
        },
      },
    ],
    question: 'A server answers FOPEN_DIRECT_IO without passthrough for an inode nobody has open. Which io mode does the inode enter, and what changes when the file is later mmapped MAP_SHARED?',
    answer: 'None: a direct-io open without passthrough takes no io mode (iocachectr stays 0). The first shared mmap (allowed only with FUSE_DIRECT_IO_ALLOW_MMAP) enters cached mode through fuse_file_cached_io_open, and the inode stays cached until that file is released.',
  },
  {
    id: 'close-abort',
    aliases: ['abort', 'backing-close'],
    title: 'What happens to open files when a backing id is closed or the connection aborts',
    intro: [
      'Closing a backing id only drops the map\'s reference: files already open keep their per-open backing files and the inode keeps its own reference, so they go on reading and writing the backing file.',
      'Aborting the connection (the fusectl abort file, or the server dying) fails every request: new opens and anything that needs the server get ENOTCONN (requests already queued end with ECONNABORTED). Passthrough io never needed the server, so open passthrough files keep working; close(2) reports the failed FLUSH.',
    ],
    runs: [{ label: 'open, close the id, read, abort, read again, open again', scenario: S.closeAndAbort(), focus: /backing_files_map|fuse_backing#\d+\.count|connected|read returns|open returns|close returns/ }],
    claims: [
      {
        text: 'after BACKING_CLOSE and even after abort, the open passthrough file still reads; a new open gets ENOTCONN',
        holds: (r) => {
          const u = results(r[0]!, 'user');
          return u[3] === '5 "hello"' && u[5] === '5 "hello"' && u[6] === 'ENOTCONN' && r[0]!.violations.length === 0;
        },
      },
    ],
    question: 'After the abort, when is the fuse_backing freed, and by whom?',
    answer: 'When the last passthrough file of the inode is released: close drops the file, fuse_file_io_release ends uncached mode, and xchg hands fi->fb to the closer, whose put reaches 0 (the map\'s reference went with BACKING_CLOSE). If the id had still been in the map, fuse_backing_files_free would free it when the connection\'s last reference goes.',
  },
];

export function findLesson(topic: string): Lesson | undefined {
  const t = topic.toLowerCase();
  return LESSONS.find((l) => l.id === t || l.aliases.includes(t));
}

export interface LessonOutcome {
  lesson: Lesson;
  runs: ScenarioResult[];
  claims: { text: string; holds: boolean }[];
}

export function runLesson(l: Lesson): LessonOutcome {
  const runs = l.runs.map((r) => runScenario(ScenarioSchema.parse(r.scenario)));
  return { lesson: l, runs, claims: l.claims.map((c) => ({ text: c.text, holds: c.holds(runs) })) };
}
