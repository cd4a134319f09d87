/* SPDX-License-Identifier: MIT */
/*
 * The FIFO ABI (Xen 4.17 xen/common/event_fifo.c): 131,072 ports, 16
 * priorities, one queue per (vCPU, priority) linked through event words in
 * guest memory.
 *
 * Guest memory is hostile and shared: the guest sets and clears MASKED,
 * clears PENDING, and clears LINKED with the link on words it consumes, all
 * while we link.  Every event-word access is an atomic; linking to a tail
 * is a compare-and-swap that succeeds only while the tail is still LINKED,
 * with BUSY set to stop the guest unmasking it, and bounded retries (Xen's
 * numbers: 3 queue-lock attempts, 4 link attempts).  A hostile guest can
 * lose its own events, never corrupt the library or another domain.
 *
 * Locks: each queue has a spinlock held for a few atomics; senders take
 * the queue of the event and, when the event moved queues, its last queue
 * too, ordered by address (Xen's order).  Control operations hold the
 * domain lock.  The FIFO state is published with release before the ABI
 * switches to it and freed a grace period after it switches back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "park.h"
#include "rcu.h"

#define WORDS_PER_PAGE (EVTCHN_PAGE_SIZE / sizeof(event_word_t))
#define MAX_ARRAY_PAGES (EVTCHN_FIFO_NR_CHANNELS / WORDS_PER_PAGE)
#define CB_SIZE sizeof(struct evtchn_fifo_control_block)

_Static_assert(MAX_ARRAY_PAGES == 128, "128 event array pages");
_Static_assert(CB_SIZE == 72, "control block size");
_Static_assert(offsetof(struct evtchn_fifo_control_block, head) == 8,
	       "control block heads");

#define W_PENDING (1u << EVTCHN_FIFO_PENDING)
#define W_MASKED (1u << EVTCHN_FIFO_MASKED)
#define W_LINKED (1u << EVTCHN_FIFO_LINKED)
#define W_BUSY (1u << EVTCHN_FIFO_BUSY)

struct fifo_queue {
	_Atomic int lock;           /* spin_lock() */
	uint32_t tail;              /* under lock; 0: none */
	uint8_t priority;
};

struct fifo_vcpu {
	/* Published with release once mapped (init_control). */
	_Atomic(struct evtchn_fifo_control_block *) cb;
	uint64_t cb_gfn;
	void *cb_page;
	struct fifo_queue queue[EVTCHN_FIFO_MAX_QUEUES];
};

struct fifo_domain {
	/* Ports below num_evtchns have an event word; page pointers are
	 * written before it is raised with release. */
	_Atomic uint32_t num_evtchns;
	event_word_t *array[MAX_ARRAY_PAGES];
	uint64_t array_gfn[MAX_ARRAY_PAGES];
	uint32_t nr_vcpus;
	struct fifo_vcpu vcpu[];
};

static struct fifo_domain *fifo_of(struct evtchn_domain *d)
{
	/* pairs with the release store in fifo_init_control() */
	return atomic_load_explicit(&d->fifo, memory_order_acquire);
}

static event_word_t *word_of(struct fifo_domain *fd, uint32_t port)
{
	/* pairs with the release store in fifo_expand_array() */
	if (!fd || port >= atomic_load_explicit(&fd->num_evtchns,
						memory_order_acquire))
		return NULL;
	return fd->array[port / WORDS_PER_PAGE] + port % WORDS_PER_PAGE;
}

static void q_lock(struct fifo_queue *q)
{
	spin_lock(&q->lock);
}

static void q_unlock(struct fifo_queue *q)
{
	spin_unlock(&q->lock);
}

static bool w_test_and_set(event_word_t *w, uint32_t bit)
{
	return __atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST) & bit;
}

static bool w_test(event_word_t *w, uint32_t bit)
{
	return __atomic_load_n(w, __ATOMIC_SEQ_CST) & bit;
}

