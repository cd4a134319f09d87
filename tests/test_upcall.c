/* SPDX-License-Identifier: MIT */
/*
 * How the upcall reaches an HVM guest (Xen 4.17 hvm_assert_evtchn_irq(),
 * hvm_set_callback_via(), HVMOP_set_evtchn_upcall_vector): B42, B43.
 */
#include <pthread.h>
#include <string.h>


#include "fixture.h"
#include "park.h"

#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

struct ufx {
	struct evtchn_host *h;
	struct th_domain d, other;
};

static int setup(void **state)
{
	struct ufx *u = calloc(1, sizeof(*u));
	struct th_domain_opts o = { .domid = 1, .nr_vcpus = 3, .irq = true };
	struct th_domain_opts o2 = { .domid = 2, .nr_vcpus = 1 };

	if (!u || evtchn_host_create(&u->h) ||
	    th_domain_create(u->h, &u->d, &o) ||
	    th_domain_create(u->h, &u->other, &o2))
		return -1;
	*state = u;
	return 0;
}

static int teardown(void **state)
{
	struct ufx *u = *state;

	th_domain_destroy(&u->other);
	th_domain_destroy(&u->d);
	evtchn_host_destroy(u->h);
	free(u);
	return 0;
}

#define U struct ufx *u = *state
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static long set_via(struct th_domain *td, uint16_t dom, uint64_t via)
{
	struct xen_hvm_param p = { .domid = dom,
				   .index = HVM_PARAM_CALLBACK_IRQ,
				   .value = via };

	return th_hvm(td, 0, HVMOP_set_param, &p, sizeof(p));
}

static long set_vector(struct th_domain *td, uint32_t vcpu, uint8_t vec)
{
	struct xen_hvm_evtchn_upcall_vector v = { .vcpu = vcpu, .vector = vec };

	return th_hvm(td, 0, HVMOP_set_evtchn_upcall_vector, &v, sizeof(v));
}

/* Clear vCPU @v's upcall_pending and selector as the guest does. */
static void guest_ack(struct th_domain *td, uint32_t v)
{
	memset(td->g.vcpu_info[v], 0, 16);
}

/* SCHEDOP_poll on one port from @vcpu, on a thread of its own. */
struct poller {
	pthread_t tid;
	struct th_domain *td;
	uint32_t vcpu, port;
	bool irqs_off;      /* the VMM says RFLAGS.IF is clear */
	long rc;
	_Atomic bool done;
};

static void *poller_main(void *arg)
{
	struct poller *p = arg;
	uint64_t gpa = th_scratch_gpa();
	uint64_t pg = gpa + 512;
	struct sched_poll sp = { .nr_ports = 1 };

	memcpy(&sp.ports, &pg, sizeof(pg));
	memcpy(p->td->mem + gpa, &sp, sizeof(sp));
	memcpy(p->td->mem + pg, &p->port, 4);
	if (p->irqs_off) {
		const uint64_t a[6] = { SCHEDOP_poll, gpa };

		p->rc = evtchn_hypercall_mode(p->td->d, p->vcpu,
					      EVTCHN_MODE_64 |
						      EVTCHN_MODE_IRQS_OFF,
					      __HYPERVISOR_sched_op, a);
	} else {
		p->rc = th_hypercall(p->td, p->vcpu, __HYPERVISOR_sched_op,
				     SCHEDOP_poll, gpa, 0);
	}
	atomic_store(&p->done, true);
	return NULL;
}

/* Start @p's poll on a thread of its own, the poll:blocking point armed
 * (counted, never parked) so that the test can wait for it to block. */
static void poller_start(struct poller *p)
{
	evtchn_park_reset();
	evtchn_park_arm("poll:blocking", 1, 0);
	assert_int_equal(pthread_create(&p->tid, NULL, poller_main, p), 0);
}

/*
 * Whether an upcall ends a SCHEDOP_poll on another port (Xen 4.17.7
 * hvm_assert_evtchn_irq(): vcpu_kick() through a per-vCPU vector, or for a
 * domain that is is_hvm_pv_evtchn_domain() -- the global callback vector,
 * or vCPU 0 with a per-vCPU vector; nothing for other vCPUs with a GSI or
 * INTx callback or with none).  vCPU 1 polls port w; an IPI on port e of
 * vCPU 1 raises its upcall.  Returns whether the poll ended.
 */
