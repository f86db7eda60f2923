// An unwatched process's syscalls: `syscall-loop BATCHES` times BATCHES batches of 256 dd-like
// pairs (a one-byte read of /dev/zero, a one-byte write to /dev/null), as many of 512
// getppid() calls, and as many of 64 round trips of a byte between it and a child over two
// pipes (each a wakeup and, on one CPU, a context switch each way), by the monotonic clock,
// and prints the fastest batch of each as JSON: ns per syscall, ns per round trip. The fastest batch is the one nothing else interrupted (no preemption, no
// interrupt, no steal by the host): on a loaded machine, the machine's noise only ever adds,
// so the minimum is what the syscall itself costs.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define PAIRS 256
#define CALLS 512
#define TRIPS 64

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long batches = argc > 1 ? atol(argv[1]) : 2000, b, i;
	int in = open("/dev/zero", O_RDONLY), out = open("/dev/null", O_WRONLY);
	double rw = 1e30, pp = 1e30, pong = 1e30, t;
	int there[2], back[2];
	pid_t child;
	char c;

	if (in < 0 || out < 0 || batches <= 0) {
		fprintf(stderr, "usage: syscall-loop BATCHES (needs /dev/zero and /dev/null)\n");
		return 2;
	}
	for (b = 0; b < batches; b++) {
		t = now_ns();
		for (i = 0; i < PAIRS; i++) {
			if (read(in, &c, 1) != 1 || write(out, &c, 1) != 1)
				return 1;
		}
		t = now_ns() - t;
		if (t < rw)
			rw = t;
		t = now_ns();
		for (i = 0; i < CALLS; i++)
			getppid();
		t = now_ns() - t;
		if (t < pp)
			pp = t;
	}
	if (pipe(there) || pipe(back))
		return 1;
	child = fork();
	if (child == 0) {
		close(there[1]);
		close(back[0]);
		while (read(there[0], &c, 1) == 1)
			if (write(back[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(there[0]);
	close(back[1]);
	for (b = 0; b < batches; b++) {
		t = now_ns();
		for (i = 0; i < TRIPS; i++) {
			if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
				return 1;
		}
		t = now_ns() - t;
		if (t < pong)
			pong = t;
	}
	close(there[1]);
	waitpid(child, NULL, 0);
	printf("{\"readWriteNs\":%.2f,\"getppidNs\":%.2f,\"pingPongNs\":%.2f}\n", rw / (2.0 * PAIRS), pp / CALLS, pong / TRIPS);
	return 0;
}
