/* Event generator for recorder/bench/overhead.sh: fixed, repeatable syscall workloads.
 *
 *   gen signals N [RATE [PROCS]]
 *                         N kill(self, SIGURG) calls (ignored signal): one signal record
 *                         each; RATE per second in all if given (busy-wait pacing), else
 *                         flat out; split over PROCS forked processes (default 1), each
 *                         doing N/PROCS at RATE/PROCS, so that more than one core generates
 *   gen mixed N           N iterations of: open+read+close of /etc/hostname, a loopback
 *                         TCP connect/accept/send/close pair; every 50th iteration a
 *                         fork+exec of /bin/true
 * Prints "elapsed_ns=<ns> ops=<n>" on stdout, measured inside the workload only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: gen signals N [RATE [PROCS]] | gen mixed N\n");
		return 2;
	}
	long n = atol(argv[2]);
	signal(SIGURG, SIG_IGN);
	long long t0 = now_ns();
	if (!strcmp(argv[1], "signals")) {
		double rate = argc > 3 ? atof(argv[3]) : 0;
		int procs = argc > 4 ? atoi(argv[4]) : 1;
		if (procs < 1)
			procs = 1;
		for (int p = 0; p < procs; p++) {
			if (procs > 1 && fork() != 0)
				continue;
			long mine = n / procs + (p < n % procs);
			double r = rate / procs;
			pid_t me = getpid();
			for (long i = 0; i < mine; i++) {
				if (r > 0) {
					long long due = t0 + (long long)(i * 1e9 / r);
					while (now_ns() < due)
						;
				}
				kill(me, SIGURG);
			}
			if (procs > 1)
				_exit(0);
		}
		while (procs > 1 && wait(NULL) > 0)
			;
	} else if (!strcmp(argv[1], "mixed")) {
		int ls = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t al = sizeof(a);
		int one = 1;
		char buf[256];
		setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 64) ||
		    getsockname(ls, (struct sockaddr *)&a, &al)) {
			perror("listen");
			return 1;
		}
		for (long i = 0; i < n; i++) {
			int fd = open("/etc/hostname", O_RDONLY);
			if (fd >= 0) {
				if (read(fd, buf, sizeof(buf)) < 0)
					perror("read");
				close(fd);
			}
			int c = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(c, (struct sockaddr *)&a, sizeof(a)) == 0) {
				int s = accept(ls, NULL, NULL);
				if (write(c, "ping", 4) < 0 || read(s, buf, 4) < 0)
					perror("io");
				close(s);
			}
			close(c);
			if (i % 50 == 0) {
				pid_t p = fork();
				if (p == 0) {
					execl("/bin/true", "true", (char *)NULL);
					_exit(127);
				}
				waitpid(p, NULL, 0);
			}
		}
		close(ls);
	} else {
		fprintf(stderr, "unknown workload %s\n", argv[1]);
		return 2;
	}
	printf("elapsed_ns=%lld ops=%ld\n", now_ns() - t0, n);
	return 0;
}
