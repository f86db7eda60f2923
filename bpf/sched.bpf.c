// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Scheduler transitions of the language server's threads, so userspace can split a
 * request's handling time into on-CPU, runnable-but-waiting and blocked.
 *
 * Two variants of each handler, as bcc's runqlat: tp_btf (typed, direct reads) and raw_tp
 * (CO-RE reads). The loader autoloads the tp_btf set and falls back to raw_tp.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "sched.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TASK_RUNNING 0

/* Processes whose threads we follow: tgid -> 1. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} watched_pids SEC(".maps");

DEFINE_EVENTS_RINGBUF();

DEFINE_COUNTERS(sched_counters, SCHED_COUNTER_MAX)

/* Not inlined, so the event struct appears in the object's BTF (the layout test reads it). */
static __noinline void fill_event(struct sched_event *e, __u32 pid, __u32 tid, __u16 kind, __u8 runnable)
{
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = pid;
	e->tid = tid;
	e->cpu = bpf_get_smp_processor_id();
	e->kind = kind;
	e->runnable = runnable;
	e->__pad = 0;
}

static __always_inline void emit(__u32 pid, __u32 tid, __u16 kind, __u8 runnable)
{
	struct sched_event *e;

	if (!bpf_map_lookup_elem(&watched_pids, &pid))
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(SCHED_COUNTER_DROPS);
		return;
	}
	fill_event(e, pid, tid, kind, runnable);
	bpf_ringbuf_submit(e, 0);
	count(SCHED_COUNTER_EVENTS);
}

static __always_inline void on_switch(bool preempt, __u32 prev_pid, __u32 prev_tid, __u32 next_pid, __u32 next_tid, unsigned int prev_state)
{
	emit(prev_pid, prev_tid, SCHED_KIND_SWITCH_OUT, preempt || prev_state == TASK_RUNNING);
	emit(next_pid, next_tid, SCHED_KIND_SWITCH_IN, 0);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(handle_sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	on_switch(preempt, prev->tgid, prev->pid, next->tgid, next->pid, prev_state);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(handle_sched_wakeup_btf, struct task_struct *p)
{
	emit(p->tgid, p->pid, SCHED_KIND_WAKEUP, 0);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(handle_sched_wakeup_new_btf, struct task_struct *p)
{
	emit(p->tgid, p->pid, SCHED_KIND_WAKEUP, 0);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(handle_sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	on_switch(preempt, BPF_CORE_READ(prev, tgid), BPF_CORE_READ(prev, pid),
		  BPF_CORE_READ(next, tgid), BPF_CORE_READ(next, pid), prev_state);
	return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(handle_sched_wakeup_raw, struct task_struct *p)
{
	emit(BPF_CORE_READ(p, tgid), BPF_CORE_READ(p, pid), SCHED_KIND_WAKEUP, 0);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(handle_sched_wakeup_new_raw, struct task_struct *p)
{
	emit(BPF_CORE_READ(p, tgid), BPF_CORE_READ(p, pid), SCHED_KIND_WAKEUP, 0);
	return 0;
}
