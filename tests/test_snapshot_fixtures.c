/* SPDX-License-Identifier: MIT */
/*
 * Images that survive versions: snapshot images written by earlier
 * releases of the library (tests/fixtures/snapshot/vN/, one directory per
 * image format) must restore, in every later release, to the same
 * guest-visible state.
 *
 * Two scenarios, each a guest with every kind of state and a large port
 * table: "2l" (2-level, 3,000 ports) and "fifo" (FIFO, 6,000 ports on six
 * event-array pages); both with a registered vcpu_info, a callback vector
 * and a per-vCPU vector, loopback, interdomain and unbound channels, VIRQs,
 * a GSI PIRQ and an emulated-MSI PIRQ, masked and pending events, FIFO
 * priorities and linked queues, holes left by closed ports, and timers on
 * every vCPU.  A fixture is NAME.img (what evtchn_domain_save() gave) and
 * NAME.mem (the guest pages it goes with: { u64 gfn LE, 4096 bytes }, every
 * page that is not zero but the hypercall scratch pages).
 *
 * What a restore must give is written here as a model, kept while the
 * scenario is built (the builder checks the source domain against it
 * before it saves): each port's EVTCHNOP_status, its pending and mask
 * bits, the selectors, upcall flags, FIFO ready bits and queue heads, the
 * timers; then what the guest and the VMM see when they act on the
 * restored domain: the upcalls raised again with their vectors, each FIFO
 * queue's tail (a new event is linked after it), an unmask on every vCPU,
 * the GSI and MSI PIRQs, and the channel to domain 0 bound again.
 *
 *   test-snapshot-fixtures --write DIR   writes the fixtures of the
 *                                        library's own format into DIR
 *
 * The images this library writes for the scenarios are byte for byte
 * those of the newest fixture directory (newest_is_current): a change to
 * what the library writes comes with a new format directory, and the old
 * ones stay.
 */
#include <stdio.h>
#include <string.h>

#include "fixture.h"

#include <xen/physdev.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#define NOW 5000000000ull
#define NR_VCPUS 3u
#define MAX_PORTS 6000u
#define FIRST_BULK 12u  /* the ports of the large table start here */
#define VI_GFN 50u      /* vCPU 1's registered vcpu_info: gfn, offset */
#define VI_OFFSET 64u
#define CB_VECTOR 0xf3u /* the callback vector; vCPU 2 has its own */
#define VCPU2_VECTOR 0xe0u
#define GSI 20u
#define WORDS_PER_PAGE (EVTCHN_PAGE_SIZE / sizeof(uint32_t))

/* The image formats every release restores, oldest first; the last is
 * the one this library writes. */
static const char *const formats[] = { "v1", "v2" };
#define NR_FORMATS (sizeof(formats) / sizeof(formats[0]))

struct scenario {
	const char *name;
	bool fifo;
	uint32_t nr_ports; /* a multiple of 4 */
};

static const struct scenario scenarios[] = {
	{ "2l", false, 3000 },
	{ "fifo", true, MAX_PORTS },
};

/* What the guest sees of one port. */
struct mport {
	uint32_t status; /* EVTCHNSTAT_* */
	uint32_t vcpu;
	uint32_t dom, port; /* unbound: dom; interdomain: dom, port */
	uint32_t virq, pirq;
	uint32_t prio;
	bool pending, masked, linked;
};

struct model {
	const struct scenario *s;
	struct mport p[MAX_PORTS];
	bool upcall[NR_VCPUS];
	uint64_t sel[NR_VCPUS];
	uint32_t ready[NR_VCPUS];
	uint32_t head[NR_VCPUS][EVTCHN_FIFO_MAX_QUEUES];
	uint32_t tail[NR_VCPUS][EVTCHN_FIFO_MAX_QUEUES];
	struct evtchn_vcpu_timer timer[NR_VCPUS];
	uint32_t gsi_pirq, msi_pirq;
};

/* The timers each vCPU has at the save. */
static const struct evtchn_vcpu_timer timers[NR_VCPUS] = {
	{ 0, 4000000, NOW + 4000000 },
	{ NOW + 777, 10000000, NOW + 5000 },
	{ NOW + 123456789, 0, 0 },
};

static uint64_t fixed_clock(void *opaque)
{
	(void)opaque;
	return NOW;
}

