/* SPDX-License-Identifier: MIT */
/*
 * evtchn-bench: thread scaling.
 *
 * A domain of T vCPUs with one IPI port bound to each; T threads, thread i
 * playing vCPU i: it sends on its own port through the hypercall entry
 * (EVTCHNOP_send) and consumes with the reference consumer's upcall
 * handler on vCPU i, a fixed number of events each, all started together.
 * The limit: the raw atomics of one delivery (raw_event_*()) on T threads,
 * each on memory of its own.
 *
 * The reference consumer is safe here: a vCPU's upcall handler touches only
 * that vCPU's vcpu_info, selector, scan position and FIFO heads and control
 * block, and clears pending bits with atomic read-modify-writes, skipping
 * the ports another vCPU owns (evtchn_guest_bind_port()).
 *
 * Ports 1..T are what a guest binding its IPIs one after the other gets:
 * on 2-level they share a pending word, on FIFO their event words share a
 * cache line, and the threads' atomics on them contend.  The "apart"
 * series binds them a cache line apart (512 ports on 2-level, 16 on FIFO)
 * to show what that sharing costs.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

const struct scale_info scale_info[SC_NR] = {
	[SC_LIB_2L] = { "lib_2l", "library, 2-level", false, false, false,
			SC_RAW_2L },
	[SC_LIB_2L_APART] = { "lib_2l_apart",
			      "library, 2-level, ports a line apart", false,
			      false, true, SC_RAW_2L },
	[SC_RAW_2L] = { "raw_2l", "raw atomics, 2-level", false, true, false,
			SC_RAW_2L },
	[SC_LIB_FIFO] = { "lib_fifo", "library, FIFO", true, false, false,
			  SC_RAW_FIFO },
	[SC_LIB_FIFO_APART] = { "lib_fifo_apart",
				"library, FIFO, ports a line apart", true,
				false, true, SC_RAW_FIFO },
	[SC_RAW_FIFO] = { "raw_fifo", "raw atomics, FIFO", true, true, false,
			  SC_RAW_FIFO },
};

struct scale_run;

struct scale_thr {
	struct scale_run *run;
	uint32_t vcpu, port;
	int cpu; /* pinned to it, or -1 */
	struct raw_mem *raw;
	uint64_t t0, t1;
	unsigned long seen, wrong;
	pthread_t tid;
} __attribute__((aligned(64)));

struct scale_run {
	const struct scale_info *si;
	struct bench b;
	unsigned threads, events;
	pthread_barrier_t start;
	struct scale_thr thr[MAX_VCPUS];
};

static void scale_event(uint32_t vcpu, uint32_t port, void *opaque)
{
	struct scale_thr *t = opaque;

	(void)vcpu;
	if (port == t->port)
		t->seen++;
	else
		t->wrong++;
}

