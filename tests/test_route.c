/* SPDX-License-Identifier: MIT */
/*
 * Routes: the all-at-once table (include/evtchn/route.h).  Validation
 * follows KVM's uAPI (port 0 or beyond the maximum -EINVAL, duplicate
 * -EEXIST, deassigning an unknown entry -ENOENT); delivery follows Xen
 * (a route replaces the delivery of a send Xen would deliver).
 */
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evtchn/route.h"
#include "fixture.h"

#define F struct fx *f = *state

static uint64_t efd_count(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}


/* PORT_TO_FD: a send wakes the eventfd instead of the port's binding. */
static void port_to_fd(void **state)
{
	F;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	long s = th_bind_ipi(&f->d1, 1);
	struct evtchn_route r = { .kind = EVTCHN_ROUTE_PORT_TO_FD,
				  .port = s, .fd = efd };

	assert_int_equal(evtchn_routes_set(f->d1.d, &r, 1), 0);
	assert_int_equal(th_send(&f->d1, 0, s), 0);
	assert_int_equal(th_send(&f->d1, 0, s), 0);
	assert_int_equal(efd_count(efd), 2);
	assert_false(th_pending(&f->d1, s));
	assert_int_equal(th_upcalls(&f->d1, 1), 0);
	/* deassign: Xen's delivery again */
	r.fd = -1;
	assert_int_equal(evtchn_route_update(f->d1.d, &r), 0);
	assert_int_equal(th_send(&f->d1, 0, s), 0);
	assert_true(th_pending(&f->d1, s));
	assert_int_equal(efd_count(efd), 0);
	assert_int_equal(evtchn_route_update(f->d1.d, &r), -ENOENT);
	close(efd);
}

/* PORT_TO_PORT: loopback with separate source and target ports. */
static void port_to_port(void **state)
{
	F;
	long s = th_bind_ipi(&f->d1, 0);
	long t = th_bind_ipi(&f->d1, 3);
	struct evtchn_route r = { .kind = EVTCHN_ROUTE_PORT_TO_PORT,
				  .port = s, .target_port = t };

	assert_int_equal(evtchn_route_update(f->d1.d, &r), 0);
	assert_int_equal(th_send(&f->d1, 0, s), 0);
	assert_true(th_pending(&f->d1, t));
	assert_false(th_pending(&f->d1, s));
	assert_int_equal(th_upcalls(&f->d1, 3), 1);
	/* a target that is not bound gets nothing */
	assert_int_equal(th_close(&f->d1, t), 0);
	assert_int_equal(th_send(&f->d1, 0, s), 0);
	assert_false(th_pending(&f->d1, t));
	/* deassign by target 0 */
	r.target_port = 0;
	assert_int_equal(evtchn_route_update(f->d1.d, &r), 0);
	assert_int_equal(th_send(&f->d1, 0, s), 0);
	assert_true(th_pending(&f->d1, s));
}

/* A route does not change Xen's answers: unbound dropped, free -EINVAL. */
static void route_keeps_xen_answers(void **state)
{
	F;
	int efd = eventfd(0, EFD_NONBLOCK);
	long u = th_alloc_unbound(&f->d1, DOMID_SELF, 0);
	struct evtchn_route r[2] = {
		{ .kind = EVTCHN_ROUTE_PORT_TO_FD, .port = u, .fd = efd },
		{ .kind = EVTCHN_ROUTE_PORT_TO_FD, .port = 30, .fd = efd },
	};

	assert_int_equal(evtchn_routes_set(f->d1.d, r, 2), 0);
	assert_int_equal(th_send(&f->d1, 0, u), 0);
	assert_int_equal(th_send(&f->d1, 0, 30), -XEN_EINVAL);
	assert_int_equal(efd_count(efd), 0);
	assert_int_equal(evtchn_routes_set(f->d1.d, NULL, 0), 0);
	close(efd);
}

