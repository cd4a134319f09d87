/* SPDX-License-Identifier: MIT */
/*
 * EVTCHNOP_*: one function per sub-op with Xen's order of checks, and one
 * table-driven dispatcher (copy in, call, copy out on success).
 *
 * Locking: d->lock is Xen's event_lock.  Anything that needs another
 * domain takes the host's xlock first (see struct evtchn_host).  Senders
 * take no lock at all (deliver.c); ports are freed with the protocol in
 * port.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "park.h"
#include "rcu.h"
#include "trace.h"

/* Xen's evtchn_port_init(): what the ABI does for a newly bound port,
 * and a handle's claim on it.  -ENOMEM (no memory for the claim) leaves
 * the port free and untouched. */
static int port_init(struct evtchn_domain *d, uint32_t port)
{
	const struct evtchn_abi_ops *abi = domain_abi(d);
	int rc = backend_claim(d, port);

	if (rc)
		return rc;
	if (abi->init_port)
		abi->init_port(d, port);
	return 0;
}

/* Publish a new binding of @port (lock held). */
static void port_bound(struct evtchn_domain *d, uint32_t port, uint64_t b)
{
	port_set_bind(d, port, b);
	trace_bind(d->domid, port, bind_state(b),
		   bind_state(b) == ECS_IPI
			   ? atomic_load(&port_get(d, port)->notify_vcpu)
		   : bind_state(b) == ECS_PIRQ ? bind_port(b)
					       : bind_dom(b));
}

/*
 * Xen's rcu_lock_domain_by_any_id() for a control operation of @cur on
 * @domid.  Another domain is looked up under the host's xlock, which keeps
 * it alive; *xheld says whether the caller must release it.
 */
static struct evtchn_domain *domain_by_any_id(struct evtchn_domain *cur,
					      domid_t domid, bool *xheld)
{
	struct evtchn_domain *d;

	*xheld = false;
	if (domid == DOMID_SELF || domid == cur->domid)
		return cur;
	lib_lock(&cur->host->xlock);
	d = host_domain_rcu(cur->host, domid);
	if (!d) {
		lib_unlock(&cur->host->xlock);
		return NULL;
	}
	*xheld = true;
	return d;
}

static void domain_put(struct evtchn_domain *cur, bool xheld)
{
	if (xheld)
		lib_unlock(&cur->host->xlock);
}

/* Xen's dummy XSM policy for XSM_TARGET hooks: yourself, or a control
 * domain acting on another. */
static bool xsm_target_ok(struct evtchn_domain *cur, struct evtchn_domain *d)
{
	return cur == d || cur->privileged;
}

static long op_alloc_unbound(struct evtchn_domain *cur, uint32_t vcpu,
			     void *arg)
{
	struct evtchn_alloc_unbound *a = arg;
	struct evtchn_domain *d;
	domid_t remote;
	bool xheld;
	long rc;

	(void)vcpu;
	d = domain_by_any_id(cur, a->dom, &xheld);
	if (!d)
		return -XEN_ESRCH;
	domain_lock(d);
	rc = port_get_free(d);
	if (rc < 0)
		goto out;
	a->port = (evtchn_port_t)rc;
	if (!xsm_target_ok(cur, d)) {
		rc = -XEN_EPERM; /* the port stays free */
		goto out;
	}
	/* DOMID_SELF names the caller, not the domain the port is in. */
	remote = a->remote_dom == DOMID_SELF ? cur->domid : a->remote_dom;
	rc = port_init(d, a->port);
	if (rc)
		goto out;
	port_bound(d, a->port, bind_make(ECS_UNBOUND, remote, 0));
	rc = 0;
out:
	domain_unlock(d);
	domain_put(cur, xheld);
	return rc;
}