/* Xen's try_set_link(): 1 linked, 0 the tail is no longer linked,
 * -EAGAIN the guest changed the word. */
static int try_set_link(event_word_t *word, event_word_t *w, uint32_t link)
{
	event_word_t old = *w, new;

	if (!(old & W_LINKED))
		return 0;
	new = (old & ~(W_BUSY | EVTCHN_FIFO_LINK_MASK)) | link;
	if (__atomic_compare_exchange_n(word, w, new, false, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST))
		return 1;
	return -EAGAIN;
}

/* Xen's evtchn_fifo_set_link(): link @word to @link while it is linked. */
static bool set_link(event_word_t *word, uint32_t link)
{
	event_word_t w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
	int ret = try_set_link(word, &w, link);

	if (ret >= 0)
		return ret;
	/* Lock the word against the guest unmasking it. */
	__atomic_fetch_or(word, W_BUSY, __ATOMIC_SEQ_CST);
	w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
	for (int try = 0; try < 4; try++) {
		ret = try_set_link(word, &w, link);
		if (ret >= 0) {
			if (ret == 0)
				__atomic_fetch_and(word, ~W_BUSY,
						   __ATOMIC_SEQ_CST);
			return ret;
		}
	}
	/* The guest keeps changing it: give up, as Xen does ("not linked"),
	 * reporting linked so the queue is not restarted over it. */
	__atomic_fetch_and(word, ~W_BUSY, __ATOMIC_SEQ_CST);
	return true;
}

static uint16_t lastq_make(uint32_t vcpu, uint32_t prio)
{
	return (uint16_t)(vcpu << 4 | prio);
}

/* Xen's evtchn_fifo_set_pending(). */
static void set_pending_fifo(struct evtchn_domain *d, struct evtchn_vcpu *v,
			     uint32_t port)
{
	struct fifo_domain *fd = fifo_of(d);
	struct evtchn_port *p = port_get(d, port);
	struct fifo_queue *q = NULL, *old_q = NULL;
	struct evtchn_fifo_control_block *cb;
	event_word_t *word = word_of(fd, port), *tail_word;
	bool linked = true, pollers = false;
	int try;

	if (!word) {
		/* No event-array page yet: raised when the page arrives
		 * (Xen's evtchn->pending, which nothing ever clears).
		 * fifo_expand_array() waits for a grace period after it
		 * makes the page visible, so a sender that missed the page
		 * has saved the event before it looks. */
		if (fd) {
			PARK_POINT("fifo:saved", port);
			atomic_store_explicit(&p->fifo_pending, 1,
					      memory_order_relaxed);
		}
		return;
	}
	if (v->id >= fd->nr_vcpus)
		return;

	/* Lock the event's queue and, if it moved, its last queue. */
	for (try = 0; try < 3; try++) {
		uint16_t lq = atomic_load(&p->fifo_lastq);
		uint32_t lv = lq >> 4;

		q = &fd->vcpu[v->id].queue[atomic_load(&p->priority)];
		old_q = &fd->vcpu[lv < fd->nr_vcpus ? lv : 0].queue[lq & 15];
		if (q == old_q) {
			q_lock(q);
		} else if (q < old_q) {
			q_lock(q);
			q_lock(old_q);
		} else {
			q_lock(old_q);
			q_lock(q);
		}
		if (lq == atomic_load(&p->fifo_lastq) &&
		    q == &fd->vcpu[v->id].queue[atomic_load(&p->priority)])
			break;
		if (q != old_q)
			q_unlock(old_q);
		q_unlock(q);
	}
	if (try == 3)
		return; /* Xen: "lost event (too many queue changes)" */

	/* pairs with the release store in map_control_block() */
	cb = atomic_load_explicit(&fd->vcpu[v->id].cb, memory_order_acquire);
	if (!cb)
		goto unlock; /* the guest must not unmask before init_control */

	pollers = !w_test_and_set(word, W_PENDING);
	if (!w_test(word, W_MASKED) && !w_test_and_set(word, W_LINKED)) {
		/* If it was the old queue's tail, that queue is now empty. */
		if (old_q->tail == port)
			old_q->tail = 0;
		if (old_q != q) {
			atomic_store(&p->fifo_lastq,
				     lastq_make(v->id, q->priority));
			q_unlock(old_q);
			old_q = q;
		}
		linked = false;
		tail_word = q->tail ? word_of(fd, q->tail) : NULL;
		if (tail_word)
			linked = set_link(tail_word, port);
		if (!linked)
			__atomic_store_n(&cb->head[q->priority], port,
					 __ATOMIC_SEQ_CST);
		q->tail = port;
	}
unlock:
	if (q != old_q)
		q_unlock(old_q);
	q_unlock(q);
	if (!linked &&
	    !(__atomic_fetch_or(&cb->ready, 1u << q->priority,
				__ATOMIC_SEQ_CST) & (1u << q->priority)))
		vcpu_mark_events_pending(d, v);
	/* Pollers only when P went 0->1 (Xen's check_pollers). */
	if (pollers)
		check_pollers(d, port);
}

