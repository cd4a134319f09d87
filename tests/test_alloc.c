/* SPDX-License-Identifier: MIT */
/*
 * Allocation failures, swept.  For each public call and hypercall that
 * allocates, the n-th allocation it makes is made to fail, for every n up
 * to the number it makes (src/park.h: test builds only).  Each failure must
 * give Xen's answer to the guest (-ENOMEM where Xen has it) or -ENOMEM to
 * the VMM, leave every port's status, shared_info and guest memory as they
 * were before the call, and leak nothing (LeakSanitizer, in the ASan run).
 */
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evtchn/backend.h"
#include "evtchn/route.h"
#include "fixture.h"
#include "park.h"

#ifdef EVTCHN_PARK
#define NDOM 3
#define MAX_SCAN 4200u

/* What a call may change: statuses, shared_info, guest memory. */
struct print {
	uint32_t nports[NDOM];
	struct evtchn_status *st[NDOM];
	unsigned char *si[NDOM], *mem[NDOM];
};

static struct th_domain *dom(struct fx *f, int i)
{
	return i == 0 ? &f->dom0 : i == 1 ? &f->d1 : &f->d2;
}

static void print_take(struct fx *f, struct print *p)
{
	for (int i = 0; i < NDOM; i++) {
		struct th_domain *td = dom(f, i);
		uint32_t n;

		p->st[i] = calloc(MAX_SCAN, sizeof(*p->st[i]));
		assert_non_null(p->st[i]);
		for (n = 0; n < MAX_SCAN; n++)
			if (th_status(td, DOMID_SELF, n, &p->st[i][n]))
				break;
		p->nports[i] = n;
		p->si[i] = malloc(EVTCHN_PAGE_SIZE);
		p->mem[i] = malloc(TH_MEM_SIZE);
		assert_non_null(p->si[i]);
		assert_non_null(p->mem[i]);
		memcpy(p->si[i], evtchn_domain_shared_info(td->d),
		       EVTCHN_PAGE_SIZE);
		memcpy(p->mem[i], td->mem, TH_MEM_SIZE);
	}
}

static void print_free(struct print *p)
{
	for (int i = 0; i < NDOM; i++) {
		free(p->st[i]);
		free(p->si[i]);
		free(p->mem[i]);
	}
}

/* The argument scratch pages are the harness's: not compared. */
static bool mem_same(const unsigned char *a, const unsigned char *b)
{
	size_t lo = TH_SCRATCH_FIRST_GFN * EVTCHN_PAGE_SIZE;
	size_t hi = lo + TH_SCRATCH_PAGES * EVTCHN_PAGE_SIZE;

	return !memcmp(a, b, lo) && !memcmp(a + hi, b + hi, TH_MEM_SIZE - hi);
}

static void print_check(struct fx *f, const struct print *before)
{
	struct print now;

	print_take(f, &now);
	for (int i = 0; i < NDOM; i++) {
		assert_int_equal(now.nports[i], before->nports[i]);
		for (uint32_t n = 0; n < now.nports[i]; n++)
			assert_memory_equal(&now.st[i][n], &before->st[i][n],
					    sizeof(now.st[i][n]));
		assert_memory_equal(now.si[i], before->si[i], EVTCHN_PAGE_SIZE);
		assert_true(mem_same(now.mem[i], before->mem[i]));
	}
	print_free(&now);
}

/* One call under test: @prepare builds the state (allocations succeed),
 * @call makes the call and returns its answer, @undo releases what a
 * successful call made (before teardown). */
struct sweep {
	const char *name;
	void (*prepare)(struct fx *f, void *ctx);
	long (*call)(struct fx *f, void *ctx);
	void (*undo)(struct fx *f, void *ctx, long rc);
	long enomem;      /* the answer when an allocation fails */
	size_t ctx_size;
};

/* Sweep n = 1, 2, ... until the call makes fewer than n allocations;
 * returns how many it makes. */
static unsigned long sweep(const struct sweep *s)
{
	unsigned long n;

	for (n = 1;; n++) {
		void *state = NULL, *ctx = calloc(1, s->ctx_size ? s->ctx_size : 1);
		struct fx *f;
		struct print before;
		unsigned long used;
		long rc;

		assert_non_null(ctx);
		assert_int_equal(fx_setup(&state), 0);
		f = state;
		if (s->prepare)
			s->prepare(f, ctx);
		print_take(f, &before);
		evtchn_fail_alloc(n);
		rc = s->call(f, ctx);
		used = evtchn_fail_alloc_count();
		evtchn_fail_alloc(0);
		if (used < n) {
			/* Nothing failed: the call's own answer. */
			assert_true(rc >= 0);
		} else {
			if (rc != s->enomem)
				fail_msg("%s: allocation %lu of the call failed: "
					 "answer %ld, expected %ld", s->name, n,
					 rc, s->enomem);
			print_check(f, &before);
		}
		if (s->undo)
			s->undo(f, ctx, rc);
		print_free(&before);
		fx_teardown(&state);
		free(ctx);
		if (used < n) {
			print_message("%s: %lu allocations swept\n", s->name,
				      n - 1);
			return n - 1;
		}
	}
}

