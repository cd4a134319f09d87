/* SPDX-License-Identifier: MIT */
/*
 * evtchn-bench: costs measured against the limit measured in the same run.
 *
 *  send        EVTCHNOP_send through the hypercall entry on an IPI port,
 *              then the guest's consumption, against the raw atomics the
 *              same delivery needs (2-level: pending, mask, selector,
 *              upcall; FIFO: pending, mask, linked, head, ready, upcall)
 *              done directly on memory in the same loop;
 *  ops         bind_ipi / send / close at 1,024 and at 131,072 bound ports;
 *  memory      bytes of library memory per bound port;
 *  round trip  guest -> backend handle -> guest through eventfds, against
 *              a raw eventfd ping-pong between two threads;
 *  routes      replacing a 4,096-entry route table, and the worst send
 *              latency on another thread while replacements run.
 *
 * Each figure is the median of --runs runs (default 7) with its spread
 * (min..max).  --json prints one JSON object instead of the table.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evtchn/backend.h"
#include "evtchn/evtchn.h"
#include "evtchn/route.h"
#include "evtchn_guest.h"

#define PAGES 256u
#define ARG_GPA (16u * EVTCHN_PAGE_SIZE)
#define CB_GFN 20u
#define ARRAY_GFN 32u
#define MAX_RUNS 31

struct bench {
	struct evtchn_host *h;
	struct evtchn_domain *d;
	unsigned char *mem;
	struct evtchn_guest g;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static long op(void *ctx, uint32_t vcpu, int cmd, void *arg, size_t len)
{
	struct bench *b = ctx;
	uint64_t args[6] = { (uint64_t)cmd, ARG_GPA };
	long rc;

	memcpy(b->mem + ARG_GPA, arg, len);
	rc = evtchn_hypercall(b->d, vcpu, __HYPERVISOR_event_channel_op, args);
	memcpy(arg, b->mem + ARG_GPA, len);
	return rc;
}

static void bench_init(struct bench *b, bool fifo, unsigned pages)
{
	struct evtchn_domain_config cfg = { .domid = 1, .nr_vcpus = 2 };

	memset(b, 0, sizeof(*b));
	b->mem = aligned_alloc(EVTCHN_PAGE_SIZE, PAGES * EVTCHN_PAGE_SIZE);
	if (!b->mem || evtchn_host_create(&b->h))
		exit(1);
	memset(b->mem, 0, PAGES * EVTCHN_PAGE_SIZE);
	evtchn_guest_mem_flat(&cfg.mem, b->mem, PAGES * EVTCHN_PAGE_SIZE);
	if (evtchn_domain_create(b->h, &cfg, &b->d) ||
	    evtchn_guest_init(&b->g, evtchn_domain_shared_info(b->d), false, 2,
			      op, b))
		exit(1);
	if (!fifo)
		return;
	for (uint32_t v = 0; v < 2; v++)
		if (evtchn_guest_fifo_init_vcpu(
			    &b->g, v,
			    b->mem + CB_GFN * EVTCHN_PAGE_SIZE + v * 72, CB_GFN,
			    v * 72))
			exit(1);
	for (unsigned i = 0; i < pages; i++)
		if (evtchn_guest_fifo_expand(
			    &b->g, b->mem + (ARRAY_GFN + i) * EVTCHN_PAGE_SIZE,
			    ARRAY_GFN + i))
			exit(1);
}

static void bench_fini(struct bench *b)
{
	evtchn_guest_fini(&b->g);
	evtchn_domain_destroy(b->d);
	evtchn_host_destroy(b->h);
	free(b->mem);
}

static long bind_ipi(struct bench *b, uint32_t vcpu)
{
	struct evtchn_bind_ipi bi = { .vcpu = vcpu };
	long rc = op(b, 0, EVTCHNOP_bind_ipi, &bi, sizeof(bi));

	return rc ? rc : (long)bi.port;
}

static void noop(uint32_t vcpu, uint32_t port, void *opaque)
{
	(void)vcpu;
	(void)port;
	(*(unsigned long *)opaque)++;
}

static volatile uint64_t sink;

/* ns per event: send through the entry, then the guest consumes. */
static double send_lib(bool fifo, unsigned n)
{
	struct bench b;
	struct evtchn_send s;
	unsigned long seen = 0;
	uint64_t t0;

	bench_init(&b, fifo, 1);
	s.port = bind_ipi(&b, 0);
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		op(&b, 0, EVTCHNOP_send, &s, sizeof(s));
		evtchn_guest_upcall(&b.g, 0, noop, &seen);
	}
	t0 = now_ns() - t0;
	if (seen != n) {
		fprintf(stderr, "evtchn-bench: %lu of %u events seen\n", seen, n);
		exit(1);
	}
	bench_fini(&b);
	return (double)t0 / n;
}

