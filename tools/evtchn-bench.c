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
 *              latency on another thread while replacements run;
 *  scaling     T threads sending on their own vCPUs' ports against one
 *              thread, against the raw atomics on T threads
 *              (bench_scale.c);
 *  latency     the distributions of the send and the round trip, timed one
 *              by one, and of an empty timed iteration.
 *
 * Each figure is the median of --runs runs (default 7) with its spread
 * (min..max); distributions pool the samples of every run.  --json prints
 * one JSON object instead of the table; --plot draws the figures with
 * gnuplot (bench_plot.c).
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evtchn/backend.h"
#include "evtchn/evtchn.h"
#include "evtchn/route.h"
#include "evtchn_guest.h"

#include "bench.h"

void bench_init(struct bench *b, bool fifo, unsigned pages, uint32_t nr_vcpus)
{
	struct evtchn_domain_config cfg = { .domid = 1, .nr_vcpus = nr_vcpus };

	memset(b, 0, sizeof(*b));
	b->mem = aligned_alloc(EVTCHN_PAGE_SIZE, PAGES * EVTCHN_PAGE_SIZE);
	if (!b->mem || nr_vcpus > MAX_VCPUS || evtchn_host_create(&b->h))
		exit(1);
	memset(b->mem, 0, PAGES * EVTCHN_PAGE_SIZE);
	evtchn_guest_mem_flat(&cfg.mem, b->mem, PAGES * EVTCHN_PAGE_SIZE);
	if (evtchn_domain_create(b->h, &cfg, &b->d) ||
	    evtchn_guest_init(&b->g, evtchn_domain_shared_info(b->d), false,
			      nr_vcpus, bench_op, b))
		exit(1);
	if (!fifo)
		return;
	/* a control block per vCPU, each in a page of its own as a guest
	 * allocates them */
	for (uint32_t v = 0; v < nr_vcpus; v++)
		if (evtchn_guest_fifo_init_vcpu(
			    &b->g, v, b->mem + (CB_GFN + v) * EVTCHN_PAGE_SIZE,
			    CB_GFN + v, 0))
			exit(1);
	for (unsigned i = 0; i < pages; i++)
		if (evtchn_guest_fifo_expand(
			    &b->g, b->mem + (ARRAY_GFN + i) * EVTCHN_PAGE_SIZE,
			    ARRAY_GFN + i))
			exit(1);
}

void bench_fini(struct bench *b)
{
	evtchn_guest_fini(&b->g);
	evtchn_domain_destroy(b->d);
	evtchn_host_destroy(b->h);
	free(b->mem);
}

long bench_bind_ipi(struct bench *b, uint32_t vcpu)
{
	struct evtchn_bind_ipi bi = { .vcpu = vcpu };
	long rc = bench_op(b, 0, EVTCHNOP_bind_ipi, &bi, sizeof(bi));

	return rc ? rc : (long)bi.port;
}

static void noop(uint32_t vcpu, uint32_t port, void *opaque)
{
	(void)vcpu;
	(void)port;
	(*(unsigned long *)opaque)++;
}