static void clear_pending_fifo(struct evtchn_domain *d, uint32_t port)
{
	event_word_t *word = word_of(fifo_of(d), port);

	if (word)
		__atomic_fetch_and(word, ~W_PENDING, __ATOMIC_SEQ_CST);
}

/* Xen's evtchn_fifo_unmask(): clear M, relink if pending. */
static void unmask_fifo(struct evtchn_domain *d, struct evtchn_vcpu *v,
			uint32_t port)
{
	event_word_t *word = word_of(fifo_of(d), port);

	if (!word)
		return;
	__atomic_fetch_and(word, ~W_MASKED, __ATOMIC_SEQ_CST);
	if (w_test(word, W_PENDING))
		set_pending_fifo(d, v, port);
}

static bool is_pending_fifo(struct evtchn_domain *d, uint32_t port)
{
	event_word_t *word = word_of(fifo_of(d), port);

	return word && w_test(word, W_PENDING);
}

static bool is_masked_fifo(struct evtchn_domain *d, uint32_t port)
{
	event_word_t *word = word_of(fifo_of(d), port);

	return !word || w_test(word, W_MASKED);
}

static bool is_busy_fifo(struct evtchn_domain *d, uint32_t port)
{
	event_word_t *word = word_of(fifo_of(d), port);

	return word && w_test(word, W_LINKED);
}

static void init_port_fifo(struct evtchn_domain *d, uint32_t port)
{
	atomic_store(&port_get(d, port)->priority,
		     EVTCHN_FIFO_PRIORITY_DEFAULT);
}

static int set_priority_fifo(struct evtchn_domain *d, uint32_t port,
			     uint32_t priority)
{
	if (priority > EVTCHN_FIFO_PRIORITY_MIN)
		return -XEN_EINVAL;
	/* Takes effect the next time the event is linked. */
	atomic_store(&port_get(d, port)->priority, (uint8_t)priority);
	return 0;
}

static uint32_t max_ports_fifo(const struct evtchn_domain *d)
{
	(void)d;
	return EVTCHN_FIFO_NR_CHANNELS;
}

const struct evtchn_abi_ops evtchn_abi_fifo = {
	.name = "FIFO",
	.set_pending = set_pending_fifo,
	.clear_pending = clear_pending_fifo,
	.unmask = unmask_fifo,
	.is_pending = is_pending_fifo,
	.is_masked = is_masked_fifo,
	.is_busy = is_busy_fifo,
	.init_port = init_port_fifo,
	.set_priority = set_priority_fifo,
	.max_ports = max_ports_fifo,
};

/* Xen's map_guest_page(): -EINVAL when the gfn is not writable RAM. */
static void *map_guest_page(struct evtchn_domain *d, uint64_t gfn)
{
	return guest_map_gfn(d, gfn, true);
}

