/* SPDX-License-Identifier: MIT */
/*
 * The FIFO ABI (Xen 4.17 xen/common/event_fifo.c): init_control,
 * expand_array, set_priority, the queues in guest memory, and the switch
 * from and back to 2-level.
 */
#include <string.h>

#include "fixture.h"

#define F struct fx *f = *state
#define W_PENDING (1u << EVTCHN_FIFO_PENDING)
#define W_MASKED (1u << EVTCHN_FIFO_MASKED)
#define W_LINKED (1u << EVTCHN_FIFO_LINKED)

static uint32_t word(struct th_domain *td, uint32_t port)
{
	uint32_t *w = evtchn_guest_fifo_word(&td->g, port);

	assert_non_null(w);
	return __atomic_load_n(w, __ATOMIC_SEQ_CST);
}

static struct evtchn_fifo_control_block *cb(struct th_domain *td,
					    uint32_t vcpu)
{
	return td->g.fifo_cb[vcpu];
}

static long init_control(struct th_domain *td, uint32_t vcpu, uint64_t gfn,
			 uint32_t offset, struct evtchn_init_control *out)
{
	struct evtchn_init_control ic = { .control_gfn = gfn, .offset = offset,
					  .vcpu = vcpu, .link_bits = 0xaa };
	long rc;

	memset(ic._pad, 0x5c, sizeof(ic._pad));
	rc = th_op(td, 0, EVTCHNOP_init_control, &ic, sizeof(ic));
	if (out)
		*out = ic;
	return rc;
}

static long set_priority(struct th_domain *td, uint32_t port, uint32_t prio)
{
	struct evtchn_set_priority sp = { .port = port, .priority = prio };

	return th_op(td, 0, EVTCHNOP_set_priority, &sp, sizeof(sp));
}

static long expand(struct th_domain *td, uint64_t gfn)
{
	struct evtchn_expand_array ea = { .array_gfn = gfn };

	return th_op(td, 0, EVTCHNOP_expand_array, &ea, sizeof(ea));
}

static unsigned order[64], nr_order;

static void record(uint32_t vcpu, uint32_t port, void *opaque)
{
	(void)vcpu;
	(void)opaque;
	if (nr_order < 64)
		order[nr_order++] = port;
}

static unsigned consume(struct th_domain *td, uint32_t vcpu)
{
	nr_order = 0;
	return evtchn_guest_upcall(&td->g, vcpu, record, NULL);
}

/* B34: vCPU -ENOENT, offset past the page -EINVAL, misaligned -EINVAL,
 * not RAM -EINVAL, twice -EINVAL; link_bits = 17 copied out on success
 * only (Xen 4.17 copies the struct out only when rc == 0). */
static void init_control_rules(void **state)
{
	F;
	struct evtchn_init_control ic;

	assert_int_equal(init_control(&f->d1, 4, 60, 0, &ic), -XEN_ENOENT);
	assert_int_equal(ic.link_bits, 0xaa);
	assert_int_equal(init_control(&f->d1, 0, 60, 4025, NULL), -XEN_EINVAL);
	assert_int_equal(init_control(&f->d1, 0, 60, 4032, NULL), -XEN_EINVAL);
	assert_int_equal(init_control(&f->d1, 0, 60, 4, NULL), -XEN_EINVAL);
	assert_int_equal(init_control(&f->d1, 0, 9999, 0, NULL), -XEN_EINVAL);
	/* still 2-level */
	assert_int_equal(set_priority(&f->d1, 0, 3), -XEN_ENOSYS);
	assert_int_equal(init_control(&f->d1, 1, 60, 4024, &ic), 0);
	assert_int_equal(ic.link_bits, EVTCHN_FIFO_LINK_BITS);
	assert_int_equal(ic._pad[0], 0x5c);
	assert_int_equal(ic._pad[6], 0x5c);
	assert_int_equal(init_control(&f->d1, 1, 61, 0, NULL), -XEN_EINVAL);
	assert_int_equal(init_control(&f->d1, 0, 61, 0, NULL), 0);
	assert_int_equal(set_priority(&f->d1, th_bind_ipi(&f->d1, 0), 3), 0);
}

/* B35: expand_array before init_control -EOPNOTSUPP; a gfn that is not RAM
 * -EINVAL; 128 pages, then -ENOSPC. */
