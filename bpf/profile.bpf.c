// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Where the server spends its time, as stacks counted in the kernel (bcc libbpf-tools'
 * profile and offcputime, in one program each).
 *
 * On CPU: a CPU-clock perf event on every CPU (userspace opens them at --profile-hz) runs
 * handle_profile_sample; a tick that finds a thread of the server's tree (watched_pids)
 * takes its user stack (the kernel walks frame pointers: Go keeps them on amd64) and
 * kernel stack and adds one to their count. Waiting: at sched_switch, a server thread that
 * goes to sleep in a syscall (not one of the runtime's idle waits: futex, nanosleep,
 * epoll and the like, nor a read of its own input) takes its stacks and becomes a waiter
 * until it runs again. The server's blocked time (tree.bpf.c: no server thread on a CPU or
 * runnable; tree_idle_split) is shared among the waiters of each instant, mode by mode, so
 * a request's wait stacks add up to its serverBlockedUs and each wait carries its cause
 * (enum profile_wait_cause): the time a descendant ran is `child`, the time a tree thread
 * was in uninterruptible sleep `disk`, as the kernel fields count them; the rest is named
 * by the syscall the waiter slept in (lock, pipe, socket...). Blocked time with no waiter
 * is charged to no stack ("no thread in a syscall": Go parks goroutines without a
 * syscall), under the cause of its mode (`parked` for the rest).
 *
 * Nothing goes through a ring: counts sit in profile_counts, keyed by stacks and by the
 * server's stream byte counts at the sample (the window key), and stacks in
 * profile_stacks keyed by a hash of their frames (stable, so userspace reads each once).
 * Userspace takes both with lookup-and-delete batches at window ends and in its idle drain.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "io.h"
#include "tree.h"
#include "profile.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TASK_RUNNING 0
#define TASK_DEAD 0x80
#define E2BIG 7
#define S_IFMT 00170000
#define S_IFIFO 0010000
#define S_IFSOCK 0140000

#include "syscall-nr.h"

/* The server's blocked time so far, ns, by idle mode (tree.bpf.c). */
extern int tree_idle_split(__u64 now, struct tree_idle *out);

/* The idle modes in tree_idle's order, as the causes their time goes to with no waiter. */
#define IDLE_MODES 3

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct profile_config);
} profile_config SEC(".maps");

/* Preallocated: a perf event program runs in interrupt context. 16,384 (stack pair, window)
 * keys between two reads: a read every 500 ms at most sees ~100 ticks on two CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct profile_key);
	__type(value, struct profile_value);
} profile_counts SEC(".maps");

/* Stacks new since the last read: hash of the frames -> frames. Userspace keeps what it
 * read by hash, so an entry read (and deleted) is never needed again. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct profile_stack);
} profile_stacks SEC(".maps");

/* Room for one stack per CPU: slot 0 for ticks, 1 for switches (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct profile_stack);
} profile_scratch SEC(".maps");

/* The shared wait clock: the server's blocked time, divided among the waiters, kept per
 * idle mode (child, disk, other). */
struct wait_clock {
	struct bpf_spin_lock lock;
	__u32 waiters;		/* server threads asleep in a syscall now */
	__u64 share_ns[IDLE_MODES];	/* blocked time per waiter, summed since the start */
	__u64 blocked_ns[IDLE_MODES];	/* tree_idle_split() when last read */
	__u64 unclaimed_ns[IDLE_MODES];	/* blocked time with no waiter, not charged yet */
	__u64 started;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wait_clock);
} wait_clock SEC(".maps");

/* A server thread asleep in a syscall: its stacks and the share when it went to sleep. */
struct waiter {
	__u64 share_start_ns[IDLE_MODES];
	__u64 user_stack;
	__u64 kernel_stack;
	__u32 armed;
	__u32 cause;	/* what its other-mode time goes to: the syscall it slept in */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct waiter);
} profile_waiters SEC(".maps");

DEFINE_COUNTERS(profile_counters, PROFILE_COUNTER_MAX)

static __always_inline struct profile_config *settings(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&profile_config, &k);
}

