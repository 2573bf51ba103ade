/*
 * bench/spin/growth.pml: fpsim's growth family (bench/harness.ts growthScenario(n)) in
 * Promela, atomic step for atomic step, for `npm run bench:spin-growth` (fpsim explore vs
 * SPIN at 3, 4 and 5 tasks). USERS is the number of user tasks: n tasks = USERS + 1 (the
 * server's control thread ctl, then user1..userUSERS, each doing open("/fuse/f")); the
 * server's session loop and the rcu_gp kthread interleave too, as in fpsim.
 *
 *   spin -o2 -DUSERS=2 -a growth.pml && gcc -O2 -DSAFETY -DNOREDUCE -o pan pan.c && ./pan -w20 -m1000
 *
 * -o2 matters: SPIN leaves out of its state vector every global the model writes but never
 * reads, and the history below (the server's log, the request numbers, who made the inode,
 * nlookup, the LRU bits, the walkers, the sleeping flags) is exactly that: fpsim keeps it, no
 * step reads it. Without -o2 SPIN counts the states with that history forgotten (116, 5776
 * and 399566 at 2, 3 and 4 tasks instead of fpsim's 119, 7326 and 592031).
 *
 * -DDUMP (to spin -a; then gcc -DPRINTF -DUSERS=k -include growth-dump.h) prints every state
 * reached, one a line, in the form bench/spin/growth-states.ts computes from fpsim's states,
 * to compare the two state sets one by one.
 *
 * Each d_step is one atomic step of fpsim's step machine (sim/kernel/exec.ts: a step runs to
 * the next preemption point or block), with the fpsim functions it covers named in its
 * comment (the labels `fpsim run` prints). A task's blocking wait is the guard of its next
 * d_step.
 *
 * What state is kept, and why. fpsim's state is its whole World: every heap object (freed
 * ones too, as KASAN keeps them), every task's frames and locals, the connection's queues,
 * and the scripted server's memory, which includes its log of every request it read. To
 * have exactly fpsim's distinct states this model keeps every fact that tells two fpsim
 * worlds apart, and nothing else; variables that are functions of others (the cred's usage,
 * the inode's icount, the path walkers) are kept too where that reads more plainly, which
 * changes no count. So besides what decides the race (the fb's count and lifetime, the id in
 * the map, the inode's fb and iocachectr, RCU's readers and grace period) it keeps history
 * that fpsim keeps:
 *  - the server's log: the order in which it read LOOKUP, OPEN and RELEASE (fh=k) requests,
 *    and its counters (OPENs seen, files open, whether it made node 2);
 *  - request numbers (the kernel's `unique`, here 1, 2, ...: unique = 2 + 2*req): the next
 *    one, the one in each user's current fuse_lookup/fuse_open frame (stale until the frame
 *    goes), and the one in the session loop's last-request local;
 *  - which user's lookup made the inode: fpsim numbers each task's allocations in a range of
 *    its own, so the inode, and so every pointer of that user's open, are numbered by who
 *    made it;
 *  - the inode's nlookup and dentry-LRU bits (on the LRU once a failed open drops the last
 *    walk's reference; DCACHE_REFERENCED the second time);
 *  - each open's fh, and the backing id the server answered (kept while a frame or the
 *    server's fh table holds it);
 *  - whether the session loop and rcu_gp went to sleep at the end of their last step
 *    (task.blocked is kept until the task runs again).
 * The pending queue and the answered list need no array: each user waits for at most one
 * request, the server reads them in order of their number and answers each at once, so the
 * queue order is the order of the numbers.
 *
 * How the counts were matched: the variables come from a dump of fpsim's states at 2 and 3
 * tasks (which fields of the world differ between any two of them), and
 * bench/spin/growth-states.ts maps each fpsim world to them. The map is one-to-one on fpsim's
 * states (the model forgets nothing fpsim tells apart) and its image is SPIN's state set
 * (-DDUMP): the same states one by one at 2 and 3 tasks, and the same counts at 4. The first
 * SPIN run, without -o2, counted 116 and 5776: SPIN had dropped the history as write-only.
 */

#ifndef USERS
#define USERS 2
#endif
#if USERS < 1 || USERS > 5
#error "growth.pml: USERS must be 1 to 5 (the session loop's and rcu_gp's guards are written out for up to 5 users)"
#endif
#define U1 (USERS + 1)
#define LOGMAX (3 * USERS)

#define NONE    0
#define LIVE    1
#define PENDING 2   /* kfree_rcu'd: freed when grace period 1 ends */
#define FREED   3

