/* SPDX-License-Identifier: MIT */
/*
 * Xen timers and SCHEDOP_poll (Xen 4.17 xen/common/domain.c,
 * xen/common/sched/core.c).
 *
 * System time is the host's clock (CLOCK_MONOTONIC unless the VMM gives
 * one).  Each vCPU has a singleshot deadline, a periodic timer and, while
 * it polls, a poll deadline.  One thread per host (evtchn_host_timers_
 * start()) sleeps until the earliest deadline of all vCPUs and fires what
 * expired; a VMM that drives time itself calls evtchn_host_timers_run()
 * instead.  Expiry raises VIRQ_TIMER on the vCPU (send_guest_vcpu_virq).
 * The timer lock protects every deadline.  The clock is read before it is
 * taken and VIRQ_TIMER raised after it is dropped, so neither the VMM's
 * clock callback nor its interrupt callback runs under it.
 *
 * Polling: the vCPU thread blocks on a futex in its vCPU; a sender that
 * makes a polled port pending (masked or not), or raises the vCPU's
 * upcall, clears the vCPU's poll word and wakes it, without a lock.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "park.h"
#include "rcu.h"

#define MILLISECS(ms) ((uint64_t)(ms) * 1000000ull)
#define STIME_DELTA_MAX ((uint64_t)~0ull >> 2) /* Xen's: 200 years */
#define POLL_MAX_PORTS 128

/* Xen's VCPUOP_set_periodic_timer limits: at least 1 ms, at most
 * STIME_DELTA_MAX. */