/* --- hypercalls ------------------------------------------------------ */

/* Ports 1..63 of guest 1 bound: the next bind needs a new bucket. */
static void fill_bucket(struct fx *f, void *ctx)
{
	(void)ctx;
	for (int i = 1; i < 64; i++) /* a bucket: Xen's EVTCHNS_PER_BUCKET */
		assert_int_equal(th_bind_ipi(&f->d1, 0), i);
}

static long call_bind_ipi(struct fx *f, void *ctx)
{
	(void)ctx;
	return th_bind_ipi(&f->d1, 1);
}

static long call_alloc_unbound(struct fx *f, void *ctx)
{
	(void)ctx;
	return th_alloc_unbound(&f->d1, DOMID_SELF, 2);
}

static long call_bind_pirq(struct fx *f, void *ctx)
{
	struct evtchn_bind_pirq b = { .pirq = 5 };
	long rc;

	(void)ctx;
	rc = th_op(&f->d1, 0, EVTCHNOP_bind_pirq, &b, sizeof(b));
	return rc ? rc : (long)b.port;
}

static long call_bind_virq(struct fx *f, void *ctx)
{
	(void)ctx;
	return th_bind_virq(&f->d1, VIRQ_TIMER, 2);
}

/* Guest 2's unbound port for guest 1, in *ctx. */
static void fill_bucket_and_offer(struct fx *f, void *ctx)
{
	fill_bucket(f, ctx);
	*(long *)ctx = th_alloc_unbound(&f->d2, DOMID_SELF, 1);
	assert_true(*(long *)ctx > 0);
}

static long call_bind_interdomain(struct fx *f, void *ctx)
{
	return th_bind_interdomain(&f->d1, 2, (uint32_t)*(long *)ctx);
}

/* FIFO and 4,095 ports of guest 1 bound: the next needs a new group of
 * buckets and a bucket. */
static void fill_group(struct fx *f, void *ctx)
{
	(void)ctx;
	assert_int_equal(th_fifo_setup(&f->d1, 0), 0);
	for (int i = 1; i < 4096; i++)
		assert_int_equal(th_bind_ipi(&f->d1, 0), i);
}

static long call_init_control(struct fx *f, void *ctx)
{
	(void)ctx;
	return th_fifo_setup(&f->d1, 1);
}

static void bind_all_ipi(struct fx *f, void *ctx)
{
	(void)ctx;
	for (int i = 1; i < 10; i++)
		assert_true(th_bind_ipi(&f->d1, i % 4) > 0);
	assert_true(th_alloc_unbound(&f->d1, DOMID_SELF, 2) > 0);
}

