// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The arms of bench/tax-floor.ts: what a program on sys_enter/sys_exit costs a syscall of a
 * process nobody watches, from nothing in the program to lsptap's own first test. Not
 * shipped: the benchmark builds it into bench/.build/ and bench/tax-probes.c attaches the
 * arm's programs by name. Nothing is ever watched here, so every first test says no.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define BITMAP_WORDS (1 << 16)	/* 2^22 bits: PID_MAX_LIMIT on 64-bit */

struct bitmap {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BITMAP_WORDS);
	__type(key, __u32);
	__type(value, __u64);
};

struct bitmap roots SEC(".maps");
struct bitmap children SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} pids SEC(".maps");

/* Whatever the test finds, it goes here so the compiler keeps it. */
volatile __u32 seen;

static __always_inline bool in_bitmap(struct bitmap *map, __u32 tgid)
{
	__u32 word = (tgid >> 6) & (BITMAP_WORDS - 1);
	__u64 *w = bpf_map_lookup_elem(map, &word);

	return w && (*w & (1ULL << (tgid & 63)));
}

/* Nothing: the floor (the slow path and the dispatch to a BPF program). */
SEC("raw_tp/sys_enter")
int empty_raw_enter(void *ctx) { return 0; }
SEC("raw_tp/sys_exit")
int empty_raw_exit(void *ctx) { return 0; }
SEC("tp_btf/sys_enter")
int empty_btf_enter(void *ctx) { return 0; }
SEC("tp_btf/sys_exit")
int empty_btf_exit(void *ctx) { return 0; }
SEC("tp_btf/sched_switch")
int empty_btf_switch(void *ctx) { return 0; }

/* A hash lookup of the tgid first (lsptap before the bitmap). */
SEC("tp_btf/sys_enter")
int hash_enter(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (bpf_map_lookup_elem(&pids, &tgid))
		seen++;
	return 0;
}
SEC("tp_btf/sys_exit")
int hash_exit(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (bpf_map_lookup_elem(&pids, &tgid))
		seen++;
	return 0;
}

/* Two bitmaps, the tgid from bpf_get_current_pid_tgid() (lsptap today). */
SEC("tp_btf/sys_enter")
int bits2_enter(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (in_bitmap(&roots, tgid) || in_bitmap(&children, tgid))
		seen++;
	return 0;
}
SEC("tp_btf/sys_exit")
int bits2_exit(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (in_bitmap(&roots, tgid) || in_bitmap(&children, tgid))
		seen++;
	return 0;
}

/* One bitmap. */
SEC("tp_btf/sys_enter")
int bits1_enter(void *ctx)
{
	if (in_bitmap(&roots, bpf_get_current_pid_tgid() >> 32))
		seen++;
	return 0;
}
SEC("tp_btf/sys_exit")
int bits1_exit(void *ctx)
{
	if (in_bitmap(&roots, bpf_get_current_pid_tgid() >> 32))
		seen++;
	return 0;
}

/* One bitmap, the tgid read from the current task (bpf_get_current_task_btf: a BTF pointer,
 * read without a probe). */
SEC("tp_btf/sys_enter")
int task1_enter(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();

	if (in_bitmap(&roots, t->tgid))
		seen++;
	return 0;
}
SEC("tp_btf/sys_exit")
int task1_exit(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();

	if (in_bitmap(&roots, t->tgid))
		seen++;
	return 0;
}

/* The same bitmap test from raw_tp. */
SEC("raw_tp/sys_enter")
int rawbits1_enter(void *ctx)
{
	if (in_bitmap(&roots, bpf_get_current_pid_tgid() >> 32))
		seen++;
	return 0;
}
SEC("raw_tp/sys_exit")
int rawbits1_exit(void *ctx)
{
	if (in_bitmap(&roots, bpf_get_current_pid_tgid() >> 32))
		seen++;
	return 0;
}

/* Per-syscall tracepoints (the perf path: the kernel copies the arguments into a record
 * before the program runs), empty, on read and write only. */
SEC("tp/syscalls/sys_enter_read")
int tp_enter_read(void *ctx) { return 0; }
SEC("tp/syscalls/sys_exit_read")
int tp_exit_read(void *ctx) { return 0; }
SEC("tp/syscalls/sys_enter_write")
int tp_enter_write(void *ctx) { return 0; }
SEC("tp/syscalls/sys_exit_write")
int tp_exit_write(void *ctx) { return 0; }
/* On a syscall the loop does not make (so the loop's calls only meet the filter). */
SEC("tp/syscalls/sys_enter_fsync")
int tp_enter_fsync(void *ctx) { return 0; }
SEC("tp/syscalls/sys_exit_fsync")
int tp_exit_fsync(void *ctx) { return 0; }