bool timer_period_valid(uint64_t period_ns)
{
	return period_ns >= MILLISECS(1) && period_ns <= STIME_DELTA_MAX;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t evtchn_host_now(struct evtchn_host *h)
{
	evtchn_clock_cb cb = h->clock_cb;

	return cb ? cb(h->clock_opaque) : mono_ns();
}

/* The clock as the library reads it: under no lock of its own and outside
 * its read-side section, so the VMM's clock callback may take any lock of
 * the VMM's (internal.h). */
static uint64_t host_clock(struct evtchn_host *h)
{
	ASSERT_NO_LOCK_NOR_READER();
	return evtchn_host_now(h);
}

int evtchn_host_set_clock(struct evtchn_host *h, evtchn_clock_cb cb,
			  void *opaque)
{
	if (!h)
		return -EINVAL;
	lib_lock(&h->timer_lock);
	h->clock_cb = cb;
	h->clock_opaque = opaque;
	h->collected_at = 0; /* a time of the old clock */
	pthread_cond_signal(&h->timer_cond);
	lib_unlock(&h->timer_lock);
	return 0;
}

static void futex_wake(_Atomic int32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Stop @v polling and wake it.  Any thread, no lock. */
static void poll_wake(struct evtchn_vcpu *v)
{
	if (atomic_exchange(&v->poll_evtchn, 0) != 0)
		futex_wake(&v->poll_evtchn);
}

/* Xen's evtchn_check_pollers(): after @port of @d became pending.  Send
 * path: one load when nobody polls. */
void check_pollers(struct evtchn_domain *d, uint32_t port)
{
	/* Store (pending bit) then load here, store (poll word, count)
	 * then load (pending bit) in do_poll(): seq_cst on both sides, so
	 * one of the two sees the other.  pairs with do_poll() */
	if (!atomic_load_explicit(&d->nr_polling, memory_order_seq_cst))
		return;
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		int32_t p = atomic_load_explicit(&d->vcpu[i].poll_evtchn,
						 memory_order_seq_cst);

		if (p == -1 || (p > 0 && (uint32_t)p == port))
			poll_wake(&d->vcpu[i]);
	}
}

/* The upcall reached @v: a polling vCPU wakes (Xen's vcpu_kick()). */
void poll_kick(struct evtchn_vcpu *v)
{
	/* After the seq_cst RMW of upcall_pending; do_poll() stores its
	 * poll word (seq_cst), then loads upcall_pending.  pairs with
	 * do_poll() */
	if (atomic_load_explicit(&v->poll_evtchn, memory_order_seq_cst))
		poll_wake(v);
}

/* --- the timer list -------------------------------------------------- */

void timers_add_domain(struct evtchn_host *h, struct evtchn_domain *d)
{
	lib_lock(&h->timer_lock);
	d->timer_next = h->timer_domains;
	h->timer_domains = d;
	lib_unlock(&h->timer_lock);
}

void timers_remove_domain(struct evtchn_host *h, struct evtchn_domain *d)
{
	struct evtchn_domain **pp;

	lib_lock(&h->timer_lock);
	for (pp = &h->timer_domains; *pp; pp = &(*pp)->timer_next)
		if (*pp == d) {
			*pp = d->timer_next;
			break;
		}
	lib_unlock(&h->timer_lock);
}

static void timer_kick(struct evtchn_host *h)
{
	pthread_cond_signal(&h->timer_cond);
}

/* What expired, collected under the timer lock, raised after it. */
struct expired {
	struct evtchn_domain *d;
	uint32_t vcpu;
};

#define EXPIRED_BATCH 64

/*
 * Collect what expired at @now (timer lock held) into @out (at most
 * EXPIRED_BATCH; *more is set when some is left for another round) and
 * return the next deadline, or 0.  Poll deadlines wake their vCPU here.
 */
static uint64_t timers_collect(struct evtchn_host *h, uint64_t now,
			       struct expired *out, unsigned *n, bool *more)
{
	uint64_t next = 0;

	*n = 0;
	*more = false;
	if (now > h->collected_at)
		h->collected_at = now;
	for (struct evtchn_domain *d = h->timer_domains; d; d = d->timer_next) {
		for (uint32_t i = 0; i < d->nr_vcpus; i++) {
			struct evtchn_vcpu *v = &d->vcpu[i];
			uint64_t t;

			if (v->singleshot && v->singleshot <= now) {
				if (*n < EXPIRED_BATCH) {
					v->singleshot = 0;
					out[(*n)++] = (struct expired){ d, i };
				} else {
					*more = true;
				}
			}
			if (v->period && v->periodic_next <= now) {
				if (*n < EXPIRED_BATCH) {
					/* Xen's vcpu_periodic_timer_work():
					 * the next tick a period from now,
					 * missed ones skipped */
					v->periodic_last = now;
					v->periodic_next = now + v->period;
					out[(*n)++] = (struct expired){ d, i };
				} else {
					*more = true;
				}
			}
			if (v->poll_deadline && v->poll_deadline <= now) {
				v->poll_deadline = 0;
				poll_wake(v);
			}
			t = v->singleshot;
			if (v->period && (!t || v->periodic_next < t))
				t = v->periodic_next;
			if (v->poll_deadline && (!t || v->poll_deadline < t))
				t = v->poll_deadline;
			if (t && (!next || t < next))
				next = t;
		}
	}
	return next;
}

/*
 * Fire what expired (timer lock held on entry and on return).  The clock
 * is read with the lock dropped and VIRQ_TIMER raised with it dropped, so
 * neither the VMM's clock callback nor its interrupt callback runs under
 * it; the RCU read-side section, entered before the lock is dropped to
 * fire, keeps the collected domains alive (destroy waits for a grace
 * period after it leaves the timer list).  *now is the time of the last
 * collection and *mono the monotonic clock read with it.
 */
static uint64_t timers_fire(struct evtchn_host *h, unsigned *fired,
			    uint64_t *now, uint64_t *mono)
{
	struct expired ex[EXPIRED_BATCH];
	uint64_t next;
	unsigned n;
	bool more;

	/* Until a collection finds nothing: the deadline returned is then
	 * current, even if timers changed while the lock was dropped. */
	for (;;) {
		lib_unlock(&h->timer_lock);
		*now = host_clock(h);
		*mono = mono_ns();
		lib_lock(&h->timer_lock);
		next = timers_collect(h, *now, ex, &n, &more);
		if (!n)
			return next;
		evtchn_rcu_read_lock();
		lib_unlock(&h->timer_lock);
		for (unsigned i = 0; i < n; i++)
			evtchn_send_virq(ex[i].d, ex[i].vcpu, VIRQ_TIMER);
		evtchn_rcu_read_unlock();
		lib_lock(&h->timer_lock);
		*fired += n;
	}
}

int evtchn_host_timers_run(struct evtchn_host *h)
{
	uint64_t now, mono;
	unsigned fired = 0;

	if (!h)
		return -EINVAL;
	lib_lock(&h->timer_lock);
	(void)timers_fire(h, &fired, &now, &mono);
	lib_unlock(&h->timer_lock);
	return (int)fired;
}

static void *timer_thread(void *arg)
{
	struct evtchn_host *h = arg;
	unsigned fired = 0;

	lib_lock(&h->timer_lock);
	while (h->timer_running) {
		uint64_t now, mono;
		uint64_t next = timers_fire(h, &fired, &now, &mono);

		/* Stopped while the lock was dropped: its signal is gone, do
		 * not wait for it. */
		if (!h->timer_running)
			break;
		/* Collected under the lock held since: a timer set from now
		 * on signals the wait below.  Every deadline left is after
		 * @now. */
		if (!next) {
			pthread_cond_wait(&h->timer_cond, &h->timer_lock);
		} else {
			/* The host clock runs at the monotonic clock's rate. */
			uint64_t at = mono + (next - now);
			struct timespec ts = { .tv_sec = at / 1000000000ull,
					       .tv_nsec = at % 1000000000ull };

			pthread_cond_timedwait(&h->timer_cond, &h->timer_lock,
					       &ts);
		}
	}
	lib_unlock(&h->timer_lock);
	return NULL;
}

int evtchn_host_timers_start(struct evtchn_host *h)
{
	int rc = 0;

	if (!h)
		return -EINVAL;
	lib_lock(&h->timer_lock);
	if (h->timer_running) {
		rc = -EBUSY;
	} else {
		h->timer_running = true;
		rc = -pthread_create(&h->timer_tid, NULL, timer_thread, h);
		if (rc)
			h->timer_running = false;
	}
	lib_unlock(&h->timer_lock);
	return rc;
}

int evtchn_host_timers_stop(struct evtchn_host *h)
{
	if (!h)
		return -EINVAL;
	lib_lock(&h->timer_lock);
	if (!h->timer_running) {
		lib_unlock(&h->timer_lock);
		return -ENOENT;
	}
	h->timer_running = false;
	timer_kick(h);
	lib_unlock(&h->timer_lock);
	pthread_join(h->timer_tid, NULL);
	return 0;
}

/* --- guest operations ------------------------------------------------ */

/*
 * The time a deadline set now is measured against (timer lock held):
 * @now, read before the lock was taken (host_clock()), or a later time a
 * collection already used.  A collection that ran between the clock read
 * and the lock did not see the deadline about to be set: against its time,
 * a deadline it would have found expired is expired for the setter too,
 * so no deadline is left behind a collection.
 */
static uint64_t timer_now(struct evtchn_host *h, uint64_t now)
{
	return h->collected_at > now ? h->collected_at : now;
}

/* set_timer(): @deadline expired already fires now (and so does one
 * that is negative as Xen's s_time_t).  The clock is read before the
 * timer lock is taken (host_clock()). */
static void set_singleshot(struct evtchn_domain *d, struct evtchn_vcpu *v,
			   uint64_t deadline)
{
	struct evtchn_host *h = d->host;
	uint64_t t = host_clock(h);
	bool now;

	PARK_POINT("timer:clock_read", v->id);
	lib_lock(&h->timer_lock);
	now = deadline <= timer_now(h, t) || (int64_t)deadline < 0;
	v->singleshot = now ? 0 : deadline;
	timer_kick(h);
	lib_unlock(&h->timer_lock);
	if (now)
		evtchn_send_virq(d, v->id, VIRQ_TIMER);
}

uint64_t timer_take_singleshot(struct evtchn_domain *d, uint32_t v)
{
	uint64_t deadline;

	lib_lock(&d->host->timer_lock);
	deadline = d->vcpu[v].singleshot;
	d->vcpu[v].singleshot = 0;
	lib_unlock(&d->host->timer_lock);
	return deadline;
}

void timer_give_singleshot(struct evtchn_domain *d, uint32_t v,
			   uint64_t deadline)
{
	lib_lock(&d->host->timer_lock);
	d->vcpu[v].singleshot = deadline;
	timer_kick(d->host);
	lib_unlock(&d->host->timer_lock);
}

static void stop_singleshot(struct evtchn_domain *d, struct evtchn_vcpu *v)
{
	lib_lock(&d->host->timer_lock);
	v->singleshot = 0;
	lib_unlock(&d->host->timer_lock);
}

/*
 * Xen's vcpu_set_periodic_timer() and vcpu_periodic_timer_work_locked()
 * (xen/common/sched/core.c): the next tick is a period after the last one
 * (periodic_last, 0 until the first tick); when that time has come the
 * tick fires now, in the call, and the phase starts again from now.  So
 * the first set fires at once, and a new period keeps the last tick's
 * phase.  A stop leaves the last tick where it was.  The clock is read
 * before the timer lock is taken (host_clock()); a tick the timer thread
 * fires in between only moves periodic_last later than @now.
 */
static void set_periodic(struct evtchn_domain *d, struct evtchn_vcpu *v,
			 uint64_t period)
{
	struct evtchn_host *h = d->host;
	uint64_t now = period ? host_clock(h) : 0;
	bool fire = false;

	lib_lock(&h->timer_lock);
	v->period = period;
	if (period) {
		now = timer_now(h, now);
		v->periodic_next = v->periodic_last + period;
		if (now >= v->periodic_next) {
			fire = true;
			v->periodic_last = now;
			v->periodic_next = now + period;
		}
	}
	timer_kick(h);
	lib_unlock(&h->timer_lock);
	if (fire)
		evtchn_send_virq(d, v->id, VIRQ_TIMER);
}

/* A 32-bit guest's struct vcpu_set_singleshot_timer: Xen's compat layout
 * aligns the 64-bit deadline to 4 bytes, so the struct ends right after
 * its flags (12 bytes, not 16). */
#define SSHOT_COMPAT_SIZE                                                   \
	(offsetof(struct vcpu_set_singleshot_timer, flags) +                \
	 sizeof(((struct vcpu_set_singleshot_timer *)0)->flags))
_Static_assert(SSHOT_COMPAT_SIZE == 12, "compat singleshot struct");

/* VCPUOP_set_singleshot_timer's argument, in Xen's order of checks: the
 * native path (do_vcpu_op) refuses another vCPU before it copies; the
 * compat path (compat_vcpu_op) copies the compat struct first. */
static long singleshot_arg(struct evtchn_domain *d, uint32_t caller,
			   struct evtchn_vcpu *v, uint64_t arg, bool compat,
			   uint64_t *deadline)
{
	struct vcpu_set_singleshot_timer ss;
	uint32_t c[3];

	if (!compat) {
		if (v->id != caller)
			return -XEN_EINVAL;
		if (guest_copy_from(d, caller, arg, &ss, sizeof(ss)))
			return -XEN_EFAULT;
		*deadline = ss.timeout_abs_ns;
		return 0;
	}
	_Static_assert(sizeof(c) == SSHOT_COMPAT_SIZE, "compat words");
	if (guest_copy_from(d, caller, arg, c, sizeof(c)))
		return -XEN_EFAULT;
	if (v->id != caller)
		return -XEN_EINVAL;
	*deadline = c[0] | (uint64_t)c[1] << 32;
	return 0;
}

/* VCPUOP_{set,stop}_{singleshot,periodic}_timer; @v is the target vCPU
 * (checked by the caller), @caller the calling one. */
long timer_vcpu_op(struct evtchn_domain *d, uint32_t caller, int cmd,
		   struct evtchn_vcpu *v, uint64_t arg, bool compat)
{
	struct vcpu_set_periodic_timer pt;
	uint64_t deadline;
	long rc;

	switch (cmd) {
	case VCPUOP_set_singleshot_timer:
		rc = singleshot_arg(d, caller, v, arg, compat, &deadline);
		if (rc)
			return rc;
		/* Xen 4.17.3 and later (stable-4.17 7b5155a79e) ignore the
		 * flags, VCPU_SSHOTTMR_future included: a past deadline
		 * fires now and the answer is 0. */
		set_singleshot(d, v, deadline);
		return 0;
	case VCPUOP_stop_singleshot_timer:
		if (v->id != caller)
			return -XEN_EINVAL;
		stop_singleshot(d, v);
		return 0;
	case VCPUOP_set_periodic_timer:
		if (guest_copy_from(d, caller, arg, &pt, sizeof(pt)))
			return -XEN_EFAULT;
		if (!timer_period_valid(pt.period_ns))
			return -XEN_EINVAL;
		set_periodic(d, v, pt.period_ns);
		return 0;
	case VCPUOP_stop_periodic_timer:
		set_periodic(d, v, 0);
		return 0;
	default:
		return -XEN_ENOSYS;
	}
}

/* __HYPERVISOR_set_timer_op (Xen's do_set_timer_op()). */
long do_set_timer_op(struct evtchn_domain *d, uint32_t vcpu, uint64_t timeout)
{
	struct evtchn_vcpu *v = &d->vcpu[vcpu];
	uint64_t now = host_clock(d->host);
	int64_t offset = (int64_t)(timeout - now);

	if (timeout == 0) {
		stop_singleshot(d, v);
	} else if ((int64_t)timeout < 0 ||
		   (offset > 0 && (uint32_t)(offset >> 50) != 0)) {
		/* Xen's "Linux workaround": a timeout wrapped negative or
		 * more than 2^50 ns (~13 days) away fires in 100 ms. */
		set_singleshot(d, v, now + MILLISECS(100));
	} else {
		set_singleshot(d, v, timeout);
	}
	return 0;
}

/* Xen's evtchn_port_poll(): 1 pending, 0 not, -EINVAL invalid/unusable. */
static int port_poll(struct evtchn_domain *d, uint32_t port)
{
	int rc = -XEN_EINVAL;

	evtchn_rcu_read_lock();
	if (port_is_valid(d, port) && bind_usable(port_bind(port_get(d, port))))
		rc = domain_abi(d)->is_pending(d, port);
	evtchn_rcu_read_unlock();
	return rc;
}

static bool upcall_pending(struct evtchn_vcpu *v)
{
	return __atomic_load_n(atomic_load(&v->vcpu_info), __ATOMIC_SEQ_CST);
}

/* SCHEDOP_poll (Xen's do_poll()).  Blocks the calling thread. */
static long do_poll(struct evtchn_domain *d, uint32_t vcpu, uint64_t arg,
		    bool compat, bool irqs_off)
{
	struct evtchn_vcpu *v = &d->vcpu[vcpu];
	struct evtchn_host *h = d->host;
	uint64_t ports, timeout, now;
	uint32_t nr, port = 0;
	long rc;

	/* 64-bit: { handle (8), nr_ports, pad, timeout }; 32-bit guests:
	 * { handle (4), nr_ports, timeout } (Xen's compat layout). */
	if (!compat) {
		struct sched_poll sp;

		if (guest_copy_from(d, vcpu, arg, &sp, sizeof(sp)))
			return -XEN_EFAULT;
		memcpy(&ports, &sp.ports, sizeof(ports));
		nr = sp.nr_ports;
		timeout = sp.timeout;
	} else {
		uint32_t c[4];

		if (guest_copy_from(d, vcpu, arg, c, sizeof(c)))
			return -XEN_EFAULT;
		ports = c[0];
		nr = c[1];
		timeout = c[2] | (uint64_t)c[3] << 32;
	}
	if (nr > POLL_MAX_PORTS)
		return -XEN_EINVAL;

	/* Polling before looking: a sender from now on wakes us. */
	atomic_store(&v->poll_evtchn, -1);
	atomic_fetch_add(&d->nr_polling, 1);
	rc = 0;
	if (atomic_exchange(&v->kicked, false)) /* the VMM wants the vCPU */
		goto out;
	/* local_events_need_delivery(): an upcall the vCPU can take now */
	if (!irqs_off && upcall_pending(v) && upcall_deliverable(d, v))
		goto out;
	for (uint32_t i = 0; i < nr; i++) {
		rc = -XEN_EFAULT;
		if (guest_copy_from(d, vcpu, ports + 4ull * i, &port,
				    sizeof(port)))
			goto out;
		rc = port_poll(d, port);
		if (rc) {
			if (rc > 0)
				rc = 0;
			goto out;
		}
	}
	if (nr == 1) {
		int32_t any = -1;

		/* Only this port wakes us now (unless a wake came already). */
		atomic_compare_exchange_strong(&v->poll_evtchn, &any,
					       (int32_t)port);
	}
	now = timeout ? host_clock(h) : 0;
	PARK_POINT("timer:clock_read", vcpu);
	lib_lock(&h->timer_lock);
	if (timeout && timeout <= timer_now(h, now)) {
		lib_unlock(&h->timer_lock);
		goto out; /* absolute time already passed */
	}
	v->poll_deadline = timeout;
	timer_kick(h);
	lib_unlock(&h->timer_lock);
	/* Block until a sender, the upcall or the deadline wakes us. */
	PARK_POINT("poll:blocking", vcpu);
	for (;;) {
		int32_t w = atomic_load(&v->poll_evtchn);

		if (w == 0 || atomic_exchange(&v->kicked, false))
			break;
		syscall(SYS_futex, &v->poll_evtchn, FUTEX_WAIT_PRIVATE, w,
			NULL, NULL, 0);
	}
	lib_lock(&h->timer_lock);
	v->poll_deadline = 0;
	lib_unlock(&h->timer_lock);
out:
	atomic_store(&v->poll_evtchn, 0);
	atomic_fetch_sub(&d->nr_polling, 1);
	return rc;
}

/* __HYPERVISOR_sched_op: SCHEDOP_poll here, the rest is the VMM's. */
long do_sched_op(struct evtchn_domain *d, uint32_t vcpu, int cmd,
		 uint64_t arg, bool compat, bool irqs_off)
{
	if (cmd == SCHEDOP_poll)
		return do_poll(d, vcpu, arg, compat, irqs_off);
	return -ENOSYS;
}

int evtchn_vcpu_timer_get(struct evtchn_domain *d, uint32_t vcpu,
			  struct evtchn_vcpu_timer *t)
{
	struct evtchn_vcpu *v = domain_vcpu(d, vcpu);

	if (!v || !t)
		return -EINVAL;
	lib_lock(&d->host->timer_lock);
	t->singleshot_ns = v->singleshot;
	t->period_ns = v->period;
	t->periodic_next_ns = v->period ? v->periodic_next : 0;
	lib_unlock(&d->host->timer_lock);
	/* A singleshot timer KVM holds (the back end): its deadline */
	domain_lock(d);
	kvm_timer_read(d, vcpu, &t->singleshot_ns);
	domain_unlock(d);
	return 0;
}

int evtchn_vcpu_timer_set(struct evtchn_domain *d, uint32_t vcpu,
			  const struct evtchn_vcpu_timer *t)
{
	struct evtchn_vcpu *v = domain_vcpu(d, vcpu);

	uint64_t singleshot;

	if (!v || !t || (t->period_ns && !timer_period_valid(t->period_ns)))
		return -EINVAL;
	/* A singleshot timer KVM holds (the back end) takes the deadline */
	singleshot = t->singleshot_ns;
	domain_lock(d);
	if (kvm_timer_write(d, vcpu, singleshot))
		singleshot = 0;
	domain_unlock(d);
	lib_lock(&d->host->timer_lock);
	v->singleshot = singleshot;
	v->period = t->period_ns;
	v->periodic_next = t->period_ns ? t->periodic_next_ns : 0;
	/* The last tick a period before the next (0 for a stopped timer:
	 * Xen does not migrate it either). */
	v->periodic_last = t->period_ns && t->periodic_next_ns >= t->period_ns
				   ? t->periodic_next_ns - t->period_ns
				   : 0;
	timer_kick(d->host);
	lib_unlock(&d->host->timer_lock);
	return 0;
}