static long op_bind_interdomain(struct evtchn_domain *ld, uint32_t vcpu,
				void *arg)
{
	struct evtchn_bind_interdomain *b = arg;
	domid_t rdom = b->remote_dom == DOMID_SELF ? ld->domid : b->remote_dom;
	struct evtchn_domain *rd;
	struct evtchn_port *rchn;
	bool xheld, waited = false;
	uint64_t rb, settled = 0;
	long rc;
	int lport;

	(void)vcpu;
again:
	rd = domain_by_any_id(ld, rdom, &xheld);
	if (!rd)
		return -XEN_ESRCH;
	domain_lock_pair(ld, rd);
	lport = port_get_free(ld);
	if (lport < 0) {
		rc = lport;
		goto out;
	}
	rc = -XEN_EINVAL;
	if (!port_is_valid(rd, b->remote_port))
		goto out;
	rchn = port_get(rd, b->remote_port);
	rb = port_bind(rchn);
	if ((rb & BIND_ZOMBIE) || bind_state(rb) != ECS_UNBOUND ||
	    bind_dom(rb) != ld->domid)
		goto out;
	if ((rb & BIND_SETTLING) && (!waited || rb != settled)) {
		/* Its old channel closed a moment ago: let every sender that
		 * saw that channel finish first, or its event would reach the
		 * new one.  Then look again from the start: the same settle
		 * (its generation unchanged) is over; another channel may have
		 * been bound and closed meanwhile, and is waited for too. */
		domain_unlock_pair(ld, rd);
		domain_put(ld, xheld);
		PARK_POINT("bind_interdomain:settling", b->remote_port);
		evtchn_synchronize_rcu();
		PARK_POINT("bind_interdomain:waited", b->remote_port);
		waited = true;
		settled = rb;
		goto again;
	}

	/* The local end first: a sender on the remote end that sees the new
	 * binding finds a bound local port. */
	rc = port_init(ld, lport);
	if (rc)
		goto out;
	port_bound(ld, lport,
		   bind_make(ECS_INTERDOMAIN, rd->domid, b->remote_port));
	port_bound(rd, b->remote_port,
		   bind_make(ECS_INTERDOMAIN, ld->domid, lport));
	b->local_port = lport;
	/* Xen: "We may have lost notifications on the remote unbound port",
	 * so the new local port is always made pending -- after the locks,
	 * so the VMM's interrupt callback runs under none of them.  The
	 * read-side section, entered first, keeps a close of the port that
	 * comes in between from finishing before the event is set (it then
	 * goes with the port, as any sender's). */
	evtchn_rcu_read_lock();
	domain_unlock_pair(ld, rd);
	domain_put(ld, xheld);
	deliver_port(ld, 0, lport);
	evtchn_rcu_read_unlock();
	return 0;
out:
	domain_unlock_pair(ld, rd);
	domain_put(ld, xheld);
	return rc;
}

static long op_bind_virq(struct evtchn_domain *d, uint32_t vcpu, void *arg)
{
	struct evtchn_bind_virq *b = arg;
	struct evtchn_vcpu *v;
	long rc;
	int port;

	(void)vcpu;
	if ((int32_t)b->virq < 0 || b->virq >= NR_VIRQS)
		return -XEN_EINVAL;
	if (virq_is_global(b->virq) && b->vcpu != 0)
		return -XEN_EINVAL;
	v = domain_vcpu(d, b->vcpu);
	if (!v)
		return -XEN_ENOENT;
	domain_lock(d);
	if (atomic_load(&v->virq_to_evtchn[b->virq])) {
		rc = -XEN_EEXIST;
		goto out;
	}
	port = port_get_free(d);
	if (port < 0) {
		rc = port;
		goto out;
	}
	rc = port_init(d, port);
	if (rc)
		goto out;
	port_set_notify(d, port, b->vcpu);
	port_bound(d, port, bind_make(ECS_VIRQ, b->virq, 0));
	/* Published last.  pairs with the acquire load in
	 * evtchn_send_virq() */
	atomic_store_explicit(&v->virq_to_evtchn[b->virq], port,
			      memory_order_release);
	/* the VIRQ table changed too (VIRQ_TIMER's port: KVM's timer) */
	kvm_port_changed(d, port);
	b->port = port;
	rc = 0;
out:
	domain_unlock(d);
	return rc;
}

/* Xen's evtchn_bind_pirq() for an HVM guest: any PIRQ below nr_pirqs,
 * mapped or not; flags are ignored; the port notifies vCPU 0. */
