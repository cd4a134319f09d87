/* SPDX-License-Identifier: MIT */
/*
 * Event bookkeeping common to both ABIs: the upcall's C entry, what each
 * vCPU took on each port, and the EVTCHNOPs with what a guest does around
 * them (Linux's order: bind, note the vCPU, clear the mask).
 */
#include "guest.h"

struct ev_record {
	uint32_t count; /* events this vCPU took on the port */
	uint64_t ns;	/* system time when it took the latest */
};

static struct ev_record records[GUEST_MAX_VCPUS][NR_TRACKED_PORTS];
static uint32_t untracked[GUEST_MAX_VCPUS];
static uint32_t upcalls[GUEST_MAX_VCPUS];
/* Every port a bind returned, for the reset check. */
static uint64_t used[NR_TRACKED_PORTS / 64];

/* The ABI the hypervisor uses for this domain, as the guest switched it. */
static const struct abi_ops *abi = &abi_2l_ops;

static const struct abi_ops *cur_abi(void)
{
	/* pairs with the release store in ev_set_abi() */
	return __atomic_load_n(&abi, __ATOMIC_ACQUIRE);
}

void ev_set_abi(const struct abi_ops *ops)
{
	__atomic_store_n(&abi, ops, __ATOMIC_RELEASE);
}

/* Each vCPU's vcpu_info: its slot in shared_info until it registers one
 * of its own in this page (VCPUOP_register_vcpu_info). */
static struct vcpu_info own_vcpu_info[GUEST_MAX_VCPUS] PAGE_ALIGNED;
static struct vcpu_info *vcpu_info_at[GUEST_MAX_VCPUS];

_Static_assert(sizeof(own_vcpu_info) <= GUEST_PAGE_SIZE,
	       "every vCPU's vcpu_info in one page");

struct vcpu_info *ev_vcpu_info(uint32_t cpu)
{
	struct vcpu_info *vi = __atomic_load_n(&vcpu_info_at[cpu],
					       __ATOMIC_ACQUIRE);

	return vi ? vi : &shinfo->vcpu_info[cpu];
}

/* On vCPU @cpu itself (Xen: a running vCPU registers only its own), with
 * interrupts off so that no upcall reads the old place meanwhile.  The
 * hypervisor copies the old contents and marks every selector bit. */
long ev_register_vcpu_info(uint32_t cpu)
{
	uint64_t gpa = (uint64_t)(uintptr_t)&own_vcpu_info[cpu];
	struct vcpu_register_vcpu_info r = {
		.mfn = gpa / GUEST_PAGE_SIZE,
		.offset = (uint32_t)(gpa % GUEST_PAGE_SIZE),
	};
	uint64_t flags = irq_save();
	long rc = hc_vcpu_op(VCPUOP_register_vcpu_info, cpu, &r);

	if (rc == 0)
		__atomic_store_n(&vcpu_info_at[cpu], &own_vcpu_info[cpu],
				 __ATOMIC_RELEASE);
	irq_restore(flags);
	return rc;
}

/* UPCALL_VECTOR, from vectors.S with interrupts off. */
void upcall_interrupt(void)
{
	uint32_t cpu = this_vcpu();

	if (cpu < GUEST_MAX_VCPUS) {
		__atomic_fetch_add(&upcalls[cpu], 1, __ATOMIC_RELAXED);
		cur_abi()->upcall(cpu);
	}
	/* EOI after the scan: an event that came meanwhile made the
	 * hypervisor raise the vector again (upcall_pending went 0 -> 1),
	 * and the APIC holds that one in IRR until this EOI. */
	apic_eoi();
}

/* An event taken (its pending bit already cleared) by @cpu. */
void ev_record(uint32_t cpu, uint32_t port)
{
	struct ev_record *r;

	if (port >= NR_TRACKED_PORTS) {
		__atomic_fetch_add(&untracked[cpu], 1, __ATOMIC_RELAXED);
		return;
	}
	r = &records[cpu][port];
	__atomic_store_n(&r->ns, xen_now(), __ATOMIC_RELAXED);
	/* the time before the count: pairs with the acquire load in
	 * ev_count() */
	__atomic_fetch_add(&r->count, 1, __ATOMIC_RELEASE);
}

uint32_t ev_count(uint32_t cpu, uint32_t port)
{
	if (cpu >= GUEST_MAX_VCPUS || port >= NR_TRACKED_PORTS)
		return 0;
	return __atomic_load_n(&records[cpu][port].count, __ATOMIC_ACQUIRE);
}

/* The time of the latest event; read it after ev_count() saw that one. */
uint64_t ev_time(uint32_t cpu, uint32_t port)
{
	if (cpu >= GUEST_MAX_VCPUS || port >= NR_TRACKED_PORTS)
		return 0;
	return __atomic_load_n(&records[cpu][port].ns, __ATOMIC_RELAXED);
}

uint32_t ev_upcalls(uint32_t cpu)
{
	return __atomic_load_n(&upcalls[cpu], __ATOMIC_RELAXED);
}

/* Until @cpu has taken @want events on @port in all; 0, or -1 after
 * @ns of system time. */
int ev_wait(uint32_t cpu, uint32_t port, uint32_t want, uint64_t ns)
{
	struct bound b;

	bound_start(&b, ns);
	while (ev_count(cpu, port) < want) {
		/* the clock is an exit to the VMM: look at it now and then */
		for (unsigned i = 0; i < 256; i++) {
			if (ev_count(cpu, port) >= want)
				return 0;
			cpu_relax();
		}
		if (bound_passed(&b))
			return -1;
	}
	return 0;
}

