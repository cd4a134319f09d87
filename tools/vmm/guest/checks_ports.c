/* SPDX-License-Identifier: MIT */
/*
 * Checks 7-12: loopback channels, masking, bind_vcpu, close and rebind,
 * reset, and the switch to FIFO; then the FIFO runs of earlier checks.
 */
#include "guest.h"

#define QUIET_NS MS(10) /* how long a masked event must stay quiet */

/* Set once every vCPU has a control block and the array its page. */
static bool fifo_ready;

/* What EVTCHNOP_status says of @port: @state, and for a channel the
 * peer (@peer_dom, @peer_port) or the unbound remote (@peer_dom). */
static int status_is(struct check *c, uint32_t port, uint32_t state,
		     domid_t peer_dom, uint32_t peer_port)
{
	struct evtchn_status st;
	long rc = ev_status(port, &st);

	if (rc)
		return fail(c, "status of port %u: rc %ld", port, rc);
	if (st.status != state)
		return fail(c, "port %u: status %u, expected %u", port,
			    st.status, state);
	if (state == EVTCHNSTAT_unbound && st.u.unbound.dom != peer_dom)
		return fail(c, "port %u: unbound for domain %u, not %u", port,
			    st.u.unbound.dom, peer_dom);
	if (state == EVTCHNSTAT_interdomain &&
	    (st.u.interdomain.dom != peer_dom ||
	     st.u.interdomain.port != peer_port))
		return fail(c, "port %u: peer %u:%u, expected %u:%u", port,
			    st.u.interdomain.dom, st.u.interdomain.port,
			    peer_dom, peer_port);
	return 0;
}

/* The domain's own id: what an unbound port for DOMID_SELF names as its
 * remote (Xen resolves DOMID_SELF at alloc_unbound). */
static int own_domid(struct check *c, uint32_t port, domid_t *self)
{
	struct evtchn_status st;
	long rc = ev_status(port, &st);

	if (rc)
		return fail(c, "status of port %u: rc %ld", port, rc);
	if (st.status != EVTCHNSTAT_unbound)
		return fail(c, "port %u: status %u, expected unbound", port,
			    st.status);
	if (st.u.unbound.dom == DOMID_SELF)
		return fail(c, "port %u: remote DOMID_SELF, not a domain id",
			    port);
	*self = st.u.unbound.dom;
	return 0;
}

/*
 * A loopback channel: @a from alloc_unbound(self, self), @b bound to it.
 * On failure nothing stays open.
 */
/* Whether @port is still pending after WAIT_NS (its event not taken). */
static bool still_pending(uint32_t port)
{
	struct bound t;

	bound_start(&t, WAIT_NS);
	while (ev_test(port, EV_PENDING))
		if (bound_passed(&t))
			return true;
	return false;
}

static int loopback_open(struct check *c, uint32_t *a, uint32_t *b,
			 domid_t *self)
{
	long rc = ev_alloc_unbound(a);

	if (rc)
		return fail(c, "alloc_unbound(self, self): rc %ld", rc);
	if (own_domid(c, *a, self) || !port_tracked(c, *a))
		goto close_a;
	rc = ev_bind_interdomain(*a, b);
	if (rc) {
		fail(c, "bind_interdomain(self, %u): rc %ld", *a, rc);
		goto close_a;
	}
	/* Xen raises an event on the new local port: let vCPU 0 take it
	 * first, or a later unmask on another vCPU raises it again there,
	 * depending on when the upcall ran. */
	if (port_tracked(c, *b)) {
		if (!still_pending(*b))
			return 0;
		fail(c, "the event bind_interdomain raised on port %u was not "
			"taken", *b);
	}
	close_checked(c, *b);
close_a:
	close_checked(c, *a);
	return -1;
}

static int loopback_close(struct check *c, uint32_t a, uint32_t b)
{
	int ret = close_checked(c, b);

	return close_checked(c, a) ? -1 : ret;
}

/* A send on @from reaches its peer @to on @cpu, once. */
static int send_reaches(struct check *c, uint32_t from, uint32_t to,
			uint32_t cpu)
{
	uint32_t before[GUEST_MAX_VCPUS];
	long rc;

	counts_of(to, before);
	rc = ev_send(from);
	if (rc)
		return fail(c, "send on port %u: rc %ld", from, rc);
	return arrives_once(c, cpu, to, before);
}

