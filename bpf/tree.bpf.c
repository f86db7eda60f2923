// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The language server and its descendants, counted in the kernel.
 *
 * Membership: the server is put in watched_pids by userspace; every process it or a
 * descendant forks joins at sched_process_fork (inherited then, never looked up later:
 * grandchildren are reparented to pid 1) and leaves when its last thread exits (pids come
 * back). Per thread (task storage) we keep its state: on a CPU, runnable, uninterruptible
 * sleep (disk), other sleep. One tree_state holds counts and since-sums of those states for
 * the server's threads and the descendants' threads, and from them the tree's mode at
 * every instant (enum tree_mode) with the time spent in each; and a slot per descendant
 * process (as many as TREE_CHILD_SLOTS alive at once) with its own CPU kept the same way,
 * so a child that never exits (tsserver) still has figures per window. Totals only grow; userspace
 * gets snapshots of them, taken when the server reads or writes its stream fds (the edges
 * of a request's window), and subtracts. Ring records only for facts that need one: a
 * snapshot, a descendant's exec and exit; submitted with BPF_RB_NO_WAKEUP (userspace
 * drains on a timer; a wake-up per record made the consumer preempt gopls). The server's
 * fd table stays in the kernel (server_fds, with its count in the totals): gopls opens and
 * closes some 2,000 files per documentSymbol, and a record for each cost lsptap more CPU
 * than the rest of kernel timing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "io.h"
#include "tree.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TASK_RUNNING 0
#define TASK_UNINTERRUPTIBLE 0x0002
#define TASK_NOLOAD 0x0400
#define S_IFMT 00170000
#define S_IFREG 0100000

#include "syscall-nr.h"

#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030
#define EEXIST 17
#define ETIMEDOUT 110

/* Thread states; the first three are counted in tree_state. */
enum thread_state_kind { T_UNKNOWN = 0, T_ONCPU = 1, T_RUNQ = 2, T_DISK = 3, T_SLEEP = 4, T_GONE = 5 };

struct thread_state {
	__u64 since_ns;
	__u32 state;	/* enum thread_state_kind */
	__u32 child;	/* 1: a descendant's thread; 0: the server's */
	__u32 slot;	/* its process's child slot + 1 in tree_state; 0: none */
	__u32 __pad;
};

/* Slots of tree_state's n[] and since_sum[]: the server's threads, then the descendants'. */
enum tree_slot {
	SLOT_SERVER_CPU = 0, SLOT_SERVER_RUNQ = 1, SLOT_SERVER_DISK = 2,
	SLOT_CHILD_CPU = 4, SLOT_CHILD_RUNQ = 5, SLOT_CHILD_DISK = 6,
};

/* A descendant process's running CPU total, as the tree's are kept: n threads on a CPU now,
 * since the sum of their since_ns. */
struct child_slot {
	__u32 pid;
	__u32 n_oncpu;
	__u64 cpu_ns;
	__u64 since_sum;
};

struct tree_state {
	struct bpf_spin_lock lock;
	__u32 mode;			/* enum tree_mode now */
	__u64 mode_since_ns;
	/* Threads per (class, counted state), at enum tree_slot: cls * 4 + state - T_ONCPU.
	 * since_sum: the sum of their since_ns, so the open time of a slot is
	 * n * now - since_sum. */
	__u32 n[8];
	__u64 since_sum[8];
	struct tree_totals totals;
	/* Last: userspace writes the slots of descendants found in /proc at the value's end
	 * before the tree is watched (src/probes/child-slots.ts). */
	struct child_slot slots[TREE_CHILD_SLOTS];
};

struct proc_stats {
	__u64 start_ns;
	__u64 cpu_ns;
	__u64 disk_ns;
	__u32 slot;	/* its slot + 1 in tree_state; 0: none was free */
	__u32 __pad;
};

struct disk_request {
	__u64 start_ns;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tree_state);
} tree SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} thread_states SEC(".maps");

