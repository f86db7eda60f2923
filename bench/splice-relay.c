/*
 * splice-relay COMMAND [ARGS...]: the floor for any stdio proxy at all. Spawns COMMAND on
 * two pipes and moves bytes stdin -> child and child -> stdout with splice(2), so they
 * never enter user space (splice needs a pipe on one end; the child's end always is one,
 * while Node hands us sockets). One thread per direction, waiting in poll().
 * Exits with the child's code (128+N for signal N).
 * Built by the benchmark: gcc -O2 -pthread -o bench/.build/splice-relay bench/splice-relay.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK_BYTES (1 << 20)

struct direction {
	int in_fd;
	int out_fd;
	const char *name;
};

static int wait_for(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	while (poll(&p, 1, -1) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

static int readable_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

/*
 * Every fd is non-blocking and every splice is SPLICE_F_NONBLOCK: a blocking splice holds
 * the pipe's lock while it waits for the socket, which stalls the server on its own end of
 * that pipe. So wait with poll() instead: for input when there is none, for room when the
 * output is full.
 */
static void *relay_direction(void *arg)
{
	struct direction *d = arg;

	for (;;) {
		ssize_t n = splice(d->in_fd, NULL, d->out_fd, NULL, CHUNK_BYTES,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			continue;
		if (n == 0)
			break; /* EOF */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			if (errno != EPIPE && errno != ECONNRESET)
				fprintf(stderr, "splice-relay: %s: splice: %s\n", d->name, strerror(errno));
			break;
		}
		if (readable_now(d->in_fd) ? wait_for(d->out_fd, POLLOUT) : wait_for(d->in_fd, POLLIN))
			break;
	}
	close(d->out_fd); /* pass EOF on */
	return NULL;
}

int main(int argc, char **argv)
{
	int to_child[2], from_child[2];
	pid_t pid;
	pthread_t c2s, s2c;
	struct direction c2s_dir, s2c_dir;
	int status;

	if (argc < 2) {
		fprintf(stderr, "usage: splice-relay COMMAND [ARGS...]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
		fprintf(stderr, "splice-relay: pipe2: %s\n", strerror(errno));
		return 1;
	}
	fcntl(to_child[1], F_SETPIPE_SZ, CHUNK_BYTES);
	fcntl(from_child[1], F_SETPIPE_SZ, CHUNK_BYTES);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "splice-relay: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		execvp(argv[1], argv + 1);
		fprintf(stderr, "splice-relay: cannot run %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	int fds[] = { 0, 1, to_child[1], from_child[0] };
	for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++)
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);

	c2s_dir = (struct direction){ .in_fd = 0, .out_fd = to_child[1], .name = "c2s" };
	s2c_dir = (struct direction){ .in_fd = from_child[0], .out_fd = 1, .name = "s2c" };
	if (pthread_create(&c2s, NULL, relay_direction, &c2s_dir) != 0 ||
	    pthread_create(&s2c, NULL, relay_direction, &s2c_dir) != 0) {
		fprintf(stderr, "splice-relay: pthread_create failed\n");
		return 1;
	}
	pthread_detach(c2s); /* stdin may never reach EOF; the child's exit decides */
	pthread_join(s2c, NULL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return 1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}
