/* SPDX-License-Identifier: MIT */
/*
 * Backend handles (include/evtchn/backend.h): the userspace end of
 * interdomain channels, with Linux's /dev/xen/evtchn semantics.
 *
 * Each port a handle owns has a record (struct be_port) published in its
 * domain's owner table.  A sender (deliver_port(), under RCU) that finds a
 * record marks it in one atomic step:
 *   idle            -> QUEUED|MASKED, pushed on the handle's queue, fd
 *                      signalled;
 *   queued/masked   -> PENDING is remembered, reported after the unmask.
 * The queue is a lock-free stack that producers push on (compare and
 * swap) and the consumer empties in one exchange; each record is on it at
 * most once (QUEUED), so there is no ABA.  The consumer side (pending,
 * unmask, unbind, close) is serialised by the handle's mutex, never taken
 * by senders.  A record leaves the owner table before its port's grace
 * period, so no sender can reach it when it is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evtchn/backend.h"
#include "internal.h"
#include "park.h"
#include "rcu.h"

#define BE_QUEUED (1u << 0)  /* on the queue, not yet reported */
#define BE_MASKED (1u << 1)  /* reported (or queued), awaiting unmask */
#define BE_PENDING (1u << 2) /* an event arrived while queued or masked */

#define UNRESTRICTED 0xffffu

struct be_port {
	struct evtchn_backend *b;
	uint32_t port;
	_Atomic uint32_t state;
	struct be_port *_Atomic next;  /* on the shared stack */
	struct be_port *qnext;          /* on the consumer's list */
	struct be_port *lnext;          /* on the handle's list of ports */
	/* An eventfd KVM signals for a guest's send to this port (the KVM
	 * back end, backend_kernel_fd()); -1 none.  Set once (CAS), closed
	 * when the record goes. */
	_Atomic int kfd;
};

struct evtchn_backend {
	struct evtchn_domain *d;
	/* The handle's descriptor: an epoll set of efd (the library's
	 * wake-ups) and each port's kfd (KVM's). */
	int epfd;
	_Atomic unsigned nr_kfds;
	int efd;
	pthread_mutex_t lock;           /* consumer side */
	uint16_t restrict_domid;        /* under lock */
	struct be_port *_Atomic stack;  /* pushed by senders */
	struct be_port *qhead, *qtail;  /* consumer's FIFO, under lock */
	struct be_port *ports;          /* every record, under lock */
};

/* The thread's pending claim: the record a bind on this thread gives the
 * port it allocates (see backend_claim()). */
static __thread struct be_port *be_claim_rec;

static _Atomic(struct be_port *) *owner_slot(struct evtchn_domain *d,
					      uint32_t port)
{
	/* pairs with the release store in backend_claim() */
	be_slot_t *g = atomic_load_explicit(&d->be_owner[port / PORTS_PER_GROUP],
					    memory_order_acquire);

	return g ? &g[port % PORTS_PER_GROUP] : NULL;
}

/* --- producers (send path) ------------------------------------------ */

static void be_push(struct evtchn_backend *b, struct be_port *bp)
{
	struct be_port *head = atomic_load_explicit(&b->stack,
						    memory_order_relaxed);
	uint64_t one = 1;

	do {
		atomic_store_explicit(&bp->next, head, memory_order_relaxed);
		/* pairs with the acquire exchange in be_drain() */
	} while (!atomic_compare_exchange_weak_explicit(
		&b->stack, &head, bp, memory_order_release,
		memory_order_relaxed));
	/* The one system call of this path: wake the backend. */
	(void)!write(b->efd, &one, sizeof(one));
}

/* Mark @bp: queue it if idle, else remember the event. */
static void be_raise(struct be_port *bp)
{
	uint32_t old = atomic_load(&bp->state), new;

	do {
		if (old & (BE_QUEUED | BE_MASKED))
			new = old | BE_PENDING;
		else
			new = old | BE_QUEUED | BE_MASKED;
	} while (!atomic_compare_exchange_weak(&bp->state, &old, new));
	if (!(old & (BE_QUEUED | BE_MASKED)))
		be_push(bp->b, bp);
}

bool backend_deliver(struct evtchn_domain *d, uint32_t port)
{
	_Atomic(struct be_port *) *slot;
	struct be_port *bp;

	if (port / PORTS_PER_GROUP >= NR_GROUPS)
		return false;
	/* pairs with the release store in backend_claim() */
	slot = owner_slot(d, port);
	if (!slot)
		return false;
	bp = atomic_load_explicit(slot, memory_order_acquire);
	if (!bp) {
		/* Nobody owns it, or its handle let it go since the caller
		 * saw it usable: the close unpublishes the binding before it
		 * empties the slot (port_free_begin()), so a binding read
		 * now says which.  A closed port's event is dropped, never
		 * set in the backend domain's own shared_info.  pairs with
		 * the release store in backend_disown() */
		return !bind_usable(port_bind(port_get(d, port)));
	}
	PARK_POINT("backend:deliver", port);
	be_raise(bp);
	return true;
}

