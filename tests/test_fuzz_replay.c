/* SPDX-License-Identifier: MIT */
/*
 * The fuzz entry without libFuzzer: a few thousand pseudo-random inputs
 * from a fixed seed (EVTCHN_FUZZ_ITERS overrides the count), then
 * hand-made inputs that reach specific paths, 2-level, FIFO and PIRQs.
 * evtchn_fuzz_one() aborts on a broken invariant; the tests here check the
 * paths were reached.  EVTCHN_FUZZ_TRACE=1 lists every EVTCHNOP, PHYSDEVOP,
 * HVMOP, MSI and GSI checked; EVTCHN_FUZZ_SEEDS=dir writes the hand-made inputs there (seeds for
 * ./build/tests/fuzz-hypercall).
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fuzz_core.h"

/* ------------------------------------------------------------------ */
/* Building inputs */

struct in {
	uint8_t b[1 << 16];
	size_t n;
};

static void u8(struct in *in, uint8_t v)
{
	assert_true(in->n < sizeof(in->b));
	in->b[in->n++] = v;
}

static void u16(struct in *in, uint16_t v)
{
	u8(in, v & 0xff);
	u8(in, v >> 8);
}

static void u32(struct in *in, uint32_t v)
{
	u16(in, v & 0xffff);
	u16(in, v >> 16);
}

static void u64(struct in *in, uint64_t v)
{
	u32(in, (uint32_t)v);
	u32(in, (uint32_t)(v >> 32));
}

static struct in *in_new(uint8_t flags, uint8_t max0, uint8_t max1,
			 uint8_t max2)
{
	struct in *in = calloc(1, sizeof(*in));

	assert_non_null(in);
	u8(in, flags);
	u8(in, max0);
	u8(in, max1);
	u8(in, max2);
	return in;
}

/* Run @in; with EVTCHN_FUZZ_SEEDS=dir also write it there, a seed for the
 * libFuzzer target. */
static void in_run(struct in *in)
{
	const char *dir = getenv("EVTCHN_FUZZ_SEEDS");
	static unsigned seq;

	if (dir && *dir) {
		char path[4096];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/replay-%02u", dir, seq++);
		fp = fopen(path, "wb");
		assert_non_null(fp);
		assert_int_equal(fwrite(in->b, 1, in->n, fp), in->n);
		assert_int_equal(fclose(fp), 0);
	}
	assert_int_equal(evtchn_fuzz_one(in->b, in->n), 0);
	free(in);
}

/* ADDR decoder encodings (fuzz_core.h) */
static void addr_at(struct in *in, uint16_t a)
{
	u8(in, 0);
	u16(in, a);
}

static void addr_end_minus(struct in *in, uint8_t k) /* 65536 - k */
{
	u8(in, 192);
	u8(in, k);
}

static void addr_page_cross(struct in *in, uint8_t page, uint8_t k)
{
	u8(in, 216);
	u8(in, page - 1); /* page = b % 15 + 1 */
	u8(in, k - 1);    /* page * 4096 - (b % 23 + 1) */
}

static void addr_u64(struct in *in, uint64_t a)
{
	u8(in, 240);
	u64(in, a);
}

static void addr_wrap(struct in *in, uint8_t k) /* 2^64 - 1 - k */
{
	u8(in, 248);
	u8(in, k);
}

#define DOMID_SELF_VALUE 0x7FF0

/* DOMID decoder: b % 10 < 9 indexes 0 1 2 SELF SELF 1 2 0 3 */
enum { D0 = 0, D1 = 1, D2 = 2, DSELF = 3, DUNKNOWN = 8 };

/* EVTCHNOP @cmd from @dom's vCPU @vcpu with the argument at @a; the
 * caller appends the plausible fields. */
static void evtchn(struct in *in, uint8_t dom, uint8_t vcpu, uint8_t cmd,
		   uint16_t a)
{
	u8(in, FZ_OP_EVTCHN);
	u8(in, dom);
	u8(in, vcpu);
	u8(in, cmd);
	addr_at(in, a);
	u8(in, 0); /* plausible fill */
}

static void send(struct in *in, uint8_t dom, uint8_t port)
{
	evtchn(in, dom, 0, 4, 0x1800);
	u8(in, port);
}

static void bind_ipi(struct in *in, uint8_t dom, uint8_t tvcpu_byte)
{
	evtchn(in, dom, 0, 7, 0x3000);
	u8(in, tvcpu_byte);
}

static void close_port(struct in *in, uint8_t dom, uint8_t port)
{
	evtchn(in, dom, 0, 3, 0x3100);
	u8(in, port);
}

static void reset(struct in *in, uint8_t dom, uint8_t cmd, uint8_t domid)
{
	evtchn(in, dom, 0, cmd, 0x3200);
	u8(in, domid);
}

#define VIRQ_TIMER_VALUE 0

static void bind_virq(struct in *in, uint8_t dom, uint8_t virq, uint8_t tvcpu)
{
	evtchn(in, dom, 0, 1, 0x1400);
	u8(in, virq);
	u8(in, tvcpu);
	u8(in, 0);
}

/* A connect: alloc_unbound in A for B, bind_interdomain from B. */
static void connect_op(struct in *in, int A, int B, bool via0, bool self)
{
	u8(in, FZ_OP_CONNECT);
	u8(in, (uint8_t)(A + 3 * B + 9 * via0 + 18 * self));
	addr_at(in, 0x1000);
	addr_at(in, 0x1100);
}

static void op2(struct in *in, uint8_t op, uint8_t a, uint8_t b)
{
	u8(in, op);
	u8(in, a);
	u8(in, b);
}

static void check(struct in *in)
{
	u8(in, FZ_OP_CHECK);
}

static const struct evtchn_fuzz_stats *st(void)
{
	return evtchn_fuzz_stats();
}

/* PORT decoder: 0..7 as themselves, 8..70 as b % 71, else [u32]. */
static void port(struct in *in, uint32_t p)
{
	if (p < 8) {
		u8(in, (uint8_t)p);
	} else if (p <= 70) {
		u8(in, (uint8_t)(100 + (p + 42) % 71));
	} else {
		u8(in, 211);
		u32(in, p);
	}
}

/* GFN decoder: b < 224 is b % 16; 228: gfn 16 (not RAM). */
#define GFN_NOT_RAM 228
/* CBOFF decoder: b < 56 is b * 72; specials from 200. */
enum { OFF_4024 = 200, OFF_4025, OFF_4032, OFF_4, OFF_4096 };
/* priority decoder: b < 200 is b % 16; 200: 16, 202: 0xFFFFFFFF */
enum { PRIO_16 = 200, PRIO_U32_MAX = 202 };

static void send_port(struct in *in, uint8_t dom, uint32_t p)
{
	evtchn(in, dom, 0, 4, 0x1800);
	port(in, p);
}

static void unmask_port(struct in *in, uint8_t dom, uint32_t p)
{
	evtchn(in, dom, 0, 9, 0x1800);
	port(in, p);
}

static void close_p(struct in *in, uint8_t dom, uint32_t p)
{
	evtchn(in, dom, 0, 3, 0x3100);
	port(in, p);
}

/* EVTCHNOP_set_priority through the EVTCHN op (prio: decoder byte). */
static void set_prio(struct in *in, uint8_t dom, uint32_t p, uint8_t prio)
{
	evtchn(in, dom, 0, 13, 0x2800);
	port(in, p);
	u8(in, prio);
}

/* EVTCHNOP_init_control through the EVTCHN op. */
static void init_control(struct in *in, uint8_t dom, uint8_t tvcpu,
			 uint8_t gfn, uint8_t off)
{
	evtchn(in, dom, 0, 11, 0x2900);
	u8(in, gfn);
	u8(in, off);
	u8(in, tvcpu);
	u8(in, 0xaa); /* link_bits in: 17 comes back on success only */
}

/* EVTCHNOP_expand_array through the EVTCHN op. */
static void expand(struct in *in, uint8_t dom, uint8_t gfn)
{
	evtchn(in, dom, 0, 12, 0x2a00);
	u8(in, gfn);
}

/* FZ_OP_FIFO setup: init_control for the vCPUs v with bit v % 8 of @vmask
 * (control blocks in frame @cbgfn), then @npages pages from frame @page. */
static void fifo_setup(struct in *in, uint8_t dom, uint8_t vmask,
		       uint8_t cbgfn, uint8_t npages, uint8_t page,
		       bool consumer)
{
	u8(in, FZ_OP_FIFO);
	u8(in, dom);
	u8(in, consumer ? 1 : 0);
	u8(in, vmask);
	u8(in, cbgfn);
	u8(in, npages);
	u8(in, page);
}

/* FZ_OP_FIFO 3: expand_array @n times (1..8, or 128.. from k >= 200). */
static void fifo_expand_k(struct in *in, uint8_t dom, uint8_t k,
			  uint8_t gfn)
{
	u8(in, FZ_OP_FIFO);
	u8(in, dom);
	u8(in, 3);
	u8(in, k);
	u8(in, gfn);
}

