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
 * The image's bytes are image.c's (docs/snapshot-format.md): here is what
 * they mean.  Every value is checked before anything is restored, so a
 * hostile or truncated image gives -EINVAL (or -EOPNOTSUPP for a newer
 * library's) and leaves the domain as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "internal.h"
#include "rcu.h"

#define VI_SIZE sizeof(struct vcpu_info_x86_64)
#define WORDS_PER_PAGE (EVTCHN_PAGE_SIZE / sizeof(event_word_t))

_Static_assert(IMAGE_QUEUES == EVTCHN_FIFO_MAX_QUEUES, "FIFO queues");
_Static_assert(EVTCHN_IMAGE_FORMAT == IMAGE_FORMAT, "image format");

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

/* The image's values, taken under the domain lock (the timers are not:
 * they have their own).  @si receives the shared_info page. */
static int save_locked(struct evtchn_domain *d, struct image *im,
		       unsigned char *si)
{
	uint32_t n = atomic_load(&d->valid_ports);
	struct fifo_image_vcpu *fv;
	struct img_port *sp;
	struct img_pirq *sq;
	int npages, rc;

	for (uint32_t port = 1; port < n; port++)
		im->nr_ports += port_saved(port_bind(port_get(d, port)));
	for (uint32_t i = 0; i < d->nr_pirqs; i++)
		im->nr_pirqs += pirq_saved(d, i);
	fv = calloc(d->nr_vcpus, sizeof(*fv));
	if (!fv)
		return -ENOMEM;
	npages = fifo_image_save(d, fv, im->gfns);
	im->nr_vcpus = d->nr_vcpus;
	im->nr_pages = npages > 0 ? (uint32_t)npages : 0;
	im->layout = (uint8_t)domain_layout(d);
	im->fifo = npages >= 0;
	im->callback_via = atomic_load(&d->callback_via);
	im->gsi_level = atomic_load(&d->gsi_level);
	im->msi_emu_pirq = atomic_load(&d->msi_emu_pirq);
	memcpy(si, d->shared_info, EVTCHN_PAGE_SIZE);
	im->shared_info = si;
	rc = image_alloc(im);
	if (rc)
		goto out;
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		struct evtchn_vcpu *v = &d->vcpu[i];
		struct img_vcpu *iv = &im->v[i];

		iv->registered = v->registered;
		if (v->registered) {
			iv->vi_gfn = v->vi_gfn;
			iv->vi_offset = (uint32_t)(atomic_load(&v->vcpu_info) -
						   (unsigned char *)v->vi_page);
		}
		iv->upcall_vector = atomic_load(&v->upcall_vector);
		iv->cb_set = fv[i].cb_set;
		iv->cb_gfn = fv[i].cb_gfn;
		iv->cb_offset = fv[i].cb_offset;
		memcpy(iv->tail, fv[i].tail, sizeof(iv->tail));
	}
	sp = im->p;
	for (uint32_t port = 1; port < n; port++) {
		struct evtchn_port *p = port_get(d, port);
		uint64_t b = port_bind(p);
		uint16_t lastq;

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
		lastq = atomic_load(&p->fifo_lastq);
		sp->last_vcpu = lastq >> 4;
		sp->last_prio = lastq & 15;
		sp++;
	}
	sq = im->q;
	for (uint32_t i = 0; i < d->nr_pirqs; i++) {
		if (!pirq_saved(d, i))
			continue;
		sq->pirq = i;
		sq->emuirq = atomic_load(&d->pirq[i].emuirq);
		sq->allocated = d->pirq[i].allocated;
		sq->entry = d->pirq[i].entry;
		sq++;
	}
out:
	free(fv);
	return rc;
}

int evtchn_domain_save(struct evtchn_domain *d, void **buf, size_t *len)
{
	unsigned char *si, *img;
	struct image im = { 0 };
	int rc;

	if (!d || !buf || !len)
		return -EINVAL;
	si = malloc(EVTCHN_PAGE_SIZE);
	if (!si)
		return -ENOMEM;
	domain_lock(d);
	rc = save_locked(d, &im, si);
	domain_unlock(d);
	if (rc)
		goto out;
	/* The timers, under their own lock. */
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		struct evtchn_vcpu_timer t;

		evtchn_vcpu_timer_get(d, i, &t);
		im.v[i].singleshot = t.singleshot_ns;
		im.v[i].period = t.period_ns;
		im.v[i].periodic_next = t.periodic_next_ns;
	}
	rc = image_encode(&im, &img, len);
	if (!rc)
		*buf = img;
