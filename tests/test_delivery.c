/* SPDX-License-Identifier: MIT */
/*
 * 2-level delivery (Xen 4.17 xen/common/event_2l.c), both layouts: the bits
 * written in shared_info and vcpu_info and when the upcall is raised.
 */
#include <string.h>

#include "fixture.h"

#include <xen/foreign/x86_32.h>
#include <xen/foreign/x86_64.h>

#define F struct fx *f = *state

static unsigned bits(struct fx *f)
{
	return f->d1.g.compat ? 32 : 64;
}

/* B22: fresh delivery sets P, the selector bit port/BITS, upcall_pending,
 * and raises one upcall. */
static void fresh_event_sets_pending_selector_upcall(void **state)
{
	F;
	uint32_t port = bits(f) + 3; /* selector bit 1 */
	long p;

	for (uint32_t i = 1; i <= port; i++) {
		p = th_bind_ipi(&f->d1, 1);
		assert_int_equal(p, i);
		evtchn_guest_bind_port(&f->d1.g, p, 1);
	}
	assert_int_equal(th_send(&f->d1, 0, port), 0);
	assert_true(th_pending(&f->d1, port));
	assert_int_equal(evtchn_guest_pending_sel(&f->d1.g, 1), 1ull << 1);
	assert_true(evtchn_guest_upcall_pending(&f->d1.g, 1));
	assert_int_equal(th_upcalls(&f->d1, 1), 1);
	/* nothing on the other vCPUs */
	assert_int_equal(evtchn_guest_pending_sel(&f->d1.g, 0), 0);
	assert_false(evtchn_guest_upcall_pending(&f->d1.g, 0));
}

/* B23: an already pending port: nothing changes, no upcall. */
static void pending_port_coalesces(void **state)
{
	F;
	long p = th_bind_ipi(&f->d1, 0);
	uint64_t sel;

	assert_int_equal(th_send(&f->d1, 0, p), 0);
	/* the guest takes the selector and upcall, leaving P set */
	memset(f->d1.g.vcpu_info[0], 0, 1);
	sel = evtchn_guest_pending_sel(&f->d1.g, 0);
	assert_int_equal(sel, 1);
	if (f->d1.g.compat)
		__atomic_store_n((uint32_t *)(f->d1.g.vcpu_info[0] + 4), 0,
				 __ATOMIC_SEQ_CST);
	else
		__atomic_store_n((uint64_t *)(f->d1.g.vcpu_info[0] + 8), 0,
				 __ATOMIC_SEQ_CST);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_int_equal(evtchn_guest_pending_sel(&f->d1.g, 0), 0);
	assert_false(evtchn_guest_upcall_pending(&f->d1.g, 0));
	assert_int_equal(th_upcalls(&f->d1, 0), 1);
}

/* B24: a masked port gets P only. */
static void masked_port_gets_pending_only(void **state)
{
	F;
	long p = th_bind_ipi(&f->d1, 0);

	th_mask(&f->d1, p);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_true(th_pending(&f->d1, p));
	assert_int_equal(evtchn_guest_pending_sel(&f->d1.g, 0), 0);
	assert_false(evtchn_guest_upcall_pending(&f->d1.g, 0));
	assert_int_equal(th_upcalls(&f->d1, 0), 0);
}

/* B25: selector bit already set: no new upcall. */
static void selector_already_set_no_upcall(void **state)
{
	F;
	long a = th_bind_ipi(&f->d1, 0);
	long b = th_bind_ipi(&f->d1, 0);

	assert_int_equal(th_send(&f->d1, 0, a), 0);
	memset(f->d1.g.vcpu_info[0], 0, 1); /* guest clears upcall_pending */
	assert_int_equal(th_send(&f->d1, 0, b), 0);
	assert_true(th_pending(&f->d1, b));
	assert_false(evtchn_guest_upcall_pending(&f->d1.g, 0));
	assert_int_equal(th_upcalls(&f->d1, 0), 1);
}

/* upcall_pending already set: the selector bit is set, no new upcall. */
static void upcall_already_pending_no_new_upcall(void **state)
{
	F;
	long a = th_bind_ipi(&f->d1, 0);

	for (uint32_t i = 2; i <= bits(f); i++)
		th_bind_ipi(&f->d1, 0);
	assert_int_equal(th_send(&f->d1, 0, a), 0);
	assert_int_equal(th_send(&f->d1, 0, bits(f)), 0);
	assert_int_equal(evtchn_guest_pending_sel(&f->d1.g, 0), 3);
	assert_int_equal(th_upcalls(&f->d1, 0), 1);
}

