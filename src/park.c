/* SPDX-License-Identifier: MIT */
/* Park points (park.h): test-only, never in a release build. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "park.h"

#ifdef EVTCHN_PARK

#define MAX_ARMED 8

struct park {
	const char *name;   /* NULL: slot unused */
	uint64_t key;
	unsigned park_hit;  /* 0: count only */
	unsigned hits;
	bool released;
};

_Atomic int evtchn_park_armed;
__thread int evtchn_locks_held;

static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static struct park parks[MAX_ARMED];

static struct park *park_find(const char *name)
{
	for (unsigned i = 0; i < MAX_ARMED; i++)
		if (parks[i].name && !strcmp(parks[i].name, name))
			return &parks[i];
	return NULL;
}

void evtchn_park_hit(const char *name, uint64_t key)
{
	struct park *p;

	pthread_mutex_lock(&park_lock);
	p = park_find(name);
	if (p && (p->key == PARK_ANY || p->key == key)) {
		p->hits++;
		pthread_cond_broadcast(&park_cond);
		if (p->hits == p->park_hit)
			while (!p->released && p->name)
				pthread_cond_wait(&park_cond, &park_lock);
	}
	pthread_mutex_unlock(&park_lock);
}

int evtchn_park_arm(const char *name, uint64_t key, unsigned park_hit)
{
	struct park *p;
	int rc = 0;

	pthread_mutex_lock(&park_lock);
	p = park_find(name);
	for (unsigned i = 0; !p && i < MAX_ARMED; i++)
		if (!parks[i].name)
			p = &parks[i];
	if (p) {
		*p = (struct park){ .name = name, .key = key,
				    .park_hit = park_hit };
		atomic_store(&evtchn_park_armed, 1);
	} else {
		rc = -ENOSPC;
	}
	pthread_mutex_unlock(&park_lock);
	return rc;
}

bool evtchn_park_wait(const char *name, unsigned hits, unsigned timeout_ms)
{
	struct timespec ts;
	struct park *p;
	bool ok = false;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&park_lock);
	for (;;) {
		p = park_find(name);
		if (p && p->hits >= hits) {
			ok = true;
			break;
		}
		if (pthread_cond_timedwait(&park_cond, &park_lock, &ts) ==
		    ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&park_lock);
	return ok;
}

void evtchn_park_release(const char *name)
{
	struct park *p;

	pthread_mutex_lock(&park_lock);
	p = park_find(name);
	if (p) {
		p->released = true;
		pthread_cond_broadcast(&park_cond);
	}
	pthread_mutex_unlock(&park_lock);
}

unsigned evtchn_park_hits(const char *name)
{
	struct park *p;
	unsigned n;

	pthread_mutex_lock(&park_lock);
	p = park_find(name);
	n = p ? p->hits : 0;
	pthread_mutex_unlock(&park_lock);
	return n;
}

static __thread unsigned long fail_at, alloc_count;

void evtchn_fail_alloc(unsigned long n)
{
	fail_at = n;
	alloc_count = 0;
}

unsigned long evtchn_fail_alloc_count(void)
{
	return alloc_count;
}

/* Whether this allocation is the one to fail. */
static bool fail_now(void)
{
	return ++alloc_count == fail_at;
}

void *evtchn_test_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : calloc(n, size);
}

void *evtchn_test_malloc(size_t size)
{
	return fail_now() ? NULL : malloc(size);
}

void *evtchn_test_aligned_alloc(size_t align, size_t size)
{
	return fail_now() ? NULL : aligned_alloc(align, size);
}

void evtchn_park_reset(void)
{
	pthread_mutex_lock(&park_lock);
	atomic_store(&evtchn_park_armed, 0);
	for (unsigned i = 0; i < MAX_ARMED; i++)
		parks[i].name = NULL;
	pthread_cond_broadcast(&park_cond);
	pthread_mutex_unlock(&park_lock);
}

#endif /* EVTCHN_PARK */