static long op_bind_pirq(struct evtchn_domain *d, uint32_t vcpu, void *arg)
{
	struct evtchn_bind_pirq *b = arg;
	long rc;
	int port;

	(void)vcpu;
	if (b->pirq >= d->nr_pirqs)
		return -XEN_EINVAL;
	domain_lock(d);
	rc = pirq_bind_check(d, b->pirq);
	if (rc)
		goto out;
	port = port_get_free(d);
	if (port < 0) {
		rc = port;
		goto out;
	}
	rc = port_init(d, port);
	if (rc)
		goto out;
	port_bound(d, port, bind_make(ECS_PIRQ, 0, b->pirq));
	pirq_set_port(d, b->pirq, port);
	b->port = port;
	rc = 0;
out:
	domain_unlock(d);
	return rc;
}

static long op_bind_ipi(struct evtchn_domain *d, uint32_t vcpu, void *arg)
{
	struct evtchn_bind_ipi *b = arg;
	long rc;
	int port;

	(void)vcpu;
	if (!domain_vcpu(d, b->vcpu))
		return -XEN_ENOENT;
	domain_lock(d);
	port = port_get_free(d);
	if (port < 0) {
		rc = port;
		goto out;
	}
	rc = port_init(d, port);
	if (rc)
		goto out;
	port_set_notify(d, port, b->vcpu);
	port_bound(d, port, bind_make(ECS_IPI, 0, 0));
	b->port = port;
	rc = 0;
out:
	domain_unlock(d);
	return rc;
}

/*
 * The state change of Xen's evtchn_close() with d1 (and d2, when the
 * channel crosses domains) locked.  Returns 1 when d2 must be locked first,
 * 0 when the port was unpublished (to be finished after a grace period), or
 * a negative error.
 */
static int close_locked(struct evtchn_domain *d1, uint32_t port1,
			struct evtchn_domain *d2, const struct be_port *owner)
{
	struct evtchn_port *chn1;
	struct evtchn_vcpu *v;
	uint64_t b;
	uint32_t virq;

	if (!port_is_valid(d1, port1))
		return -XEN_EINVAL;
	/* A handle closes only what it still owns, checked in the same hold
	 * of the lock as the unpublish: in between, the guest or a reset
	 * may close the port and the number may be bound again. */
	if (owner && !backend_owns(d1, port1, owner))
		return -XEN_EINVAL;
	chn1 = port_get(d1, port1);
	b = port_bind(chn1);
	if (b & BIND_ZOMBIE)
		return -XEN_EINVAL;
	switch (bind_state(b)) {
	case ECS_UNBOUND:
	case ECS_IPI:
		break;
	case ECS_PIRQ:
		/* The PIRQ's emulated IRQ stays mapped: a GSI mapped and
		 * unbound is dropped until the guest unmaps it (Xen). */
		pirq_set_port(d1, bind_port(b), 0);
		break;
	case ECS_VIRQ:
		virq = bind_virq(b);
		v = &d1->vcpu[virq_is_global(virq) ? 0
				: atomic_load(&chn1->notify_vcpu)];
		atomic_store_explicit(&v->virq_to_evtchn[virq], 0,
				      memory_order_release);
		break;
	case ECS_INTERDOMAIN:
		if (bind_dom(b) != d1->domid) {
			if (!d2)
				return 1;
			/* Closed and re-bound elsewhere while d1 was unlocked:
			 * Xen answers as if it had seen the port free. */
			if (d2->domid != bind_dom(b))
				return -XEN_EINVAL;
		} else {
			d2 = d1;
		}
		/* The peer becomes unbound, reserved for the closer; settling
		 * until the senders that saw the channel are done. */
		port_set_bind(d2, bind_port(b),
			      bind_make(ECS_UNBOUND, d1->domid,
					++d2->settle_gen) |
				      BIND_SETTLING);
		break;
	default: /* FREE, RESERVED */
		return -XEN_EINVAL;
	}
	port_free_begin(d1, port1);
	return 0;
}

/*
 * Close @port of @d1 (only while backend record @owner owns it, unless
 * @owner is NULL).  The caller holds no domain lock; it holds the host's
 * xlock when @xheld.  On success the port is unpublished; the caller
 * finishes it after a grace period (evtchn_close() does it at once).
 */