/* B26: EVTCHNOP_unmask on a masked, pending port re-delivers to the port's
 * notify vCPU. */
static void unmask_redelivers_pending(void **state)
{
	F;
	long p = th_alloc_unbound(&f->d1, DOMID_SELF, DOMID_SELF);
	long l;

	th_mask(&f->d1, p);
	l = th_bind_interdomain(&f->d1, DOMID_SELF, p);
	assert_int_equal(th_bind_vcpu(&f->d1, p, 3), 0);
	memset(f->d1.g.vcpu_info[0], 0, 1);
	assert_int_equal(th_send(&f->d1, 0, l), 0);
	assert_true(th_pending(&f->d1, p));
	assert_int_equal(th_upcalls(&f->d1, 3), 0);
	assert_int_equal(th_unmask(&f->d1, p), 0);
	assert_false(th_masked(&f->d1, p));
	assert_int_equal(evtchn_guest_pending_sel(&f->d1.g, 3), 1);
	assert_int_equal(th_upcalls(&f->d1, 3), 1);
}

/* B27: the guest cleared M itself: EVTCHNOP_unmask re-delivers nothing. */
static void unmask_after_guest_cleared_mask_does_nothing(void **state)
{
	F;
	long p = th_bind_ipi(&f->d1, 1);

	th_mask(&f->d1, p);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	/* clear M the way a guest does, without the hypercall */
	if (f->d1.g.compat)
		__atomic_fetch_and((uint32_t *)(f->d1.g.shared_info +
						offsetof(struct shared_info_x86_32,
							 evtchn_mask)),
				   ~(1u << p), __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and((uint64_t *)(f->d1.g.shared_info +
						offsetof(struct shared_info_x86_64,
							 evtchn_mask)),
				   ~(1ull << p), __ATOMIC_SEQ_CST);
	assert_int_equal(th_unmask(&f->d1, p), 0);
	assert_int_equal(evtchn_guest_pending_sel(&f->d1.g, 1), 0);
	assert_int_equal(th_upcalls(&f->d1, 1), 0);
}

/* bind_vcpu in 2-level: an event already pending is not re-raised on the
 * new vCPU (Xen does not; QEMU does). */
static void bind_vcpu_does_not_reraise(void **state)
{
	F;
	long p = th_alloc_unbound(&f->d1, DOMID_SELF, DOMID_SELF);
	long l = th_bind_interdomain(&f->d1, DOMID_SELF, p);

	assert_int_equal(th_send(&f->d1, 0, l), 0);
	assert_int_equal(th_upcalls(&f->d1, 0), 1);
	assert_int_equal(th_bind_vcpu(&f->d1, l, 2), 0);
	assert_int_equal(th_upcalls(&f->d1, 2), 0);
	assert_int_equal(evtchn_guest_pending_sel(&f->d1.g, 2), 0);
}

/* Event callbacks: count per port; the parity one also checks that odd
 * ports arrive at vCPU 1 and even ones at vCPU 0. */
static void cb(uint32_t vcpu, uint32_t port, void *opaque)
{
	(void)vcpu;
	((unsigned *)opaque)[port]++;
}

static void cb_parity(uint32_t vcpu, uint32_t port, void *opaque)
{
	assert_int_equal(vcpu, port % 2);
	((unsigned *)opaque)[port]++;
}

/* The reference consumer sees every event once, at the right vCPU. */
static void consumer_takes_events_once(void **state)
{
	F;
	unsigned seen[128] = { 0 };
	long ports[100];

	for (int i = 0; i < 100; i++) {
		ports[i] = th_bind_ipi(&f->d1, (i + 1) % 2);
		assert_int_equal(ports[i], i + 1);
		evtchn_guest_bind_port(&f->d1.g, ports[i], (i + 1) % 2);
	}
	for (int i = 0; i < 100; i++)
		assert_int_equal(th_send(&f->d1, 0, ports[i]), 0);
	assert_int_equal(evtchn_guest_upcall(&f->d1.g, 0, cb_parity, seen), 50);
	assert_int_equal(evtchn_guest_upcall(&f->d1.g, 1, cb_parity, seen), 50);
	for (int i = 0; i < 100; i++)
		assert_int_equal(seen[ports[i]], 1);
	assert_false(evtchn_guest_upcall_pending(&f->d1.g, 0));
	assert_int_equal(evtchn_guest_upcall(&f->d1.g, 0, cb, seen), 0);
}

/* Linux-style unmask through the consumer: a pending masked event comes
 * back through EVTCHNOP_unmask. */
static void consumer_unmask_redelivers(void **state)
{
	F;
	unsigned seen[8] = { 0 };
	long p = th_bind_ipi(&f->d1, 0);

	evtchn_guest_mask(&f->d1.g, p);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_int_equal(evtchn_guest_upcall(&f->d1.g, 0, cb, seen), 0);
	evtchn_guest_unmask(&f->d1.g, 0, p);
	assert_int_equal(th_upcalls(&f->d1, 0), 1);
	assert_int_equal(evtchn_guest_upcall(&f->d1.g, 0, cb, seen), 1);
	assert_int_equal(seen[p], 1);
}

/* VIRQs raised by the VMM: per-vCPU at their vCPU; unbound ones dropped. */
static void virq_raised_at_its_vcpu(void **state)
{
	F;
	long t1 = th_bind_virq(&f->d1, VIRQ_TIMER, 1);

	assert_int_equal(evtchn_send_virq(f->d1.d, 2, VIRQ_TIMER), 0);
	assert_int_equal(th_upcalls(&f->d1, 2), 0);
	assert_int_equal(evtchn_send_virq(f->d1.d, 1, VIRQ_TIMER), 0);
	assert_true(th_pending(&f->d1, t1));
	assert_int_equal(th_upcalls(&f->d1, 1), 1);
	assert_int_equal(evtchn_send_virq(f->d1.d, 1, NR_VIRQS), -EINVAL);
	assert_int_equal(evtchn_send_virq(f->d1.d, 9, VIRQ_TIMER), -EINVAL);
	assert_int_equal(evtchn_port_raise(f->d1.d, 0), -EINVAL);
	assert_int_equal(evtchn_port_raise(f->d1.d, 5000), -EINVAL);
}

/* B46: VCPUOP_register_vcpu_info: the slot moves (contents copied), the
 * selector becomes all ones and an upcall is raised; twice -> -EINVAL in
 * Xen 4.17; offset checks -ENXIO. */
static void register_vcpu_info_rules(void **state)
{
	F;
	struct vcpu_register_vcpu_info info = { .mfn = 50, .offset = 128 };
	uint64_t gpa = 51ull * EVTCHN_PAGE_SIZE;
	unsigned char *vi = f->d1.mem + 50 * EVTCHN_PAGE_SIZE + 128;
	long p = th_bind_ipi(&f->d1, 1);

	memcpy(f->d1.mem + gpa, &info, sizeof(info));
	assert_int_equal(th_hypercall(&f->d1, 1, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 1, gpa), 0);
	evtchn_guest_set_vcpu_info(&f->d1.g, 1, vi);
	assert_int_equal(evtchn_guest_pending_sel(&f->d1.g, 1),
			 f->d1.g.compat ? 0xffffffffull : ~0ull);
	assert_true(evtchn_guest_upcall_pending(&f->d1.g, 1));
	assert_int_equal(th_upcalls(&f->d1, 1), 1);
	/* events now land in the new vcpu_info */
	memset(vi, 0, 16);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_int_equal(evtchn_guest_pending_sel(&f->d1.g, 1), 1);
	assert_int_equal(th_upcalls(&f->d1, 1), 2);
	/* second registration */
	assert_int_equal(th_hypercall(&f->d1, 1, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 1, gpa),
			 -XEN_EINVAL);
	/* offsets: past the page end, misaligned */
	info.offset = EVTCHN_PAGE_SIZE - 63;
	memcpy(f->d1.mem + gpa, &info, sizeof(info));
	assert_int_equal(th_hypercall(&f->d1, 2, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 2, gpa),
			 -XEN_ENXIO);
	info.offset = 4;
	memcpy(f->d1.mem + gpa, &info, sizeof(info));
	assert_int_equal(th_hypercall(&f->d1, 2, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 2, gpa),
			 f->d1.g.compat ? 0 : -XEN_ENXIO);
	/* a gfn that is not RAM */
	info.offset = 0;
	info.mfn = 1000;
	memcpy(f->d1.mem + gpa, &info, sizeof(info));
	assert_int_equal(th_hypercall(&f->d1, 3, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 3, gpa),
			 -XEN_EINVAL);
	/* another vCPU that is online */
	info.mfn = 52;
	memcpy(f->d1.mem + gpa, &info, sizeof(info));
	evtchn_vcpu_set_online(f->d1.d, 3, true);
	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 3, gpa),
			 -XEN_EINVAL);
	evtchn_vcpu_set_online(f->d1.d, 3, false);
	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 3, gpa), 0);
	/* missing vCPU; other vcpu_ops are the VMM's */
	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 4, gpa),
			 -XEN_ENOENT);
	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_vcpu_op,
				      VCPUOP_get_runstate_info, 0, gpa),
			 -ENOSYS);
}