/* FZ_OP_FIFO 6: one expand_array, by the consumer when @consumer. */
static void fifo_expand1(struct in *in, uint8_t dom, uint8_t gfn,
			 bool consumer)
{
	u8(in, FZ_OP_FIFO);
	u8(in, dom);
	u8(in, 6);
	u8(in, gfn);
	u8(in, consumer);
}

/* FZ_OP_FIFO 255: bind IPIs up to port 4096 + k * 64, or all (k 255). */
static void fifo_fill(struct in *in, uint8_t dom, uint8_t k)
{
	u8(in, FZ_OP_FIFO);
	u8(in, dom);
	u8(in, 255);
	u8(in, k);
}

enum { W_SET_P, W_SET_M, W_SET_L, W_SET_B, W_CLR_P, W_CLR_M, W_CLR_L,
       W_CLR_B, W_LINK_TO, W_RAW };

/* FZ_OP_SCRIBBLE_FIFO 0: the guest changes @p's event word; W_LINK_TO
 * and W_RAW take the value (a port / u32) next. */
static void word_op(struct in *in, uint8_t dom, uint32_t p, uint8_t op)
{
	u8(in, FZ_OP_SCRIBBLE_FIFO);
	u8(in, dom);
	u8(in, 0);
	port(in, p);
	u8(in, op);
}

/* FZ_OP_SCRIBBLE_FIFO 1: control block word @field (0 ready, 1 _rsvd,
 * 2 + q head[q]) of vCPU @tvcpu := @v. */
static void cb_word(struct in *in, uint8_t dom, uint8_t tvcpu, uint8_t field,
		    uint32_t v)
{
	u8(in, FZ_OP_SCRIBBLE_FIFO);
	u8(in, dom);
	u8(in, 1);
	u8(in, tvcpu);
	u8(in, field);
	u32(in, v);
}

/* FZ_OP_SCRIBBLE_FIFO 2: every word of a page: 0 mask, 1 unmask, 2 unlink,
 * 3 zero. */
static void page_op(struct in *in, uint8_t dom, uint8_t page, uint8_t act)
{
	u8(in, FZ_OP_SCRIBBLE_FIFO);
	u8(in, dom);
	u8(in, 2);
	u8(in, page);
	u8(in, act);
}

static void upcall(struct in *in, uint8_t dom, uint8_t vcpu)
{
	op2(in, FZ_OP_GUEST_UPCALL, dom, vcpu);
}

/* ------------------------------------------------------------------ */
/* Pseudo-random inputs */

static uint64_t rng_state;

