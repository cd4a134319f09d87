/* SPDX-License-Identifier: MIT */
/*
 * RCU for libevtchn: liburcu's membarrier flavour (urcu_memb_*), named
 * explicitly so a VMM using another flavour coexists with it.
 *
 * Readers (the send path) register lazily: the first read-side section of a
 * thread registers it with liburcu and a thread-exit destructor unregisters
 * it, so a VMM need not know about RCU.  A thread the VMM registered with
 * urcu_memb itself keeps the VMM's registration (the VMM must keep it
 * registered while it calls into the library).
 *
 * ThreadSanitizer cannot see the ordering a grace period gives (it comes
 * from membarrier()), so under TSan every read-side unlock releases, and
 * every grace period acquires, one shadow object: the happens-before edge
 * RCU guarantees, stated to the tool.
 */
#ifndef EVTCHN_RCU_H
#define EVTCHN_RCU_H

#include <stdbool.h>
#include <urcu/urcu-memb.h>

#if defined(__SANITIZE_THREAD__)
#define EVTCHN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EVTCHN_TSAN 1
#endif
#endif

#ifdef EVTCHN_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char evtchn_rcu_tsan_token;
#define evtchn_tsan_release() __tsan_release(&evtchn_rcu_tsan_token)
#define evtchn_tsan_acquire() __tsan_acquire(&evtchn_rcu_tsan_token)
#else
#define evtchn_tsan_release() do { } while (0)
#define evtchn_tsan_acquire() do { } while (0)
#endif

void evtchn_rcu_register_slow(void);
extern __thread int evtchn_rcu_registered;

/*
 * The calling thread's read-side depth, and the vCPUs whose upcall it
 * raised inside its sections and has not told the VMM of yet (upcall.c).
 * The VMM's upcall and irq callbacks are made when the outermost section
 * ends: outside the read side, so a VMM lock they take may be held across
 * a call that waits for a grace period.  Initial-exec: the send path pays
 * no __tls_get_addr for them.
 */
struct evtchn_vcpu;
extern __thread int evtchn_rcu_depth __attribute__((tls_model("initial-exec")));
extern __thread struct evtchn_vcpu *evtchn_upcalls_owed
	__attribute__((tls_model("initial-exec")));
void evtchn_upcalls_flush(void);

#ifdef EVTCHN_PARK
/* Test builds: a grace period no other thread can be in (park.h,
 * evtchn_lone_grace()). */
bool evtchn_rcu_lone(void);
#endif

static inline void evtchn_rcu_read_lock(void)
{
	if (__builtin_expect(!evtchn_rcu_registered, 0))
		evtchn_rcu_register_slow();
	urcu_memb_read_lock();
	evtchn_rcu_depth++;
}

static inline void evtchn_rcu_read_unlock(void)
{
	evtchn_tsan_release();
	urcu_memb_read_unlock();
	if (--evtchn_rcu_depth == 0 &&
	    __builtin_expect(evtchn_upcalls_owed != NULL, 0))
		evtchn_upcalls_flush();
}

/* Wait until every read-side section that began before the call has ended.
 * Never call it inside a read-side section. */
static inline void evtchn_synchronize_rcu(void)
{
#ifdef EVTCHN_PARK
	if (evtchn_rcu_lone()) {
		evtchn_tsan_acquire();
		return;
	}
#endif
	urcu_memb_synchronize_rcu();
	evtchn_tsan_acquire();
}

#endif /* EVTCHN_RCU_H */
