/* SPDX-License-Identifier: MIT */
/*
 * Save and restore of a domain's event channel state, for live migration
 * that the guest does not see (as a VMM migrates a Xen guest on KVM; Xen's
 * own migration makes the guest rebind instead).
 *
 * What travels: the shared_info page (the library owns it), each vCPU's
 * vcpu_info registration, upcall vector and timers, the FIFO control blocks,
 * event-array pages and Xen-private queue tails, every bound port (state,
 * binding, notify vCPU, priority, an event saved while its FIFO page was
 * missing) and the PIRQs' mappings.  What is in guest memory (pending and
 * mask bits of registered vcpu_infos, FIFO event words) travels with the
 * guest's RAM.  Not saved: backend handles and routes (the VMM and its
 * backends set them up again); an interdomain channel to another domain is
 * restored unbound for that domain, which binds it again
 * (EVTCHNOP_bind_interdomain on the same remote port), as backends do when
 * they reconnect.
 *
 * The image is a header and fixed-size records in host byte order; every
 * field is checked before anything is restored, so a hostile or truncated
 * image gives -EINVAL and leaves the domain as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rcu.h"

#define SNAP_MAGIC "EVTCHNS"
#define SNAP_VERSION 1u

struct snap_hdr {
	char magic[8];
	uint32_t version;
	uint32_t size;       /* of the whole image */
	uint32_t nr_vcpus, nr_ports, nr_pirqs, nr_pages; /* records */
	uint8_t layout, fifo, pad[6];
	uint64_t callback_via;
	uint64_t gsi_level;
	int32_t msi_emu_pirq;
	uint32_t pad2;
};

struct snap_vcpu {
	uint64_t vi_gfn, cb_gfn;
	uint64_t singleshot, period, periodic_next;
	uint32_t vi_offset, cb_offset;
	uint8_t registered, cb_set, upcall_vector, pad;
	uint32_t tail[EVTCHN_FIFO_MAX_QUEUES];
	uint32_t pad2;
};

struct snap_port {
	uint32_t port;
	uint32_t vcpu;      /* notify vCPU */
	uint32_t arg32;     /* remote port (interdomain), pirq (PIRQ) */
	uint16_t arg16;     /* remote domid (unbound, interdomain), virq */
	uint8_t state;      /* ECS_* */
	uint8_t priority;
	uint8_t fifo_pending, pad;
	uint16_t lastq;     /* FIFO queue last linked on: vCPU << 4 | prio */
};

struct snap_pirq {
	uint32_t pirq;
	int32_t emuirq;
	uint8_t allocated, entry, pad[2];
};

_Static_assert(sizeof(struct snap_hdr) == 64, "snapshot header");
_Static_assert(sizeof(struct snap_vcpu) == 120, "snapshot vCPU record");
_Static_assert(sizeof(struct snap_port) == 20, "snapshot port record");
_Static_assert(sizeof(struct snap_pirq) == 12, "snapshot PIRQ record");

#define VI_SIZE sizeof(struct vcpu_info_x86_64)
#define WORDS_PER_PAGE (EVTCHN_PAGE_SIZE / sizeof(event_word_t))
#define MAX_PAGES 128u

static size_t image_size(uint64_t nv, uint64_t np, uint64_t nq, uint64_t ng)
{
	return sizeof(struct snap_hdr) + EVTCHN_PAGE_SIZE +
	       nv * sizeof(struct snap_vcpu) + ng * sizeof(uint64_t) +
	       np * sizeof(struct snap_port) + nq * sizeof(struct snap_pirq);
}

/* A port the image keeps: bound, and not being closed. */
static bool port_saved(uint64_t b)
{
	return bind_usable(b);
}

static bool pirq_saved(struct evtchn_domain *d, uint32_t i)
{
	return d->pirq[i].allocated || d->pirq[i].entry ||
	       atomic_load(&d->pirq[i].emuirq) != EMUIRQ_UNBOUND;
}

