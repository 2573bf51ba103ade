/*
 * bench/spin/lookup_close_release.pml: fpsim's scenario bench/spin/lookup-close-release.json
 * in Promela, atomic step for atomic step, for `npm run bench` (fpsim explore vs SPIN).
 *
 * Each d_step below is one atomic step of fpsim's step machine (sim/kernel/exec.ts: a step
 * runs until a preemption point or a block), with the fpsim functions it covers named in
 * its comment. A task's blocking wait is the guard of its next d_step. The state kept is
 * what decides the race: the fuse_backing's count and lifetime, its id in the map, the
 * server's saved id, the inode's fb and iocachectr, the creds the fb and the per-open
 * backing file share, the file the fb holds, RCU (the reader, the grace period, the
 * callbacks' grace periods), and the one FUSE request in flight (the user waits for every
 * answer, so there is never more than one).
 *
 *   spin -a lookup_close_release.pml && gcc -O2 -DSAFETY -o pan pan.c && ./pan
 *
 * -DFREE_WITHOUT_GRACE_PERIOD / -DGET_WITHOUT_NOT_ZERO (to spin -a) switch on fpsim's mutants
 * of the same names: the use-after-free assertion then fails, as `fpsim explore --mutant`
 * finds it.
 */

#define NONE    0   /* not allocated yet */
#define LIVE    1
#define PENDING 2   /* kfree_rcu'd: freed when its grace period ends */
#define FREED   3

#define LOOKUP  1
#define OPEN    2
#define FLUSH   3
#define RELEASE 4   /* fuse_sync_release: the opener waits for the answer */
#define RELEASE_ASYNC 5  /* the last fput's RELEASE: nobody waits */

/* fuse_backing#fb */
byte fb_count;
byte fb_life = NONE;
byte fb_gp;          /* the grace period its kfree_rcu callback waits for */
/* the cred the fb holds (prepare_creds), shared with the per-open backing file and ff->cred */
byte cred_usage;
byte cred_life = NONE;
byte cred_gp;
/* the server's backing file (the ctl thread's fd and the fb's reference) */
byte file_count;
/* fc->backing_files_map: id 1 -> fb, or empty; the server process's saved $id */
bool idr_fb;
short id_var = -1;
/* the FUSE inode */
bool fi_fb;
short iocachectr;
/* RCU: the user in a read-side section; the grace period in progress; the last completed */
bool reader;
bool gp_running;
byte gp_num;
bool gp_waits_user;
byte completed;
/* the request in flight and its answer; the backing id the OPEN reply carries */
byte req;
bool answered;
short reply_id;

/* kfree_rcu: a callback queued during a grace period waits for the next one */
#define NEXT_GP (gp_running -> gp_num + 1 : completed + 1)

inline put_cred() {
  assert(cred_usage > 0);
  cred_usage--;
  if
  :: cred_usage == 0 -> cred_life = PENDING; cred_gp = NEXT_GP
  :: else -> skip
  fi
}

/* fuse_backing_put -> fuse_backing_free: fput(file), put_cred, kfree_rcu(fb) */
inline fb_put() {
  assert(fb_count > 0);   /* refcount-underflow */
  fb_count--;
  if
  :: fb_count == 0 ->
     file_count--;
     put_cred();
#ifdef FREE_WITHOUT_GRACE_PERIOD
     fb_life = FREED
#else
     fb_life = PENDING; fb_gp = NEXT_GP
#endif
  :: else -> skip
  fi
}

/* the server's control thread: open, BACKING_OPEN, BACKING_CLOSE */
active proctype ctl() {
  d_step { file_count = 1 };                               /* sys_open /lower/data */
  d_step { file_count++; cred_usage = 1; cred_life = LIVE;  /* fuse_ioctl > fuse_backing_open: fget, prepare_creds, alloc fb */
           fb_count = 1; fb_life = LIVE };
  d_step { idr_fb = 1; id_var = 1 };                       /* fuse_backing_open:alloc_id: id 1 (saved as $id) */
  d_step { idr_fb -> idr_fb = 0 };                         /* fuse_ioctl > fuse_backing_close: idr_remove */
  d_step { fb_put() }                                      /* fuse_backing_close:put */
}

/*
 * the user: open(2) of the passthrough file, then close(2). Written as fpsim runs it: a pc
 * and the open's locals, which are gone once the op returns (only its result stays), so a
 * failed open is one state whichever way it failed.
 */
