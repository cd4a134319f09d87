/* SPDX-License-Identifier: MIT */
/* The debug socket (src/debug.c) and its client, evtchn-dump: requests,
 * hostile clients, argument errors, and cleanup. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

#define F struct fx *f = *state

static char sock_path[64];

static int setup(void **state)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/evtchn-debug-%d.sock",
		 (int)getpid());
	unlink(sock_path);
	return fx_setup(state);
}

/* One request over a raw connection; the answer, malloc'd. */
static char *ask(const char *req, bool send_it)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char buf[1 << 16];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, sock_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (send_it)
		assert_true(write(fd, req, strlen(req)) > 0);
	else
		shutdown(fd, SHUT_WR); /* says nothing, then hangs up */
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fd);
	return strdup(buf);
}

/* Run evtchn-dump with @args; its output in @out, its exit status back. */
static int run_tool(const char *args, char *out, size_t size)
{
	char cmd[512];
	FILE *p;
	size_t len;
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", getenv("EVTCHN_DUMP_TOOL"),
		 args);
	p = popen(cmd, "r");
	assert_non_null(p);
	len = fread(out, 1, size - 1, p);
	out[len] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void start_rules(void **state)
{
	F;
	char longpath[200];

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	assert_int_equal(evtchn_host_debug_start(f->h, NULL), -EINVAL);
	assert_int_equal(evtchn_host_debug_start(f->h, ""), -EINVAL);
	assert_int_equal(evtchn_host_debug_start(f->h, longpath), -EINVAL);
	assert_int_equal(evtchn_host_debug_start(f->h, "/nonexistent/dir/s"),
			 -ENOENT);
	assert_int_equal(evtchn_host_debug_stop(f->h), 0); /* not started */
	assert_int_equal(evtchn_host_debug_start(f->h, sock_path), 0);
	assert_int_equal(evtchn_host_debug_start(f->h, sock_path), -EBUSY);
	/* Only its owner may connect. */
	struct stat st;

	assert_int_equal(stat(sock_path, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);
	assert_int_equal(evtchn_host_debug_stop(f->h), 0);
	assert_int_equal(access(sock_path, F_OK), -1);
	/* A second start after a stop works. */
	assert_int_equal(evtchn_host_debug_start(f->h, sock_path), 0);
	assert_int_equal(evtchn_host_debug_stop(f->h), 0);
}

static void requests(void **state)
{
	F;
	char *a;
	long ipi;

	ipi = th_bind_ipi(&f->d1, 3);
	assert_true(ipi > 0);
	assert_int_equal(th_bind_virq(&f->d2, VIRQ_TIMER, 1), 1);
	assert_int_equal(evtchn_host_debug_start(f->h, sock_path), 0);

	a = ask("list\n", true);
	assert_non_null(strstr(a, "domain 0: 1 vCPUs"));
	assert_non_null(strstr(a, "domain 1: 4 vCPUs, 2-level ABI"));
	assert_non_null(strstr(a, "domain 2: 2 vCPUs"));
	free(a);
	a = ask("dump 1\n", true);
	assert_non_null(strstr(a, "domain 1 "));
	assert_non_null(strstr(a, "ipi"));
	assert_non_null(strstr(a, "vcpu 3"));
	free(a);
	a = ask("dump 0x2\n", true);
	assert_non_null(strstr(a, "virq 0"));
	free(a);
	/* Hostile requests: an answer saying what was wrong, nothing else. */
	a = ask("dump 7\n", true);
	assert_string_equal(a, "error: no domain 7\n");
	free(a);
	a = ask("dump 1x\n", true);
	assert_non_null(strstr(a, "error: no domain"));
	free(a);
	a = ask("dump 99999999999999999999\n", true);
	assert_non_null(strstr(a, "error: no domain"));
	free(a);
	a = ask("reboot\n", true);
	assert_non_null(strstr(a, "error: unknown request"));
	free(a);
	a = ask("", false);
	assert_non_null(strstr(a, "error: unknown request"));
	free(a);
	/* Still serving after all that. */
	a = ask("list\n", true);
	assert_non_null(strstr(a, "domain 2"));
	free(a);
	assert_int_equal(evtchn_host_debug_stop(f->h), 0);
}

static void tool(void **state)
{
	F;
	char out[1 << 15], args[128];

	assert_true(th_bind_ipi(&f->d1, 2) > 0);
	assert_int_equal(evtchn_host_debug_start(f->h, sock_path), 0);

	snprintf(args, sizeof(args), "-s %s 1", sock_path);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "domain 1 "));
	assert_non_null(strstr(out, "ipi"));
	/* Every domain by default */
	snprintf(args, sizeof(args), "--socket %s", sock_path);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "domain 0 "));
	assert_non_null(strstr(out, "domain 2 "));
	snprintf(args, sizeof(args), "-s %s --list", sock_path);
	assert_int_equal(run_tool(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "domain 1: 4 vCPUs"));
	/* A domain that is not there: its error, status 1. */
	snprintf(args, sizeof(args), "-s %s 9", sock_path);
	assert_int_equal(run_tool(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "error: no domain 9"));
	/* Nonsense: a message and status 2. */
	snprintf(args, sizeof(args), "-s %s banana", sock_path);
	assert_int_equal(run_tool(args, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "bad domain id"));
	assert_int_equal(run_tool("--bogus", out, sizeof(out)), 2);
	assert_int_equal(run_tool("1", out, sizeof(out)), 2); /* no socket */
	assert_int_equal(evtchn_host_debug_stop(f->h), 0);
	/* Nobody listening: status 1. */
	snprintf(args, sizeof(args), "-s %s 1", sock_path);
	assert_int_equal(run_tool(args, out, sizeof(out)), 1);
}