static int close_port(struct evtchn_domain *d1, uint32_t port1, bool xheld,
		      const struct be_port *owner)
{
	struct evtchn_host *h = d1->host;
	struct evtchn_domain *d2 = NULL;
	bool took_x = false;
	int rc;

	domain_lock(d1);
	rc = close_locked(d1, port1, NULL, owner);
	domain_unlock(d1);
	if (rc != 1)
		return rc;

	/* A channel to another domain: both locks, under xlock. */
	if (!xheld) {
		lib_lock(&h->xlock);
		took_x = true;
	}
	domain_lock(d1);
	if (port_is_valid(d1, port1))
		d2 = host_domain_rcu(h, bind_dom(port_bind(port_get(d1, port1))));
	domain_unlock(d1);
	if (!d2) {
		/* The peer is gone (its ports were closed): re-check alone. */
		domain_lock(d1);
		rc = close_locked(d1, port1, NULL, owner);
		domain_unlock(d1);
	} else {
		domain_lock_pair(d1, d2);
		rc = close_locked(d1, port1, d2, owner);
		domain_unlock_pair(d1, d2);
	}
	if (took_x)
		lib_unlock(&h->xlock);
	return rc == 1 ? -XEN_EINVAL : rc;
}

int evtchn_close(struct evtchn_domain *d, uint32_t port, bool guest)
{
	int rc;

	(void)guest; /* no Xen-consumed ports exist here */
	rc = close_port(d, port, false, NULL);
	if (rc)
		return rc;
	evtchn_synchronize_rcu();
	evtchn_close_finish(d, port);
	return 0;
}

int evtchn_close_owned(struct evtchn_domain *d, uint32_t port,
		       const struct be_port *owner)
{
	return close_port(d, port, false, owner);
}

void evtchn_close_finish(struct evtchn_domain *d, uint32_t port)
{
	domain_lock(d);
	port_free_finish(d, port);
	domain_unlock(d);
}

/*
 * Whether a walk over every port (destroy, reset) has something to close
 * at @port: a free port has not (close_port() would take the lock to
 * answer -EINVAL), so a domain with many valid ports and few bound ones is
 * walked without a lock round trip a port.  A port bound after this look
 * is one bound after the walk passed it.
 */
static bool port_in_use(struct evtchn_domain *d, uint32_t port)
{
	return bind_state(port_bind(port_get(d, port))) != ECS_FREE;
}

/* Close every port of a dying domain (xlock held).  Nothing is finished:
 * the domain is freed after a grace period. */
void evtchn_close_all(struct evtchn_domain *d)
{
	uint32_t n = atomic_load(&d->valid_ports);

	for (uint32_t port = 1; port < n; port++)
		if (port_in_use(d, port))
			(void)close_port(d, port, true, NULL);
}

static long op_close(struct evtchn_domain *d, uint32_t vcpu, void *arg)
{
	(void)vcpu;
	return evtchn_close(d, ((struct evtchn_close *)arg)->port, true);
}

static long op_send(struct evtchn_domain *d, uint32_t vcpu, void *arg)
{
	long rc;

	(void)vcpu;
	evtchn_rcu_read_lock();
	rc = evtchn_send_locked_rcu(d, ((struct evtchn_send *)arg)->port);
	evtchn_rcu_read_unlock();
	return rc;
}

/* What EVTCHNOP_status reports of @p: its status, notify vCPU and the
 * union member Xen writes (the rest of @s is left as it is). */
static void port_status(struct evtchn_port *p, struct evtchn_status *s)
{
	uint64_t b = port_bind(p);

	switch ((b & BIND_ZOMBIE) ? ECS_FREE : bind_state(b)) {
	case ECS_UNBOUND:
		s->status = EVTCHNSTAT_unbound;
		s->u.unbound.dom = bind_dom(b);
		break;
	case ECS_INTERDOMAIN:
		s->status = EVTCHNSTAT_interdomain;
		s->u.interdomain.dom = bind_dom(b);
		s->u.interdomain.port = bind_port(b);
		break;
	case ECS_PIRQ:
		s->status = EVTCHNSTAT_pirq;
		s->u.pirq = bind_port(b);
		break;
	case ECS_VIRQ:
		s->status = EVTCHNSTAT_virq;
		s->u.virq = bind_virq(b);
		break;
	case ECS_IPI:
		s->status = EVTCHNSTAT_ipi;
		break;
	default:
		s->status = EVTCHNSTAT_closed;
		break;
	}
	/* A port being freed is closed with vCPU 0 already, as in Xen. */
	s->vcpu = (b & BIND_ZOMBIE) ? 0 : atomic_load(&p->notify_vcpu);
}

