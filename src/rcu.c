/* SPDX-License-Identifier: MIT */
/* Lazy registration of reader threads with liburcu (see rcu.h). */
#include <pthread.h>

#include "rcu.h"

#ifdef EVTCHN_TSAN
char evtchn_rcu_tsan_token;
#endif

__thread int evtchn_rcu_registered;

static pthread_key_t rcu_key;
static pthread_once_t rcu_key_once = PTHREAD_ONCE_INIT;

static void rcu_thread_exit(void *arg)
{
	(void)arg;
	if (evtchn_rcu_registered) {
		urcu_memb_unregister_thread();
		evtchn_rcu_registered = 0;
	}
}

static void rcu_key_init(void)
{
	(void)pthread_key_create(&rcu_key, rcu_thread_exit);
}

void evtchn_rcu_register_slow(void)
{
	pthread_once(&rcu_key_once, rcu_key_init);
	urcu_memb_register_thread();
	evtchn_rcu_registered = 1;
	/* Any non-NULL value makes the destructor run at thread exit. */
	(void)pthread_setspecific(rcu_key, &evtchn_rcu_registered);
}
