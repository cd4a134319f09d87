/* SPDX-License-Identifier: MIT */
/*
 * Checks 18-21: what the guest's channels meet outside it, through the
 * VMM's echo device (vmm_abi.h): a backend in domain 0, a doorbell and
 * interrupt pair of routes on eventfds, an MSI to a PIRQ; then a measured
 * load of each.  Each check sets up what it needs and removes it again.
 */
#include "guest.h"

#include <xen/physdev.h>

#define TRIPS 20u        /* round trips a check makes */
#define LOAD_TRIPS 500u  /* round trips a measured load makes */

static struct vmm_dev_req req __attribute__((aligned(8)));

int dev_request(uint32_t op, uint32_t port, uint32_t port2, uint32_t vcpu,
		uint32_t pirq)
{
	req = (struct vmm_dev_req){ .op = op, .port = port, .port2 = port2,
				    .vcpu = vcpu, .pirq = pirq,
				    .result = -GUEST_ENOSYS };
	outl(VMM_PORT_DEVICE, (uint32_t)(uintptr_t)&req);
	return __atomic_load_n(&req.result, __ATOMIC_SEQ_CST);
}

/* Xen raises an event on the local end of a new interdomain channel:
 * taken before anything is counted. */
static int bind_event(struct check *c, uint32_t port)
{
	if (ev_wait(0, port, 1, WAIT_NS) && !ev_count(0, port))
		return fail(c, "the event bind_interdomain raised on port %u "
			       "was lost", port);
	return 0;
}

/* A channel to the backend: local port in *@port. */
static int backend_channel(struct check *c, uint32_t *port)
{
	int rport = dev_request(VMM_DEV_BACKEND, 0, 0, 0, 0);
	long rc;

	if (rport < 0)
		return fail(c, "the VMM's backend gave no port: %d", rport);
	rc = ev_bind_interdomain_dom(0, (uint32_t)rport, port);
	if (rc)
		return fail(c, "bind_interdomain to domain 0 port %d: rc %ld",
			    rport, rc);
	if (!port_tracked(c, *port))
		return -1;
	return bind_event(c, *port);
}

/* A loopback pair whose first end @a rings a doorbell answered on its
 * second end @b (VMM_DEV_ROUTE_ECHO). */
static int route_pair(struct check *c, uint32_t *a, uint32_t *b)
{
	int rc;

	if (ev_alloc_unbound(a) || ev_bind_interdomain(*a, b))
		return fail(c, "the loopback pair could not be bound");
	if (!port_tracked(c, *a) || !port_tracked(c, *b) || bind_event(c, *b))
		return -1;
	rc = dev_request(VMM_DEV_ROUTE_ECHO, *a, *b, 0, 0);
	return rc ? fail(c, "routes for ports %u and %u: %d", *a, *b, rc) : 0;
}

/* A PIRQ for MSIs bound to *@port, and a doorbell on *@bell whose answer
 * is an MSI to it (VMM_DEV_MSI_ECHO). */
static int msi_pirq(struct check *c, uint32_t *bell, uint32_t *port)
{
	struct physdev_get_free_pirq g = { .type = MAP_PIRQ_TYPE_MSI };
	uint32_t other;
	long rc = hc_physdev_op(PHYSDEVOP_get_free_pirq, &g);

	if (rc)
		return fail(c, "get_free_pirq(MSI): rc %ld", rc);
	rc = ev_bind_pirq(g.pirq, port);
	if (rc)
		return fail(c, "bind_pirq(%u): rc %ld", g.pirq, rc);
	if (ev_alloc_unbound(bell) || ev_bind_interdomain(*bell, &other))
		return fail(c, "the doorbell pair could not be bound");
	if (!port_tracked(c, *port) || bind_event(c, other))
		return -1;
	rc = dev_request(VMM_DEV_MSI_ECHO, *bell, 0, 0, g.pirq);
	return rc ? fail(c, "MSI routes for PIRQ %u: rc %ld", g.pirq, rc) : 0;
}

static int clean(struct check *c, int ret)
{
	int rc = dev_request(VMM_DEV_CLEAR, 0, 0, 0, 0);
	long r = ev_reset();

	ev_set_abi(&abi_2l_ops);
	if (!ret && rc)
		return fail(c, "clearing the device's routes: %d", rc);
	if (!ret && r)
		return fail(c, "reset: rc %ld", r);
	return ret;
}

int check_backend(struct check *c)
{
	uint32_t port;
	int ret = backend_channel(c, &port);

	if (!ret)
		ret = round_trips(c, port, port, 0, TRIPS);
	return clean(c, ret);
}

int check_route_echo(struct check *c)
{
	uint32_t a, b, before[GUEST_MAX_VCPUS];
	int ret = route_pair(c, &a, &b);

	if (!ret)
		ret = round_trips(c, a, b, 0, TRIPS);
	/* the other end has no route: Xen's delivery, to @a */
	if (!ret) {
		counts_of(a, before);
		if (ev_send(b))
			ret = fail(c, "send on port %u failed", b);
		else
			ret = arrives_once(c, 0, a, before);
	}
	return clean(c, ret);
}

int check_msi_echo(struct check *c)
{
	uint32_t bell, port;
	int ret = msi_pirq(c, &bell, &port);

	if (!ret)
		ret = round_trips(c, bell, port, 0, TRIPS);
	return clean(c, ret);
}

/* A measured load of each: backend notifications, routed doorbells,
 * MSIs to a PIRQ. */
int check_load_devices(struct check *c)
{
	uint32_t be, a, b, bell, pirq_port;
	int ret = backend_channel(c, &be);

	if (!ret)
		ret = route_pair(c, &a, &b);
	if (!ret)
		ret = msi_pirq(c, &bell, &pirq_port);
	if (!ret) {
		load_begin();
		ret = round_trips(c, be, be, 0, LOAD_TRIPS);
		load_end(c, "backend", LOAD_TRIPS, ret);
	}
	if (!ret) {
		load_begin();
		ret = round_trips(c, a, b, 0, LOAD_TRIPS);
		load_end(c, "route", LOAD_TRIPS, ret);
	}
	if (!ret) {
		load_begin();
		ret = round_trips(c, bell, pirq_port, 0, LOAD_TRIPS);
		load_end(c, "msi", LOAD_TRIPS, ret);
	}
	return clean(c, ret);
}
