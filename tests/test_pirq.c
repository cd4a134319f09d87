/* SPDX-License-Identifier: MIT */
/*
 * PIRQs of an HVM guest (src/pirq.c) against Xen 4.17: xen/arch/x86/
 * physdev.c (the PHYSDEVOPs), irq.c (get_free_pirq(),
 * map_domain_emuirq_pirq(), unmap_domain_pirq_emuirq()), hvm/irq.c
 * (hvm_inject_msi(), assert_gsi()), common/event_channel.c
 * (evtchn_bind_pirq()).  B12, B44, B45.
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "fixture.h"
#include "evtchn/route.h"

#include <xen/physdev.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

struct pfx {
	struct evtchn_host *h;
	struct th_domain dom0, d;
};

/* Domain 1: 2 vCPUs, Xen's defaults (nr_pirqs 56, GSI PIRQs 16..23). */
static int setup_opts(void **state, const struct th_domain_opts *o)
{
	struct pfx *p = calloc(1, sizeof(*p));
	struct th_domain_opts o0 = { .domid = 0, .nr_vcpus = 1,
				     .privileged = true };

	if (!p || evtchn_host_create(&p->h) ||
	    th_domain_create(p->h, &p->dom0, &o0) ||
	    th_domain_create(p->h, &p->d, o))
		return -1;
	*state = p;
	return 0;
}

static int setup(void **state)
{
	struct th_domain_opts o = { .domid = 1, .nr_vcpus = 2 };

	return setup_opts(state, &o);
}

/* nr_pirqs 512, so PIRQ 0x120 of B44 exists. */
static int setup512(void **state)
{
	struct th_domain_opts o = { .domid = 1, .nr_vcpus = 2,
				    .nr_pirqs = 512 };

	return setup_opts(state, &o);
}

static int setup_nopirq(void **state)
{
	struct th_domain_opts o = { .domid = 1, .nr_vcpus = 2,
				    .no_pirqs = true };

	return setup_opts(state, &o);
}

static int teardown(void **state)
{
	struct pfx *p = *state;

	th_domain_destroy(&p->d);
	th_domain_destroy(&p->dom0);
	assert_int_equal(evtchn_host_destroy(p->h), 0);
	free(p);
	return 0;
}

#define P struct pfx *p = *state
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define T512(fn) cmocka_unit_test_setup_teardown(fn, setup512, teardown)

/* HVM_PARAM_CALLBACK_IRQ: type 2, vector 0xf3 (what Linux does). */
static void vector_callback(struct th_domain *td)
{
	struct xen_hvm_param hp = { .domid = DOMID_SELF,
				    .index = HVM_PARAM_CALLBACK_IRQ,
				    .value = (2ull << 56) | 0xf3 };

	assert_int_equal(th_hvm(td, 0, HVMOP_set_param, &hp, sizeof(hp)), 0);
}

/* map_pirq of GSI @gsi; the pirq (or Xen's error) in *pirq. */
static long map_gsi(struct th_domain *td, int gsi, int *pirq)
{
	struct physdev_map_pirq m = { .domid = DOMID_SELF,
				      .type = MAP_PIRQ_TYPE_GSI,
				      .index = gsi, .pirq = *pirq };
	long rc = th_physdev(td, PHYSDEVOP_map_pirq, &m, sizeof(m));

	*pirq = m.pirq;
	return rc;
}

static long unmap(struct th_domain *td, domid_t dom, int pirq)
{
	struct physdev_unmap_pirq u = { .domid = dom, .pirq = pirq };

	return th_physdev(td, PHYSDEVOP_unmap_pirq, &u, sizeof(u));
}

static long get_free(struct th_domain *td, int type, uint32_t *pirq)
{
	struct physdev_get_free_pirq g = { .type = type, .pirq = 0xdead };
	long rc = th_physdev(td, PHYSDEVOP_get_free_pirq, &g, sizeof(g));

	*pirq = g.pirq;
	return rc;
}

static long status_query(struct th_domain *td, uint32_t irq, uint32_t *flags)
{
	struct physdev_irq_status_query q = { .irq = irq, .flags = 0xdead };
	long rc = th_physdev(td, PHYSDEVOP_irq_status_query, &q, sizeof(q));

	*flags = q.flags;
	return rc;
}

static long eoi(struct th_domain *td, uint32_t irq)
{
	struct physdev_eoi e = { .irq = irq };

	return th_physdev(td, PHYSDEVOP_eoi, &e, sizeof(e));
}

static long bind_pirq(struct th_domain *td, uint32_t pirq, uint32_t flags)
{
	struct evtchn_bind_pirq b = { .pirq = pirq, .flags = flags };
	long rc = th_op(td, 0, EVTCHNOP_bind_pirq, &b, sizeof(b));

	return rc ? rc : (long)b.port;
}

/* The MSI a Linux guest programs for @pirq: data vector 0, the PIRQ's
 * low byte as destination id, the rest in the high address. */
static uint64_t msi_addr(uint32_t pirq)
{
	return ((uint64_t)(pirq & 0xffffff00) << 32) | 0xfee00000u |
	       ((pirq & 0xff) << 12);
}

static void noop(uint32_t vcpu, uint32_t port, void *opaque)
{
	(void)vcpu;
	(void)port;
	(void)opaque;
}