static __always_inline void add_counter(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&profile_counters, &slot);

	if (v)
		__sync_fetch_and_add(v, n);
}

/* The kernel's verifier takes a global function's void *ctx argument as the calling
 * program's context when tagged so (Linux 6.7+; libbpf >= 1.3 names it __arg_ctx). */
#ifndef __arg_ctx
#define __arg_ctx __attribute__((btf_decl_tag("arg:ctx")))
#endif

/* Take one stack into the scratch slot, enter it in profile_stacks, return its hash (0: none).
 * Global, so the verifier checks its loop once per program. */
__noinline __u64 take_stack(void *ctx __arg_ctx, __u32 slot, __u64 flags)
{
	struct profile_stack *s = bpf_map_lookup_elem(&profile_scratch, &slot);
	__u64 h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	long bytes;
	int i, n;

	if (!s)
		return 0;
	bytes = bpf_get_stack(ctx, s->ips, sizeof(s->ips), flags);
	if (bytes <= 0)
		return 0;
	n = bytes / 8;
	for (i = 0; i < PROFILE_STACK_DEPTH; i++) {
		if (i >= n)
			break;
		h = (h ^ s->ips[i]) * 0x100000001b3ULL;
	}
	if (h == 0)
		h = 1;
	if (bpf_map_update_elem(&profile_stacks, &h, s, BPF_NOEXIST) == -E2BIG) {
		count(PROFILE_COUNTER_STACKS_FULL);
		return 0;
	}
	return h;
}

/* Where the server's streams stand: the window key. */
static __always_inline void window_of(struct profile_config *c, struct profile_key *k)
{
	struct io_fd_key fk = { .pid = c->server_pid, .fd = c->in_fd };
	struct io_fd_bytes *b = bpf_map_lookup_elem(&watched_fds, &fk);

	k->read_bytes = b ? b->read_bytes : 0;
	fk.fd = c->out_fd;
	b = bpf_map_lookup_elem(&watched_fds, &fk);
	k->written_bytes = b ? b->written_bytes : 0;
}

static __always_inline void add_to(struct profile_key *k, __u64 n, __u64 ns)
{
	struct profile_value *v = bpf_map_lookup_elem(&profile_counts, k), zero = {};

	if (!v) {
		bpf_map_update_elem(&profile_counts, k, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&profile_counts, k);
		if (!v) {
			count(PROFILE_COUNTER_COUNTS_FULL);
			if (k->kind == PROFILE_WAIT)
				add_counter(PROFILE_COUNTER_LOST_WAIT_NS, ns);
			return;
		}
	}
	__sync_fetch_and_add(&v->count, n);
	__sync_fetch_and_add(&v->ns, ns);
}

/* Bring the wait clock up to the server's blocked time now, mode by mode. join: a waiter
 * comes, and out[] is the share so far (its start); else, when leaving, out[] is the share
 * since start[] of a waiter that leaves, and always unclaimed[] the blocked time no waiter
 * had, zeroed. */
static __always_inline void advance(struct wait_clock *w, struct tree_idle *now, bool join, bool leaving, __u64 *start, __u64 *out, __u64 *unclaimed)
{
	__u64 d;
	int m;

	bpf_spin_lock(&w->lock);
	if (!w->started) {
		w->started = 1;
		for (m = 0; m < IDLE_MODES; m++)
			w->blocked_ns[m] = now->ns[m];
	}
	for (m = 0; m < IDLE_MODES; m++) {
		if (now->ns[m] > w->blocked_ns[m]) {
			d = now->ns[m] - w->blocked_ns[m];
			w->blocked_ns[m] = now->ns[m];
			if (w->waiters > 0) {
				w->share_ns[m] += d / w->waiters;
				w->unclaimed_ns[m] += d % w->waiters;	/* so the parts add up exactly */
			} else {
				w->unclaimed_ns[m] += d;
			}
		}
	}
	if (join)
		w->waiters++;
	else if (leaving && w->waiters > 0)
		w->waiters--;
	for (m = 0; m < IDLE_MODES; m++) {
		if (join) {
			out[m] = w->share_ns[m];
		} else {
			if (leaving)
				out[m] = w->share_ns[m] - start[m];
			unclaimed[m] = w->unclaimed_ns[m];
			w->unclaimed_ns[m] = 0;
		}
	}
	bpf_spin_unlock(&w->lock);
}

