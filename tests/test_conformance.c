/* SPDX-License-Identifier: MIT */
/*
 * Conformance: one test per Xen rule (Xen 4.17, xen/common/event_channel.c),
 * named after the rule; "B<n>" is the edge case's number in the reference
 * notes (docs/conformance.md maps each to its test).
 */
#include "fixture.h"

#define F struct fx *f = *state

static void status_of(struct th_domain *td, uint32_t port,
		      struct evtchn_status *s)
{
	assert_int_equal(th_status(td, DOMID_SELF, port, s), 0);
}

/* B1: alloc_unbound{SELF, SELF} -> lowest free port from 1, unbound for the
 * caller's own domid. */
static void alloc_unbound_self_gives_lowest_port_unbound_to_self(void **state)
{
	F;
	struct evtchn_status s;

	assert_int_equal(th_alloc_unbound(&f->d1, DOMID_SELF, DOMID_SELF), 1);
	assert_int_equal(th_alloc_unbound(&f->d1, DOMID_SELF, DOMID_SELF), 2);
	status_of(&f->d1, 1, &s);
	assert_int_equal(s.status, EVTCHNSTAT_unbound);
	assert_int_equal(s.u.unbound.dom, 1);
	assert_int_equal(s.vcpu, 0);
}

/* B2: unknown dom -> -ESRCH; remote_dom is not validated. */
static void alloc_unbound_unknown_dom_esrch_remote_unchecked(void **state)
{
	F;
	struct evtchn_status s;
	long p;

	assert_int_equal(th_alloc_unbound(&f->d1, 77, DOMID_SELF), -XEN_ESRCH);
	assert_int_equal(th_alloc_unbound(&f->d1, 0x7FF5, 0), -XEN_ESRCH);
	p = th_alloc_unbound(&f->d1, DOMID_SELF, 42);
	assert_true(p > 0);
	status_of(&f->d1, p, &s);
	assert_int_equal(s.u.unbound.dom, 42);
	/* the struct written back: port set, remote_dom as passed */
	struct evtchn_alloc_unbound a = { .dom = DOMID_SELF,
					  .remote_dom = DOMID_SELF };
	assert_int_equal(th_op(&f->d1, 0, EVTCHNOP_alloc_unbound, &a,
			       sizeof(a)), 0);
	assert_int_equal(a.remote_dom, DOMID_SELF);
	assert_int_equal(a.dom, DOMID_SELF);
}

/* Cross-domain alloc_unbound: XSM_TARGET -> -EPERM for an unprivileged
 * caller (after the port is found), allowed for a control domain. */
static void alloc_unbound_other_domain_needs_privilege(void **state)
{
	F;
	struct evtchn_status s;
	long p;

	assert_int_equal(th_alloc_unbound(&f->d2, 1, 2), -XEN_EPERM);
	/* the failed call left domain 1's ports free */
	assert_int_equal(th_alloc_unbound(&f->d1, DOMID_SELF, 0), 1);
	p = th_alloc_unbound(&f->dom0, 1, DOMID_SELF);
	assert_int_equal(p, 2);
	status_of(&f->d1, 2, &s);
	assert_int_equal(s.status, EVTCHNSTAT_unbound);
	/* DOMID_SELF names the caller (dom0), not domain 1 */
	assert_int_equal(s.u.unbound.dom, 0);
}

/* B3: a closed port is reused by the next allocation (lowest free). */
static void close_then_allocate_reuses_lowest_port(void **state)
{
	F;

	for (int i = 1; i <= 5; i++)
		assert_int_equal(th_alloc_unbound(&f->d1, DOMID_SELF, 0), i);
	assert_int_equal(th_close(&f->d1, 3), 0);
	assert_int_equal(th_close(&f->d1, 2), 0);
	assert_int_equal(th_alloc_unbound(&f->d1, DOMID_SELF, 0), 2);
	assert_int_equal(th_bind_ipi(&f->d1, 0), 3);
	assert_int_equal(th_bind_ipi(&f->d1, 0), 6);
}

/* B4: port 0 is reserved: status closed/vCPU 0, close and send -EINVAL,
 * unmask 0. */