bool ev_port_used(uint32_t port)
{
	uint64_t word;

	if (port >= NR_TRACKED_PORTS)
		return false;
	word = __atomic_load_n(&used[port / 64], __ATOMIC_RELAXED);
	return word & (1ull << (port % 64));
}

void ev_mask(uint32_t port)
{
	cur_abi()->mask(port);
}

bool ev_test(uint32_t port, enum ev_bit bit)
{
	return cur_abi()->test(port, bit);
}

/* After a successful bind: nothing is pending on a fresh port but for an
 * interdomain bind, on which Xen raises an event (@raised); then the
 * mask goes through EVTCHNOP_unmask, which delivers what is pending (a
 * plain clear would leave it pending, unseen).  Otherwise a plain clear
 * of the mask is enough. */
static void bound_port(uint32_t port, uint32_t vcpu, bool raised)
{
	const struct abi_ops *ops = cur_abi();

	if (port < NR_TRACKED_PORTS)
		__atomic_fetch_or(&used[port / 64], 1ull << (port % 64),
				  __ATOMIC_RELAXED);
	ops->set_vcpu(port, vcpu);
	if (raised) {
		ops->mask(port);
		(void)ev_unmask(port);
	} else {
		ops->enable(port);
	}
}

static void bound(uint32_t port, uint32_t vcpu)
{
	bound_port(port, vcpu, false);
}

long ev_bind_ipi(uint32_t vcpu, uint32_t *port)
{
	struct evtchn_bind_ipi op = { .vcpu = vcpu };
	long rc = hc_evtchn_op(EVTCHNOP_bind_ipi, &op);

	if (rc == 0) {
		*port = op.port;
		bound(op.port, vcpu);
	}
	return rc;
}

long ev_bind_virq(uint32_t virq, uint32_t vcpu, uint32_t *port)
{
	struct evtchn_bind_virq op = { .virq = virq, .vcpu = vcpu };
	long rc = hc_evtchn_op(EVTCHNOP_bind_virq, &op);

	if (rc == 0) {
		*port = op.port;
		bound(op.port, vcpu);
	}
	return rc;
}

/* A port of this domain for this domain: the loopback's first end. */
long ev_alloc_unbound(uint32_t *port)
{
	struct evtchn_alloc_unbound op = { .dom = DOMID_SELF,
					   .remote_dom = DOMID_SELF };
	long rc = hc_evtchn_op(EVTCHNOP_alloc_unbound, &op);

	if (rc == 0) {
		*port = op.port;
		bound(op.port, 0); /* new ports notify vCPU 0 */
	}
	return rc;
}

long ev_bind_interdomain(uint32_t remote_port, uint32_t *port)
{
	return ev_bind_interdomain_dom(DOMID_SELF, remote_port, port);
}

long ev_bind_pirq(uint32_t pirq, uint32_t *port)
{
	struct evtchn_bind_pirq op = { .pirq = pirq };
	long rc = hc_evtchn_op(EVTCHNOP_bind_pirq, &op);

	if (rc == 0) {
		*port = op.port;
		bound(op.port, 0);
	}
	return rc;
}

long ev_bind_interdomain_dom(uint16_t dom, uint32_t remote_port,
			     uint32_t *port)
{
	struct evtchn_bind_interdomain op = { .remote_dom = dom,
					      .remote_port = remote_port };
	long rc = hc_evtchn_op(EVTCHNOP_bind_interdomain, &op);

	if (rc == 0) {
		*port = op.local_port;
		bound_port(op.local_port, 0, true);
	}
	return rc;
}

/*
 * Linux's rebind: mask, move, note the new vCPU, then unmask through the
 * hypervisor, which re-raises an event that came in between on the new
 * vCPU.  Unmasked instead, such an event could sit pending in a word only
 * the old vCPU scans for other ports (2-level).
 */
long ev_bind_vcpu(uint32_t port, uint32_t vcpu)
{
	const struct abi_ops *ops = cur_abi();
	struct evtchn_bind_vcpu op = { .port = port, .vcpu = vcpu };
	bool was_masked = ops->mask(port);
	long rc = hc_evtchn_op(EVTCHNOP_bind_vcpu, &op);

	if (rc == 0)
		ops->set_vcpu(port, vcpu);
	if (!was_masked)
		ev_unmask(port);
	return rc;
}

long ev_send(uint32_t port)
{
	struct evtchn_send op = { .port = port };

	return hc_evtchn_op(EVTCHNOP_send, &op);
}

/* Masked first, as the port's next binding expects to find it. */
long ev_close(uint32_t port)
{
	struct evtchn_close op = { .port = port };

	ev_mask(port);
	return hc_evtchn_op(EVTCHNOP_close, &op);
}

/* With the mask still set: the hypervisor clears it and, if the event is
 * pending, delivers it.  (A 2-level mask cleared by the guest first would
 * make EVTCHNOP_unmask a no-op and leave the event pending.) */
long ev_unmask(uint32_t port)
{
	struct evtchn_unmask op = { .port = port };

	return hc_evtchn_op(EVTCHNOP_unmask, &op);
}

long ev_status(uint32_t port, struct evtchn_status *st)
{
	memset(st, 0, sizeof(*st));
	st->dom = DOMID_SELF;
	st->port = port;
	return hc_evtchn_op(EVTCHNOP_status, st);
}

long ev_reset(void)
{
	struct evtchn_reset op = { .dom = DOMID_SELF };

	return hc_evtchn_op(EVTCHNOP_reset, &op);
}