static uint64_t rng(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void random_inputs(void **state)
{
	const char *env = getenv("EVTCHN_FUZZ_ITERS");
	unsigned long iters = env ? strtoul(env, NULL, 0) : 3000;
	uint8_t *buf = malloc(2048);
	unsigned long ops0 = st()->ops;

	(void)state;
	assert_non_null(buf);
	rng_state = 0x65767463686e2121ull; /* fixed: the same inputs each run */
	assert_int_equal(evtchn_fuzz_one(NULL, 0), 0);
	assert_int_equal(evtchn_fuzz_one(buf, 0), 0);
	for (unsigned long i = 0; i < iters; i++) {
		size_t size = rng() % 2049;

		for (size_t j = 0; j < size; j++)
			buf[j] = (uint8_t)rng();
		/* A table check after every operation in one input of 16. */
		if (size && i % 16)
			buf[0] &= (uint8_t)~FZ_HDR_CHECK_ALWAYS;
		assert_int_equal(evtchn_fuzz_one(buf, size), 0);
	}
	free(buf);
	print_message("fuzz replay: %lu inputs, %lu ops, %lu hypercalls "
		      "(%lu ok, %lu -EFAULT), %lu table checks; reached: "
		      "%lu unbound, %lu interdomain, %lu loopback, %lu virq, "
		      "%lu ipi, %lu pirq, %lu close, %lu reset, %lu vcpu_info "
		      "(%lu above 32), %lu layout switches, %lu deliveries, "
		      "%lu upcalls, %lu guest events, %lu re-created\n",
		      st()->inputs, st()->ops, st()->hypercalls, st()->ok,
		      st()->efault, st()->checks, st()->unbound,
		      st()->interdomain, st()->loopback, st()->virq,
		      st()->ipi, st()->pirq, st()->closes, st()->resets,
		      st()->registered, st()->high_vcpu_registered,
		      st()->layout_switch, st()->sends_delivered,
		      st()->upcalls, st()->guest_events, st()->recreated);
	print_message("fuzz replay FIFO: %lu switches, %lu pages (%lu "
		      "-ENOSPC), %lu resets to 2-level, %lu set_priority, "
		      "%lu linked, %lu saved without a page, %lu raised when "
		      "the page came, %lu dropped without a control block, "
		      "%lu upcalls, %lu LINKED ports skipped, %lu ports "
		      "above 4095, %lu guest events\n",
		      st()->fifo_switches, st()->fifo_pages, st()->fifo_enospc,
		      st()->fifo_resets, st()->set_priority_ok,
		      st()->fifo_linked, st()->fifo_saved, st()->fifo_raised,
		      st()->fifo_no_cb, st()->fifo_upcalls,
		      st()->fifo_busy_skips, st()->fifo_ports_high,
		      st()->fifo_guest_events);
	print_message("fuzz replay PIRQs: %lu PHYSDEVOPs, %lu GSIs mapped "
		      "(%lu refused, %lu exhausted), %lu unmapped, %lu "
		      "get_free_pirq (%lu -ENOSPC), %lu status queries, %lu "
		      "EOIs (%lu raised again), MSIs: %lu delivered, %lu "
		      "dropped, %lu mapped, %lu -EBUSY, %lu -ERANGE, %lu "
		      "-EINVAL, %lu ordinary; GSIs: %lu routed, %lu edges "
		      "delivered, %lu lost; %lu vector callbacks, %lu upcall "
		      "vectors (%lu raised a pending upcall); %lu answers from "
		      "empty entries of refused maps\n",
		      st()->physdev_ops, st()->pirq_maps,
		      st()->pirq_map_refused, st()->pirq_map_enospc,
		      st()->pirq_unmaps, st()->pirq_free,
		      st()->pirq_free_enospc, st()->pirq_status_ok,
		      st()->pirq_eoi_ok, st()->pirq_eoi_raised,
		      st()->msi_delivered, st()->msi_dropped, st()->msi_mapped,
		      st()->msi_ebusy, st()->msi_erange, st()->msi_einval,
		      st()->msi_vector, st()->gsi_routed, st()->gsi_edges,
		      st()->gsi_lost, st()->callback_vectors,
		      st()->upcall_vectors, st()->upcall_vector_raised,
		      st()->pirq_entry_diff);
	if (iters >= 1000) {
		/* Random bytes reach beyond argument checking. */
		assert_true(st()->ops - ops0 > iters);
		assert_true(st()->unbound > 0);
		assert_true(st()->ipi > 0);
		assert_true(st()->virq > 0);
		assert_true(st()->pirq > 0);
		assert_true(st()->closes > 0);
		assert_true(st()->registered > 0);
		assert_true(st()->layout_switch > 0);
		assert_true(st()->efault > 0);
		assert_true(st()->upcalls > 0);
		assert_true(st()->recreated > 0);
		/* ... and FIFO: switches, pages up to -ENOSPC, events linked,
		 * saved and raised, dropped without a control block, upcalls,
		 * priorities, LINKED ports skipped, resets back to 2-level,
		 * the consumer taking FIFO events. */
		assert_true(st()->fifo_switches > 0);
		assert_true(st()->fifo_pages > 0);
		assert_true(st()->fifo_enospc > 0);
		assert_true(st()->fifo_linked > 0);
		assert_true(st()->fifo_saved > 0);
		assert_true(st()->fifo_raised > 0);
		assert_true(st()->fifo_no_cb > 0);
		assert_true(st()->fifo_upcalls > 0);
		assert_true(st()->set_priority_ok > 0);
		assert_true(st()->fifo_busy_skips > 0);
		assert_true(st()->fifo_resets > 0);
		assert_true(st()->fifo_guest_events > 0);
		/* ... and PIRQs: callbacks that allow map_pirq, GSIs mapped,
		 * refused and exhausted, unmapped, allocation to -ENOSPC,
		 * status, EOIs raising again, MSIs delivered, dropped, mapped
		 * on first use and refused in each of Xen's ways, GSI edges
		 * delivered and lost, pending upcalls raised by a new upcall
		 * vector. */
		assert_true(st()->physdev_ops > 0);
		assert_true(st()->callback_vectors > 0);
		assert_true(st()->upcall_vectors > 0);
		assert_true(st()->upcall_vector_raised > 0);
		assert_true(st()->pirq_maps > 0);
		assert_true(st()->pirq_map_refused > 0);
		assert_true(st()->pirq_map_enospc > 0);
		assert_true(st()->pirq_unmaps > 0);
		assert_true(st()->pirq_free > 0);
		assert_true(st()->pirq_free_enospc > 0);
		assert_true(st()->pirq_status_ok > 0);
		assert_true(st()->pirq_eoi_raised > 0);
		assert_true(st()->msi_delivered > 0);
		assert_true(st()->msi_dropped > 0);
		assert_true(st()->msi_mapped > 0);
		assert_true(st()->msi_ebusy > 0);
		assert_true(st()->msi_erange > 0);
		assert_true(st()->msi_einval > 0);
		assert_true(st()->msi_vector > 0);
		assert_true(st()->gsi_routed > 0);
		assert_true(st()->gsi_edges > 0);
		assert_true(st()->gsi_lost > 0);
	}
}

/*
 * Domains kept from input to input give every input what fresh domains
 * give it: the same counts of everything reached, input by input, for
 * pseudo-random inputs each run after another one and again with fresh
 * domains (evtchn_fuzz_set_fresh()).
 */
static void recycled_same_as_fresh(void **state)
{
	/* every count but the last two (recycled, reused) */
	enum { N = offsetof(struct evtchn_fuzz_stats, recycled) /
		   sizeof(unsigned long) };
	const char *env = getenv("EVTCHN_FUZZ_ITERS");
	unsigned long iters = env ? strtoul(env, NULL, 0) / 4 : 750;
	uint8_t *buf = malloc(2048);

	(void)state;
	assert_non_null(buf);
	rng_state = 0x72656379636c6521ull;
	for (unsigned long i = 0; i < iters; i++) {
		size_t size;
		unsigned long d[2][N];

		/* Another input first, which leaves the domains behind. */
		for (int k = 0; k < 2; k++) {
			size = rng() % 2049;
			for (size_t j = 0; j < size; j++)
				buf[j] = (uint8_t)rng();
			if (size && i % 16)
				buf[0] &= (uint8_t)~FZ_HDR_CHECK_ALWAYS;
			if (k == 0)
				assert_int_equal(evtchn_fuzz_one(buf, size), 0);
		}
		for (int fresh = 0; fresh < 2; fresh++) {
			struct evtchn_fuzz_stats a = *st(), b;

			evtchn_fuzz_set_fresh(fresh);
			assert_int_equal(evtchn_fuzz_one(buf, size), 0);
			b = *evtchn_fuzz_stats_ops();
			for (unsigned k = 0; k < N; k++)
				d[fresh][k] = ((unsigned long *)&b)[k] -
					      ((unsigned long *)&a)[k];
		}
		evtchn_fuzz_set_fresh(0);
		assert_memory_equal(d[0], d[1], sizeof(d[0]));
	}
	free(buf);
	/* Domains were recycled, and kept for inputs that wanted them. */
	assert_true(st()->recycled > 0);
	assert_true(st()->reused > 0);
}

/* The host and domains kept between inputs go, checked, and leave
 * nothing behind (LeakSanitizer in the ASan run). */
static void fini(void **state)
{
	(void)state;
	evtchn_fuzz_fini();
	assert_int_equal(evtchn_fuzz_one(NULL, 0), 0);
	evtchn_fuzz_fini();
}

/* ------------------------------------------------------------------ */
/* Hand-made inputs */

/* A loopback channel, an event on it, then EVTCHNOP_reset of the domain
 * by itself, then by domain 0 while it is paused (and refusals). */
static void loopback_bind_then_reset(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long lb = st()->loopback, rs = st()->resets;

	(void)state;
	connect_op(in, 1, 1, false, true); /* ports 1 (unbound) and 2 */
	send(in, 1, 2);
	send(in, 1, 1);
	op2(in, FZ_OP_GUEST_UPCALL, 1, 0);
	bind_ipi(in, 1, 1);
	bind_virq(in, 1, VIRQ_TIMER_VALUE, 2);
	connect_op(in, 1, 2, false, false);
	check(in);
	reset(in, 1, 10, DSELF);
	check(in);
	connect_op(in, 1, 1, true, false); /* by domain 0 */
	connect_op(in, 2, 1, false, false);
	reset(in, 0, 10, D1);  /* not paused: -EINVAL */
	reset(in, 2, 10, D1);  /* unprivileged: -EPERM */
	op2(in, FZ_OP_PAUSE, 1, 1);
	reset(in, 2, 10, D1);  /* still -EPERM */
	reset(in, 0, 14, D1);  /* reset_cont: -EBUSY */
	reset(in, 0, 10, D1);
	reset(in, 0, 10, DUNKNOWN); /* -ESRCH */
	check(in);
	connect_op(in, 1, 1, false, false); /* the ports are free again */
	reset(in, 0, 10, D0);  /* domain 0 resets itself */
	/* VIRQs are free again after reset and close: bound once more. */
	bind_virq(in, 1, VIRQ_TIMER_VALUE, 2);
	bind_virq(in, 1, 2, 0);  /* global VIRQ_CONSOLE: port 4 */
	bind_virq(in, 1, 2, 0);  /* -EEXIST */
	evtchn(in, 1, 0, 8, 0x1500); /* bind_vcpu(4, 1) */
	u8(in, 4);
	u8(in, 1);
	op2(in, FZ_OP_VIRQ, 1, 0);
	u8(in, 2);
	close_port(in, 1, 4);
	bind_virq(in, 1, 2, 0);
	op2(in, FZ_OP_VIRQ, 1, 0);
	u8(in, 2);
	check(in);
	in_run(in);
	assert_true(st()->loopback >= lb + 3);
	assert_true(st()->resets >= rs + 3);
}

/* An interdomain channel, then both ends switch layout (at run time) and
 * back, with events each way and the consumer taking them. */
static void interdomain_then_layout_switch(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long id = st()->interdomain, ls = st()->layout_switch;

	(void)state;
	connect_op(in, 1, 2, false, false); /* 1:1 <-> 2:1 */
	connect_op(in, 2, 1, true, false);  /* 2:2 <-> 1:2 by domain 0 */
	connect_op(in, 0, 2, false, false); /* 0:1 <-> 2:3 */
	send(in, 2, 1);
	op2(in, FZ_OP_LAYOUT, 1, 130); /* 32-bit */
	send(in, 2, 1);
	send(in, 1, 1);
	op2(in, FZ_OP_GUEST_UPCALL, 1, 0);
	op2(in, FZ_OP_LAYOUT, 2, 130);
	send(in, 1, 2);
	send(in, 0, 1);
	op2(in, FZ_OP_GUEST_UPCALL, 2, 0);
	op2(in, FZ_OP_LAYOUT, 2, 250); /* invalid: -EINVAL, unchanged */
	check(in);
	op2(in, FZ_OP_LAYOUT, 1, 0); /* back to 64-bit */
	send(in, 2, 1);
	op2(in, FZ_OP_GUEST_MASK, 1, 1);
	send(in, 2, 1);
	u8(in, FZ_OP_GUEST_UNMASK);
	u8(in, 1);
	u8(in, 0);
	u8(in, 1);
	op2(in, FZ_OP_GUEST_UPCALL, 1, 0);
	close_port(in, 1, 1);
	send(in, 2, 1); /* peer unbound now: dropped */
	check(in);
	in_run(in);
	assert_true(st()->interdomain >= id + 3);
	assert_true(st()->layout_switch >= ls + 3);
}

/* VCPUOP_register_vcpu_info at the last valid offset of the last page,
 * for a vCPU beyond the 32 legacy slots, events to it, and the offsets
 * and refusals around it. */
static void register_vcpu_info_last_offset(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long hi = st()->high_vcpu_registered;

	(void)state;
	/* REGISTER: DOM VCPU vid gfn offset rsvd ADDR tail */
#define REGISTER(dom, vcpu, vid, gfn, off)                \
	do {                                               \
		u8(in, FZ_OP_REGISTER);                    \
		u8(in, dom);                               \
		u8(in, vcpu);                              \
		u8(in, vid);                               \
		u8(in, gfn);                               \
		u8(in, off);                               \
		u8(in, 0);                                 \
		addr_at(in, 0x2000);                       \
		u8(in, 0);                                 \
	} while (0)
	bind_ipi(in, 2, 201);           /* vCPU 39, dummy vcpu_info: port 1 */
	send(in, 2, 1);
	REGISTER(2, 39, 39, 15, 100);   /* gfn 15, offset 4032 */
	REGISTER(2, 39, 39, 15, 100);   /* again: -EINVAL */
	REGISTER(2, 38, 38, 15, 128);   /* offset 4036: -ENXIO */
	REGISTER(2, 38, 38, 15, 249);   /* offset 4095: -ENXIO */
	REGISTER(2, 0, 38, 221, 0);     /* gfn 17, beyond memory: -EINVAL */
	send(in, 2, 1);
	op2(in, FZ_OP_GUEST_UPCALL, 2, 39);
	send(in, 2, 1);
	op2(in, FZ_OP_GUEST_UPCALL, 2, 39);
	/* Another, online vCPU cannot be registered by vCPU 0. */
	u8(in, FZ_OP_ONLINE);
	u8(in, 2);
	u8(in, 200); /* TVCPU: 30 + 200 % 12 = vCPU 38 */
	u8(in, 1);
	REGISTER(2, 0, 38, 10, 0);      /* -EINVAL */
	REGISTER(2, 38, 38, 10, 0);     /* by itself: ok */
	u8(in, FZ_OP_ONLINE);
	u8(in, 2);
	u8(in, 202); /* vCPU 40: -ENOENT */
	u8(in, 1);
	REGISTER(1, 0, 1, 3, 0);        /* offline vCPU 1 from vCPU 0: ok */
	REGISTER(2, 0, 33, 14, 100);
	check(in);
	in_run(in);
	assert_true(st()->high_vcpu_registered >= hi + 2);

	/* 32-bit layout: a 4-byte aligned offset, then the layout changes
	 * to 64-bit with the vcpu_info still there. */
	in = in_new(0x02, 0, 0, 0);
	REGISTER(1, 2, 2, 14, 160);     /* offset 34 * 64 + 4 */
	bind_ipi(in, 1, 2);
	send(in, 1, 1);
	op2(in, FZ_OP_LAYOUT, 1, 0);
	send(in, 1, 1);
	op2(in, FZ_OP_GUEST_UPCALL, 1, 2);
	send(in, 1, 1);
	REGISTER(1, 1, 1, 13, 160);     /* 64-bit now: -ENXIO */
	check(in);
	in_run(in);
#undef REGISTER
}

/* Arguments at and across the end of guest memory, across pages, at
 * wrapping and huge addresses: -EFAULT exactly when they do not fit. */
static void args_straddling_end(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long ef = st()->efault;

	(void)state;
	for (uint8_t cmd = 0; cmd < 15; cmd++) {
		for (int form = 0; form < 28; form++) {
			u8(in, FZ_OP_EVTCHN);
			u8(in, 1);
			u8(in, 0);
			u8(in, cmd);
			if (form < 25)
				addr_end_minus(in, (uint8_t)(form + 1));
			else if (form == 25)
				addr_page_cross(in, (uint8_t)(1 + cmd % 15),
						(uint8_t)(1 + cmd % 20));
			else if (form == 26)
				addr_wrap(in, cmd);
			else
				addr_u64(in, 0x10000ull << cmd);
			u8(in, 255); /* 24 raw bytes: DOMID_SELF first */
			u16(in, DOMID_SELF_VALUE);
			for (int i = 2; i < 24; i++)
				u8(in, 0);
		}
	}
	/* register_vcpu_info's 16 bytes across the end */
	for (uint8_t k = 1; k <= 17; k++) {
		u8(in, FZ_OP_REGISTER);
		u8(in, 2);
		u8(in, 0);
		u8(in, 35);
		u8(in, 3);
		u8(in, 0);
		u8(in, 0);
		addr_end_minus(in, k);
		u8(in, 0);
	}
	check(in);
	in_run(in);
	assert_true(st()->efault >= ef + 15 * 3);
}

/* More than 1024 ports under the 64-bit layout, then the 32-bit layout:
 * ports beyond its bitmaps, -ENOSPC below 1024, and back. */
static void many_ports_then_layout_switch(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);

	(void)state;
	for (int i = 0; i < 1030; i++)
		bind_ipi(in, 1, (uint8_t)(i % 3));
	op2(in, FZ_OP_LAYOUT, 1, 130);
	/* port 1025 via PORT's [u32] form */
	evtchn(in, 1, 0, 4, 0x1800);
	u8(in, 211);
	u32(in, 1025);
	op2(in, FZ_OP_RAISE, 1, 211);
	u32(in, 1025);
	evtchn(in, 1, 0, 9, 0x1800); /* unmask 1025 */
	u8(in, 211);
	u32(in, 1025);
	bind_ipi(in, 1, 0); /* -ENOSPC: 1..1023 taken */
	close_port(in, 1, 5);
	bind_ipi(in, 1, 0); /* 5 */
	evtchn(in, 1, 0, 3, 0x1800); /* close 1025 */
	u8(in, 211);
	u32(in, 1025);
	check(in);
	op2(in, FZ_OP_LAYOUT, 1, 0);
	bind_ipi(in, 1, 0); /* 1025 */
	bind_ipi(in, 1, 0); /* 1031 */
	in_run(in);
}