/* The guest takes every pending event of vCPU 0. */
static void drain(struct th_domain *td)
{
	evtchn_guest_upcall(&td->g, 0, noop, NULL);
}

/* B45, Xen's evtchn_bind_pirq() for HVM: any PIRQ below nr_pirqs, mapped
 * or not, flags ignored, notify vCPU 0; bound twice -EEXIST; beyond
 * nr_pirqs -EINVAL.  B12: send on a PIRQ port -EINVAL. */
static void bind_pirq_rules(void **state)
{
	P;
	struct evtchn_status st;
	long port, port0;

	assert_int_equal(bind_pirq(&p->d, 56, 0), -XEN_EINVAL);
	assert_int_equal(bind_pirq(&p->d, UINT32_MAX, 0), -XEN_EINVAL);
	port = bind_pirq(&p->d, 55, BIND_PIRQ__WILL_SHARE);
	assert_int_equal(port, 1);
	assert_int_equal(bind_pirq(&p->d, 55, 0), -XEN_EEXIST);
	port0 = bind_pirq(&p->d, 0, 0); /* PIRQ 0 too, on HVM */
	assert_int_equal(port0, 2);
	assert_int_equal(th_status(&p->d, DOMID_SELF, port, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_pirq);
	assert_int_equal(st.u.pirq, 55);
	assert_int_equal(st.vcpu, 0);
	assert_int_equal(th_send(&p->d, 0, port), -XEN_EINVAL);
	assert_int_equal(th_bind_vcpu(&p->d, port, 1), 0);
	assert_int_equal(th_status(&p->d, DOMID_SELF, port, &st), 0);
	assert_int_equal(st.vcpu, 1);
	/* Closed, it binds again (to the lowest free port). */
	assert_int_equal(th_close(&p->d, port), 0);
	assert_int_equal(bind_pirq(&p->d, 55, 0), 1);
	/* A reset closes PIRQ ports like any other. */
	struct evtchn_reset r = { .dom = DOMID_SELF };

	assert_int_equal(th_op(&p->d, 0, EVTCHNOP_reset, &r, sizeof(r)), 0);
	assert_int_equal(bind_pirq(&p->d, 55, 0), 1);
	assert_int_equal(bind_pirq(&p->d, 0, 0), 2);
}

/* Xen 4.17's hvm_physdev_op(): without XEN_X86_EMU_USE_PIRQ the PIRQ ops
 * are -ENOSYS; every other PHYSDEVOP is -ENOSYS for an HVM guest. */
static void physdev_gating(void **state)
{
	P;
	int pirq = -1;
	uint32_t u, flags;

	assert_int_equal(map_gsi(&p->d, 20, &pirq), -XEN_ENOSYS);
	assert_int_equal(pirq, -1); /* nothing copied */
	assert_int_equal(unmap(&p->d, DOMID_SELF, 20), -XEN_ENOSYS);
	assert_int_equal(eoi(&p->d, 20), -XEN_ENOSYS);
	assert_int_equal(status_query(&p->d, 20, &flags), -XEN_ENOSYS);
	assert_int_equal(get_free(&p->d, MAP_PIRQ_TYPE_MSI, &u), -XEN_ENOSYS);
	/* EVTCHNOP_bind_pirq is not gated */
	assert_true(bind_pirq(&p->d, 20, 0) > 0);
}

static void physdev_other_ops(void **state)
{
	P;
	static const int ops[] = { PHYSDEVOP_IRQ_UNMASK_NOTIFY,
				   PHYSDEVOP_set_iopl,
				   PHYSDEVOP_apic_read,
				   PHYSDEVOP_alloc_irq_vector,
				   PHYSDEVOP_pirq_eoi_gmfn_v1,
				   PHYSDEVOP_pirq_eoi_gmfn_v2,
				   PHYSDEVOP_setup_gsi,
				   PHYSDEVOP_pci_device_add, 99, -1 };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		assert_int_equal(th_hypercall(&p->d, 0,
					      __HYPERVISOR_physdev_op,
					      (uint64_t)ops[i],
					      th_scratch_gpa(), 0),
				 -XEN_ENOSYS);
}

/* physdev_map_pirq() for DOMID_SELF: only with a vector callback (or a
 * per-vCPU vector on vCPU 0), else -EINVAL; the struct comes back. */
static void map_pirq_needs_vector_callback(void **state)
{
	P;
	struct xen_hvm_param hp = { .domid = DOMID_SELF,
				    .index = HVM_PARAM_CALLBACK_IRQ,
				    .value = 20 }; /* GSI 20 */
	struct xen_hvm_evtchn_upcall_vector v = { .vcpu = 0,
						  .vector = 0xf3 };
	int pirq = -1;

	assert_int_equal(map_gsi(&p->d, 20, &pirq), -XEN_EINVAL);
	assert_int_equal(pirq, -1);
	assert_int_equal(th_hvm(&p->d, 0, HVMOP_set_param, &hp, sizeof(hp)), 0);
	assert_int_equal(map_gsi(&p->d, 20, &pirq), -XEN_EINVAL);
	assert_int_equal(th_hvm(&p->d, 0, HVMOP_set_evtchn_upcall_vector, &v,
			     sizeof(v)),
			 0);
	assert_int_equal(map_gsi(&p->d, 20, &pirq), 0);
	assert_int_equal(pirq, 16);
}

/* get_free_pirq(GSI): 16 upwards below nr_irqs_gsi (24), then from the
 * top (nr_pirqs - 1) down; an explicit pirq is taken as given; bad GSIs,
 * types and PIRQs -EINVAL; a mapping that conflicts is left alone and
 * answers 0. */
static void map_pirq_gsi(void **state)
{
	P;
	struct physdev_map_pirq m;
	uint32_t flags;
	int pirq;

	vector_callback(&p->d);
	for (int gsi = 16; gsi < 24; gsi++) {
		pirq = -1;
		assert_int_equal(map_gsi(&p->d, gsi, &pirq), 0);
		assert_int_equal(pirq, gsi); /* 16..23 in order */
	}
	pirq = -5; /* any negative value asks for one */
	assert_int_equal(map_gsi(&p->d, 24, &pirq), 0);
	assert_int_equal(pirq, 55);
	pirq = 40;
	assert_int_equal(map_gsi(&p->d, 47, &pirq), 0);
	assert_int_equal(pirq, 40);
	pirq = 3; /* below 16 too, when asked for */
	assert_int_equal(map_gsi(&p->d, 3, &pirq), 0);
	assert_int_equal(status_query(&p->d, 3, &flags), 0);
	/* GSI range 0..47 */
	pirq = -1;
	assert_int_equal(map_gsi(&p->d, 48, &pirq), -XEN_EINVAL);
	assert_int_equal(pirq, -1);
	assert_int_equal(map_gsi(&p->d, -1, &pirq), -XEN_EINVAL);
	pirq = 56;
	assert_int_equal(map_gsi(&p->d, 30, &pirq), -XEN_EINVAL);
	assert_int_equal(pirq, 56);
	/* Already mapped: 0, nothing changes.  GSI 20 again with a new
	 * PIRQ: the PIRQ allocated (54) is not mapped. */
	pirq = -1;
	assert_int_equal(map_gsi(&p->d, 20, &pirq), 0);
	assert_int_equal(pirq, 54);
	assert_int_equal(status_query(&p->d, 54, &flags), -XEN_EINVAL);
	/* PIRQ 40 to another GSI: refused silently */
	pirq = 40;
	assert_int_equal(map_gsi(&p->d, 31, &pirq), 0);
	assert_int_equal(evtchn_gsi_set(p->d.d, 31, true), 0); /* unmapped */
	/* The same pair again: 0 */
	pirq = 40;
	assert_int_equal(map_gsi(&p->d, 47, &pirq), 0);

	/* Types: only GSI.  MSI_SEG comes back as MSI. */
	memset(&m, 0, sizeof(m));
	m.domid = DOMID_SELF;
	m.type = MAP_PIRQ_TYPE_MSI;
	m.pirq = -1;
	assert_int_equal(th_physdev(&p->d, PHYSDEVOP_map_pirq, &m, sizeof(m)),
			 -XEN_EINVAL);
	m.type = MAP_PIRQ_TYPE_MSI_SEG;
	m.bus = 0x10000;
	assert_int_equal(th_physdev(&p->d, PHYSDEVOP_map_pirq, &m, sizeof(m)),
			 -XEN_EINVAL);
	assert_int_equal(m.type, MAP_PIRQ_TYPE_MSI);
	assert_int_equal(m.bus, 0x10000);
	m.type = 7;
	assert_int_equal(th_physdev(&p->d, PHYSDEVOP_map_pirq, &m, sizeof(m)),
			 -XEN_EINVAL);
	m.type = MAP_PIRQ_TYPE_UNKNOWN;
	assert_int_equal(th_physdev(&p->d, PHYSDEVOP_map_pirq, &m, sizeof(m)),
			 -XEN_EINVAL);
}

/* No free PIRQ: get_free_pirq's -ENOSPC lands in the pirq field and
 * map_domain_emuirq_pirq() refuses it: -EINVAL, pirq -28. */
static void map_pirq_exhausted(void **state)
{
	P;
	int pirq;

	(void)p;
	struct th_domain td;
	struct th_domain_opts o = { .domid = 5, .nr_vcpus = 1,
				    .nr_pirqs = 20, .nr_irqs_gsi = 16 };

	assert_int_equal(th_domain_create(p->h, &td, &o), 0);
	vector_callback(&td);
	for (int i = 0; i < 4; i++) {
		pirq = -1;
		assert_int_equal(map_gsi(&td, 16 + i, &pirq), 0);
		assert_int_equal(pirq, 19 - i); /* no GSI range: from the top */
	}
	pirq = -1;
	assert_int_equal(map_gsi(&td, 30, &pirq), -XEN_EINVAL);
	assert_int_equal(pirq, -XEN_ENOSPC);
	th_domain_destroy(&td);
}

/* MULTI_MSI with a table base: -EINVAL before anything is copied back;
 * 32-bit guests pass the 36-byte layout. */
static void map_pirq_layouts(void **state)
{
	P;
	struct physdev_map_pirq m = { .domid = DOMID_SELF,
				      .type = MAP_PIRQ_TYPE_MULTI_MSI,
				      .pirq = 77, .table_base = 1 };
	uint64_t end = TH_MEM_SIZE - 36;

	vector_callback(&p->d);
	assert_int_equal(th_physdev(&p->d, PHYSDEVOP_map_pirq, &m, sizeof(m)),
			 -XEN_EINVAL);
	assert_int_equal(m.pirq, 77);
	/* A 64-bit guest's 40 bytes do not fit at the end of memory. */
	m = (struct physdev_map_pirq){ .domid = DOMID_SELF,
				       .type = MAP_PIRQ_TYPE_GSI,
				       .index = 20, .pirq = -1 };
	memcpy(p->d.mem + end, &m, 36);
	assert_int_equal(th_hypercall(&p->d, 0, __HYPERVISOR_physdev_op,
				      PHYSDEVOP_map_pirq, end, 0),
			 -XEN_EFAULT);
	/* A 32-bit guest's 36 bytes do. */
	assert_int_equal(evtchn_domain_set_layout(p->d.d, EVTCHN_LAYOUT_32),
			 0);
	assert_int_equal(th_hypercall(&p->d, 0, __HYPERVISOR_physdev_op,
				      PHYSDEVOP_map_pirq, end, 0),
			 0);
	memcpy(&m, p->d.mem + end, 28);
	assert_int_equal(m.pirq, 16);
	/* the 32-bit table_base (offset 28) decides MULTI_MSI */
	m.type = MAP_PIRQ_TYPE_MULTI_MSI;
	m.pirq = 5;
	memcpy(p->d.mem + end, &m, 28);
	memset(p->d.mem + end + 28, 0, 8);
	p->d.mem[end + 28] = 1;
	assert_int_equal(th_hypercall(&p->d, 0, __HYPERVISOR_physdev_op,
				      PHYSDEVOP_map_pirq, end, 0),
			 -XEN_EINVAL);
}

/* Another domain's PIRQs: a missing domain -ESRCH; an unprivileged
 * caller -EPERM, even naming itself by number (4.17); the control domain
 * gets Xen's answer for a machine IRQ it does not have, -EINVAL. */
static void map_unmap_foreign(void **state)
{
	P;
	struct physdev_map_pirq m = { .domid = 9, .type = MAP_PIRQ_TYPE_GSI,
				      .index = 20, .pirq = -1 };

	vector_callback(&p->d);
	assert_int_equal(th_physdev(&p->d, PHYSDEVOP_map_pirq, &m, sizeof(m)),
			 -XEN_ESRCH);
	m.domid = 0;
	assert_int_equal(th_physdev(&p->d, PHYSDEVOP_map_pirq, &m, sizeof(m)),
			 -XEN_EPERM);
	m.domid = 1;
	assert_int_equal(th_physdev(&p->d, PHYSDEVOP_map_pirq, &m, sizeof(m)),
			 -XEN_EPERM);
	assert_int_equal(m.pirq, -1);
	assert_int_equal(th_physdev(&p->dom0, PHYSDEVOP_map_pirq, &m, sizeof(m)),
			 -XEN_EINVAL);

	int pirq = -1;

	assert_int_equal(map_gsi(&p->d, 20, &pirq), 0);
	assert_int_equal(unmap(&p->d, 9, pirq), -XEN_ESRCH);
	assert_int_equal(unmap(&p->d, 1, pirq), -XEN_EPERM);
	/* dom0 unmaps the emulated IRQ, then fails on the machine one */
	assert_int_equal(unmap(&p->dom0, 1, pirq), -XEN_EINVAL);
	uint32_t flags;

	assert_int_equal(status_query(&p->d, (uint32_t)pirq, &flags),
			 -XEN_EINVAL);
}

/* get_free_pirq(): MSI type (or any but GSI) from the top down, GSI from
 * 16; the PIRQ stays allocated (PIRQ_ALLOCATED) through unmap and close;
 * none left -ENOSPC without a copy-back. */
static void get_free_pirq_rules(void **state)
{
	P;
	uint32_t pirq, flags;
	long port;

	assert_int_equal(get_free(&p->d, MAP_PIRQ_TYPE_MSI, &pirq), 0);
	assert_int_equal(pirq, 55);
	assert_int_equal(get_free(&p->d, 9, &pirq), 0);
	assert_int_equal(pirq, 54);
	assert_int_equal(get_free(&p->d, MAP_PIRQ_TYPE_GSI, &pirq), 0);
	assert_int_equal(pirq, 16);
	/* allocated only: no status, EOI fine */
	assert_int_equal(status_query(&p->d, 55, &flags), -XEN_EINVAL);
	assert_int_equal(eoi(&p->d, 55), 0);
	port = bind_pirq(&p->d, 55, 0);
	assert_true(port > 0);
	assert_int_equal(th_close(&p->d, port), 0);
	assert_int_equal(unmap(&p->d, DOMID_SELF, 55), 0);
	assert_int_equal(get_free(&p->d, MAP_PIRQ_TYPE_MSI, &pirq), 0);
	assert_int_equal(pirq, 53); /* 55 is still taken */
	/* The rest: 17..23 and 24..52 */
	for (int i = 0; i < 7 + 29; i++)
		assert_int_equal(get_free(&p->d, MAP_PIRQ_TYPE_GSI, &pirq), 0);
	assert_int_equal(pirq, 24);
	assert_int_equal(get_free(&p->d, MAP_PIRQ_TYPE_MSI, &pirq),
			 -XEN_ENOSPC);
	assert_int_equal(pirq, 0xdead);
}

/* irq_status_query(): -EINVAL out of range or not mapped; a mapped PIRQ
 * needs an EOI (always) and is never shared. */
static void irq_status_query_rules(void **state)
{
	P;
	uint32_t flags;
	int pirq = -1;

	vector_callback(&p->d);
	assert_int_equal(status_query(&p->d, 512, &flags), -XEN_EINVAL);
	assert_int_equal(status_query(&p->d, UINT32_MAX, &flags), -XEN_EINVAL);
	assert_int_equal(status_query(&p->d, 16, &flags), -XEN_EINVAL);
	assert_int_equal(flags, 0xdead);
	assert_int_equal(map_gsi(&p->d, 5, &pirq), 0); /* an ISA GSI too */
	assert_int_equal(status_query(&p->d, (uint32_t)pirq, &flags), 0);
	assert_int_equal(flags, XENIRQSTAT_needs_eoi);
	assert_int_equal(evtchn_msi_inject(p->d.d, msi_addr(40), 0), 0);
	assert_int_equal(status_query(&p->d, 40, &flags), 0);
	assert_int_equal(flags, XENIRQSTAT_needs_eoi);
	assert_int_equal(th_hypercall(&p->d, 0, __HYPERVISOR_physdev_op,
				      PHYSDEVOP_irq_status_query, TH_MEM_SIZE,
				      0),
			 -XEN_EFAULT);
}

/* unmap_pirq() on itself: 0 whether or not anything was mapped; the port
 * stays bound; the GSI goes back to the IOAPIC. */
static void unmap_rules(void **state)
{
	P;
	struct evtchn_status st;
	int pirq = -1;
	long port;

	vector_callback(&p->d);
	assert_int_equal(unmap(&p->d, DOMID_SELF, 30), 0);
	assert_int_equal(unmap(&p->d, DOMID_SELF, -1), 0);
	assert_int_equal(unmap(&p->d, DOMID_SELF, 1000), 0);
	assert_int_equal(map_gsi(&p->d, 20, &pirq), 0);
	port = bind_pirq(&p->d, (uint32_t)pirq, 0);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, true), 1);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, false), 1);
	assert_int_equal(unmap(&p->d, DOMID_SELF, pirq), 0);
	assert_int_equal(th_status(&p->d, DOMID_SELF, port, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_pirq);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, true), 0);
	/* mapped again, to another GSI */
	assert_int_equal(map_gsi(&p->d, 21, &pirq), 0);
	assert_int_equal(evtchn_gsi_set(p->d.d, 21, true), 1);
}

