/* Shared between profile.bpf.c and its TypeScript mirror (src/probes/profile-layout.ts).
 * Fixed-width types, explicit padding, no pointers: a test checks the layout against BTF. */
#ifndef __LSPTAP_PROFILE_H
#define __LSPTAP_PROFILE_H

/* Frames kept per stack (the kernel's PERF_MAX_STACK_DEPTH). */
#define PROFILE_STACK_DEPTH 127

enum profile_kind {
	PROFILE_CPU = 0,	/* a thread of the tree on a CPU at a clock tick */
	PROFILE_WAIT = 1,	/* the server blocked while a thread of it slept in a syscall */
};

/* What a wait's blocked time was spent on. The first two are the tree's idle modes
 * (tree.h: a descendant on a CPU or runnable; else a tree thread in uninterruptible sleep),
 * so a window's child and disk waits equal its blockedOnChildUs and blockedOnDiskUs; the
 * rest split its blockedOtherUs by the syscall the waiting thread slept in. */
enum profile_wait_cause {
	WAIT_NONE = 0,		/* cpu samples */
	WAIT_CHILD = 1,		/* TREE_IDLE_CHILD: a descendant ran (go list) */
	WAIT_DISK = 2,		/* TREE_IDLE_DISK */
	WAIT_LOCK = 3,		/* flock, fcntl (F_SETLKW), futex */
	WAIT_PIPE = 4,		/* a read or write on a pipe */
	WAIT_SOCKET = 5,	/* a socket call, or a read or write on a socket */
	WAIT_FILE = 6,		/* a read or write on another fd (a tty, a FUSE file) */
	WAIT_WAITPID = 7,	/* wait4/waitid while no descendant ran (they slept) */
	WAIT_SYSCALL = 8,	/* any other syscall */
	WAIT_PARKED = 9,	/* no server thread slept in a syscall (Go parked a goroutine) */
	WAIT_CAUSES = 10,
};

/* profile_counts key: what was sampled, and where the server's streams stood. */
struct profile_key {
	__u32 tgid;
	__u16 kind;		/* enum profile_kind */
	__u16 cause;		/* enum profile_wait_cause; WAIT_NONE for cpu */
	__u64 user_stack;	/* profile_stacks key; 0: none (a kernel thread, or no stack) */
	__u64 kernel_stack;	/* profile_stacks key; 0: none (the tick came in user mode) */
	/* The window key: the bytes the server had read of its input and written of its
	 * output (watched_fds, counted by io.bpf.c) when the sample was taken. Userspace
	 * finds the request in flight from them: read past its last byte, not yet written
	 * the answer's first. */
	__u64 read_bytes;
	__u64 written_bytes;
};

struct profile_value {
	__u64 count;	/* cpu: ticks; wait: sleeps that ended */
	__u64 ns;	/* cpu: ticks * the period; wait: the server's blocked time charged */
	/* wait: a sleep split over causes counts 1 under the cause that got most of it */
};

/* profile_stacks value: return addresses, leaf first, zero after the last. */
struct profile_stack {
	__u64 ips[PROFILE_STACK_DEPTH];
};

/* profile_config[0], written by userspace before the sampler is attached. */
struct profile_config {
	__u32 server_pid;	/* tgid of the server: its stream fds give the window key */
	__s32 in_fd;		/* the server's input (stdin, or its socket) */
	__s32 out_fd;		/* its output (stdout, or the same socket) */
	__u32 period_ns;	/* the clock event's period: 1e9 / --profile-hz */
};

enum profile_counter {
	PROFILE_COUNTER_SAMPLES = 0,	/* ticks that found a thread of the tree on the CPU */
	PROFILE_COUNTER_COUNTS_FULL = 1,	/* profile_counts full: that sample or wait was lost */
	PROFILE_COUNTER_STACKS_FULL = 2,	/* profile_stacks full: a stack was lost (its sample kept, stack 0) */
	PROFILE_COUNTER_WAITS = 3,	/* sleeps of server threads in a syscall (not the runtime's idle ones) */
	PROFILE_COUNTER_LOST_WAIT_NS = 4,	/* blocked time not charged: profile_counts was full */
	PROFILE_COUNTER_MAX = 5,
};

#endif /* __LSPTAP_PROFILE_H */
