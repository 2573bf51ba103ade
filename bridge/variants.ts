// Faulty passthrough_hp servers, made by editing libfuse's
// example/passthrough_hp.cc at build time (buildPassthroughHpVariant).
//
// The pristine server keeps one backing id per inode: the first OPEN of an
// inode calls FUSE_DEV_IOC_BACKING_OPEN and records the id on the inode,
// later OPENs reuse it, and the RELEASE that drops the last open calls
// FUSE_DEV_IOC_BACKING_CLOSE. Each variant breaks that rule in one way:
//
//   closeAfterOpen  closes the id right after replying to OPEN, but leaves it
//                   recorded on the inode: the kernel's open file keeps its
//                   backing file, the next OPEN of the inode reuses an id that
//                   no longer exists, and the last RELEASE closes it again.
//   neverClose      never calls BACKING_CLOSE: every id it opens leaks in the
//                   kernel (until the connection goes).
//   backingPerOpen  a new backing id for every OPEN (kept per file handle and
//                   closed on that handle's RELEASE) instead of one per inode:
//                   two opens of one inode have different backing files.
//
// Each edit is a few lines of our own code placed at anchors in the libfuse
// source; an anchor that is missing or not unique throws, naming the variant,
// so a libfuse update cannot silently produce an unmodified server.

export interface Variant {
  name: string;
  /** one line: what the server does wrong */
  fault: string;
  edit: (source: string) => string;
}

/** Replaces the one occurrence of `anchor` in `source` with `replacement(anchor)`. */
export function replaceOnce(variant: string, source: string, anchor: string, replacement: (anchor: string) => string): string {
  const at = source.indexOf(anchor);
  if (at < 0) throw new Error(`variant ${variant}: anchor not found in passthrough_hp.cc:\n${anchor}`);
  if (source.indexOf(anchor, at + 1) >= 0) {
    throw new Error(`variant ${variant}: anchor occurs more than once in passthrough_hp.cc:\n${anchor}`);
  }
  return source.slice(0, at) + replacement(anchor) + source.slice(at + anchor.length);
}

// Anchors (tabs as in libfuse's source).
const BEFORE_DO_PASSTHROUGH_OPEN = 'static void do_passthrough_open(fuse_req_t req, fuse_ino_t ino, int fd,';
const SESSION_NEW = 'auto se = fuse_session_new(&args, &sfs_oper, sizeof(sfs_oper), &fs);';
const OPEN_REPLY = '\t\t\tdo_passthrough_open(req, ino, fd, fi);\n\t}\n\tfuse_reply_open(req, fi);\n}';
const RELEASE_CLOSE = '\tif (backing_id) {\n\t\tif (fuse_passthrough_close(req, backing_id) < 0) {';
const DROP_PAGE_CACHE = '\t/* open in passthrough mode must drop old page cache */\n\tif (fi->backing_id)';
const RELEASE_END = '\tclose(fi->fh);\n\tfuse_reply_err(req, 0);\n}';

export const closeAfterOpen: Variant = {
  name: 'close-after-open',
  fault: 'closes the backing id right after the OPEN reply, but keeps using it for the inode',
  edit(src) {
    // fuse_passthrough_close() needs the request, which the reply frees; so
    // keep the session and issue the ioctl it would issue ourselves.
    let s = replaceOnce(
      'close-after-open',
      src,
      BEFORE_DO_PASSTHROUGH_OPEN,
      (a) => `#include <sys/ioctl.h>
/* fpsim variant close-after-open: the session, for the BACKING_CLOSE ioctl
 * issued after the OPEN reply has freed the request. */
static struct fuse_session *fpsim_session;
#define FPSIM_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

${a}`,
    );
    s = replaceOnce('close-after-open', s, SESSION_NEW, (a) => `${a}\n\tfpsim_session = se;`);
    s = replaceOnce(
      'close-after-open',
      s,
      OPEN_REPLY,
      () => `\t\t\tdo_passthrough_open(req, ino, fd, fi);
	}
	uint32_t fpsim_id = fi->backing_id;
	fuse_reply_open(req, fi);
	/* fpsim variant close-after-open: the kernel has the id now; drop it,
	 * but leave it recorded on the inode for later opens and the release. */
	if (fpsim_id > 0)
		ioctl(fuse_session_fd(fpsim_session), FPSIM_DEV_IOC_BACKING_CLOSE, &fpsim_id);
}`,
    );
    return s;
  },
};

export const neverClose: Variant = {
  name: 'never-close',
  fault: 'never closes a backing id: the last release forgets it instead',
  edit(src) {
    return replaceOnce(
      'never-close',
      src,
      RELEASE_CLOSE,
      (a) => `\t/* fpsim variant never-close: forget the id without closing it. */
	backing_id = 0;
${a}`,
    );
  },
};

export const backingPerOpen: Variant = {
  name: 'backing-per-open',
  fault: 'registers a new backing file for every open (closed on its release) instead of one per inode',
  edit(src) {
    let s = replaceOnce(
      'backing-per-open',
      src,
      BEFORE_DO_PASSTHROUGH_OPEN,
      (a) => `/* fpsim variant backing-per-open: backing ids by file handle. */
static std::mutex fpsim_ids_m;
static std::unordered_map<uint64_t, int> fpsim_ids;

${a}`,
    );
    // At the end of do_passthrough_open (fi->fh is already the open fd):
    // move the new id from the inode to this open, so the next open of the
    // inode registers the file again.
    s = replaceOnce(
      'backing-per-open',
      s,
      DROP_PAGE_CACHE,
      (a) => `\t/* fpsim variant backing-per-open: the id belongs to this open. */
	if (fi->backing_id) {
		lock_guard<mutex> fpsim_g{ fpsim_ids_m };
		fpsim_ids[fi->fh] = fi->backing_id;
		inode.backing_id = 0;
	}
${a}`,
    );
    s = replaceOnce(
      'backing-per-open',
      s,
      RELEASE_END,
      (a) => `\t/* fpsim variant backing-per-open: close this open's own id. */
	{
		int fpsim_id = 0;
		{
			lock_guard<mutex> fpsim_g{ fpsim_ids_m };
			auto it = fpsim_ids.find(fi->fh);
			if (it != fpsim_ids.end()) {
				fpsim_id = it->second;
				fpsim_ids.erase(it);
			}
		}
		if (fpsim_id)
			fuse_passthrough_close(req, fpsim_id);
	}
${a}`,
    );
    return s;
  },
};

export const VARIANTS: readonly Variant[] = [closeAfterOpen, neverClose, backingPerOpen];