static void port_zero_is_reserved(void **state)
{
	F;
	struct evtchn_status s;

	status_of(&f->d1, 0, &s);
	assert_int_equal(s.status, EVTCHNSTAT_closed);
	assert_int_equal(s.vcpu, 0);
	assert_int_equal(th_close(&f->d1, 0), -XEN_EINVAL);
	assert_int_equal(th_send(&f->d1, 0, 0), -XEN_EINVAL);
	assert_int_equal(th_unmask(&f->d1, 0), 0);
	assert_int_equal(th_bind_vcpu(&f->d1, 0, 1), -XEN_EINVAL);
}

/* B5: valid means inside an allocated bucket of 64 ports. */
static void port_validity_follows_buckets(void **state)
{
	F;
	struct evtchn_status s = { .dom = DOMID_SELF, .port = 5,
				   .u.virq = 0xdeadbeef };

	assert_int_equal(th_op(&f->d1, 0, EVTCHNOP_status, &s, sizeof(s)), 0);
	assert_int_equal(s.status, EVTCHNSTAT_closed);
	/* closed: Xen writes status and vcpu only */
	assert_int_equal(s.u.virq, 0xdeadbeef);
	assert_int_equal(th_status(&f->d1, DOMID_SELF, 63, NULL), 0);
	assert_int_equal(th_status(&f->d1, DOMID_SELF, 64, NULL), -XEN_EINVAL);
	assert_int_equal(th_status(&f->d1, DOMID_SELF, 5000, NULL),
			 -XEN_EINVAL);
	assert_int_equal(th_close(&f->d1, 64), -XEN_EINVAL);
	assert_int_equal(th_unmask(&f->d1, 64), -XEN_EINVAL);
	assert_int_equal(th_send(&f->d1, 0, 64), -XEN_EINVAL);
	for (int i = 1; i <= 64; i++)
		assert_int_equal(th_bind_ipi(&f->d1, 0), i);
	/* port 64 lives in the second bucket: 64..127 now valid */
	assert_int_equal(th_status(&f->d1, DOMID_SELF, 127, NULL), 0);
	assert_int_equal(th_status(&f->d1, DOMID_SELF, 128, NULL),
			 -XEN_EINVAL);
}

/* B6: bind_interdomain{SELF, P} -> a new port L, both ends interdomain,
 * and L pending ("we may have lost notifications"). */
static void bind_interdomain_loopback_sets_local_pending(void **state)
{
	F;
	struct evtchn_status s;
	long p, l;

	p = th_alloc_unbound(&f->d1, DOMID_SELF, DOMID_SELF);
	l = th_bind_interdomain(&f->d1, DOMID_SELF, p);
	assert_true(l > 0 && l != p);
	status_of(&f->d1, l, &s);
	assert_int_equal(s.status, EVTCHNSTAT_interdomain);
	assert_int_equal(s.u.interdomain.dom, 1);
	assert_int_equal(s.u.interdomain.port, p);
	status_of(&f->d1, p, &s);
	assert_int_equal(s.status, EVTCHNSTAT_interdomain);
	assert_int_equal(s.u.interdomain.port, l);
	assert_true(th_pending(&f->d1, l));
	assert_false(th_pending(&f->d1, p));
	assert_int_equal(th_upcalls(&f->d1, 0), 1);
}

/* B7: the remote port must be unbound. */
static void bind_interdomain_to_bound_or_free_port_einval(void **state)
{
	F;
	long p = th_alloc_unbound(&f->d1, DOMID_SELF, DOMID_SELF);
	long l = th_bind_interdomain(&f->d1, DOMID_SELF, p);

	assert_true(l > 0);
	assert_int_equal(th_bind_interdomain(&f->d1, DOMID_SELF, p),
			 -XEN_EINVAL);
	assert_int_equal(th_bind_interdomain(&f->d1, DOMID_SELF, 40),
			 -XEN_EINVAL);
	assert_int_equal(th_bind_interdomain(&f->d1, DOMID_SELF, 0),
			 -XEN_EINVAL);
}