/* ns per event: the same atomics on plain memory, sender and consumer. */
static double send_raw(bool fifo, unsigned n)
{
	uint64_t *pending = calloc(64, 8), *mask = calloc(64, 8);
	uint64_t *sel = calloc(1, 8);
	uint32_t *word = calloc(2, 4), *head = calloc(16, 4),
		 *ready = calloc(1, 4);
	uint8_t *upcall = calloc(1, 1);
	const uint32_t port = 1;
	uint64_t t0 = now_ns();

	for (unsigned i = 0; i < n; i++) {
		if (!fifo) {
			if (!(__atomic_fetch_or(&pending[0], 2, __ATOMIC_SEQ_CST) & 2) &&
			    !(__atomic_load_n(&mask[0], __ATOMIC_SEQ_CST) & 2) &&
			    !(__atomic_fetch_or(sel, 1, __ATOMIC_SEQ_CST) & 1))
				__atomic_fetch_or(upcall, 1, __ATOMIC_SEQ_CST);
			/* consumer */
			__atomic_store_n(upcall, 0, __ATOMIC_SEQ_CST);
			sink += __atomic_exchange_n(sel, 0, __ATOMIC_SEQ_CST);
			sink += __atomic_load_n(&mask[0], __ATOMIC_SEQ_CST);
			__atomic_fetch_and(&pending[0], ~2ull, __ATOMIC_SEQ_CST);
		} else {
			uint32_t w;

			if (!(__atomic_fetch_or(&word[port], 1u << 31,
						__ATOMIC_SEQ_CST) & (1u << 31)) &&
			    !(__atomic_load_n(&word[port], __ATOMIC_SEQ_CST) &
			      (1u << 30)) &&
			    !(__atomic_fetch_or(&word[port], 1u << 29,
						__ATOMIC_SEQ_CST) & (1u << 29))) {
				__atomic_store_n(&head[7], port, __ATOMIC_SEQ_CST);
				if (!(__atomic_fetch_or(ready, 1u << 7,
							__ATOMIC_SEQ_CST) & 0x80))
					__atomic_fetch_or(upcall, 1,
							  __ATOMIC_SEQ_CST);
			}
			/* consumer */
			__atomic_store_n(upcall, 0, __ATOMIC_SEQ_CST);
			sink += __atomic_exchange_n(ready, 0, __ATOMIC_SEQ_CST);
			w = __atomic_load_n(&word[port], __ATOMIC_SEQ_CST);
			__atomic_compare_exchange_n(&word[port], &w,
						    w & ~((1u << 29) | 0x1ffff),
						    false, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
			__atomic_fetch_and(&word[port], ~(1u << 31),
					   __ATOMIC_SEQ_CST);
		}
	}
	t0 = now_ns() - t0;
	free(pending);
	free(mask);
	free(sel);
	free(word);
	free(head);
	free(ready);
	free(upcall);
	return (double)t0 / n;
}

struct op_costs {
	double bind, send, close;
};

/* ns per bind_ipi, send, close at a table already holding @bound ports
 * (FIFO, 128 pages). */
static struct op_costs op_costs(uint32_t bound, unsigned n)
{
	struct bench b;
	struct op_costs c;
	struct evtchn_send s;
	struct evtchn_close cl;
	long *ports = malloc(n * sizeof(*ports));
	uint64_t t0;

	bench_init(&b, true, 128);
	for (uint32_t i = 1; i < bound - n; i++)
		if (bind_ipi(&b, 1) < 0)
			exit(1);
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++)
		ports[i] = bind_ipi(&b, 1);
	c.bind = (double)(now_ns() - t0) / n;
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		s.port = ports[i];
		op(&b, 0, EVTCHNOP_send, &s, sizeof(s));
	}
	c.send = (double)(now_ns() - t0) / n;
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		cl.port = ports[i];
		op(&b, 0, EVTCHNOP_close, &cl, sizeof(cl));
	}
	c.close = (double)(now_ns() - t0) / n;
	free(ports);
	bench_fini(&b);
	return c;
}

/* Library heap bytes per bound port, binding @n ports on 2-level. */
static double bytes_per_port(uint32_t n, bool fifo)
{
	struct bench b;
	size_t before;

	bench_init(&b, fifo, fifo ? 128 : 0);
	before = mallinfo2().uordblks;
	for (uint32_t i = 1; i < n; i++)
		if (bind_ipi(&b, 0) < 0)
			exit(1);
	before = mallinfo2().uordblks - before;
	bench_fini(&b);
	return (double)before / (n - 1);
}