/* --- owner table (domain lock held) --------------------------------- */

int backend_claim(struct evtchn_domain *d, uint32_t port)
{
	struct be_port *bp = be_claim_rec;
	be_slot_t *g;

	domain_assert_locked(d);
	if (!bp || bp->b->d != d)
		return 0;
	g = atomic_load(&d->be_owner[port / PORTS_PER_GROUP]);
	if (!g) {
		g = calloc(PORTS_PER_GROUP, sizeof(*g));
		if (!g)
			return -XEN_ENOMEM; /* the bind fails, port free */
		/* pairs with the acquire load in owner_slot() */
		atomic_store_explicit(&d->be_owner[port / PORTS_PER_GROUP], g,
				      memory_order_release);
	}
	be_claim_rec = NULL;
	bp->port = port;
	/* Before the port is published.  pairs with backend_deliver() */
	atomic_store_explicit(&g[port % PORTS_PER_GROUP], bp,
			      memory_order_release);
	return 0;
}

void backend_disown(struct evtchn_domain *d, uint32_t port)
{
	_Atomic(struct be_port *) *slot = owner_slot(d, port);

	domain_assert_locked(d);
	/* After the binding was unpublished.  pairs with the acquire load
	 * in backend_deliver() */
	if (slot)
		atomic_store_explicit(slot, NULL, memory_order_release);
}

bool backend_owns(struct evtchn_domain *d, uint32_t port,
		  const struct be_port *bp)
{
	_Atomic(struct be_port *) *slot = owner_slot(d, port);

	return slot && atomic_load_explicit(slot, memory_order_acquire) == bp;
}

void backend_table_destroy(struct evtchn_domain *d)
{
	for (uint32_t g = 0; g < NR_GROUPS; g++) {
		free(atomic_load(&d->be_owner[g]));
		atomic_store(&d->be_owner[g], NULL);
	}
}

/* --- handles --------------------------------------------------------- */

int evtchn_backend_open(struct evtchn_domain *d, unsigned flags,
			struct evtchn_backend **out)
{
	struct evtchn_backend *b;

	if (!d || !out || (flags & ~EVTCHN_BACKEND_NO_CLOEXEC))
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	b->epfd = epoll_create1(flags & EVTCHN_BACKEND_NO_CLOEXEC
					? 0
					: EPOLL_CLOEXEC);
	if (b->efd < 0 || b->epfd < 0 ||
	    epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->efd,
		      &(struct epoll_event){ .events = EPOLLIN })) {
		int rc = -errno;

		if (b->efd >= 0)
			close(b->efd);
		if (b->epfd >= 0)
			close(b->epfd);
		free(b);
		return rc;
	}
	pthread_mutex_init(&b->lock, NULL);
	b->d = d;
	b->restrict_domid = UNRESTRICTED;
	domain_lock(d);
	d->nr_handles++;
	domain_unlock(d);
	*out = b;
	return 0;
}

int evtchn_backend_fd(struct evtchn_backend *b)
{
	return b ? b->epfd : -EINVAL;
}

