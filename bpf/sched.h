/* Shared between sched.bpf.c and its TypeScript mirror (src/probes/event-layout.ts).
 * Fixed-width types, explicit padding, no pointers: a test checks the layout against BTF. */
#ifndef __LSPTAP_SCHED_H
#define __LSPTAP_SCHED_H

enum sched_kind {
	SCHED_KIND_SWITCH_IN = 0,	/* the thread got a CPU */
	SCHED_KIND_SWITCH_OUT = 1,	/* it left the CPU: preempted (still runnable) or blocked */
	SCHED_KIND_WAKEUP = 2,		/* it was made runnable */
};

/* One scheduler transition of a thread of a watched process. */
struct sched_event {
	__u64 ts_ns;	/* bpf_ktime_get_ns() */
	__u32 pid;	/* tgid */
	__u32 tid;
	__u32 cpu;
	__u16 kind;	/* enum sched_kind */
	__u8 runnable;	/* SWITCH_OUT: 1 when it left still runnable (preempted) */
	__u8 __pad;
};

enum sched_counter {
	SCHED_COUNTER_EVENTS = 0,
	SCHED_COUNTER_DROPS = 1,
	SCHED_COUNTER_MAX = 2,
};

#endif /* __LSPTAP_SCHED_H */
