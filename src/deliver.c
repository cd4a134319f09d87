/* SPDX-License-Identifier: MIT */
/*
 * The send path: from a port to the ABI producer and the upcall.
 *
 * Contract (DESIGN invariant 2): no mutex, no allocation, no system call
 * except, with the KVM back end, the KVM_XEN_HVM_EVTCHN_SEND ioctl.
 * Callers hold the RCU read lock, which keeps every domain and port they
 * can reach alive and every port they read unreusable (see the freeing
 * protocol in port.c).  The VMM's upcall callback is owed here and made
 * when the caller's outermost read-side section ends (upcall.c).
 */
#include <errno.h>

#include "internal.h"
#include "park.h"
#include "rcu.h"
#include "trace.h"

static uint32_t deliver_port_notify(struct evtchn_port *p)
{
	/* pairs with the release store in port_set_notify() */
	return atomic_load_explicit(&p->notify_vcpu, memory_order_acquire);
}

/* Xen's vcpu_mark_events_pending(): raise the upcall only on the 0->1
 * transition of evtchn_upcall_pending. */
void vcpu_mark_events_pending(struct evtchn_domain *d, struct evtchn_vcpu *v)
{
	/* pairs with the release store in map_vcpu_info() */
	unsigned char *vi =
		atomic_load_explicit(&v->vcpu_info, memory_order_acquire);

	_Static_assert(offsetof(struct vcpu_info_x86_64,
				evtchn_upcall_pending) == 0 &&
			       offsetof(struct vcpu_info_x86_32,
					evtchn_upcall_pending) == 0,
		       "upcall_pending is byte 0 in both layouts");
	if (__atomic_fetch_or(vi, 1, __ATOMIC_SEQ_CST) & 1)
		return;
	trace_upcall(d->domid, v->id);
	/* Xen's vcpu_kick(), where the upcall method kicks: a vCPU blocked
	 * in SCHEDOP_poll wakes, whatever it polls. */
	if (upcall_raise(d, v))
		poll_kick(v);
}

/* Xen's evtchn_port_set_pending(): deliver on @port at vCPU @vcpu if the
 * port is usable. */
void deliver_port(struct evtchn_domain *d, uint32_t vcpu, uint32_t port)
{
	struct evtchn_vcpu *v = domain_vcpu(d, vcpu);

	trace_deliver(d->domid, vcpu, port);
	PARK_POINT("deliver:port", port);
	/* A port a backend handle owns: its queue, not shared_info. */
	if (backend_deliver(d, port))
		return;
	/* With the KVM back end, KVM delivers what it can, so that a vCPU
	 * blocked in KVM's SCHEDOP_poll wakes. */
	if (kvm_deliver(d, vcpu, port))
		return;
	if (v)
		domain_abi(d)->set_pending(d, v, port);
}

/* EVTCHNOP_send from @ld's port @lport (Xen's evtchn_send()).  RCU held. */
static int send_rcu(struct evtchn_domain *ld, uint32_t lport)
{
	struct evtchn_port *lchn, *rchn;
	struct evtchn_domain *rd;
	uint32_t rport;
	uint64_t b;

	if (!port_is_valid(ld, lport))
		return -XEN_EINVAL;
	lchn = port_get(ld, lport);
	b = port_bind(lchn);
	if (b & BIND_ZOMBIE)
		return -XEN_EINVAL;
	switch (bind_state(b)) {
	case ECS_INTERDOMAIN:
		/* A route replaces the delivery Xen would make. */
		if (route_send(ld, lport))
			return 0;
		rd = host_domain_rcu(ld->host, bind_dom(b));
		rport = bind_port(b);
		PARK_POINT("send:interdomain", lport);
		/* A peer that is being destroyed: the event is dropped as it
		 * would be an instant later, when the port is unbound. */
		if (!rd || !port_is_valid(rd, rport))
			return 0;
		rchn = port_get(rd, rport);
		if (bind_usable(port_bind(rchn)))
			deliver_port(rd, deliver_port_notify(rchn), rport);
		return 0;
	case ECS_IPI:
		if (!route_send(ld, lport))
			deliver_port(ld, deliver_port_notify(lchn), lport);
		return 0;
	case ECS_UNBOUND:
		/* Xen: silently dropped. */
		return 0;
	default:
		return -XEN_EINVAL;
	}
}

int evtchn_send_locked_rcu(struct evtchn_domain *ld, uint32_t lport)
{
	int rc = send_rcu(ld, lport);

	trace_send(ld->domid, lport, rc);
	return rc;
}

int evtchn_port_raise(struct evtchn_domain *d, uint32_t port)
{
	struct evtchn_port *p;
	int rc = -EINVAL;

	evtchn_rcu_read_lock();
	if (port_is_valid(d, port)) {
		p = port_get(d, port);
		if (bind_usable(port_bind(p))) {
			deliver_port(d, deliver_port_notify(p), port);
			rc = 0;
		}
	}
	evtchn_rcu_read_unlock();
	return rc;
}

/* Xen's send_guest_vcpu_virq() / send_guest_global_virq(). */
int evtchn_send_virq(struct evtchn_domain *d, uint32_t vcpu, uint32_t virq)
{
	struct evtchn_vcpu *v;
	struct evtchn_port *p;
	uint32_t port;
	uint64_t b;
	bool global;

	if (virq >= NR_VIRQS)
		return -EINVAL;
	global = virq_is_global(virq);
	v = domain_vcpu(d, global ? 0 : vcpu);
	if (!v)
		return -EINVAL;

	evtchn_rcu_read_lock();
	/* pairs with the release store in evtchn_bind_virq() */
	port = atomic_load_explicit(&v->virq_to_evtchn[virq],
				    memory_order_acquire);
	if (port == 0 || !port_is_valid(d, port))
		goto out;
	p = port_get(d, port);
	b = port_bind(p);
	if (!bind_usable(b) || bind_state(b) != ECS_VIRQ ||
	    bind_virq(b) != virq)
		goto out;
	deliver_port(d, global ? deliver_port_notify(p) : v->id, port);
out:
	evtchn_rcu_read_unlock();
	return 0;
}