/* Descendant processes alive: tgid -> their CPU and disk time (as many as can be watched). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WATCHED_PIDS_MAX);
	__type(key, __u32);
	__type(value, struct proc_stats);
} procs SEC(".maps");

/* A server thread whose wakeup ended an idle-other interval: tid -> its length, until the
 * thread's syscall returns and says what it waited for. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} pending_idle SEC(".maps");

/* Block requests a tree process started: struct request address -> start. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct disk_request);
} disk_requests SEC(".maps");

/* The server's open fds (tree.h). Not preallocated: a server has tens open, and room
 * for a leaking one costs nothing until used. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, TREE_FDS_MAX);
	__type(key, struct io_fd_key);
	__type(value, struct server_fd);
} server_fds SEC(".maps");

/* 2 MiB: some 5,300 snapshots (384 bytes and the ring's 8-byte header) or 4,700 exec records between two drains. A server makes a
 * snapshot per read of its input: gopls reads a large message up to 64 KB at a time (800
 * for 50 MB), but a server reading 4 KB at a time makes 12,200, faster than an analysis
 * thread starved of CPU (two busy cores) drains them: the ring fills, the rest are counted
 * as drops, and the fields they would have given are null (test/kernel-timing.test.ts). */
DEFINE_EVENTS_RINGBUF(tree_events, 1 << 21);

DEFINE_COUNTERS(tree_counters, TREE_COUNTER_MAX)

static __always_inline struct tree_state *tree_state(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&tree, &k);
}

/* The server's blocked time so far, ns, by idle mode: the wall time in each, the open
 * interval counted up to now (what a window's blockedOnChildUs, blockedOnDiskUs and
 * blockedOtherUs difference). profile.bpf.c shares it among the threads that wait, mode by
 * mode, so each wait's causes match those fields. Global: called from another file's programs. */
__noinline int tree_idle_split(__u64 now, struct tree_idle *out)
{
	struct tree_state *s = tree_state();
	__u32 m;

	if (!s || !out)
		return 0;
	bpf_spin_lock(&s->lock);
	out->ns[0] = s->totals.mode_ns[TREE_IDLE_CHILD];
	out->ns[1] = s->totals.mode_ns[TREE_IDLE_DISK];
	out->ns[2] = s->totals.mode_ns[TREE_IDLE_OTHER];
	m = s->mode;
	if (s->mode_since_ns && now > s->mode_since_ns) {
		if (m == TREE_IDLE_CHILD)
			out->ns[0] += now - s->mode_since_ns;
		else if (m == TREE_IDLE_DISK)
			out->ns[1] += now - s->mode_since_ns;
		else if (m == TREE_IDLE_OTHER)
			out->ns[2] += now - s->mode_since_ns;
	}
	bpf_spin_unlock(&s->lock);
	return 1;
}

/* Add d to the server's open fd count, and keep its peak (under the tree lock: exact, and
 * cheaper to verify than a compare-and-swap loop). */
static __always_inline void fd_count_add(__s64 d)
{
	__u32 slot = TREE_COUNTER_FD_PEAK;
	struct tree_state *s = tree_state();
	__u64 *peak = bpf_map_lookup_elem(&tree_counters, &slot);

	if (!s || !peak)
		return;
	bpf_spin_lock(&s->lock);
	s->totals.fds_open_delta += d;
	if (s->totals.fds_open_delta > (__s64)*peak)
		*peak = s->totals.fds_open_delta;
	bpf_spin_unlock(&s->lock);
}

static __always_inline bool in_tree(__u32 role)
{
	return role == ROLE_SERVER || role == ROLE_CHILD;
}

static __always_inline __u32 mode_of(struct tree_state *s)
{
	if (s->n[SLOT_SERVER_CPU] + s->n[SLOT_SERVER_RUNQ])
		return TREE_BUSY;
	if (s->n[SLOT_CHILD_CPU] + s->n[SLOT_CHILD_RUNQ])
		return TREE_IDLE_CHILD;
	if (s->n[SLOT_SERVER_DISK] + s->n[SLOT_CHILD_DISK])
		return TREE_IDLE_DISK;
	return TREE_IDLE_OTHER;
}

struct moved {
	__u64 left_ns;		/* time the thread spent in the state it left, if counted */
	__u32 left;		/* that state */
	__u64 ended_other_ns;	/* length of the idle-other interval this move ended, or 0 */
};