/* Domains destroyed with channels to them (peers become unbound), used
 * while absent, re-created; small max_evtchn_port values. */
static void destroy_with_peers_and_small_limits(void **state)
{
	struct in *in = in_new(0x10, 0, 128 + 0, 128 + 7); /* max 1, 64 */
	unsigned long rc0 = st()->recreated;

	(void)state;
	connect_op(in, 1, 2, false, false);
	connect_op(in, 0, 2, false, false);
	connect_op(in, 2, 2, false, true);
	bind_ipi(in, 1, 0); /* -ENOSPC: domain 1 has port 1 only */
	for (int i = 0; i < 66; i++)
		bind_ipi(in, 2, 0);
	op2(in, FZ_OP_RECREATE, 1, 0); /* domain 2 destroyed and re-created */
	u8(in, 128 + 12);              /* max 1023 */
	send(in, 1, 1);
	connect_op(in, 2, 1, false, false);
	op2(in, FZ_OP_RECREATE, 2, 0); /* domain 1 destroyed, left absent */
	u8(in, 0);
	connect_op(in, 2, 1, false, false); /* skipped: domain 1 is absent */
	evtchn(in, 2, 0, 6, 0x1000);     /* alloc_unbound{1, 2}: -ESRCH */
	u8(in, D1);
	u8(in, D2);
	send(in, 2, 1);
	op2(in, FZ_OP_RECREATE, 0, 1); /* domain 1 back, 32-bit */
	u8(in, 0);
	connect_op(in, 1, 2, false, false);
	for (uint8_t k = 0; k < 7; k++) {
		u8(in, FZ_OP_BADCREATE);
		u8(in, k);
	}
	check(in);
	in_run(in);
	assert_true(st()->recreated >= rc0 + 2);
}

/* Hostile guests: scribbled shared_info and vcpu_info, raw hypercalls. */
static void hostile_scribbles(void **state)
{
	struct in *in = in_new(FZ_HDR_CHECK_ALWAYS, 0, 0, 0);

	(void)state;
	connect_op(in, 1, 1, false, true);
	bind_ipi(in, 1, 1);
	/* every pending and mask bit of the first words set */
	u8(in, FZ_OP_SCRIBBLE_SI);
	u8(in, 1);
	u8(in, 0);
	u16(in, 2048);
	u8(in, 31);
	for (int i = 0; i < 32; i++)
		u8(in, 0xff);
	send(in, 1, 3);
	u8(in, FZ_OP_SCRIBBLE_SI); /* vcpu_info of vCPU 1: all ones */
	u8(in, 1);
	u8(in, 3);
	u8(in, 1);
	u8(in, 8);
	u8(in, 0xff);
	op2(in, FZ_OP_GUEST_UPCALL, 1, 1);
	evtchn(in, 1, 0, 9, 0x1800); /* unmask 3 */
	u8(in, 3);
	op2(in, FZ_OP_GUEST_UPCALL, 1, 1);
	/* raw: event_channel_op with a 64-bit cmd, vcpu_op other than 10 */
	u8(in, FZ_OP_RAW);
	u8(in, 1);
	u8(in, 0);
	u8(in, 0);   /* nr 32 */
	u8(in, 255); /* cmd [u64] */
	u64(in, 0x100000003ull);
	addr_at(in, 0x500);
	u8(in, 0);
	u8(in, 0);
	u8(in, 0);
	u8(in, 0);
	u8(in, 4); /* 4 bytes: port 2 */
	u32(in, 2);
	u8(in, FZ_OP_RAW);
	u8(in, 2);
	u8(in, 255); /* invalid calling vCPU */
	u8(in, 100); /* nr 24 */
	u8(in, 3);
	u8(in, 0);
	addr_at(in, 0x500);
	for (int i = 0; i < 4; i++)
		u8(in, 0);
	in_run(in);
}


/* ------------------------------------------------------------------ */
/* FIFO */

/* Events pending (some masked) under 2-level when the guest switches to
 * FIFO: saved, raised when the event-array page arrives, consumed. */
