/* SPDX-License-Identifier: MIT */
/*
 * The port table: storage grown in buckets on demand, lowest-free
 * allocation, and the freeing protocol that keeps lock-free senders safe.
 *
 * Freeing protocol.  Senders read a port's binding without any lock (under
 * RCU).  A port that is closed is first unpublished (its binding becomes
 * FREE|ZOMBIE: no new sender delivers to it and nobody allocates it), then,
 * after a grace period in which every sender that saw the old binding has
 * finished, it is finished: pending cleared, notify vCPU 0, allocatable.
 * So an event sent while a port is closed reaches the old binding or is
 * dropped, never a binding made later (DESIGN invariant 3).
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "park.h"
#include "rcu.h"
#include "trace.h"

/*
 * Every change of a port's binding or notify vCPU goes through these two
 * (domain lock held), and from here to the listeners of the port table:
 * the KVM back end, which keeps KVM's copy in line.
 */
static void port_changed(struct evtchn_domain *d, uint32_t port)
{
#ifdef EVTCHN_PARK
	uint32_t n = atomic_fetch_add_explicit(&d->test_nchanged, 1,
					       memory_order_relaxed);

	if (n < TEST_CHANGED_MAX)
		atomic_store_explicit(&d->test_changed[n], port,
				      memory_order_relaxed);
#endif
	kvm_port_changed(d, port);
}

void port_set_bind(struct evtchn_domain *d, uint32_t port, uint64_t bind)
{
	/* pairs with the acquire load in port_bind() */
	atomic_store_explicit(&port_get(d, port)->bind, bind,
			      memory_order_release);
	port_changed(d, port);
}

void port_set_notify(struct evtchn_domain *d, uint32_t port, uint32_t vcpu)
{
	/* Senders read it after the binding (acquire) or on its own; either
	 * value is a binding that existed during the send.  pairs with the
	 * acquire load in deliver_port_notify() */
	atomic_store_explicit(&port_get(d, port)->notify_vcpu, vcpu,
			      memory_order_release);
	port_changed(d, port);
}

/* Give ports [valid_ports, valid_ports + 64) storage.  Called with the
 * domain lock held, for the first port past the valid range only. */