/* The image, built under the domain lock. */
static int save_locked(struct evtchn_domain *d, unsigned char **out,
		       size_t *len)
{
	uint32_t n = atomic_load(&d->valid_ports), np = 0, nq = 0;
	struct fifo_image_vcpu *fv;
	uint64_t gfns[MAX_PAGES];
	struct snap_hdr *h;
	struct snap_vcpu *sv;
	struct snap_port *sp;
	struct snap_pirq *sq;
	unsigned char *buf;
	int npages;
	size_t size;

	for (uint32_t port = 1; port < n; port++)
		np += port_saved(port_bind(port_get(d, port)));
	for (uint32_t i = 0; i < d->nr_pirqs; i++)
		nq += pirq_saved(d, i);
	fv = calloc(d->nr_vcpus, sizeof(*fv));
	if (!fv)
		return -ENOMEM;
	npages = fifo_image_save(d, fv, gfns);
	size = image_size(d->nr_vcpus, np, nq, npages > 0 ? npages : 0);
	buf = calloc(1, size);
	if (!buf) {
		free(fv);
		return -ENOMEM;
	}
	h = (struct snap_hdr *)buf;
	memcpy(h->magic, SNAP_MAGIC, sizeof(h->magic));
	h->version = SNAP_VERSION;
	h->size = (uint32_t)size;
	h->nr_vcpus = d->nr_vcpus;
	h->nr_ports = np;
	h->nr_pirqs = nq;
	h->nr_pages = npages > 0 ? (uint32_t)npages : 0;
	h->layout = (uint8_t)domain_layout(d);
	h->fifo = npages >= 0;
	h->callback_via = atomic_load(&d->callback_via);
	h->gsi_level = atomic_load(&d->gsi_level);
	h->msi_emu_pirq = atomic_load(&d->msi_emu_pirq);
	memcpy(buf + sizeof(*h), d->shared_info, EVTCHN_PAGE_SIZE);

	sv = (struct snap_vcpu *)(buf + sizeof(*h) + EVTCHN_PAGE_SIZE);
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		struct evtchn_vcpu *v = &d->vcpu[i];

		sv[i].registered = v->registered;
		if (v->registered) {
			sv[i].vi_gfn = v->vi_gfn;
			sv[i].vi_offset = (uint32_t)(atomic_load(&v->vcpu_info) -
						     (unsigned char *)v->vi_page);
		}
		sv[i].upcall_vector = atomic_load(&v->upcall_vector);
		sv[i].cb_set = fv[i].cb_set;
		sv[i].cb_gfn = fv[i].cb_gfn;
		sv[i].cb_offset = fv[i].cb_offset;
		memcpy(sv[i].tail, fv[i].tail, sizeof(sv[i].tail));
	}
	memcpy(sv + d->nr_vcpus, gfns, h->nr_pages * sizeof(uint64_t));
	sp = (struct snap_port *)((uint64_t *)(sv + d->nr_vcpus) + h->nr_pages);
	for (uint32_t port = 1; port < n; port++) {
		struct evtchn_port *p = port_get(d, port);
		uint64_t b = port_bind(p);

		if (!port_saved(b))
			continue;
		sp->port = port;
		sp->vcpu = atomic_load(&p->notify_vcpu);
		sp->state = bind_state(b);
		sp->arg16 = bind_dom(b);
		/* an unbound port's settle generation is not state */
		sp->arg32 = bind_state(b) == ECS_UNBOUND ? 0 : bind_port(b);
		sp->priority = atomic_load(&p->priority);
		sp->fifo_pending = atomic_load(&p->fifo_pending);
		sp->lastq = atomic_load(&p->fifo_lastq);
		sp++;
	}
	sq = (struct snap_pirq *)sp;
	for (uint32_t i = 0; i < d->nr_pirqs; i++) {
		if (!pirq_saved(d, i))
			continue;
		sq->pirq = i;
		sq->emuirq = atomic_load(&d->pirq[i].emuirq);
		sq->allocated = d->pirq[i].allocated;
		sq->entry = d->pirq[i].entry;
		sq++;
	}
	free(fv);
	*out = buf;
	*len = size;
	return 0;
}

