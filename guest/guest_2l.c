/* SPDX-License-Identifier: MIT */
/* Reference 2-level consumer (see evtchn_guest.h). */
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/foreign/x86_32.h>
#include <xen/foreign/x86_64.h>

#include "evtchn_guest.h"
#include "guest_internal.h"

static unsigned bits_per_word(const struct evtchn_guest *g)
{
	return g->compat ? 32 : 64;
}

uint32_t evtchn_guest_nr_ports(const struct evtchn_guest *g)
{
	return bits_per_word(g) * bits_per_word(g);
}

static unsigned char *pending_base(const struct evtchn_guest *g)
{
	return g->shared_info +
	       (g->compat ? offsetof(struct shared_info_x86_32, evtchn_pending)
			  : offsetof(struct shared_info_x86_64, evtchn_pending));
}

static unsigned char *mask_base(const struct evtchn_guest *g)
{
	return g->shared_info +
	       (g->compat ? offsetof(struct shared_info_x86_32, evtchn_mask)
			  : offsetof(struct shared_info_x86_64, evtchn_mask));
}

static unsigned char *sel_of(const struct evtchn_guest *g, uint32_t vcpu)
{
	return g->vcpu_info[vcpu] +
	       (g->compat ? offsetof(struct vcpu_info_x86_32, evtchn_pending_sel)
			  : offsetof(struct vcpu_info_x86_64,
				     evtchn_pending_sel));
}

/* Word @w of a bitmap, atomically. */
static uint64_t word_load(const struct evtchn_guest *g, unsigned char *base,
			  uint32_t w)
{
	if (g->compat)
		return __atomic_load_n((uint32_t *)base + w, __ATOMIC_SEQ_CST);
	return __atomic_load_n((uint64_t *)base + w, __ATOMIC_SEQ_CST);
}

static bool bit_op(const struct evtchn_guest *g, unsigned char *base,
		   uint32_t nr, int op) /* 0 test, 1 set, 2 clear */
{
	unsigned bits = bits_per_word(g);
	uint64_t m = 1ull << (nr % bits);

	if (g->compat) {
		uint32_t *w = (uint32_t *)base + nr / bits;

		if (op == 1)
			return __atomic_fetch_or(w, (uint32_t)m, __ATOMIC_SEQ_CST) & m;
		if (op == 2)
			return __atomic_fetch_and(w, ~(uint32_t)m, __ATOMIC_SEQ_CST) & m;
		return __atomic_load_n(w, __ATOMIC_SEQ_CST) & m;
	} else {
		uint64_t *w = (uint64_t *)base + nr / bits;

		if (op == 1)
			return __atomic_fetch_or(w, m, __ATOMIC_SEQ_CST) & m;
		if (op == 2)
			return __atomic_fetch_and(w, ~m, __ATOMIC_SEQ_CST) & m;
		return __atomic_load_n(w, __ATOMIC_SEQ_CST) & m;
	}
}

_Static_assert(sizeof(struct evtchn_guest_scan) == 64 &&
		       sizeof(*((struct evtchn_guest *)0)->fifo_head) == 64,
	       "a vCPU's scan position and FIFO heads fill a cache line");

/* @n zeroed entries of @size bytes, the array starting a cache line. */
static void *per_vcpu_alloc(uint32_t n, size_t size)
{
	size_t len = ((size_t)(n ? n : 1) * size + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, len);

	if (p)
		memset(p, 0, len);
	return p;
}

int evtchn_guest_init(struct evtchn_guest *g, void *shared_info, bool compat,
		      uint32_t nr_vcpus, evtchn_guest_op_cb op, void *ctx)
{
	memset(g, 0, sizeof(*g));
	g->shared_info = shared_info;
	g->compat = compat;
	g->nr_vcpus = nr_vcpus;
	g->op = op;
	g->ctx = ctx;
	g->vcpu_info = calloc(nr_vcpus, sizeof(*g->vcpu_info));
	g->scan = per_vcpu_alloc(nr_vcpus, sizeof(*g->scan));
	g->port_vcpu = calloc(64 * 64, sizeof(*g->port_vcpu));
	g->fifo_cb = calloc(nr_vcpus, sizeof(*g->fifo_cb));
	g->fifo_head = per_vcpu_alloc(nr_vcpus, sizeof(*g->fifo_head));
	if (!g->vcpu_info || !g->scan || !g->port_vcpu || !g->fifo_cb ||
	    !g->fifo_head) {
		evtchn_guest_fini(g);
		return -ENOMEM;
	}
	for (uint32_t v = 0; v < nr_vcpus && v < 32; v++)
		g->vcpu_info[v] = g->shared_info + v * 64;
	return 0;
}

int evtchn_guest_reset(struct evtchn_guest *g, void *shared_info,
		       bool compat)
{
	uint32_t n = g->nr_vcpus;
	size_t line = ((size_t)(n ? n : 1) * sizeof(*g->scan) + 63) &
		      ~(size_t)63;
	size_t heads = ((size_t)(n ? n : 1) * sizeof(*g->fifo_head) + 63) &
		       ~(size_t)63;

	if (!g->vcpu_info)
		return -EINVAL;
	g->shared_info = shared_info;
	g->compat = compat;
	g->fifo = false;
	memset(g->fifo_array, 0, sizeof(g->fifo_array));
	g->fifo_pages = 0;
	memset(g->vcpu_info, 0, n * sizeof(*g->vcpu_info));
	memset(g->scan, 0, line);
	memset(g->port_vcpu, 0, 64 * 64 * sizeof(*g->port_vcpu));
	memset(g->fifo_cb, 0, n * sizeof(*g->fifo_cb));
	memset(g->fifo_head, 0, heads);
	for (uint32_t v = 0; v < n && v < 32; v++)
		g->vcpu_info[v] = g->shared_info + v * 64;
	return 0;
}

