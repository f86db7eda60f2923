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

/* tgid -> enum watched_role. Room for the server's children: gopls runs go list, which
 * runs compile, asm, link, cgo, several at once. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} watched_pids SEC(".maps") __weak;

/* (pid, fd) -> 1: the fds that carry the session's bytes (lsptap's stdin/stdout and its
 * ends of the server's pipes, the server's stdin/stdout, the editor's ends). io.bpf.c
 * traces their reads and writes; tree.bpf.c snapshots its totals at the server's. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct io_fd_key);
	__type(value, __u32);
} watched_fds SEC(".maps") __weak;

static __always_inline __u32 role_of(__u32 tgid)
{
	__u32 *role = bpf_map_lookup_elem(&watched_pids, &tgid);

	return role ? *role : 0;
}

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