int check_loopback(struct check *c)
{
	uint32_t a, b;
	domid_t self;
	int ret;

	if (loopback_open(c, &a, &b, &self))
		return -1;
	ret = status_is(c, b, EVTCHNSTAT_interdomain, self, a);
	if (!ret)
		ret = status_is(c, a, EVTCHNSTAT_interdomain, self, b);
	if (!ret)
		ret = send_reaches(c, b, a, 0);
	if (!ret)
		ret = send_reaches(c, a, b, 0);
	return loopback_close(c, a, b) ? -1 : ret;
}

/* A send on masked @port: pending, not linked, no upcall on vCPU 0. */
static int masked_send(struct check *c, uint32_t port)
{
	uint32_t before = ev_count(0, port), upcalls = ev_upcalls(0);
	long rc;

	ev_mask(port);
	rc = ev_send(port);
	if (rc)
		return fail(c, "send on masked port %u: rc %ld", port, rc);
	delay_ns(QUIET_NS);
	if (!ev_test(port, EV_PENDING))
		return fail(c, "masked port %u is not pending after a send",
			    port);
	if (ev_test(port, EV_LINKED))
		return fail(c, "masked port %u was linked into a queue", port);
	if (ev_count(0, port) != before || ev_upcalls(0) != upcalls)
		return fail(c, "masked port %u raised an upcall", port);
	return 0;
}

/* EVTCHNOP_unmask with the mask still set delivers the pending event. */
static int unmask_delivers(struct check *c, uint32_t port)
{
	uint32_t before[GUEST_MAX_VCPUS];
	long rc;

	counts_of(port, before);
	rc = ev_unmask(port);
	if (rc)
		return fail(c, "EVTCHNOP_unmask port %u: rc %ld", port, rc);
	if (arrives_once(c, 0, port, before))
		return -1;
	if (ev_test(port, EV_MASKED))
		return fail(c, "port %u still masked after EVTCHNOP_unmask",
			    port);
	if (ev_test(port, EV_PENDING))
		return fail(c, "port %u still pending after its upcall", port);
	return 0;
}

int check_mask(struct check *c)
{
	uint32_t port;
	long rc = ev_bind_ipi(0, &port);
	int ret = -1;

	if (rc)
		return fail(c, "bind_ipi(vcpu 0): rc %ld", rc);
	if (port_tracked(c, port) && !masked_send(c, port))
		ret = unmask_delivers(c, port);
	if (close_checked(c, port))
		ret = -1;
	return ret;
}

int check_bind_vcpu(struct check *c)
{
	struct evtchn_status st;
	uint32_t a, b;
	domid_t self;
	long rc;
	int ret = -1;

	if (!helper_ready(c, 1) || loopback_open(c, &a, &b, &self))
		return -1;
	rc = ev_bind_vcpu(b, 1);
	if (rc) {
		fail(c, "bind_vcpu(port %u, vcpu 1): rc %ld", b, rc);
		goto out;
	}
	rc = ev_status(b, &st);
	if (rc || st.vcpu != 1) {
		fail(c, "status of port %u: rc %ld, vcpu %u", b, rc, st.vcpu);
		goto out;
	}
	ret = send_reaches(c, a, b, 1);
out:
	return loopback_close(c, a, b) ? -1 : ret;
}

/* @first, closed with an event pending, comes back from the next
 * bind_ipi (the lowest free port) for vCPU 1, without that event. */
static int rebind(struct check *c, uint32_t first, uint32_t *second)
{
	long rc;

	ev_mask(first);
	rc = ev_send(first);
	if (rc)
		return fail(c, "send on port %u: rc %ld", first, rc);
	if (close_checked(c, first))
		return -1;
	rc = ev_bind_ipi(1, second);
	if (rc)
		return fail(c, "bind_ipi(vcpu 1) after close: rc %ld", rc);
	if (*second != first)
		return fail(c, "rebind got port %u, the closed one was %u",
			    *second, first);
	if (ev_test(*second, EV_PENDING))
		return fail(c, "port %u still pending from its old binding",
			    *second);
	return 0;
}