/* assert_gsi(): a mapped GSI raises its PIRQ on each rising edge instead
 * of the vIOAPIC; mapped but unbound, it is lost (not given back to the
 * IOAPIC) until unmapped. */
static void gsi_delivery(void **state)
{
	P;
	int pirq = -1;
	long port;

	vector_callback(&p->d);
	assert_int_equal(evtchn_gsi_set(p->d.d, 48, true), -EINVAL);
	assert_int_equal(evtchn_gsi_set(NULL, 20, true), -EINVAL);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, true), 0); /* not mapped */
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, false), 0);
	assert_int_equal(map_gsi(&p->d, 20, &pirq), 0);
	port = bind_pirq(&p->d, (uint32_t)pirq, 0);
	assert_int_equal(th_upcalls(&p->d, 0), 0);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, true), 1);
	assert_true(th_pending(&p->d, port));
	assert_int_equal(th_upcalls(&p->d, 0), 1);
	drain(&p->d);
	/* still high: no new edge */
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, true), 1);
	assert_false(th_pending(&p->d, port));
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, false), 1);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, true), 1);
	assert_true(th_pending(&p->d, port));
	drain(&p->d);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, false), 1);
	/* the port moves with bind_vcpu */
	assert_int_equal(th_bind_vcpu(&p->d, port, 1), 0);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, true), 1);
	assert_int_equal(th_upcalls(&p->d, 1), 1);
	evtchn_guest_upcall(&p->d.g, 1, noop, NULL);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, false), 1);
	/* closed: the mapping stays, the interrupt is dropped */
	assert_int_equal(th_close(&p->d, port), 0);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, true), 1);
	assert_false(th_pending(&p->d, port));
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, false), 1);
	assert_int_equal(unmap(&p->d, DOMID_SELF, pirq), 0);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, true), 0);
}