/* B8: reserved for another domid, out of range, unknown domain. */
static void bind_interdomain_wrong_peer_range_or_domain(void **state)
{
	F;
	long p = th_alloc_unbound(&f->d1, DOMID_SELF, 2);

	assert_int_equal(th_bind_interdomain(&f->d1, DOMID_SELF, p),
			 -XEN_EINVAL);
	assert_int_equal(th_bind_interdomain(&f->d1, DOMID_SELF, 5000),
			 -XEN_EINVAL);
	assert_int_equal(th_bind_interdomain(&f->d1, DOMID_SELF, 0xFFFFFFFF),
			 -XEN_EINVAL);
	assert_int_equal(th_bind_interdomain(&f->d1, 9, 1), -XEN_ESRCH);
	assert_int_equal(th_bind_interdomain(&f->d1, DOMID_IO, 1),
			 -XEN_ESRCH);
	/* domain 2 may bind it: it was reserved for domain 2 */
	assert_true(th_bind_interdomain(&f->d2, 1, p) > 0);
}

/* B9: a send goes to the other end, at the other end's notify vCPU. */
static void send_loopback_goes_to_peer_at_its_vcpu(void **state)
{
	F;
	long p = th_alloc_unbound(&f->d1, DOMID_SELF, DOMID_SELF);
	long l = th_bind_interdomain(&f->d1, DOMID_SELF, p);

	assert_int_equal(th_bind_vcpu(&f->d1, p, 2), 0);
	assert_int_equal(th_send(&f->d1, 0, l), 0);
	assert_true(th_pending(&f->d1, p));
	assert_int_equal(evtchn_guest_pending_sel(&f->d1.g, 2), 1);
	assert_int_equal(th_upcalls(&f->d1, 2), 1);
	/* and back */
	assert_int_equal(th_send(&f->d1, 2, p), 0);
	assert_true(th_pending(&f->d1, l));
}

/* Interdomain between two guests, both ways. */
static void interdomain_between_guests_both_ways(void **state)
{
	F;
	struct evtchn_status s;
	long p2 = th_alloc_unbound(&f->d2, DOMID_SELF, 1);
	long p1 = th_bind_interdomain(&f->d1, 2, p2);

	assert_true(p1 > 0);
	assert_true(th_pending(&f->d1, p1));
	assert_int_equal(th_status(&f->d2, DOMID_SELF, p2, &s), 0);
	assert_int_equal(s.status, EVTCHNSTAT_interdomain);
	assert_int_equal(s.u.interdomain.dom, 1);
	assert_int_equal(s.u.interdomain.port, p1);
	assert_int_equal(th_send(&f->d1, 0, p1), 0);
	assert_true(th_pending(&f->d2, p2));
	assert_int_equal(th_upcalls(&f->d2, 0), 1);
	/* closing one end makes the other unbound, reserved for the closer */
	assert_int_equal(th_close(&f->d2, p2), 0);
	status_of(&f->d1, p1, &s);
	assert_int_equal(s.status, EVTCHNSTAT_unbound);
	assert_int_equal(s.u.unbound.dom, 2);
	assert_int_equal(th_send(&f->d1, 0, p1), 0);
	/* and domain 2 can bind it again */
	assert_true(th_bind_interdomain(&f->d2, 1, p1) > 0);
}

/* B10: close(L): L free with pending cleared and mask untouched; P becomes
 * unbound for the closer; a send on P is dropped. */
static void close_interdomain_end_unbinds_peer(void **state)
{
	F;
	struct evtchn_status s;
	long p = th_alloc_unbound(&f->d1, DOMID_SELF, DOMID_SELF);
	long l = th_bind_interdomain(&f->d1, DOMID_SELF, p);

	th_mask(&f->d1, l);
	assert_true(th_pending(&f->d1, l));
	assert_int_equal(th_close(&f->d1, l), 0);
	assert_false(th_pending(&f->d1, l));
	assert_true(th_masked(&f->d1, l));
	status_of(&f->d1, l, &s);
	assert_int_equal(s.status, EVTCHNSTAT_closed);
	status_of(&f->d1, p, &s);
	assert_int_equal(s.status, EVTCHNSTAT_unbound);
	assert_int_equal(s.u.unbound.dom, 1);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_false(th_pending(&f->d1, p));
	assert_false(th_pending(&f->d1, l));
	assert_int_equal(th_close(&f->d1, l), -XEN_EINVAL);
}

