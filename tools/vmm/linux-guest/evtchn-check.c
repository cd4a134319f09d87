/* SPDX-License-Identifier: MIT */
/*
 * Event channels from a Linux guest's userspace, through Linux's own
 * /dev/xen/evtchn (the xen-evtchn module) and Debian's libxenevtchn,
 * written against <xenevtchn.h> alone: loopback channels in the guest's
 * own domain, notify both ways, masking, unbind, a VIRQ the VMM raises,
 * and many ports at once.  Each check prints "ok N - ..." or
 * "FAIL N - ...: why"; the exit status is the number of failures.
 *
 *   evtchn-check [--ports N] [--virq-port P] [--checkpoint-port P]
 *
 * --ports N: also hold N loopback ports open at once (0: skip).
 * --virq-port P: the VMM raises a VIRQ (VIRQ_ARCH_0) on an outb to I/O
 * port P (evtchn-vmm: 0x514).
 * --checkpoint-port P: a channel opened before an outb to I/O port P
 * (evtchn-vmm: 0x513, where --save stops the guest and --restore carries
 * on in a new VMM) must work after it, and the monotonic clock must not
 * have gone back.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <time.h>

#include <xenevtchn.h>
#include <xen/xen.h>

#define WAIT_MS 5000

static int nr, failed;

static void result(int ok, const char *what, const char *fmt, ...)
{
	va_list ap;

	nr++;
	if (ok) {
		printf("ok %d - %s\n", nr, what);
	} else {
		failed++;
		printf("FAIL %d - %s: ", nr, what);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

/* The next port the device reports within @ms, or -1 (none).  The
 * descriptor blocks: xenevtchn_pending() is called once poll() says a
 * port is there. */
static int next_port(xenevtchn_handle *xce, int ms)
{
	struct pollfd p = { .fd = xenevtchn_fd(xce), .events = POLLIN };

	if (poll(&p, 1, ms) <= 0)
		return -1;
	return xenevtchn_pending(xce);
}

/* @port reported next, then unmasked. */
static int expect(xenevtchn_handle *xce, evtchn_port_t port)
{
	int got = next_port(xce, WAIT_MS);

	if (got >= 0)
		xenevtchn_unmask(xce, (evtchn_port_t)got);
	return got == (int)port ? 0 : got;
}

static void loopback(xenevtchn_handle *xce)
{
	const char *what = "loopback channel (DOMID_SELF): notify both ways";
	xenevtchn_port_or_error_t a = xenevtchn_bind_unbound_port(xce, DOMID_SELF);
	xenevtchn_port_or_error_t b =
		a < 0 ? -1 : xenevtchn_bind_interdomain(xce, DOMID_SELF, a);
	int got;

	if (a < 0 || b < 0) {
		result(0, what, "bind: %s", strerror(errno));
		return;
	}
	/* the bind raised an event on the new end: take it */
	got = next_port(xce, 200);
	if (got >= 0)
		xenevtchn_unmask(xce, (evtchn_port_t)got);
	if (xenevtchn_notify(xce, a) || (got = expect(xce, b))) {
		result(0, what, "a -> b: got %d", got);
	} else if (xenevtchn_notify(xce, b) || (got = expect(xce, a))) {
		result(0, what, "b -> a: got %d", got);
	} else {
		result(1, what, NULL);
	}

	what = "masked until unmasked: one report for two notifies";
	xenevtchn_notify(xce, a);
	got = next_port(xce, WAIT_MS);
	if (got != b) {
		result(0, what, "first notify: got %d", got);
	} else {
		/* not unmasked: the second notify is remembered, unreported */
		xenevtchn_notify(xce, a);
		got = next_port(xce, 300);
		xenevtchn_unmask(xce, b);
		if (got >= 0)
			result(0, what, "reported while masked: %d", got);
		else if ((got = expect(xce, b)))
			result(0, what, "after unmask: got %d", got);
		else
			result(1, what, NULL);
	}

	what = "unbind: the other end's notify reaches nothing";
	if (xenevtchn_unbind(xce, a)) {
		result(0, what, "unbind: %s", strerror(errno));
	} else {
		xenevtchn_notify(xce, b);
		got = next_port(xce, 300);
		result(got < 0, what, "port %d reported", got);
	}
	xenevtchn_unbind(xce, b);
}