static bool upcall_ends_poll(struct ufx *u, long w, long e)
{
	struct poller p = { .td = &u->d, .vcpu = 1, .port = (uint32_t)w };
	bool woken;

	guest_ack(&u->d, 1);
	memset(u->d.g.shared_info + 2048, 0, 512); /* the events taken */
	poller_start(&p);
	assert_true(evtchn_park_wait("poll:blocking", 1, 5000));
	assert_int_equal(th_send(&u->d, 0, e), 0);
	/* a kick clears the poll word in the sender, before it returns */
	woken = evtchn_vcpu_polling(u->d.d, 1) == 0;
	if (!woken)
		assert_int_equal(th_send(&u->d, 0, w), 0);
	pthread_join(p.tid, NULL);
	assert_int_equal(p.rc, 0);
	evtchn_park_reset();
	return woken;
}

static void upcall_kicks_poll_as_xen(void **state)
{
	U;
#ifndef EVTCHN_PARK
	skip(); /* built without park points (release) */
#else
	long w = th_bind_ipi(&u->d, 1), e = th_bind_ipi(&u->d, 1);
	/* no callback: no kick */
	assert_false(upcall_ends_poll(u, w, e));
	/* GSI callback, vCPU 1: its events raise no line, no kick */
	assert_int_equal(set_via(&u->d, DOMID_SELF, 9), 0);
	assert_false(upcall_ends_poll(u, w, e));
	/* PCI INTx callback, vCPU 1: the same */
	assert_int_equal(set_via(&u->d, DOMID_SELF,
				 (1ull << 56) | (3 << 11) | 1), 0);
	assert_false(upcall_ends_poll(u, w, e));
	/* vCPU 0 has a per-vCPU vector: is_hvm_pv_evtchn_domain(), a kick */
	assert_int_equal(set_vector(&u->d, 0, 0x40), 0);
	assert_true(upcall_ends_poll(u, w, e));
	/* the global callback vector: a kick */
	assert_int_equal(set_via(&u->d, DOMID_SELF, (2ull << 56) | 0xf3), 0);
	assert_true(upcall_ends_poll(u, w, e));
#endif
}

/* A pending upcall ends a poll at once only when an interrupt is there for
 * the vCPU (Xen's local_events_need_delivery()): not with no callback. */
static void pending_upcall_without_callback_blocks(void **state)
{
	U;
#ifndef EVTCHN_PARK
	skip();
#else
	long w = th_bind_ipi(&u->d, 1), e = th_bind_ipi(&u->d, 1);
	struct poller p = { .td = &u->d, .vcpu = 1, .port = (uint32_t)w };

	assert_int_equal(th_send(&u->d, 0, e), 0); /* upcall pending */
	poller_start(&p);
	assert_true(evtchn_park_wait("poll:blocking", 1, 5000));
	assert_false(atomic_load(&p.done));
	assert_int_equal(th_send(&u->d, 0, w), 0);
	pthread_join(p.tid, NULL);
	assert_int_equal(p.rc, 0);
	/* with a per-vCPU vector it returns at once */
	assert_int_equal(set_vector(&u->d, 1, 0x41), 0);
	p = (struct poller){ .td = &u->d, .vcpu = 1, .port = (uint32_t)w };
	th_mask(&u->d, w);
	poller_start(&p);
	pthread_join(p.tid, NULL);
	assert_int_equal(evtchn_park_hits("poll:blocking"), 0);
	/* ... unless the VMM says the vCPU's interrupts are off: then it
	 * blocks (EVTCHN_MODE_IRQS_OFF) until the port's event */
	memset(u->d.g.shared_info + 2048, 0, 512); /* w taken */
	p = (struct poller){ .td = &u->d, .vcpu = 1, .port = (uint32_t)w,
			     .irqs_off = true };
	poller_start(&p);
	assert_true(evtchn_park_wait("poll:blocking", 1, 5000));
	assert_false(atomic_load(&p.done));
	assert_int_equal(th_send(&u->d, 0, w), 0);
	pthread_join(p.tid, NULL);
	assert_int_equal(p.rc, 0);
	evtchn_park_reset();
#endif
}

/* With no callback configured, Xen raises nothing. */
static void no_callback_no_interrupt(void **state)
{
	U;
	long p = th_bind_ipi(&u->d, 0);

	assert_int_equal(th_send(&u->d, 0, p), 0);
	assert_true(th_pending(&u->d, p));
	assert_int_equal(atomic_load(&u->d.nr_irqs), 0);
}

/* Type 2: the global callback vector, on every vCPU. */
static void global_vector(void **state)
{
	U;
	struct xen_hvm_param p = { .domid = DOMID_SELF,
				   .index = HVM_PARAM_CALLBACK_IRQ };
	long a = th_bind_ipi(&u->d, 2);

	assert_int_equal(set_via(&u->d, DOMID_SELF, (2ull << 56) | 0xf3), 0);
	assert_int_equal(th_hvm(&u->d, 0, HVMOP_get_param, &p, sizeof(p)), 0);
	assert_int_equal(p.value, (2ull << 56) | 0xf3);
	assert_int_equal(th_send(&u->d, 0, a), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 1);
	assert_int_equal(u->d.irqs[0].method, EVTCHN_UPCALL_VECTOR);
	assert_int_equal(u->d.irqs[0].vector, 0xf3);
	assert_int_equal(u->d.irqs[0].vcpu, 2);
}