void evtchn_guest_fini(struct evtchn_guest *g)
{
	free(g->vcpu_info);
	free(g->scan);
	free(g->port_vcpu);
	free(g->fifo_cb);
	free(g->fifo_head);
	memset(g, 0, sizeof(*g));
}

void evtchn_guest_set_vcpu_info(struct evtchn_guest *g, uint32_t vcpu,
				void *vcpu_info)
{
	g->vcpu_info[vcpu] = vcpu_info;
}

void evtchn_guest_bind_port(struct evtchn_guest *g, uint32_t port,
			    uint32_t vcpu)
{
	if (port < 64 * 64)
		__atomic_store_n(&g->port_vcpu[port], (uint16_t)vcpu,
				 __ATOMIC_RELAXED);
}

static bool port_is_mine(const struct evtchn_guest *g, uint32_t port,
			 uint32_t vcpu)
{
	return __atomic_load_n(&g->port_vcpu[port], __ATOMIC_RELAXED) == vcpu;
}

/* Take the events of word @w, starting at bit @from, for @vcpu. */
static unsigned scan_word(struct evtchn_guest *g, uint32_t vcpu, uint32_t w,
			  uint32_t from, evtchn_guest_event_cb cb,
			  void *opaque)
{
	unsigned bits = bits_per_word(g), n = 0;
	uint64_t active = word_load(g, pending_base(g), w) &
			  ~word_load(g, mask_base(g), w);

	/* Set bits from @from up, then from 0: each bit once. */
	while (active) {
		uint64_t hi = from ? active & (~0ull << from) : active;
		uint32_t bit = __builtin_ctzll(hi ? hi : active);
		uint32_t port = w * bits + bit;

		active &= ~(1ull << bit);
		if (!port_is_mine(g, port, vcpu))
			continue;
		/* Clear before handling, as Linux acks an edge event. */
		if (!bit_op(g, pending_base(g), port, 2))
			continue;
		g->scan[vcpu].word = w;
		g->scan[vcpu].bit = bit + 1;
		cb(vcpu, port, opaque);
		n++;
	}
	return n;
}

unsigned evtchn_guest_upcall(struct evtchn_guest *g, uint32_t vcpu,
			     evtchn_guest_event_cb cb, void *opaque)
{
	unsigned char *vi = g->vcpu_info[vcpu];
	unsigned bits = bits_per_word(g), n = 0;

	if (g->fifo)
		return guest_fifo_upcall(g, vcpu, cb, opaque);
	do {
		uint64_t sel;
		uint32_t start;

		__atomic_store_n(vi, 0, __ATOMIC_SEQ_CST); /* upcall_pending */
		if (g->compat)
			sel = __atomic_exchange_n((uint32_t *)sel_of(g, vcpu), 0,
						  __ATOMIC_SEQ_CST);
		else
			sel = __atomic_exchange_n((uint64_t *)sel_of(g, vcpu), 0,
						  __ATOMIC_SEQ_CST);
		/* Words from where the last scan stopped, wrapping: a busy
		 * port cannot starve later ones. */
		start = g->scan[vcpu].word % bits;
		for (unsigned i = 0; i < bits && sel; i++) {
			uint32_t w = (start + i) % bits;
			uint32_t from = (i == 0) ? g->scan[vcpu].bit % bits : 0;

			if (!(sel >> w & 1))
				continue;
			n += scan_word(g, vcpu, w, from, cb, opaque);
			sel &= ~(1ull << w);
		}
	} while (__atomic_load_n(vi, __ATOMIC_SEQ_CST));
	return n;
}

void evtchn_guest_mask(struct evtchn_guest *g, uint32_t port)
{
	if (g->fifo)
		return guest_fifo_mask(g, port);
	bit_op(g, mask_base(g), port, 1);
}

void evtchn_guest_unmask(struct evtchn_guest *g, uint32_t vcpu,
			 uint32_t port)
{
	struct evtchn_unmask unmask = { .port = port };

	if (g->fifo)
		return guest_fifo_unmask(g, vcpu, port);
	if (port_is_mine(g, port, vcpu)) {
		/* Clear the mask before testing pending; EVTCHNOP_unmask only
		 * re-delivers when the mask bit was set, so re-mask first. */
		bit_op(g, mask_base(g), port, 2);
		if (!bit_op(g, pending_base(g), port, 0))
			return;
		bit_op(g, mask_base(g), port, 1);
	}
	(void)g->op(g->ctx, vcpu, EVTCHNOP_unmask, &unmask, sizeof(unmask));
}

bool evtchn_guest_is_pending(const struct evtchn_guest *g, uint32_t port)
{
	if (g->fifo)
		return guest_fifo_test(g, port, 1u << EVTCHN_FIFO_PENDING, false);
	return bit_op(g, pending_base(g), port, 0);
}

bool evtchn_guest_is_masked(const struct evtchn_guest *g, uint32_t port)
{
	if (g->fifo)
		return guest_fifo_test(g, port, 1u << EVTCHN_FIFO_MASKED, true);
	return bit_op(g, mask_base(g), port, 0);
}

bool evtchn_guest_upcall_pending(const struct evtchn_guest *g, uint32_t vcpu)
{
	return __atomic_load_n(g->vcpu_info[vcpu], __ATOMIC_SEQ_CST);
}

uint64_t evtchn_guest_pending_sel(const struct evtchn_guest *g, uint32_t vcpu)
{
	if (g->compat)
		return __atomic_load_n((uint32_t *)sel_of(g, vcpu),
				       __ATOMIC_SEQ_CST);
	return __atomic_load_n((uint64_t *)sel_of(g, vcpu), __ATOMIC_SEQ_CST);
}