/* PHYSDEVOP_eoi: -EINVAL beyond nr_pirqs or for a PIRQ with no state; a
 * PCI GSI (16 and up) still high raises its PIRQ again; ISA GSIs never. */
static void eoi_rules(void **state)
{
	P;
	int pirq = -1, isa = 6;
	long port, isa_port;

	vector_callback(&p->d);
	assert_int_equal(eoi(&p->d, 56), -XEN_EINVAL);
	assert_int_equal(eoi(&p->d, 30), -XEN_EINVAL); /* never touched */
	assert_true(bind_pirq(&p->d, 30, 0) > 0);
	assert_int_equal(eoi(&p->d, 30), 0);           /* bound: state */
	assert_int_equal(map_gsi(&p->d, 20, &pirq), 0);
	port = bind_pirq(&p->d, (uint32_t)pirq, 0);
	assert_int_equal(map_gsi(&p->d, 6, &isa), 0);
	isa_port = bind_pirq(&p->d, (uint32_t)isa, 0);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, true), 1);
	assert_int_equal(evtchn_gsi_set(p->d.d, 6, true), 1);
	assert_true(th_pending(&p->d, port) && th_pending(&p->d, isa_port));
	drain(&p->d);
	assert_int_equal(eoi(&p->d, (uint32_t)pirq), 0);
	assert_true(th_pending(&p->d, port)); /* level: again */
	assert_int_equal(eoi(&p->d, (uint32_t)isa), 0);
	assert_false(th_pending(&p->d, isa_port)); /* edge: no */
	drain(&p->d);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, false), 1);
	assert_int_equal(eoi(&p->d, (uint32_t)pirq), 0);
	assert_false(th_pending(&p->d, port));
	assert_int_equal(th_hypercall(&p->d, 0, __HYPERVISOR_physdev_op,
				      PHYSDEVOP_eoi, TH_MEM_SIZE - 2, 0),
			 -XEN_EFAULT);
}