static struct fifo_domain *fifo_alloc(struct evtchn_domain *d)
{
	struct fifo_domain *fd = calloc(1, sizeof(*fd) + d->nr_vcpus *
						       sizeof(fd->vcpu[0]));

	if (!fd)
		return NULL;
	fd->nr_vcpus = d->nr_vcpus;
	for (uint32_t v = 0; v < d->nr_vcpus; v++)
		for (uint8_t i = 0; i < EVTCHN_FIFO_MAX_QUEUES; i++)
			fd->vcpu[v].queue[i].priority = i;
	return fd;
}

void fifo_free(struct evtchn_domain *d, struct fifo_domain *fd)
{
	if (!fd)
		return;
	for (uint32_t v = 0; v < fd->nr_vcpus; v++)
		if (fd->vcpu[v].cb_page)
			guest_unmap_gfn(d, fd->vcpu[v].cb_gfn,
					fd->vcpu[v].cb_page);
	for (uint32_t i = 0; i < MAX_ARRAY_PAGES; i++)
		if (fd->array[i])
			guest_unmap_gfn(d, fd->array_gfn[i], fd->array[i]);
	free(fd);
}

/* Xen's setup_ports(): events pending under 2-level are kept (raised when
 * their event-array page arrives) and every port gets the default
 * priority (@priorities).  Lock held. */
static void setup_ports(struct evtchn_domain *d, uint32_t prev_ports,
			bool priorities)
{
	for (uint32_t port = 1; port < prev_ports; port++) {
		struct evtchn_port *p;

		if (!port_is_valid(d, port))
			break;
		p = port_get(d, port);
		if (evtchn_abi_2l.is_pending(d, port))
			atomic_store(&p->fifo_pending, 1);
		if (priorities)
			atomic_store(&p->priority,
				     EVTCHN_FIFO_PRIORITY_DEFAULT);
	}
}

/* Xen's map_control_block(), lock held (or @fd not published yet): @page
 * is @gfn mapped before the lock was taken (NULL: not RAM), installed
 * only when the call succeeds. */
static long map_control_block(struct fifo_domain *fd, uint32_t vcpu,
			      uint64_t gfn, unsigned char *page,
			      uint32_t offset)
{
	struct fifo_vcpu *fv = &fd->vcpu[vcpu];

	if (atomic_load_explicit(&fv->cb, memory_order_relaxed))
		return -XEN_EINVAL;
	if (!page)
		return -XEN_EINVAL;
	fv->cb_gfn = gfn;
	fv->cb_page = page;
	/* pairs with the acquire load in set_pending_fifo() */
	atomic_store_explicit(&fv->cb,
			      (struct evtchn_fifo_control_block *)(page + offset),
			      memory_order_release);
	return 0;
}

/* The first control block: set up FIFO with @page and switch to it.  Lock
 * held. */
static long fifo_switch(struct evtchn_domain *d, uint32_t vcpu, uint64_t gfn,
			unsigned char *page, uint32_t offset)
{
	uint32_t prev_ports = domain_abi(d)->max_ports(d);
	struct fifo_domain *fd = fifo_alloc(d);
	long rc;

	if (!fd)
		return -XEN_ENOMEM;
	rc = map_control_block(fd, vcpu, gfn, page, offset);
	if (rc) {
		free(fd); /* nothing mapped in it */
		return rc;
	}
	setup_ports(d, prev_ports, true);
	/* The state before the ABI that uses it.  pairs with fifo_of() and
	 * domain_abi() */
	atomic_store_explicit(&d->fifo, fd, memory_order_release);
	atomic_store_explicit(&d->abi, &evtchn_abi_fifo, memory_order_release);
	/* KVM only does 2-level: every send comes back to userspace. */
	kvm_resync(d);
	/* A sender that still used 2-level may have set a pending bit after
	 * setup_ports() looked: once they are done, look again.  No event-array
	 * page exists yet, so the saved state is all there is. */
	evtchn_synchronize_rcu();
	setup_ports(d, prev_ports, false);
	return 0;
}