static uint32_t ns32(uint64_t ns)
{
	return ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/*
 * The per-event loops come twice: untimed for the throughput figures, and
 * timed one event at a time for the distributions, where each sample runs
 * from one clock read to the next and so includes one clock_gettime();
 * timer_samples() measures that share alone.
 */

static inline void lib_event(struct bench *b, struct evtchn_send *s,
			     unsigned long *seen)
{
	bench_op(b, 0, EVTCHNOP_send, s, sizeof(*s));
	evtchn_guest_upcall(&b->g, 0, noop, seen);
}

/* ns per event: send through the entry, then the guest consumes; with
 * @samples, each event's time in it. */
static double send_lib(bool fifo, unsigned n, uint32_t *samples)
{
	struct bench b;
	struct evtchn_send s;
	unsigned long seen = 0;
	uint64_t t0, prev, t;

	bench_init(&b, fifo, 1, 2);
	s.port = bench_bind_ipi(&b, 0);
	t0 = prev = now_ns();
	if (!samples) {
		for (unsigned i = 0; i < n; i++)
			lib_event(&b, &s, &seen);
	} else {
		for (unsigned i = 0; i < n; i++) {
			lib_event(&b, &s, &seen);
			t = now_ns();
			samples[i] = ns32(t - prev);
			prev = t;
		}
	}
	t0 = now_ns() - t0;
	if (seen != n) {
		fprintf(stderr, "evtchn-bench: %lu of %u events seen\n", seen, n);
		exit(1);
	}
	bench_fini(&b);
	return (double)t0 / n;
}

struct raw_mem *raw_mem_new(void)
{
	struct raw_mem *m = aligned_alloc(64, sizeof(*m));

	if (!m)
		exit(1);
	memset(m, 0, sizeof(*m));
	return m;
}

static inline void raw_event(struct raw_mem *m, bool fifo)
{
	if (fifo)
		raw_event_fifo(m);
	else
		raw_event_2l(m);
}

/* ns per event: the same atomics on plain memory, sender and consumer;
 * with @samples, each event's time in it. */
static double send_raw(bool fifo, unsigned n, uint32_t *samples)
{
	struct raw_mem *m = raw_mem_new();
	uint64_t t0, prev, t;

	t0 = prev = now_ns();
	if (!samples) {
		for (unsigned i = 0; i < n; i++)
			raw_event(m, fifo);
	} else {
		for (unsigned i = 0; i < n; i++) {
			raw_event(m, fifo);
			t = now_ns();
			samples[i] = ns32(t - prev);
			prev = t;
		}
	}
	t0 = now_ns() - t0;
	free(m);
	return (double)t0 / n;
}

/* The timed loop with nothing in it: what each sample above includes. */
static void timer_samples(unsigned n, uint32_t *samples)
{
	uint64_t prev = now_ns(), t;

	for (unsigned i = 0; i < n; i++) {
		t = now_ns();
		samples[i] = ns32(t - prev);
		prev = t;
	}
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

	bench_init(&b, true, 128, 2);
	for (uint32_t i = 1; i < bound - n; i++)
		if (bench_bind_ipi(&b, 1) < 0)
			exit(1);
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++)
		ports[i] = bench_bind_ipi(&b, 1);
	c.bind = (double)(now_ns() - t0) / n;
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		s.port = ports[i];
		bench_op(&b, 0, EVTCHNOP_send, &s, sizeof(s));
	}
	c.send = (double)(now_ns() - t0) / n;
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		cl.port = ports[i];
		bench_op(&b, 0, EVTCHNOP_close, &cl, sizeof(cl));
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

	bench_init(&b, fifo, fifo ? 128 : 0, 2);
	before = mallinfo2().uordblks;
	for (uint32_t i = 1; i < n; i++)
		if (bench_bind_ipi(&b, 0) < 0)
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
 * in between, as in the raw ping-pong.  Each round trip's time goes to
 * @samples. */
static double roundtrip_lib(unsigned n, uint32_t *samples)
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
	uint64_t t0, prev, now, v;

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
			      bench_op, &b) ||
	    bench_op(&b, 0, EVTCHNOP_alloc_unbound, &au, sizeof(au)) ||
	    evtchn_backend_open(d0, 0, &rt.be))
		exit(1);
	rt.port = evtchn_backend_bind_interdomain(rt.be, 1, au.port);
	while (evtchn_backend_pending(rt.be) >= 0) /* the bind's event */
		;
	evtchn_backend_unmask(rt.be, rt.port);
	pthread_create(&t, NULL, rt_backend, &rt);
	s.port = au.port;
	t0 = prev = now_ns();
	for (unsigned i = 0; i < n; i++) {
		unsigned long seen = 0;

		bench_op(&b, 0, EVTCHNOP_send, &s, sizeof(s));
		if (read(rt.guest_efd, &v, sizeof(v)) != sizeof(v))
			exit(1);
		evtchn_guest_upcall(&b.g, 0, noop, &seen);
		now = now_ns();
		samples[i] = ns32(now - prev);
		prev = now;
	}
	t0 = prev - t0;
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
 * same wake-ups: the peer polls, the initiator blocks in read); each round
 * trip's time goes to @samples. */