/* B44, hvm_inject_msi(): data vector 0 makes the address name a PIRQ,
 * (addr_hi & 0xffffff00) | dest id: dest 0x20 with addr_hi 0x100 is PIRQ
 * 0x120, whose bound port gets the event.  A PIRQ mapped to a GSI
 * -EINVAL; PIRQ 0 -ERANGE; beyond nr_pirqs -EINVAL; vector != 0: not a
 * PIRQ. */
static void msi_to_pirq(void **state)
{
	P;
	uint64_t addr = (0x100ull << 32) | 0xfee00000u | (0x20u << 12);
	uint32_t pirq;
	long port;
	int gpirq = -1;

	assert_int_equal(evtchn_msi_pirq(addr, 0, &pirq), 0);
	assert_int_equal(pirq, 0x120);
	assert_int_equal(evtchn_msi_pirq(addr, 0x4041, &pirq), 1);
	port = bind_pirq(&p->d, 0x120, 0);
	assert_true(port > 0);
	assert_int_equal(evtchn_msi_inject(p->d.d, addr, 0x4300), 0);
	assert_true(th_pending(&p->d, port));
	assert_int_equal(th_upcalls(&p->d, 0), 1);
	drain(&p->d);
	/* mapped now (IRQ_MSI_EMU): later MSIs take the lock-free path */
	assert_int_equal(evtchn_msi_inject(p->d.d, addr, 0), 0);
	assert_true(th_pending(&p->d, port));
	/* an ordinary MSI is the VMM's */
	assert_int_equal(evtchn_msi_inject(p->d.d, addr, 0x41), 1);
	assert_int_equal(evtchn_msi_inject(NULL, addr, 0), -EINVAL);
	/* PIRQ 0, and 4.17's int: from 2^31 */
	assert_int_equal(evtchn_msi_inject(p->d.d, 0xfee00000u, 0),
			 -XEN_ERANGE);
	assert_int_equal(evtchn_msi_inject(p->d.d, msi_addr(0x80000001u), 0),
			 -XEN_ERANGE);
	assert_int_equal(evtchn_msi_inject(p->d.d, msi_addr(512), 0),
			 -XEN_EINVAL);
	/* mapped to a GSI */
	vector_callback(&p->d);
	assert_int_equal(map_gsi(&p->d, 20, &gpirq), 0);
	assert_int_equal(evtchn_msi_inject(p->d.d, msi_addr((uint32_t)gpirq),
					   0),
			 -XEN_EINVAL);
}