/* A host with domain 0 and the guest (domain 1). */
struct side {
	struct evtchn_host *h;
	struct th_domain dom0, g;
};

static void side_make(struct side *sd)
{
	struct th_domain_opts o0 = { .domid = 0, .nr_vcpus = 1,
				     .privileged = true };
	struct th_domain_opts o1 = { .domid = 1, .nr_vcpus = NR_VCPUS,
				     .irq = true };

	assert_int_equal(evtchn_host_create(&sd->h), 0);
	assert_int_equal(evtchn_host_set_clock(sd->h, fixed_clock, NULL), 0);
	assert_int_equal(th_domain_create(sd->h, &sd->dom0, &o0), 0);
	assert_int_equal(th_domain_create(sd->h, &sd->g, &o1), 0);
}

static void side_free(struct side *sd)
{
	th_domain_destroy(&sd->g);
	th_domain_destroy(&sd->dom0);
	assert_int_equal(evtchn_host_destroy(sd->h), 0);
}

/* --- the model ------------------------------------------------------- */

static void m_bind(struct model *m, uint32_t port, uint32_t status,
		   uint32_t vcpu)
{
	struct mport *p = &m->p[port];

	p->status = status;
	p->vcpu = vcpu;
	p->prio = EVTCHN_FIFO_PRIORITY_DEFAULT;
}

/* An event raised on @port, as Xen's set_pending of either ABI. */
static void m_raise(struct model *m, uint32_t port)
{
	struct mport *p = &m->p[port];
	uint32_t v = p->vcpu, q = p->prio;

	if (p->pending)
		return;
	p->pending = true;
	if (p->masked)
		return;
	if (!m->s->fifo) {
		m->sel[v] |= 1ull << (port / 64);
		m->upcall[v] = true;
		return;
	}
	p->linked = true;
	if (!m->tail[v][q])
		m->head[v][q] = port;
	m->tail[v][q] = port;
	m->ready[v] |= 1u << q;
	m->upcall[v] = true;
}

/* A send on @port: where the event goes. */
static void m_send(struct model *m, uint32_t port)
{
	struct mport *p = &m->p[port];

	if (p->status == EVTCHNSTAT_interdomain && p->dom == 1)
		m_raise(m, p->port);
	else if (p->status == EVTCHNSTAT_ipi)
		m_raise(m, port);
}

/* --- building a scenario --------------------------------------------- */

static long bind_pirq(struct th_domain *td, uint32_t pirq)
{
	struct evtchn_bind_pirq b = { .pirq = pirq };
	long rc = th_op(td, 0, EVTCHNOP_bind_pirq, &b, sizeof(b));

	return rc ? rc : (long)b.port;
}

/* The guest masks @port (its own memory). */
static void guest_mask(struct model *m, struct th_domain *g, uint32_t port)
{
	th_mask(g, port);
	m->p[port].masked = true;
}

