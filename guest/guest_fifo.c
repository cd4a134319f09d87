/* SPDX-License-Identifier: MIT */
/* Reference FIFO consumer (see evtchn_guest.h), after Linux's
 * drivers/xen/events/events_fifo.c behaviour. */
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include "evtchn_guest.h"
#include "guest_internal.h"

#define WORDS_PER_PAGE 1024u
#define QUEUES_MASK ((1u << EVTCHN_GUEST_FIFO_QUEUES) - 1)
#define W_PENDING (1u << EVTCHN_FIFO_PENDING)
#define W_MASKED (1u << EVTCHN_FIFO_MASKED)
#define W_LINKED (1u << EVTCHN_FIFO_LINKED)
#define W_BUSY (1u << EVTCHN_FIFO_BUSY)

uint32_t *evtchn_guest_fifo_word(const struct evtchn_guest *g, uint32_t port)
{
	uint32_t page = port / WORDS_PER_PAGE;

	if (page >= __atomic_load_n(&g->fifo_pages, __ATOMIC_ACQUIRE))
		return NULL;
	return g->fifo_array[page] + port % WORDS_PER_PAGE;
}

long evtchn_guest_fifo_init_vcpu(struct evtchn_guest *g, uint32_t vcpu,
				 void *cb, uint64_t gfn, uint32_t offset)
{
	struct evtchn_init_control ic = { .control_gfn = gfn,
					  .offset = offset, .vcpu = vcpu };
	long rc;

	if (vcpu >= g->nr_vcpus)
		return -EINVAL;
	g->fifo_cb[vcpu] = cb;
	memset(g->fifo_head[vcpu], 0, sizeof(g->fifo_head[vcpu]));
	rc = g->op(g->ctx, vcpu, EVTCHNOP_init_control, &ic, sizeof(ic));
	if (rc == 0)
		g->fifo = true;
	else
		g->fifo_cb[vcpu] = NULL;
	return rc;
}

long evtchn_guest_fifo_expand(struct evtchn_guest *g, void *page,
			      uint64_t gfn)
{
	struct evtchn_expand_array ea = { .array_gfn = gfn };
	uint32_t n = g->fifo_pages;
	long rc;

	if (n >= EVTCHN_GUEST_FIFO_PAGES)
		return -ENOSPC;
	g->fifo_array[n] = page;
	/* The page is ours before the hypervisor links anything in it. */
	__atomic_store_n(&g->fifo_pages, n + 1, __ATOMIC_RELEASE);
	rc = g->op(g->ctx, 0, EVTCHNOP_expand_array, &ea, sizeof(ea));
	if (rc)
		__atomic_store_n(&g->fifo_pages, n, __ATOMIC_RELEASE);
	return rc;
}

void evtchn_guest_fifo_forget(struct evtchn_guest *g)
{
	g->fifo = false;
	__atomic_store_n(&g->fifo_pages, 0, __ATOMIC_RELEASE);
	memset(g->fifo_array, 0, sizeof(g->fifo_array));
	for (uint32_t v = 0; v < g->nr_vcpus; v++) {
		g->fifo_cb[v] = NULL;
		memset(g->fifo_head[v], 0, sizeof(g->fifo_head[v]));
	}
}

/* Linux's clear_linked(): take the word off the queue, return its link. */
static uint32_t clear_linked(uint32_t *word)
{
	uint32_t w = __atomic_load_n(word, __ATOMIC_SEQ_CST), new;

	do {
		new = w & ~(W_LINKED | EVTCHN_FIFO_LINK_MASK);
	} while (!__atomic_compare_exchange_n(word, &w, new, false,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	return w & EVTCHN_FIFO_LINK_MASK;
}

/* Linux's consume_one_event(). */
static unsigned consume_one(struct evtchn_guest *g, uint32_t vcpu,
			    unsigned prio, uint32_t *ready,
			    evtchn_guest_event_cb cb, void *opaque)
{
	struct evtchn_fifo_control_block *ctl = g->fifo_cb[vcpu];
	uint32_t head = g->fifo_head[vcpu][prio], port, *word;

	/* Reached the tail last time: the new head is in the control block. */
	if (head == 0)
		head = __atomic_load_n(&ctl->head[prio], __ATOMIC_SEQ_CST);
	port = head;
	word = evtchn_guest_fifo_word(g, port);
	if (!word) {
		/* a head the hypervisor never gave: stop this queue */
		*ready &= ~(1u << prio);
		g->fifo_head[vcpu][prio] = 0;
		return 0;
	}
	head = clear_linked(word);
	if (head == 0)
		*ready &= ~(1u << prio);
	g->fifo_head[vcpu][prio] = head;
	if ((__atomic_load_n(word, __ATOMIC_SEQ_CST) &
	     (W_PENDING | W_MASKED)) == W_PENDING) {
		/* ack: clear pending, then handle */
		__atomic_fetch_and(word, ~W_PENDING, __ATOMIC_SEQ_CST);
		cb(vcpu, port, opaque);
		return 1;
	}
	return 0;
}

unsigned guest_fifo_upcall(struct evtchn_guest *g, uint32_t vcpu,
			   evtchn_guest_event_cb cb, void *opaque)
{
	struct evtchn_fifo_control_block *ctl = g->fifo_cb[vcpu];
	unsigned char *vi = g->vcpu_info[vcpu];
	unsigned n = 0;

	if (!ctl)
		return 0;
	do {
		uint32_t ready;

		__atomic_store_n(vi, 0, __ATOMIC_SEQ_CST); /* upcall_pending */
		/* Only the 16 queues exist, whatever the word says. */
		ready = __atomic_exchange_n(&ctl->ready, 0, __ATOMIC_SEQ_CST) &
			QUEUES_MASK;
		while (ready) {
			unsigned prio = __builtin_ctz(ready);

			n += consume_one(g, vcpu, prio, &ready, cb, opaque);
			ready |= __atomic_exchange_n(&ctl->ready, 0,
						     __ATOMIC_SEQ_CST) &
				 QUEUES_MASK;
		}
	} while (__atomic_load_n(vi, __ATOMIC_SEQ_CST));
	return n;
}

void guest_fifo_mask(struct evtchn_guest *g, uint32_t port)
{
	uint32_t *word = evtchn_guest_fifo_word(g, port);

	if (word)
		__atomic_fetch_or(word, W_MASKED, __ATOMIC_SEQ_CST);
}

/* Linux's clear_masked_cond(): clear M unless the event is pending;
 * never while the hypervisor holds BUSY. */
static bool clear_masked_cond(uint32_t *word)
{
	uint32_t w = __atomic_load_n(word, __ATOMIC_SEQ_CST), old;

	do {
		if (!(w & W_MASKED))
			return true;
		if (w & W_PENDING)
			return false;
		old = w & ~W_BUSY;
		w = old;
	} while (!__atomic_compare_exchange_n(word, &w, old & ~W_MASKED, false,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	return true;
}

void guest_fifo_unmask(struct evtchn_guest *g, uint32_t vcpu, uint32_t port)
{
	struct evtchn_unmask unmask = { .port = port };
	uint32_t *word = evtchn_guest_fifo_word(g, port);

	if (word && clear_masked_cond(word))
		return;
	(void)g->op(g->ctx, vcpu, EVTCHNOP_unmask, &unmask, sizeof(unmask));
}

bool guest_fifo_test(const struct evtchn_guest *g, uint32_t port,
		     uint32_t bit, bool absent)
{
	uint32_t *word = evtchn_guest_fifo_word(g, port);

	return word ? (__atomic_load_n(word, __ATOMIC_SEQ_CST) & bit) != 0
		    : absent;
}