/* B43: type 0 (GSI): the line follows vCPU 0's upcall_pending, drops when
 * the guest clears it; events for other vCPUs raise nothing; 0 disables,
 * a GSI beyond nr_gsis is accepted but raises nothing. */
static void gsi_callback(void **state)
{
	U;
	long a0 = th_bind_ipi(&u->d, 0), a1 = th_bind_ipi(&u->d, 1);

	assert_int_equal(set_via(&u->d, DOMID_SELF, 28), 0);
	assert_int_equal(th_send(&u->d, 0, a1), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 0);
	assert_int_equal(th_send(&u->d, 0, a0), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 1);
	assert_int_equal(u->d.irqs[0].method, EVTCHN_UPCALL_GSI);
	assert_int_equal(u->d.irqs[0].gsi, 28);
	assert_true(u->d.irqs[0].level);
	/* still pending: the level stays up */
	assert_int_equal(evtchn_upcall_level_update(u->d.d), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 1);
	guest_ack(&u->d, 0);
	assert_int_equal(evtchn_upcall_level_update(u->d.d), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 2);
	assert_false(u->d.irqs[1].level);
	/* disabled */
	assert_int_equal(set_via(&u->d, DOMID_SELF, 0), 0);
	memset(u->d.g.shared_info + 2048, 0, 512);
	assert_int_equal(th_send(&u->d, 0, a0), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 2);
	/* GSI beyond the guest's 48: accepted, nothing */
	guest_ack(&u->d, 0);
	memset(u->d.g.shared_info + 2048, 0, 512);
	assert_int_equal(set_via(&u->d, DOMID_SELF, 60), 0);
	assert_int_equal(th_send(&u->d, 0, a0), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 2);
}

/* Type 1 (PCI INTx): Xen takes the device from bits 15:11 and the pin
 * from bits 1:0; a change of callback moves an asserted line. */
static void pci_intx_callback(void **state)
{
	U;
	long a0 = th_bind_ipi(&u->d, 0);
	uint64_t via = (1ull << 56) | (3u << 11) | 2;

	assert_int_equal(set_via(&u->d, DOMID_SELF, via), 0);
	assert_int_equal(th_send(&u->d, 0, a0), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 1);
	assert_int_equal(u->d.irqs[0].method, EVTCHN_UPCALL_PCI_INTX);
	assert_int_equal(u->d.irqs[0].pci_dev, 3);
	assert_int_equal(u->d.irqs[0].pci_intx, 2);
	assert_true(u->d.irqs[0].level);
	/* to a GSI while asserted: INTx down, GSI up */
	assert_int_equal(set_via(&u->d, DOMID_SELF, 20), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 3);
	assert_false(u->d.irqs[1].level);
	assert_int_equal(u->d.irqs[2].method, EVTCHN_UPCALL_GSI);
	assert_true(u->d.irqs[2].level);
	/* Xen's hvm_set_callback_via() keeps the asserted state across a
	 * vector callback: GSI down, and up again when the GSI returns */
	assert_int_equal(set_via(&u->d, DOMID_SELF, (2ull << 56) | 0xf3), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 4);
	assert_false(u->d.irqs[3].level);
	assert_int_equal(set_via(&u->d, DOMID_SELF, 20), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 5);
	assert_int_equal(u->d.irqs[4].method, EVTCHN_UPCALL_GSI);
	assert_true(u->d.irqs[4].level);
}

/* B42: per-vCPU vectors: below 0x10 -EINVAL, missing vCPU -ENOENT, an
 * upcall already pending is injected at once; they win over the global
 * callback. */
static void per_vcpu_vector(void **state)
{
	U;
	long a1 = th_bind_ipi(&u->d, 1);

	assert_int_equal(set_vector(&u->d, 1, 0x0f), -XEN_EINVAL);
	assert_int_equal(set_vector(&u->d, 3, 0x40), -XEN_ENOENT);
	assert_int_equal(set_via(&u->d, DOMID_SELF, (2ull << 56) | 0xf3), 0);
	assert_int_equal(th_send(&u->d, 0, a1), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 1);
	/* pending already: the new vector is injected now */
	assert_int_equal(set_vector(&u->d, 1, 0x40), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 2);
	assert_int_equal(u->d.irqs[1].method, EVTCHN_UPCALL_VCPU_VECTOR);
	assert_int_equal(u->d.irqs[1].vector, 0x40);
	guest_ack(&u->d, 1);
	memset(u->d.g.shared_info + 2048, 0, 512);
	assert_int_equal(th_send(&u->d, 0, a1), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 3);
	assert_int_equal(u->d.irqs[2].method, EVTCHN_UPCALL_VCPU_VECTOR);
	/* not pending: nothing injected */
	assert_int_equal(set_vector(&u->d, 2, 0x41), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 3);
}