/* Ports 1-11: one of each kind. */
static void build_base(struct model *m, struct side *sd)
{
	struct th_domain *g = &sd->g;
	struct vcpu_register_vcpu_info info = { .mfn = VI_GFN,
						.offset = VI_OFFSET };
	struct xen_hvm_param hp = { .domid = DOMID_SELF,
				    .index = HVM_PARAM_CALLBACK_IRQ,
				    .value = (2ull << 56) | CB_VECTOR };
	struct xen_hvm_evtchn_upcall_vector uv = { .vcpu = 2,
						   .vector = VCPU2_VECTOR };
	struct physdev_map_pirq mp = { .domid = DOMID_SELF,
				       .type = MAP_PIRQ_TYPE_GSI,
				       .index = GSI, .pirq = -1 };
	struct physdev_get_free_pirq gf = { .type = MAP_PIRQ_TYPE_MSI };
	uint64_t gpa = th_scratch_gpa();

	memcpy(g->mem + gpa, &info, sizeof(info));
	assert_int_equal(th_hypercall(g, 1, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 1, gpa), 0);
	evtchn_guest_set_vcpu_info(&g->g, 1,
				   g->mem + VI_GFN * EVTCHN_PAGE_SIZE +
					   VI_OFFSET);
	/* Xen marks every selector bit pending on a new vcpu_info */
	m->sel[1] = ~0ull;
	m->upcall[1] = true;
	assert_int_equal(th_hvm(g, 0, HVMOP_set_param, &hp, sizeof(hp)), 0);
	assert_int_equal(th_hvm(g, 0, HVMOP_set_evtchn_upcall_vector, &uv,
				sizeof(uv)), 0);
	assert_int_equal(th_bind_ipi(g, 1), 1);
	m_bind(m, 1, EVTCHNSTAT_ipi, 1);
	assert_int_equal(th_bind_virq(g, VIRQ_TIMER, 2), 2);
	m_bind(m, 2, EVTCHNSTAT_virq, 2);
	m->p[2].virq = VIRQ_TIMER;
	assert_int_equal(th_bind_virq(g, VIRQ_CONSOLE, 0), 3);
	assert_int_equal(th_bind_vcpu(g, 3, 2), 0); /* a moved global VIRQ */
	m_bind(m, 3, EVTCHNSTAT_virq, 2);
	m->p[3].virq = VIRQ_CONSOLE;
	assert_int_equal(th_alloc_unbound(g, DOMID_SELF, DOMID_SELF), 4);
	assert_int_equal(th_bind_interdomain(g, DOMID_SELF, 4), 5);
	m_bind(m, 4, EVTCHNSTAT_interdomain, 0);
	m_bind(m, 5, EVTCHNSTAT_interdomain, 0);
	m->p[4].dom = m->p[5].dom = 1;
	m->p[4].port = 5;
	m->p[5].port = 4;
	m_raise(m, 5); /* Xen raises the binding end */
	/* to domain 0, which binds it: comes back unbound for domain 0 */
	assert_int_equal(th_alloc_unbound(g, DOMID_SELF, 0), 6);
	assert_int_equal(th_bind_interdomain(&sd->dom0, 1, 6), 1);
	m_bind(m, 6, EVTCHNSTAT_interdomain, 0);
	m->p[6].port = 1;
	assert_int_equal(th_alloc_unbound(g, DOMID_SELF, 7), 7);
	m_bind(m, 7, EVTCHNSTAT_unbound, 0);
	m->p[7].dom = 7;
	assert_int_equal(th_physdev(g, PHYSDEVOP_map_pirq, &mp, sizeof(mp)), 0);
	m->gsi_pirq = (uint32_t)mp.pirq;
	assert_int_equal(bind_pirq(g, m->gsi_pirq), 8);
	m_bind(m, 8, EVTCHNSTAT_pirq, 0);
	m->p[8].pirq = m->gsi_pirq;
	assert_int_equal(th_physdev(g, PHYSDEVOP_get_free_pirq, &gf,
				    sizeof(gf)), 0);
	m->msi_pirq = gf.pirq;
	assert_int_equal(bind_pirq(g, m->msi_pirq), 9);
	m_bind(m, 9, EVTCHNSTAT_pirq, 0);
	m->p[9].pirq = m->msi_pirq;
	assert_int_equal(th_bind_virq(g, VIRQ_TIMER, 0), 10);
	m_bind(m, 10, EVTCHNSTAT_virq, 0);
	m->p[10].virq = VIRQ_TIMER;
	assert_int_equal(th_bind_virq(g, VIRQ_TIMER, 1), 11);
	m_bind(m, 11, EVTCHNSTAT_virq, 1);
	m->p[11].virq = VIRQ_TIMER;

	/* an emulated MSI to the PIRQ (data vector 0: PIRQ in the address) */
	assert_int_equal(evtchn_msi_inject(g->d, 0xfee00000u |
							 (m->msi_pirq << 12),
					   0),
			 0);
	m_raise(m, 9);
	if (m->s->fifo) {
		assert_int_equal(th_set_priority(g, 1, 3), 0);
		m->p[1].prio = 3;
	}
	guest_mask(m, g, 4);
	assert_int_equal(th_send(g, 0, 1), 0);
	m_send(m, 1);
	assert_int_equal(th_send(g, 0, 4), 0);
	m_send(m, 4);
	assert_int_equal(evtchn_send_virq(g->d, 2, VIRQ_TIMER), 0);
	m_raise(m, 2);
	assert_int_equal(th_send(&sd->dom0, 0, 1), 0);
	m_raise(m, 6);
}

/* Ports FIRST_BULK and up: by port number modulo 4, an IPI, the two ends
 * of a loopback channel, a port unbound for another domain; each on vCPU
 * port % 3, FIFO priority (port / 4) % 16.  Every 13th is closed again,
 * every 5th masked, every 3rd sent on. */