static void fifo_switch_with_two_level_events_pending(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long sw = st()->fifo_switches, ra = st()->fifo_raised;
	unsigned long ge = st()->fifo_guest_events;

	(void)state;
	bind_ipi(in, 1, 1);                 /* 1 at vCPU 1 */
	bind_ipi(in, 1, 1);                 /* 2 at vCPU 1 */
	bind_ipi(in, 1, 2);                 /* 3 at vCPU 2 */
	connect_op(in, 1, 1, false, true);  /* 4 unbound, 5: pending, vCPU 0 */
	send(in, 1, 1);
	send(in, 1, 2);
	op2(in, FZ_OP_GUEST_MASK, 1, 3);    /* the 2-level mask */
	send(in, 1, 3);
	check(in);
	fifo_setup(in, 1, 0x07, 4, 0, 0, false); /* every vCPU, no page */
	send(in, 1, 1);                     /* no page: saved again */
	send(in, 1, 4);                     /* 4 -> 5: saved */
	check(in);
	fifo_expand1(in, 1, 8, true);       /* 1, 2, 3, 5 raised */
	upcall(in, 1, 1);
	upcall(in, 1, 2);
	upcall(in, 1, 0);
	send(in, 1, 2);
	send(in, 1, 4);
	upcall(in, 1, 1);
	upcall(in, 1, 0);
	check(in);
	in_run(in);
	assert_true(st()->fifo_switches >= sw + 1);
	assert_true(st()->fifo_raised >= ra + 4);
	assert_true(st()->fifo_guest_events >= ge + 6);
}

/* Events raised before any page (at a vCPU with and one without a control
 * block), then pages: raised where there is a control block, dropped
 * where there is none; pages until -ENOSPC, the same frame 128 times. */
static void fifo_expand_after_events_and_enospc(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long ra = st()->fifo_raised, nc = st()->fifo_no_cb;
	unsigned long ns = st()->fifo_enospc, pg = st()->fifo_pages;

	(void)state;
	/* domain 2: control blocks for vCPUs 0, 8, 16, 24 and 32 only */
	fifo_setup(in, 2, 0x01, 5, 0, 0, false);
	bind_ipi(in, 2, 0);                 /* 1 at vCPU 0 */
	bind_ipi(in, 2, 1);                 /* 2 at vCPU 1: no control block */
	bind_virq(in, 2, VIRQ_TIMER_VALUE, 0); /* 3 */
	bind_ipi(in, 2, 208);               /* 4 at vCPU 30 + 208 % 12 = 34 */
	send(in, 2, 1);
	op2(in, FZ_OP_RAISE, 2, 2);
	op2(in, FZ_OP_VIRQ, 2, 0);          /* VIRQ_TIMER on vCPU 0 */
	u8(in, VIRQ_TIMER_VALUE);
	send(in, 2, 4);
	check(in);
	fifo_expand_k(in, 2, 3, 9);         /* 4 pages, all frame 9 */
	upcall(in, 2, 0);
	send(in, 2, 2);                     /* dropped: no control block */
	send(in, 2, 4);                     /* linked at vCPU 34 */
	upcall(in, 2, 34);
	fifo_expand_k(in, 2, 200, 9);       /* 124 more, then -ENOSPC */
	fifo_expand1(in, 2, 9, true);       /* the consumer's own -ENOSPC */
	expand(in, 2, 9);                   /* -ENOSPC */
	send(in, 2, 1);
	upcall(in, 2, 0);
	check(in);
	in_run(in);
	assert_true(st()->fifo_raised >= ra + 2);
	assert_true(st()->fifo_no_cb >= nc + 2);
	assert_true(st()->fifo_enospc >= ns + 4);
	assert_true(st()->fifo_pages >= pg + 128);
}

/* The reference consumer adds the 128th event-array page itself: 0 (the
 * model has counted the page by the time the call returns), then its own
 * -ENOSPC.  (Found by fuzz-hypercall: the harness took the count after
 * the call for the one before it.) */
static void fifo_consumer_takes_the_last_page(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long ns = st()->fifo_enospc, pg = st()->fifo_pages;

	(void)state;
	fifo_setup(in, 1, 0x07, 5, 0, 0, true); /* the consumer, vCPUs 0-2 */
	for (int i = 0; i < 15; i++)
		fifo_expand_k(in, 1, 7, 9);     /* 8 pages each */
	fifo_expand_k(in, 1, 6, 9);             /* 7: 127 pages */
	fifo_expand1(in, 1, 9, true);           /* the 128th, by the consumer */
	fifo_expand1(in, 1, 9, true);           /* the consumer's -ENOSPC */
	expand(in, 1, 9);                       /* Xen's */
	check(in);
	in_run(in);
	assert_true(st()->fifo_pages >= pg + 128);
	assert_true(st()->fifo_enospc >= ns + 1);
}

/* set_priority: -ENOSYS in 2-level, -EINVAL for an invalid port or a
 * priority above 15, -EACCES for a free or reserved port; a priority
 * applies from the next link and a port bound again in FIFO mode is back
 * at priority 7 (the model predicts which queue each event goes to). */
static void fifo_set_priority_rules(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long sp = st()->set_priority_ok;

	(void)state;
	bind_ipi(in, 1, 0);                 /* 1 */
	set_prio(in, 1, 1, 3);              /* 2-level: -ENOSYS */
	set_prio(in, 1, 5000, 3);           /* invalid: -EINVAL */
	fifo_setup(in, 1, 0x07, 4, 1, 8, true);
	set_prio(in, 1, 5000, 3);           /* -EINVAL */
	set_prio(in, 1, 0, 3);              /* reserved: -EACCES */
	set_prio(in, 1, 6, 3);              /* free: -EACCES */
	set_prio(in, 1, 1, PRIO_16);        /* -EINVAL */
	set_prio(in, 1, 1, PRIO_U32_MAX);   /* -EINVAL */
	set_prio(in, 1, 1, 15);
	send(in, 1, 1);                     /* queue 15 */
	upcall(in, 1, 0);
	close_port(in, 1, 1);
	bind_ipi(in, 1, 0);                 /* 1 again: priority 7 */
	send(in, 1, 1);                     /* queue 7 */
	set_prio(in, 1, 1, 0);
	send(in, 1, 1);                     /* still linked on queue 7 */
	upcall(in, 1, 0);
	send(in, 1, 1);                     /* queue 0 */
	upcall(in, 1, 0);
	/* an interdomain loopback: priority and vCPU both move */
	connect_op(in, 1, 1, false, true);  /* 2 unbound, 3 -> 2 */
	set_prio(in, 1, 2, 2);
	evtchn(in, 1, 0, 8, 0x1500);        /* bind_vcpu(2, vCPU 2) */
	u8(in, 2);
	u8(in, 2);
	send(in, 1, 3);                     /* 2 on vCPU 2's queue 2 */
	set_prio(in, 1, 2, 9);
	upcall(in, 1, 2);
	send(in, 1, 3);                     /* queue 9 */
	op2(in, FZ_OP_GUEST_MASK, 1, 2);
	send(in, 1, 3);
	u8(in, FZ_OP_GUEST_UNMASK);         /* from vCPU 1: EVTCHNOP_unmask */
	u8(in, 1);
	u8(in, 1);
	u8(in, 2);
	upcall(in, 1, 2);
	check(in);
	in_run(in);
	assert_true(st()->set_priority_ok >= sp + 4);
}

/* EVTCHNOP_reset of a FIFO domain, by itself and by domain 0: back to
 * 2-level (set_priority -ENOSYS, expand_array -EOPNOTSUPP), 2-level
 * delivery, then FIFO again. */
static void fifo_reset_back_to_two_level(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long rs = st()->fifo_resets, sw = st()->fifo_switches;

	(void)state;
	bind_ipi(in, 1, 0);                 /* 1 */
	bind_ipi(in, 1, 1);                 /* 2 */
	connect_op(in, 1, 2, false, false); /* 1:3 <-> 2:1 */
	fifo_setup(in, 1, 0x07, 4, 1, 8, true);
	send(in, 1, 1);
	send(in, 1, 2);
	send(in, 2, 1);                     /* to 1:3 */
	set_prio(in, 1, 2, 4);
	reset(in, 1, 10, DSELF);
	set_prio(in, 1, 1, 3);              /* -ENOSYS */
	expand(in, 1, 9);                   /* -EOPNOTSUPP */
	bind_ipi(in, 1, 0);                 /* 1: LINKED, but 2-level */
	send(in, 1, 1);
	upcall(in, 1, 0);
	check(in);
	/* FIFO again, with a 2-level event pending */
	send(in, 1, 1);
	fifo_setup(in, 1, 0x03, 6, 1, 10, false);
	upcall(in, 1, 0);
	send(in, 1, 1);
	connect_op(in, 2, 1, true, false);
	send(in, 2, 2);
	upcall(in, 1, 0);
	/* reset by domain 0 while paused */
	op2(in, FZ_OP_PAUSE, 1, 1);
	reset(in, 0, 10, D1);
	set_prio(in, 1, 1, 3);              /* -ENOSYS again */
	expand(in, 1, 9);                   /* -EOPNOTSUPP */
	check(in);
	in_run(in);
	assert_true(st()->fifo_resets >= rs + 2);
	assert_true(st()->fifo_switches >= sw + 2);
}

