/* SPDX-License-Identifier: MIT */
/*
 * The 2-level ABI: pending and mask bitmaps in shared_info, a selector word
 * and the upcall flag in each vcpu_info.  Both layouts: 64-bit guests use
 * 64-bit words (4096 ports), 32-bit guests 32-bit words (1024 ports).
 *
 * Every access to guest memory is a sequentially consistent atomic, in
 * Xen's order: pending, then mask, then selector, then upcall_pending.  The
 * guest changes the same words concurrently; nothing here trusts what it
 * reads beyond the bit it tests.
 */
#include "internal.h"

struct layout_2l {
	size_t pending;   /* offset of evtchn_pending[] in shared_info */
	size_t mask;      /* offset of evtchn_mask[] */
	size_t sel;       /* offset of evtchn_pending_sel in vcpu_info */
	unsigned bits;    /* bits per word */
};

static const struct layout_2l layouts[2] = {
	[EVTCHN_LAYOUT_64] = {
		offsetof(struct shared_info_x86_64, evtchn_pending),
		offsetof(struct shared_info_x86_64, evtchn_mask),
		offsetof(struct vcpu_info_x86_64, evtchn_pending_sel), 64 },
	[EVTCHN_LAYOUT_32] = {
		offsetof(struct shared_info_x86_32, evtchn_pending),
		offsetof(struct shared_info_x86_32, evtchn_mask),
		offsetof(struct vcpu_info_x86_32, evtchn_pending_sel), 32 },
};

/* Atomic bit operations on a guest bitmap of @bits-bit words. */
static bool bit_test_and_set(unsigned char *base, uint32_t nr, unsigned bits)
{
	if (bits == 64) {
		uint64_t m = 1ull << (nr % 64);
		uint64_t *w = (uint64_t *)base + nr / 64;

		return __atomic_fetch_or(w, m, __ATOMIC_SEQ_CST) & m;
	} else {
		uint32_t m = 1u << (nr % 32);
		uint32_t *w = (uint32_t *)base + nr / 32;

		return __atomic_fetch_or(w, m, __ATOMIC_SEQ_CST) & m;
	}
}

static bool bit_test_and_clear(unsigned char *base, uint32_t nr,
			       unsigned bits)
{
	if (bits == 64) {
		uint64_t m = 1ull << (nr % 64);
		uint64_t *w = (uint64_t *)base + nr / 64;

		return __atomic_fetch_and(w, ~m, __ATOMIC_SEQ_CST) & m;
	} else {
		uint32_t m = 1u << (nr % 32);
		uint32_t *w = (uint32_t *)base + nr / 32;

		return __atomic_fetch_and(w, ~m, __ATOMIC_SEQ_CST) & m;
	}
}

static bool bit_test(unsigned char *base, uint32_t nr, unsigned bits)
{
	if (bits == 64)
		return __atomic_load_n((uint64_t *)base + nr / 64,
				       __ATOMIC_SEQ_CST) >> (nr % 64) & 1;
	return __atomic_load_n((uint32_t *)base + nr / 32, __ATOMIC_SEQ_CST) >>
		       (nr % 32) & 1;
}

/*
 * The selector bit @nr.  A vcpu_info registered under the 32-bit layout may
 * be only 4-byte aligned and then used under the 64-bit layout: set the bit
 * with a 32-bit atomic on the half that holds it (x86 is little-endian),
 * never with a 64-bit one that could split a cache line (a split lock:
 * SIGBUS where the kernel makes them fatal).
 */
static bool sel_test_and_set(unsigned char *sel, uint32_t nr)
{
	uint32_t m = 1u << (nr % 32);
	uint32_t *w = (uint32_t *)sel + nr / 32;

	return __atomic_fetch_or(w, m, __ATOMIC_SEQ_CST) & m;
}

static uint32_t max_ports_2l(const struct evtchn_domain *d)
{
	return domain_layout(d) == EVTCHN_LAYOUT_32 ? EVTCHN_2L_PORTS_32
						    : EVTCHN_2L_PORTS_64;
}

static unsigned char *vcpu_info_of(struct evtchn_vcpu *v)
{
	/* pairs with the release store in map_vcpu_info() */
	return atomic_load_explicit(&v->vcpu_info, memory_order_acquire);
}

/* Xen's evtchn_2l_set_pending(). */
static void set_pending_2l(struct evtchn_domain *d, struct evtchn_vcpu *v,
			   uint32_t port)
{
	const struct layout_2l *l = &layouts[domain_layout(d)];
	unsigned char *si = d->shared_info;

	/* A port allocated under a wider layout is beyond a narrower one's
	 * bitmaps (XSA-342): never write outside them. */
	if (port >= l->bits * l->bits)
		return;
	if (bit_test_and_set(si + l->pending, port, l->bits))
		return;
	if (!bit_test(si + l->mask, port, l->bits) &&
	    !sel_test_and_set(vcpu_info_of(v) + l->sel, port / l->bits))
		vcpu_mark_events_pending(d, v);
	/* masked or not, a vCPU polling this port wakes */
	check_pollers(d, port);
}

static void clear_pending_2l(struct evtchn_domain *d, uint32_t port)
{
	const struct layout_2l *l = &layouts[domain_layout(d)];

	if (port < l->bits * l->bits)
		bit_test_and_clear(d->shared_info + l->pending, port, l->bits);
}

/* Xen's evtchn_2l_unmask(): re-deliver only if the mask bit was set. */
static void unmask_2l(struct evtchn_domain *d, struct evtchn_vcpu *v,
		      uint32_t port)
{
	const struct layout_2l *l = &layouts[domain_layout(d)];
	unsigned char *si = d->shared_info;

	if (port >= l->bits * l->bits)
		return;
	if (bit_test_and_clear(si + l->mask, port, l->bits) &&
	    bit_test(si + l->pending, port, l->bits) &&
	    !sel_test_and_set(vcpu_info_of(v) + l->sel, port / l->bits))
		vcpu_mark_events_pending(d, v);
}

static bool is_pending_2l(struct evtchn_domain *d, uint32_t port)
{
	const struct layout_2l *l = &layouts[domain_layout(d)];

	return port < l->bits * l->bits &&
	       bit_test(d->shared_info + l->pending, port, l->bits);
}

static bool is_masked_2l(struct evtchn_domain *d, uint32_t port)
{
	const struct layout_2l *l = &layouts[domain_layout(d)];

	return port >= l->bits * l->bits ||
	       bit_test(d->shared_info + l->mask, port, l->bits);
}

const struct evtchn_abi_ops evtchn_abi_2l = {
	.name = "2-level",
	.set_pending = set_pending_2l,
	.clear_pending = clear_pending_2l,
	.unmask = unmask_2l,
	.is_pending = is_pending_2l,
	.is_masked = is_masked_2l,
	.max_ports = max_ports_2l,
};