static void virq(xenevtchn_handle *xce, int io_port)
{
	const char *what = "VIRQ raised by the hypervisor reaches its port";
	xenevtchn_port_or_error_t p;
	int got;

	if (io_port <= 0)
		return;
	p = xenevtchn_bind_virq(xce, VIRQ_ARCH_0);
	if (p < 0) {
		result(0, what, "bind_virq: %s", strerror(errno));
		return;
	}
	if (ioperm((unsigned long)io_port, 1, 1)) {
		result(0, what, "ioperm: %s", strerror(errno));
	} else {
		outb(VIRQ_ARCH_0, (unsigned short)io_port);
		got = expect(xce, (evtchn_port_t)p);
		result(!got, what, "got %d", got);
	}
	xenevtchn_unbind(xce, (evtchn_port_t)p);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void across_checkpoint(xenevtchn_handle *xce, int io_port)
{
	const char *what = "a channel opened before the checkpoint works after it";
	xenevtchn_port_or_error_t a = xenevtchn_bind_unbound_port(xce, DOMID_SELF);
	xenevtchn_port_or_error_t b =
		a < 0 ? -1 : xenevtchn_bind_interdomain(xce, DOMID_SELF, a);
	long long t0, t1;
	int got;

	if (io_port <= 0)
		return;
	if (a < 0 || b < 0 || ioperm((unsigned long)io_port, 1, 1)) {
		result(0, what, "bind or ioperm: %s", strerror(errno));
		return;
	}
	got = next_port(xce, 200);
	if (got >= 0)
		xenevtchn_unmask(xce, (evtchn_port_t)got);
	if (xenevtchn_notify(xce, a) || (got = expect(xce, b))) {
		result(0, what, "before: got %d", got);
		goto out;
	}
	t0 = now_ns();
	outb(1, (unsigned short)io_port);
	t1 = now_ns();
	if (t1 < t0)
		result(0, what, "the clock went back %lld ns", t0 - t1);
	else if (xenevtchn_notify(xce, a) || (got = expect(xce, b)))
		result(0, what, "after, a -> b: got %d", got);
	else if (xenevtchn_notify(xce, b) || (got = expect(xce, a)))
		result(0, what, "after, b -> a: got %d", got);
	else
		result(1, what, NULL);
out:
	xenevtchn_unbind(xce, a);
	xenevtchn_unbind(xce, b);
}

/* @n loopback ports open at once (n / 2 pairs), every pair notified
 * once and reported. */
static void many(xenevtchn_handle *xce, int n)
{
	char what[96];
	int pairs = n / 2, bound = 0, seen = 0, got;
	evtchn_port_t *a = calloc((size_t)pairs, sizeof(*a));
	evtchn_port_t *b = calloc((size_t)pairs, sizeof(*b));
	unsigned char *hit = calloc(131072, 1);

	snprintf(what, sizeof(what), "%d loopback ports open at once, each "
		 "pair notified", pairs * 2);
	if (!a || !b || !hit) {
		result(0, what, "out of memory");
		goto out;
	}
	for (; bound < pairs; bound++) {
		xenevtchn_port_or_error_t x =
			xenevtchn_bind_unbound_port(xce, DOMID_SELF);
		xenevtchn_port_or_error_t y =
			x < 0 ? -1 : xenevtchn_bind_interdomain(xce, DOMID_SELF, x);

		if (x < 0 || y < 0) {
			if (x >= 0)
				xenevtchn_unbind(xce, x);
			break;
		}
		a[bound] = x;
		b[bound] = y;
	}
	/* the binds' own events */
	while ((got = next_port(xce, 200)) >= 0)
		xenevtchn_unmask(xce, (evtchn_port_t)got);
	if (bound < pairs) {
		result(0, what, "bind %d: %s", bound * 2, strerror(errno));
		goto unbind;
	}
	for (int i = 0; i < pairs; i++)
		xenevtchn_notify(xce, a[i]);
	while (seen < pairs && (got = next_port(xce, WAIT_MS)) >= 0) {
		if (got < 131072 && !hit[got]) {
			hit[got] = 1;
			seen++;
		}
		xenevtchn_unmask(xce, (evtchn_port_t)got);
	}
	result(seen == pairs, what, "%d of %d reported", seen, pairs);
unbind:
	for (int i = 0; i < bound; i++) {
		xenevtchn_unbind(xce, a[i]);
		xenevtchn_unbind(xce, b[i]);
	}
out:
	free(a);
	free(b);
	free(hit);
}

int main(int argc, char **argv)
{
	int ports = 0, virq_port = 0, checkpoint_port = 0;
	xenevtchn_handle *xce;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--ports"))
			ports = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--virq-port"))
			virq_port = (int)strtol(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--checkpoint-port"))
			checkpoint_port = (int)strtol(argv[i + 1], NULL, 0);
	}
	xce = xenevtchn_open(NULL, 0);
	result(xce != NULL, "xenevtchn_open: /dev/xen/evtchn", "%s",
	       strerror(errno));
	if (!xce)
		return 1;
	loopback(xce);
	virq(xce, virq_port);
	if (ports > 0)
		many(xce, ports);
	across_checkpoint(xce, checkpoint_port);
	xenevtchn_close(xce);
	return failed > 255 ? 255 : failed;
}