/* a user's place in open(2) */
#define START        0
#define LK_WAIT      1   /* LOOKUP queued, asleep until answered */
#define OP_WAIT      2   /* OPEN queued */
#define REPLIED      3   /* fuse_open:reply done, preempted before finish */
#define GET          4   /* in the RCU read section, idr_find done */
#define UNLOCK       5   /* fuse_backing_get done */
#define OPEN_BACKING 6   /* left the read section with a reference */
#define UNCACHED     7   /* per-open backing file made */
#define REL_WAIT     8   /* fuse_sync_release: RELEASE queued */
#define DONE_OK      9   /* open(2) returned fd 3 */
#define DONE_EIO     10  /* open(2) returned EIO */
#define LK_BLOCK     11  /* d_alloc_parallel: another user is looking f up; asleep in d_wait_lookup */

/* the server's log entries */
#define L_LOOKUP 1
#define L_OPEN   2
#define L_RELEASE 10 /* + fh */

/* the control thread: 0 before open, 5 when done */
byte ctl_pc;
/* fuse_backing#fb and the cred it holds (shared with each per-open backing file and ff->cred) */
byte fb_count;
byte fb_life = NONE;
byte cred_usage;
byte cred_life = NONE;
/* fc->backing_files_map: id 1 -> fb, or empty */
bool idr_fb;
/* RCU: readers, the readers grace period 1 waits for, in progress, completed; rcu_gp asleep */
bool reader[U1];
bool waits[U1];
bool gp_running;
bool completed;
bool r_blocked = 1;
/* the connection: requests queued so far; each user's request number, and its state
 * (0 none, 1 pending, 2 answered) */
byte next_req;
byte uniq[U1];
byte rq[U1];
/* the session loop: the number of the last request it read (0: INIT); asleep */
byte last_uniq;
bool d_blocked = 1;
/* the server: its log, node 2 made, OPENs read, files open; each user's fh and backing id */
byte slog[LOGMAX];
byte nlog;
bool srv_node;
byte srv_opened;
byte srv_nopen;
byte fh[U1];
short bid[U1];
/* the FUSE superblock: the dentry of f, whose lookup made the inode; fuse_inode fields;
 * dentry LRU (0 not on it, 1 on it, 2 on it and DCACHE_REFERENCED); path walks in progress */
bool dentry;
/* the in-lookup hash (d_alloc_parallel): the user whose LOOKUP of f is in progress, 0 none */
byte inlk;
byte inode_owner;
byte icount;
byte nlookup;
bool fi_fb;
short iocachectr;
byte lru;
byte walkers;
/* the users: place, and the fb pointer in fuse_passthrough_open's locals (idr_find, then the get) */
byte pc[U1];
bool got[U1];

#ifdef DUMP
/* every state reached, printed (gcc -include dump.h): for comparing with fpsim's states one by one */
#define DUMPSTATE ; c_code { DUMP_STATE_C; }
#else
#define DUMPSTATE
#endif

#define ID_VAR (ctl_pc >= 3 -> 1 : -1)   /* the server process's saved $id, -1 while unset */

inline queue(u) {
  next_req++; uniq[u] = next_req; rq[u] = 1
}

inline put_cred() {
  assert(cred_usage > 0);
  cred_usage--;
  if
  :: cred_usage == 0 -> cred_life = PENDING
  :: else -> skip
  fi
}

/* fuse_backing_put -> fuse_backing_free: fput(file), put_cred, kfree_rcu(fb) */
inline fb_put() {
  assert(fb_count > 0);   /* refcount-underflow */
  fb_count--;
  if
  :: fb_count == 0 -> put_cred(); fb_life = PENDING
  :: else -> skip
  fi
}

/* the server's control thread: open, BACKING_OPEN, BACKING_CLOSE */
active proctype ctl() {
end:
  do
  :: d_step { ctl_pc == 0 -> ctl_pc = 1  DUMPSTATE }                  /* sys_open > simple_lookup > sys_open:found */
  :: d_step { ctl_pc == 1 ->                               /* sys_ioctl > fuse_dev_ioctl > fuse_dev_ioctl:backing > fuse_backing_open */
       cred_usage = 1; cred_life = LIVE; fb_count = 1; fb_life = LIVE; ctl_pc = 2  DUMPSTATE }
  :: d_step { ctl_pc == 2 -> idr_fb = 1; ctl_pc = 3  DUMPSTATE }      /* fuse_backing_open:alloc_id > sys_ioctl:done ($id = 1) */
  :: d_step { ctl_pc == 3 -> idr_fb = 0; ctl_pc = 4  DUMPSTATE }      /* sys_ioctl > fuse_dev_ioctl > fuse_dev_ioctl:backing > fuse_backing_close: idr_remove */
  :: d_step { ctl_pc == 4 -> fb_put(); ctl_pc = 5  DUMPSTATE }        /* fuse_backing_close:put > sys_ioctl:done */
  od
}