/* Move one thread to state `to` at now, under the tree lock. */
static __always_inline struct moved move(struct tree_state *s, struct thread_state *t, __u32 to, __u64 now)
{
	struct moved m = {};
	__u32 cls = t->child & 1, from, old, cur, i, k = (t->slot - 1) & (TREE_CHILD_SLOTS - 1);
	bool slotted = cls && t->slot;

	bpf_spin_lock(&s->lock);
	from = t->state;
	if (from == to || from == T_GONE) {
		bpf_spin_unlock(&s->lock);
		return m;
	}
	if (s->mode_since_ns == 0) {
		s->mode_since_ns = now;
		s->mode = mode_of(s);
	}
	old = s->mode;
	if (from >= T_ONCPU && from <= T_DISK) {
		i = (cls * 4 + from - T_ONCPU);
		barrier_var(i);
		i &= 7;
		if (s->n[i] > 0)
			s->n[i]--;
		s->since_sum[i] -= t->since_ns;
		m.left_ns = now - t->since_ns;
		m.left = from;
		if (from == T_ONCPU) {
			if (slotted) {
				if (s->slots[k].n_oncpu > 0)
					s->slots[k].n_oncpu--;
				s->slots[k].since_sum -= t->since_ns;
				s->slots[k].cpu_ns += m.left_ns;
			}
			if (cls)
				s->totals.child_cpu_ns += m.left_ns;
			else
				s->totals.server_cpu_ns += m.left_ns;
		} else if (from == T_RUNQ) {
			if (cls)
				s->totals.child_runq_ns += m.left_ns;
			else
				s->totals.server_runq_ns += m.left_ns;
		} else if (cls) {
			s->totals.child_disk_ns += m.left_ns;
		}
	}
	if (to >= T_ONCPU && to <= T_DISK) {
		i = (cls * 4 + to - T_ONCPU);
		barrier_var(i);
		i &= 7;
		s->n[i]++;
		s->since_sum[i] += now;
		if (to == T_ONCPU && slotted) {
			s->slots[k].n_oncpu++;
			s->slots[k].since_sum += now;
		}
	}
	t->state = to;
	t->since_ns = now;
	cur = mode_of(s);
	if (cur != old) {
		s->totals.mode_ns[old & 3] += now - s->mode_since_ns;
		if (old == TREE_IDLE_OTHER)
			m.ended_other_ns = now - s->mode_since_ns;
		s->mode_since_ns = now;
		s->mode = cur;
	}
	bpf_spin_unlock(&s->lock);
	return m;
}

/* A descendant's thread left a CPU or a disk wait: charge its process. */
static __always_inline void charge_proc(__u32 tgid, struct moved *m)
{
	struct proc_stats *p;

	if (m->left != T_ONCPU && m->left != T_DISK)
		return;
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		return;
	if (m->left == T_ONCPU)
		__sync_fetch_and_add(&p->cpu_ns, m->left_ns);
	else
		__sync_fetch_and_add(&p->disk_ns, m->left_ns);
}

/* A free child slot for tgid, as its slot + 1; 0 when all are taken. */
static __always_inline __u32 claim_slot(__u32 tgid)
{
	struct tree_state *s = tree_state();
	__u32 got = 0, i;

	if (!s)
		return 0;
	bpf_spin_lock(&s->lock);
#pragma unroll
	for (i = 0; i < TREE_CHILD_SLOTS; i++) {
		if (!got && s->slots[i].pid == 0) {
			s->slots[i].pid = tgid;
			s->slots[i].n_oncpu = 0;
			s->slots[i].cpu_ns = 0;
			s->slots[i].since_sum = 0;
			got = i + 1;
		}
	}
	bpf_spin_unlock(&s->lock);
	return got;
}

/* Give a child's slot back when its last thread has gone. */
static __always_inline void free_slot(struct tree_state *s, __u32 tgid, __u32 slot)
{
	__u32 k = (slot - 1) & (TREE_CHILD_SLOTS - 1);

	if (!slot)
		return;
	bpf_spin_lock(&s->lock);
	if (s->slots[k].pid == tgid)
		s->slots[k].pid = 0;
	bpf_spin_unlock(&s->lock);
}