static void bind_all(void **state)
{
	static const struct sweep s[] = {
		{ "bind_ipi (new bucket)", fill_bucket, call_bind_ipi, NULL,
		  -XEN_ENOMEM, 0 },
		{ "alloc_unbound (new bucket)", fill_bucket, call_alloc_unbound,
		  NULL, -XEN_ENOMEM, 0 },
		{ "bind_virq (new bucket)", fill_bucket, call_bind_virq, NULL,
		  -XEN_ENOMEM, 0 },
		{ "bind_pirq (new bucket)", fill_bucket, call_bind_pirq, NULL,
		  -XEN_ENOMEM, 0 },
		{ "bind_interdomain (new bucket)", fill_bucket_and_offer,
		  call_bind_interdomain, NULL, -XEN_ENOMEM, sizeof(long) },
		{ "bind_ipi (FIFO, new group)", fill_group, call_bind_ipi, NULL,
		  -XEN_ENOMEM, 0 },
		{ "init_control", bind_all_ipi, call_init_control, NULL,
		  -XEN_ENOMEM, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		assert_true(sweep(&s[i]) > 0);
}

/* --- VMM calls --------------------------------------------------------- */

static long call_backend_open(struct fx *f, void *ctx)
{
	return evtchn_backend_open(f->dom0.d, 0, ctx);
}

static void close_backend(struct fx *f, void *ctx, long rc)
{
	(void)f;
	if (rc == 0)
		assert_int_equal(evtchn_backend_close(*(struct evtchn_backend **)ctx),
				 0);
}

struct be_ctx {
	struct evtchn_backend *b;
	long gp;
};

static void open_and_offer(struct fx *f, void *ctx)
{
	struct be_ctx *c = ctx;

	assert_int_equal(evtchn_backend_open(f->dom0.d, 0, &c->b), 0);
	c->gp = th_alloc_unbound(&f->d1, DOMID_SELF, 0);
	assert_true(c->gp > 0);
}

static long call_backend_bind(struct fx *f, void *ctx)
{
	struct be_ctx *c = ctx;

	(void)f;
	return evtchn_backend_bind_interdomain(c->b, 1, (uint32_t)c->gp);
}

static void close_be_ctx(struct fx *f, void *ctx, long rc)
{
	struct be_ctx *c = ctx;

	(void)f;
	(void)rc;
	assert_int_equal(evtchn_backend_close(c->b), 0);
}

struct route_ctx {
	int e1, e2;
	long port;
};

static void route_one(struct fx *f, void *ctx)
{
	struct route_ctx *c = ctx;
	struct evtchn_route r = { .kind = EVTCHN_ROUTE_PORT_TO_FD };

	c->e1 = eventfd(0, EFD_NONBLOCK);
	c->e2 = eventfd(0, EFD_NONBLOCK);
	c->port = th_bind_ipi(&f->d1, 0);
	r.port = (uint32_t)c->port;
	r.fd = c->e1;
	assert_int_equal(evtchn_routes_set(f->d1.d, &r, 1), 0);
}

static long call_routes_set(struct fx *f, void *ctx)
{
	struct route_ctx *c = ctx;
	struct evtchn_route r[2] = {
		{ .kind = EVTCHN_ROUTE_PORT_TO_FD, .port = (uint32_t)c->port,
		  .fd = c->e2 },
		{ .kind = EVTCHN_ROUTE_FD_TO_PORT, .port = (uint32_t)c->port,
		  .fd = c->e1 },
	};

	return evtchn_routes_set(f->d1.d, r, 2);
}

static long call_route_update(struct fx *f, void *ctx)
{
	struct route_ctx *c = ctx;
	struct evtchn_route r = { .kind = EVTCHN_ROUTE_PORT_TO_FD,
				  .port = (uint32_t)c->port, .fd = c->e2 };

	return evtchn_route_update(f->d1.d, &r);
}

/* After the call: a send reaches e1 (the old table) on failure, e2 on
 * success. */
static void route_check(struct fx *f, void *ctx, long rc)
{
	struct route_ctx *c = ctx;
	uint64_t v = 0;

	assert_int_equal(th_send(&f->d1, 0, (uint32_t)c->port), 0);
	assert_int_equal(read(rc == 0 ? c->e2 : c->e1, &v, sizeof(v)),
			 sizeof(v));
	assert_int_equal(evtchn_routes_set(f->d1.d, NULL, 0), 0);
	close(c->e1);
	close(c->e2);
}

static long call_debug_start(struct fx *f, void *ctx)
{
	char *path = ctx;

	snprintf(path, 64, "/tmp/evtchn-alloc-%d.sock", getpid());
	return evtchn_host_debug_start(f->h, path);
}

static void debug_stop(struct fx *f, void *ctx, long rc)
{
	(void)ctx;
	if (rc == 0)
		assert_int_equal(evtchn_host_debug_stop(f->h), 0);
}

struct snap_ctx {
	void *img;
	size_t len;
};

/* An image of guest 2 with ports of every kind. */
static void make_image(struct fx *f, void *ctx)
{
	struct snap_ctx *c = ctx;

	assert_true(th_bind_ipi(&f->d2, 1) > 0);
	assert_true(th_bind_virq(&f->d2, VIRQ_TIMER, 0) > 0);
	assert_true(th_alloc_unbound(&f->d2, DOMID_SELF, 1) > 0);
	assert_true(th_alloc_unbound(&f->d2, DOMID_SELF, DOMID_SELF) > 0);
	assert_int_equal(evtchn_domain_save(f->d2.d, &c->img, &c->len), 0);
	/* a fresh domain 2 to restore into */
	th_domain_destroy(&f->d2);
	{
		struct th_domain_opts o2 = { .domid = 2, .nr_vcpus = 2 };

		assert_int_equal(th_domain_create(f->h, &f->d2, &o2), 0);
	}
}

static long call_restore(struct fx *f, void *ctx)
{
	struct snap_ctx *c = ctx;

	return evtchn_domain_restore(f->d2.d, c->img, c->len);
}

static long call_save(struct fx *f, void *ctx)
{
	struct snap_ctx *c = ctx;

	return evtchn_domain_save(f->d1.d, &c->img, &c->len);
}

static void free_image(struct fx *f, void *ctx, long rc)
{
	struct snap_ctx *c = ctx;

	(void)f;
	(void)rc;
	free(c->img);
}

static void vmm_calls(void **state)
{
	static const struct sweep s[] = {
		{ "evtchn_backend_open", NULL, call_backend_open,
		  close_backend, -ENOMEM, sizeof(void *) },
		{ "evtchn_backend_bind_interdomain", open_and_offer,
		  call_backend_bind, close_be_ctx, -ENOMEM,
		  sizeof(struct be_ctx) },
		{ "evtchn_routes_set", route_one, call_routes_set, route_check,
		  -ENOMEM, sizeof(struct route_ctx) },
		{ "evtchn_route_update", route_one, call_route_update,
		  route_check, -ENOMEM, sizeof(struct route_ctx) },
		{ "evtchn_host_debug_start", NULL, call_debug_start,
		  debug_stop, -ENOMEM, 64 },
		{ "evtchn_domain_restore", make_image, call_restore,
		  free_image, -ENOMEM, sizeof(struct snap_ctx) },
		{ "evtchn_domain_save", bind_all_ipi, call_save, free_image,
		  -ENOMEM, sizeof(struct snap_ctx) },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		assert_true(sweep(&s[i]) > 0);
}

/* Creation: nothing is left behind (no domain registered, the host can be
 * destroyed), -ENOMEM each time. */
static void create_calls(void **state)
{
	unsigned long n;

	(void)state;
	for (n = 1;; n++) {
		struct evtchn_host *h = NULL;
		unsigned long used;
		int rc;

		evtchn_fail_alloc(n);
		rc = evtchn_host_create(&h);
		used = evtchn_fail_alloc_count();
		evtchn_fail_alloc(0);
		if (used < n) {
			assert_int_equal(rc, 0);
			assert_int_equal(evtchn_host_destroy(h), 0);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
	}
	print_message("evtchn_host_create: %lu allocations swept\n", n - 1);
	assert_true(n > 1);
	for (n = 1;; n++) {
		static unsigned char mem[4 * EVTCHN_PAGE_SIZE]
			__attribute__((aligned(EVTCHN_PAGE_SIZE)));
		struct evtchn_domain_config cfg = { .domid = 5, .nr_vcpus = 3,
						    .nr_pirqs = 64 };
		struct evtchn_host *h;
		struct evtchn_domain *d = NULL;
		unsigned long used;
		int rc;

		assert_int_equal(evtchn_host_create(&h), 0);
		evtchn_guest_mem_flat(&cfg.mem, mem, sizeof(mem));
		evtchn_fail_alloc(n);
		rc = evtchn_domain_create(h, &cfg, &d);
		used = evtchn_fail_alloc_count();
		evtchn_fail_alloc(0);
		if (used < n) {
			assert_int_equal(rc, 0);
			assert_int_equal(evtchn_domain_destroy(d), 0);
		} else {
			assert_int_equal(rc, -ENOMEM);
			assert_null(evtchn_host_domain(h, 5));
		}
		assert_int_equal(evtchn_host_destroy(h), 0);
		if (used < n)
			break;
	}
	print_message("evtchn_domain_create: %lu allocations swept\n", n - 1);
	assert_true(n > 1);
}

/* Calls with no -ENOMEM answer: a failed allocation takes a slower path
 * and the answer is the same. */
static void reset_without_memory(void **state)
{
	unsigned long n;

	(void)state;
	for (n = 1;; n++) {
		void *st = NULL;
		struct fx *f;
		struct evtchn_reset r = { .dom = DOMID_SELF };
		struct evtchn_status s;
		unsigned long used;
		long rc;

		assert_int_equal(fx_setup(&st), 0);
		f = st;
		for (int i = 0; i < 70; i++)
			assert_true(th_bind_ipi(&f->d1, i % 4) > 0);
		evtchn_fail_alloc(n);
		rc = th_op(&f->d1, 0, EVTCHNOP_reset, &r, sizeof(r));
		used = evtchn_fail_alloc_count();
		evtchn_fail_alloc(0);
		assert_int_equal(rc, 0);
		for (uint32_t p = 1; p <= 70; p++) {
			assert_int_equal(th_status(&f->d1, DOMID_SELF, p, &s), 0);
			assert_int_equal(s.status, EVTCHNSTAT_closed);
		}
		fx_teardown(&st);
		if (used < n)
			break;
	}
	print_message("EVTCHNOP_reset: %lu allocations swept\n", n - 1);
}

#endif /* EVTCHN_PARK */

int main(void)
{
#ifndef EVTCHN_PARK
	printf("alloc: built without test hooks (release): skipped\n");
	return 77;
#else
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bind_all),
		cmocka_unit_test(vmm_calls),
		cmocka_unit_test(create_calls),
		cmocka_unit_test(reset_without_memory),
	};

	return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
#endif
}