/*
 * A user: open("/fuse/f"). Written as fpsim runs it: a place and the open's locals, which
 * are gone once the op returns.
 */
active [USERS] proctype user() {
  /* _pid: ctl is 0, the users 1..USERS */
end:
  do
  :: d_step { pc[_pid] == START && !dentry && inlk == 0 -> /* sys_open > fuse_lookup: dcache miss, d_alloc_parallel (ours), queue LOOKUP */
       walkers++; inlk = _pid; queue(_pid); pc[_pid] = LK_WAIT  DUMPSTATE }
  :: d_step { pc[_pid] == START && !dentry && inlk != 0 -> /* sys_open > fuse_lookup: dcache miss, d_alloc_parallel: another's lookup, d_wait_lookup */
       walkers++; pc[_pid] = LK_BLOCK  DUMPSTATE }
  :: d_step { pc[_pid] == LK_BLOCK && inlk == 0 && dentry -> /* fuse_lookup:start again: dcache hit > sys_open:found > fuse_open: queue OPEN */
       icount++; queue(_pid); pc[_pid] = OP_WAIT  DUMPSTATE }
  :: d_step { pc[_pid] == LK_BLOCK && inlk == 0 && !dentry -> /* fuse_lookup:start again: the other lookup failed, ours now: queue LOOKUP */
       inlk = _pid; queue(_pid); pc[_pid] = LK_WAIT  DUMPSTATE }
  :: d_step { pc[_pid] == START && dentry ->               /* sys_open > fuse_lookup (dcache hit) > sys_open:found > fuse_open: queue OPEN */
       walkers++; icount++; queue(_pid); pc[_pid] = OP_WAIT  DUMPSTATE }
  :: d_step { pc[_pid] == LK_WAIT && rq[_pid] == 2 ->      /* fuse_lookup:reply (d_lookup_done) > sys_open:found > fuse_open: fuse_iget, path_get, queue OPEN */
       rq[_pid] = 0; inlk = 0;
       if
       :: !dentry -> dentry = 1; inode_owner = _pid; icount = 1
       :: else -> skip
       fi;
       nlookup++; icount++;
       queue(_pid); pc[_pid] = OP_WAIT  DUMPSTATE }
  :: d_step { pc[_pid] == OP_WAIT && rq[_pid] == 2 ->      /* fuse_open:reply: fh, open_flags, backing id */
       rq[_pid] = 0; pc[_pid] = REPLIED  DUMPSTATE }
  :: d_step { pc[_pid] == REPLIED ->                       /* fuse_open:finish > fuse_file_io_open > fuse_file_passthrough_open > fuse_passthrough_open */
       if
       :: bid[_pid] <= 0 ->                                 /*   EINVAL > fuse_file_io_open:fail (EIO) > fuse_open:finished: fuse_sync_release */
          queue(_pid); pc[_pid] = REL_WAIT
       :: else ->                                           /*   rcu_read_lock; idr_find */
          reader[_pid] = 1; got[_pid] = idr_fb; pc[_pid] = GET
       fi  DUMPSTATE }
  :: d_step { pc[_pid] == GET ->                           /* fuse_passthrough_open:get: fuse_backing_get */
       if
       :: got[_pid] ->
          assert(fb_life != FREED);                         /*   use-after-free */
          if
          :: fb_count > 0 -> fb_count++
          :: else -> got[_pid] = 0                          /*   refcount_inc_not_zero fails */
          fi
       :: else -> skip
       fi;
       pc[_pid] = UNLOCK  DUMPSTATE }
  :: d_step { pc[_pid] == UNLOCK ->                        /* fuse_passthrough_open:unlock: rcu_read_unlock */
       reader[_pid] = 0; waits[_pid] = 0;
       if
       :: !got[_pid] ->                                     /*   ENOENT > fuse_file_io_open:fail (EIO) > fuse_open:finished: fuse_sync_release */
          queue(_pid); pc[_pid] = REL_WAIT
       :: else -> pc[_pid] = OPEN_BACKING
       fi  DUMPSTATE }
  :: d_step { pc[_pid] == OPEN_BACKING ->                  /* fuse_passthrough_open:open_backing > backing_file_open > fuse_passthrough_open:opened > fuse_file_passthrough_open:io_open */
       assert(fb_life != FREED);
       cred_usage = cred_usage + 2;                         /*   the backing file's f_cred, ff->cred */
       pc[_pid] = UNCACHED  DUMPSTATE }
  :: d_step { pc[_pid] == UNCACHED ->                      /* fuse_file_passthrough_open:uncached > fuse_file_io_open:check > fuse_open:finished > sys_open:opened */
       assert(iocachectr <= 0);
       iocachectr--;                                        /*   fuse_inode_uncached_io_start */
       if
       :: !fi_fb -> fi_fb = 1                               /*   xchg: the lookup's reference is now the inode's */
       :: else -> fb_put()                                  /*   the inode has this fb already: drop ours */
       fi;
       walkers--;                                           /*   icount +1 (the file) -1 (path_put); fd_install; open returns 3 */
       got[_pid] = 0; uniq[_pid] = 0; pc[_pid] = DONE_OK  DUMPSTATE }
  :: d_step { pc[_pid] == REL_WAIT && rq[_pid] == 2 ->     /* fuse_open:released > sys_open:opened: kfree ff, path_put, discard the file */
       rq[_pid] = 0;
       icount--;
       if                                                   /*   fuse_iput > dentry_unused */
       :: icount == 1 && lru == 0 -> lru = 1
       :: icount == 1 && lru == 1 -> lru = 2
       :: else -> skip
       fi;
       walkers--;
       uniq[_pid] = 0; bid[_pid] = 0; pc[_pid] = DONE_EIO  DUMPSTATE } /*   open returns EIO */
  od
}