/* An MSI to a PIRQ with no port is dropped (0), not given back to the
 * VMM.  Only the first PIRQ an MSI maps holds IRQ_MSI_EMU (Xen 4.17's
 * reverse map has one key for it): a second PIRQ with some state is still
 * delivered but has no status; with no state at all it is -EBUSY. */
static void msi_emu_reverse_key(void **state)
{
	P;
	uint32_t flags;
	long p2;

	assert_int_equal(evtchn_msi_inject(p->d.d, msi_addr(300), 0), 0);
	assert_int_equal(status_query(&p->d, 300, &flags), 0);
	assert_int_equal(evtchn_msi_inject(p->d.d, msi_addr(301), 0),
			 -XEN_EBUSY);
	p2 = bind_pirq(&p->d, 301, 0);
	assert_int_equal(evtchn_msi_inject(p->d.d, msi_addr(301), 0), 0);
	assert_true(th_pending(&p->d, p2));
	assert_int_equal(status_query(&p->d, 301, &flags), -XEN_EINVAL);
	/* Unmapping the first frees the key: the next MSI maps 301. */
	vector_callback(&p->d);
	assert_int_equal(unmap(&p->d, DOMID_SELF, 300), 0);
	assert_int_equal(evtchn_msi_inject(p->d.d, msi_addr(301), 0), 0);
	assert_int_equal(status_query(&p->d, 301, &flags), 0);
	/* and a GSI cannot take an MSI PIRQ */
	int pirq = 301;

	assert_int_equal(map_gsi(&p->d, 20, &pirq), 0);
	assert_int_equal(evtchn_gsi_set(p->d.d, 20, true), 0);
}