static void build_bulk(struct model *m, struct side *sd)
{
	struct th_domain *g = &sd->g;
	uint32_t n = m->s->nr_ports;

	for (uint32_t p = FIRST_BULK; p < n; p++) {
		switch (p % 4) {
		case 0:
			assert_int_equal(th_bind_ipi(g, p % 3), p);
			m_bind(m, p, EVTCHNSTAT_ipi, p % 3);
			break;
		case 1:
			assert_int_equal(th_alloc_unbound(g, DOMID_SELF,
							  DOMID_SELF), p);
			assert_int_equal(th_bind_interdomain(g, DOMID_SELF, p),
					 p + 1);
			m_bind(m, p, EVTCHNSTAT_interdomain, 0);
			m_bind(m, p + 1, EVTCHNSTAT_interdomain, 0);
			m->p[p].dom = m->p[p + 1].dom = 1;
			m->p[p].port = p + 1;
			m->p[p + 1].port = p;
			m_raise(m, p + 1);
			break;
		case 2:
			break; /* the other end of p - 1 */
		default:
			assert_int_equal(th_alloc_unbound(g, DOMID_SELF,
							  2 + p % 3), p);
			m_bind(m, p, EVTCHNSTAT_unbound, 0);
			m->p[p].dom = 2 + p % 3;
			break;
		}
	}
	for (uint32_t p = FIRST_BULK; p < n; p++) {
		if (m->p[p].status != EVTCHNSTAT_ipi) {
			assert_int_equal(th_bind_vcpu(g, p, p % 3), 0);
			m->p[p].vcpu = p % 3;
		}
		if (m->s->fifo) {
			assert_int_equal(th_set_priority(g, p, (p / 4) % 16),
					 0);
			m->p[p].prio = (p / 4) % 16;
		}
	}
	for (uint32_t p = 13; p < n; p += 13) {
		struct mport *mp = &m->p[p];

		assert_int_equal(th_close(g, p), 0);
		if (mp->status == EVTCHNSTAT_interdomain) {
			m->p[mp->port].status = EVTCHNSTAT_unbound;
			m->p[mp->port].dom = 1;
			m->p[mp->port].port = 0;
		}
		/* Xen clears the event; a FIFO word stays linked until the
		 * guest takes it off its queue */
		*mp = (struct mport){ .linked = mp->linked };
	}
	for (uint32_t p = FIRST_BULK; p < n; p++)
		if (p % 5 == 0)
			guest_mask(m, g, p);
	for (uint32_t p = FIRST_BULK; p < n; p++) {
		if (p % 3 || m->p[p].status == EVTCHNSTAT_closed)
			continue;
		assert_int_equal(th_send(g, p % 3, p), 0);
		m_send(m, p);
	}
}

static void build(struct model *m, const struct scenario *s, struct side *sd)
{
	memset(m, 0, sizeof(*m));
	m->s = s;
	if (s->fifo)
		assert_int_equal(th_fifo_setup(&sd->g, (s->nr_ports +
							 WORDS_PER_PAGE - 1) /
							WORDS_PER_PAGE),
				 0);
	build_base(m, sd);
	build_bulk(m, sd);
	for (uint32_t v = 0; v < NR_VCPUS; v++) {
		assert_int_equal(evtchn_vcpu_timer_set(sd->g.d, v, &timers[v]),
				 0);
		m->timer[v] = timers[v];
	}
}

/* --- what the guest sees ---------------------------------------------- */

static unsigned char *vcpu_info(struct th_domain *g, uint32_t v)
{
	if (v == 1)
		return g->mem + VI_GFN * EVTCHN_PAGE_SIZE + VI_OFFSET;
	return (unsigned char *)evtchn_domain_shared_info(g->d) + v * 64;
}

static bool bit_2l(struct th_domain *g, size_t off, uint32_t port)
{
	const uint64_t *w = (const uint64_t *)((unsigned char *)
					       evtchn_domain_shared_info(g->d) +
					       off);

	return w[port / 64] >> (port % 64) & 1;
}

static uint32_t *fifo_word(struct th_domain *g, uint32_t port)
{
	return (uint32_t *)(g->mem + (TH_FIFO_ARRAY_GFN +
				      port / WORDS_PER_PAGE) *
					     EVTCHN_PAGE_SIZE) +
	       port % WORDS_PER_PAGE;
}