/* B11: send on an unbound port: 0, nothing set. */
static void send_on_unbound_is_dropped(void **state)
{
	F;
	long p = th_alloc_unbound(&f->d1, DOMID_SELF, 0);

	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_false(th_pending(&f->d1, p));
	assert_int_equal(th_upcalls(&f->d1, 0), 0);
}

/* B12: send on a VIRQ or free port: -EINVAL. */
static void send_on_virq_or_free_einval(void **state)
{
	F;
	long v = th_bind_virq(&f->d1, VIRQ_TIMER, 0);

	assert_true(v > 0);
	assert_int_equal(th_send(&f->d1, 0, v), -XEN_EINVAL);
	assert_int_equal(th_send(&f->d1, 0, 10), -XEN_EINVAL);
	assert_false(th_pending(&f->d1, v));
}

/* B13: per-vCPU VIRQ: once per vCPU. */
static void bind_virq_per_vcpu_once_each(void **state)
{
	F;
	struct evtchn_status s;
	long a = th_bind_virq(&f->d1, VIRQ_TIMER, 1);
	long b;

	assert_true(a > 0);
	assert_int_equal(th_bind_virq(&f->d1, VIRQ_TIMER, 1), -XEN_EEXIST);
	b = th_bind_virq(&f->d1, VIRQ_TIMER, 2);
	assert_true(b > 0 && b != a);
	status_of(&f->d1, a, &s);
	assert_int_equal(s.status, EVTCHNSTAT_virq);
	assert_int_equal(s.u.virq, VIRQ_TIMER);
	assert_int_equal(s.vcpu, 1);
	/* closing frees the VIRQ for a new binding */
	assert_int_equal(th_close(&f->d1, a), 0);
	assert_int_equal(th_bind_virq(&f->d1, VIRQ_TIMER, 1), a);
}

/* B14, B15: virq range is checked before the vCPU. */
static void bind_virq_range_before_vcpu(void **state)
{
	F;

	assert_int_equal(th_bind_virq(&f->d1, NR_VIRQS, 0), -XEN_EINVAL);
	assert_int_equal(th_bind_virq(&f->d1, 0xFFFFFFFF, 0), -XEN_EINVAL);
	assert_int_equal(th_bind_virq(&f->d1, 99, 999), -XEN_EINVAL);
	assert_int_equal(th_bind_virq(&f->d1, VIRQ_TIMER, 999), -XEN_ENOENT);
	assert_int_equal(th_bind_virq(&f->d1, VIRQ_TIMER, 4), -XEN_ENOENT);
}

/* B16: a global VIRQ binds on vCPU 0 only; Xen 4.17 lets any domain bind
 * it (the -EBUSY rule for non-handler domains came in 2025). */
static void bind_virq_global_vcpu0_only(void **state)
{
	F;

	assert_int_equal(th_bind_virq(&f->d1, VIRQ_CONSOLE, 1), -XEN_EINVAL);
	assert_true(th_bind_virq(&f->d1, VIRQ_CONSOLE, 0) > 0);
	assert_int_equal(th_bind_virq(&f->d1, VIRQ_CONSOLE, 0), -XEN_EEXIST);
	assert_int_equal(th_bind_virq(&f->d1, VIRQ_ARCH_0, 2), -XEN_EINVAL);
	assert_true(th_bind_virq(&f->d1, 5, 0) > 0); /* unnamed: global */
}

/* B17: ARGO is global in 4.17: vCPU 0, then movable. */
static void bind_virq_argo_global_then_movable(void **state)
{
	F;
	struct evtchn_status s;
	long p;

	assert_int_equal(th_bind_virq(&f->d1, VIRQ_ARGO, 1), -XEN_EINVAL);
	p = th_bind_virq(&f->d1, VIRQ_ARGO, 0);
	assert_true(p > 0);
	assert_int_equal(th_bind_vcpu(&f->d1, p, 3), 0);
	status_of(&f->d1, p, &s);
	assert_int_equal(s.vcpu, 3);
	/* still recorded on vCPU 0 */
	assert_int_equal(th_bind_virq(&f->d1, VIRQ_ARGO, 0), -XEN_EEXIST);
	/* a global VIRQ is raised at the port's notify vCPU */
	assert_int_equal(evtchn_send_virq(f->d1.d, 0, VIRQ_ARGO), 0);
	assert_true(th_pending(&f->d1, p));
	assert_int_equal(th_upcalls(&f->d1, 3), 1);
	assert_int_equal(th_close(&f->d1, p), 0);
	assert_true(th_bind_virq(&f->d1, VIRQ_ARGO, 0) > 0);
}