/* A port closed while its word is still LINKED is not handed out until the
 * guest unlinks it; a free port the guest marks LINKED is skipped too. */
static void fifo_port_left_linked_after_close(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long bs = st()->fifo_busy_skips;

	(void)state;
	fifo_setup(in, 1, 0x07, 4, 1, 8, false);
	bind_ipi(in, 1, 0);                 /* 1 */
	bind_ipi(in, 1, 0);                 /* 2 */
	send(in, 1, 1);
	close_port(in, 1, 1);               /* P cleared, still LINKED */
	bind_ipi(in, 1, 0);                 /* 3, not 1 */
	evtchn(in, 1, 0, 6, 0x1000);        /* alloc_unbound: 4 */
	u8(in, DSELF);
	u8(in, DSELF);
	upcall(in, 1, 0);                   /* unlinks 1: no event */
	bind_ipi(in, 1, 0);                 /* 1 */
	word_op(in, 1, 6, W_SET_L);         /* a free port, LINKED */
	bind_ipi(in, 1, 1);                 /* 5 */
	bind_ipi(in, 1, 1);                 /* 7 */
	close_port(in, 1, 5);
	word_op(in, 1, 5, W_SET_L);
	connect_op(in, 1, 1, false, true);  /* 8 and 9 */
	word_op(in, 1, 6, W_CLR_L);
	bind_ipi(in, 1, 2);                 /* 6 */
	check(in);
	in_run(in);
	assert_true(st()->fifo_busy_skips >= bs + 4);
}

/* init_control's rules: -ENOENT, offsets past the page or misaligned, a
 * frame that is not RAM (still 2-level), twice for a vCPU; link_bits 17
 * copied out on success only. */
static void fifo_init_control_rules(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long sw = st()->fifo_switches;

	(void)state;
	init_control(in, 1, 3, 4, 0);           /* vCPU 3: -ENOENT */
	init_control(in, 0, 1, 4, 0);           /* domain 0 has 1 vCPU */
	init_control(in, 1, 0, 4, OFF_4025);    /* -EINVAL */
	init_control(in, 1, 0, 4, OFF_4032);    /* -EINVAL */
	init_control(in, 1, 0, 4, OFF_4096);    /* -EINVAL */
	init_control(in, 1, 0, 4, OFF_4);       /* -EINVAL */
	init_control(in, 1, 0, GFN_NOT_RAM, 0); /* -EINVAL */
	set_prio(in, 1, 0, 3);                  /* still 2-level: -ENOSYS */
	expand(in, 1, 8);                       /* -EOPNOTSUPP */
	init_control(in, 1, 1, 4, OFF_4024);    /* ok: the last offset */
	init_control(in, 1, 1, 5, 0);           /* twice: -EINVAL */
	init_control(in, 1, 0, GFN_NOT_RAM, 0); /* -EINVAL */
	init_control(in, 1, 0, 4, 0);
	expand(in, 1, GFN_NOT_RAM);             /* -EINVAL */
	expand(in, 1, 8);
	bind_ipi(in, 1, 2);                     /* no control block: dropped */
	send(in, 1, 1);
	init_control(in, 1, 2, 4, 1);           /* vCPU 2 at 72 */
	send(in, 1, 1);
	upcall(in, 1, 2);
	/* the consumer's own init_control, refused, keeps its block */
	u8(in, FZ_OP_FIFO);
	u8(in, 1);
	u8(in, 7);                              /* every vCPU, one page */
	u8(in, 4);
	u8(in, 9);
	send(in, 1, 1);
	upcall(in, 1, 2);
	check(in);
	in_run(in);
	assert_true(st()->fifo_switches >= sw + 1);
}

/* FIFO beyond 2-level's 4096 ports, with max_evtchn_port 4096: port 4096
 * exists in FIFO only; -ENOSPC past it; back to 2-level and its limit. */
static void fifo_ports_beyond_two_level(void **state)
{
	struct in *in = in_new(0, 0, 128 + 15, 0); /* domain 1: max 4096 */
	unsigned long hi = st()->fifo_ports_high;

	(void)state;
	fifo_setup(in, 1, 0x07, 4, 0, 0, false);
	fifo_fill(in, 1, 0);                /* 1 .. 4096 */
	bind_ipi(in, 1, 0);                 /* -ENOSPC */
	send_port(in, 1, 4096);             /* saved: no page */
	fifo_expand_k(in, 1, 4, 9);         /* 5 pages: 4096 raised */
	send_port(in, 1, 4095);
	upcall(in, 1, 0);
	upcall(in, 1, 1);
	upcall(in, 1, 2);
	close_p(in, 1, 4000);
	bind_ipi(in, 1, 1);                 /* 4000 */
	check(in);
	reset(in, 1, 10, DSELF);
	fifo_fill(in, 1, 0);                /* 2-level: 1 .. 4095, -ENOSPC */
	check(in);
	in_run(in);
	assert_true(st()->fifo_ports_high >= hi + 1);
}

/* Every FIFO port: 131,071 bound, -ENOSPC, an event on the last one. */
static void fifo_131071_ports(void **state)
{
	struct in *in = in_new(0, 0, 0, 0);
	unsigned long hi = st()->fifo_ports_high;

	(void)state;
	fifo_setup(in, 2, 0xff, 4, 0, 0, false);
	fifo_fill(in, 2, 255);              /* until -ENOSPC */
	fifo_expand_k(in, 2, 200, 9);       /* 128 pages */
	send_port(in, 2, 131071);
	upcall(in, 2, 131070 % 40);
	close_p(in, 2, 131071);
	evtchn(in, 2, 0, 7, 0x3000);        /* bind_ipi: 131071 again */
	u8(in, 0);
	evtchn_fuzz_set_all_ports(1);
	in_run(in);
	evtchn_fuzz_set_all_ports(0);
	/* 4096 .. 131071, and 131071 again */
	assert_true(st()->fifo_ports_high >= hi + 126977);
}

/* A hostile guest scribbling its event words and control blocks (BUSY,
 * self links, links to anywhere, bogus heads and ready bits, masked
 * pages), with the table checked after every operation; domain 0 keeps
 * its control block and event array where the harness puts its own
 * arguments. */
static void fifo_hostile_scribbles(void **state)
{
	struct in *in = in_new(FZ_HDR_CHECK_ALWAYS, 0, 0, 0);
	unsigned long ln = st()->fifo_linked;

	(void)state;
	fifo_setup(in, 1, 0x07, 4, 2, 8, true);
	for (int i = 0; i < 6; i++)
		bind_ipi(in, 1, (uint8_t)(i % 3));  /* 1..6 */
	send(in, 1, 1);
	send(in, 1, 4);                     /* both on vCPU 0's queue 7 */
	word_op(in, 1, 4, W_SET_B);         /* the tail BUSY */
	send(in, 1, 2);
	send(in, 1, 5);                     /* link clears BUSY */
	word_op(in, 1, 2, W_SET_M);
	word_op(in, 1, 2, W_SET_B);
	u8(in, FZ_OP_GUEST_UNMASK);         /* BUSY|M: the consumer would spin */
	u8(in, 1);
	u8(in, 1);
	u8(in, 2);
	unmask_port(in, 1, 2);              /* EVTCHNOP_unmask: fine */
	word_op(in, 1, 1, W_LINK_TO);       /* 1 -> 3 */
	port(in, 3);
	word_op(in, 1, 3, W_SET_L);
	word_op(in, 1, 3, W_LINK_TO);       /* 3 -> 3 */
	port(in, 3);
	send(in, 1, 3);
	upcall(in, 1, 0);
	cb_word(in, 1, 0, 2 + 7, 1029);     /* head[7] of vCPU 0 */
	cb_word(in, 1, 0, 0, 0xFFFFFFFFu);  /* every ready bit */
	cb_word(in, 1, 1, 1, 0x12345678u);  /* _rsvd */
	send(in, 1, 1);
	upcall(in, 1, 0);
	upcall(in, 1, 1);
	page_op(in, 1, 0, 0);               /* mask everything */
	send(in, 1, 1);
	send(in, 1, 2);
	send(in, 1, 3);
	page_op(in, 1, 0, 1);               /* unmask, without the hypervisor */
	unmask_port(in, 1, 1);
	page_op(in, 1, 0, 2);               /* unlink all */
	send(in, 1, 6);
	word_op(in, 1, 6, W_RAW);
	u32(in, 0xFFFFFFFFu);
	send(in, 1, 6);
	close_port(in, 1, 6);
	bind_ipi(in, 1, 0);                 /* 6 is LINKED: 7 */
	page_op(in, 1, 1, 3);               /* zero the second page */
	u8(in, FZ_OP_SCRIBBLE_FIFO);        /* ack and unlink 6 */
	u8(in, 1);
	u8(in, 3);
	u8(in, 6);
	bind_ipi(in, 1, 0);                 /* 6 */
	send(in, 1, 6);
	upcall(in, 1, 0);
	/* domain 0: FIFO in the page of its status scratch (frame 15) */
	fifo_setup(in, 0, 0x01, 15, 1, 15, false);
	bind_ipi(in, 0, 0);
	bind_ipi(in, 0, 0);
	send(in, 0, 1);
	send(in, 0, 2);
	upcall(in, 0, 0);
	check(in);
	in_run(in);
	assert_true(st()->fifo_linked >= ln + 8);
}