/* The route kind: an assigned device's MSI eventfd reaches the PIRQ's
 * port without the VMM. */
static void msi_route(void **state)
{
	P;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct evtchn_route r = { .kind = EVTCHN_ROUTE_FD_TO_PIRQ,
				  .pirq = 0x120, .fd = efd };
	uint64_t one = 1;
	long port;

	port = bind_pirq(&p->d, 0x120, 0);
	assert_int_equal(evtchn_route_update(p->d.d, &r), 0);
	assert_int_equal(evtchn_route_update(p->d.d, &r), 0); /* replaced */
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(evtchn_routes_dispatch(p->d.d), 1);
	assert_true(th_pending(&p->d, port));
	drain(&p->d);
	/* the I/O thread does the same */
	assert_int_equal(evtchn_routes_thread_start(p->d.d), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	while (!th_pending(&p->d, port))
		usleep(1000);
	assert_int_equal(evtchn_routes_thread_stop(p->d.d), 0);
	/* bad entries */
	r.pirq = 0;
	assert_int_equal(evtchn_route_update(p->d.d, &r), -EINVAL);
	r.pirq = 512;
	assert_int_equal(evtchn_route_update(p->d.d, &r), -EINVAL);
	r.pirq = 0x120;
	r.fd = -1;
	assert_int_equal(evtchn_route_update(p->d.d, &r), 0); /* deassign */
	assert_int_equal(evtchn_route_update(p->d.d, &r), -ENOENT);
	close(efd);
}

/* The dump names the PIRQ and what it is mapped to. */
static void dump_shows_mapping(void **state)
{
	P;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int pirq = -1;

	vector_callback(&p->d);
	assert_int_equal(map_gsi(&p->d, 20, &pirq), 0);
	assert_true(bind_pirq(&p->d, (uint32_t)pirq, 0) > 0);
	assert_true(bind_pirq(&p->d, 300, 0) > 0);
	assert_int_equal(evtchn_msi_inject(p->d.d, msi_addr(300), 0), 0);
	assert_int_equal(evtchn_domain_dump(p->d.d, f), 3);
	fclose(f);
	assert_non_null(strstr(buf, "pirq 16 gsi 20"));
	assert_non_null(strstr(buf, "pirq 300 msi"));
	free(buf);
}

/*
 * MSIs from device threads while vCPU 0 closes and rebinds its PIRQs' ports
 * (the freed numbers bound to IPIs meanwhile) and unmaps them, so the MSIs
 * take both the lock-free and the mapping path.  Rules: an event never
 * reaches a closed port or the IPI bound on its number (Xen: a binding made
 * after the send); once the churn stops, the last MSI of every PIRQ
 * arrives.  Under TSan with the threaded suite.
 */
#define ST_PIRQS 4
#define ST_ROLE_CLOSED (-1)
#define ST_ROLE_IPI (-2)

struct mst {
	struct th_domain *td;
	uint32_t pirq[ST_PIRQS];
	_Atomic unsigned sent[ST_PIRQS], seen[ST_PIRQS];
	_Atomic int role[64];            /* port -> PIRQ index or ST_ROLE_* */
	_Atomic bool stop_churn, stop;
	_Atomic int failed;
	_Atomic unsigned churns;
};

static void st_event(uint32_t vcpu, uint32_t port, void *opaque)
{
	struct mst *m = opaque;
	int r = port < 64 ? atomic_load(&m->role[port]) : ST_ROLE_CLOSED;
	unsigned sent, seen;

	(void)vcpu;
	if (r < 0) {
		atomic_store(&m->failed, (int)port);
		return;
	}
	sent = atomic_load(&m->sent[r]);
	seen = atomic_load(&m->seen[r]);
	while (seen < sent &&
	       !atomic_compare_exchange_weak(&m->seen[r], &seen, sent))
		;
}

static void *st_device(void *arg)
{
	struct mst *m = arg;

	while (!atomic_load(&m->stop_churn))
		for (int i = 0; i < ST_PIRQS; i++) {
			atomic_fetch_add(&m->sent[i], 1);
			if (evtchn_msi_inject(m->td->d, msi_addr(m->pirq[i]),
					      0) != 0)
				atomic_store(&m->failed, 1000 + i);
		}
	return NULL;
}

/* vCPU 1: consumes the events of the PIRQs bound to it. */
static void *st_vcpu1(void *arg)
{
	struct mst *m = arg;

	while (!atomic_load(&m->stop)) {
		if (evtchn_guest_upcall_pending(&m->td->g, 1))
			evtchn_guest_upcall(&m->td->g, 1, st_event, m);
		else
			sched_yield();
	}
	return NULL;
}

static int st_port_of(struct mst *m, int i)
{
	for (int p = 1; p < 64; p++)
		if (atomic_load(&m->role[p]) == i)
			return p;
	return -1;
}

static void msi_stress(void **state)
{
	P;
	struct mst *m = calloc(1, sizeof(*m));
	pthread_t dev[2], v1;
	unsigned iters = 3000;

	m->td = &p->d;
	for (int port = 0; port < 64; port++)
		atomic_init(&m->role[port], ST_ROLE_CLOSED);
	for (int i = 0; i < ST_PIRQS; i++) {
		long port;

		assert_int_equal(get_free(&p->d, MAP_PIRQ_TYPE_MSI, &m->pirq[i]),
				 0);
		port = bind_pirq(&p->d, m->pirq[i], 0);
		assert_true(port > 0 && port < 64);
		atomic_store(&m->role[port], i);
		/* odd PIRQs on vCPU 1, which only consumes */
		if (i & 1)
			assert_int_equal(th_bind_vcpu(&p->d, port, 1), 0);
	}
	pthread_create(&dev[0], NULL, st_device, m);
	pthread_create(&dev[1], NULL, st_device, m);
	pthread_create(&v1, NULL, st_vcpu1, m);
	/* vCPU 0: consumes, and churns the even PIRQs, which it alone
	 * consumes (so no callback runs while it changes their ports). */
	for (unsigned n = 0; n < iters && !atomic_load(&m->failed); n++) {
		int i = (int)(n / 2 % (ST_PIRQS / 2)) * 2;
		int port = st_port_of(m, i);
		long ipi;

		evtchn_guest_upcall(&p->d.g, 0, st_event, m);
		if (n % 2)
			continue;
		atomic_store(&m->role[port], ST_ROLE_CLOSED);
		assert_int_equal(th_close(&p->d, (uint32_t)port), 0);
		assert_false(th_pending(&p->d, (uint32_t)port));
		ipi = th_bind_ipi(&p->d, 0);
		assert_true(ipi > 0 && ipi < 64);
		atomic_store(&m->role[ipi], ST_ROLE_IPI);
		evtchn_guest_upcall(&p->d.g, 0, st_event, m);
		if (n % 8 == 0) /* frees the emulated-MSI key now and then */
			assert_int_equal(unmap(&p->d, DOMID_SELF,
					       (int)m->pirq[i]), 0);
		atomic_store(&m->role[ipi], ST_ROLE_CLOSED);
		assert_int_equal(th_close(&p->d, (uint32_t)ipi), 0);
		port = (int)bind_pirq(&p->d, m->pirq[i], 0);
		assert_true(port > 0 && port < 64);
		atomic_store(&m->role[port], i);
		atomic_fetch_add(&m->churns, 1);
	}
	atomic_store(&m->stop_churn, true);
	pthread_join(dev[0], NULL);
	pthread_join(dev[1], NULL);
	/* The last MSI of every PIRQ arrives. */
	for (int i = 0; i < ST_PIRQS; i++) {
		atomic_fetch_add(&m->sent[i], 1);
		assert_int_equal(evtchn_msi_inject(p->d.d, msi_addr(m->pirq[i]),
						   0), 0);
	}
	for (int i = 0; i < ST_PIRQS && !atomic_load(&m->failed); i++)
		while (atomic_load(&m->seen[i]) < atomic_load(&m->sent[i])) {
			evtchn_guest_upcall(&p->d.g, 0, st_event, m);
			sched_yield();
		}
	atomic_store(&m->stop, true);
	pthread_join(v1, NULL);
	if (atomic_load(&m->failed))
		fail_msg("event on port %d after its close (or MSI rc, 1000+)",
			 atomic_load(&m->failed));
	print_message("msi stress: %u MSIs, %u close/rebind cycles\n",
		      atomic_load(&m->sent[0]) * ST_PIRQS,
		      atomic_load(&m->churns));
	free(m);
}

/* Domain configuration: nr_pirqs up to 32768, nr_irqs_gsi 16..nr_pirqs. */
static void config_rules(void **state)
{
	P;
	struct evtchn_domain_config cfg = { .domid = 7, .nr_vcpus = 1 };
	struct evtchn_domain *d;

	evtchn_guest_mem_flat(&cfg.mem, p->d.mem, TH_MEM_SIZE);
	cfg.nr_pirqs = 32769;
	assert_int_equal(evtchn_domain_create(p->h, &cfg, &d), -EINVAL);
	cfg.nr_pirqs = 32768;
	cfg.nr_irqs_gsi = 15;
	assert_int_equal(evtchn_domain_create(p->h, &cfg, &d), -EINVAL);
	cfg.nr_irqs_gsi = 0;
	cfg.nr_pirqs = 20; /* below the default 24 GSIs */
	assert_int_equal(evtchn_domain_create(p->h, &cfg, &d), -EINVAL);
	cfg.nr_pirqs = 32768;
	assert_int_equal(evtchn_domain_create(p->h, &cfg, &d), 0);
	assert_int_equal(evtchn_domain_destroy(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(bind_pirq_rules),
		cmocka_unit_test_setup_teardown(physdev_gating, setup_nopirq,
						teardown),
		T(physdev_other_ops),
		T(map_pirq_needs_vector_callback),
		T(map_pirq_gsi),
		T(map_pirq_exhausted),
		T(map_pirq_layouts),
		T(map_unmap_foreign),
		T(get_free_pirq_rules),
		T512(irq_status_query_rules),
		T(unmap_rules),
		T(gsi_delivery),
		T(eoi_rules),
		T512(msi_to_pirq),
		T512(msi_emu_reverse_key),
		T512(msi_route),
		T512(dump_shows_mapping),
		T(config_rules),
		T(msi_stress),
	};

	return cmocka_run_group_tests_name("pirq", tests, NULL, NULL);
}
