/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Maps every lsptap BPF object has: the events ring buffer and an array of counters
 * (drops and totals) that userspace reads with bpf_map_lookup_batch. Each object gets its
 * own copies; the macros keep their definitions in one place.
 */
#ifndef LSPTAP_COMMON_BPF_H
#define LSPTAP_COMMON_BPF_H

#define DEFINE_EVENTS_RINGBUF()                      \
	struct {                                     \
		__uint(type, BPF_MAP_TYPE_RINGBUF);  \
		__uint(max_entries, 1 << 20);        \
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
