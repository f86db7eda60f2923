/* Syscall numbers the BPF programs test (io.bpf.c, tree.bpf.c, profile.bpf.c), per architecture; -1 where
 * an architecture has no such call (arm64's generic table has no open, poll, pipe...). From
 * the kernel's syscall tables (arch/x86/entry/syscalls/syscall_64.tbl,
 * include/uapi/asm-generic/unistd.h), written out so the programs need no kernel headers. */
#ifndef LSPTAP_SYSCALL_NR_H
#define LSPTAP_SYSCALL_NR_H

#if defined(__TARGET_ARCH_x86)
#define NR_READ 0
#define NR_WRITE 1
#define NR_OPEN 2
#define NR_CLOSE 3
#define NR_POLL 7
#define NR_PREAD64 17
#define NR_READV 19
#define NR_WRITEV 20
#define NR_PIPE 22
#define NR_SELECT 23
#define NR_DUP 32
#define NR_DUP2 33
#define NR_NANOSLEEP 35
#define NR_SOCKET 41
#define NR_CONNECT 42
#define NR_ACCEPT 43
#define NR_RECVFROM 45
#define NR_SENDMSG 46
#define NR_RECVMSG 47
#define NR_SOCKETPAIR 53
#define NR_WAIT4 61
#define NR_FLOCK 73
#define NR_SENDTO 44
#define NR_PWRITE64 18
#define NR_FCNTL 72
#define NR_CREAT 85
#define NR_FUTEX 202
#define NR_CLOCK_NANOSLEEP 230
#define NR_EPOLL_WAIT 232
#define NR_WAITID 247
#define NR_OPENAT 257
#define NR_PSELECT6 270
#define NR_PPOLL 271
#define NR_EPOLL_PWAIT 281
#define NR_TIMERFD_CREATE 283
#define NR_ACCEPT4 288
#define NR_SIGNALFD4 289
#define NR_EVENTFD2 290
#define NR_EPOLL_CREATE1 291
#define NR_DUP3 292
#define NR_PIPE2 293
#define NR_INOTIFY_INIT1 294
#define NR_PREADV 295
#define NR_PREADV2 327
#define NR_MEMFD_CREATE 319
#define NR_PIDFD_OPEN 434
#define NR_OPENAT2 437
#define NR_EPOLL_PWAIT2 441
#define NR_SCHED_YIELD 24
#define NR_PAUSE 34
#define NR_RT_SIGSUSPEND 130
#elif defined(__TARGET_ARCH_arm64)
#define NR_READ 63
#define NR_WRITE 64
#define NR_OPEN -1
#define NR_CLOSE 57
#define NR_POLL -1
#define NR_PREAD64 67
#define NR_READV 65
#define NR_WRITEV 66
#define NR_PIPE -1
#define NR_SELECT -1
#define NR_DUP 23
#define NR_DUP2 -1
#define NR_NANOSLEEP 101
#define NR_SOCKET 198
#define NR_CONNECT 203
#define NR_ACCEPT 202
#define NR_RECVFROM 207
#define NR_SENDMSG 211
#define NR_RECVMSG 212
#define NR_SOCKETPAIR 199
#define NR_WAIT4 260
#define NR_FLOCK 32
#define NR_SENDTO 206
#define NR_PWRITE64 68
#define NR_FCNTL 25
#define NR_CREAT -1
#define NR_FUTEX 98
#define NR_CLOCK_NANOSLEEP 115
#define NR_EPOLL_WAIT -1
#define NR_WAITID 95
#define NR_OPENAT 56
#define NR_PSELECT6 72
#define NR_PPOLL 73
#define NR_EPOLL_PWAIT 22
#define NR_TIMERFD_CREATE 85
#define NR_ACCEPT4 242
#define NR_SIGNALFD4 74
#define NR_EVENTFD2 19
#define NR_EPOLL_CREATE1 20
#define NR_DUP3 24
#define NR_PIPE2 59
#define NR_INOTIFY_INIT1 26
#define NR_PREADV 69
#define NR_PREADV2 286
#define NR_MEMFD_CREATE 279
#define NR_PIDFD_OPEN 434
#define NR_OPENAT2 437
#define NR_EPOLL_PWAIT2 441
#define NR_SCHED_YIELD 124
#define NR_PAUSE -1
#define NR_RT_SIGSUSPEND 133
#else
#error "syscall-nr.h: syscall numbers for this architecture are missing"
#endif

#endif /* LSPTAP_SYSCALL_NR_H */
