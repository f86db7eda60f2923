// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Byte-moving syscalls of the processes around an LSP session.
 *
 * syscalls.bpf.c's hooks on sys_enter and sys_exit hand every syscall of a watched process
 * here. We keep only read, write, readv, writev, recvmsg and sendmsg, by the stream roles
 * userspace put in watched_pids (common.bpf.h), on the fds it put in watched_fds (until the
 * process closes one), and send one io_event per completed call through the io_events ring
 * buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "io.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "syscall-nr.h"

struct inflight_call {
	__u64 enter_ns;
	__s32 fd;
	__u32 op;
};

/* A watched syscall between sys_enter and sys_exit, per thread (every watched process's
 * threads: 200 listen sessions of gopls have thousands). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WATCHED_PIDS_MAX);
	__type(key, __u32);
	__type(value, struct inflight_call);
} inflight_calls SEC(".maps");

DEFINE_EVENTS_RINGBUF(io_events, 1 << 20);

DEFINE_COUNTERS(io_counters, IO_COUNTER_MAX)

/* The server's children share watched_pids (tree.bpf.c) but carry no session bytes. */
static __always_inline bool stream_role(__u32 role)
{
	return role == ROLE_LSPTAP || role == ROLE_SERVER || role == ROLE_EDITOR;
}

static __always_inline int op_of(long nr)
{
	switch (nr) {
	case NR_READ: return IO_OP_READ;
	case NR_WRITE: return IO_OP_WRITE;
	case NR_READV: return IO_OP_READV;
	case NR_WRITEV: return IO_OP_WRITEV;
	case NR_RECVMSG: return IO_OP_RECVMSG;
	case NR_SENDMSG: return IO_OP_SENDMSG;
	default: return -1;
	}
}

static __always_inline bool is_read_op(__u32 op)
{
	return op == IO_OP_READ || op == IO_OP_READV || op == IO_OP_RECVMSG;
}

/* Not inlined, so the event struct appears in the object's BTF (the layout test reads it). */
static __noinline void fill_event(struct io_syscall_event *e, const struct inflight_call *call, __u64 pid_tgid, __s64 ret, __u64 start_off)
{
	e->start_off = start_off;
	e->enter_ns = call->enter_ns;
	e->exit_ns = bpf_ktime_get_ns();
	e->ret = ret;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->fd = call->fd;
	e->op = (__u16)call->op;
	e->__pad = 0;
}

/* A syscall of a watched process begins (syscalls.bpf.c): note a read or write on a watched
 * fd. Global, so the verifier checks it once, on its own. */
__noinline int io_sys_enter(const struct syscall_args *a)
{
	__u64 id;
	int op;
	__u32 tid;
	struct io_fd_key key;
	struct inflight_call call;

	if (!a || !stream_role(a->role))
		return 0;
	id = a->id;
	key.pid = id >> 32;
	key.fd = (__s32)a->arg1;
	if (a->nr == NR_CLOSE) {
		/* The stream ends with its fd: the number is free from here, and what the process
		 * opens next may get it (lsptap's analysis thread, glibc's one-byte read of
		 * /proc/sys/vm/overcommit_memory on the number of its closed pipe to clangd).
		 * Those calls are no stream's: stop watching (pid, fd) as close begins. */
		bpf_map_delete_elem(&watched_fds, &key);
		return 0;
	}
	op = op_of(a->nr);
	if (op < 0)
		return 0;
	if (!bpf_map_lookup_elem(&watched_fds, &key))
		return 0;
	tid = (__u32)id;
	call.enter_ns = bpf_ktime_get_ns();
	call.fd = key.fd;
	call.op = op;
	if (bpf_map_update_elem(&inflight_calls, &tid, &call, BPF_ANY))
		count(IO_COUNTER_INFLIGHT_FULL);
	return 0;
}

/* A syscall of a watched process returns (syscalls.bpf.c): count a noted call's bytes and
 * send its event. Global, as io_sys_enter. */
__noinline int io_sys_exit(const struct syscall_args *a)
{
	__u64 id;
	__u32 pid, tid;
	long ret;
	struct inflight_call *call, late;
	struct io_syscall_event *e;
	struct io_fd_key fd_key;
	struct io_fd_bytes *bytes;
	__u64 start_off = 0;
	int op;

	if (!a || !stream_role(a->role))
		return 0;
	/* Most syscalls of lsptap, the server and the editor move no stream bytes (epoll, futex,
	 * mmap...): the syscall number says so before any map lookup. io_sys_enter notes only
	 * these numbers, and the number survives to the exit (orig_ax). */
	op = op_of(a->nr);
	if (op < 0)
		return 0;
	id = a->id;
	pid = id >> 32;
	tid = (__u32)id;
	ret = a->ret;
	call = bpf_map_lookup_elem(&inflight_calls, &tid);
	if (!call) {
		/* Entered before userspace watched this process (a server blocked in its
		 * first read when lsptap filled the maps): its bytes still count, or every
		 * later offset of the stream would be off. The entry time is unknown (0). */
		struct io_fd_key key = { .pid = pid };

		key.fd = (__s32)a->arg1;
		if (!bpf_map_lookup_elem(&watched_fds, &key))
			return 0;
		late.enter_ns = 0;
		late.fd = key.fd;
		late.op = op;
		call = &late;
	}
	/* Count the bytes before reserving: a call whose event is lost still moves the
	 * offsets of the calls after it, leaving a hole rather than a shift. */
	fd_key.pid = pid;
	fd_key.fd = call->fd;
	bytes = bpf_map_lookup_elem(&watched_fds, &fd_key);
	if (!bytes) {
		/* Another thread closed the fd during the call: the stream had ended. */
		bpf_map_delete_elem(&inflight_calls, &tid);
		return 0;
	}
	{
		__u64 *moved = is_read_op(call->op) ? &bytes->read_bytes : &bytes->written_bytes;

		start_off = ret > 0 ? __sync_fetch_and_add(moved, ret) : *moved;
	}
	e = bpf_ringbuf_reserve(&io_events, sizeof(*e), 0);
	if (!e) {
		count(IO_COUNTER_DROPS);
		bpf_map_delete_elem(&inflight_calls, &tid);
		return 0;
	}
	fill_event(e, call, id, ret, start_off);
	bpf_map_delete_elem(&inflight_calls, &tid);
	/* lsptap drains the ring on its own timers and never waits on it: a wakeup would only
	 * queue an irq_work (a self-interrupt, a VM exit here) per event found the ring empty. */
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	count(IO_COUNTER_EVENTS);
	return 0;
}