/* B18: bind_ipi on a missing vCPU -ENOENT; an IPI goes to its vCPU. */
static void bind_ipi_targets_its_vcpu(void **state)
{
	F;
	struct evtchn_status s;
	long p;

	assert_int_equal(th_bind_ipi(&f->d1, 4), -XEN_ENOENT);
	assert_int_equal(th_bind_ipi(&f->d1, 0xFFFFFFFF), -XEN_ENOENT);
	p = th_bind_ipi(&f->d1, 2);
	assert_true(p > 0);
	status_of(&f->d1, p, &s);
	assert_int_equal(s.status, EVTCHNSTAT_ipi);
	assert_int_equal(s.vcpu, 2);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_true(th_pending(&f->d1, p));
	assert_int_equal(th_upcalls(&f->d1, 2), 1);
	assert_int_equal(th_upcalls(&f->d1, 0), 0);
}

/* B19: bind_vcpu by state. */
static void bind_vcpu_by_state(void **state)
{
	F;
	long ipi = th_bind_ipi(&f->d1, 0);
	long timer = th_bind_virq(&f->d1, VIRQ_TIMER, 0);
	long unb = th_alloc_unbound(&f->d1, DOMID_SELF, 0);
	long p = th_alloc_unbound(&f->d1, DOMID_SELF, DOMID_SELF);
	long l = th_bind_interdomain(&f->d1, DOMID_SELF, p);
	long glob = th_bind_virq(&f->d1, VIRQ_DOM_EXC, 0);

	assert_int_equal(th_bind_vcpu(&f->d1, ipi, 1), -XEN_EINVAL);
	assert_int_equal(th_bind_vcpu(&f->d1, timer, 1), -XEN_EINVAL);
	assert_int_equal(th_bind_vcpu(&f->d1, unb, 1), 0);
	assert_int_equal(th_bind_vcpu(&f->d1, l, 3), 0);
	assert_int_equal(th_bind_vcpu(&f->d1, glob, 2), 0);
}

/* B20: the vCPU is checked before the port. */
static void bind_vcpu_checks_vcpu_first(void **state)
{
	F;

	assert_int_equal(th_bind_vcpu(&f->d1, 9999, 9), -XEN_ENOENT);
	assert_int_equal(th_bind_vcpu(&f->d1, 9999, 0), -XEN_EINVAL);
	assert_int_equal(th_bind_vcpu(&f->d1, 7, 0), -XEN_EINVAL);
}

/* B21: a freed port's notify vCPU is back to 0. */
static void freed_port_notify_vcpu_reset(void **state)
{
	F;
	struct evtchn_status s;
	long p = th_alloc_unbound(&f->d1, DOMID_SELF, 0);

	assert_int_equal(th_bind_vcpu(&f->d1, p, 3), 0);
	assert_int_equal(th_close(&f->d1, p), 0);
	status_of(&f->d1, p, &s);
	assert_int_equal(s.vcpu, 0);
	assert_int_equal(th_alloc_unbound(&f->d1, DOMID_SELF, 0), p);
	status_of(&f->d1, p, &s);
	assert_int_equal(s.vcpu, 0);
}

/* B28: unmask of an invalid port -EINVAL; of a free port: 0, mask kept. */
static void unmask_invalid_or_free_port(void **state)
{
	F;

	assert_int_equal(th_unmask(&f->d1, 4096), -XEN_EINVAL);
	th_mask(&f->d1, 9);
	assert_int_equal(th_unmask(&f->d1, 9), 0);
	assert_true(th_masked(&f->d1, 9));
}

