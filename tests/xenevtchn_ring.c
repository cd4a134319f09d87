/* SPDX-License-Identifier: MIT */
/*
 * A backend written only against Debian's <xenevtchn.h>, run unchanged on
 * libevtchn-xenevtchn: a frontend and a backend thread in domain 0 share a
 * request/response ring and notify each other over an interdomain loopback
 * channel, as a split driver does across domains in a Xen dom0.
 *
 * Xen's rule checked on the way: bind_interdomain raises an event on the
 * new local port.  Exit status 0 on success; prints "N passed, N failed".
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <xenevtchn.h>

#define ROUNDS 20000
#define RING 16

struct ring {
	_Atomic unsigned req_prod, rsp_prod;
	unsigned req[RING], rsp[RING];
};

static struct ring ring;
static int failures;

#define CHECK(c, ...)                                                  \
	do {                                                           \
		if (!(c)) {                                            \
			fprintf(stderr, "xenevtchn_ring: " __VA_ARGS__); \
			fprintf(stderr, "\n");                         \
			failures++;                                    \
		}                                                      \
	} while (0)

/* Wait for an event on @port of @h, then unmask it. */
static int wait_event(xenevtchn_handle *h, evtchn_port_t port)
{
	struct pollfd p = { .fd = xenevtchn_fd(h), .events = POLLIN };

	for (;;) {
		xenevtchn_port_or_error_t got = xenevtchn_pending(h);

		if (got >= 0) {
			if ((evtchn_port_t)got != port)
				return -1;
			return xenevtchn_unmask(h, port);
		}
		if (errno != EAGAIN)
			return -1;
		if (poll(&p, 1, 10000) != 1)
			return -1; /* 10 s without an event: lost */
	}
}

struct end {
	xenevtchn_handle *h;
	evtchn_port_t port;
};

static void *backend(void *arg)
{
	struct end *be = arg;

	for (unsigned i = 0; i < ROUNDS; i++) {
		while (atomic_load(&ring.req_prod) == i)
			if (wait_event(be->h, be->port)) {
				CHECK(0, "backend: no request %u", i);
				return NULL;
			}
		ring.rsp[i % RING] = ring.req[i % RING] * 2;
		atomic_store(&ring.rsp_prod, i + 1);
		CHECK(xenevtchn_notify(be->h, be->port) == 0, "notify");
	}
	return NULL;
}

int main(void)
{
	xenevtchn_handle *fh = xenevtchn_open(NULL, 0);
	xenevtchn_handle *bh = xenevtchn_open(NULL, 0);
	struct end be, fe;
	pthread_t t;
	unsigned i;

	if (!fh || !bh) {
		perror("xenevtchn_open");
		return 1;
	}
	/* The backend offers a port to domain 0; the frontend binds it. */
	be.h = bh;
	be.port = xenevtchn_bind_unbound_port(bh, 0);
	CHECK(be.port > 0, "bind_unbound_port: %d", (int)be.port);
	fe.h = fh;
	fe.port = xenevtchn_bind_interdomain(fh, 0, be.port);
	CHECK(fe.port > 0 && fe.port != be.port, "bind_interdomain");
	/* Xen raised an event on the new local port. */
	CHECK(xenevtchn_pending(fh) == (int)fe.port, "no event at bind");
	CHECK(xenevtchn_pending(fh) == -1 && errno == EAGAIN, "twice");
	CHECK(xenevtchn_unmask(fh, fe.port) == 0, "unmask");
	CHECK(xenevtchn_pending(bh) == -1 && errno == EAGAIN,
	      "backend saw the bind");
	/* Errors as libxenevtchn reports them. */
	CHECK(xenevtchn_notify(fh, 4000) == -1 && errno == ENOTCONN,
	      "notify unbound");
	CHECK(xenevtchn_bind_interdomain(fh, 0, be.port) == -1 &&
		      errno == EINVAL, "bind twice");
	CHECK(xenevtchn_bind_interdomain(fh, 5, 1) == -1 && errno == ESRCH,
	      "no such domain");
	CHECK(xenevtchn_fdopen(NULL, xenevtchn_fd(fh), 0) == NULL, "fdopen");
	if (failures)
		goto out;

	pthread_create(&t, NULL, backend, &be);
	for (i = 0; i < ROUNDS; i++) {
		ring.req[i % RING] = i;
		atomic_store(&ring.req_prod, i + 1);
		CHECK(xenevtchn_notify(fh, fe.port) == 0, "notify");
		while (atomic_load(&ring.rsp_prod) == i)
			if (wait_event(fh, fe.port)) {
				CHECK(0, "frontend: no response %u", i);
				break;
			}
		if (failures)
			break;
		CHECK(ring.rsp[i % RING] == i * 2, "response %u", i);
	}
	pthread_join(t, NULL);
	CHECK(xenevtchn_unbind(fh, fe.port) == 0, "unbind");
	CHECK(xenevtchn_unbind(fh, fe.port) == -1 && errno == ENOTCONN,
	      "unbind twice");
out:
	xenevtchn_close(fh);
	xenevtchn_close(bh);
	printf("xenevtchn_ring: %d passed, %d failed\n", failures ? 0 : 1,
	       failures ? 1 : 0);
	return failures ? 1 : 0;
}