static double roundtrip_raw(unsigned n, uint32_t *samples)
{
	struct pp pp = { eventfd(0, EFD_NONBLOCK), eventfd(0, 0), n };
	uint64_t one = 1, v, t0, prev, now;
	pthread_t t;

	pthread_create(&t, NULL, pp_peer, &pp);
	t0 = prev = now_ns();
	for (unsigned i = 0; i < n; i++) {
		(void)!write(pp.a, &one, sizeof(one));
		if (read(pp.b, &v, sizeof(v)) != sizeof(v))
			exit(1);
		now = now_ns();
		samples[i] = ns32(now - prev);
		prev = now;
	}
	t0 = prev - t0;
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

	bench_init(&b, true, 4, 2);
	for (unsigned i = 0; i < 4096; i++) {
		long p = bench_bind_ipi(&b, 0);

		r[i] = (struct evtchn_route){ .kind = EVTCHN_ROUTE_PORT_TO_PORT,
					      .port = p, .target_port = p };
	}
	r[0].kind = EVTCHN_ROUTE_PORT_TO_FD;
	r[0].fd = efd;
	l.port = bench_bind_ipi(&b, 1);
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

/* --- options, the runs, the report -------------------------------------- */

#define DEFAULT_EVENTS 200000u
#define QUICK_EVENTS 20000u
#define MAX_EVENTS 10000000u
/* Events timed one by one per run: bounds the samples kept. */
#define TIMED_EVENTS 200000u

struct results {
	int runs;
	unsigned n, timed;
	struct stat3 sl[2], sr[2], sq[2], so[2][3];
	double bpp2l, bppfifo;
	struct stat3 srtl, srtr, srtq;
	struct route_costs rc;
	struct scaling sc;
	struct dist d[D_NR];
};

static const uint32_t sizes[2] = { 1024, EVTCHN_FIFO_NR_CHANNELS };

static void measure_send_ops(struct results *res)
{
	static const enum dist_id lib_d[2] = { D_SEND_LIB_2L, D_SEND_LIB_FIFO };
	static const enum dist_id raw_d[2] = { D_SEND_RAW_2L, D_SEND_RAW_FIFO };
	double lib[2][MAX_RUNS], raw[2][MAX_RUNS], ratio[2][MAX_RUNS];
	double ops[2][3][MAX_RUNS];
	const unsigned nops = 1000;
	int runs = res->runs;

	for (int r = 0; r < runs; r++) {
		for (int f = 0; f < 2; f++) {
			raw[f][r] = send_raw(f, res->n, NULL);
			lib[f][r] = send_lib(f, res->n, NULL);
			ratio[f][r] = lib[f][r] / raw[f][r];
		}
		/* the same loops timed event by event */
		timer_samples(res->timed, dist_add(&res->d[D_TIMER], res->timed));
		for (int f = 0; f < 2; f++) {
			send_raw(f, res->timed,
				 dist_add(&res->d[raw_d[f]], res->timed));
			send_lib(f, res->timed,
				 dist_add(&res->d[lib_d[f]], res->timed));
		}
		for (int s = 0; s < 2; s++) {
			struct op_costs c = op_costs(sizes[s], nops);

			ops[s][0][r] = c.bind;
			ops[s][1][r] = c.send;
			ops[s][2][r] = c.close;
		}
	}
	for (int f = 0; f < 2; f++) {
		res->sl[f] = stat_of(lib[f], runs);
		res->sr[f] = stat_of(raw[f], runs);
		res->sq[f] = stat_of(ratio[f], runs);
		for (int k = 0; k < 3; k++)
			res->so[f][k] = stat_of(ops[f][k], runs);
	}
}

static void measure_roundtrip(struct results *res)
{
	double rtl[MAX_RUNS], rtr[MAX_RUNS], rtq[MAX_RUNS];
	unsigned n = res->n / 10;

	for (int r = 0; r < res->runs; r++) {
		rtl[r] = roundtrip_lib(n, dist_add(&res->d[D_RT_LIB], n));
		rtr[r] = roundtrip_raw(n, dist_add(&res->d[D_RT_RAW], n));
		rtq[r] = rtl[r] / rtr[r];
	}
	res->srtl = stat_of(rtl, res->runs);
	res->srtr = stat_of(rtr, res->runs);
	res->srtq = stat_of(rtq, res->runs);
}

static void dists_init(struct results *res)
{
	static const struct {
		const char *key, *title;
	} names[D_NR] = {
		[D_TIMER] = { "timer", "empty timed iteration" },
		[D_SEND_LIB_2L] = { "send_lib_2l", "send, library, 2-level" },
		[D_SEND_RAW_2L] = { "send_raw_2l",
				    "send, raw atomics, 2-level" },
		[D_SEND_LIB_FIFO] = { "send_lib_fifo", "send, library, FIFO" },
		[D_SEND_RAW_FIFO] = { "send_raw_fifo",
				      "send, raw atomics, FIFO" },
		[D_RT_LIB] = { "roundtrip_lib", "round trip, library" },
		[D_RT_RAW] = { "roundtrip_raw",
			       "round trip, raw eventfd ping-pong" },
	};

	for (int i = 0; i < D_NR; i++) {
		size_t per_run = i >= D_RT_LIB ? res->n / 10 : res->timed;

		dist_init(&res->d[i], names[i].key, names[i].title,
			  per_run * res->runs);
	}
}

/* "a (b..c)" with @prec decimals */
static void print_stat(const struct stat3 *s, int prec)
{
	printf("%.*f (%.*f..%.*f)", prec, s->median, prec, s->min, prec,
	       s->max);
}

static void print_scaling_text(const struct scaling *sc)
{
	printf("\nthread scaling: T threads, each sending on its own vCPU's "
	       "IPI port and consuming\n(%u events each, %u CPUs; threads "
	       "pinned to CPUs of their own up to %u)\n", sc->events,
	       sc->cpus, sc->cpus < sc->max_threads ? sc->cpus
						    : sc->max_threads);
	printf("                                  threads  Mevents/s, all    "
	       "scaling              over raw scaling\n");
	for (int s = 0; s < SC_NR; s++)
		for (unsigned t = 1; t <= sc->max_threads; t++) {
			printf("  %-36s %u   ", t == 1 ? scale_info[s].title : "",
			       t);
			print_stat(&sc->mev_s[s][t - 1], 1);
			printf("   ");
			print_stat(&sc->scaling[s][t - 1], 2);
			if (!scale_info[s].raw && t > 1) {
				printf("   ");
				print_stat(&sc->ratio[s][t - 1], 2);
			}
			printf("\n");
		}
}

static void print_latency_text(const struct results *res)
{
	printf("\nlatency, ns (samples pooled over the runs)        p50      "
	       "p90      p99        max    samples\n");
	for (int i = 0; i < D_NR; i++) {
		const struct dist *d = &res->d[i];

		printf("  %-42s %8u %8u %8u %10u %10zu\n", d->title,
		       dist_pct(d, 50), dist_pct(d, 90), dist_pct(d, 99),
		       dist_pct(d, 100), d->n);
	}
	printf("  (every send sample includes one clock_gettime(): the "
	       "empty timed iteration)\n");
}

static void print_text(const struct results *res)
{
	int runs = res->runs;

	printf("evtchn-bench: %d runs, median (min..max)\n\n", runs);
	printf("send + consume, one event   library ns     raw atomics ns   ratio\n");
	for (int f = 0; f < 2; f++)
		printf("  %-25s %6.1f (%.1f..%.1f)  %5.1f (%.1f..%.1f)  %.2f (%.2f..%.2f)\n",
		       f ? "FIFO" : "2-level", res->sl[f].median,
		       res->sl[f].min, res->sl[f].max, res->sr[f].median,
		       res->sr[f].min, res->sr[f].max, res->sq[f].median,
		       res->sq[f].min, res->sq[f].max);
	printf("\nper operation (FIFO)        bind_ipi ns    send ns   close ns\n");
	for (int s = 0; s < 2; s++)
		printf("  at %6u bound ports     %8.1f  %8.1f  %9.1f\n",
		       sizes[s], res->so[s][0].median, res->so[s][1].median,
		       res->so[s][2].median);
	printf("\nlibrary memory per bound port: 2-level %.1f B (4,096 ports), "
	       "FIFO %.1f B (131,072 ports)\n", res->bpp2l, res->bppfifo);
	printf("\nround trip guest->backend->guest  library ns     raw eventfd ping-pong ns   ratio\n");
	printf("  through a backend handle       %7.0f (%.0f..%.0f)  %7.0f (%.0f..%.0f)  %.2f (%.2f..%.2f)\n",
	       res->srtl.median, res->srtl.min, res->srtl.max,
	       res->srtr.median, res->srtr.min, res->srtr.max,
	       res->srtq.median, res->srtq.min, res->srtq.max);
	printf("\nroute table of 4,096 entries: replace %.1f us; worst send "
	       "%.1f us while replacing (%.1f us without)\n",
	       res->rc.replace_us, res->rc.worst_send_us,
	       res->rc.worst_send_idle_us);
	print_scaling_text(&res->sc);
	print_latency_text(res);
}

/* "key": [a, b, ...] of one field of @v[0..n) */
static void json_array(const char *key, const struct stat3 *v, unsigned n,
		       size_t field, const char *sep)
{
	printf("%s\"%s\": [", sep, key);
	for (unsigned i = 0; i < n; i++)
		printf("%s%.3f", i ? ", " : "",
		       *(const double *)((const char *)&v[i] + field));
	printf("]");
}

static void json_stat_arrays(const char *key, const struct stat3 *v,
			     unsigned n, const char *sep)
{
	char k[64];

	json_array(key, v, n, offsetof(struct stat3, median), sep);
	snprintf(k, sizeof(k), "%s_min", key);
	json_array(k, v, n, offsetof(struct stat3, min), ", ");
	snprintf(k, sizeof(k), "%s_max", key);
	json_array(k, v, n, offsetof(struct stat3, max), ", ");
}

static void print_scaling_json(const struct scaling *sc)
{
	printf(" \"scaling\": {\"cpus\": %u, \"events_per_thread\": %u, "
	       "\"threads\": [", sc->cpus, sc->events);
	for (unsigned t = 1; t <= sc->max_threads; t++)
		printf("%s%u", t > 1 ? ", " : "", t);
	printf("], \"pinned\": [");
	for (unsigned t = 1; t <= sc->max_threads; t++)
		printf("%s%s", t > 1 ? ", " : "",
		       sc->pinned[t] ? "true" : "false");
	printf("]");
	for (int s = 0; s < SC_NR; s++) {
		printf(",\n  \"%s\": {", scale_info[s].key);
		json_stat_arrays("mev_s", sc->mev_s[s], sc->max_threads, "");
		json_stat_arrays("scaling", sc->scaling[s], sc->max_threads,
				 ", ");
		if (!scale_info[s].raw) {
			printf(", \"raw\": \"%s\"",
			       scale_info[scale_info[s].raw_of].key);
			json_stat_arrays("ratio", sc->ratio[s],
					 sc->max_threads, ", ");
		}
		printf("}");
	}
	printf("},\n");
}

static void print_json(const struct results *res)
{
	printf("{\"runs\": %d, \"events\": %u,\n", res->runs, res->n);
	for (int f = 0; f < 2; f++)
		printf(" \"send_%s\": {\"lib_ns\": %.1f, \"raw_ns\": %.1f, "
		       "\"ratio\": %.2f, \"ratio_min\": %.2f, "
		       "\"ratio_max\": %.2f},\n", f ? "fifo" : "2l",
		       res->sl[f].median, res->sr[f].median, res->sq[f].median,
		       res->sq[f].min, res->sq[f].max);
	for (int s = 0; s < 2; s++)
		printf(" \"ops_at_%u\": {\"bind_ns\": %.1f, \"send_ns\": "
		       "%.1f, \"close_ns\": %.1f},\n", sizes[s],
		       res->so[s][0].median, res->so[s][1].median,
		       res->so[s][2].median);
	printf(" \"roundtrip\": {\"lib_ns\": %.0f, \"raw_ns\": %.0f, "
	       "\"ratio\": %.2f, \"ratio_min\": %.2f, \"ratio_max\": "
	       "%.2f},\n", res->srtl.median, res->srtr.median,
	       res->srtq.median, res->srtq.min, res->srtq.max);
	printf(" \"routes_4096\": {\"replace_us\": %.1f, "
	       "\"worst_send_us\": %.1f, \"worst_send_idle_us\": %.1f},\n",
	       res->rc.replace_us, res->rc.worst_send_us,
	       res->rc.worst_send_idle_us);
	print_scaling_json(&res->sc);
	printf(" \"latency_ns\": {");
	for (int i = 0; i < D_NR; i++) {
		const struct dist *d = &res->d[i];

		printf("%s\n  \"%s\": {\"samples\": %zu, \"p50\": %u, "
		       "\"p90\": %u, \"p99\": %u, \"max\": %u}", i ? "," : "",
		       d->key, d->n, dist_pct(d, 50), dist_pct(d, 90),
		       dist_pct(d, 99), dist_pct(d, 100));
	}
	printf("},\n");
	printf(" \"bytes_per_port_2l\": %.1f, \"bytes_per_port_fifo\": "
	       "%.1f}\n", res->bpp2l, res->bppfifo);
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [--runs N] [--events N] [--quick] [--json] "
		"[--plot PREFIX]\n"
		"  --runs N       repeat each measurement N times, 1..%d "
		"(default 7; --quick: 3)\n"
		"  --events N     events per measurement, %u..%u (default "
		"%u; --quick: %u)\n"
		"  --quick        fewer events and runs\n"
		"  --json         one JSON object instead of the table\n"
		"  --plot PREFIX  write data files, a gnuplot script and SVG "
		"figures\n"
		"                 named PREFIX + name (PREFIX: DIR/ or "
		"DIR/stem-)\n",
		prog, MAX_RUNS, 100u, MAX_EVENTS, DEFAULT_EVENTS,
		QUICK_EVENTS);
}