active proctype user() {
  byte pc = 1;
  short bid;    /* the OPEN reply's backing id */
  bool got;     /* idr_find's pointer, then fuse_backing_get's reference */
end:
  do
  :: d_step { pc == 1 -> req = LOOKUP; pc = 2 }                 /* sys_open > fuse_lookup: queue LOOKUP */
  :: d_step { pc == 2 && answered -> answered = 0; req = OPEN; pc = 3 }  /* fuse_lookup:reply > sys_open:fuse_found > fuse_open: queue OPEN */
  :: d_step { pc == 3 && answered -> answered = 0; bid = reply_id; pc = 4 }  /* fuse_open:reply */
  :: d_step { pc == 4 ->                                        /* fuse_open:finish > fuse_file_io_open > fuse_file_passthrough_open > fuse_passthrough_open */
       if
       :: bid <= 0 -> req = RELEASE; pc = 20                    /*   EINVAL -> EIO, fuse_sync_release */
       :: else -> reader = 1; got = idr_fb; pc = 5              /*   rcu_read_lock; idr_find */
       fi
     }
  :: d_step { pc == 5 ->                                        /* fuse_passthrough_open:get: fuse_backing_get */
       if
       :: got ->
          assert(fb_life != FREED);                             /*   use-after-free */
#ifdef GET_WITHOUT_NOT_ZERO
          assert(fb_count > 0);                                 /*   refcount-inc-from-zero */
          fb_count++
#else
          if
          :: fb_count > 0 -> fb_count++
          :: else -> got = 0                                    /*   refcount_inc_not_zero fails */
          fi
#endif
       :: else -> skip
       fi;
       pc = 6
     }
  :: d_step { pc == 6 ->                                        /* fuse_passthrough_open:unlock */
       reader = 0; gp_waits_user = 0;                           /*   rcu_read_unlock */
       if
       :: !got -> req = RELEASE; pc = 20                        /*   ENOENT -> EIO, fuse_sync_release */
       :: else -> pc = 7
       fi
     }
  :: d_step { pc == 7 ->                                        /* open_backing > backing_file_open > opened > io_open */
       assert(fb_life != FREED);
       cred_usage = cred_usage + 2;                             /*   the backing file's f_cred, ff->cred */
       pc = 8
     }
  :: d_step { pc == 8 ->                                        /* uncached > fuse_file_io_open:check > fuse_open:finished > sys_open:opened */
       assert(!fi_fb && iocachectr == 0);
       iocachectr--; fi_fb = 1;                                 /*   the lookup's reference is now the inode's */
       bid = 0; got = 0; pc = 9                                 /*   open(2) returns the fd */
     }
  :: d_step { pc == 9 -> req = FLUSH; pc = 10 }                 /* sys_close > fuse_flush: queue FLUSH */
  :: d_step { pc == 10 && answered -> answered = 0;             /* fuse_flush:done > sys_close:put: the last fput */
       put_cred(); put_cred();                                  /*   fuse_passthrough_release: the backing file, ff->cred */
       iocachectr++; fi_fb = 0; fb_put();                       /*   fuse_inode_uncached_io_end: xchg fi->fb, put */
       req = RELEASE_ASYNC; pc = 0                              /*   close(2) returns 0: done */
     }
  :: d_step { pc == 20 && answered -> answered = 0;             /* fuse_open:released: open(2) returns EIO */
       bid = 0; got = 0; pc = 21
     }
  :: d_step { pc == 21 -> pc = 0 }                              /* close($fd): never saved, EBADF: done */
  od
}

/* the server's session loop: one request read, handled and answered per step */
active proctype daemon() {
end:
  do
  :: d_step { req != 0 ->
       if
       :: req == OPEN -> reply_id = id_var                  /* srv_open, mode reply: backing_id $id */
       :: else -> skip
       fi;
       answered = (req != RELEASE_ASYNC);
       req = 0
     }
  od
}

/* rcu_gp kthread: start a grace period, or end it once its readers left and run the callbacks */
active proctype rcu_gp() {
end:
  do
  :: d_step { !gp_running && ((fb_life == PENDING && fb_gp > completed) || (cred_life == PENDING && cred_gp > completed)) ->
       gp_running = 1; gp_num = completed + 1; gp_waits_user = reader
     }
  :: d_step { gp_running && !gp_waits_user ->
       completed = gp_num; gp_running = 0;
       if
       :: fb_life == PENDING && fb_gp <= completed -> fb_life = FREED
       :: else -> skip
       fi;
       if
       :: cred_life == PENDING && cred_gp <= completed -> cred_life = FREED
       :: else -> skip
       fi
     }
  od
}