/*
 * EVTCHNOP_init_control (Xen's evtchn_fifo_init_control()).  The control
 * block's page is mapped before the domain lock is taken, so the VMM's map
 * callback runs under no lock (internal.h); the checks that need the lock
 * come after, in Xen's order, and a page they refuse is unmapped once the
 * lock is dropped.  Xen maps last, so a gfn that is not RAM is reported
 * last.
 */
long fifo_init_control(struct evtchn_domain *d,
		       struct evtchn_init_control *ic)
{
	struct fifo_domain *fd;
	unsigned char *page;
	long rc;

	/* Written before any check (copied out only on success). */
	ic->link_bits = EVTCHN_FIFO_LINK_BITS;
	if (!domain_vcpu(d, ic->vcpu))
		return -XEN_ENOENT;
	if (ic->offset > EVTCHN_PAGE_SIZE - CB_SIZE)
		return -XEN_EINVAL;
	if (ic->offset & 7)
		return -XEN_EINVAL;

	page = map_guest_page(d, ic->control_gfn);
	domain_lock(d);
	fd = fifo_of(d);
	if (fd)
		rc = map_control_block(fd, ic->vcpu, ic->control_gfn, page,
				       ic->offset);
	else
		rc = fifo_switch(d, ic->vcpu, ic->control_gfn, page,
				 ic->offset);
	domain_unlock(d);
	if (rc)
		guest_unmap_gfn(d, ic->control_gfn, page);
	return rc;
}

/*
 * EVTCHNOP_expand_array (Xen's add_page_to_event_array()).  The page is
 * mapped before the domain lock is taken (see fifo_init_control()); Xen's
 * checks follow under the lock in its order (no FIFO, no slot left, not
 * RAM), and a page they refuse is unmapped once the lock is dropped.
 */
long fifo_expand_array(struct evtchn_domain *d, uint64_t gfn)
{
	struct fifo_domain *fd;
	uint32_t port, slot, end, saved[WORDS_PER_PAGE], nsaved = 0;
	void *page = map_guest_page(d, gfn);
	long rc = 0;

	domain_lock(d);
	fd = fifo_of(d);
	if (!fd) {
		rc = -XEN_EOPNOTSUPP;
		goto out;
	}
	port = atomic_load_explicit(&fd->num_evtchns, memory_order_relaxed);
	slot = port / WORDS_PER_PAGE;
	if (slot >= MAX_ARRAY_PAGES) {
		rc = -XEN_ENOSPC;
		goto out;
	}
	if (!page) {
		rc = -XEN_EINVAL;
		goto out;
	}
	fd->array[slot] = page;
	fd->array_gfn[slot] = gfn;
	end = port + WORDS_PER_PAGE;
	/* pairs with the acquire load in word_of() */
	atomic_store_explicit(&fd->num_evtchns, end, memory_order_release);
	PARK_POINT("fifo:published", port);
	/* A sender that found no word before the store above may not have
	 * saved its event yet: once every such sender is done, every saved
	 * event is seen below. */
	evtchn_synchronize_rcu();

	/* What was saved while the page was missing, raised below.  As in
	 * Xen, the saved flag stays set (a port closed and bound again
	 * meanwhile gets the event on its new binding, and a later FIFO
	 * session raises it again); unlike Xen, a port that is not bound now
	 * is skipped. */
	for (; port < end && port_is_valid(d, port); port++)
		if (atomic_load_explicit(&port_get(d, port)->fifo_pending,
					 memory_order_relaxed))
			saved[nsaved++] = port;
out:
	/* Raised after the lock, so the VMM's interrupt callback runs under
	 * none; the read-side section, entered first, keeps a close that
	 * comes in between from finishing before the event is set. */
	evtchn_rcu_read_lock();
	domain_unlock(d);
	for (uint32_t i = 0; i < nsaved; i++) {
		struct evtchn_port *p = port_get(d, saved[i]);

		if (bind_usable(port_bind(p)))
			deliver_port(d, atomic_load(&p->notify_vcpu), saved[i]);
	}
	evtchn_rcu_read_unlock();
	if (rc)
		guest_unmap_gfn(d, gfn, page);
	return rc;
}

