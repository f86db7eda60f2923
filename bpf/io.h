/* Shared between io.bpf.c and its TypeScript mirror (src/probes/event-layout.ts).
 * Fixed-width types, explicit padding, no pointers: a test checks the layout against BTF. */
#ifndef __LSPTAP_IO_H
#define __LSPTAP_IO_H

enum io_op {
	IO_OP_READ = 0,
	IO_OP_WRITE = 1,
	IO_OP_READV = 2,
	IO_OP_WRITEV = 3,
	IO_OP_RECVMSG = 4,
	IO_OP_SENDMSG = 5,
};

/* watched_fds key: one byte stream of one process. */
struct io_fd_key {
	__u32 pid;
	__s32 fd;
};

/* watched_fds value: the bytes each direction of the stream has moved since it was
 * watched. The kernel counts them, so an event lost to a full ring leaves a hole in the
 * offsets instead of shifting every later one. */
struct io_fd_bytes {
	__u64 read_bytes;
	__u64 written_bytes;
};

/* One completed read/write-family syscall on a watched (pid, fd). */
struct io_syscall_event {
	__u64 enter_ns;	/* bpf_ktime_get_ns() at sys_enter; 0 when it entered before we watched */
	__u64 exit_ns;	/* bpf_ktime_get_ns() at sys_exit */
	__s64 ret;	/* bytes moved, or -errno */
	__u32 pid;	/* tgid */
	__u32 tid;
	__s32 fd;
	__u16 op;	/* enum io_op */
	__u16 __pad;
	__u64 start_off;	/* this direction's byte count before this call (struct io_fd_bytes) */
};

/* Slots of the io_counters array map. */
enum io_counter {
	IO_COUNTER_EVENTS = 0,	/* events submitted to the ring buffer */
	IO_COUNTER_DROPS = 1,	/* ring buffer full: event lost */
	IO_COUNTER_INFLIGHT_FULL = 2, /* too many syscalls in flight: event lost */
	IO_COUNTER_MAX = 3,
};

#endif /* __LSPTAP_IO_H */