int evtchn_domain_save(struct evtchn_domain *d, void **buf, size_t *len)
{
	unsigned char *img;
	struct snap_vcpu *sv;
	int rc;

	if (!d || !buf || !len)
		return -EINVAL;
	domain_lock(d);
	rc = save_locked(d, &img, len);
	domain_unlock(d);
	if (rc)
		return rc;
	/* The timers, under their own lock. */
	sv = (struct snap_vcpu *)(img + sizeof(struct snap_hdr) +
				  EVTCHN_PAGE_SIZE);
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		struct evtchn_vcpu_timer t;

		evtchn_vcpu_timer_get(d, i, &t);
		sv[i].singleshot = t.singleshot_ns;
		sv[i].period = t.period_ns;
		sv[i].periodic_next = t.periodic_next_ns;
	}
	*buf = img;
	return 0;
}

/* --- restore ---------------------------------------------------------- */

struct image {
	const struct snap_hdr *h;
	const unsigned char *shared_info;
	const struct snap_vcpu *v;
	const uint64_t *gfns;
	const struct snap_port *p;
	const struct snap_pirq *q;
};

static int parse(struct evtchn_domain *d, const void *buf, size_t len,
		 struct image *im)
{
	const unsigned char *b = buf;
	const struct snap_hdr *h = buf;

	if (len < sizeof(*h) || memcmp(h->magic, SNAP_MAGIC, 8) ||
	    h->version != SNAP_VERSION || h->size != len)
		return -EINVAL;
	if (h->nr_vcpus != d->nr_vcpus || h->nr_pages > MAX_PAGES ||
	    h->nr_ports >= STORAGE_MAX_PORTS || h->nr_pirqs > d->nr_pirqs ||
	    image_size(h->nr_vcpus, h->nr_ports, h->nr_pirqs, h->nr_pages) !=
		    len)
		return -EINVAL;
	im->h = h;
	im->shared_info = b + sizeof(*h);
	im->v = (const struct snap_vcpu *)(im->shared_info + EVTCHN_PAGE_SIZE);
	im->gfns = (const uint64_t *)(im->v + h->nr_vcpus);
	im->p = (const struct snap_port *)(im->gfns + h->nr_pages);
	im->q = (const struct snap_pirq *)(im->p + h->nr_ports);
	return 0;
}

