// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The one program on sys_enter and the one on sys_exit. Every syscall of every process on
 * the machine runs them, so each does the least it can for the processes nobody watches:
 * one bitmap test (maybe_watched, in role_of: common.bpf.h) and out. Only a watched
 * process's calls go on to io.bpf.c (byte streams) and tree.bpf.c (the server's tree),
 * with its role looked up once for both. Before, each object had its own pair: four
 * programs and four watched_pids lookups per syscall of every process.
 *
 * tp_btf, as tree.bpf.c's were: it is the same raw tracepoint and the same dispatch as
 * raw_tp, and the verifier allows the tree's spin lock only in tp_btf ("tracing progs cannot
 * use bpf_spin_lock yet" for raw_tp).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "io.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* In io.bpf.c and tree.bpf.c; bpftool gen object links the three into one object. */
extern int io_sys_enter(const struct syscall_args *a);
extern int io_sys_exit(const struct syscall_args *a);
extern int tree_sys_enter(const struct syscall_args *a);
extern int tree_sys_exit(const struct syscall_args *a);

/* Only for a watched process: its call's number and arguments, read once for both. */
static __always_inline void read_args(struct syscall_args *a, const void *regs)
{
	a->nr = SYSCALL_NR(regs);
	a->arg1 = SYSCALL_ARG1(regs);
	a->arg2 = SYSCALL_ARG2(regs);
	a->arg4 = SYSCALL_ARG4(regs);
	a->__pad = 0;
}

/* A watched process's call, on its way in (ret unused) or out: to io and the tree. */
static __always_inline int on_syscall(const void *regs, long ret, bool exit)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 role = role_of(id >> 32);
	struct syscall_args a;

	if (!role)
		return 0;
	read_args(&a, regs);
	a.id = id;
	a.role = role;
	a.ret = exit ? ret : 0;
	if (exit) {
		io_sys_exit(&a);
		tree_sys_exit(&a);
	} else {
		io_sys_enter(&a);
		tree_sys_enter(&a);
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long nr)
{
	return on_syscall(regs, 0, false);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	return on_syscall(regs, ret, true);
}