static long op_status(struct evtchn_domain *cur, uint32_t vcpu, void *arg)
{
	struct evtchn_status *s = arg;
	struct evtchn_domain *d;
	bool xheld;
	long rc;

	(void)vcpu;
	d = domain_by_any_id(cur, s->dom, &xheld);
	if (!d)
		return -XEN_ESRCH;
	domain_lock(d);
	rc = -XEN_EINVAL;
	if (!port_is_valid(d, s->port))
		goto out;
	rc = -XEN_EPERM;
	if (!xsm_target_ok(cur, d))
		goto out;
	/* Only the fields Xen writes; the rest of the union is what the
	 * guest passed in. */
	port_status(port_get(d, s->port), s);
	rc = 0;
out:
	domain_unlock(d);
	domain_put(cur, xheld);
	return rc;
}

#ifdef EVTCHN_PARK
int evtchn_test_status(struct evtchn_domain *d, uint32_t first, uint32_t n,
		       struct evtchn_status *out)
{
	uint32_t valid, i;

	if (!d || (n && !out))
		return -EINVAL;
	domain_lock(d);
	valid = atomic_load(&d->valid_ports);
	for (i = 0; i < n && first < valid && i < valid - first; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].dom = d->domid;
		out[i].port = first + i;
		port_status(port_get(d, first + i), &out[i]);
	}
	domain_unlock(d);
	return (int)valid;
}

int evtchn_test_changed(struct evtchn_domain *d, uint32_t *ports,
			uint32_t max)
{
	uint32_t n, i;

	if (!d || (max && !ports))
		return -EINVAL;
	/* Nothing logged: no lock (the fuzz harness asks after every call;
	 * a change made meanwhile is as if made after the call). */
	if (!atomic_load_explicit(&d->test_nchanged, memory_order_acquire))
		return 0;
	domain_lock(d);
	n = atomic_load_explicit(&d->test_nchanged, memory_order_relaxed);
	for (i = 0; i < n && i < max && i < TEST_CHANGED_MAX; i++)
		ports[i] = atomic_load_explicit(&d->test_changed[i],
						memory_order_relaxed);
	atomic_store_explicit(&d->test_nchanged, 0, memory_order_relaxed);
	domain_unlock(d);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}
#endif

static long op_bind_vcpu(struct evtchn_domain *d, uint32_t vcpu, void *arg)
{
	struct evtchn_bind_vcpu *b = arg;
	struct evtchn_port *p;
	uint64_t bind;
	long rc = -XEN_EINVAL;

	(void)vcpu;
	if (!domain_vcpu(d, b->vcpu))
		return -XEN_ENOENT;
	domain_lock(d);
	if (!port_is_valid(d, b->port))
		goto out;
	p = port_get(d, b->port);
	bind = port_bind(p);
	if (bind & BIND_ZOMBIE)
		goto out;
	switch (bind_state(bind)) {
	case ECS_VIRQ:
		if (!virq_is_global(bind_virq(bind)))
			goto out;
		break;
	case ECS_UNBOUND:
	case ECS_INTERDOMAIN:
	case ECS_PIRQ:
		break;
	default: /* IPI, FREE, RESERVED */
		goto out;
	}
	/* 2-level: an event already pending stays where it was raised. */
	port_set_notify(d, b->port, b->vcpu);
	rc = 0;
out:
	domain_unlock(d);
	return rc;
}

static long op_unmask(struct evtchn_domain *d, uint32_t vcpu, void *arg)
{
	uint32_t port = ((struct evtchn_unmask *)arg)->port;
	struct evtchn_port *p;

	(void)vcpu;
	if (!port_is_valid(d, port))
		return -XEN_EINVAL;
	evtchn_rcu_read_lock();
	p = port_get(d, port);
	/* Not usable (free, reserved): nothing, not even the mask bit. */
	if (bind_usable(port_bind(p)))
		domain_abi(d)->unmask(d,
			       &d->vcpu[atomic_load_explicit(
				       &p->notify_vcpu, memory_order_acquire)],
			       port);
	evtchn_rcu_read_unlock();
	return 0;
}