static void expand_array_rules(void **state)
{
	F;

	assert_int_equal(expand(&f->d1, 64), -XEN_EOPNOTSUPP);
	assert_int_equal(th_fifo_setup(&f->d1, 0), 0);
	assert_int_equal(expand(&f->d1, 5000), -XEN_EINVAL);
	assert_int_equal(th_fifo_expand(&f->d1, 128), 0);
	assert_int_equal(expand(&f->d1, 200), -XEN_ENOSPC);
}

/* B33: set_priority in FIFO mode. */
static void set_priority_rules(void **state)
{
	F;
	long p;

	assert_int_equal(th_fifo_setup(&f->d1, 1), 0);
	p = th_bind_ipi(&f->d1, 0);
	assert_int_equal(set_priority(&f->d1, 5000, 3), -XEN_EINVAL);
	assert_int_equal(set_priority(&f->d1, 9, 3), -XEN_EACCES);
	assert_int_equal(set_priority(&f->d1, 0, 3), -XEN_EACCES);
	assert_int_equal(set_priority(&f->d1, p, 16), -XEN_EINVAL);
	assert_int_equal(set_priority(&f->d1, p, 15), 0);
	assert_int_equal(set_priority(&f->d1, p, 0), 0);
}

/* Events are queued in order on the (vCPU, priority) queue: head in the
 * control block, LINK in each word, the ready bit, one upcall. */
static void events_link_in_order(void **state)
{
	F;
	long a, b, c;

	assert_int_equal(th_fifo_setup(&f->d1, 1), 0);
	a = th_bind_ipi(&f->d1, 1);
	b = th_bind_ipi(&f->d1, 1);
	c = th_bind_ipi(&f->d1, 1);
	assert_int_equal(th_send(&f->d1, 0, b), 0);
	assert_int_equal(th_send(&f->d1, 0, a), 0);
	assert_int_equal(th_send(&f->d1, 0, c), 0);
	assert_int_equal(cb(&f->d1, 1)->head[EVTCHN_FIFO_PRIORITY_DEFAULT], b);
	assert_int_equal(cb(&f->d1, 1)->ready,
			 1u << EVTCHN_FIFO_PRIORITY_DEFAULT);
	assert_int_equal(word(&f->d1, b), W_PENDING | W_LINKED | a);
	assert_int_equal(word(&f->d1, a), W_PENDING | W_LINKED | c);
	assert_int_equal(word(&f->d1, c), W_PENDING | W_LINKED);
	assert_int_equal(th_upcalls(&f->d1, 1), 1);
	assert_int_equal(th_upcalls(&f->d1, 0), 0);
	/* again while pending: nothing */
	assert_int_equal(th_send(&f->d1, 0, a), 0);
	assert_int_equal(word(&f->d1, a), W_PENDING | W_LINKED | c);
	assert_int_equal(consume(&f->d1, 1), 3);
	assert_int_equal(order[0], b);
	assert_int_equal(order[1], a);
	assert_int_equal(order[2], c);
	assert_int_equal(word(&f->d1, b), 0);
	assert_int_equal(cb(&f->d1, 1)->ready, 0);
}