int backend_kernel_fd(struct evtchn_domain *d, uint32_t port)
{
	_Atomic(struct be_port *) *slot;
	struct be_port *bp;
	struct epoll_event ev = { .events = EPOLLIN };
	int fd, none = -1;

	if (port / PORTS_PER_GROUP >= NR_GROUPS)
		return -1;
	slot = owner_slot(d, port);
	bp = slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;
	if (!bp)
		return -1;
	fd = atomic_load(&bp->kfd);
	if (fd >= 0)
		return fd;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -1;
	ev.data.ptr = bp;
	if (!atomic_compare_exchange_strong(&bp->kfd, &none, fd)) {
		close(fd);
		return none; /* another thread's */
	}
	/* The record is freed a grace period after its port is disowned:
	 * not before this, which runs in a read-side section. */
	if (epoll_ctl(bp->b->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		atomic_fetch_add(&bp->b->nr_kfds, 1);
	return fd;
}

/* Signals KVM left on the ports' kfds, raised as a library send would
 * (lock held). */
static void be_harvest(struct evtchn_backend *b)
{
	struct epoll_event ev[16];
	int n;

	if (!atomic_load(&b->nr_kfds))
		return;
	do {
		n = epoll_wait(b->epfd, ev, 16, 0);
		for (int i = 0; i < n; i++) {
			struct be_port *bp = ev[i].data.ptr;
			uint64_t count;

			if (bp && read(atomic_load(&bp->kfd), &count,
				       sizeof(count)) == sizeof(count))
				be_raise(bp);
		}
	} while (n == 16);
}

struct evtchn_domain *evtchn_backend_domain(struct evtchn_backend *b)
{
	return b ? b->d : NULL;
}

/* Move what senders pushed to the consumer's list, oldest first. */
static void be_drain(struct evtchn_backend *b)
{
	/* pairs with the release CAS in be_push() */
	struct be_port *bp = atomic_exchange_explicit(&b->stack, NULL,
						      memory_order_acquire);
	struct be_port *list = NULL, *tail = bp;

	/* The stack is newest first: reverse it. */
	while (bp) {
		struct be_port *next = atomic_load_explicit(
			&bp->next, memory_order_relaxed);

		bp->qnext = list;
		list = bp;
		bp = next;
	}
	if (!list)
		return;
	if (b->qtail)
		b->qtail->qnext = list;
	else
		b->qhead = list;
	b->qtail = tail;
}

/* Take @bp off the consumer's list (lock held). */
static void be_dequeue(struct evtchn_backend *b, struct be_port *bp)
{
	struct be_port **pp = &b->qhead, *prev = NULL;

	while (*pp && *pp != bp) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (!*pp)
		return;
	*pp = bp->qnext;
	if (b->qtail == bp)
		b->qtail = prev;
}

/* The record of @port: the one that owns it now, else one whose port was
 * closed under it (a reset of the domain), which only unbind still finds
 * (@stale). */
static struct be_port *be_find(struct evtchn_backend *b, uint32_t port,
			       bool stale)
{
	struct be_port *old = NULL;

	for (struct be_port *bp = b->ports; bp; bp = bp->lnext) {
		if (bp->port != port)
			continue;
		if (backend_owns(b->d, port, bp))
			return bp;
		old = old ? old : bp;
	}
	return stale ? old : NULL;
}

/* Run bind sub-op @cmd for the handle (lock held); the port it allocates
 * is the handle's before anyone can send on it. */
static int be_bind(struct evtchn_backend *b, int cmd, void *arg)
{
	struct be_port *bp = calloc(1, sizeof(*bp));
	long rc;

	if (!bp)
		return -ENOMEM;
	bp->b = b;
	atomic_init(&bp->kfd, -1);
	be_claim_rec = bp;
	rc = evtchn_op_local(b->d, cmd, arg);
	if (be_claim_rec) {
		/* Not bound: refused, or no memory for the claim (the bind
		 * failed with -ENOMEM before anything was published). */
		be_claim_rec = NULL;
		free(bp);
		return rc ? (int)rc : -EIO;
	}
	bp->lnext = b->ports;
	b->ports = bp;
	return (int)bp->port;
}

int evtchn_backend_bind_interdomain(struct evtchn_backend *b, uint16_t domid,
				    uint32_t remote_port)
{
	struct evtchn_bind_interdomain bi = { .remote_dom = domid,
					      .remote_port = remote_port };
	int rc = -EACCES;

	lib_lock(&b->lock);
	if (b->restrict_domid != UNRESTRICTED && b->restrict_domid != domid)
		goto out;
	rc = be_bind(b, EVTCHNOP_bind_interdomain, &bi);
out:
	lib_unlock(&b->lock);
	return rc;
}

int evtchn_backend_bind_unbound(struct evtchn_backend *b, uint16_t domid)
{
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
					   .remote_dom = domid };
	int rc = -EACCES;

	lib_lock(&b->lock);
	if (b->restrict_domid != UNRESTRICTED)
		goto out;
	rc = be_bind(b, EVTCHNOP_alloc_unbound, &au);
out:
	lib_unlock(&b->lock);
	return rc;
}

int evtchn_backend_bind_virq(struct evtchn_backend *b, uint32_t virq)
{
	struct evtchn_bind_virq bv = { .virq = virq, .vcpu = 0 };
	int rc = -EACCES;

	lib_lock(&b->lock);
	if (b->restrict_domid != UNRESTRICTED)
		goto out;
	rc = be_bind(b, EVTCHNOP_bind_virq, &bv);
out:
	lib_unlock(&b->lock);
	return rc;
}

/*
 * Close @bp's port and free the record (lock held).  The port is closed
 * only if the record still owns it, in the same hold of the domain lock
 * (the guest or a reset may have closed it, and its number may be someone
 * else's now).  Either way a sender may still hold the record: it is freed
 * a grace period after it left the owner table, never sooner.
 */
static int be_unbind(struct evtchn_backend *b, struct be_port *bp)
{
	struct be_port **pp;
	int rc;

	rc = evtchn_close_owned(b->d, bp->port, bp);
	PARK_POINT("backend:unbind", bp->port);
	evtchn_synchronize_rcu();
	if (rc == 0)
		evtchn_close_finish(b->d, bp->port);
	be_drain(b);
	be_dequeue(b, bp);
	for (pp = &b->ports; *pp != bp; pp = &(*pp)->lnext)
		;
	*pp = bp->lnext;
	if (atomic_load(&bp->kfd) >= 0) {
		/* KVM's entry went when the port closed; it keeps its own
		 * reference to the eventfd until then */
		(void)epoll_ctl(b->epfd, EPOLL_CTL_DEL, atomic_load(&bp->kfd),
				NULL);
		close(atomic_load(&bp->kfd));
		atomic_fetch_sub(&b->nr_kfds, 1);
	}
	free(bp);
	return 0;
}

int evtchn_backend_unbind(struct evtchn_backend *b, uint32_t port)
{
	struct be_port *bp;
	int rc = -ENOTCONN;

	lib_lock(&b->lock);
	bp = be_find(b, port, true);
	if (bp)
		rc = be_unbind(b, bp);
	lib_unlock(&b->lock);
	return rc;
}

int evtchn_backend_notify(struct evtchn_backend *b, uint32_t port)
{
	struct be_port *bp;
	int rc = -ENOTCONN;

	lib_lock(&b->lock);
	bp = be_find(b, port, false);
	/* The record lives until a grace period after it leaves the owner
	 * table: the send runs in a read-side section entered before the
	 * handle's lock is dropped (the VMM's callback runs under none). */
	evtchn_rcu_read_lock();
	lib_unlock(&b->lock);
	/* Still this handle's port: one closed by a reset of its domain may
	 * carry another binding now.  Checked in the read-side section that
	 * sends, so the port cannot be freed and bound again in between. */
	if (bp && backend_owns(b->d, port, bp))
		rc = evtchn_send_locked_rcu(b->d, port);
	evtchn_rcu_read_unlock();
	return rc;
}

int evtchn_backend_pending(struct evtchn_backend *b)
{
	uint64_t count;
	struct be_port *bp;
	int rc = -EAGAIN;

	lib_lock(&b->lock);
	(void)!read(b->efd, &count, sizeof(count)); /* level from the list */
	be_harvest(b);
	be_drain(b);
	while ((bp = b->qhead)) {
		b->qhead = bp->qnext;
		if (!b->qhead)
			b->qtail = NULL;
		/* Reported: off the queue, masked until unmasked. */
		atomic_fetch_and(&bp->state, ~BE_QUEUED);
		/* A port closed under the handle (a reset of its domain) is
		 * not reported: its event went with the port, as Xen's
		 * evtchn_free() clears a pending bit. */
		if (!backend_owns(b->d, bp->port, bp))
			continue;
		rc = (int)bp->port;
		break;
	}
	if (b->qhead || atomic_load(&b->stack)) {
		count = 1;
		(void)!write(b->efd, &count, sizeof(count));
	}
	lib_unlock(&b->lock);
	return rc;
}

int evtchn_backend_unmask(struct evtchn_backend *b, uint32_t port)
{
	struct be_port *bp;
	uint32_t old, new;

	lib_lock(&b->lock);
	bp = be_find(b, port, false);
	if (!bp)
		goto out; /* not bound, or closed under the handle */
	old = atomic_load(&bp->state);
	do {
		if (!(old & BE_MASKED) || (old & BE_QUEUED))
			goto out; /* not reported yet, or not masked */
		new = old & ~BE_MASKED;
		if (old & BE_PENDING)
			new = (new & ~BE_PENDING) | BE_QUEUED | BE_MASKED;
	} while (!atomic_compare_exchange_weak(&bp->state, &old, new));
	if (new & BE_QUEUED)
		be_push(b, bp);
out:
	lib_unlock(&b->lock);
	return 0;
}

int evtchn_backend_restrict(struct evtchn_backend *b, uint16_t domid)
{
	int rc = -EACCES;

	lib_lock(&b->lock);
	if (b->restrict_domid != UNRESTRICTED)
		goto out;
	rc = -EINVAL;
	if (domid == 0 || domid >= DOMID_FIRST_RESERVED)
		goto out;
	b->restrict_domid = domid;
	rc = 0;
out:
	lib_unlock(&b->lock);
	return rc;
}

int evtchn_backend_close(struct evtchn_backend *b)
{
	if (!b)
		return -EINVAL;
	lib_lock(&b->lock);
	while (b->ports)
		be_unbind(b, b->ports);
	lib_unlock(&b->lock);
	domain_lock(b->d);
	b->d->nr_handles--;
	domain_unlock(b->d);
	close(b->efd);
	close(b->epfd);
	pthread_mutex_destroy(&b->lock);
	free(b);
	return 0;
}