/* --- round trip through a backend handle ----------------------------- */

struct rt {
	struct bench *b;
	struct evtchn_backend *be;
	int port;
	unsigned n;
	int guest_efd; /* the upcall wakes the guest's thread through it */
};

static void rt_upcall(struct evtchn_domain *d, uint32_t vcpu, void *opaque)
{
	uint64_t one = 1;

	(void)d;
	(void)vcpu;
	(void)!write(*(int *)opaque, &one, sizeof(one));
}

static void *rt_backend(void *arg)
{
	struct rt *rt = arg;
	struct pollfd p = { .fd = evtchn_backend_fd(rt->be), .events = POLLIN };

	for (unsigned i = 0; i < rt->n;) {
		int port = evtchn_backend_pending(rt->be);

		if (port < 0) {
			poll(&p, 1, -1);
			continue;
		}
		evtchn_backend_unmask(rt->be, port);
		evtchn_backend_notify(rt->be, port);
		i++;
	}
	return NULL;
}

/* ns per round trip: guest send -> handle's eventfd -> backend thread ->
 * notify -> upcall -> eventfd -> the guest's thread, both threads blocking
 * in between, as in the raw ping-pong. */
static double roundtrip_lib(unsigned n)
{
	struct evtchn_domain_config c0 = { .domid = 0, .nr_vcpus = 1 };
	struct evtchn_domain_config c1 = { .domid = 1, .nr_vcpus = 1 };
	static unsigned char mem0[EVTCHN_PAGE_SIZE];
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = 0 };
	struct evtchn_domain *d0;
	struct evtchn_send s;
	struct bench b = { 0 };
	struct rt rt = { .n = n, .guest_efd = eventfd(0, 0) };
	pthread_t t;
	uint64_t t0, v;

	b.mem = aligned_alloc(EVTCHN_PAGE_SIZE, PAGES * EVTCHN_PAGE_SIZE);
	if (!b.mem || evtchn_host_create(&b.h))
		exit(1);
	evtchn_guest_mem_flat(&c0.mem, mem0, sizeof(mem0));
	evtchn_guest_mem_flat(&c1.mem, b.mem, PAGES * EVTCHN_PAGE_SIZE);
	c1.upcall_cb = rt_upcall;
	c1.opaque = &rt.guest_efd;
	if (evtchn_domain_create(b.h, &c0, &d0) ||
	    evtchn_domain_create(b.h, &c1, &b.d) ||
	    evtchn_guest_init(&b.g, evtchn_domain_shared_info(b.d), false, 1,
			      op, &b) ||
	    op(&b, 0, EVTCHNOP_alloc_unbound, &au, sizeof(au)) ||
	    evtchn_backend_open(d0, 0, &rt.be))
		exit(1);
	rt.port = evtchn_backend_bind_interdomain(rt.be, 1, au.port);
	while (evtchn_backend_pending(rt.be) >= 0) /* the bind's event */
		;
	evtchn_backend_unmask(rt.be, rt.port);
	pthread_create(&t, NULL, rt_backend, &rt);
	s.port = au.port;
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		unsigned long seen = 0;

		op(&b, 0, EVTCHNOP_send, &s, sizeof(s));
		if (read(rt.guest_efd, &v, sizeof(v)) != sizeof(v))
			exit(1);
		evtchn_guest_upcall(&b.g, 0, noop, &seen);
	}
	t0 = now_ns() - t0;
	pthread_join(t, NULL);
	evtchn_backend_close(rt.be);
	evtchn_guest_fini(&b.g);
	evtchn_domain_destroy(b.d);
	evtchn_domain_destroy(d0);
	evtchn_host_destroy(b.h);
	close(rt.guest_efd);
	free(b.mem);
	return (double)t0 / n;
}

struct pp {
	int a, b;
	unsigned n;
};

static void *pp_peer(void *arg)
{
	struct pp *pp = arg;
	uint64_t v;

	for (unsigned i = 0; i < pp->n; i++) {
		struct pollfd p = { .fd = pp->a, .events = POLLIN };

		poll(&p, 1, -1);
		if (read(pp->a, &v, sizeof(v)) != sizeof(v)) {
			i--;
			continue;
		}
		(void)!write(pp->b, &v, sizeof(v));
	}
	return NULL;
}

/* ns per round trip of a raw eventfd ping-pong between two threads (the
 * same wake-ups: the peer polls, the initiator blocks in read). */
