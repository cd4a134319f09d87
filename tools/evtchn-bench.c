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
 *  memory      bytes of library memory per bound port.
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

#include "evtchn/evtchn.h"
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
	return 0;
}