/* The port record for @port, or NULL (records are in port order). */
static const struct snap_port *find_port(const struct image *im,
					 uint32_t port)
{
	uint32_t lo = 0, hi = im->h->nr_ports;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (im->p[mid].port == port)
			return &im->p[mid];
		if (im->p[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Every rule a live domain keeps, checked on the image. */
static int check(struct evtchn_domain *d, const struct image *im)
{
	const struct snap_hdr *h = im->h;
	uint32_t max_ports, vi_align;
	int rc = -EINVAL;
	uint8_t *virq_seen = NULL, *pirq_seen = NULL;

	if (h->layout > EVTCHN_LAYOUT_32 || h->fifo > 1 ||
	    (!h->fifo && h->nr_pages))
		return -EINVAL;
	if (h->callback_via >> 56 > 2)
		return -EINVAL;
	if (h->gsi_level >> PIRQ_NR_HVM_GSIS)
		return -EINVAL;
	max_ports = h->fifo ? EVTCHN_FIFO_NR_CHANNELS
		    : h->layout == EVTCHN_LAYOUT_32 ? EVTCHN_2L_PORTS_32
						   : EVTCHN_2L_PORTS_64;
	if (max_ports > d->max_evtchn_port + 1)
		max_ports = d->max_evtchn_port + 1;
	vi_align = h->layout == EVTCHN_LAYOUT_32
			   ? _Alignof(struct vcpu_info_x86_32)
			   : _Alignof(struct vcpu_info_x86_64);
	bool any_cb = false;

	for (uint32_t i = 0; i < h->nr_vcpus; i++) {
		const struct snap_vcpu *v = &im->v[i];

		any_cb |= v->cb_set == 1;

		if (v->registered > 1 || v->cb_set > 1 ||
		    (v->upcall_vector && v->upcall_vector < 0x10))
			return -EINVAL;
		if (v->registered && (v->vi_offset > EVTCHN_PAGE_SIZE - VI_SIZE ||
				      (v->vi_offset & (vi_align - 1))))
			return -EINVAL;
		if (v->cb_set && !h->fifo)
			return -EINVAL;
		/* the limits evtchn_vcpu_timer_set() applies */
		if (v->period && !timer_period_valid(v->period))
			return -EINVAL;
		/* a tail is a port with an event word */
		for (uint32_t q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++)
			if (v->tail[q] &&
			    (v->tail[q] >= h->nr_pages * WORDS_PER_PAGE ||
			     !v->cb_set))
				return -EINVAL;
	}
	/* FIFO starts with a vCPU's control block */
	if (h->fifo && !any_cb)
		return -EINVAL;
	virq_seen = calloc(NR_VIRQS, d->nr_vcpus);
	pirq_seen = calloc(d->nr_pirqs, 1);
	if (!virq_seen || !pirq_seen) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < h->nr_ports; i++) {
		const struct snap_port *p = &im->p[i], *peer;

		if (p->port == 0 || p->port >= max_ports ||
		    (i && p->port <= im->p[i - 1].port) ||
		    p->vcpu >= d->nr_vcpus ||
		    p->priority >= EVTCHN_FIFO_MAX_QUEUES ||
		    p->fifo_pending > 1 || (p->lastq >> 4) >= d->nr_vcpus)
			goto out;
		switch (p->state) {
		case ECS_UNBOUND:
		case ECS_IPI:
			break;
		case ECS_INTERDOMAIN:
			if (p->arg16 != d->domid)
				break; /* restored unbound for that domain */
			peer = find_port(im, p->arg32);
			if (p->arg32 == p->port || !peer ||
			    peer->state != ECS_INTERDOMAIN ||
			    peer->arg16 != d->domid || peer->arg32 != p->port)
				goto out;
			break;
		case ECS_VIRQ: {
			uint32_t slot;

			if (p->arg16 >= NR_VIRQS)
				goto out;
			/* one port a global VIRQ, one a per-vCPU VIRQ and vCPU */
			slot = virq_is_global(p->arg16) ? 0 : p->vcpu;
			if (virq_seen[slot * NR_VIRQS + p->arg16]++)
				goto out;
			break;
		}
		case ECS_PIRQ:
			if (p->arg32 >= d->nr_pirqs || pirq_seen[p->arg32]++)
				goto out;
			break;
		default:
			goto out;
		}
	}
	memset(pirq_seen, 0, d->nr_pirqs);
	for (uint32_t i = 0; i < h->nr_pirqs; i++) {
		const struct snap_pirq *q = &im->q[i];

		if (q->pirq >= d->nr_pirqs || q->allocated > 1 || q->entry > 1 ||
		    pirq_seen[q->pirq]++ ||
		    (q->emuirq != EMUIRQ_UNBOUND &&
		     q->emuirq != EMUIRQ_MSI_EMU &&
		     (q->emuirq < 0 || q->emuirq >= PIRQ_NR_HVM_GSIS)))
			goto out;
		if (q->emuirq == EMUIRQ_UNBOUND && !q->allocated && !q->entry)
			goto out; /* no state: not a record */
		/* the reverse map: one PIRQ a GSI; the MSI key names one */
		for (uint32_t k = 0; k < i; k++)
			if (q->emuirq >= 0 && im->q[k].emuirq == q->emuirq)
				goto out;
		if (q->emuirq == EMUIRQ_MSI_EMU &&
		    h->msi_emu_pirq != (int32_t)q->pirq)
			goto out;
	}
	/* The key names the one PIRQ mapped as an emulated MSI (checked
	 * above: every such PIRQ is the key), or none. */
	if (h->msi_emu_pirq != -1) {
		bool named = false;

		for (uint32_t i = 0; i < h->nr_pirqs; i++)
			named |= (int32_t)im->q[i].pirq == h->msi_emu_pirq &&
				 im->q[i].emuirq == EMUIRQ_MSI_EMU;
		if (!named)
			goto out;
	}
	rc = 0;
out:
	free(virq_seen);
	free(pirq_seen);
	return rc;
}

/* A domain nothing has happened to yet: no port bound, 2-level, no
 * vcpu_info registered, no PIRQ state.  Lock held. */
static bool domain_fresh(struct evtchn_domain *d)
{
	uint32_t n = atomic_load(&d->valid_ports);

	if (atomic_load(&d->fifo))
		return false;
	for (uint32_t port = 1; port < n; port++)
		if (bind_state(port_bind(port_get(d, port))) != ECS_FREE)
			return false;
	for (uint32_t i = 0; i < d->nr_vcpus; i++)
		if (d->vcpu[i].registered)
			return false;
	for (uint32_t i = 0; i < d->nr_pirqs; i++)
		if (pirq_saved(d, i))
			return false;
	return true;
}

/* The bindings (lock held, the image checked). */
static void restore_ports(struct evtchn_domain *d, const struct image *im)
{
	for (uint32_t i = 0; i < im->h->nr_ports; i++) {
		const struct snap_port *sp = &im->p[i];
		struct evtchn_port *p = port_get(d, sp->port);
		uint64_t b;

		port_set_notify(d, sp->port, sp->vcpu);
		atomic_store(&p->priority, sp->priority);
		atomic_store(&p->fifo_pending, sp->fifo_pending);
		atomic_store(&p->fifo_lastq, sp->lastq);
		switch (sp->state) {
		case ECS_INTERDOMAIN:
			b = sp->arg16 == d->domid
				    ? bind_make(ECS_INTERDOMAIN, sp->arg16,
						sp->arg32)
				    : bind_make(ECS_UNBOUND, sp->arg16, 0);
			break;
		case ECS_VIRQ:
			atomic_store_explicit(
				&d->vcpu[virq_is_global(sp->arg16) ? 0 : sp->vcpu]
					 .virq_to_evtchn[sp->arg16],
				sp->port, memory_order_release);
			b = bind_make(ECS_VIRQ, sp->arg16, 0);
			break;
		case ECS_PIRQ:
			pirq_set_port(d, sp->arg32, sp->port);
			b = bind_make(ECS_PIRQ, 0, sp->arg32);
			break;
		case ECS_UNBOUND:
			b = bind_make(ECS_UNBOUND, sp->arg16, 0);
			break;
		default: /* IPI */
			b = bind_make(ECS_IPI, 0, 0);
			break;
		}
		port_set_bind(d, sp->port, b);
	}
	d->free_hint = 1;
}

static void restore_pirqs(struct evtchn_domain *d, const struct image *im)
{
	for (uint32_t i = 0; i < im->h->nr_pirqs; i++) {
		const struct snap_pirq *q = &im->q[i];

		d->pirq[q->pirq].allocated = q->allocated;
		d->pirq[q->pirq].entry = q->entry;
		atomic_store(&d->pirq[q->pirq].emuirq, q->emuirq);
		if (q->emuirq >= 0)
			atomic_store(&d->gsi_pirq[q->emuirq], (int32_t)q->pirq);
	}
	atomic_store(&d->msi_emu_pirq, im->h->msi_emu_pirq);
	atomic_store(&d->gsi_level, im->h->gsi_level);
}

/* Everything that can fail, before anything changes: the vcpu_info pages,
 * the port storage.  Lock held. */
static int restore_prepare(struct evtchn_domain *d, const struct image *im,
			   void **vi_page)
{
	uint32_t top = im->h->nr_ports ? im->p[im->h->nr_ports - 1].port : 0;
	int rc;

	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		if (!im->v[i].registered)
			continue;
		vi_page[i] = guest_map_gfn(d, im->v[i].vi_gfn, true);
		if (!vi_page[i])
			return -EINVAL;
	}
	while (atomic_load(&d->valid_ports) <= top) {
		rc = port_alloc_bucket(d, atomic_load(&d->valid_ports));
		if (rc)
			return rc == -XEN_ENOMEM ? -ENOMEM : -EINVAL;
	}
	return 0;
}

int evtchn_domain_restore(struct evtchn_domain *d, const void *buf,
			  size_t len)
{
	struct fifo_image_vcpu *fv = NULL;
	void **vi_page = NULL;
	struct image im;
	int rc;

	if (!d || !buf)
		return -EINVAL;
	rc = parse(d, buf, len, &im);
	if (!rc)
		rc = check(d, &im);
	if (rc)
		return rc;
	vi_page = calloc(d->nr_vcpus, sizeof(*vi_page));
	fv = calloc(d->nr_vcpus, sizeof(*fv));
	if (!vi_page || !fv) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		fv[i].cb_set = im.v[i].cb_set;
		fv[i].cb_gfn = im.v[i].cb_gfn;
		fv[i].cb_offset = im.v[i].cb_offset;
		memcpy(fv[i].tail, im.v[i].tail, sizeof(fv[i].tail));
	}

	domain_lock(d);
	if (!domain_fresh(d)) {
		rc = -EBUSY;
		goto out;
	}
	rc = restore_prepare(d, &im, vi_page);
	if (!rc && im.h->fifo)
		rc = fifo_image_restore(d, fv, im.gfns, im.h->nr_pages);
	if (rc)
		goto out;
	/* From here nothing fails. */
	atomic_store_explicit(&d->layout, im.h->layout, memory_order_relaxed);
	memcpy(d->shared_info, im.shared_info, EVTCHN_PAGE_SIZE);
	atomic_store_explicit(&d->callback_via, im.h->callback_via,
			      memory_order_release);
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		struct evtchn_vcpu *v = &d->vcpu[i];

		if (im.v[i].registered) {
			vcpu_info_restore(d, v, im.v[i].vi_gfn, vi_page[i],
					  im.v[i].vi_offset);
			vi_page[i] = NULL;
		}
		atomic_store(&v->upcall_vector, im.v[i].upcall_vector);
	}
	restore_ports(d, &im);
	restore_pirqs(d, &im);
	kvm_resync(d); /* KVM's copy rebuilt from what was restored */