static struct evtchn_fifo_control_block *control_block(struct th_domain *g,
						       uint32_t v)
{
	return (void *)(g->mem + TH_FIFO_CB_GFN * EVTCHN_PAGE_SIZE + v * 72);
}

static void check_port(struct model *m, struct th_domain *g, uint32_t port)
{
	const struct mport *p = &m->p[port];
	struct evtchn_status st;
	bool pending, masked;

	assert_int_equal(th_status(g, DOMID_SELF, port, &st), 0);
	if (st.status != p->status)
		print_error("port %u: status %u, not %u\n", port, st.status,
			    p->status);
	assert_int_equal(st.status, p->status);
	if (p->status != EVTCHNSTAT_closed)
		assert_int_equal(st.vcpu, p->vcpu);
	switch (p->status) {
	case EVTCHNSTAT_unbound:
		assert_int_equal(st.u.unbound.dom, p->dom);
		break;
	case EVTCHNSTAT_interdomain:
		assert_int_equal(st.u.interdomain.dom, p->dom);
		assert_int_equal(st.u.interdomain.port, p->port);
		break;
	case EVTCHNSTAT_virq:
		assert_int_equal(st.u.virq, p->virq);
		break;
	case EVTCHNSTAT_pirq:
		assert_int_equal(st.u.pirq, p->pirq);
		break;
	}
	if (m->s->fifo) {
		uint32_t w = *fifo_word(g, port);

		pending = w >> EVTCHN_FIFO_PENDING & 1;
		masked = w >> EVTCHN_FIFO_MASKED & 1;
		if ((w >> EVTCHN_FIFO_LINKED & 1) != p->linked)
			print_error("port %u: word %#x\n", port, w);
		assert_int_equal(w >> EVTCHN_FIFO_LINKED & 1, p->linked);
		assert_int_equal(w >> EVTCHN_FIFO_BUSY & 1, 0);
	} else {
		pending = bit_2l(g, 2048, port);
		masked = bit_2l(g, 2560, port);
	}
	if (pending != p->pending || masked != p->masked)
		print_error("port %u: pending %d masked %d, not %d %d\n", port,
			    pending, masked, p->pending, p->masked);
	assert_int_equal(pending, p->pending);
	assert_int_equal(masked, p->masked);
}

/* Every port, the vCPUs' flags and selectors (or FIFO ready bits and
 * heads), the timers. */
static void check_state(struct model *m, struct th_domain *g)
{
	for (uint32_t port = 0; port < m->s->nr_ports; port++)
		check_port(m, g, port);
	for (uint32_t v = 0; v < NR_VCPUS; v++) {
		unsigned char *vi = vcpu_info(g, v);
		struct evtchn_vcpu_timer t;
		uint64_t sel;

		assert_int_equal(vi[0], m->upcall[v]);
		memcpy(&sel, vi + 8, sizeof(sel));
		if (m->s->fifo) {
			struct evtchn_fifo_control_block *cb =
				control_block(g, v);

			assert_int_equal(cb->ready, m->ready[v]);
			for (uint32_t q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++)
				assert_int_equal(cb->head[q], m->head[v][q]);
		}
		assert_int_equal(sel, m->sel[v]);
		assert_int_equal(evtchn_vcpu_timer_get(g->d, v, &t), 0);
		assert_memory_equal(&t, &m->timer[v], sizeof(t));
	}
}

/* An IPI port of queue (@v, @q) with nothing on it, or 0. */
static uint32_t idle_ipi(const struct model *m, uint32_t v, uint32_t q)
{
	for (uint32_t port = FIRST_BULK; port < m->s->nr_ports; port++) {
		const struct mport *p = &m->p[port];

		if (p->status == EVTCHNSTAT_ipi && p->vcpu == v &&
		    p->prio == q && !p->pending && !p->masked)
			return port;
	}
	return 0;
}

/* FIFO: each queue's tail (Xen-private) came back: an event on the queue
 * is linked after it. */
static void probe_tails(struct model *m, struct th_domain *g)
{
	unsigned probed = 0;

	for (uint32_t v = 0; v < NR_VCPUS; v++)
		for (uint32_t q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++) {
			uint32_t t = m->tail[v][q], x = idle_ipi(m, v, q);

			if (!t || !x)
				continue;
			assert_int_equal(th_send(g, v, x), 0);
			m_send(m, x);
			assert_int_equal(*fifo_word(g, t) &
						 EVTCHN_FIFO_LINK_MASK,
					 x);
			check_port(m, g, x);
			probed++;
		}
	print_message("%u FIFO queue tails probed\n", probed);
	assert_true(probed >= 16);
}

