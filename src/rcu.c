/* SPDX-License-Identifier: MIT */
/* Lazy registration of reader threads with liburcu (see rcu.h). */
#include <pthread.h>

#include "rcu.h"

/* The reader's own state, to see whether the VMM registered this thread
 * with urcu_memb itself. */
#define _LGPL_SOURCE
#include <urcu/static/urcu-memb.h>

#ifdef EVTCHN_TSAN
char evtchn_rcu_tsan_token;
#endif

__thread int evtchn_rcu_registered;

static pthread_key_t rcu_key;
static pthread_once_t rcu_key_once = PTHREAD_ONCE_INIT;

static void rcu_thread_exit(void *arg)
{
	(void)arg;
	/* Only a registration of ours is undone. */
	if (evtchn_rcu_registered == 1)
		urcu_memb_unregister_thread();
	evtchn_rcu_registered = 0;
}

static void rcu_key_init(void)
{
	(void)pthread_key_create(&rcu_key, rcu_thread_exit);
}

void evtchn_rcu_register_slow(void)
{
	pthread_once(&rcu_key_once, rcu_key_init);
	if (URCU_TLS(urcu_memb_reader).registered) {
		/* The VMM uses urcu_memb on this thread: share its
		 * registration (2: not ours to undo). */
		evtchn_rcu_registered = 2;
		return;
	}
	urcu_memb_register_thread();
	evtchn_rcu_registered = 1;
	/* Any non-NULL value makes the destructor run at thread exit. */
	(void)pthread_setspecific(rcu_key, &evtchn_rcu_registered);
}
