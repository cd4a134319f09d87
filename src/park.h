/* SPDX-License-Identifier: MIT */
/*
 * Park points: named places in the library where a test can stop a thread,
 * so that an interleaving a stress run would hit once in a billion tries
 * happens every time.  Test-only: built with -Dpark=enabled (the default
 * for every build type but release); a release build has none, and a
 * PARK_POINT() is then nothing at all.
 *
 * A test arms a point (a name and a key, usually a port number, or
 * PARK_ANY), then drives threads into it.  The @park_hit-th matching hit
 * parks its thread until evtchn_park_release(); every hit is counted and
 * wakes evtchn_park_wait().  A point that is not armed costs one relaxed
 * load of a flag.
 *
 * Points are process-global (a test process arms them for the library it
 * tests): never built into a library that ships.  The names in use are
 * listed in docs/reliability.md.
 *
 * The same builds can let a grace period that no reader can be in end at
 * once (evtchn_lone_grace()), for tests that run on one thread.
 *
 * The same builds can read a domain's whole port table in one call
 * (evtchn_test_status()), and say which ports changed since they last
 * said (evtchn_test_changed()), for a test that compares the table with
 * a model after every operation.
 *
 * The same builds can make an allocation fail: evtchn_fail_alloc(n) makes
 * the n-th allocation of the library on the calling thread fail from now
 * (internal.h routes calloc, malloc and aligned_alloc through here), so a
 * test can sweep n over every allocation a call makes.
 */
#ifndef EVTCHN_PARK_H
#define EVTCHN_PARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PARK_ANY UINT64_MAX

#ifdef EVTCHN_PARK
#include <stdatomic.h>

#define PARK_API __attribute__((visibility("default")))

extern PARK_API _Atomic int evtchn_park_armed;
PARK_API void evtchn_park_hit(const char *name, uint64_t key);

/* Arm @name for @key (PARK_ANY: any key); its @park_hit-th matching hit
 * parks (0: count only).  -ENOSPC when too many points are armed. */
PARK_API int evtchn_park_arm(const char *name, uint64_t key,
			     unsigned park_hit);
/* Wait until @name has been hit @hits times (its parked thread, if that
 * hit parks, is parked by then).  false after @timeout_ms. */
PARK_API bool evtchn_park_wait(const char *name, unsigned hits,
			       unsigned timeout_ms);
/* Let the thread parked at @name (or the one that will park) go on. */
PARK_API void evtchn_park_release(const char *name);
/* Hits of @name so far. */
PARK_API unsigned evtchn_park_hits(const char *name);
/* Disarm every point (releasing any parked thread). */
PARK_API void evtchn_park_reset(void);

/* The @n-th allocation by the library on this thread from now fails (1:
 * the next one); 0 stops failing.  Counting starts again at each call. */
PARK_API void evtchn_fail_alloc(unsigned long n);
/* Allocations the library made on this thread since evtchn_fail_alloc(). */
PARK_API unsigned long evtchn_fail_alloc_count(void);
/*
 * Grace periods no other thread can be in end at once (on: from now; off:
 * every grace period waits again).  Only when no thread but the caller has
 * entered the library's read side (rcu.c): a single-threaded test (the
 * fuzzers) stops paying for the waits, a second thread that comes in makes
 * them real again.  Returns how many grace periods ended that way so far.
 */
PARK_API unsigned long evtchn_lone_grace(bool on);
/*
 * EVTCHNOP_status of ports [@first, @first + @n) of @d as a privileged
 * domain reads them (status, notify vCPU, the union member; every other
 * byte 0; dom and port set), into @out, as far as they are valid, under
 * the domain's lock.  Returns how many ports of @d are valid, or -EINVAL.
 */
struct evtchn_domain;
struct evtchn_status;
PARK_API int evtchn_test_status(struct evtchn_domain *d, uint32_t first,
				uint32_t n, struct evtchn_status *out);
/*
 * The ports of @d whose binding or notify vCPU changed since the last call
 * (every write of either goes through port_changed(), which the KVM back
 * end's copy of the table also relies on), into @ports, the first
 * min(@max, 64); the log starts again.  Returns how many changes there
 * were (a port may be there twice; more than 64: the caller must look at
 * every port), or -EINVAL.  Under the domain's lock.
 */
PARK_API int evtchn_test_changed(struct evtchn_domain *d, uint32_t *ports,
				 uint32_t max);
void *evtchn_test_calloc(size_t n, size_t size);
void *evtchn_test_malloc(size_t size);
void *evtchn_test_aligned_alloc(size_t align, size_t size);

#define PARK_POINT(name, key)                                               \
	do {                                                                \
		if (atomic_load_explicit(&evtchn_park_armed,                \
					 memory_order_relaxed))             \
			evtchn_park_hit(name, (uint64_t)(key));             \
	} while (0)
#else
#define PARK_POINT(name, key) do { (void)(key); } while (0)
#endif

#endif /* EVTCHN_PARK_H */