/* the server's session loop: reads the oldest pending request and answers it, in one step */
hidden byte i, u;   /* the session loop's scratch: not state (0 between steps) */
active proctype daemon() {
end:
  do
  :: d_step { (rq[1] == 1
#if USERS >= 2
               || rq[2] == 1
#endif
#if USERS >= 3
               || rq[3] == 1
#endif
#if USERS >= 4
               || rq[4] == 1
#endif
#if USERS >= 5
               || rq[5] == 1
#endif
              ) ->
       /* fuse_dev_read: the oldest pending request */
       u = 0; i = 1;
       do
       :: i <= USERS -> if :: rq[i] == 1 && (u == 0 || uniq[i] < uniq[u]) -> u = i :: else -> skip fi; i++
       :: else -> break
       od;
       if
       :: pc[u] == LK_WAIT ->                               /* fuse_session_loop > fuse_session_loop:op_LOOKUP */
          srv_node = 1; slog[nlog] = L_LOOKUP
       :: pc[u] == OP_WAIT ->                               /* fuse_session_loop > fuse_session_loop:op_OPEN > srv_open > fuse_session_loop:next */
          srv_opened++; srv_nopen++; fh[u] = srv_opened; bid[u] = ID_VAR; slog[nlog] = L_OPEN
       :: pc[u] == REL_WAIT ->                              /* fuse_session_loop > fuse_session_loop:op_RELEASE > srv_release > fuse_session_loop:next */
          srv_nopen--; slog[nlog] = L_RELEASE + fh[u]
       fi;
       nlog++; rq[u] = 2; last_uniq = uniq[u];
       /* again(): asleep if nothing else is pending */
       d_blocked = 1; i = 1;
       do
       :: i <= USERS -> if :: rq[i] == 1 -> d_blocked = 0 :: else -> skip fi; i++
       :: else -> break
       od;
       i = 0; u = 0  DUMPSTATE }
  od
}

/* rcu_gp kthread: start grace period 1 (waiting for the readers in their sections), or end it and free */
active proctype rcu_gp() {
end:
  do
  :: d_step { !gp_running && !completed && fb_life == PENDING ->
       gp_running = 1;
       r_blocked = 0;
#if USERS >= 1
       waits[1] = reader[1];
#endif
#if USERS >= 2
       waits[2] = reader[2];
#endif
#if USERS >= 3
       waits[3] = reader[3];
#endif
#if USERS >= 4
       waits[4] = reader[4];
#endif
#if USERS >= 5
       waits[5] = reader[5];
#endif
       r_blocked = (waits[1]
#if USERS >= 2
                    || waits[2]
#endif
#if USERS >= 3
                    || waits[3]
#endif
#if USERS >= 4
                    || waits[4]
#endif
#if USERS >= 5
                    || waits[5]
#endif
                   )  DUMPSTATE }
  :: d_step { gp_running && !(waits[1]
#if USERS >= 2
                    || waits[2]
#endif
#if USERS >= 3
                    || waits[3]
#endif
#if USERS >= 4
                    || waits[4]
#endif
#if USERS >= 5
                    || waits[5]
#endif
             ) ->
       completed = 1; gp_running = 0;
       fb_life = FREED;
       if
       :: cred_life == PENDING -> cred_life = FREED
       :: else -> skip
       fi;
       r_blocked = 1  DUMPSTATE }
  od
}
