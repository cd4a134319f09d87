/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void th_upcall_cb(struct evtchn_domain *d, uint32_t vcpu, void *opaque)
{
	struct th_domain *td = opaque;

	(void)d;
	if (vcpu < TH_MAX_VCPUS)
		atomic_fetch_add(&td->upcalls[vcpu], 1);
}

static void th_irq_cb(struct evtchn_domain *d, const struct evtchn_irq *irq,
		      void *opaque)
{
	struct th_domain *td = opaque;
	unsigned n = atomic_fetch_add(&td->nr_irqs, 1);

	(void)d;
	if (n < 64)
		td->irqs[n] = *irq;
	td->last_irq = *irq;
	if (irq->vcpu < TH_MAX_VCPUS)
		atomic_fetch_add(&td->upcalls[irq->vcpu], 1);
}

static long th_guest_op(void *ctx, uint32_t vcpu, int cmd, void *arg,
			size_t len)
{
	return th_op(ctx, vcpu, cmd, arg, len);
}

int th_domain_create(struct evtchn_host *h, struct th_domain *td,
		     const struct th_domain_opts *o)
{
	struct evtchn_domain_config cfg = { 0 };
	int rc;

	memset(td, 0, sizeof(*td));
	td->host = h;
	td->mem = aligned_alloc(EVTCHN_PAGE_SIZE, TH_MEM_SIZE);
	if (!td->mem)
		return -1;
	memset(td->mem, 0, TH_MEM_SIZE);
	cfg.domid = o->domid;
	cfg.nr_vcpus = o->nr_vcpus ? o->nr_vcpus : 2;
	cfg.layout = o->layout;
	cfg.privileged = o->privileged;
	cfg.max_evtchn_port = o->max_evtchn_port;
	cfg.nr_pirqs = o->nr_pirqs;
	cfg.nr_irqs_gsi = o->nr_irqs_gsi;
	cfg.no_pirqs = o->no_pirqs;
	evtchn_guest_mem_flat(&cfg.mem, td->mem, TH_MEM_SIZE);
	if (o->irq)
		cfg.irq_cb = th_irq_cb;
	else
		cfg.upcall_cb = th_upcall_cb;
	cfg.opaque = td;
	rc = evtchn_domain_create(h, &cfg, &td->d);
	if (rc) {
		free(td->mem);
		return rc;
	}
	rc = evtchn_guest_init(&td->g, evtchn_domain_shared_info(td->d),
			       o->layout == EVTCHN_LAYOUT_32, cfg.nr_vcpus,
			       th_guest_op, td);
	if (rc) {
		evtchn_domain_destroy(td->d);
		free(td->mem);
	}
	return rc;
}

void th_domain_destroy(struct th_domain *td)
{
	if (td->d)
		evtchn_domain_destroy(td->d);
	evtchn_guest_fini(&td->g);
	free(td->mem);
	td->d = NULL;
	td->mem = NULL;
}

long th_hypercall(struct th_domain *td, uint32_t vcpu, uint64_t nr,
		  uint64_t a0, uint64_t a1, uint64_t a2)
{
	uint64_t args[6] = { a0, a1, a2, 0, 0, 0 };

	return evtchn_hypercall(td->d, vcpu, nr, args);
}

/* Each thread copies its arguments through a guest page of its own. */
static _Atomic unsigned th_next_slot;
static __thread int th_slot = -1;

uint64_t th_scratch_gpa(void)
{
	if (th_slot < 0)
		th_slot = atomic_fetch_add(&th_next_slot, 1) % TH_SCRATCH_PAGES;
	return (uint64_t)(TH_SCRATCH_FIRST_GFN + th_slot) * EVTCHN_PAGE_SIZE;
}

long th_call(struct th_domain *td, uint32_t vcpu, uint64_t nr, uint64_t cmd,
	     void *arg, size_t len)
{
	uint64_t gpa = th_scratch_gpa();
	long rc;

	memcpy(td->mem + gpa, arg, len);
	rc = th_hypercall(td, vcpu, nr, cmd, gpa, 0);
	memcpy(arg, td->mem + gpa, len);
	return rc;
}

long th_op(struct th_domain *td, uint32_t vcpu, int cmd, void *arg,
	   size_t len)
{
	return th_call(td, vcpu, __HYPERVISOR_event_channel_op, (uint64_t)cmd,
		       arg, len);
}

long th_physdev(struct th_domain *td, int cmd, void *arg, size_t len)
{
	return th_call(td, 0, __HYPERVISOR_physdev_op, (uint64_t)cmd, arg,
		       len);
}