int port_alloc_bucket(struct evtchn_domain *d, uint32_t port)
{
	uint32_t gi = port / PORTS_PER_GROUP;
	uint32_t bi = (port / EVTCHN_PORTS_PER_BUCKET) % BUCKETS_PER_GROUP;
	struct evtchn_bucket *b;

	domain_assert_locked(d);
	if (gi >= NR_GROUPS)
		return -XEN_ENOSPC;
	if (!d->group[gi]) {
		d->group[gi] = calloc(BUCKETS_PER_GROUP, sizeof(*d->group[gi]));
		if (!d->group[gi])
			return -XEN_ENOMEM;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -XEN_ENOMEM;
	d->group[gi][bi] = b;
	/* Publish the bucket before the ports in it become valid.
	 * pairs with the acquire load in port_is_valid() */
	atomic_store_explicit(&d->valid_ports,
			      (port / EVTCHN_PORTS_PER_BUCKET + 1) *
				      EVTCHN_PORTS_PER_BUCKET,
			      memory_order_release);
	return 0;
}

/* Xen's evtchn_allocate_port(): 0, -EBUSY (in use), -EAGAIN (free but
 * still linked: Xen's -EBUSY too), -ENOSPC, -ENOMEM. */
static int port_allocate(struct evtchn_domain *d, uint32_t port)
{
	const struct evtchn_abi_ops *abi = domain_abi(d);

	if (port > d->max_evtchn_port || port >= abi->max_ports(d))
		return -XEN_ENOSPC;
	if (port_is_valid(d, port)) {
		uint64_t b = port_bind(port_get(d, port));

		if (bind_state(b) != ECS_FREE || (b & BIND_ZOMBIE) ||
		    kvm_port_held(d, port))
			return -XEN_EBUSY;
		/* FIFO: still linked on a queue the guest has not drained. */
		if (abi->is_busy && abi->is_busy(d, port))
			return -XEN_EAGAIN;
		return 0;
	}
	return port_alloc_bucket(d, port);
}

/*
 * Free ports the search passed while they were still LINKED (FIFO): they
 * become allocatable when the guest unlinks them, which the library does
 * not see, so they are kept in a bitmap that allocation looks at first,
 * and the hint moves on past them.  Returns false when there is no memory
 * for the bitmap.
 */
static bool linked_add(struct evtchn_domain *d, uint32_t port)
{
	uint64_t m = 1ull << (port % 64);

	if (!d->linked) {
		d->linked = calloc(STORAGE_MAX_PORTS / 64, sizeof(*d->linked));
		if (!d->linked)
			return false;
	}
	if (!(d->linked[port / 64] & m)) {
		d->linked[port / 64] |= m;
		d->nr_linked++;
		if (port / 64 < d->linked_lo)
			d->linked_lo = port / 64;
		if (port / 64 > d->linked_hi)
			d->linked_hi = port / 64;
	}
	return true;
}

static void linked_remove(struct evtchn_domain *d, uint32_t port)
{
	uint64_t m = 1ull << (port % 64);

	if (d->linked && (d->linked[port / 64] & m)) {
		d->linked[port / 64] &= ~m;
		d->nr_linked--;
	}
}

/* The lowest kept port that is free and unlinked now; drops the ones that
 * were bound meanwhile.  One pass over the bitmap. */
static uint32_t linked_lowest(struct evtchn_domain *d)
{
	if (!d->nr_linked)
		return UINT32_MAX;
	/* No kept port outside words linked_lo..linked_hi. */
	while (!d->linked[d->linked_lo])
		d->linked_lo++;
	for (uint32_t w = d->linked_lo; w <= d->linked_hi; w++) {
		uint64_t bits = d->linked[w];

		while (bits) {
			uint32_t p = w * 64 + __builtin_ctzll(bits);
			int rc = port_allocate(d, p);

			bits &= bits - 1;
			if (rc == -XEN_EBUSY)
				linked_remove(d, p);
			else if (rc == 0)
				return p;
		}
	}
	return UINT32_MAX;
}

int port_get_free(struct evtchn_domain *d)
{
	uint32_t port, best, stuck = UINT32_MAX;

	domain_assert_locked(d);
	if (d->dying)
		return -XEN_EINVAL;
	best = linked_lowest(d);
	if (best < d->free_hint) {
		/* The caller may leave it free (a bind that fails after the
		 * allocation): the hint keeps it findable. */
		d->free_hint = best;
		linked_remove(d, best);
		return (int)best;
	}
	/* From the hint; a kept port at or above it is met on the way. */
	for (port = d->free_hint;; port++) {
		int rc = port_allocate(d, port);

		if (rc == -XEN_EAGAIN && !linked_add(d, port) &&
		    stuck == UINT32_MAX)
			stuck = port; /* not kept: the hint stays below it */
		if (rc == 0) {
			d->free_hint = port < stuck ? port : stuck;
			linked_remove(d, port);
			return (int)port;
		}
		if (rc != -XEN_EBUSY && rc != -XEN_EAGAIN)
			return rc;
	}
}

/* Unpublish @port (lock held).  The caller must finish it after a grace
 * period with port_free_finish(). */
void port_free_begin(struct evtchn_domain *d, uint32_t port)
{
	domain_assert_locked(d);
	trace_close(d->domid, port);
	/* The binding first, then the owner slot: a sender that finds the
	 * slot empty reads the binding again (backend_deliver()). */
	port_set_bind(d, port, bind_make(ECS_FREE, 0, 0) | BIND_ZOMBIE);
	backend_disown(d, port);
	PARK_POINT("port:unpublished", port);
}

/* Xen's evtchn_free(): clear pending, notify vCPU 0; the mask bit is left
 * alone, and so is an event FIFO saved while its event-array page was
 * missing (Xen never clears it).  Lock held; a grace period has passed
 * since port_free_begin(). */
void port_free_finish(struct evtchn_domain *d, uint32_t port)
{
	struct evtchn_port *p = port_get(d, port);

	domain_assert_locked(d);
	domain_abi(d)->clear_pending(d, port);
	(void)p;
	port_set_notify(d, port, 0);
	port_set_bind(d, port, bind_make(ECS_FREE, 0, 0));
	if (port < d->free_hint)
		d->free_hint = port;
}

void port_table_destroy(struct evtchn_domain *d)
{
	free(d->linked);
	d->linked = NULL;
	for (uint32_t g = 0; g < NR_GROUPS; g++) {
		if (!d->group[g])
			continue;
		for (uint32_t b = 0; b < BUCKETS_PER_GROUP; b++)
			free(d->group[g][b]);
		free(d->group[g]);
		d->group[g] = NULL;
	}
}

/* x86 Xen 4.17: TIMER, DEBUG, XENOPROF and XENPMU are per-vCPU; every other
 * VIRQ (ARGO and the ARCH range included) is global: bound on vCPU 0 and
 * movable with bind_vcpu. */
bool virq_is_global(uint32_t virq)
{
	switch (virq) {
	case VIRQ_TIMER:
	case VIRQ_DEBUG:
	case VIRQ_XENOPROF:
	case VIRQ_XENPMU:
		return false;
	default:
		return true;
	}
}