static double roundtrip_raw(unsigned n)
{
	struct pp pp = { eventfd(0, EFD_NONBLOCK), eventfd(0, 0), n };
	uint64_t one = 1, v, t0;
	pthread_t t;

	pthread_create(&t, NULL, pp_peer, &pp);
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		(void)!write(pp.a, &one, sizeof(one));
		if (read(pp.b, &v, sizeof(v)) != sizeof(v))
			exit(1);
	}
	t0 = now_ns() - t0;
	pthread_join(t, NULL);
	close(pp.a);
	close(pp.b);
	return (double)t0 / n;
}

/* --- route-table replacement ----------------------------------------- */

struct lat {
	struct bench *b;
	uint32_t port;
	_Atomic bool stop;
	uint64_t worst;
	unsigned long sends;
};

static void *lat_sender(void *arg)
{
	struct lat *l = arg;
	struct evtchn_send s = { .port = l->port };
	uint64_t args[6] = { EVTCHNOP_send, ARG_GPA + 4096 };

	memcpy(l->b->mem + args[1], &s, sizeof(s));
	while (!atomic_load(&l->stop)) {
		uint64_t t0 = now_ns(), dt;

		evtchn_hypercall(l->b->d, 1, __HYPERVISOR_event_channel_op, args);
		dt = now_ns() - t0;
		if (dt > l->worst)
			l->worst = dt;
		l->sends++;
	}
	return NULL;
}

struct route_costs {
	double replace_us, worst_send_us, worst_send_idle_us;
};

static struct route_costs route_costs(unsigned replacements)
{
	struct evtchn_route *r = calloc(4096, sizeof(*r));
	struct route_costs c;
	struct bench b;
	struct lat l = { .b = &b };
	pthread_t t;
	uint64_t t0;
	int efd = eventfd(0, EFD_NONBLOCK);