/* ------------------------------------------------------------------ */
/* PIRQs */

/* FZ_OP_CALLBACK 0: HVM_PARAM_CALLBACK_IRQ of DOMID_SELF := vector @vec. */
static void callback_vector(struct in *in, uint8_t dom, uint8_t vec)
{
	u8(in, FZ_OP_CALLBACK);
	u8(in, dom);
	u8(in, 0);      /* vCPU 0 */
	u8(in, 0);      /* set_param */
	addr_at(in, 0x3400);
	u8(in, 0);      /* DOMID_SELF */
	u8(in, 0);      /* HVM_PARAM_CALLBACK_IRQ */
	u8(in, 0);      /* type 2: vector */
	u8(in, vec);
}

/* FZ_OP_CALLBACK 1: get_param of HVM_PARAM_CALLBACK_IRQ. */
static void callback_get(struct in *in, uint8_t dom)
{
	u8(in, FZ_OP_CALLBACK);
	u8(in, dom);
	u8(in, 0);
	u8(in, 1);
	addr_at(in, 0x3400);
	u8(in, 0);
	u8(in, 0);
	u8(in, 0x77);   /* what the guest left in value */
}

/* FZ_OP_CALLBACK 2: HVMOP_set_evtchn_upcall_vector (vCPU @tvcpu < 4). */
static void upcall_vector(struct in *in, uint8_t dom, uint8_t tvcpu,
			  uint8_t vec)
{
	u8(in, FZ_OP_CALLBACK);
	u8(in, dom);
	u8(in, 0);
	u8(in, 2);
	addr_at(in, 0x3400);
	u8(in, tvcpu);
	u8(in, vec);
}

/* FZ_OP_PHYSDEV from vCPU 0 with the argument at 0x3500. */
static void physdev_hdr(struct in *in, uint8_t dom, uint8_t sub)
{
	u8(in, FZ_OP_PHYSDEV);
	u8(in, dom);
	u8(in, 0);
	u8(in, sub);
	addr_at(in, 0x3500);
}

/* PIRQ, GSI, index decoders: [u32] */
static void v32(struct in *in, uint32_t v)
{
	u8(in, 255);
	u32(in, v);
}

/* A domid operand: DOMID_SELF (@d < 0) or domain @d. */
static void domsel(struct in *in, int d)
{
	if (d < 0) {
		u8(in, 0);
	} else {
		u8(in, 200);
		u8(in, (uint8_t)d);
	}
}

enum { T_GSI = 0, T_MSI = 170, T_MSI_SEG = 190, T_MULTI_MSI = 205 };

/* map_pirq(@d, type, @index, @pirq: -1 allocates), table_base @tb. */
static void map_x(struct in *in, uint8_t dom, int d, uint8_t type,
		  uint32_t index, int32_t pirq, uint64_t tb)
{
	physdev_hdr(in, dom, 0);
	domsel(in, d);
	u8(in, type);
	v32(in, index);
	if (pirq == -1) {
		u8(in, 0);
	} else {
		u8(in, 96);
		v32(in, (uint32_t)pirq);
	}
	u8(in, 1);      /* bus */
	u8(in, 8);      /* devfn */
	u8(in, 1);      /* entry_nr */
	if (tb) {
		u8(in, 200);
		u64(in, tb);
	} else {
		u8(in, 0);
	}
}

static void map_gsi(struct in *in, uint8_t dom, uint32_t gsi, int32_t pirq)
{
	map_x(in, dom, -1, T_GSI, gsi, pirq, 0);
}

static void unmap_pirq(struct in *in, uint8_t dom, int d, uint32_t pirq)
{
	physdev_hdr(in, dom, 2);
	domsel(in, d);
	v32(in, pirq);
}

static void eoi(struct in *in, uint8_t dom, uint32_t pirq)
{
	physdev_hdr(in, dom, 3);
	v32(in, pirq);
}

static void status_query(struct in *in, uint8_t dom, uint32_t pirq)
{
	physdev_hdr(in, dom, 4);
	v32(in, pirq);
	u8(in, 0x5a);
}

/* get_free_pirq @n times (MSI type, or GSI when @gsi). */
static void get_free(struct in *in, uint8_t dom, uint8_t n, bool gsi)
{
	physdev_hdr(in, dom, 6);
	u8(in, (uint8_t)(n - 1));
	u8(in, gsi ? 128 : 0);
	u8(in, 0xee);
}

/* Linux's MSI setup: get_free_pirq, bind_pirq, status, @n MSIs (1..4). */
static void linux_msi(struct in *in, uint8_t dom, uint8_t n)
{
	physdev_hdr(in, dom, 8);
	u8(in, (uint8_t)((n - 1) << 1));
}

static void bind_pirq(struct in *in, uint8_t dom, uint32_t pirq)
{
	evtchn(in, dom, 0, 2, 0x1600);
	port(in, pirq); /* PORT decoder */
	u8(in, 1);      /* BIND_PIRQ__WILL_SHARE: ignored */
}

/* FZ_OP_MSI: Linux's MSI address for @pirq, data 0. */
static void msi(struct in *in, uint8_t dom, uint32_t pirq)
{
	u8(in, FZ_OP_MSI);
	u8(in, dom);
	u8(in, 0);
	v32(in, pirq);
}

static void msi_raw(struct in *in, uint8_t dom, uint64_t addr, uint32_t data)
{
	u8(in, FZ_OP_MSI);
	u8(in, dom);
	u8(in, 200);
	u64(in, addr);
	u8(in, 200);
	u32(in, data);
}

enum { G_LOW = 0, G_HIGH = 1, G_PULSE = 2 };

static void gsi(struct in *in, uint8_t dom, uint32_t g, uint8_t how)
{
	u8(in, FZ_OP_GSI);
	u8(in, dom);
	v32(in, g);
	u8(in, how);
}

/* A GSI mapped and bound (2-level): level-triggered interrupts raised
 * again at EOI while high (PCI GSIs only), unmapping, conflicts answered 0,
 * exhaustion, foreign domains, the vector callback conditions, the 32-bit
 * struct, and an upcall vector set while an upcall is pending. */
