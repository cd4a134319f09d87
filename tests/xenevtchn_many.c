/* SPDX-License-Identifier: MIT */
/*
 * A backend serving many guests opens more channels than the 2-level ABI
 * has ports, through Debian's <xenevtchn.h> alone: 5,000 loopback pairs
 * (10,000 ports) in the process-default domain, which has FIFO's 131,071
 * ports as the Linux dom0 a backend runs in does.  Each pair carries an
 * event both ways; every port is reported once; everything unbinds.
 * Exit status 0 on success; prints "N passed, N failed".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <xenevtchn.h>

#define PAIRS 5000

static int failures;

#define CHECK(c, ...)                                                    \
	do {                                                             \
		if (!(c)) {                                              \
			fprintf(stderr, "xenevtchn_many: " __VA_ARGS__); \
			fprintf(stderr, "\n");                           \
			failures++;                                      \
		}                                                        \
	} while (0)

int main(void)
{
	xenevtchn_handle *a = xenevtchn_open(NULL, 0);
	xenevtchn_handle *b = xenevtchn_open(NULL, 0);
	static evtchn_port_t pa[PAIRS], pb[PAIRS];
	static unsigned char seen[1u << 17];
	unsigned reported = 0;
	int p;

	if (!a || !b) {
		fprintf(stderr, "xenevtchn_many: open: %d\n", errno);
		return 1;
	}
	for (unsigned i = 0; i < PAIRS; i++) {
		p = xenevtchn_bind_unbound_port(a, 0);
		CHECK(p > 0, "bind_unbound_port %u: errno %d", i, errno);
		if (p <= 0)
			break;
		pa[i] = (evtchn_port_t)p;
		p = xenevtchn_bind_interdomain(b, 0, pa[i]);
		CHECK(p > 0, "bind_interdomain %u: errno %d", i, errno);
		if (p <= 0)
			break;
		pb[i] = (evtchn_port_t)p;
	}
	CHECK(pb[PAIRS - 1] > 4095, "the ports go beyond 2-level's 4,095");
	/* bind_interdomain raised each of b's ports once: take them */
	while ((p = xenevtchn_pending(b)) > 0) {
		CHECK(!seen[p]++, "port %d reported twice", p);
		CHECK(xenevtchn_unmask(b, p) == 0, "unmask %d", p);
		reported++;
	}
	CHECK(reported == PAIRS, "%u of %u bind events", reported, PAIRS);
	/* a -> b on every pair, then b -> a */
	for (unsigned i = 0; i < PAIRS; i++)
		CHECK(xenevtchn_notify(a, pa[i]) == 0, "notify a %u", i);
	for (reported = 0; (p = xenevtchn_pending(b)) > 0; reported++)
		CHECK(seen[p]++ == 1, "port %d reported again", p);
	CHECK(reported == PAIRS, "%u of %u events a -> b", reported, PAIRS);
	for (unsigned i = 0; i < PAIRS; i++)
		CHECK(xenevtchn_notify(b, pb[i]) == 0, "notify b %u", i);
	for (reported = 0; (p = xenevtchn_pending(a)) > 0; reported++)
		CHECK(!seen[p]++, "port %d reported twice", p);
	CHECK(reported == PAIRS, "%u of %u events b -> a", reported, PAIRS);
	for (unsigned i = 0; i < PAIRS; i++) {
		CHECK(xenevtchn_unbind(a, pa[i]) == 0, "unbind a %u", i);
		CHECK(xenevtchn_unbind(b, pb[i]) == 0, "unbind b %u", i);
	}
	xenevtchn_close(a);
	xenevtchn_close(b);
	printf("xenevtchn_many: %d passed, %d failed\n", failures ? 0 : 1,
	       failures ? 1 : 0);
	return failures ? 1 : 0;
}