out:
	for (uint32_t i = 0; i < d->nr_vcpus; i++)
		if (vi_page[i])
			guest_unmap_gfn(d, im.v[i].vi_gfn, vi_page[i]);
	domain_unlock(d);
	/* An upcall that was pending is raised again, outside the lock for
	 * the VMM's callback: the interrupt may have been in flight (a
	 * spurious one is harmless, as after Xen's register_vcpu_info). */
	if (!rc) {
		evtchn_rcu_read_lock();
		for (uint32_t i = 0; i < d->nr_vcpus; i++) {
			unsigned char *vi = atomic_load(&d->vcpu[i].vcpu_info);

			if (__atomic_load_n(vi, __ATOMIC_SEQ_CST) & 1)
				upcall_raise(d, &d->vcpu[i]);
		}
		evtchn_rcu_read_unlock();
	}
	if (!rc)
		for (uint32_t i = 0; i < d->nr_vcpus; i++) {
			struct evtchn_vcpu_timer t = {
				.singleshot_ns = im.v[i].singleshot,
				.period_ns = im.v[i].period,
				.periodic_next_ns = im.v[i].periodic_next,
			};

			(void)evtchn_vcpu_timer_set(d, i, &t);
		}
out_free:
	free(vi_page);
	free(fv);
	return rc;
}