/* A descendant userspace found in /proc when watching began (it was forked before, while
 * the probes loaded) has no procs entry: the first of its threads seen claims one, with a
 * slot, so that its CPU from then on is in every snapshot as a forked child's is. */
static __always_inline struct proc_stats *adopt(__u32 tgid, struct task_struct *task)
{
	struct proc_stats p = {};

	p.start_ns = BPF_CORE_READ(task, group_leader, start_time);
	p.slot = claim_slot(tgid);
	if (bpf_map_update_elem(&procs, &tgid, &p, BPF_NOEXIST) && p.slot) {
		/* Another of its threads was first: give this slot back. */
		struct tree_state *s = tree_state();

		if (s)
			free_slot(s, tgid, p.slot);
	}
	return bpf_map_lookup_elem(&procs, &tgid);
}

/* What the kernel's verifier needs to take a global function's task argument as the
 * trusted pointer a tp_btf program hands over (libbpf >= 1.4 names it too). */
#ifndef __arg_trusted
#define __arg_trusted __attribute__((btf_decl_tag("arg:trusted")))
#endif

/* Move a thread of the tree (or return if task is not in it). A wakeup moves only a
 * sleeping (or not yet seen) thread into the runqueue. Global, not inlined: the verifier
 * checks a global function once per program instead of once per call, and sched_switch
 * calls it twice (the programs' verification is most of lsptap's start-up CPU with kernel
 * timing). */
__noinline int move_task(struct task_struct *task __arg_trusted, __u32 to, __u64 now, bool wakeup)
{
	__u32 tgid = task->tgid, role = role_of(tgid);
	struct thread_state *t;
	struct tree_state *s;
	struct moved m;

	if (!in_tree(role))
		return 0;
	s = tree_state();
	t = bpf_task_storage_get(&thread_states, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s || !t)
		return 0;
	if (t->state == T_UNKNOWN) {
		t->child = role == ROLE_CHILD;
		if (t->child) {
			struct proc_stats *p = bpf_map_lookup_elem(&procs, &tgid);

			if (!p)
				p = adopt(tgid, task);
			t->slot = p ? p->slot : 0;
		}
	}
	if (wakeup && t->state != T_UNKNOWN && t->state != T_SLEEP && t->state != T_DISK)
		return 0;
	m = move(s, t, to, now);
	if (t->child) {
		charge_proc(tgid, &m);
	} else if (m.ended_other_ns) {
		__u32 tid = task->pid;
		__u64 *pending = bpf_map_lookup_elem(&pending_idle, &tid);

		if (pending)
			__sync_fetch_and_add(pending, m.ended_other_ns);
		else
			bpf_map_update_elem(&pending_idle, &tid, &m.ended_other_ns, BPF_ANY);
	}
	return 0;
}

static __always_inline void submit(void *e)
{
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	count(TREE_COUNTER_EVENTS);
}

/* Not inlined, so each event struct appears in the object's BTF (the layout test reads it). */
static __noinline void fill_head(struct tree_event_head *h, __u64 now, __u32 pid, __u32 tid, __u16 kind)
{
	h->ts_ns = now;
	h->pid = pid;
	h->tid = tid;
	h->kind = kind;
	h->__pad[0] = h->__pad[1] = h->__pad[2] = 0;
}

/* Every context switch and wakeup of the machine runs these: the one-bit test comes before
 * the clock and the calls, so an unwatched task's costs only that (bench/tax-floor.ts). */