/* @arg as a whole number in [min, max]; else -1 after saying why. */
static long parse_count(const char *opt, const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, "evtchn-bench: %s: '%s' is not a number in "
				"%ld..%ld\n", opt, arg, min, max);
		return -1;
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "events", required_argument, NULL, 'e' },
		{ "quick", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct results res;
	long runs = 0, events = 0;
	bool json = false, quick = false;
	const char *plot = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			runs = parse_count("--runs", optarg, 1, MAX_RUNS);
			if (runs < 0)
				return 2;
			break;
		case 'e':
			events = parse_count("--events", optarg, 100,
					     MAX_EVENTS);
			if (events < 0)
				return 2;
			break;
		case 'q':
			quick = true;
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			plot = optarg;
			if (!*plot) {
				fprintf(stderr, "evtchn-bench: --plot: empty "
						"prefix\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default: /* getopt_long said what was wrong */
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "evtchn-bench: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr, argv[0]);
		return 2;
	}
	res.runs = runs ? runs : quick ? 3 : 7;
	res.n = events ? events : quick ? QUICK_EVENTS : DEFAULT_EVENTS;
	res.timed = res.n < TIMED_EVENTS ? res.n : TIMED_EVENTS;

	dists_init(&res);
	measure_send_ops(&res);
	res.bpp2l = bytes_per_port(4096, false);
	res.bppfifo = bytes_per_port(EVTCHN_FIFO_NR_CHANNELS, true);
	measure_roundtrip(&res);
	res.rc = route_costs(res.n / 1000 + 10);
	scaling_measure(&res.sc, res.runs, res.n);
	for (int i = 0; i < D_NR; i++)
		dist_sort(&res.d[i]);

	if (json)
		print_json(&res);
	else
		print_text(&res);
	fflush(stdout);
	/* The figures last: without gnuplot the numbers are still out. */
	c = plot && plot_write(plot, res.d, &res.sc) ? 3 : 0;
	for (int i = 0; i < D_NR; i++)
		dist_fini(&res.d[i]);
	return c;
}
