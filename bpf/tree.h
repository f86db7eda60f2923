/* Shared between tree.bpf.c and its TypeScript mirror (src/probes/event-layout.ts).
 * Fixed-width types, explicit padding, no pointers: a test checks the layout against BTF. */
#ifndef __LSPTAP_TREE_H
#define __LSPTAP_TREE_H

/* What the server's process tree is doing, as one of four modes at every instant. */
enum tree_mode {
	TREE_BUSY = 0,		/* a server thread is on a CPU or runnable */
	TREE_IDLE_CHILD = 1,	/* server idle; a descendant's thread on a CPU or runnable */
	TREE_IDLE_DISK = 2,	/* idle, no descendant runnable, a tree thread in uninterruptible sleep */
	TREE_IDLE_OTHER = 3,	/* the rest: the server waits on a timer, a lock, an fd */
	TREE_MODES = 4,
};

/* The server's blocked time so far by idle mode (ns[mode - TREE_IDLE_CHILD]): what
 * tree_idle_split() hands profile.bpf.c. */
struct tree_idle {
	__u64 ns[3];
};

/* What ended an idle-other interval: the syscall the server thread whose wakeup ended it
 * was in, and how it returned. */
enum idle_cause {
	CAUSE_UNKNOWN = 0,	/* not classified (yet), or woken outside a syscall */
	CAUSE_TIMER = 1,	/* nanosleep, or a poll/futex that timed out */
	CAUSE_LOCK = 2,		/* futex woken by another thread */
	CAUSE_POLL = 3,		/* epoll/poll/select: an fd became ready (pipes, sockets) */
	CAUSE_STDIN = 4,	/* read on fd 0 */
	CAUSE_READ = 5,		/* read on another fd */
	CAUSE_NETWORK = 6,	/* accept, connect, recv* */
	CAUSE_CHILD = 7,	/* wait4/waitid: a child exited */
	CAUSE_SYSCALL = 8,	/* another syscall: last_other_nr names the latest */
	CAUSES = 9,
};

/* Running totals of the tree since watching began. A window's values are the differences
 * of two snapshots. Times in ns, summed over threads unless said otherwise. */
struct tree_totals {
	__u64 mode_ns[TREE_MODES];	/* wall time in each enum tree_mode */
	__u64 cause_ns[CAUSES];		/* TREE_IDLE_OTHER wall time by enum idle_cause */
	__u64 server_cpu_ns;
	__u64 server_runq_ns;
	__u64 child_cpu_ns;
	__u64 child_runq_ns;
	__u64 child_disk_ns;		/* descendants' uninterruptible sleep */
	__u64 file_reads;		/* read-family syscalls on regular files, server and descendants */
	__u64 file_read_bytes;
	__u64 page_cache_misses;	/* pages they added to the page cache */
	__u64 disk_ios;			/* block requests they started, completed */
	__u64 disk_io_bytes;
	__u64 disk_io_ns;
	__u64 fds_opened;		/* the server's own fds */
	__u64 fds_closed;
	__u64 last_other_nr;		/* syscall number of the latest CAUSE_SYSCALL */
	/* The server's open fd count now, less the fds userspace put in server_fds when
	 * watching began: +1 per fd entered there, -1 per fd taken out. A level, not a total:
	 * a window's end count is the start count plus this, at its write snapshot. */
	__s64 fds_open_delta;
};

enum tree_event_kind {
	TREE_EV_SNAPSHOT = 0,	/* the server read (exit) or is writing (enter) a stream fd */
	TREE_EV_EXEC = 1,	/* a descendant ran execve */
	TREE_EV_EXIT = 2,	/* a descendant process ended */
	/* 3 and 4 were per-fd open and close records: the fd table is in server_fds now. */
};

/* First 24 bytes of every record in the tree ring. */
struct tree_event_head {
	__u64 ts_ns;	/* bpf_ktime_get_ns() */
	__u32 pid;	/* tgid */
	__u32 tid;
	__u16 kind;	/* enum tree_event_kind */
	__u16 __pad[3];
};

/* Descendant processes whose CPU so far a snapshot carries (one slot each, given at fork
 * while one is free): a child alive across a window (tsserver, jedi's helper) gets its CPU in
 * it as the difference, as the totals do. Those forked while all are taken get figures only
 * from their exit record. */
#define TREE_CHILD_SLOTS 8

struct tree_child_cpu {
	__u32 pid;	/* tgid; 0: slot free */
	__u32 __pad;
	__u64 cpu_ns;	/* its threads' CPU since its fork, the running ones up to the snapshot */
};

struct tree_snapshot_event {
	struct tree_event_head head;
	__s32 fd;
	__u32 write;	/* 1: taken as a write began; 0: as a read returned */
	struct tree_totals totals;
	struct tree_child_cpu children[TREE_CHILD_SLOTS];
};

#define TREE_PATH_LEN 128
#define TREE_ARGS_LEN 256

struct tree_exec_event {
	struct tree_event_head head;
	__u64 start_ns;		/* when the process was forked */
	__u32 ppid;
	__u32 args_len;		/* bytes of args used: NUL-separated, truncated */
	char comm[16];
	char path[TREE_PATH_LEN];
	char args[TREE_ARGS_LEN];
};

struct tree_exit_event {
	struct tree_event_head head;
	__u64 start_ns;
	__u64 cpu_ns;		/* its threads' CPU, counted at each switch-out */
	__u64 disk_ns;		/* its threads' uninterruptible sleep */
	__s32 status;		/* wait status: exit code << 8, or the signal */
	__u32 __pad2;
	char comm[16];
};

/* The server's fd table (map server_fds): (tgid, fd) -> one open fd. Entered when an
 * open-family syscall returns, taken out when close begins; read by userspace at the end
 * of the session (the fds still open), never sent through the ring. */
#define TREE_FDS_MAX 65536

struct server_fd {
	__u64 opened_ns;	/* bpf_ktime_get_ns() when it was opened; 0: open when watching began */
	__u32 nr;		/* the syscall that made it (0: open when watching began) */
	__u32 __pad;
	char path[TREE_PATH_LEN];	/* open family: the path as passed; else empty */
};

enum tree_counter {
	TREE_COUNTER_EVENTS = 0,
	TREE_COUNTER_DROPS = 1,
	TREE_COUNTER_FD_PEAK = 2,	/* highest fds_open_delta so far */
	TREE_COUNTER_FD_FULL = 3,	/* fds not entered in server_fds: it was full */
	TREE_COUNTER_MAX = 4,
};

#endif /* __LSPTAP_TREE_H */