	bench_init(&b, true, 4);
	for (unsigned i = 0; i < 4096; i++) {
		long p = bind_ipi(&b, 0);

		r[i] = (struct evtchn_route){ .kind = EVTCHN_ROUTE_PORT_TO_PORT,
					      .port = p, .target_port = p };
	}
	r[0].kind = EVTCHN_ROUTE_PORT_TO_FD;
	r[0].fd = efd;
	l.port = bind_ipi(&b, 1);
	/* the sender alone */
	pthread_create(&t, NULL, lat_sender, &l);
	t0 = now_ns();
	while (now_ns() - t0 < 200000000ull)
		;
	atomic_store(&l.stop, true);
	pthread_join(t, NULL);
	c.worst_send_idle_us = l.worst / 1e3;
	/* and while tables are replaced */
	l.worst = 0;
	atomic_store(&l.stop, false);
	pthread_create(&t, NULL, lat_sender, &l);
	t0 = now_ns();
	for (unsigned i = 0; i < replacements; i++)
		if (evtchn_routes_set(b.d, r, 4096))
			exit(1);
	c.replace_us = (now_ns() - t0) / 1e3 / replacements;
	atomic_store(&l.stop, true);
	pthread_join(t, NULL);
	c.worst_send_us = l.worst / 1e3;
	evtchn_routes_set(b.d, NULL, 0);
	close(efd);
	free(r);
	bench_fini(&b);
	return c;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stat3 {
	double median, min, max;
};

static struct stat3 stat_of(double *v, int runs)
{
	qsort(v, runs, sizeof(*v), cmp_double);
	return (struct stat3){ v[runs / 2], v[0], v[runs - 1] };
}

int main(int argc, char **argv)
{
	int runs = 7;
	bool json = false;
	unsigned n = 200000, nops = 1000;
	double lib[2][MAX_RUNS], raw[2][MAX_RUNS], ratio[2][MAX_RUNS];
	double ops[2][3][MAX_RUNS];
	static const uint32_t sizes[2] = { 1024, EVTCHN_FIFO_NR_CHANNELS };
	struct stat3 sl[2], sr[2], sq[2], so[2][3];
	double bpp2l, bppfifo;
	double rtl[MAX_RUNS], rtr[MAX_RUNS], rtq[MAX_RUNS];
	struct stat3 srtl, srtr, srtq;
	struct route_costs rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--quick")) {
			n = 20000;
			runs = 3;
		} else {
			fprintf(stderr, "usage: %s [--runs N (1..%d)] [--quick] "
					"[--json]\n", argv[0], MAX_RUNS);
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "evtchn-bench: --runs must be 1..%d\n", MAX_RUNS);
		return 2;
	}
	for (int r = 0; r < runs; r++) {
		for (int f = 0; f < 2; f++) {
			raw[f][r] = send_raw(f, n);
			lib[f][r] = send_lib(f, n);
			ratio[f][r] = lib[f][r] / raw[f][r];
		}
		for (int s = 0; s < 2; s++) {
			struct op_costs c = op_costs(sizes[s], nops);

			ops[s][0][r] = c.bind;
			ops[s][1][r] = c.send;
			ops[s][2][r] = c.close;
		}
	}
	for (int f = 0; f < 2; f++) {
		sl[f] = stat_of(lib[f], runs);
		sr[f] = stat_of(raw[f], runs);
		sq[f] = stat_of(ratio[f], runs);
		for (int k = 0; k < 3; k++)
			so[f][k] = stat_of(ops[f][k], runs);
	}
	bpp2l = bytes_per_port(4096, false);
	bppfifo = bytes_per_port(EVTCHN_FIFO_NR_CHANNELS, true);
	for (int r = 0; r < runs; r++) {
		rtl[r] = roundtrip_lib(n / 10);
		rtr[r] = roundtrip_raw(n / 10);
		rtq[r] = rtl[r] / rtr[r];
	}
	srtl = stat_of(rtl, runs);
	srtr = stat_of(rtr, runs);
	srtq = stat_of(rtq, runs);
	rc = route_costs(n / 1000 + 10);

	if (json) {
		printf("{\"runs\": %d, \"events\": %u,\n", runs, n);
		for (int f = 0; f < 2; f++)
			printf(" \"send_%s\": {\"lib_ns\": %.1f, \"raw_ns\": %.1f, "
			       "\"ratio\": %.2f, \"ratio_min\": %.2f, "
			       "\"ratio_max\": %.2f},\n", f ? "fifo" : "2l",
			       sl[f].median, sr[f].median, sq[f].median,
			       sq[f].min, sq[f].max);
		for (int s = 0; s < 2; s++)
			printf(" \"ops_at_%u\": {\"bind_ns\": %.1f, \"send_ns\": "
			       "%.1f, \"close_ns\": %.1f},\n", sizes[s],
			       so[s][0].median, so[s][1].median,
			       so[s][2].median);
		printf(" \"roundtrip\": {\"lib_ns\": %.0f, \"raw_ns\": %.0f, "
		       "\"ratio\": %.2f, \"ratio_min\": %.2f, \"ratio_max\": "
		       "%.2f},\n", srtl.median, srtr.median, srtq.median,
		       srtq.min, srtq.max);
		printf(" \"routes_4096\": {\"replace_us\": %.1f, "
		       "\"worst_send_us\": %.1f, \"worst_send_idle_us\": %.1f},\n",
		       rc.replace_us, rc.worst_send_us, rc.worst_send_idle_us);
		printf(" \"bytes_per_port_2l\": %.1f, \"bytes_per_port_fifo\": "
		       "%.1f}\n", bpp2l, bppfifo);
		return 0;
	}
	printf("evtchn-bench: %d runs, median (min..max)\n\n", runs);
	printf("send + consume, one event   library ns     raw atomics ns   ratio\n");
	for (int f = 0; f < 2; f++)
		printf("  %-25s %6.1f (%.1f..%.1f)  %5.1f (%.1f..%.1f)  %.2f (%.2f..%.2f)\n",
		       f ? "FIFO" : "2-level", sl[f].median, sl[f].min,
		       sl[f].max, sr[f].median, sr[f].min, sr[f].max,
		       sq[f].median, sq[f].min, sq[f].max);
	printf("\nper operation (FIFO)        bind_ipi ns    send ns   close ns\n");
	for (int s = 0; s < 2; s++)
		printf("  at %6u bound ports     %8.1f  %8.1f  %9.1f\n",
		       sizes[s], so[s][0].median, so[s][1].median,
		       so[s][2].median);
	printf("\nlibrary memory per bound port: 2-level %.1f B (4,096 ports), "
	       "FIFO %.1f B (131,072 ports)\n", bpp2l, bppfifo);
	printf("\nround trip guest->backend->guest  library ns     raw eventfd ping-pong ns   ratio\n");
	printf("  through a backend handle       %7.0f (%.0f..%.0f)  %7.0f (%.0f..%.0f)  %.2f (%.2f..%.2f)\n",
	       srtl.median, srtl.min, srtl.max, srtr.median, srtr.min,
	       srtr.max, srtq.median, srtq.min, srtq.max);
	printf("\nroute table of 4,096 entries: replace %.1f us; worst send "
	       "%.1f us while replacing (%.1f us without)\n", rc.replace_us,
	       rc.worst_send_us, rc.worst_send_idle_us);
	return 0;
}
