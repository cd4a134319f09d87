/* SPDX-License-Identifier: MIT */
/* Between the parts of evtchn-bench: the guest fixture, the raw atomics
 * the limit is made of, statistics, thread scaling and the figures. */
#ifndef EVTCHN_BENCH_H
#define EVTCHN_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include "evtchn/evtchn.h"
#include "evtchn_guest.h"

#define PAGES 256u
/* Each vCPU's hypercall argument in guest memory: its own cache line. */
#define ARG_GPA (16u * EVTCHN_PAGE_SIZE)
#define ARG_STRIDE 256u
#define CB_GFN 20u    /* FIFO control blocks: one page per vCPU */
#define ARRAY_GFN 32u /* FIFO event array pages */
#define MAX_RUNS 31
#define MAX_VCPUS 4

struct bench {
	struct evtchn_host *h;
	struct evtchn_domain *d;
	unsigned char *mem;
	struct evtchn_guest g;
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The guest issues EVTCHNOP @cmd from @vcpu: the argument goes through
 * guest memory as a real hypercall's does.  Each vCPU has its own argument
 * slot, so one thread per vCPU may call it concurrently. */
static inline long bench_op(void *ctx, uint32_t vcpu, int cmd, void *arg,
			    size_t len)
{
	struct bench *b = ctx;
	uint64_t gpa = ARG_GPA + vcpu * ARG_STRIDE;
	uint64_t args[6] = { (uint64_t)cmd, gpa };
	long rc;

	memcpy(b->mem + gpa, arg, len);
	rc = evtchn_hypercall(b->d, vcpu, __HYPERVISOR_event_channel_op, args);
	memcpy(arg, b->mem + gpa, len);
	return rc;
}

/* A domain of @nr_vcpus vCPUs (1..MAX_VCPUS) and its reference consumer;
 * FIFO with @pages event-array pages when @fifo.  Exits on failure. */
void bench_init(struct bench *b, bool fifo, unsigned pages, uint32_t nr_vcpus);
void bench_fini(struct bench *b);
/* EVTCHNOP_bind_ipi for @vcpu: the port, or a negative Xen error. */
long bench_bind_ipi(struct bench *b, uint32_t vcpu);

/* --- the raw limit ----------------------------------------------------- */

/*
 * The guest memory one delivery touches, laid out as in a real guest: the
 * 2-level pending and mask words, a vcpu_info (upcall_pending and the
 * selector share its line), FIFO event words and a control block (ready
 * and the queue heads).  Each thread of the scaling test has its own.
 */
struct raw_mem {
	_Alignas(64) uint64_t pending[8];
	_Alignas(64) uint64_t mask[8];
	_Alignas(64) uint8_t upcall;
	uint64_t sel;
	_Alignas(64) uint32_t word[16];
	_Alignas(64) uint32_t ready;
	uint32_t head[16];
	volatile uint64_t sink; /* what the consumer read */
};

#define RAW_PORT 1u

/* One 2-level event on plain memory: the sender's pending, mask,
 * selector and upcall, then the consumer's clears. */
static inline void raw_event_2l(struct raw_mem *m)
{
	const uint64_t bit = 1ull << RAW_PORT;

	if (!(__atomic_fetch_or(&m->pending[0], bit, __ATOMIC_SEQ_CST) & bit) &&
	    !(__atomic_load_n(&m->mask[0], __ATOMIC_SEQ_CST) & bit) &&
	    !(__atomic_fetch_or(&m->sel, 1, __ATOMIC_SEQ_CST) & 1))
		__atomic_fetch_or(&m->upcall, 1, __ATOMIC_SEQ_CST);
	/* consumer */
	__atomic_store_n(&m->upcall, 0, __ATOMIC_SEQ_CST);
	m->sink += __atomic_exchange_n(&m->sel, 0, __ATOMIC_SEQ_CST);
	m->sink += __atomic_load_n(&m->mask[0], __ATOMIC_SEQ_CST);
	__atomic_fetch_and(&m->pending[0], ~bit, __ATOMIC_SEQ_CST);
}

/* One FIFO event on plain memory: pending, mask, linked, the queue head,
 * ready and upcall, then the consumer's unlink and clear. */
static inline void raw_event_fifo(struct raw_mem *m)
{
	uint32_t *word = &m->word[RAW_PORT], w;

	if (!(__atomic_fetch_or(word, 1u << 31, __ATOMIC_SEQ_CST) &
	      (1u << 31)) &&
	    !(__atomic_load_n(word, __ATOMIC_SEQ_CST) & (1u << 30)) &&
	    !(__atomic_fetch_or(word, 1u << 29, __ATOMIC_SEQ_CST) &
	      (1u << 29))) {
		__atomic_store_n(&m->head[7], RAW_PORT, __ATOMIC_SEQ_CST);
		if (!(__atomic_fetch_or(&m->ready, 1u << 7, __ATOMIC_SEQ_CST) &
		      0x80))
			__atomic_fetch_or(&m->upcall, 1, __ATOMIC_SEQ_CST);
	}
	/* consumer */
	__atomic_store_n(&m->upcall, 0, __ATOMIC_SEQ_CST);
	m->sink += __atomic_exchange_n(&m->ready, 0, __ATOMIC_SEQ_CST);
	w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
	__atomic_compare_exchange_n(word, &w, w & ~((1u << 29) | 0x1ffff),
				    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	__atomic_fetch_and(word, ~(1u << 31), __ATOMIC_SEQ_CST);
}

/* A zeroed raw_mem (exits on failure); free() it. */
struct raw_mem *raw_mem_new(void);

/* --- statistics -------------------------------------------------------- */

struct stat3 {
	double median, min, max;
};

/* Sorts @v. */
struct stat3 stat_of(double *v, int runs);

/* A latency distribution: samples in ns pooled over the runs. */
struct dist {
	const char *key;   /* JSON key and data file name */
	const char *title; /* table row and legend */
	uint32_t *v;
	size_t n, cap;
};

void dist_init(struct dist *d, const char *key, const char *title,
	       size_t cap);
void dist_fini(struct dist *d);
/* Room for @n more samples, to be filled by the caller; exits when the
 * capacity is exceeded. */
uint32_t *dist_add(struct dist *d, size_t n);
/* Sort once every sample is in; then the percentiles. */
void dist_sort(struct dist *d);
/* The nearest-rank @p-th percentile (0 < p <= 100) of a sorted dist. */
uint32_t dist_pct(const struct dist *d, double p);

/* The distributions evtchn-bench collects. */
enum dist_id {
	D_TIMER,
	D_SEND_LIB_2L,
	D_SEND_RAW_2L,
	D_SEND_LIB_FIFO,
	D_SEND_RAW_FIFO,
	D_RT_LIB,
	D_RT_RAW,
	D_NR
};

/* --- thread scaling ---------------------------------------------------- */

enum scale_series {
	SC_LIB_2L,	 /* library, 2-level, IPI ports 1..T */
	SC_LIB_2L_APART, /* library, 2-level, ports 512 apart */
	SC_RAW_2L,	 /* raw atomics, 2-level, memory of its own each */
	SC_LIB_FIFO,
	SC_LIB_FIFO_APART, /* FIFO, ports 16 apart */
	SC_RAW_FIFO,
	SC_NR
};

struct scale_info {
	const char *key, *title;
	bool fifo, raw, apart;
	enum scale_series raw_of; /* the limit a library series is held to */
};

extern const struct scale_info scale_info[SC_NR];

struct scaling {
	unsigned cpus;		 /* CPUs this process may run on */
	unsigned max_threads;	 /* 2..MAX_VCPUS */
	unsigned events;	 /* per thread */
	bool pinned[MAX_VCPUS + 1]; /* threads pinned to CPUs of their own */
	/* [series][threads - 1]: aggregate Mevents/s; throughput(T) /
	 * throughput(1) of the same run; a library series' scaling over its
	 * raw limit's scaling */
	struct stat3 mev_s[SC_NR][MAX_VCPUS];
	struct stat3 scaling[SC_NR][MAX_VCPUS];
	struct stat3 ratio[SC_NR][MAX_VCPUS];
};

/* Every series at 1..max_threads threads, @runs times; exits 1 when a
 * thread did not see each of its @events events exactly once. */
void scaling_measure(struct scaling *sc, int runs, unsigned events);

/* --- figures ----------------------------------------------------------- */

/* Data files, a gnuplot script and the SVG figures it draws, named
 * @prefix + name (@prefix: "DIR/" or "DIR/stem-").  0, or -1 after saying
 * why on stderr. */
int plot_write(const char *prefix, const struct dist *d,
	       const struct scaling *sc);

#endif /* EVTCHN_BENCH_H */