/* The cause a mode's time goes to: child and disk as the tree counts them; the other
 * mode's by what the waiter slept in (other: WAIT_PARKED for no waiter). */
static __always_inline __u16 mode_cause(int m, __u32 other)
{
	return m == 0 ? WAIT_CHILD : m == 1 ? WAIT_DISK : (__u16)other;
}

static __always_inline struct wait_clock *clock_of(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&wait_clock, &k);
}

SEC("perf_event")
int handle_profile_sample(struct bpf_perf_event_data *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, role;
	struct profile_config *c = settings();
	struct profile_key k = {};

	if (!c || c->server_pid == 0)
		return 0;
	if (tgid == 0)
		return 0;
	role = role_of(tgid);
	if (role != ROLE_SERVER && role != ROLE_CHILD)
		return 0;
	count(PROFILE_COUNTER_SAMPLES);
	k.tgid = tgid;
	k.kind = PROFILE_CPU;
	k.user_stack = take_stack(ctx, 0, BPF_F_USER_STACK);
	k.kernel_stack = take_stack(ctx, 0, 0);
	window_of(c, &k);
	add_to(&k, 1, c->period_ns);
	return 0;
}

/* The runtime's idle waits, and the server's read of its own input: sleeping in them is
 * not waiting for anything a request needs (Go's sysmon in nanosleep, idle Ms in futex,
 * the netpoller in epoll_pwait, the reader of stdin). */
static __always_inline bool idle_wait(long nr, struct pt_regs *regs, struct profile_config *c)
{
	if (nr == NR_FUTEX || nr == NR_NANOSLEEP || nr == NR_CLOCK_NANOSLEEP || nr == NR_EPOLL_WAIT ||
	    nr == NR_EPOLL_PWAIT || nr == NR_EPOLL_PWAIT2 || nr == NR_POLL || nr == NR_PPOLL ||
	    nr == NR_SELECT || nr == NR_PSELECT6 || nr == NR_SCHED_YIELD || nr == NR_PAUSE || nr == NR_RT_SIGSUSPEND)
		return true;
	return (nr == NR_READ || nr == NR_READV) && (__s32)SYSCALL_ARG1(regs) == c->in_fd;
}

/* What kind of file the current task's fd is (S_IFMT bits; 0: none). */
static __always_inline __u32 fd_type(__s32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= max)
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	return BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT;
}

/* What a server thread going to sleep in syscall nr waits for, when no descendant runs and
 * no tree thread is in uninterruptible sleep (the other mode). Taken at the sleep: what
 * the kernel fields' blockedOtherOn says is read at the wakeup, and for the thread that woke. */
static __always_inline __u32 sleep_cause(long nr, struct pt_regs *regs)
{
	__u32 type;

	if (nr == NR_WAIT4 || nr == NR_WAITID)
		return WAIT_WAITPID;
	if (nr == NR_FLOCK || nr == NR_FCNTL || nr == NR_FUTEX)
		return WAIT_LOCK;
	if (nr == NR_CONNECT || nr == NR_ACCEPT || nr == NR_ACCEPT4 || nr == NR_RECVFROM || nr == NR_RECVMSG ||
	    nr == NR_SENDTO || nr == NR_SENDMSG)
		return WAIT_SOCKET;
	if (nr == NR_READ || nr == NR_READV || nr == NR_WRITE || nr == NR_WRITEV || nr == NR_PREAD64 || nr == NR_PWRITE64 ||
	    nr == NR_PREADV || nr == NR_PREADV2) {
		type = fd_type((__s32)SYSCALL_ARG1(regs));
		return type == S_IFIFO ? WAIT_PIPE : type == S_IFSOCK ? WAIT_SOCKET : WAIT_FILE;
	}
	return WAIT_SYSCALL;
}