int check_rebind(struct check *c)
{
	uint32_t first, second = 0, before[GUEST_MAX_VCPUS];
	long rc;
	int ret;

	if (!helper_ready(c, 1))
		return -1;
	rc = ev_bind_ipi(0, &first);
	if (rc)
		return fail(c, "bind_ipi(vcpu 0): rc %ld", rc);
	if (!port_tracked(c, first)) {
		close_checked(c, first);
		return -1;
	}
	ret = rebind(c, first, &second);
	if (!second)
		return -1; /* nothing bound any more */
	if (!ret) {
		counts_of(second, before);
		rc = ev_send(second);
		ret = rc ? fail(c, "send on port %u: rc %ld", second, rc)
			 : arrives_once(c, 1, second, before);
	}
	return close_checked(c, second) ? -1 : ret;
}

/* Something of each kind open, so that the reset has work to do. */
static void open_some(struct check *c)
{
	uint32_t port, a;
	long rc;

	rc = ev_bind_ipi(0, &port);
	if (rc)
		fail(c, "bind_ipi before the reset: rc %ld", rc);
	rc = ev_bind_virq(VIRQ_TIMER, 0, &port);
	if (rc)
		fail(c, "bind_virq before the reset: rc %ld", rc);
	rc = ev_alloc_unbound(&a);
	if (rc)
		fail(c, "alloc_unbound before the reset: rc %ld", rc);
	else if ((rc = ev_bind_interdomain(a, &port)))
		fail(c, "bind_interdomain before the reset: rc %ld", rc);
}

/* After the reset a bind works and its port takes an event. */
static int bind_after_reset(struct check *c)
{
	uint32_t port, before[GUEST_MAX_VCPUS];
	long rc = ev_bind_ipi(0, &port);
	int ret = -1;

	if (rc)
		return fail(c, "bind_ipi after the reset: rc %ld", rc);
	if (port_tracked(c, port)) {
		counts_of(port, before);
		rc = ev_send(port);
		ret = rc ? fail(c, "send on port %u: rc %ld", port, rc)
			 : arrives_once(c, 0, port, before);
	}
	/* Closed again: the switch to FIFO wants no event in flight. */
	return close_checked(c, port) ? -1 : ret;
}

int check_reset(struct check *c)
{
	long rc;

	open_some(c);
	rc = ev_reset();
	if (rc)
		return fail(c, "EVTCHNOP_reset(self): rc %ld", rc);
	for (uint32_t port = 1; port < NR_TRACKED_PORTS; port++) {
		if (ev_port_used(port) &&
		    status_is(c, port, EVTCHNSTAT_closed, 0, 0))
			return -1;
	}
	if (bind_after_reset(c))
		return -1;
	/* open_some() may have failed while the rest passed */
	return c->detail[0] ? -1 : 0;
}

/*
 * Every vCPU's control block, then one event-array page.  The hypervisor
 * speaks FIFO from the first EVTCHNOP_init_control on, so the handler
 * switches before it; no event is in flight (every port is closed).
 */
int check_fifo_switch(struct check *c)
{
	uint32_t n = setup.nr_vcpus < GUEST_MAX_VCPUS ? setup.nr_vcpus
						       : GUEST_MAX_VCPUS;
	uint8_t bits;
	long rc;

	ev_set_abi(&abi_fifo_ops);
	for (uint32_t v = 0; v < n; v++) {
		rc = fifo_init_vcpu(v, &bits);
		if (rc && v == 0)
			ev_set_abi(&abi_2l_ops); /* still 2-level */
		if (rc)
			return fail(c, "init_control(vcpu %u): rc %ld", v, rc);
		if (bits != EVTCHN_FIFO_LINK_BITS)
			return fail(c, "init_control(vcpu %u): link_bits %u", v,
				    bits);
	}
	rc = fifo_expand();
	if (rc)
		return fail(c, "expand_array: rc %ld", rc);
	fifo_ready = true;
	return 0;
}

/* The FIFO runs of earlier checks: only on a domain that switched. */
static int on_fifo(struct check *c, int (*run)(struct check *))
{
	if (!fifo_ready)
		return fail(c, "the switch to FIFO failed");
	return run(c);
}

int check_ipi_fifo(struct check *c)
{
	return on_fifo(c, check_ipi);
}

int check_singleshot_fifo(struct check *c)
{
	return on_fifo(c, check_singleshot);
}

int check_loopback_fifo(struct check *c)
{
	return on_fifo(c, check_loopback);
}

int check_mask_fifo(struct check *c)
{
	return on_fifo(c, check_mask);
}