int fifo_image_save(struct evtchn_domain *d, struct fifo_image_vcpu *v,
		    uint64_t *gfns)
{
	struct fifo_domain *fd = fifo_of(d);
	uint32_t npages;

	domain_assert_locked(d);
	if (!fd)
		return -1;
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		struct fifo_vcpu *fv = &fd->vcpu[i];
		unsigned char *cb = (unsigned char *)atomic_load(&fv->cb);

		v[i].cb_set = cb != NULL;
		v[i].cb_gfn = cb ? fv->cb_gfn : 0;
		v[i].cb_offset = cb ? (uint32_t)(cb - (unsigned char *)fv->cb_page)
				    : 0;
		for (uint32_t q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++) {
			q_lock(&fv->queue[q]);
			v[i].tail[q] = fv->queue[q].tail;
			q_unlock(&fv->queue[q]);
		}
	}
	npages = atomic_load(&fd->num_evtchns) / WORDS_PER_PAGE;
	for (uint32_t i = 0; i < npages; i++)
		gfns[i] = fd->array_gfn[i];
	return (int)npages;
}

int fifo_image_map(struct evtchn_domain *d, const struct fifo_image_vcpu *v,
		   const uint64_t *gfns, uint32_t npages,
		   struct fifo_domain **out)
{
	struct fifo_domain *fd;

	*out = NULL;
	if (npages > MAX_ARRAY_PAGES)
		return -EINVAL;
	fd = fifo_alloc(d);
	if (!fd)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		if (!v[i].cb_set)
			continue;
		if (v[i].cb_offset > EVTCHN_PAGE_SIZE - CB_SIZE ||
		    (v[i].cb_offset & 7))
			goto fail;
		if (map_control_block(fd, i, v[i].cb_gfn,
				      map_guest_page(d, v[i].cb_gfn),
				      v[i].cb_offset))
			goto fail;
		for (uint32_t q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++)
			fd->vcpu[i].queue[q].tail = v[i].tail[q];
	}
	for (uint32_t i = 0; i < npages; i++) {
		fd->array[i] = map_guest_page(d, gfns[i]);
		if (!fd->array[i])
			goto fail;
		fd->array_gfn[i] = gfns[i];
	}
	atomic_store_explicit(&fd->num_evtchns, npages * WORDS_PER_PAGE,
			      memory_order_relaxed);
	*out = fd;
	return 0;
fail:
	fifo_free(d, fd);
	return -EINVAL;
}

void fifo_image_install(struct evtchn_domain *d, struct fifo_domain *fd)
{
	domain_assert_locked(d);
	/* Its pages and words before the state, the state before the ABI.
	 * pairs with word_of(), fifo_of() and domain_abi() */
	atomic_store_explicit(&d->fifo, fd, memory_order_release);
	atomic_store_explicit(&d->abi, &evtchn_abi_fifo, memory_order_release);
}

/* Back to 2-level (Xen's evtchn_fifo_destroy() + evtchn_2l_init()). */
struct fifo_domain *fifo_detach(struct evtchn_domain *d)
{
	struct fifo_domain *fd = fifo_of(d);

	domain_assert_locked(d);
	if (!fd)
		return NULL;
	atomic_store_explicit(&d->abi, &evtchn_abi_2l, memory_order_release);
	atomic_store_explicit(&d->fifo, NULL, memory_order_release);
	kvm_resync(d); /* back into the kernel */
	return fd;
}
