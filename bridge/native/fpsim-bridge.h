/*
 * Shared between fpsim-bridge.c (the bridge process) and fpsim-preload.c (the
 * LD_PRELOAD shim inside the FUSE server): fd numbers, environment variable
 * names and the messages the shim and the bridge exchange.
 *
 * Everything is host-endian: both ends are always on the same machine.
 */
#ifndef FPSIM_BRIDGE_H
#define FPSIM_BRIDGE_H

#include <stdint.h>

/* In the server, the FUSE "device" (dev 0) is this fd: argv's {dev} becomes
 * /dev/fd/3, which libfuse (>= 3.17) takes as an already-open /dev/fuse and
 * so skips mount(2). */
#define FPSIM_DEV_FD 3
/* In the server, the control socket the shim uses to hand the bridge new
 * per-thread channels and /dev/fuse clones (SCM_RIGHTS). */
#define FPSIM_CTL_FD 4

#define FPSIM_ENV_DEV_FD "FPSIM_BRIDGE_DEV_FD"
#define FPSIM_ENV_CTL_FD "FPSIM_BRIDGE_CTL_FD"

/* The passthrough ioctls, spelled out because the system <linux/fuse.h> may
 * predate them. Same numbers as sim/wire/uapi.ts. */
#define FPSIM_IOC_CLONE 0x8004e500UL         /* _IOR(229, 0, uint32_t) */
#define FPSIM_IOC_BACKING_OPEN 0x4010e501UL  /* _IOW(229, 1, struct fuse_backing_map) */
#define FPSIM_IOC_BACKING_CLOSE 0x4004e502UL /* _IOW(229, 2, uint32_t) */
#define FPSIM_IOC_SYNC_INIT 0x0000e503UL     /* _IO(229, 3) */

struct fpsim_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

/* shim -> bridge on the control socket, with one fd in SCM_RIGHTS: the
 * bridge's end of a new per-thread channel. */
#define FPSIM_CTL_NEWCHAN 1
struct fpsim_ctl_msg {
	uint32_t op;
	int32_t tid;
};

/* shim -> bridge on a per-thread channel (SOCK_SEQPACKET, one request per
 * packet, then the thread waits for exactly one response). */
#define FPSIM_CHAN_IOCTL 1   /* arg bytes follow; SCM_RIGHTS: the backing fd (BACKING_OPEN) */
#define FPSIM_CHAN_OPENDEV 2 /* the server opened /dev/fuse; SCM_RIGHTS: the bridge's end */
struct fpsim_chan_req {
	uint32_t op;
	int32_t dev;    /* IOCTL: the bridge device id of the fd the ioctl was issued on */
	uint32_t cmd;   /* IOCTL: the request number */
	int32_t tid;    /* the calling thread */
	int32_t argdev; /* CLONE: device id of the fd named in the argument, else -1 */
	uint32_t arglen;
	/* uint8_t arg[arglen] */
};

/* bridge -> shim: the answer. ret >= 0 is the ioctl's return value (OPENDEV:
 * the new device id), ret < 0 is -errno. out bytes are copied back into the
 * argument for ioctls whose direction includes _IOC_READ. */
struct fpsim_chan_resp {
	int32_t ret;
	uint32_t outlen;
	/* uint8_t out[outlen] */
};

#endif