out:
	image_free(&im);
	free(si);
	return rc;
}

/* --- restore ---------------------------------------------------------- */

/* The port record for @port, or NULL (records are in port order). */
static const struct img_port *find_port(const struct image *im,
					uint32_t port)
{
	uint32_t lo = 0, hi = im->nr_ports;

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
	uint32_t max_ports, vi_align;
	int rc = -EINVAL;
	uint8_t *virq_seen = NULL, *pirq_seen = NULL;

	if (im->layout > EVTCHN_LAYOUT_32 || im->fifo > 1 ||
	    (!im->fifo && im->nr_pages) || im->nr_pirqs > d->nr_pirqs)
		return -EINVAL;
	if (im->callback_via >> 56 > 2)
		return -EINVAL;
	if (im->gsi_level >> PIRQ_NR_HVM_GSIS)
		return -EINVAL;
	max_ports = im->fifo ? EVTCHN_FIFO_NR_CHANNELS
		    : im->layout == EVTCHN_LAYOUT_32 ? EVTCHN_2L_PORTS_32
						   : EVTCHN_2L_PORTS_64;
	if (max_ports > d->max_evtchn_port + 1)
		max_ports = d->max_evtchn_port + 1;
	vi_align = im->layout == EVTCHN_LAYOUT_32
			   ? _Alignof(struct vcpu_info_x86_32)
			   : _Alignof(struct vcpu_info_x86_64);
	bool any_cb = false;

	for (uint32_t i = 0; i < im->nr_vcpus; i++) {
		const struct img_vcpu *v = &im->v[i];

		any_cb |= v->cb_set == 1;

		if (v->registered > 1 || v->cb_set > 1 ||
		    (v->upcall_vector && v->upcall_vector < 0x10))
			return -EINVAL;
		if (v->registered && (v->vi_offset > EVTCHN_PAGE_SIZE - VI_SIZE ||
				      (v->vi_offset & (vi_align - 1))))
			return -EINVAL;
		if (v->cb_set && !im->fifo)
			return -EINVAL;
		/* the limits evtchn_vcpu_timer_set() applies */
		if (v->period && !timer_period_valid(v->period))
			return -EINVAL;
		/* a tail is a port with an event word */
		for (uint32_t q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++)
			if (v->tail[q] &&
			    (v->tail[q] >= im->nr_pages * WORDS_PER_PAGE ||
			     !v->cb_set))
				return -EINVAL;
	}
	/* FIFO starts with a vCPU's control block */
	if (im->fifo && !any_cb)
		return -EINVAL;
	virq_seen = calloc(NR_VIRQS, d->nr_vcpus);
	pirq_seen = calloc(d->nr_pirqs, 1);
	if (!virq_seen || !pirq_seen) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < im->nr_ports; i++) {
		const struct img_port *p = &im->p[i], *peer;

		if (p->port == 0 || p->port >= max_ports ||
		    (i && p->port <= im->p[i - 1].port) ||
		    p->vcpu >= d->nr_vcpus ||
		    p->priority >= EVTCHN_FIFO_MAX_QUEUES ||
		    p->fifo_pending > 1 || p->last_vcpu >= d->nr_vcpus ||
		    p->last_prio >= EVTCHN_FIFO_MAX_QUEUES)
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
	for (uint32_t i = 0; i < im->nr_pirqs; i++) {
		const struct img_pirq *q = &im->q[i];

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
		    im->msi_emu_pirq != (int32_t)q->pirq)
			goto out;
	}
	/* The key names the one PIRQ mapped as an emulated MSI (checked
	 * above: every such PIRQ is the key), or none. */
	if (im->msi_emu_pirq != -1) {
		bool named = false;

		for (uint32_t i = 0; i < im->nr_pirqs; i++)
			named |= (int32_t)im->q[i].pirq == im->msi_emu_pirq &&
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
	for (uint32_t i = 0; i < im->nr_ports; i++) {
		const struct img_port *sp = &im->p[i];
		struct evtchn_port *p = port_get(d, sp->port);
		uint64_t b;

		port_set_notify(d, sp->port, sp->vcpu);
		atomic_store(&p->priority, sp->priority);
		atomic_store(&p->fifo_pending, sp->fifo_pending);
		atomic_store(&p->fifo_lastq,
			     (uint16_t)(sp->last_vcpu << 4 | sp->last_prio));
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
	for (uint32_t i = 0; i < im->nr_pirqs; i++) {
		const struct img_pirq *q = &im->q[i];

		d->pirq[q->pirq].allocated = q->allocated;
		d->pirq[q->pirq].entry = q->entry;
		atomic_store(&d->pirq[q->pirq].emuirq, q->emuirq);
		if (q->emuirq >= 0)
			atomic_store(&d->gsi_pirq[q->emuirq], (int32_t)q->pirq);
	}
	atomic_store(&d->msi_emu_pirq, im->msi_emu_pirq);
	atomic_store(&d->gsi_level, im->gsi_level);
}

/* The guest pages the image names (vcpu_info, FIFO control blocks and
 * event arrays), mapped before the domain lock is taken so the VMM's map
 * callback runs under none (internal.h).  *@vi_rc and *@fifo_rc are what
 * the mapping answers, reported after the checks that need the lock
 * (restore_prepare()). */
static void restore_map(struct evtchn_domain *d, const struct image *im,
			const struct fifo_image_vcpu *fv, void **vi_page,
			struct fifo_domain **fd, int *vi_rc, int *fifo_rc)
{
	*vi_rc = *fifo_rc = 0;
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		if (!im->v[i].registered)
			continue;
		vi_page[i] = guest_map_gfn(d, im->v[i].vi_gfn, true);
		if (!vi_page[i]) {
			*vi_rc = -EINVAL;
			return;
		}
	}
	if (im->fifo)
		*fifo_rc = fifo_image_map(d, fv, im->gfns, im->nr_pages, fd);
}