/* 2-level: on every vCPU a masked pending port is unmasked and raises the
 * selector and upcall again. */
static void probe_unmask(struct model *m, struct th_domain *g)
{
	for (uint32_t v = 0; v < NR_VCPUS; v++) {
		unsigned char *vi = vcpu_info(g, v);
		uint32_t port = FIRST_BULK;
		uint64_t sel;

		while (port < m->s->nr_ports &&
		       !(m->p[port].pending && m->p[port].masked &&
			 m->p[port].vcpu == v))
			port++;
		assert_true(port < m->s->nr_ports);
		/* the guest took its events: flags and selector clear */
		vi[0] = 0;
		memset(vi + 8, 0, 8);
		assert_int_equal(th_unmask(g, port), 0);
		m->p[port].masked = false;
		check_port(m, g, port);
		memcpy(&sel, vi + 8, sizeof(sel));
		assert_int_equal(vi[0], 1);
		assert_int_equal(sel, 1ull << (port / 64));
	}
}

/* What the VMM and domain 0 see: the PIRQs' mappings, the channel to
 * domain 0 bound again by its backend. */
static void probe_vmm(struct model *m, struct side *sd)
{
	struct th_domain *g = &sd->g;
	struct evtchn_status st;

	/* the GSI is mapped to its PIRQ; its port is 8 */
	assert_int_equal(evtchn_gsi_set(g->d, GSI, true), 1);
	m_raise(m, 8);
	check_port(m, g, 8);
	assert_int_equal(evtchn_gsi_set(g->d, GSI, false), 1);
	/* the emulated-MSI mapping is the MSI PIRQ's: another is refused */
	assert_int_equal(evtchn_msi_inject(g->d, 0xfee00000u |
							 (m->msi_pirq << 12),
					   0),
			 0);
	assert_int_equal(evtchn_msi_inject(g->d, 0xfee00000u |
							 ((m->msi_pirq - 1)
							  << 12),
					   0),
			 -EBUSY);
	/* the backend in domain 0 binds its end again */
	assert_int_equal(th_bind_interdomain(&sd->dom0, 1, 6), 1);
	assert_int_equal(th_status(g, DOMID_SELF, 6, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_interdomain);
	assert_int_equal(st.u.interdomain.dom, 0);
	assert_int_equal(st.u.interdomain.port, 1);
}

/* The interrupts the restore raised again: one per vCPU with its upcall
 * pending, with the vector it was configured with. */
static void check_upcalls(struct model *m, struct th_domain *g)
{
	unsigned n = 0;

	for (uint32_t v = 0; v < NR_VCPUS; v++)
		n += m->upcall[v];
	assert_int_equal(atomic_load(&g->nr_irqs), n);
	for (unsigned i = 0; i < n; i++) {
		const struct evtchn_irq *irq = &g->irqs[i];

		assert_true(m->upcall[irq->vcpu]);
		assert_int_equal(irq->vector,
				 irq->vcpu == 2 ? VCPU2_VECTOR : CB_VECTOR);
	}
}

/* --- fixture files ---------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (!f) {
		print_error("%s: cannot open\n", path);
		fail();
	}
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc(n ? (size_t)n : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spill(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static bool scratch_page(uint64_t gfn)
{
	return gfn >= TH_SCRATCH_FIRST_GFN &&
	       gfn < TH_SCRATCH_FIRST_GFN + TH_SCRATCH_PAGES;
}

/* The guest pages that are not zero, as { u64 gfn LE, page }. */
static unsigned char *mem_pack(struct th_domain *g, size_t *len)
{
	unsigned char *out = malloc(TH_MEM_PAGES * (8 + EVTCHN_PAGE_SIZE));
	static const unsigned char zero[EVTCHN_PAGE_SIZE];
	size_t n = 0;

	assert_non_null(out);
	for (uint64_t gfn = 0; gfn < TH_MEM_PAGES; gfn++) {
		const unsigned char *pg = g->mem + gfn * EVTCHN_PAGE_SIZE;

		if (scratch_page(gfn) || !memcmp(pg, zero, EVTCHN_PAGE_SIZE))
			continue;
		for (int i = 0; i < 8; i++)
			out[n + i] = (unsigned char)(gfn >> (8 * i));
		memcpy(out + n + 8, pg, EVTCHN_PAGE_SIZE);
		n += 8 + EVTCHN_PAGE_SIZE;
	}
	*len = n;
	return out;
}

static void mem_unpack(struct th_domain *g, const unsigned char *buf,
		       size_t len)
{
	assert_int_equal(len % (8 + EVTCHN_PAGE_SIZE), 0);
	memset(g->mem, 0, TH_MEM_SIZE);
	for (size_t off = 0; off < len; off += 8 + EVTCHN_PAGE_SIZE) {
		uint64_t gfn = 0;

		for (int i = 0; i < 8; i++)
			gfn |= (uint64_t)buf[off + i] << (8 * i);
		assert_true(gfn < TH_MEM_PAGES && !scratch_page(gfn));
		memcpy(g->mem + gfn * EVTCHN_PAGE_SIZE, buf + off + 8,
		       EVTCHN_PAGE_SIZE);
	}
}

static char *fixture_path(const char *format, const char *name,
			  const char *ext)
{
	const char *dir = getenv("EVTCHN_SNAPSHOT_FIXTURES");
	static char path[4096];

	if (!dir) {
		print_error("EVTCHN_SNAPSHOT_FIXTURES is not set\n");
		fail();
	}
	snprintf(path, sizeof(path), "%s/%s/%s.%s", dir, format, name, ext);
	return path;
}

/* --- tests ------------------------------------------------------------ */

/* The scenario built, checked against the model, saved. */
static void build_and_save(struct model *m, const struct scenario *s,
			   struct side *sd, void **img, size_t *len)
{
	side_make(sd);
	build(m, s, sd);
	check_state(m, &sd->g);
	assert_int_equal(evtchn_domain_save(sd->g.d, img, len), 0);
}

/* Each format's fixture restores to the model's state, and the restored
 * domain answers as the model says. */
static void restore_fixture(const char *format, const struct scenario *s)
{
	struct model *src = malloc(sizeof(*src)), *m = malloc(sizeof(*m));
	struct side sd, dst;
	unsigned char *img, *mem;
	size_t len, mlen;
	void *own;
	size_t own_len;

	assert_non_null(src);
	assert_non_null(m);
	/* the model, from a build of the scenario (its PIRQ numbers) */
	build_and_save(src, s, &sd, &own, &own_len);
	free(own);
	side_free(&sd);
	*m = *src;
	/* after a migration, the channel to domain 0 is unbound for it */
	m->p[6].status = EVTCHNSTAT_unbound;
	m->p[6].port = 0;

	img = slurp(fixture_path(format, s->name, "img"), &len);
	mem = slurp(fixture_path(format, s->name, "mem"), &mlen);
	side_make(&dst);
	mem_unpack(&dst.g, mem, mlen);
	assert_int_equal(evtchn_domain_restore(dst.g.d, img, len), 0);
	check_state(m, &dst.g);
	check_upcalls(m, &dst.g);
	if (s->fifo)
		probe_tails(m, &dst.g);
	else
		probe_unmask(m, &dst.g);
	probe_vmm(m, &dst);
	side_free(&dst);
	free(img);
	free(mem);
	free(src);
	free(m);
}

static void restore_all(void **state, const struct scenario *s)
{
	(void)state;
	for (size_t f = 0; f < NR_FORMATS; f++) {
		print_message("%s/%s\n", formats[f], s->name);
		restore_fixture(formats[f], s);
	}
}

static void fixtures_2l(void **state)
{
	restore_all(state, &scenarios[0]);
}

static void fixtures_fifo(void **state)
{
	restore_all(state, &scenarios[1]);
}

/* Every format's fixtures with bytes changed (all of the first 256, and
 * 600 others a fixed seed picks): 0, -EINVAL or -EOPNOTSUPP, never a
 * crash (ASan, UBSan); a refused image changes nothing (the fixture
 * restores after it). */
static void hostile_fixtures(void **state)
{
	uint64_t x = 0x2545f4914f6cdd1dull;
	unsigned acc = 0, ref = 0;
	FILE *null = fopen("/dev/null", "w");

	(void)state;
	for (size_t f = 0; f < NR_FORMATS; f++)
		for (size_t i = 0; i < 2; i++) {
			const struct scenario *s = &scenarios[i];
			struct th_domain_opts o = { .domid = 1,
						    .nr_vcpus = NR_VCPUS };
			struct evtchn_host *h;
			unsigned char *img, *mem, *bad;
			size_t len, mlen;

			img = slurp(fixture_path(formats[f], s->name, "img"),
				    &len);
			mem = slurp(fixture_path(formats[f], s->name, "mem"),
				    &mlen);
			bad = malloc(len);
			assert_non_null(bad);
			assert_int_equal(evtchn_host_create(&h), 0);
			assert_int_equal(evtchn_host_set_clock(h, fixed_clock,
							       NULL),
					 0);
			for (size_t k = 0; k < 256 + 600; k++) {
				struct th_domain td;
				size_t off = k;
				int rc;

				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				if (k >= 256)
					off = x % len;
				memcpy(bad, img, len);
				bad[off] ^= (uint8_t)(x >> 32) | 1;
				assert_int_equal(th_domain_create(h, &td, &o),
						 0);
				mem_unpack(&td, mem, mlen);
				rc = evtchn_domain_restore(td.d, bad, len);
				assert_true(rc == 0 || rc == -EINVAL ||
					    rc == -EOPNOTSUPP);
				if (rc) {
					ref++;
					assert_int_equal(evtchn_domain_restore(
								 td.d, img,
								 len),
							 0);
				} else {
					acc++;
					assert_true(evtchn_domain_dump(td.d,
								       null) >=
						    0);
				}
				th_domain_destroy(&td);
			}
			assert_int_equal(evtchn_host_destroy(h), 0);
			free(bad);
			free(img);
			free(mem);
		}
	print_message("changed fixtures: %u accepted, %u refused\n", acc,
		      ref);
	assert_true(acc > 0 && ref > 0);
	fclose(null);
}

/* This library writes the newest format's images, byte for byte. */
static void newest_is_current(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		struct model *m = malloc(sizeof(*m));
		struct side sd;
		unsigned char *img, *mem, *own_mem;
		size_t len, own_len, mlen, own_mlen;
		void *own;

		assert_non_null(m);
		build_and_save(m, &scenarios[i], &sd, &own, &own_len);
		own_mem = mem_pack(&sd.g, &own_mlen);
		img = slurp(fixture_path(formats[NR_FORMATS - 1],
					 scenarios[i].name, "img"),
			    &len);
		mem = slurp(fixture_path(formats[NR_FORMATS - 1],
					 scenarios[i].name, "mem"),
			    &mlen);
		assert_int_equal(own_len, len);
		assert_memory_equal(own, img, len);
		assert_int_equal(own_mlen, mlen);
		assert_memory_equal(own_mem, mem, mlen);
		side_free(&sd);
		free(own);
		free(own_mem);
		free(img);
		free(mem);
		free(m);
	}
}