/* B29: the 64-bit 2-level limit is 4096 ports. */
static void two_level_64_limit_4096(void **state)
{
	F;

	for (int i = 1; i < 4096; i++)
		assert_int_equal(th_alloc_unbound(&f->d1, DOMID_SELF, 0), i);
	assert_int_equal(th_alloc_unbound(&f->d1, DOMID_SELF, 0),
			 -XEN_ENOSPC);
	assert_int_equal(th_bind_ipi(&f->d1, 0), -XEN_ENOSPC);
	assert_int_equal(th_status(&f->d1, DOMID_SELF, 4095, NULL), 0);
	assert_int_equal(th_status(&f->d1, DOMID_SELF, 4096, NULL),
			 -XEN_EINVAL);
	assert_int_equal(th_close(&f->d1, 100), 0);
	assert_int_equal(th_bind_ipi(&f->d1, 0), 100);
}

/* B29: the 32-bit 2-level limit is 1024 ports. */
static void two_level_32_limit_1024(void **state)
{
	F;

	for (int i = 1; i < 1024; i++)
		assert_int_equal(th_alloc_unbound(&f->d1, DOMID_SELF, 0), i);
	assert_int_equal(th_alloc_unbound(&f->d1, DOMID_SELF, 0),
			 -XEN_ENOSPC);
}

/* B29: max_event_channels bounds the port number. */
static void max_evtchn_port_is_highest_port(void **state)
{
	F;
	struct th_domain d3;
	struct th_domain_opts o = { .domid = 3, .nr_vcpus = 1,
				    .max_evtchn_port = 1023 };

	assert_int_equal(th_domain_create(f->h, &d3, &o), 0);
	for (int i = 1; i <= 1023; i++)
		assert_int_equal(th_bind_ipi(&d3, 0), i);
	assert_int_equal(th_bind_ipi(&d3, 0), -XEN_ENOSPC);
	th_domain_destroy(&d3);
}

/* B30: status of another domain's port: -EPERM unless privileged; the
 * domain is looked up first (-ESRCH) and the port checked before XSM. */
static void status_other_domain_needs_privilege(void **state)
{
	F;
	struct evtchn_status s;
	long p = th_bind_ipi(&f->d1, 1);

	assert_int_equal(th_status(&f->d2, 1, p, NULL), -XEN_EPERM);
	assert_int_equal(th_status(&f->d2, 1, 5000, NULL), -XEN_EINVAL);
	assert_int_equal(th_status(&f->d2, 55, 1, NULL), -XEN_ESRCH);
	assert_int_equal(th_status(&f->dom0, 1, p, &s), 0);
	assert_int_equal(s.status, EVTCHNSTAT_ipi);
	assert_int_equal(s.vcpu, 1);
	assert_int_equal(th_status(&f->d1, 1, p, NULL), 0);
}

/* B31: reset{SELF}: every port free, interdomain peers unbound. */
static void reset_self_frees_everything(void **state)
{
	F;
	struct evtchn_reset r = { .dom = DOMID_SELF };
	struct evtchn_status s;
	long p2 = th_alloc_unbound(&f->d2, DOMID_SELF, 1);
	long l1 = th_bind_interdomain(&f->d1, 2, p2);
	long ipi = th_bind_ipi(&f->d1, 1);
	long virq = th_bind_virq(&f->d1, VIRQ_TIMER, 0);

	assert_int_equal(th_op(&f->d1, 0, EVTCHNOP_reset, &r, sizeof(r)), 0);
	for (long p = 1; p < 64; p++) {
		status_of(&f->d1, p, &s);
		assert_int_equal(s.status, EVTCHNSTAT_closed);
	}
	assert_false(th_pending(&f->d1, l1));
	status_of(&f->d2, p2, &s);
	assert_int_equal(s.status, EVTCHNSTAT_unbound);
	assert_int_equal(s.u.unbound.dom, 1);
	assert_int_equal(th_bind_virq(&f->d1, VIRQ_TIMER, 0), 1);
	(void)ipi;
	(void)virq;
}

/* B32: reset_cont with none in progress -EBUSY; another domain: -EPERM
 * unprivileged, -EINVAL unless paused, -ESRCH unknown. */
