/* SPDX-License-Identifier: MIT */
/*
 * Backend handles: Linux /dev/xen/evtchn semantics on top of libevtchn
 * (drivers/xen/evtchn.c: a port is reported once and stays masked until
 * unmasked; restriction is permanent), and Xen's rules for what they bind.
 */
#include <poll.h>

#include "evtchn/backend.h"
#include "fixture.h"

#define F struct fx *f = *state

static bool readable(struct evtchn_backend *b)
{
	struct pollfd p = { .fd = evtchn_backend_fd(b), .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* A guest's unbound port, bound by the backend; events both ways. */
static void bind_interdomain_and_notify_both_ways(void **state)
{
	F;
	struct evtchn_backend *b;
	struct evtchn_status s;
	long gp = th_alloc_unbound(&f->d1, DOMID_SELF, 0);
	int bp;

	assert_int_equal(evtchn_backend_open(f->dom0.d, 0, &b), 0);
	assert_false(readable(b));
	bp = evtchn_backend_bind_interdomain(b, 1, gp);
	assert_true(bp > 0);
	/* Xen raises an event on the new local port: the handle's. */
	assert_true(readable(b));
	assert_int_equal(evtchn_backend_pending(b), bp);
	assert_int_equal(evtchn_backend_pending(b), -EAGAIN);
	assert_false(readable(b));
	/* it never reached domain 0's shared_info */
	assert_false(th_pending(&f->dom0, bp));
	assert_int_equal(th_status(&f->d1, DOMID_SELF, gp, &s), 0);
	assert_int_equal(s.status, EVTCHNSTAT_interdomain);
	assert_int_equal(s.u.interdomain.dom, 0);
	assert_int_equal(s.u.interdomain.port, bp);
	/* backend -> guest */
	assert_int_equal(evtchn_backend_notify(b, bp), 0);
	assert_true(th_pending(&f->d1, gp));
	assert_int_equal(th_upcalls(&f->d1, 0), 1);
	/* guest -> backend: masked since it was reported */
	assert_int_equal(th_send(&f->d1, 0, gp), 0);
	assert_false(readable(b));
	assert_int_equal(evtchn_backend_unmask(b, bp), 0);
	/* the event that came while masked is reported now, once */
	assert_true(readable(b));
	assert_int_equal(evtchn_backend_pending(b), bp);
	assert_int_equal(evtchn_backend_pending(b), -EAGAIN);
	assert_int_equal(evtchn_backend_unmask(b, bp), 0);
	assert_false(readable(b));
	/* and the next send is reported at once */
	assert_int_equal(th_send(&f->d1, 0, gp), 0);
	assert_int_equal(th_send(&f->d1, 0, gp), 0);
	assert_int_equal(evtchn_backend_pending(b), bp);
	assert_int_equal(evtchn_backend_pending(b), -EAGAIN);
	assert_int_equal(evtchn_backend_close(b), 0);
	/* closing the handle closed its port: the guest's is unbound */
	assert_int_equal(th_status(&f->d1, DOMID_SELF, gp, &s), 0);
	assert_int_equal(s.status, EVTCHNSTAT_unbound);
}

/* An unbound port of the backend for the guest to bind. */
static void bind_unbound_for_guest(void **state)
{
	F;
	struct evtchn_backend *b;
	int bp;
	long gp;

	assert_int_equal(evtchn_backend_open(f->dom0.d, 0, &b), 0);
	bp = evtchn_backend_bind_unbound(b, 1);
	assert_true(bp > 0);
	gp = th_bind_interdomain(&f->d1, 0, bp);
	assert_true(gp > 0);
	assert_false(readable(b)); /* Xen raised the guest's port, not ours */
	assert_int_equal(th_send(&f->d1, 0, gp), 0);
	assert_int_equal(evtchn_backend_pending(b), bp);
	/* the guest closes: our port is unbound, notify is dropped */
	assert_int_equal(th_close(&f->d1, gp), 0);
	assert_int_equal(evtchn_backend_notify(b, bp), 0);
	assert_int_equal(evtchn_backend_unbind(b, bp), 0);
	assert_int_equal(evtchn_backend_unbind(b, bp), -ENOTCONN);
	assert_int_equal(evtchn_backend_close(b), 0);
}

/* Errors: Xen's for the hypercall, Linux's driver errors otherwise. */
static void errors(void **state)
{
	F;
	struct evtchn_backend *b;
	long gp = th_alloc_unbound(&f->d1, DOMID_SELF, 2);

	assert_int_equal(evtchn_backend_open(NULL, 0, &b), -EINVAL);
	assert_int_equal(evtchn_backend_open(f->dom0.d, 8, &b), -EINVAL);
	assert_int_equal(evtchn_backend_open(f->dom0.d, 0, &b), 0);
	/* reserved for domain 2, not us */
	assert_int_equal(evtchn_backend_bind_interdomain(b, 1, gp), -XEN_EINVAL);
	assert_int_equal(evtchn_backend_bind_interdomain(b, 1, 5000),
			 -XEN_EINVAL);
	assert_int_equal(evtchn_backend_bind_interdomain(b, 77, 1), -XEN_ESRCH);
	assert_int_equal(evtchn_backend_bind_virq(b, 99), -XEN_EINVAL);
	assert_int_equal(evtchn_backend_notify(b, 1), -ENOTCONN);
	assert_int_equal(evtchn_backend_unbind(b, 1), -ENOTCONN);
	assert_int_equal(evtchn_backend_unmask(b, 1), 0); /* ignored */
	assert_int_equal(evtchn_backend_pending(b), -EAGAIN);
	/* a domain with a handle open cannot be destroyed */
	assert_int_equal(evtchn_domain_destroy(f->dom0.d), -EBUSY);
	assert_int_equal(evtchn_backend_close(b), 0);
	assert_int_equal(evtchn_backend_close(NULL), -EINVAL);
}

/* Restricting a handle is permanent (Linux IOCTL_EVTCHN_RESTRICT_DOMID). */
static void restrict_is_permanent(void **state)
{
	F;
	struct evtchn_backend *b;
	long g1 = th_alloc_unbound(&f->d1, DOMID_SELF, 0);
	long g2 = th_alloc_unbound(&f->d2, DOMID_SELF, 0);

	assert_int_equal(evtchn_backend_open(f->dom0.d, 0, &b), 0);
	assert_int_equal(evtchn_backend_restrict(b, 0), -EINVAL);
	assert_int_equal(evtchn_backend_restrict(b, DOMID_SELF), -EINVAL);
	assert_int_equal(evtchn_backend_restrict(b, 1), 0);
	assert_int_equal(evtchn_backend_restrict(b, 2), -EACCES);
	assert_int_equal(evtchn_backend_bind_interdomain(b, 2, g2), -EACCES);
	assert_int_equal(evtchn_backend_bind_unbound(b, 1), -EACCES);
	assert_int_equal(evtchn_backend_bind_virq(b, VIRQ_DOM_EXC), -EACCES);
	assert_true(evtchn_backend_bind_interdomain(b, 1, g1) > 0);
	assert_int_equal(evtchn_backend_close(b), 0);
}

/* VIRQs a backend domain binds (VIRQ_DOM_EXC) reach the handle. */
static void virq_reaches_handle(void **state)
{
	F;
	struct evtchn_backend *b;
	int p;

	assert_int_equal(evtchn_backend_open(f->dom0.d, 0, &b), 0);
	p = evtchn_backend_bind_virq(b, VIRQ_DOM_EXC);
	assert_true(p > 0);
	assert_int_equal(evtchn_send_virq(f->dom0.d, 0, VIRQ_DOM_EXC), 0);
	assert_int_equal(evtchn_backend_pending(b), p);
	assert_int_equal(evtchn_backend_close(b), 0);
	/* the VIRQ is free again */
	assert_true(th_bind_virq(&f->dom0, VIRQ_DOM_EXC, 0) > 0);
}


/* Every descriptor the library opens is closed exactly once: 100,000
 * bind/unbind cycles and 1,000 handle lifetimes leave the count alone. */
/*
 * A reset of the handle's domain closes its ports under it.  An event
 * queued before the reset, or remembered while the port was masked, went
 * with the port (Xen's evtchn_free() clears the pending bit): the handle
 * never reports the closed port again, not from its queue, not after an
 * unmask, and a new binding of the same number is reported on its own.
 */
static void reset_closes_reported_ports(void **state)
{
	F;
	struct evtchn_backend *b;
	struct evtchn_reset r = { .dom = DOMID_SELF };
	long g1 = th_alloc_unbound(&f->d1, DOMID_SELF, 0);
	long g2 = th_alloc_unbound(&f->d1, DOMID_SELF, 0);
	int p1, p2, p3;

	assert_int_equal(evtchn_backend_open(f->dom0.d, 0, &b), 0);
	p1 = evtchn_backend_bind_interdomain(b, 1, g1);
	p2 = evtchn_backend_bind_interdomain(b, 1, g2);
	assert_true(p1 > 0 && p2 > 0);
	/* p1: reported and masked, then an event while masked (remembered);
	 * p2: queued, never read */
	assert_int_equal(evtchn_backend_pending(b), p1);
	assert_int_equal(th_send(&f->d1, 0, g1), 0);
	assert_int_equal(th_op(&f->dom0, 0, EVTCHNOP_reset, &r, sizeof(r)), 0);
	assert_int_equal(evtchn_backend_pending(b), -EAGAIN);
	assert_false(readable(b));
	assert_int_equal(evtchn_backend_unmask(b, p1), 0);
	assert_false(readable(b));
	assert_int_equal(evtchn_backend_pending(b), -EAGAIN);
	assert_int_equal(evtchn_backend_notify(b, p2), -ENOTCONN);
	/* the guest's ends are unbound again: a new binding of the number */
	p3 = evtchn_backend_bind_interdomain(b, 1, g1);
	assert_int_equal(p3, p1);
	assert_int_equal(evtchn_backend_pending(b), p3);
	assert_int_equal(evtchn_backend_pending(b), -EAGAIN);
	assert_int_equal(evtchn_backend_unmask(b, p3), 0);
	assert_int_equal(th_send(&f->d1, 0, g1), 0);
	assert_int_equal(evtchn_backend_pending(b), p3);
	assert_int_equal(evtchn_backend_notify(b, p3), 0);
	assert_true(th_pending(&f->d1, g1));
	/* unbind takes the live binding first, then the closed records */
	assert_int_equal(evtchn_backend_unbind(b, p3), 0);
	assert_int_equal(evtchn_backend_unbind(b, p1), 0);
	assert_int_equal(evtchn_backend_unbind(b, p2), 0);
	assert_int_equal(evtchn_backend_unbind(b, p1), -ENOTCONN);
	assert_int_equal(evtchn_backend_close(b), 0);
}

static void fd_count_holds(void **state)
{
	F;
	struct evtchn_backend *b;
	int before = th_fd_count();

	assert_int_equal(evtchn_backend_open(f->dom0.d, 0, &b), 0);
	for (int i = 0; i < 100000; i++) {
		int p = evtchn_backend_bind_unbound(b, 1);
		long g = 0;

		assert_true(p > 0);
		if (i % 3 == 0) {
			g = th_bind_interdomain(&f->d1, 0, p);
			assert_true(g > 0);
			assert_int_equal(th_send(&f->d1, 0, g), 0);
		}
		assert_int_equal(evtchn_backend_unbind(b, p), 0);
		(void)evtchn_backend_pending(b);
		if (g)
			assert_int_equal(th_close(&f->d1, g), 0);
	}
	assert_int_equal(evtchn_backend_close(b), 0);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(evtchn_backend_open(f->dom0.d, 0, &b), 0);
		assert_true(evtchn_backend_bind_unbound(b, 1) > 0);
		assert_int_equal(evtchn_backend_close(b), 0);
	}
	assert_int_equal(th_fd_count(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(bind_interdomain_and_notify_both_ways),
		FX_TEST(bind_unbound_for_guest),
		FX_TEST(errors),
		FX_TEST(restrict_is_permanent),
		FX_TEST(virq_reaches_handle),
		FX_TEST(reset_closes_reported_ports),
		FX_TEST(fd_count_holds),
	};

	return cmocka_run_group_tests_name("backend", tests, NULL, NULL);
}