SEC("tp_btf/sched_switch")
int BPF_PROG(handle_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	__u64 now;
	__u32 to;

	if (!maybe_watched(prev->tgid) && !maybe_watched(next->tgid))
		return 0;
	now = bpf_ktime_get_ns();
	if (preempt || prev_state == TASK_RUNNING)
		to = T_RUNQ;
	else if ((prev_state & TASK_UNINTERRUPTIBLE) && !(prev_state & TASK_NOLOAD))
		to = T_DISK;
	else
		to = T_SLEEP;
	move_task(prev, to, now, false);
	move_task(next, T_ONCPU, now, false);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(handle_sched_wakeup, struct task_struct *p)
{
	if (maybe_watched(p->tgid))
		move_task(p, T_RUNQ, bpf_ktime_get_ns(), true);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(handle_sched_wakeup_new, struct task_struct *p)
{
	if (maybe_watched(p->tgid))
		move_task(p, T_RUNQ, bpf_ktime_get_ns(), true);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = child->tgid, role = ROLE_CHILD;
	struct proc_stats p = {};

	if (tgid == parent->tgid || !in_tree(role_of(parent->tgid)))
		return 0;
	p.start_ns = bpf_ktime_get_ns();
	p.slot = claim_slot(tgid);
	bpf_map_update_elem(&procs, &tgid, &p, BPF_ANY);
	bpf_map_update_elem(&watched_pids, &tgid, &role, BPF_ANY);
	mark_child(tgid, true);
	return 0;
}

static __noinline void fill_exec(struct tree_exec_event *e, struct task_struct *p, struct linux_binprm *bprm, __u64 start_ns)
{
	unsigned long arg_start = BPF_CORE_READ(p, mm, arg_start), arg_end = BPF_CORE_READ(p, mm, arg_end);
	__u32 len = arg_end > arg_start ? arg_end - arg_start : 0;

	e->start_ns = start_ns;
	e->ppid = BPF_CORE_READ(p, real_parent, tgid);
	__builtin_memcpy(e->comm, p->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(bprm, filename));
	if (len > TREE_ARGS_LEN)
		len = TREE_ARGS_LEN;
	e->args_len = 0;
	if (len == 0)
		return;
	barrier_var(len);
	if (len <= TREE_ARGS_LEN && bpf_probe_read_user(e->args, len, (void *)arg_start) == 0)
		e->args_len = len;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;
	struct tree_exec_event *e;
	struct proc_stats *ps;

	if (role_of(tgid) != ROLE_CHILD)
		return 0;
	e = bpf_ringbuf_reserve(&tree_events, sizeof(*e), 0);
	if (!e) {
		count(TREE_COUNTER_DROPS);
		return 0;
	}
	ps = bpf_map_lookup_elem(&procs, &tgid);
	fill_head(&e->head, bpf_ktime_get_ns(), tgid, p->pid, TREE_EV_EXEC);
	fill_exec(e, p, bprm, ps ? ps->start_ns : 0);
	submit(e);
	return 0;
}

static __noinline void fill_exit(struct tree_exit_event *e, struct task_struct *p, struct proc_stats *ps)
{
	int group_code = BPF_CORE_READ(p, signal, group_exit_code);

	e->start_ns = ps ? ps->start_ns : 0;
	e->cpu_ns = ps ? ps->cpu_ns : 0;
	e->disk_ns = ps ? ps->disk_ns : 0;
	e->status = group_code ? group_code : p->exit_code;
	e->__pad2 = 0;
	__builtin_memcpy(e->comm, p->comm, sizeof(e->comm));
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_sched_process_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = p->tgid, role = role_of(tgid);
	struct thread_state *t;
	struct tree_state *s;
	struct proc_stats *ps;

	if (!in_tree(role))
		return 0;
	/* Close the thread's interval here: after this it only switches out, as TASK_DEAD. */
	t = bpf_task_storage_get(&thread_states, p, 0, 0);
	s = tree_state();
	if (t && s) {
		struct moved m = move(s, t, T_GONE, bpf_ktime_get_ns());

		if (t->child)
			charge_proc(tgid, &m);
	}
	if (!group_dead)
		return 0;
	if (role == ROLE_CHILD) {
		struct tree_exit_event *e = bpf_ringbuf_reserve(&tree_events, sizeof(*e), 0);

		ps = bpf_map_lookup_elem(&procs, &tgid);
		if (e) {
			fill_head(&e->head, bpf_ktime_get_ns(), tgid, p->pid, TREE_EV_EXIT);
			fill_exit(e, p, ps);
			submit(e);
		} else {
			count(TREE_COUNTER_DROPS);
		}
		if (ps && s)
			free_slot(s, tgid, ps->slot);
		bpf_map_delete_elem(&procs, &tgid);
	}
	/* pid_max is small: the number comes back as someone else's. */
	bpf_map_delete_elem(&watched_pids, &tgid);
	if (role == ROLE_CHILD)
		mark_child(tgid, false);
	return 0;
}

SEC("tp_btf/mm_filemap_add_to_page_cache")
int BPF_PROG(handle_page_cache_add, struct folio *folio)
{
	struct tree_state *s;
	__u64 pages = 1;

	if (!in_tree(role_of(bpf_get_current_pid_tgid() >> 32)))
		return 0;
	s = tree_state();
	if (!s)
		return 0;
	/* folio_nr_pages(): a large folio keeps its page count in _nr_pages. */
	if (folio->flags.f & (1UL << PG_head))
		pages = folio->_nr_pages;
	__sync_fetch_and_add(&s->totals.page_cache_misses, pages);
	return 0;
}

SEC("tp_btf/block_io_start")
int BPF_PROG(handle_block_io_start, struct request *rq)
{
	struct disk_request d;
	__u64 key = (__u64)rq;

	if (!in_tree(role_of(bpf_get_current_pid_tgid() >> 32)))
		return 0;
	d.start_ns = bpf_ktime_get_ns();
	d.bytes = rq->__data_len;
	bpf_map_update_elem(&disk_requests, &key, &d, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_io_done")
int BPF_PROG(handle_block_io_done, struct request *rq)
{
	__u64 key = (__u64)rq;
	struct disk_request *d = bpf_map_lookup_elem(&disk_requests, &key);
	struct tree_state *s;

	if (!d)
		return 0;
	s = tree_state();
	if (s) {
		__sync_fetch_and_add(&s->totals.disk_ios, 1);
		__sync_fetch_and_add(&s->totals.disk_io_bytes, d->bytes);
		__sync_fetch_and_add(&s->totals.disk_io_ns, bpf_ktime_get_ns() - d->start_ns);
	}
	bpf_map_delete_elem(&disk_requests, &key);
	return 0;
}

/* Copy the totals with the open intervals counted up to now. */
static __noinline void fill_snapshot(struct tree_snapshot_event *e, struct tree_state *s, __u64 now, __s32 fd, __u32 write)
{
	__u32 i;

	e->fd = fd;
	e->write = write;
	bpf_spin_lock(&s->lock);
	e->totals = s->totals;
	e->totals.server_cpu_ns += s->n[SLOT_SERVER_CPU] * now - s->since_sum[SLOT_SERVER_CPU];
	e->totals.server_runq_ns += s->n[SLOT_SERVER_RUNQ] * now - s->since_sum[SLOT_SERVER_RUNQ];
	e->totals.child_cpu_ns += s->n[SLOT_CHILD_CPU] * now - s->since_sum[SLOT_CHILD_CPU];
	e->totals.child_runq_ns += s->n[SLOT_CHILD_RUNQ] * now - s->since_sum[SLOT_CHILD_RUNQ];
	e->totals.child_disk_ns += s->n[SLOT_CHILD_DISK] * now - s->since_sum[SLOT_CHILD_DISK];
	if (s->mode_since_ns)
		e->totals.mode_ns[s->mode & 3] += now - s->mode_since_ns;
#pragma unroll
	for (i = 0; i < TREE_CHILD_SLOTS; i++) {
		e->children[i].pid = s->slots[i].pid;
		e->children[i].__pad = 0;
		e->children[i].cpu_ns = s->slots[i].pid ? s->slots[i].cpu_ns + s->slots[i].n_oncpu * now - s->slots[i].since_sum : 0;
	}
	bpf_spin_unlock(&s->lock);
}

static __always_inline void snapshot(__u64 id, __s32 fd, __u32 write)
{
	struct io_fd_key key = { .pid = id >> 32, .fd = fd };
	struct tree_snapshot_event *e;
	struct tree_state *s;
	__u64 now;

	if (!bpf_map_lookup_elem(&watched_fds, &key))
		return;
	s = tree_state();
	if (!s)
		return;
	e = bpf_ringbuf_reserve(&tree_events, sizeof(*e), 0);
	if (!e) {
		count(TREE_COUNTER_DROPS);
		return;
	}
	now = bpf_ktime_get_ns();
	fill_head(&e->head, now, id >> 32, (__u32)id, TREE_EV_SNAPSHOT);
	fill_snapshot(e, s, now, fd, write);
	submit(e);
}

/* A syscall of a watched process begins (syscalls.bpf.c): the server's writes to its stream
 * fds take a snapshot, its closes leave the fd table. Global: verified once, on its own. */
__noinline int tree_sys_enter(const struct syscall_args *a)
{
	__u64 id;
	long nr;

	if (!a || a->role != ROLE_SERVER)
		return 0;
	id = a->id;
	nr = a->nr;
	if (nr != NR_WRITE && nr != NR_WRITEV && nr != NR_SENDMSG && nr != NR_CLOSE)
		return 0;
	if (nr == NR_CLOSE) {
		/* Out of the table as close begins: from here the number can be handed out again,
		 * and another thread's open that gets it must not be undone by this close's return.
		 * A close of an fd not open (EBADF) finds nothing. */
		struct io_fd_key key = { .pid = id >> 32, .fd = (__s32)a->arg1 };

		if (bpf_map_delete_elem(&server_fds, &key) == 0)
			fd_count_add(-1);
		return 0;
	}
	snapshot(id, (__s32)a->arg1, 1);
	return 0;
}

/* Global for the verifier's sake (see move_task). */
__noinline int is_regular_file(__s32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;
	umode_t mode;

	if (fd < 0 || (unsigned int)fd >= max)
		return false;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return false;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	return (mode & S_IFMT) == S_IFREG;
}

static __always_inline __u32 cause_of(long nr, long ret, __s32 fd)
{
	if (nr == NR_NANOSLEEP || nr == NR_CLOCK_NANOSLEEP)
		return CAUSE_TIMER;
	if (nr == NR_EPOLL_WAIT || nr == NR_EPOLL_PWAIT || nr == NR_EPOLL_PWAIT2 || nr == NR_POLL ||
	    nr == NR_PPOLL || nr == NR_SELECT || nr == NR_PSELECT6)
		return ret == 0 ? CAUSE_TIMER : CAUSE_POLL;
	if (nr == NR_FUTEX)
		return ret == -ETIMEDOUT ? CAUSE_TIMER : CAUSE_LOCK;
	if (nr == NR_READ || nr == NR_READV)
		return fd == 0 ? CAUSE_STDIN : CAUSE_READ;
	if (nr == NR_ACCEPT || nr == NR_ACCEPT4 || nr == NR_CONNECT || nr == NR_RECVFROM || nr == NR_RECVMSG)
		return CAUSE_NETWORK;
	if (nr == NR_WAIT4 || nr == NR_WAITID)
		return CAUSE_CHILD;
	return CAUSE_SYSCALL;
}

/* Global for the verifier's sake (see move_task): its branches multiplied sys_exit's states. */
__noinline int classify_idle(__u32 tid, long nr, long ret, __s32 fd)
{
	__u64 *pending = bpf_map_lookup_elem(&pending_idle, &tid);
	struct tree_state *s;
	__u32 cause;

	if (!pending)
		return 0;
	s = tree_state();
	if (s) {
		cause = cause_of(nr, ret, fd);
		__sync_fetch_and_add(&s->totals.cause_ns[cause % CAUSES], *pending);
		if (cause == CAUSE_SYSCALL)
			s->totals.last_other_nr = nr;
	}
	bpf_map_delete_elem(&pending_idle, &tid);
	return 0;
}

/* Global for the verifier's sake (see move_task): sys_exit enters up to three fds. */
__noinline int fd_opened(__u32 pid, __s32 fd, long nr, unsigned long user_path)
{
	struct io_fd_key key = { .pid = pid, .fd = fd };
	struct server_fd v;
	long err;

	__builtin_memset(&v, 0, sizeof(v));
	v.opened_ns = bpf_ktime_get_ns();
	v.nr = nr;
	if (user_path)
		bpf_probe_read_user_str(v.path, sizeof(v.path), (const void *)user_path);
	err = bpf_map_update_elem(&server_fds, &key, &v, BPF_NOEXIST);
	if (err == 0)
		fd_count_add(1);
	else if (err == -EEXIST)
		/* dup2/dup3 onto an open fd: it was closed and is this one now. */
		bpf_map_update_elem(&server_fds, &key, &v, BPF_EXIST);
	else
		count(TREE_COUNTER_FD_FULL);
	return 0;
}

/* The server's fd table: count what it opens, and enter each fd in server_fds. */
static __always_inline void server_fds_opened(const struct syscall_args *a)
{
	__u64 id = a->id;
	long nr = a->nr, ret = a->ret;
	struct tree_state *s;
	const char *path = NULL;
	int pair[2];

	if (ret < 0)
		return;
	s = tree_state();
	if (!s)
		return;
	if (nr == NR_CLOSE) {
		/* Taken out of server_fds as it began (tree_sys_enter). */
		__sync_fetch_and_add(&s->totals.fds_closed, 1);
		return;
	}
	if (nr == NR_OPEN || nr == NR_CREAT)
		path = (const char *)a->arg1;
	else if (nr == NR_OPENAT || nr == NR_OPENAT2)
		path = (const char *)a->arg2;
	else if (nr == NR_MEMFD_CREATE)
		path = (const char *)a->arg1;
	if (path || nr == NR_DUP || nr == NR_DUP2 || nr == NR_DUP3 || nr == NR_SOCKET || nr == NR_ACCEPT ||
	    nr == NR_ACCEPT4 || nr == NR_EPOLL_CREATE1 || nr == NR_EVENTFD2 || nr == NR_TIMERFD_CREATE ||
	    nr == NR_SIGNALFD4 || nr == NR_INOTIFY_INIT1 || nr == NR_PIDFD_OPEN ||
	    (nr == NR_FCNTL && (a->arg2 == F_DUPFD || a->arg2 == F_DUPFD_CLOEXEC))) {
		__sync_fetch_and_add(&s->totals.fds_opened, 1);
		fd_opened(id >> 32, (__s32)ret, nr, (unsigned long)path);
		return;
	}
	if (nr == NR_PIPE || nr == NR_PIPE2 || nr == NR_SOCKETPAIR) {
		void *arr = (void *)(nr == NR_SOCKETPAIR ? a->arg4 : a->arg1);

		if (bpf_probe_read_user(pair, sizeof(pair), arr))
			return;
		__sync_fetch_and_add(&s->totals.fds_opened, 2);
		fd_opened(id >> 32, pair[0], nr, 0);
		fd_opened(id >> 32, pair[1], nr, 0);
	}
}

/* A syscall of a watched process returns (syscalls.bpf.c): what ended the server's idle
 * time, its file reads, its stream reads (a snapshot) and the fds it opened. Global, as
 * tree_sys_enter. */
__noinline int tree_sys_exit(const struct syscall_args *a)
{
	__u64 id;
	__u32 role;
	long nr, ret;
	__s32 fd;

	if (!a || !in_tree(a->role))
		return 0;
	id = a->id;
	role = a->role;
	nr = a->nr;
	ret = a->ret;
	fd = (__s32)a->arg1;
	if (role == ROLE_SERVER)
		classify_idle((__u32)id, nr, ret, fd);
	if (ret > 0 && (nr == NR_READ || nr == NR_PREAD64 || nr == NR_READV || nr == NR_PREADV || nr == NR_PREADV2) &&
	    is_regular_file(fd)) {
		struct tree_state *s = tree_state();

		if (s) {
			__sync_fetch_and_add(&s->totals.file_reads, 1);
			__sync_fetch_and_add(&s->totals.file_read_bytes, ret);
		}
	}
	if (role != ROLE_SERVER)
		return 0;
	if (ret > 0 && (nr == NR_READ || nr == NR_READV || nr == NR_RECVMSG))
		snapshot(id, fd, 0);
	else
		server_fds_opened(a);
	return 0;
}