static void reset_rules(void **state)
{
	F;
	struct evtchn_reset r = { .dom = DOMID_SELF };

	assert_int_equal(th_op(&f->d1, 0, EVTCHNOP_reset_cont, &r, sizeof(r)),
			 -XEN_EBUSY);
	r.dom = 2;
	assert_int_equal(th_op(&f->d1, 0, EVTCHNOP_reset, &r, sizeof(r)),
			 -XEN_EPERM);
	assert_int_equal(th_op(&f->dom0, 0, EVTCHNOP_reset, &r, sizeof(r)),
			 -XEN_EINVAL);
	r.dom = 99;
	assert_int_equal(th_op(&f->dom0, 0, EVTCHNOP_reset, &r, sizeof(r)),
			 -XEN_ESRCH);
	r.dom = 2;
	assert_true(th_bind_ipi(&f->d2, 0) > 0);
	evtchn_domain_set_paused(f->d2.d, true);
	assert_int_equal(th_op(&f->dom0, 0, EVTCHNOP_reset, &r, sizeof(r)), 0);
	assert_int_equal(th_bind_ipi(&f->d2, 0), 1);
}

/* B33 (2-level part): set_priority -ENOSYS, bad port -EINVAL; the other
 * FIFO sub-ops answer as in 2-level mode. */
static void fifo_ops_in_two_level_mode(void **state)
{
	F;
	struct evtchn_set_priority sp = { .port = 1, .priority = 3 };
	struct evtchn_expand_array ea = { .array_gfn = 5 };
	long p = th_bind_ipi(&f->d1, 0);

	sp.port = p;
	assert_int_equal(th_op(&f->d1, 0, EVTCHNOP_set_priority, &sp,
			       sizeof(sp)), -XEN_ENOSYS);
	sp.port = 4000;
	assert_int_equal(th_op(&f->d1, 0, EVTCHNOP_set_priority, &sp,
			       sizeof(sp)), -XEN_EINVAL);
	assert_int_equal(th_op(&f->d1, 0, EVTCHNOP_expand_array, &ea,
			       sizeof(ea)), -XEN_EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(alloc_unbound_self_gives_lowest_port_unbound_to_self),
		FX_TEST(alloc_unbound_unknown_dom_esrch_remote_unchecked),
		FX_TEST(alloc_unbound_other_domain_needs_privilege),
		FX_TEST(close_then_allocate_reuses_lowest_port),
		FX_TEST(port_zero_is_reserved),
		FX_TEST(port_validity_follows_buckets),
		FX_TEST(bind_interdomain_loopback_sets_local_pending),
		FX_TEST(bind_interdomain_to_bound_or_free_port_einval),
		FX_TEST(bind_interdomain_wrong_peer_range_or_domain),
		FX_TEST(send_loopback_goes_to_peer_at_its_vcpu),
		FX_TEST(interdomain_between_guests_both_ways),
		FX_TEST(close_interdomain_end_unbinds_peer),
		FX_TEST(send_on_unbound_is_dropped),
		FX_TEST(send_on_virq_or_free_einval),
		FX_TEST(bind_virq_per_vcpu_once_each),
		FX_TEST(bind_virq_range_before_vcpu),
		FX_TEST(bind_virq_global_vcpu0_only),
		FX_TEST(bind_virq_argo_global_then_movable),
		FX_TEST(bind_ipi_targets_its_vcpu),
		FX_TEST(bind_vcpu_by_state),
		FX_TEST(bind_vcpu_checks_vcpu_first),
		FX_TEST(freed_port_notify_vcpu_reset),
		FX_TEST(unmask_invalid_or_free_port),
		FX_TEST(two_level_64_limit_4096),
		FX_TEST32(two_level_32_limit_1024),
		FX_TEST(max_evtchn_port_is_highest_port),
		FX_TEST(status_other_domain_needs_privilege),
		FX_TEST(reset_self_frees_everything),
		FX_TEST(reset_rules),
		FX_TEST(fifo_ops_in_two_level_mode),
	};

	return cmocka_run_group_tests_name("conformance", tests, NULL, NULL);
}