struct racer {
	struct th_domain *td;
	long port;
	_Atomic bool stop;
};

static void *sender(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < 20000; i++) {
		/* the guest takes the event: pending and selector clear */
		memset(r->td->g.shared_info + 2048, 0, 8);
		evtchn_port_raise(r->td->d, r->port);
	}
	atomic_store(&r->stop, true);
	return NULL;
}

/* The GSI line never stays low while vCPU 0 has an upcall pending: a new
 * upcall racing the VMM's level update (the guest clearing
 * upcall_pending on the other side) is serialised with it. */
static void gsi_level_race(void **state)
{
	U;
	struct racer r = { .td = &u->d };
	unsigned n;
	pthread_t t;

	r.port = th_bind_ipi(&u->d, 0);
	assert_int_equal(set_via(&u->d, DOMID_SELF, 20), 0);
	assert_int_equal(pthread_create(&t, NULL, sender, &r), 0);
	while (!atomic_load(&r.stop)) {
		/* the guest's handler: clear upcall_pending, then EOI */
		__atomic_store_n(u->d.g.vcpu_info[0], 0, __ATOMIC_SEQ_CST);
		__atomic_store_n((uint64_t *)(u->d.g.vcpu_info[0] + 8), 0,
				 __ATOMIC_SEQ_CST);
		assert_int_equal(evtchn_upcall_level_update(u->d.d), 0);
	}
	pthread_join(t, NULL);
	n = atomic_load(&u->d.nr_irqs);
	assert_true(n > 0);
	/* the last level the VMM was given is high if one is pending */
	if (__atomic_load_n(u->d.g.vcpu_info[0], __ATOMIC_SEQ_CST))
		assert_true(u->d.last_irq.level);
}

/* A control domain sets another domain's callback (Xen: XSM_TARGET) while
 * that domain's vCPU 0 upcall is pending: the new GSI line rises, told on
 * the caller's thread with no lock of the library held (test builds trap
 * at a callback under one). */
static void gsi_callback_set_by_control_domain(void **state)
{
	U;
	struct th_domain ctl;
	struct th_domain_opts o = { .domid = 0, .nr_vcpus = 1,
				    .privileged = true };
	long a0 = th_bind_ipi(&u->d, 0);

	assert_int_equal(th_domain_create(u->h, &ctl, &o), 0);
	assert_int_equal(th_send(&u->d, 0, a0), 0); /* no callback yet */
	assert_int_equal(atomic_load(&u->d.nr_irqs), 0);
	assert_int_equal(set_via(&ctl, 1, 28), 0);
	assert_int_equal(atomic_load(&u->d.nr_irqs), 1);
	assert_int_equal(u->d.irqs[0].method, EVTCHN_UPCALL_GSI);
	assert_int_equal(u->d.irqs[0].gsi, 28);
	assert_true(u->d.irqs[0].level);
	th_domain_destroy(&ctl);
}

/* Other parameters and HVMOPs are the VMM's; another domain's callback
 * needs privilege. */
static void hvm_op_scope(void **state)
{
	U;
	struct xen_hvm_param p = { .domid = DOMID_SELF, .index = 2 };

	assert_int_equal(th_hvm(&u->d, 0, HVMOP_set_param, &p, sizeof(p)),
			 -ENOSYS);
	assert_int_equal(th_hypercall(&u->d, 0, __HYPERVISOR_hvm_op, 7, 0, 0),
			 -ENOSYS);
	assert_int_equal(set_via(&u->d, 2, 5), -XEN_EPERM);
	assert_int_equal(set_via(&u->d, 9, 5), -XEN_ESRCH);
	assert_int_equal(th_hypercall(&u->d, 0, __HYPERVISOR_hvm_op,
				      HVMOP_set_param, TH_MEM_SIZE, 0),
			 -XEN_EFAULT);
	assert_int_equal(evtchn_upcall_level_update(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(no_callback_no_interrupt),
		T(upcall_kicks_poll_as_xen),
		T(pending_upcall_without_callback_blocks),
		T(global_vector),
		T(gsi_callback),
		T(pci_intx_callback),
		T(per_vcpu_vector),
		T(gsi_level_race),
		T(gsi_callback_set_by_control_domain),
		T(hvm_op_scope),
	};

	return cmocka_run_group_tests_name("upcall", tests, NULL, NULL);
}