/* vCPUs from 32 up have no shared_info slot: their first vcpu_info is
 * zeroed with upcall_mask set. */
static void register_vcpu_info_beyond_legacy_slots(void **state)
{
	F;
	struct th_domain big;
	struct th_domain_opts o = { .domid = 9, .nr_vcpus = 40,
				    .layout = f->d1.g.compat };
	struct vcpu_register_vcpu_info info = { .mfn = 50, .offset = 64 };
	uint64_t gpa = 51ull * EVTCHN_PAGE_SIZE;
	unsigned char *vi;
	long p;

	assert_int_equal(th_domain_create(f->h, &big, &o), 0);
	vi = big.mem + 50 * EVTCHN_PAGE_SIZE + 64;
	memset(vi, 0xee, 64);
	p = th_bind_ipi(&big, 35);
	assert_true(p > 0);
	memcpy(big.mem + gpa, &info, sizeof(info));
	assert_int_equal(th_hypercall(&big, 35, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 35, gpa), 0);
	assert_int_equal(vi[0], 1); /* upcall_pending */
	assert_int_equal(vi[1], 1); /* upcall_mask */
	assert_int_equal(vi[20], 0);
	assert_int_equal(vi[63], 0);
	th_domain_destroy(&big);
}

/* A vcpu_info registered 4-byte aligned under the 32-bit layout, used
 * after a switch to 64-bit: selector bits land in both 32-bit halves of the
 * 64-bit selector.  (They are set with 32-bit atomics so that no access
 * splits a cache line; that is not observable here, the bits are.) */