/*
 * Xen's evtchn_reset() run to completion: close every port from 1 up (the
 * guest's way), then finish them after one grace period.  xlock is held by
 * the caller, so no other reset runs meanwhile.  Returns 0: unlike Xen,
 * never -EAGAIN (ports opened by other vCPUs during the reset, in buckets
 * added meanwhile, stay open).  A FIFO domain goes back to 2-level; its
 * FIFO state is left in *@fifo for the caller to release with
 * reset_release() once it holds no lock.
 */
static int evtchn_reset_domain(struct evtchn_domain *d,
			       struct fifo_domain **fifo)
{
	uint32_t n = atomic_load(&d->valid_ports);
	uint32_t *freed = malloc(n * sizeof(*freed));
	uint32_t nfreed = 0;

	for (uint32_t port = 1; port < n; port++) {
		if (!port_in_use(d, port) ||
		    close_port(d, port, true, NULL) != 0)
			continue;
		if (freed) {
			freed[nfreed++] = port;
			continue;
		}
		/* No memory for the batch: finish each port on its own. */
		evtchn_synchronize_rcu();
		domain_lock(d);
		port_free_finish(d, port);
		domain_unlock(d);
	}
	if (nfreed)
		evtchn_synchronize_rcu();
	domain_lock(d);
	for (uint32_t i = 0; i < nfreed; i++)
		port_free_finish(d, freed[i]);
	*fifo = fifo_detach(d);
	domain_unlock(d);
	free(freed);
	return 0;
}

/* The FIFO state a reset detached dies after a grace period (senders may
 * still link through it); its pages are unmapped then, under no lock and
 * outside the read side, as every call of the VMM's unmap callback is. */
static void reset_release(struct evtchn_domain *d, struct fifo_domain *fd)
{
	if (!fd)
		return;
	evtchn_synchronize_rcu();
	fifo_free(d, fd);
}

static long op_reset(struct evtchn_domain *cur, uint32_t vcpu, void *arg,
		     bool resuming)
{
	struct evtchn_reset *r = arg;
	struct evtchn_host *h = cur->host;
	struct fifo_domain *fd = NULL;
	struct evtchn_domain *d;
	bool xheld;
	long rc;

	(void)vcpu;
	d = domain_by_any_id(cur, r->dom, &xheld);
	if (!d)
		return -XEN_ESRCH;
	rc = -XEN_EPERM;
	if (!xsm_target_ok(cur, d))
		goto out;
	rc = -XEN_EINVAL;
	if (d != cur && !atomic_load(&d->paused))
		goto out;
	/* A reset runs to completion inside one call, so no reset is ever in
	 * progress for EVTCHNOP_reset_cont to resume. */
	rc = -XEN_EBUSY;
	if (resuming)
		goto out;
	if (!xheld) {
		lib_lock(&h->xlock);
		xheld = true;
	}
	rc = evtchn_reset_domain(d, &fd);
	/* Another domain stays alive until its pages are unmapped (destroy
	 * waits for it); the caller's own is alive for the whole call. */
	if (fd && d != cur)
		d->xrefs++;
out:
	domain_put(cur, xheld);
	if (fd) {
		reset_release(d, fd);
		if (d != cur)
			domain_unref(d);
	}
	return rc;
}

static long op_reset_new(struct evtchn_domain *d, uint32_t vcpu, void *arg)
{
	return op_reset(d, vcpu, arg, false);
}

static long op_reset_cont(struct evtchn_domain *d, uint32_t vcpu, void *arg)
{
	return op_reset(d, vcpu, arg, true);
}

static long op_init_control(struct evtchn_domain *d, uint32_t vcpu,
			    void *arg)
{
	(void)vcpu;
	return fifo_init_control(d, arg);
}

static long op_expand_array(struct evtchn_domain *d, uint32_t vcpu,
			    void *arg)
{
	(void)vcpu;
	return fifo_expand_array(d,
				 ((struct evtchn_expand_array *)arg)->array_gfn);
}

/* Xen's evtchn_set_priority(): invalid port -EINVAL; 2-level -ENOSYS;
 * unusable port -EACCES; priority above 15 -EINVAL. */