/* Bring the wait clock up to now and charge what it owes: the blocked time no waiter had
 * (to the window now, under its mode's cause), and, when wt is a waiter, its share since it
 * went to sleep (to its stacks), which ends its wait. */
static __always_inline void settle(struct profile_config *c, struct wait_clock *w, struct waiter *wt)
{
	__u64 share[IDLE_MODES] = {}, unclaimed[IDLE_MODES] = {}, zero[IDLE_MODES] = {}, most = 0;
	struct profile_key k = {};
	struct tree_idle idle = {};
	bool leaving = wt && wt->armed;
	int m, top = 2;

	tree_idle_split(bpf_ktime_get_ns(), &idle);
	advance(w, &idle, false, leaving, leaving ? wt->share_start_ns : zero, share, unclaimed);
	k.tgid = c->server_pid;
	k.kind = PROFILE_WAIT;
	window_of(c, &k);
	for (m = 0; m < IDLE_MODES; m++) {
		if (unclaimed[m] > 0) {
			k.cause = mode_cause(m, WAIT_PARKED);
			add_to(&k, 0, unclaimed[m]);
		}
	}
	if (!leaving)
		return;
	wt->armed = 0;
	k.user_stack = wt->user_stack;
	k.kernel_stack = wt->kernel_stack;
	/* The sleep counts once, under the cause that got most of it. */
	for (m = 0; m < IDLE_MODES; m++) {
		if (share[m] > most) {
			most = share[m];
			top = m;
		}
	}
	for (m = 0; m < IDLE_MODES; m++) {
		if (share[m] > 0 || m == top) {
			k.cause = mode_cause(m, wt->cause);
			add_to(&k, m == top, share[m]);
		}
	}
}

SEC("tp_btf/sched_switch")
int BPF_PROG(handle_profile_switch, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	struct profile_config *c;
	struct wait_clock *w;
	struct waiter *wt;
	struct pt_regs *regs;
	struct tree_idle idle = {};
	__u64 start[IDLE_MODES] = {};
	long nr;

	/* A server thread runs: the server's blocked interval, if it was blocked, ended here.
	 * Blocked time no waiter had is charged now, to the window it fell in (the window key
	 * only moves while the server runs); and a waiter that runs again gets its share. */
	if (role_of(next->tgid) == ROLE_SERVER) {
		c = settings();
		w = clock_of();
		if (c && w && c->server_pid != 0)
			settle(c, w, bpf_task_storage_get(&profile_waiters, next, 0, 0));
	}
	/* An exiting thread (TASK_DEAD) never runs again: as a waiter it would take a share for ever. */
	if (preempt || prev_state == TASK_RUNNING || (prev_state & TASK_DEAD))
		return 0;
	if (role_of(prev->tgid) != ROLE_SERVER)
		return 0;
	c = settings();
	w = clock_of();
	if (!c || !w || c->server_pid == 0)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(prev);
	if (!regs)
		return 0;
	nr = SYSCALL_NR(regs);
	if (idle_wait(nr, regs, c))
		return 0;
	wt = bpf_task_storage_get(&profile_waiters, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!wt)
		return 0;
	/* Still a waiter: the wakeup of its last sleep went unseen. End that wait here, as its
	 * wakeup would have, so that no thread counts twice among the waiters (it would take a
	 * share of every later wait for ever, and the waits of the others would fall short). */
	if (wt->armed)
		settle(c, w, wt);
	/* prev is the current task here: its stacks are where it went to sleep. */
	wt->user_stack = take_stack(ctx, 1, BPF_F_USER_STACK);
	wt->kernel_stack = take_stack(ctx, 1, 0);
	wt->cause = sleep_cause(nr, regs);
	tree_idle_split(bpf_ktime_get_ns(), &idle);
	advance(w, &idle, true, false, start, start, start);
	wt->share_start_ns[0] = start[0];
	wt->share_start_ns[1] = start[1];
	wt->share_start_ns[2] = start[2];
	wt->armed = 1;
	count(PROFILE_COUNTER_WAITS);
	return 0;
}
