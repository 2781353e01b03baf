/* Latency of the operations a policy checks: open+close of a file, a loopback TCP
 * connect (to a listener in the same process, accepted and closed), and fork+exec of
 * /bin/true with wait. Prints one line per operation: "OP N ns_per_op".
 * Usage: oplat N_OPEN N_CONNECT N_EXEC */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: oplat N_OPEN N_CONNECT N_EXEC\n");
		return 2;
	}
	long n_open = atol(argv[1]), n_conn = atol(argv[2]), n_exec = atol(argv[3]);
	long long t0 = now();
	for (long i = 0; i < n_open; i++) {
		int fd = open("/etc/hostname", O_RDONLY);
		if (fd < 0) { perror("open"); return 1; }
		close(fd);
	}
	long long t1 = now();
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (void *)&a, sizeof(a)) || listen(l, 128) || getsockname(l, (void *)&a, &al)) {
		perror("listen");
		return 1;
	}
	long long t2 = now();
	for (long i = 0; i < n_conn; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (void *)&a, sizeof(a))) { perror("connect"); return 1; }
		int s = accept(l, NULL, NULL);
		close(c);
		close(s);
	}
	long long t3 = now();
	for (long i = 0; i < n_exec; i++) {
		pid_t p = fork();
		if (p == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		int st;
		waitpid(p, &st, 0);
	}
	long long t4 = now();
	printf("open %ld %lld\n", n_open, n_open ? (t1 - t0) / n_open : 0);
	printf("connect %ld %lld\n", n_conn, n_conn ? (t3 - t2) / n_conn : 0);
	printf("exec %ld %lld\n", n_exec, n_exec ? (t4 - t3) / n_exec : 0);
	return 0;
}
