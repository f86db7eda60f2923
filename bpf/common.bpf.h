/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What io.bpf.c and tree.bpf.c share: the processes and fds they watch, and how each
 * defines its ring buffer and its array of counters (drops and totals, read by userspace
 * with bpf_map_lookup_batch). The two are linked into one object, lsptap.bpf.o (bpftool gen
 * object, scripts/build-bpf.sh), so libbpf parses the kernel's BTF once; the shared maps
 * are defined in both as weak symbols, identical, and the linker keeps one of each.
 */
#ifndef LSPTAP_COMMON_BPF_H
#define LSPTAP_COMMON_BPF_H

#include "io.h"

/* What a watched process is to the session (mirrored in src/probes/event-layout.ts). */
enum watched_role {
	ROLE_LSPTAP = 1,	/* io.bpf.c: its stream fds */
	ROLE_SERVER = 2,	/* io.bpf.c: its stream fds; tree.bpf.c: the root of the tree */
	ROLE_EDITOR = 3,	/* io.bpf.c: its fd reading lsptap */
	ROLE_CHILD = 4,		/* tree.bpf.c: a descendant of the server, added at fork */
};

/* Sizes for `lsptap --listen`, where one probe set times every connection: at least 200
 * concurrent sessions (docs/kernel-timing.md). A session watches its server, its editor
 * and lsptap, plus the server's children, and up to 6 streams (lsptap's client end(s) and
 * its two server ends, the server's two ends, the editor's end). 256 streams held about 40
 * sessions (issue 24: 8 of 50 gopls sessions had kernel timing off, map full). Preallocated,
 * the two maps take about 1.3 MB of kernel memory. Mirrored in src/probes/event-layout.ts. */
#define WATCHED_PIDS_MAX 16384
#define WATCHED_FDS_MAX 4096

/* tgid -> enum watched_role. Room for the servers' children: gopls runs go list, which
 * runs compile, asm, link, cgo, several at once. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WATCHED_PIDS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} watched_pids SEC(".maps") __weak;

/* (pid, fd) -> its byte counts: the fds that carry the session's bytes (lsptap's
 * stdin/stdout and its ends of the server's pipes, the server's stdin/stdout, the editor's
 * ends). io.bpf.c traces their reads and writes and counts their bytes; tree.bpf.c
 * snapshots its totals at the server's. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WATCHED_FDS_MAX);
	__type(key, struct io_fd_key);
	__type(value, struct io_fd_bytes);
} watched_fds SEC(".maps") __weak;

/* A syscall's number and arguments, from the registers the sys_enter/sys_exit tracepoints
 * hand over. On x86_64, struct pt_regs is user ABI (uapi asm/ptrace.h: what ptrace and core
 * dumps show), so it is read at fixed offsets with no CO-RE relocation. Each relocation makes
 * the kernel's loader (light skeleton) look its type up in the kernel's BTF; its cache of
 * those lookups has 31 slots keyed by a hash of the name, and pt_regs shared one with
 * linux_binprm (bpf_raw_tracepoint_args one with files_struct and signal_struct), so they
 * evicted each other and every load scanned the kernel's ~150,000 types over and over:
 * ~4 ms of lsptap's CPU per session. arm64's pt_regs is not ABI beyond user_pt_regs, so it
 * stays relocated there. */
#if defined(__TARGET_ARCH_x86)
struct lsptap_x86_64_regs {	/* uapi struct pt_regs, x86_64 */
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
static __always_inline unsigned long syscall_reg(const void *regs, unsigned long off)
{
	unsigned long v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), (const char *)regs + off);
	return v;
}
#define SYSCALL_NR(regs) syscall_reg(regs, __builtin_offsetof(struct lsptap_x86_64_regs, orig_ax))
#define SYSCALL_ARG1(regs) syscall_reg(regs, __builtin_offsetof(struct lsptap_x86_64_regs, di))
#define SYSCALL_ARG2(regs) syscall_reg(regs, __builtin_offsetof(struct lsptap_x86_64_regs, si))
#define SYSCALL_ARG4(regs) syscall_reg(regs, __builtin_offsetof(struct lsptap_x86_64_regs, r10))
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) BPF_CORE_READ((struct pt_regs *)(regs), syscallno)
#define SYSCALL_ARG1(regs) PT_REGS_PARM1_CORE_SYSCALL((struct pt_regs *)(regs))
#define SYSCALL_ARG2(regs) PT_REGS_PARM2_CORE_SYSCALL((struct pt_regs *)(regs))
#define SYSCALL_ARG4(regs) PT_REGS_PARM4_CORE_SYSCALL((struct pt_regs *)(regs))
#else
#error "common.bpf.h: syscall registers for this architecture are missing"
#endif

