/* SPDX-License-Identifier: MIT */
/*
 * The 2-level ABI, guest side: the pending and mask bitmaps in
 * shared_info, a selector word per vCPU (Linux's events_2l.c behaviour).
 */
#include "guest.h"

#define BITS_PER_WORD (sizeof(xen_ulong_t) * 8)
#define NR_2L_PORTS (BITS_PER_WORD * BITS_PER_WORD)

/*
 * The vCPU each port notifies, as the guest bound it (Linux's per-CPU
 * evtchn mask).  A bitmap word holds ports of several vCPUs; each vCPU
 * takes only its own, or an event for vCPU 1 seen first by vCPU 0 would
 * be counted on the wrong vCPU.  0 for ports never bound: Xen's default.
 */
static uint8_t port_vcpu[NR_2L_PORTS];

static xen_ulong_t bit_of(uint32_t port)
{
	return (xen_ulong_t)1 << (port % BITS_PER_WORD);
}

static xen_ulong_t *pending_word(uint32_t port)
{
	return &shinfo->evtchn_pending[port / BITS_PER_WORD];
}

static xen_ulong_t *mask_word(uint32_t port)
{
	return &shinfo->evtchn_mask[port / BITS_PER_WORD];
}

/* The pending, unmasked ports of word @w that are @cpu's. */
static void scan_word(uint32_t cpu, uint32_t w)
{
	xen_ulong_t *pending = &shinfo->evtchn_pending[w];
	xen_ulong_t active = __atomic_load_n(pending, __ATOMIC_SEQ_CST) &
			     ~__atomic_load_n(&shinfo->evtchn_mask[w],
					      __ATOMIC_SEQ_CST);

	while (active) {
		uint32_t port = w * BITS_PER_WORD + __builtin_ctzl(active);
		xen_ulong_t m = bit_of(port);

		active &= active - 1;
		if (__atomic_load_n(&port_vcpu[port], __ATOMIC_RELAXED) != cpu)
			continue;
		/* Ack before handling, as Linux acks an edge: an event sent
		 * from here on sets the bit again and is taken again. */
		if (__atomic_fetch_and(pending, ~m, __ATOMIC_SEQ_CST) & m)
			ev_record(cpu, port);
	}
}

static void upcall_2l(uint32_t cpu)
{
	struct vcpu_info *vi = ev_vcpu_info(cpu);

	for (unsigned int round = 0; round < MAX_UPCALL_ROUNDS; round++) {
		xen_ulong_t sel;

		/* Cleared before the selector is read: the hypervisor sets
		 * the selector, then upcall_pending, so whatever it adds
		 * after this store makes the loop go round again. */
		__atomic_store_n(&vi->evtchn_upcall_pending, 0,
				 __ATOMIC_SEQ_CST);
		sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0,
					  __ATOMIC_SEQ_CST);
		while (sel) {
			scan_word(cpu, (uint32_t)__builtin_ctzl(sel));
			sel &= sel - 1;
		}
		if (!__atomic_load_n(&vi->evtchn_upcall_pending,
				     __ATOMIC_SEQ_CST))
			return;
	}
}

static bool mask_2l(uint32_t port)
{
	return __atomic_fetch_or(mask_word(port), bit_of(port),
				 __ATOMIC_SEQ_CST) &
	       bit_of(port);
}

static void enable_2l(uint32_t port)
{
	__atomic_fetch_and(mask_word(port), ~bit_of(port), __ATOMIC_SEQ_CST);
}

static void set_vcpu_2l(uint32_t port, uint32_t vcpu)
{
	if (port < NR_2L_PORTS)
		__atomic_store_n(&port_vcpu[port], (uint8_t)vcpu,
				 __ATOMIC_RELAXED);
}

static bool test_2l(uint32_t port, enum ev_bit bit)
{
	switch (bit) {
	case EV_PENDING:
		return __atomic_load_n(pending_word(port), __ATOMIC_SEQ_CST) &
		       bit_of(port);
	case EV_MASKED:
		return __atomic_load_n(mask_word(port), __ATOMIC_SEQ_CST) &
		       bit_of(port);
	default:
		return false; /* no links in 2-level */
	}
}

const struct abi_ops abi_2l_ops = {
	.upcall = upcall_2l,
	.mask = mask_2l,
	.enable = enable_2l,
	.set_vcpu = set_vcpu_2l,
	.test = test_2l,
};