static void misaligned_vcpu_info_after_layout_switch(void **state)
{
	F;
	struct vcpu_register_vcpu_info info = { .mfn = 50, .offset = 52 };
	uint64_t gpa = 51ull * EVTCHN_PAGE_SIZE, sel;
	unsigned char *vi = f->d1.mem + 50 * EVTCHN_PAGE_SIZE + 52;
	long lo = 0, hi = 0;

	memcpy(f->d1.mem + gpa, &info, sizeof(info));
	assert_int_equal(th_hypercall(&f->d1, 1, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 1, gpa), 0);
	assert_int_equal(evtchn_domain_set_layout(f->d1.d, EVTCHN_LAYOUT_64),
			 0);
	memset(vi, 0, 16);
	for (long p = 1; p < 40 * 64 + 1; p++) {
		long q = th_bind_ipi(&f->d1, 1);

		assert_int_equal(q, p);
		if (q == 5)
			lo = q;
		if (q == 39 * 64 + 7)
			hi = q;
	}
	assert_int_equal(th_send(&f->d1, 0, lo), 0);
	assert_int_equal(th_send(&f->d1, 0, hi), 0);
	memcpy(&sel, vi + 8, sizeof(sel));
	assert_int_equal(sel, (1ull << 0) | (1ull << 39));
	assert_int_equal(vi[0], 1);
}

/* Layout switch: 2-level limits and bit positions follow the latch. */
static void layout_switch_changes_limits(void **state)
{
	F;
	enum evtchn_layout other = f->d1.g.compat ? EVTCHN_LAYOUT_64
						  : EVTCHN_LAYOUT_32;

	assert_int_equal(evtchn_domain_set_layout(f->d1.d, other), 0);
	assert_int_equal(evtchn_domain_layout(f->d1.d), other);
	assert_int_equal(evtchn_domain_set_layout(f->d1.d, 7), -EINVAL);
}

#define BOTH(fn) FX_TEST(fn), FX_TEST32(fn)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(fresh_event_sets_pending_selector_upcall),
		BOTH(pending_port_coalesces),
		BOTH(masked_port_gets_pending_only),
		BOTH(selector_already_set_no_upcall),
		BOTH(upcall_already_pending_no_new_upcall),
		BOTH(unmask_redelivers_pending),
		BOTH(unmask_after_guest_cleared_mask_does_nothing),
		BOTH(bind_vcpu_does_not_reraise),
		BOTH(consumer_takes_events_once),
		BOTH(consumer_unmask_redelivers),
		BOTH(virq_raised_at_its_vcpu),
		BOTH(register_vcpu_info_rules),
		BOTH(register_vcpu_info_beyond_legacy_slots),
		BOTH(layout_switch_changes_limits),
		FX_TEST32(misaligned_vcpu_info_after_layout_switch),
	};

	return cmocka_run_group_tests_name("delivery", tests, NULL, NULL);
}