/* A client that connects and then says nothing, or stops reading, holds
 * nothing up: evtchn_host_debug_stop() returns at once (the suite's
 * timeout would catch a hang). */
static void stalled_clients(void **state)
{
	F;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int silent = socket(AF_UNIX, SOCK_STREAM, 0);
	int deaf = socket(AF_UNIX, SOCK_STREAM, 0);

	for (int i = 0; i < 2000; i++)
		assert_true(th_bind_ipi(&f->d1, (uint32_t)i % 4) > 0);
	assert_int_equal(evtchn_host_debug_start(f->h, sock_path), 0);
	strcpy(sa.sun_path, sock_path);
	assert_int_equal(connect(silent, (struct sockaddr *)&sa, sizeof(sa)),
			 0);
	assert_int_equal(connect(deaf, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(deaf, "dump 1\n", 7), 7);
	assert_int_equal(evtchn_host_debug_stop(f->h), 0);
	close(silent);
	close(deaf);
}

/* Another user cannot connect (the socket is 0600). */
static void other_users_refused(void **state)
{
	F;
	pid_t pid;
	int st;

	if (geteuid() != 0)
		skip(); /* needs a second uid */
	assert_int_equal(evtchn_host_debug_start(f->h, sock_path), 0);
	pid = fork();
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		strcpy(sa.sun_path, sock_path);
		if (setuid(65534))
			_exit(2);
		_exit(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 &&
				      errno == EACCES
			      ? 0
			      : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(evtchn_host_debug_stop(f->h), 0);
}

/* evtchn_host_destroy() stops the server and removes the socket. */
static void destroy_cleans_up(void **state)
{
	struct evtchn_host *h;

	(void)state;
	assert_int_equal(evtchn_host_create(&h), 0);
	assert_int_equal(evtchn_host_debug_start(h, sock_path), 0);
	assert_int_equal(evtchn_host_destroy(h), 0);
	assert_int_equal(access(sock_path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(start_rules, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(requests, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(tool, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(stalled_clients, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(other_users_refused, setup,
						fx_teardown),
		cmocka_unit_test(destroy_cleans_up),
	};

	return cmocka_run_group_tests_name("debug", tests, NULL, NULL);
}