static void pirq_gsi_lifecycle(void **state)
{
	struct in *in = in_new(0x04, 0, 0, 0); /* domain 2: 32-bit */
	unsigned long mp = st()->pirq_maps, rf = st()->pirq_map_refused;
	unsigned long ex = st()->pirq_map_enospc, um = st()->pirq_unmaps;
	unsigned long er = st()->pirq_eoi_raised, ge = st()->gsi_edges;
	unsigned long gl = st()->gsi_lost, uv = st()->upcall_vector_raised;
	unsigned long sq = st()->pirq_status_ok, df = st()->pirq_entry_diff;

	(void)state;
	map_gsi(in, 1, 16, -1);             /* no vector callback: -EINVAL */
	callback_get(in, 1);
	callback_vector(in, 1, 0xf3);
	callback_get(in, 1);
	map_gsi(in, 1, 48, -1);             /* -EINVAL: 48 GSIs */
	map_gsi(in, 1, 16, -1);             /* PIRQ 16 */
	bind_pirq(in, 1, 16);               /* port 1 */
	status_query(in, 1, 16);            /* needs_eoi */
	status_query(in, 1, 17);            /* not mapped: -EINVAL */
	gsi(in, 1, 16, G_HIGH);             /* the event, an upcall */
	eoi(in, 1, 16);                     /* still high: again */
	upcall(in, 1, 0);
	eoi(in, 1, 16);                     /* again, a new upcall */
	gsi(in, 1, 16, G_HIGH);             /* no edge: nothing */
	gsi(in, 1, 16, G_LOW);
	eoi(in, 1, 16);                     /* low: nothing */
	upcall(in, 1, 0);
	map_gsi(in, 1, 4, 4);               /* ISA GSI 4 as PIRQ 4 */
	bind_pirq(in, 1, 4);                /* port 2 */
	gsi(in, 1, 4, G_HIGH);
	eoi(in, 1, 4);                      /* ISA: edge, never again */
	upcall(in, 1, 0);
	map_gsi(in, 1, 17, 16);             /* PIRQ 16 has GSI 16: 0, nothing */
	map_gsi(in, 1, 16, 20);             /* GSI 16 has PIRQ 16: 0, nothing */
	map_gsi(in, 1, 16, 16);             /* the same again: 0 */
	map_gsi(in, 1, 16, -1);             /* PIRQ 17 taken, refused */
	eoi(in, 1, 17);                     /* Xen: 0 (an empty entry) */
	gsi(in, 1, 20, G_PULSE);            /* not mapped: 0 */
	unmap_pirq(in, 1, -1, 16);
	unmap_pirq(in, 1, -1, 16);          /* not mapped: 0 */
	unmap_pirq(in, 1, -1, 0x80000000u); /* out of range: 0 */
	gsi(in, 1, 16, G_PULSE);            /* the IOAPIC's again */
	map_gsi(in, 1, 20, 55);
	bind_pirq(in, 1, 55);               /* port 3 */
	gsi(in, 1, 20, G_HIGH);
	close_port(in, 1, 3);
	gsi(in, 1, 20, G_LOW);
	gsi(in, 1, 20, G_HIGH);             /* mapped, unbound: lost */
	unmap_pirq(in, 2, 1, 4);            /* unprivileged: -EPERM */
	unmap_pirq(in, 0, 1, 4);            /* unmapped, then -EINVAL */
	unmap_pirq(in, 0, DUNKNOWN, 4);     /* no domain 3: -ESRCH */
	unmap_pirq(in, 1, 1, 20);           /* itself by number: -EPERM */
	map_x(in, 0, 1, T_GSI, 18, -1, 0);  /* the control domain: -EINVAL */
	map_x(in, 1, 1, T_GSI, 18, -1, 0);  /* -EPERM */
	map_x(in, 1, -1, T_MSI, 0, -1, 0);  /* -EINVAL */
	map_x(in, 1, -1, T_MSI_SEG, 0, -1, 0); /* copied back as MSI */
	map_x(in, 1, -1, T_MULTI_MSI, 0, -1, 0x1000); /* nothing back */
	map_x(in, 1, -1, T_MULTI_MSI, 0, -1, 0);
	get_free(in, 1, 48, true);          /* GSIs, then the rest: -ENOSPC */
	map_gsi(in, 1, 21, -1);             /* -EINVAL, -28 in pirq */
	eoi(in, 1, 56);                     /* beyond: -EINVAL */
	/* domain 2 (32-bit, 36-byte struct): a vCPU 0 upcall vector is
	 * enough; set on vCPU 1 with an upcall pending, it raises one. */
	map_gsi(in, 2, 22, -1);             /* -EINVAL */
	upcall_vector(in, 2, 0, 0x05);      /* below 0x10: -EINVAL */
	upcall_vector(in, 2, 40, 0x40);     /* TVCPU 40 % 4 = 0: fine */
	upcall_vector(in, 2, 202, 0x40);    /* vCPU 40: -ENOENT */
	map_gsi(in, 2, 22, -1);             /* PIRQ 16 */
	map_x(in, 2, -1, T_MULTI_MSI, 0, -1, 0x1000); /* -EINVAL */
	bind_ipi(in, 2, 1);                 /* port 1 at vCPU 1 */
	send(in, 2, 1);                     /* upcall pending on vCPU 1 */
	upcall_vector(in, 2, 1, 0xf0);      /* raised at once */
	upcall_vector(in, 2, 2, 0xf0);      /* nothing pending */
	check(in);
	in_run(in);
	assert_true(st()->pirq_maps >= mp + 5);
	assert_true(st()->pirq_map_refused >= rf + 3);
	assert_true(st()->pirq_map_enospc >= ex + 1);
	assert_true(st()->pirq_unmaps >= um + 2);
	assert_true(st()->pirq_eoi_raised >= er + 2);
	assert_true(st()->gsi_edges >= ge + 3);
	assert_true(st()->gsi_lost >= gl + 1);
	assert_true(st()->pirq_status_ok >= sq + 1);
	assert_true(st()->upcall_vector_raised >= uv + 1);
	/* Xen keeps the entry get_free_pirq() made for the refused map:
	 * EOI answers 0. */
	assert_true(st()->pirq_entry_diff >= df + 1);
}

/* MSIs with data vector 0 (FIFO domain 1; domain 2 with 300 PIRQs):
 * -ERANGE, ordinary MSIs, the first use mapping IRQ_MSI_EMU, one key for
 * all (a second PIRQ delivered unmapped, or -EBUSY with no state),
 * unmapping freeing the key, GSI-mapped and out-of-range -EINVAL, PIRQs
 * above 255 in the address's high bits. */
static void pirq_msi_rules(void **state)
{
	struct in *in = in_new(0x40, 0, 0, 0); /* domain 2: PCFG 2 */
	unsigned long dl = st()->msi_delivered, dr = st()->msi_dropped;
	unsigned long mm = st()->msi_mapped, eb = st()->msi_ebusy;
	unsigned long rg = st()->msi_erange, ei = st()->msi_einval;
	unsigned long ve = st()->msi_vector;

	(void)state;
	msi(in, 1, 0);                      /* -ERANGE */
	msi(in, 1, 0x80000000u);            /* -ERANGE: 4.17's int */
	msi(in, 1, 0xFFFFFFFFu);            /* -ERANGE */
	msi_raw(in, 1, 0xfee00000u, 0x4031); /* vector 0x31: 1 */
	msi_raw(in, 1, 0xfee37000u, 0x4300); /* vector 0: PIRQ 0x37 */
	fifo_setup(in, 1, 0x07, 4, 1, 8, true);
	msi(in, 1, 55);                     /* mapped MSI_EMU, dropped */
	bind_pirq(in, 1, 55);               /* port 1 */
	msi(in, 1, 55);                     /* delivered */
	msi(in, 1, 50);                     /* no state: -EBUSY */
	linux_msi(in, 1, 2);                /* 54, bound (2), delivered */
	status_query(in, 1, 54);            /* never mapped: -EINVAL */
	status_query(in, 1, 55);            /* needs_eoi */
	upcall(in, 1, 0);
	unmap_pirq(in, 1, -1, 55);          /* the key is free again */
	msi(in, 1, 54);                     /* mapped now */
	msi(in, 1, 55);                     /* unmapped but bound: sent */
	msi(in, 1, 56);                     /* beyond nr_pirqs: -EINVAL */
	upcall_vector(in, 1, 0, 0x30);      /* vCPU 0's vector: may map */
	map_gsi(in, 1, 18, -1);             /* PIRQ 16 */
	msi(in, 1, 16);                     /* GSI-mapped: -EINVAL */
	upcall(in, 1, 0);
	/* PIRQs above 255: the address's high bits */
	msi(in, 2, 0x120);
	bind_pirq(in, 2, 0x120);
	msi(in, 2, 0x120);
	msi_raw(in, 2, 0x0000010afee20000ull, 0); /* 0x120, bits 32..39 */
	linux_msi(in, 2, 1);                /* PIRQ 299 */
	msi(in, 2, 300);                    /* -EINVAL */
	upcall(in, 2, 0);
	check(in);
	in_run(in);
	assert_true(st()->msi_delivered >= dl + 6);
	assert_true(st()->msi_dropped >= dr + 2);
	assert_true(st()->msi_mapped >= mm + 3);
	assert_true(st()->msi_ebusy >= eb + 1);
	assert_true(st()->msi_erange >= rg + 3);
	assert_true(st()->msi_einval >= ei + 3);
	assert_true(st()->msi_vector >= ve + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_inputs),
		cmocka_unit_test(loopback_bind_then_reset),
		cmocka_unit_test(interdomain_then_layout_switch),
		cmocka_unit_test(register_vcpu_info_last_offset),
		cmocka_unit_test(args_straddling_end),
		cmocka_unit_test(many_ports_then_layout_switch),
		cmocka_unit_test(destroy_with_peers_and_small_limits),
		cmocka_unit_test(hostile_scribbles),
		cmocka_unit_test(fifo_switch_with_two_level_events_pending),
		cmocka_unit_test(fifo_expand_after_events_and_enospc),
		cmocka_unit_test(fifo_consumer_takes_the_last_page),
		cmocka_unit_test(fifo_set_priority_rules),
		cmocka_unit_test(fifo_reset_back_to_two_level),
		cmocka_unit_test(fifo_port_left_linked_after_close),
		cmocka_unit_test(fifo_init_control_rules),
		cmocka_unit_test(fifo_ports_beyond_two_level),
		cmocka_unit_test(fifo_131071_ports),
		cmocka_unit_test(fifo_hostile_scribbles),
		cmocka_unit_test(pirq_gsi_lifecycle),
		cmocka_unit_test(pirq_msi_rules),
		cmocka_unit_test(recycled_same_as_fresh),
		cmocka_unit_test(fini),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
