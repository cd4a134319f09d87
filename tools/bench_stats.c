/* SPDX-License-Identifier: MIT */
/* evtchn-bench: medians over runs, and latency distributions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stat3 stat_of(double *v, int runs)
{
	qsort(v, runs, sizeof(*v), cmp_double);
	return (struct stat3){ v[runs / 2], v[0], v[runs - 1] };
}

void dist_init(struct dist *d, const char *key, const char *title,
	       size_t cap)
{
	d->key = key;
	d->title = title;
	d->n = 0;
	d->cap = cap;
	d->v = malloc(cap * sizeof(*d->v));
	if (!d->v) {
		fprintf(stderr, "evtchn-bench: no memory for %zu samples\n",
			cap);
		exit(1);
	}
}

void dist_fini(struct dist *d)
{
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}

uint32_t *dist_add(struct dist *d, size_t n)
{
	uint32_t *v = d->v + d->n;

	if (n > d->cap - d->n) {
		fprintf(stderr, "evtchn-bench: %s: more than %zu samples\n",
			d->key, d->cap);
		exit(1);
	}
	d->n += n;
	return v;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void dist_sort(struct dist *d)
{
	qsort(d->v, d->n, sizeof(*d->v), cmp_u32);
}

uint32_t dist_pct(const struct dist *d, double p)
{
	size_t rank;

	if (!d->n)
		return 0;
	/* nearest rank: the smallest sample with at least p% at or below */
	rank = (size_t)ceil(p / 100.0 * (double)d->n);
	if (rank < 1)
		rank = 1;
	if (rank > d->n)
		rank = d->n;
	return d->v[rank - 1];
}