long th_hvm(struct th_domain *td, uint32_t vcpu, uint64_t op, void *arg,
	    size_t len)
{
	return th_call(td, vcpu, __HYPERVISOR_hvm_op, op, arg, len);
}

long th_alloc_unbound(struct th_domain *td, domid_t dom, domid_t remote)
{
	struct evtchn_alloc_unbound a = { .dom = dom, .remote_dom = remote };
	long rc = th_op(td, 0, EVTCHNOP_alloc_unbound, &a, sizeof(a));

	return rc ? rc : (long)a.port;
}

long th_bind_interdomain(struct th_domain *td, domid_t rdom, uint32_t rport)
{
	struct evtchn_bind_interdomain b = { .remote_dom = rdom,
					     .remote_port = rport };
	long rc = th_op(td, 0, EVTCHNOP_bind_interdomain, &b, sizeof(b));

	return rc ? rc : (long)b.local_port;
}

long th_bind_ipi(struct th_domain *td, uint32_t vcpu)
{
	struct evtchn_bind_ipi b = { .vcpu = vcpu };
	long rc = th_op(td, 0, EVTCHNOP_bind_ipi, &b, sizeof(b));

	return rc ? rc : (long)b.port;
}

long th_bind_virq(struct th_domain *td, uint32_t virq, uint32_t vcpu)
{
	struct evtchn_bind_virq b = { .virq = virq, .vcpu = vcpu };
	long rc = th_op(td, 0, EVTCHNOP_bind_virq, &b, sizeof(b));

	return rc ? rc : (long)b.port;
}

long th_close(struct th_domain *td, uint32_t port)
{
	struct evtchn_close c = { .port = port };

	return th_op(td, 0, EVTCHNOP_close, &c, sizeof(c));
}

long th_send(struct th_domain *td, uint32_t vcpu, uint32_t port)
{
	struct evtchn_send s = { .port = port };

	return th_op(td, vcpu, EVTCHNOP_send, &s, sizeof(s));
}

long th_unmask(struct th_domain *td, uint32_t port)
{
	struct evtchn_unmask u = { .port = port };

	return th_op(td, 0, EVTCHNOP_unmask, &u, sizeof(u));
}

long th_bind_vcpu(struct th_domain *td, uint32_t port, uint32_t vcpu)
{
	struct evtchn_bind_vcpu b = { .port = port, .vcpu = vcpu };

	return th_op(td, 0, EVTCHNOP_bind_vcpu, &b, sizeof(b));
}

long th_status(struct th_domain *td, domid_t dom, uint32_t port,
	       struct evtchn_status *out)
{
	struct evtchn_status s = { .dom = dom, .port = port };
	long rc = th_op(td, 0, EVTCHNOP_status, &s, sizeof(s));

	if (out)
		*out = s;
	return rc;
}

long th_set_priority(struct th_domain *td, uint32_t port, uint32_t prio)
{
	struct evtchn_set_priority sp = { .port = port, .priority = prio };

	return th_op(td, 0, EVTCHNOP_set_priority, &sp, sizeof(sp));
}

long th_fifo_expand(struct th_domain *td, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t gfn = TH_FIFO_ARRAY_GFN + td->g.fifo_pages;
		long rc;

		if (gfn >= TH_MEM_PAGES)
			return -XEN_ENOMEM;
		rc = evtchn_guest_fifo_expand(&td->g,
					      td->mem + gfn * EVTCHN_PAGE_SIZE,
					      gfn);
		if (rc)
			return rc;
	}
	return 0;
}

long th_fifo_setup(struct th_domain *td, unsigned pages)
{
	uint32_t per_page = EVTCHN_PAGE_SIZE / 72;

	for (uint32_t v = 0; v < td->g.nr_vcpus; v++) {
		uint64_t gfn = TH_FIFO_CB_GFN + v / per_page;
		uint32_t off = (v % per_page) * 72;
		long rc = evtchn_guest_fifo_init_vcpu(
			&td->g, v, td->mem + gfn * EVTCHN_PAGE_SIZE + off, gfn,
			off);

		if (rc)
			return rc;
	}
	return th_fifo_expand(td, pages);
}

bool th_pending(struct th_domain *td, uint32_t port)
{
	return evtchn_guest_is_pending(&td->g, port);
}

bool th_masked(struct th_domain *td, uint32_t port)
{
	return evtchn_guest_is_masked(&td->g, port);
}

void th_mask(struct th_domain *td, uint32_t port)
{
	evtchn_guest_mask(&td->g, port);
}

unsigned th_upcalls(struct th_domain *td, uint32_t vcpu)
{
	return atomic_load(&td->upcalls[vcpu]);
}

int th_fd_count(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	if (!dir)
		return -1;
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}