/* --write DIR: the fixtures of this library's format. */
static void write_fixtures(void **state)
{
	const char *dir = *state;
	char path[4096];

	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		struct model *m = malloc(sizeof(*m));
		struct side sd;
		unsigned char *mem;
		size_t len, mlen;
		void *img;

		assert_non_null(m);
		build_and_save(m, &scenarios[i], &sd, &img, &len);
		mem = mem_pack(&sd.g, &mlen);
		snprintf(path, sizeof(path), "%s/%s.img", dir, scenarios[i].name);
		spill(path, img, len);
		snprintf(path, sizeof(path), "%s/%s.mem", dir, scenarios[i].name);
		spill(path, mem, mlen);
		print_message("%s: image %zu bytes, %zu guest pages\n",
			      scenarios[i].name, len,
			      mlen / (8 + EVTCHN_PAGE_SIZE));
		side_free(&sd);
		free(img);
		free(mem);
		free(m);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fixtures_2l),
		cmocka_unit_test(fixtures_fifo),
		cmocka_unit_test(newest_is_current),
		cmocka_unit_test(hostile_fixtures),
	};

	if (argc == 3 && !strcmp(argv[1], "--write")) {
		const struct CMUnitTest write[] = {
			cmocka_unit_test_prestate(write_fixtures, argv[2]),
		};

		return cmocka_run_group_tests_name("snapshot-fixtures-write",
						   write, NULL, NULL);
	}
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--write DIR]\n", argv[0]);
		return 2;
	}
	return cmocka_run_group_tests_name("snapshot-fixtures", tests, NULL,
					   NULL);
}