/* Everything that can fail, before anything changes, in this order: the
 * vcpu_info pages, the port storage, the FIFO state.  Lock held. */
static int restore_prepare(struct evtchn_domain *d, const struct image *im,
			   int vi_rc, int fifo_rc)
{
	uint32_t top = im->nr_ports ? im->p[im->nr_ports - 1].port : 0;
	int rc;

	if (vi_rc)
		return vi_rc;
	while (atomic_load(&d->valid_ports) <= top) {
		rc = port_alloc_bucket(d, atomic_load(&d->valid_ports));
		if (rc)
			return rc == -XEN_ENOMEM ? -ENOMEM : -EINVAL;
	}
	return fifo_rc;
}

int evtchn_domain_restore(struct evtchn_domain *d, const void *buf,
			  size_t len)
{
	struct fifo_image_vcpu *fv = NULL;
	struct fifo_domain *fd = NULL;
	void **vi_page = NULL;
	int vi_rc, fifo_rc;
	struct image im;
	int rc;

	if (!d || !buf)
		return -EINVAL;
	rc = image_decode(buf, len, d->nr_vcpus, &im);
	if (rc)
		return rc;
	rc = check(d, &im);
	if (rc)
		goto out_free;
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
	restore_map(d, &im, fv, vi_page, &fd, &vi_rc, &fifo_rc);

	domain_lock(d);
	if (!domain_fresh(d)) {
		rc = -EBUSY;
		goto out;
	}
	rc = restore_prepare(d, &im, vi_rc, fifo_rc);
	if (rc)
		goto out;
	/* From here nothing fails. */
	if (fd) {
		fifo_image_install(d, fd);
		fd = NULL;
	}
	atomic_store_explicit(&d->layout, im.layout, memory_order_relaxed);
	memcpy(d->shared_info, im.shared_info, EVTCHN_PAGE_SIZE);
	atomic_store_explicit(&d->callback_via, im.callback_via,
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
	domain_unlock(d);
	/* What was mapped and not kept (never published: no grace period). */
	for (uint32_t i = 0; i < d->nr_vcpus; i++)
		if (vi_page[i])
			guest_unmap_gfn(d, im.v[i].vi_gfn, vi_page[i]);
	fifo_free(d, fd);
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
	image_free(&im);
	return rc;
}