static long op_set_priority(struct evtchn_domain *d, uint32_t vcpu,
			    void *arg)
{
	struct evtchn_set_priority *sp = arg;
	const struct evtchn_abi_ops *abi;
	long rc;

	(void)vcpu;
	if (!port_is_valid(d, sp->port))
		return -XEN_EINVAL;
	evtchn_rcu_read_lock();
	abi = domain_abi(d);
	if (!abi->set_priority)
		rc = -XEN_ENOSYS;
	else if (!bind_usable(port_bind(port_get(d, sp->port))))
		rc = -XEN_EACCES;
	else
		rc = abi->set_priority(d, sp->port, sp->priority);
	evtchn_rcu_read_unlock();
	return rc;
}

struct evtchn_op_desc {
	long (*fn)(struct evtchn_domain *d, uint32_t vcpu, void *arg);
	size_t size;
	bool copy_out;
};

static const struct evtchn_op_desc evtchn_ops[] = {
	[EVTCHNOP_bind_interdomain] = { op_bind_interdomain,
					sizeof(struct evtchn_bind_interdomain),
					true },
	[EVTCHNOP_bind_virq] = { op_bind_virq, sizeof(struct evtchn_bind_virq),
				 true },
	[EVTCHNOP_bind_pirq] = { op_bind_pirq, sizeof(struct evtchn_bind_pirq),
				 true },
	[EVTCHNOP_close] = { op_close, sizeof(struct evtchn_close), false },
	[EVTCHNOP_send] = { op_send, sizeof(struct evtchn_send), false },
	[EVTCHNOP_status] = { op_status, sizeof(struct evtchn_status), true },
	[EVTCHNOP_alloc_unbound] = { op_alloc_unbound,
				     sizeof(struct evtchn_alloc_unbound),
				     true },
	[EVTCHNOP_bind_ipi] = { op_bind_ipi, sizeof(struct evtchn_bind_ipi),
				true },
	[EVTCHNOP_bind_vcpu] = { op_bind_vcpu, sizeof(struct evtchn_bind_vcpu),
				 false },
	[EVTCHNOP_unmask] = { op_unmask, sizeof(struct evtchn_unmask), false },
	[EVTCHNOP_reset] = { op_reset_new, sizeof(struct evtchn_reset),
			     false },
	[EVTCHNOP_init_control] = { op_init_control,
				    sizeof(struct evtchn_init_control), true },
	[EVTCHNOP_expand_array] = { op_expand_array,
				    sizeof(struct evtchn_expand_array),
				    false },
	[EVTCHNOP_set_priority] = { op_set_priority,
				    sizeof(struct evtchn_set_priority),
				    false },
	[EVTCHNOP_reset_cont] = { op_reset_cont, sizeof(struct evtchn_reset),
				  false },
};

long evtchn_op_local(struct evtchn_domain *d, int cmd, void *arg)
{
	if (cmd < 0 || (size_t)cmd >= sizeof(evtchn_ops) / sizeof(evtchn_ops[0]) ||
	    !evtchn_ops[cmd].fn)
		return -XEN_ENOSYS;
	return evtchn_ops[cmd].fn(d, 0, arg);
}

/* Xen's do_event_channel_op(): unknown cmd -ENOSYS; copy-in fault
 * -EFAULT; copy-out fault after success -EFAULT without rollback ("Cleaning
 * up here would be a mess!"). */
long do_event_channel_op(struct evtchn_domain *d, uint32_t vcpu, int cmd,
			 uint64_t arg)
{
	const struct evtchn_op_desc *op;
	union {
		struct evtchn_status status;
		struct evtchn_bind_interdomain bind_interdomain;
		struct evtchn_init_control init_control;
		uint64_t align;
	} buf;
	long rc;

	if (cmd < 0 || (size_t)cmd >= sizeof(evtchn_ops) / sizeof(evtchn_ops[0]) ||
	    !evtchn_ops[cmd].fn)
		return -XEN_ENOSYS;
	op = &evtchn_ops[cmd];
	_Static_assert(sizeof(buf) >= sizeof(struct evtchn_status), "buf");
	if (guest_copy_from(d, vcpu, arg, &buf, op->size))
		return -XEN_EFAULT;
	rc = op->fn(d, vcpu, &buf);
	if (rc == 0 && op->copy_out && guest_copy_to(d, vcpu, arg, &buf,
						     op->size))
		rc = -XEN_EFAULT;
	return rc;
}
