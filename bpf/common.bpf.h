/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What every lsptap BPF object has: the processes it watches, the events ring buffer and
 * an array of counters (drops and totals) that userspace reads with bpf_map_lookup_batch.
 * watched_pids is one map shared by the objects: the first object loaded creates it, the
 * loader hands its fd to the others (bpf_map__reuse_fd) before they load.
 */
#ifndef LSPTAP_COMMON_BPF_H
#define LSPTAP_COMMON_BPF_H

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
} watched_pids SEC(".maps");

static __always_inline __u32 role_of(__u32 tgid)
{
	__u32 *role = bpf_map_lookup_elem(&watched_pids, &tgid);

	return role ? *role : 0;
}

/* The ring buffer named events, of size bytes (a power of two of pages). */
#define DEFINE_EVENTS_RINGBUF(size)                  \
	struct {                                     \
		__uint(type, BPF_MAP_TYPE_RINGBUF);  \
		__uint(max_entries, size);           \
	} events SEC(".maps")

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