/* Priorities: the consumer takes the highest (lowest number) first. */
static void priorities_respected(void **state)
{
	F;
	long p[4];
	static const uint32_t prio[4] = { 12, 7, 3, 0 };

	assert_int_equal(th_fifo_setup(&f->d1, 1), 0);
	for (int i = 0; i < 4; i++) {
		p[i] = th_bind_ipi(&f->d1, 2);
		assert_int_equal(set_priority(&f->d1, p[i], prio[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(th_send(&f->d1, 0, p[i]), 0);
	assert_int_equal(cb(&f->d1, 2)->ready,
			 (1u << 12) | (1u << 7) | (1u << 3) | 1u);
	assert_int_equal(consume(&f->d1, 2), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(order[i], p[3 - i]);
}

/* A masked event is pending only; EVTCHNOP_unmask links it. */
static void masked_event_linked_on_unmask(void **state)
{
	F;
	long p;

	assert_int_equal(th_fifo_setup(&f->d1, 1), 0);
	p = th_bind_ipi(&f->d1, 0);
	th_mask(&f->d1, p);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_int_equal(word(&f->d1, p), W_PENDING | W_MASKED);
	assert_int_equal(cb(&f->d1, 0)->ready, 0);
	assert_int_equal(th_upcalls(&f->d1, 0), 0);
	/* the guest's unmask sees P and asks the hypervisor */
	evtchn_guest_unmask(&f->d1.g, 0, p);
	assert_int_equal(word(&f->d1, p), W_PENDING | W_LINKED);
	assert_int_equal(th_upcalls(&f->d1, 0), 1);
	assert_int_equal(consume(&f->d1, 0), 1);
	assert_int_equal(order[0], p);
}

/* Events on ports whose event-array page is missing are kept and raised
 * when the page arrives. */
static void event_raised_when_page_arrives(void **state)
{
	F;
	long p;

	assert_int_equal(th_fifo_setup(&f->d1, 0), 0);
	p = th_bind_ipi(&f->d1, 3);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_int_equal(th_upcalls(&f->d1, 3), 0);
	assert_int_equal(th_fifo_expand(&f->d1, 1), 0);
	assert_int_equal(word(&f->d1, p), W_PENDING | W_LINKED);
	assert_int_equal(th_upcalls(&f->d1, 3), 1);
	assert_int_equal(consume(&f->d1, 3), 1);
}

/* B36: events pending under 2-level appear once FIFO's page is added. */
static void two_level_pending_carried_over(void **state)
{
	F;
	long p = th_bind_ipi(&f->d1, 1);

	th_mask(&f->d1, p); /* 2-level mask: the guest is busy switching */
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_true(th_pending(&f->d1, p));
	assert_int_equal(th_fifo_setup(&f->d1, 1), 0);
	assert_int_equal(word(&f->d1, p), W_PENDING | W_LINKED);
	assert_int_equal(consume(&f->d1, 1), 1);
	assert_int_equal(order[0], p);
}

/* Xen 4.17.7 (event_fifo.c): the event saved while the page was missing
 * (evtchn->pending) is never cleared -- evtchn_free() leaves it -- so a
 * port closed and bound again before the page arrives gets it on its new
 * binding when add_page_to_event_array() re-raises it. */
static void saved_event_survives_close_and_rebind(void **state)
{
	F;
	long p;

	assert_int_equal(th_fifo_setup(&f->d1, 0), 0);
	p = th_bind_ipi(&f->d1, 0);
	assert_int_equal(p, 1);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_int_equal(th_close(&f->d1, p), 0);
	assert_int_equal(th_bind_ipi(&f->d1, 0), 1);
	assert_int_equal(th_upcalls(&f->d1, 0), 0);
	assert_int_equal(th_fifo_expand(&f->d1, 1), 0);
	assert_int_equal(word(&f->d1, 1), 0xa0000000u); /* P | LINKED */
	assert_int_equal(cb(&f->d1, 0)->head[EVTCHN_FIFO_PRIORITY_DEFAULT], 1);
	assert_int_equal(cb(&f->d1, 0)->ready,
			 1u << EVTCHN_FIFO_PRIORITY_DEFAULT);
	assert_int_equal(th_upcalls(&f->d1, 0), 1);
}

/* The same with a 2-level pending bit carried over by init_control
 * (setup_ports() sets the flag). */
static void carried_over_event_survives_close_and_rebind(void **state)
{
	F;
	long p = th_bind_ipi(&f->d1, 0);

	th_mask(&f->d1, p);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_int_equal(th_fifo_setup(&f->d1, 0), 0);
	assert_int_equal(th_close(&f->d1, p), 0);
	assert_int_equal(th_bind_ipi(&f->d1, 0), p);
	assert_int_equal(th_fifo_expand(&f->d1, 1), 0);
	assert_int_equal(word(&f->d1, p), W_PENDING | W_LINKED);
	assert_int_equal(consume(&f->d1, 0), 1);
	assert_int_equal(order[0], p);
}

/* And across EVTCHNOP_reset: evtchn_reset() and evtchn_fifo_destroy()
 * leave the flag, so the next FIFO session's expand_array raises the event
 * again on whatever is bound to the port then. */
static void saved_event_raised_again_in_next_fifo_session(void **state)
{
	F;
	struct evtchn_reset r = { .dom = DOMID_SELF };
	long p;

	assert_int_equal(th_fifo_setup(&f->d1, 0), 0);
	p = th_bind_ipi(&f->d1, 0);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_int_equal(th_fifo_expand(&f->d1, 1), 0);
	assert_int_equal(consume(&f->d1, 0), 1);
	assert_int_equal(th_op(&f->d1, 0, EVTCHNOP_reset, &r, sizeof(r)), 0);
	/* The guest starts FIFO again on clean pages. */
	memset(f->d1.mem + TH_FIFO_CB_GFN * EVTCHN_PAGE_SIZE, 0,
	       4 * EVTCHN_PAGE_SIZE);
	memset(f->d1.mem + TH_FIFO_ARRAY_GFN * EVTCHN_PAGE_SIZE, 0,
	       EVTCHN_PAGE_SIZE);
	f->d1.g.fifo = false;
	f->d1.g.fifo_pages = 0;
	assert_int_equal(th_fifo_setup(&f->d1, 0), 0);
	assert_int_equal(th_bind_ipi(&f->d1, 0), p);
	assert_int_equal(th_upcalls(&f->d1, 0), 1);
	assert_int_equal(th_fifo_expand(&f->d1, 1), 0);
	assert_int_equal(word(&f->d1, p), W_PENDING | W_LINKED);
	assert_int_equal(th_upcalls(&f->d1, 0), 2);
}

/* B37: a port still LINKED after close is not handed out again until the
 * guest unlinks it. */
static void linked_port_not_reused(void **state)
{
	F;
	long a, b, c;

	assert_int_equal(th_fifo_setup(&f->d1, 1), 0);
	a = th_bind_ipi(&f->d1, 0);
	b = th_bind_ipi(&f->d1, 0);
	assert_int_equal(th_send(&f->d1, 0, a), 0);
	assert_int_equal(th_close(&f->d1, a), 0);
	/* close cleared P but the word is still on the queue */
	assert_int_equal(word(&f->d1, a), W_LINKED);
	c = th_bind_ipi(&f->d1, 0);
	assert_true(c != a);
	assert_int_equal(c, b + 1);
	/* the guest drains the queue: nothing pending to handle */
	assert_int_equal(consume(&f->d1, 0), 0);
	assert_int_equal(word(&f->d1, a), 0);
	assert_int_equal(th_bind_ipi(&f->d1, 0), a);
}

/* The lowest free port is handed out even after later allocations moved
 * on past a port that was still LINKED: once the guest unlinks it, it is
 * the next one again (the search keeps such ports apart instead of
 * starting from them each time). */
static void linked_port_found_after_hint_moved(void **state)
{
	F;
	long a;

	assert_int_equal(th_fifo_setup(&f->d1, 2), 0);
	a = th_bind_ipi(&f->d1, 0);
	assert_int_equal(a, 1);
	assert_int_equal(th_send(&f->d1, 0, a), 0);
	assert_int_equal(th_close(&f->d1, a), 0);
	for (long i = 2; i < 1500; i++)
		assert_int_equal(th_bind_ipi(&f->d1, 1), i);
	assert_int_equal(th_close(&f->d1, 700), 0);
	assert_int_equal(th_bind_ipi(&f->d1, 1), 700);
	/* the guest unlinks port 1: lowest free again */
	assert_int_equal(consume(&f->d1, 0), 0);
	assert_int_equal(th_bind_ipi(&f->d1, 1), 1);
	assert_int_equal(th_bind_ipi(&f->d1, 1), 1500);
}

/* bind_vcpu: the next link goes to the new vCPU's queue. */
static void bind_vcpu_moves_queue(void **state)
{
	F;
	long p = th_alloc_unbound(&f->d1, DOMID_SELF, DOMID_SELF);
	long l;

	assert_int_equal(th_fifo_setup(&f->d1, 1), 0);
	l = th_bind_interdomain(&f->d1, DOMID_SELF, p);
	assert_int_equal(consume(&f->d1, 0), 1); /* the bind's event on l */
	assert_int_equal(th_send(&f->d1, 0, l), 0);
	assert_int_equal(cb(&f->d1, 0)->head[7], p);
	assert_int_equal(th_bind_vcpu(&f->d1, p, 2), 0);
	assert_int_equal(consume(&f->d1, 0), 1);
	assert_int_equal(th_send(&f->d1, 0, l), 0);
	assert_int_equal(cb(&f->d1, 2)->head[7], p);
	assert_int_equal(th_upcalls(&f->d1, 2), 1);
	assert_int_equal(consume(&f->d1, 2), 1);
	/* a priority change applies to the next link */
	assert_int_equal(set_priority(&f->d1, p, 1), 0);
	assert_int_equal(th_send(&f->d1, 0, l), 0);
	assert_int_equal(cb(&f->d1, 2)->head[1], p);
}

/* B31: reset returns the domain to 2-level. */
static void reset_returns_to_two_level(void **state)
{
	F;
	struct evtchn_reset r = { .dom = DOMID_SELF };
	long p;

	assert_int_equal(th_fifo_setup(&f->d1, 1), 0);
	p = th_bind_ipi(&f->d1, 0);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_int_equal(th_op(&f->d1, 0, EVTCHNOP_reset, &r, sizeof(r)), 0);
	assert_int_equal(set_priority(&f->d1, 0, 3), -XEN_ENOSYS);
	assert_int_equal(expand(&f->d1, 70), -XEN_EOPNOTSUPP);
	/* the closed port's event word lost P (it was cleared before the
	 * switch) */
	assert_int_equal(word(&f->d1, p) & W_PENDING, 0);
	f->d1.g.fifo = false;
	/* 2-level again: port 1 back, 2-level delivery */
	assert_int_equal(th_bind_ipi(&f->d1, 0), 1);
	assert_int_equal(th_send(&f->d1, 0, 1), 0);
	assert_true(th_pending(&f->d1, 1));
}

/* 131,072 ports: the FIFO maximum, then -ENOSPC; the last one works. */
static void scale_131072_ports(void **state)
{
	F;

	assert_int_equal(th_fifo_setup(&f->d1, 128), 0);
	for (long i = 1; i < EVTCHN_FIFO_NR_CHANNELS; i++)
		assert_int_equal(th_bind_ipi(&f->d1, i % 4), i);
	assert_int_equal(th_bind_ipi(&f->d1, 0), -XEN_ENOSPC);
	assert_int_equal(th_send(&f->d1, 0, EVTCHN_FIFO_NR_CHANNELS - 1), 0);
	assert_int_equal(consume(&f->d1, 3), 1);
	assert_int_equal(order[0], EVTCHN_FIFO_NR_CHANNELS - 1);
}

/* A hostile guest scribbling over its event words and control blocks
 * loses its own events, nothing else: no crash, other domains intact. */
static void hostile_guest_scribbles(void **state)
{
	F;
	unsigned seed = 1;
	long p[8], q;

	assert_int_equal(th_fifo_setup(&f->d1, 2), 0);
	for (int i = 0; i < 8; i++)
		p[i] = th_bind_ipi(&f->d1, i % 4);
	q = th_bind_ipi(&f->d2, 1);
	for (int round = 0; round < 2000; round++) {
		uint32_t *w = evtchn_guest_fifo_word(&f->d1.g,
						     rand_r(&seed) % 2048);
		uint32_t *c = (uint32_t *)cb(&f->d1, rand_r(&seed) % 4);

		__atomic_store_n(w, (uint32_t)rand_r(&seed) << 1 ^ rand_r(&seed),
				 __ATOMIC_SEQ_CST);
		__atomic_store_n(&c[rand_r(&seed) % 18], (uint32_t)rand_r(&seed),
				 __ATOMIC_SEQ_CST);
		assert_int_equal(th_send(&f->d1, 0, p[round % 8]), 0);
		assert_int_equal(th_unmask(&f->d1, p[(round + 3) % 8]), 0);
		(void)consume(&f->d1, round % 4);
	}
	/* domain 2 is untouched and still works */
	assert_int_equal(th_send(&f->d2, 0, q), 0);
	assert_true(th_pending(&f->d2, q));
	assert_int_equal(th_upcalls(&f->d2, 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(init_control_rules),
		FX_TEST(expand_array_rules),
		FX_TEST(set_priority_rules),
		FX_TEST(events_link_in_order),
		FX_TEST(priorities_respected),
		FX_TEST(masked_event_linked_on_unmask),
		FX_TEST(event_raised_when_page_arrives),
		FX_TEST(two_level_pending_carried_over),
		FX_TEST(saved_event_survives_close_and_rebind),
		FX_TEST(carried_over_event_survives_close_and_rebind),
		FX_TEST(saved_event_raised_again_in_next_fifo_session),
		FX_TEST(linked_port_not_reused),
		FX_TEST(linked_port_found_after_hint_moved),
		FX_TEST(bind_vcpu_moves_queue),
		FX_TEST(reset_returns_to_two_level),
		FX_TEST(scale_131072_ports),
		FX_TEST(hostile_guest_scribbles),
	};

	return cmocka_run_group_tests_name("fifo", tests, NULL, NULL);
}
