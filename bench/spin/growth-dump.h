/* bench/spin/growth-dump.h: with growth.pml's -DDUMP, every state reached is printed, one a
 * line, as "S <globals>|<server log>|<user 1>;<user 2>;...", the form
 * bench/spin/growth-states.ts computes from fpsim's states. gcc -DPRINTF -DUSERS=k -include
 * growth-dump.h (pan prints nothing during a search without -DPRINTF). */
#define DUMP_STATE_C do { \
  int i; \
  printf("S %d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d|", \
    now.ctl_pc, now.fb_count, now.fb_life, now.cred_usage, now.cred_life, now.idr_fb, now.gp_running, now.completed, now.r_blocked, \
    now.next_req, now.last_uniq, now.d_blocked, now.nlog, now.srv_node, now.srv_opened, now.srv_nopen, \
    now.dentry, now.inode_owner, now.icount, now.nlookup, now.fi_fb, now.iocachectr, now.lru, now.walkers, now.inlk); \
  for (i = 0; i < now.nlog; i++) printf(i ? ",%d" : "%d", now.slog[i]); \
  printf("|"); \
  for (i = 1; i <= USERS; i++) printf("%s%d,%d,%d,%d,%d,%d,%d,%d", i > 1 ? ";" : "", now.pc[i], now.got[i], now.uniq[i], now.rq[i], now.fh[i], now.bid[i], now.reader[i], now.waits[i]); \
  printf("\n"); \
} while (0)