static void scale_pin(const struct scale_thr *t)
{
	cpu_set_t set;

	if (t->cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	/* best effort: unpinned, the figure is noisier, not wrong */
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void lib_event(struct scale_thr *t, struct evtchn_send *s)
{
	struct bench *b = &t->run->b;

	bench_op(b, t->vcpu, EVTCHNOP_send, s, sizeof(*s));
	evtchn_guest_upcall(&b->g, t->vcpu, scale_event, t);
}

static void *scale_thread(void *arg)
{
	struct scale_thr *t = arg;
	struct scale_run *r = t->run;
	struct evtchn_send s = { .port = t->port };
	bool fifo = r->si->fifo;

	scale_pin(t);
	/* Warm up outside the timed part: the library registers a sending
	 * thread with RCU on its first send. */
	if (r->si->raw) {
		if (fifo)
			raw_event_fifo(t->raw);
		else
			raw_event_2l(t->raw);
	} else {
		lib_event(t, &s);
		t->seen = 0;
	}
	pthread_barrier_wait(&r->start);
	t->t0 = now_ns();
	if (r->si->raw && fifo)
		for (unsigned i = 0; i < r->events; i++)
			raw_event_fifo(t->raw);
	else if (r->si->raw)
		for (unsigned i = 0; i < r->events; i++)
			raw_event_2l(t->raw);
	else
		for (unsigned i = 0; i < r->events; i++)
			lib_event(t, &s);
	t->t1 = now_ns();
	return NULL;
}

/* The ports of the library series: one per vCPU, consecutive or a cache
 * line apart; the ports in between are bound to vCPU 0 and stay idle. */
static void scale_bind(struct scale_run *r)
{
	uint32_t stride = !r->si->apart ? 1 : r->si->fifo ? 16 : 512;
	uint32_t last = 1 + (r->threads - 1) * stride;

	for (uint32_t p = 1; p <= last; p++) {
		bool used = (p - 1) % stride == 0;
		uint32_t vcpu = used ? (p - 1) / stride : 0;
		long port = bench_bind_ipi(&r->b, vcpu);

		if (port != (long)p) {
			fprintf(stderr, "evtchn-bench: bind_ipi gave %ld, not "
					"port %u\n", port, p);
			exit(1);
		}
		evtchn_guest_bind_port(&r->b.g, p, vcpu);
		if (used)
			r->thr[vcpu].port = p;
	}
}

/* Aggregate Mevents/s of @threads threads of series @si. */
static double scale_once(const struct scale_info *si, unsigned threads,
			 unsigned events, const int *cpus, unsigned ncpus)
{
	struct scale_run *r = aligned_alloc(64, sizeof(*r));
	uint64_t t0 = UINT64_MAX, t1 = 0;

	if (!r)
		exit(1);
	memset(r, 0, sizeof(*r));
	r->si = si;
	r->threads = threads;
	r->events = events;
	if (!si->raw) {
		bench_init(&r->b, si->fifo, 1, threads);
		scale_bind(r);
	}
	pthread_barrier_init(&r->start, NULL, threads);
	for (unsigned i = 0; i < threads; i++) {
		struct scale_thr *t = &r->thr[i];

		t->run = r;
		t->vcpu = i;
		t->cpu = threads <= ncpus ? cpus[i] : -1;
		t->raw = si->raw ? raw_mem_new() : NULL;
		if (pthread_create(&t->tid, NULL, scale_thread, t))
			exit(1);
	}
	for (unsigned i = 0; i < threads; i++) {
		struct scale_thr *t = &r->thr[i];

		pthread_join(t->tid, NULL);
		if (t->t0 < t0)
			t0 = t->t0;
		if (t->t1 > t1)
			t1 = t->t1;
		free(t->raw);
		if (!si->raw && (t->seen != events || t->wrong)) {
			fprintf(stderr, "evtchn-bench: %s, %u threads: vCPU "
					"%u saw %lu of %u events on port %u "
					"and %lu on other ports\n",
				si->title, threads, i, t->seen, events,
				t->port, t->wrong);
			exit(1);
		}
	}
	pthread_barrier_destroy(&r->start);
	if (!si->raw)
		bench_fini(&r->b);
	free(r);
	return (double)threads * events / ((double)(t1 - t0) / 1e3);
}

/* How many CPUs this process may run on (0: unknown), the first @max of
 * them in @cpus. */
static unsigned allowed_cpus(int *cpus, unsigned max)
{
	cpu_set_t set;
	unsigned n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set)) {
			if (n < max)
				cpus[n] = c;
			n++;
		}
	return n;
}

void scaling_measure(struct scaling *sc, int runs, unsigned events)
{
	static double mev[SC_NR][MAX_VCPUS][MAX_RUNS];
	static double sca[SC_NR][MAX_VCPUS][MAX_RUNS];
	static double rat[SC_NR][MAX_VCPUS][MAX_RUNS];
	int cpus[MAX_VCPUS];
	unsigned pin;

	memset(sc, 0, sizeof(*sc));
	/* Threads are pinned to CPUs of their own while there are enough. */
	pin = allowed_cpus(cpus, MAX_VCPUS);
	sc->cpus = pin ? pin : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	sc->max_threads = sc->cpus < 2 ? 2 : sc->cpus > MAX_VCPUS ? MAX_VCPUS
								  : sc->cpus;
	sc->events = events;
	for (unsigned t = 1; t <= sc->max_threads; t++)
		sc->pinned[t] = t <= pin;
	/* Every series at every thread count within a run, so that a slow
	 * moment of the machine hits one run of all of them. */
	for (int r = 0; r < runs; r++)
		for (unsigned t = 1; t <= sc->max_threads; t++)
			for (int s = 0; s < SC_NR; s++)
				mev[s][t - 1][r] =
					scale_once(&scale_info[s], t, events,
						   cpus, pin);
	for (int s = 0; s < SC_NR; s++)
		for (unsigned t = 1; t <= sc->max_threads; t++)
			for (int r = 0; r < runs; r++)
				sca[s][t - 1][r] = mev[s][t - 1][r] /
						   mev[s][0][r];
	for (int s = 0; s < SC_NR; s++)
		for (unsigned t = 1; t <= sc->max_threads; t++)
			for (int r = 0; r < runs; r++)
				rat[s][t - 1][r] =
					sca[s][t - 1][r] /
					sca[scale_info[s].raw_of][t - 1][r];
	for (int s = 0; s < SC_NR; s++)
		for (unsigned t = 1; t <= sc->max_threads; t++) {
			sc->mev_s[s][t - 1] = stat_of(mev[s][t - 1], runs);
			sc->scaling[s][t - 1] = stat_of(sca[s][t - 1], runs);
			sc->ratio[s][t - 1] = stat_of(rat[s][t - 1], runs);
		}
}