/* Every process on the machine passes through sys_enter, sys_exit and sched_switch, and
 * almost none is watched: the first test must cost next to nothing. A bit per possible tgid
 * (PID_MAX_LIMIT is 2^22 on 64-bit) says whether to look in watched_pids at all: an ARRAY
 * lookup, which the verifier inlines into a bounds check and an add, where watched_pids's
 * jhash and bucket walk cost an unwatched syscall more than the rest of its trip through
 * the programs. Two bitmaps, so that each has one writer and no bit is lost to a race:
 * watched_root_bits is written only by userspace (one word at a time, from its own set of
 * roots: src/probes/watched-pids.ts), watched_child_bits only here, atomically, as the
 * server's descendants fork and exit. A bit left set (a root the kernel took out of
 * watched_pids at its exit) only costs its pid's next owner the hash lookup. */
#define WATCH_BITMAP_WORDS (1 << 16)	/* 2^22 bits */

struct watch_bitmap {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WATCH_BITMAP_WORDS);
	__type(key, __u32);
	__type(value, __u64);
};

struct watch_bitmap watched_root_bits SEC(".maps") __weak;
struct watch_bitmap watched_child_bits SEC(".maps") __weak;

static __always_inline bool maybe_watched(__u32 tgid)
{
	__u32 word = (tgid >> 6) & (WATCH_BITMAP_WORDS - 1);
	__u64 bit = 1ULL << (tgid & 63), *w;

	w = bpf_map_lookup_elem(&watched_root_bits, &word);
	if (w && (*w & bit))
		return true;
	w = bpf_map_lookup_elem(&watched_child_bits, &word);
	return w && (*w & bit);
}

/* A descendant joins (set) or leaves (clear) watched_child_bits. */
static __always_inline void mark_child(__u32 tgid, bool set)
{
	__u32 word = (tgid >> 6) & (WATCH_BITMAP_WORDS - 1);
	__u64 bit = 1ULL << (tgid & 63), *w = bpf_map_lookup_elem(&watched_child_bits, &word);

	if (!w)
		return;
	if (set)
		__sync_fetch_and_or(w, bit);
	else
		__sync_fetch_and_and(w, ~bit);
}

static __always_inline __u32 role_of(__u32 tgid)
{
	__u32 *role;

	if (!maybe_watched(tgid))
		return 0;
	role = bpf_map_lookup_elem(&watched_pids, &tgid);
	return role ? *role : 0;
}

/* A watched process's syscall as syscalls.bpf.c hands it to io.bpf.c and tree.bpf.c: read
 * from the registers once, for both (global functions take scalars and pointers to memory,
 * not the trusted pt_regs pointer). */
struct syscall_args {
	__u64 id;	/* bpf_get_current_pid_tgid() */
	long nr;
	long ret;	/* sys_exit only */
	unsigned long arg1, arg2, arg4;
	__u32 role;	/* enum watched_role */
	__u32 __pad;
};

/* A ring buffer named map, of size bytes (a power of two of pages). */
#define DEFINE_EVENTS_RINGBUF(map, size)             \
	struct {                                     \
		__uint(type, BPF_MAP_TYPE_RINGBUF);  \
		__uint(max_entries, size);           \
	} map SEC(".maps")

/* A counter array named map with max slots, and count(slot) to bump one atomically. */
#define DEFINE_COUNTERS(map, max)                                       \
	struct {                                                        \
		__uint(type, BPF_MAP_TYPE_ARRAY);                       \
		__uint(max_entries, max);                               \
		__type(key, __u32);                                     \
		__type(value, __u64);                                   \
	} map SEC(".maps");                                             \
	static __always_inline void count(__u32 slot)                   \
	{                                                               \
		__u64 *v = bpf_map_lookup_elem(&map, &slot);            \
		if (v)                                                  \
			__sync_fetch_and_add(v, 1);                     \
	}

#endif
