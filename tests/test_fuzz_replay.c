/* SPDX-License-Identifier: MIT */
/*
 * The fuzz entry without libFuzzer: a few thousand pseudo-random inputs
 * from a fixed seed (EVTCHN_FUZZ_ITERS overrides the count), then
 * hand-made inputs that reach specific paths.  evtchn_fuzz_one() aborts on
 * a broken invariant; the tests here check the paths were reached.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

static void in_run(struct in *in)
{
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
		      "%lu ipi, %lu close, %lu reset, %lu vcpu_info "
		      "(%lu above 32), %lu layout switches, %lu deliveries, "
		      "%lu upcalls, %lu guest events, %lu re-created\n",
		      st()->inputs, st()->ops, st()->hypercalls, st()->ok,
		      st()->efault, st()->checks, st()->unbound,
		      st()->interdomain, st()->loopback, st()->virq,
		      st()->ipi, st()->closes, st()->resets,
		      st()->registered, st()->high_vcpu_registered,
		      st()->layout_switch, st()->sends_delivered,
		      st()->upcalls, st()->guest_events, st()->recreated);
	if (iters >= 1000) {
		/* Random bytes reach beyond argument checking. */
		assert_true(st()->ops - ops0 > iters);
		assert_true(st()->unbound > 0);
		assert_true(st()->ipi > 0);
		assert_true(st()->virq > 0);
		assert_true(st()->closes > 0);
		assert_true(st()->registered > 0);
		assert_true(st()->layout_switch > 0);
		assert_true(st()->efault > 0);
		assert_true(st()->upcalls > 0);
		assert_true(st()->recreated > 0);
	}
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