/* FD_TO_PORT through the VMM's loop: the epoll fd and dispatch. */
static void fd_to_port_dispatch(void **state)
{
	F;
	int efd = eventfd(0, EFD_NONBLOCK), ep;
	long t = th_bind_ipi(&f->d1, 1);
	struct evtchn_route r = { .kind = EVTCHN_ROUTE_FD_TO_PORT,
				  .port = t, .fd = efd, .vcpu = 2 };
	struct pollfd p;
	uint64_t one = 1;

	assert_int_equal(evtchn_routes_set(f->d1.d, &r, 1), 0);
	ep = evtchn_routes_fd(f->d1.d);
	assert_true(ep >= 0);
	assert_int_equal(evtchn_routes_dispatch(f->d1.d), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	p = (struct pollfd){ .fd = ep, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_int_equal(evtchn_routes_dispatch(f->d1.d), 1);
	/* raised on the route's vCPU, not the port's */
	assert_true(th_pending(&f->d1, t));
	assert_int_equal(th_upcalls(&f->d1, 2), 1);
	assert_int_equal(th_upcalls(&f->d1, 1), 0);
	close(efd);
}

/* FD_TO_PORT with the library's own I/O thread. */
static void fd_to_port_thread(void **state)
{
	F;
	int efd = eventfd(0, EFD_NONBLOCK);
	long t = th_bind_ipi(&f->d1, 0);
	struct evtchn_route r = { .kind = EVTCHN_ROUTE_FD_TO_PORT,
				  .port = t, .fd = efd, .vcpu = 0 };
	uint64_t one = 1;
	time_t end = time(NULL) + 10;

	assert_int_equal(evtchn_route_update(f->d1.d, &r), 0);
	assert_int_equal(evtchn_routes_thread_start(f->d1.d), 0);
	assert_int_equal(evtchn_routes_thread_start(f->d1.d), -EBUSY);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	while (!th_upcalls(&f->d1, 0) && time(NULL) < end)
		sched_yield(); /* bounded: reports a lost event, not a time */
	assert_int_equal(th_upcalls(&f->d1, 0), 1);
	assert_true(th_pending(&f->d1, t));
	assert_int_equal(evtchn_routes_thread_stop(f->d1.d), 0);
	assert_int_equal(evtchn_routes_thread_stop(f->d1.d), -ENOENT);
	close(efd);
}

/* Validation, as KVM's uAPI where it has a rule; a failed set changes
 * nothing. */
static void validation(void **state)
{
	F;
	int efd = eventfd(0, EFD_NONBLOCK), pipefd[2];
	int bfd = eventfd(0, 0); /* blocking */
	long s = th_bind_ipi(&f->d1, 0);
	struct evtchn_route ok = { .kind = EVTCHN_ROUTE_PORT_TO_FD,
				   .port = s, .fd = efd };
	struct evtchn_route r;
	struct evtchn_route two[2] = { ok, ok };

	assert_int_equal(pipe(pipefd), 0);
	/* a send writes it inside a read-side section: it must not block */
	r = ok, r.fd = bfd;
	assert_int_equal(evtchn_routes_set(f->d1.d, &r, 1), -EINVAL);
	assert_int_equal(evtchn_routes_set(f->d1.d, &ok, 1), 0);
	r = ok, r.port = 0;
	assert_int_equal(evtchn_route_update(f->d1.d, &r), -EINVAL);
	r = ok, r.port = 4096;
	assert_int_equal(evtchn_route_update(f->d1.d, &r), -EINVAL);
	r = ok, r.kind = 9;
	assert_int_equal(evtchn_route_update(f->d1.d, &r), -EINVAL);
	r = ok, r.fd = pipefd[0];
	assert_int_equal(evtchn_route_update(f->d1.d, &r), -EINVAL);
	r = ok, r.fd = 999;
	assert_int_equal(evtchn_route_update(f->d1.d, &r), -EBADF);
	r = (struct evtchn_route){ .kind = EVTCHN_ROUTE_FD_TO_PORT, .port = s,
				   .fd = efd, .vcpu = 4 };
	assert_int_equal(evtchn_route_update(f->d1.d, &r), -EINVAL);
	/* a watched eventfd must not block (bfd is a blocking one) */
	r.vcpu = 0;
	r.fd = bfd;
	assert_int_equal(evtchn_route_update(f->d1.d, &r), -EINVAL);
	r = (struct evtchn_route){ .kind = EVTCHN_ROUTE_PORT_TO_PORT,
				   .port = s, .target_port = 4096 };
	assert_int_equal(evtchn_route_update(f->d1.d, &r), -EINVAL);
	assert_int_equal(evtchn_routes_set(f->d1.d, two, 2), -EEXIST);
	r = (struct evtchn_route){ .kind = EVTCHN_ROUTE_FD_TO_PORT, .port = 9,
				   .fd = -1 };
	assert_int_equal(evtchn_route_update(f->d1.d, &r), -ENOENT);
	assert_int_equal(evtchn_routes_set(NULL, &ok, 1), -EINVAL);
	/* the first table is still there */
	assert_int_equal(th_send(&f->d1, 0, s), 0);
	assert_int_equal(efd_count(efd), 1);
	close(efd);
	close(bfd);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* Descriptors are owned once: 10,000 replacements and updates of a
 * 16-entry table leave the process's descriptor count unchanged. */
static void fd_count_holds(void **state)
{
	F;
	struct evtchn_route r[16];
	int efd = eventfd(0, EFD_NONBLOCK), before;

	for (int i = 0; i < 16; i++) {
		long p = th_bind_ipi(&f->d1, 0);

		r[i] = (struct evtchn_route){
			.kind = i % 2 ? EVTCHN_ROUTE_PORT_TO_FD
				      : EVTCHN_ROUTE_FD_TO_PORT,
			.port = p, .fd = efd };
	}
	assert_true(evtchn_routes_fd(f->d1.d) >= 0);
	before = th_fd_count();
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(evtchn_routes_set(f->d1.d, r, 16 - i % 3), 0);
		r[0].fd = -1;
		if (i % 3 == 0)
			assert_int_equal(evtchn_route_update(f->d1.d, &r[0]), 0);
		r[0].fd = efd;
	}
	assert_int_equal(evtchn_routes_set(f->d1.d, NULL, 0), 0);
	assert_int_equal(th_fd_count(), before);
	close(efd);
}

/* Send @fd over @sock with SCM_RIGHTS. */
static void send_fd(int sock, int fd)
{
	char byte = 0, ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	assert_int_equal(sendmsg(sock, &m, 0), 1);
}

static int recv_fd(int sock)
{
	char byte, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &m, 0) != 1 || !(c = CMSG_FIRSTHDR(&m)))
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

#define ROUNDS 2000

static void count_event(uint32_t vcpu, uint32_t port, void *opaque)
{
	(void)vcpu;
	(void)port;
	(*(unsigned *)opaque)++;
}

/* The backend process: each kick from the guest is answered with one. */
static int backend_process(int sock)
{
	int in = recv_fd(sock), out = recv_fd(sock);
	unsigned seen = 0;

	if (in < 0 || out < 0)
		return 2;
	while (seen < ROUNDS) {
		struct pollfd p = { .fd = in, .events = POLLIN };
		uint64_t v;

		if (poll(&p, 1, 10000) != 1)
			return 3; /* no kick for 10 s: lost */
		if (read(in, &v, sizeof(v)) != sizeof(v))
			continue;
		seen += v;
		/* a slow backend now and then */
		if (seen % 256 == 0)
			for (volatile int i = 0; i < 100000; i++)
				;
		if (write(out, &v, sizeof(v)) != sizeof(v))
			return 4;
	}
	return seen == ROUNDS ? 0 : 5;
}

/* A backend in another process: it gets its eventfds over a UNIX socket
 * (SCM_RIGHTS); guest -> backend through PORT_TO_FD, backend -> guest
 * through FD_TO_PORT and the library's I/O thread; nothing lost. */
static void backend_in_another_process(void **state)
{
	F;
	int sv[2], status, kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int answer = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	long s = th_bind_ipi(&f->d1, 0), t = th_bind_ipi(&f->d1, 1);
	struct evtchn_route r[2] = {
		{ .kind = EVTCHN_ROUTE_PORT_TO_FD, .port = s, .fd = kick },
		{ .kind = EVTCHN_ROUTE_FD_TO_PORT, .port = t, .fd = answer,
		  .vcpu = 1 },
	};
	unsigned answers = 0;
	pid_t pid;

	evtchn_guest_bind_port(&f->d1.g, t, 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(backend_process(sv[1]));
	}
	close(sv[1]);
	send_fd(sv[0], kick);
	send_fd(sv[0], answer);
	assert_int_equal(evtchn_routes_set(f->d1.d, r, 2), 0);
	assert_int_equal(evtchn_routes_thread_start(f->d1.d), 0);
	for (unsigned i = 0; i < ROUNDS; i++) {
		time_t end = time(NULL) + 10;

		assert_int_equal(th_send(&f->d1, 0, s), 0);
		/* wait for the answer's upcall on vCPU 1 (the upcall comes
		 * after the event's pending and selector bits) */
		while (th_upcalls(&f->d1, 1) == i && time(NULL) < end)
			sched_yield();
		if (th_upcalls(&f->d1, 1) == i)
			fail_msg("round %u: no answer in 10 s", i);
		evtchn_guest_upcall(&f->d1.g, 1, count_event, &answers);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(answers, ROUNDS);
	assert_int_equal(evtchn_routes_thread_stop(f->d1.d), 0);
	close(sv[0]);
	close(kick);
	close(answer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(port_to_fd),
		FX_TEST(port_to_port),
		FX_TEST(route_keeps_xen_answers),
		FX_TEST(fd_to_port_dispatch),
		FX_TEST(fd_to_port_thread),
		FX_TEST(validation),
		FX_TEST(fd_count_holds),
		FX_TEST(backend_in_another_process),
	};

	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
