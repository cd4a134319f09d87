/* SPDX-License-Identifier: MIT */
/* Lazy registration of reader threads with liburcu (see rcu.h). */
#include <pthread.h>

#include "park.h"
#include "rcu.h"

/* The reader's own state, to see whether the VMM registered this thread
 * with urcu_memb itself. */
#define _LGPL_SOURCE
#include <urcu/static/urcu-memb.h>

#ifdef EVTCHN_TSAN
char evtchn_rcu_tsan_token;
#endif

__thread int evtchn_rcu_registered;
__thread int evtchn_rcu_depth __attribute__((tls_model("initial-exec")));
__thread struct evtchn_vcpu *evtchn_upcalls_owed
	__attribute__((tls_model("initial-exec")));

#ifdef EVTCHN_PARK
/*
 * Test builds: how many threads have entered the library's read side (and
 * not exited), and whether a grace period may end at once when none but
 * the caller has.  The caller of evtchn_synchronize_rcu() is never inside
 * a read-side section itself, so with no other such thread no read-side
 * section can have begun before the call and still run: the grace period
 * is over.  A thread entering its first section counts itself first (a
 * sequentially consistent increment, then a full fence); the caller
 * fences, then reads the count: either it sees the newcomer and waits, or
 * the newcomer's sections see everything the caller did before the call.
 */
static _Atomic unsigned long rcu_readers, rcu_lone_skips;
static _Atomic bool rcu_lone_on;

unsigned long evtchn_lone_grace(bool on)
{
	atomic_store(&rcu_lone_on, on);
	return atomic_load(&rcu_lone_skips);
}

bool evtchn_rcu_lone(void)
{
	unsigned long n;

	if (!atomic_load_explicit(&rcu_lone_on, memory_order_relaxed))
		return false;
	atomic_thread_fence(memory_order_seq_cst);
	n = atomic_load(&rcu_readers);
	if (n > 1 || (n == 1 && !evtchn_rcu_registered))
		return false;
	atomic_fetch_add_explicit(&rcu_lone_skips, 1, memory_order_relaxed);
	return true;
}
#endif

static pthread_key_t rcu_key;
static pthread_once_t rcu_key_once = PTHREAD_ONCE_INIT;

static void rcu_thread_exit(void *arg)
{
	(void)arg;
	/* Only a registration of ours is undone. */
	if (evtchn_rcu_registered == 1)
		urcu_memb_unregister_thread();
#ifdef EVTCHN_PARK
	if (evtchn_rcu_registered)
		atomic_fetch_sub(&rcu_readers, 1);
#endif
	evtchn_rcu_registered = 0;
}

static void rcu_key_init(void)
{
	(void)pthread_key_create(&rcu_key, rcu_thread_exit);
}

void evtchn_rcu_register_slow(void)
{
	pthread_once(&rcu_key_once, rcu_key_init);
#ifdef EVTCHN_PARK
	atomic_fetch_add(&rcu_readers, 1);
	atomic_thread_fence(memory_order_seq_cst);
#endif
	if (URCU_TLS(urcu_memb_reader).registered) {
		/* The VMM uses urcu_memb on this thread: share its
		 * registration (2: not ours to undo). */
		evtchn_rcu_registered = 2;
#ifdef EVTCHN_PARK
		/* counted: the destructor uncounts it */
		(void)pthread_setspecific(rcu_key, &evtchn_rcu_registered);
#endif
		return;
	}
	urcu_memb_register_thread();
	evtchn_rcu_registered = 1;
	/* Any non-NULL value makes the destructor run at thread exit. */
	(void)pthread_setspecific(rcu_key, &evtchn_rcu_registered);
}
