/* SPDX-License-Identifier: MIT */
/*
 * Xen timers and SCHEDOP_poll (Xen 4.17 xen/common/domain.c common_vcpu_op,
 * do_set_timer_op, xen/common/sched/core.c do_poll) on a clock the test
 * moves itself: nothing here waits on wall time for correctness.
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "fixture.h"
#include "park.h"

#define F struct fx *f = *state
#define MS 1000000ull

static _Atomic uint64_t test_now = 1000 * MS;

static uint64_t test_clock(void *opaque)
{
	(void)opaque;
	return atomic_load(&test_now);
}

/* The fixture in @layout on the test's clock, at 1,000 ms. */
static int setup_clock(void **state, enum evtchn_layout layout)
{
	int rc = fx_setup_layout(state, layout);
	struct fx *f = *state;

	if (!rc)
		rc = evtchn_host_set_clock(f->h, test_clock, NULL);
	atomic_store(&test_now, 1000 * MS);
	return rc;
}

static int setup(void **state)
{
	return setup_clock(state, EVTCHN_LAYOUT_64);
}

static int setup32(void **state)
{
	return setup_clock(state, EVTCHN_LAYOUT_32);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fx_teardown)

static long vcpu_op(struct th_domain *td, uint32_t caller, int cmd,
		    uint32_t target, const void *arg, size_t len)
{
	uint64_t gpa = th_scratch_gpa();

	if (arg)
		memcpy(td->mem + gpa, arg, len);
	return th_hypercall(td, caller, __HYPERVISOR_vcpu_op, cmd, target, gpa);
}

static long singleshot(struct th_domain *td, uint32_t caller,
		       uint32_t target, uint64_t deadline, uint32_t flags)
{
	struct vcpu_set_singleshot_timer s = { .timeout_abs_ns = deadline,
					       .flags = flags };

	return vcpu_op(td, caller, VCPUOP_set_singleshot_timer, target, &s,
		       sizeof(s));
}

static void advance(struct fx *f, uint64_t ns)
{
	atomic_fetch_add(&test_now, ns);
	(void)evtchn_host_timers_run(f->h);
}

static void ignore_event(uint32_t vcpu, uint32_t port, void *opaque)
{
	(void)vcpu;
	(void)port;
	(void)opaque;
}

/* B39: only the calling vCPU; a past deadline fires at once, in the call.
 * Xen 4.17.3 and later (stable-4.17 7b5155a79e, a backport of 19c6cbd909)
 * ignore the flags: VCPU_SSHOTTMR_future with a past deadline fires at
 * once and answers 0 (4.17.0-4.17.2 answered -ETIME). */
static void singleshot_rules(void **state)
{
	F;
	long t1 = th_bind_virq(&f->d1, VIRQ_TIMER, 1);

	assert_int_equal(singleshot(&f->d1, 0, 1, 2000 * MS, 0), -XEN_EINVAL);
	assert_int_equal(vcpu_op(&f->d1, 0, VCPUOP_stop_singleshot_timer, 1,
				 NULL, 0), -XEN_EINVAL);
	assert_int_equal(singleshot(&f->d1, 1, 1, 500 * MS,
				    VCPU_SSHOTTMR_future), 0);
	assert_true(th_pending(&f->d1, t1));
	assert_int_equal(th_upcalls(&f->d1, 1), 1);
	/* the guest takes the event: the next one raises the upcall again */
	evtchn_guest_bind_port(&f->d1.g, t1, 1);
	assert_int_equal(evtchn_guest_upcall(&f->d1.g, 1, ignore_event, NULL),
			 1);
	assert_int_equal(singleshot(&f->d1, 1, 1, 500 * MS, 0), 0);
	assert_true(th_pending(&f->d1, t1));
	assert_int_equal(th_upcalls(&f->d1, 1), 2);
	/* a deadline of 0 is in the past too */
	memset(f->d1.g.shared_info + 2048, 0, 512);
	assert_int_equal(singleshot(&f->d1, 1, 1, 0, 0), 0);
	assert_true(th_pending(&f->d1, t1));
	/* a past deadline cancels the one that was armed */
	th_mask(&f->d1, t1); /* keep the count simple: pending only */
	memset(f->d1.g.shared_info + 2048, 0, 512);
	assert_int_equal(singleshot(&f->d1, 1, 1, 1200 * MS, 0), 0);
	assert_int_equal(singleshot(&f->d1, 1, 1, 1, VCPU_SSHOTTMR_future), 0);
	assert_true(th_pending(&f->d1, t1));
	memset(f->d1.g.shared_info + 2048, 0, 512);
	advance(f, 300 * MS);
	assert_false(th_pending(&f->d1, t1));
	/* in the future: fires when the clock gets there (now 1300 ms) */
	assert_int_equal(singleshot(&f->d1, 1, 1, 1800 * MS,
				    VCPU_SSHOTTMR_future), 0);
	advance(f, 499 * MS);
	assert_false(th_pending(&f->d1, t1));
	advance(f, 1 * MS);
	assert_true(th_pending(&f->d1, t1));
	/* stopped: never fires */
	memset(f->d1.g.shared_info + 2048, 0, 512);
	assert_int_equal(singleshot(&f->d1, 1, 1, 1900 * MS, 0), 0);
	assert_int_equal(vcpu_op(&f->d1, 1, VCPUOP_stop_singleshot_timer, 1,
				 NULL, 0), 0);
	advance(f, 1000 * MS);
	assert_false(th_pending(&f->d1, t1));
	assert_int_equal(vcpu_op(&f->d1, 1, VCPUOP_set_singleshot_timer, 9,
				 NULL, 0), -XEN_ENOENT);
}

/* A 32-bit caller (Xen's compat_vcpu_op()): the 12-byte compat struct is
 * copied before the other-vCPU check, so a struct in the last 12 bytes of
 * RAM works (the native 16-byte copy faults), and another vCPU with an
 * unmapped argument gets -EFAULT (native: -EINVAL).  The mode is the
 * caller's at each hypercall, not the latched layout. */
static long singleshot_mode(struct th_domain *td, uint32_t caller,
			    uint32_t target, uint64_t gpa,
			    enum evtchn_mode mode)
{
	const uint64_t a[6] = { VCPUOP_set_singleshot_timer, target, gpa };

	return evtchn_hypercall_mode(td->d, caller, mode, __HYPERVISOR_vcpu_op,
				     a);
}

static void singleshot_compat_rules(void **state)
{
	F;
	long t1 = th_bind_virq(&f->d1, VIRQ_TIMER, 1);
	uint64_t end12 = TH_MEM_SIZE - 12;
	uint32_t c[3] = { (uint32_t)(1500 * MS), (uint32_t)((1500 * MS) >> 32),
			  0 };

	memcpy(f->d1.mem + end12, c, sizeof(c));
	assert_int_equal(singleshot_mode(&f->d1, 1, 1, end12, EVTCHN_MODE_64),
			 -XEN_EFAULT);
	assert_int_equal(singleshot_mode(&f->d1, 1, 1, end12, EVTCHN_MODE_32),
			 0);
	advance(f, 500 * MS);
	assert_true(th_pending(&f->d1, t1));
	assert_int_equal(singleshot_mode(&f->d1, 0, 1, TH_MEM_SIZE,
					 EVTCHN_MODE_64), -XEN_EINVAL);
	assert_int_equal(singleshot_mode(&f->d1, 0, 1, TH_MEM_SIZE,
					 EVTCHN_MODE_32), -XEN_EFAULT);
	/* mapped, but another vCPU: -EINVAL either way */
	assert_int_equal(singleshot_mode(&f->d1, 0, 1, end12, EVTCHN_MODE_32),
			 -XEN_EINVAL);
	assert_int_equal(singleshot_mode(&f->d1, 0, 1, 0, 7), -EINVAL);
}

/* The same through evtchn_hypercall() on a domain whose layout latched
 * 32-bit. */
static void singleshot_compat_latched(void **state)
{
	F;
	uint64_t end12 = TH_MEM_SIZE - 12;
	uint32_t c[3] = { (uint32_t)(1500 * MS), (uint32_t)((1500 * MS) >> 32),
			  0 };
	struct evtchn_vcpu_timer t;

	memcpy(f->d1.mem + end12, c, sizeof(c));
	assert_int_equal(th_hypercall(&f->d1, 1, __HYPERVISOR_vcpu_op,
				      VCPUOP_set_singleshot_timer, 1, end12),
			 0);
	assert_int_equal(evtchn_vcpu_timer_get(f->d1.d, 1, &t), 0);
	assert_int_equal(t.singleshot_ns, 1500 * MS);
	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_vcpu_op,
				      VCPUOP_set_singleshot_timer, 1,
				      TH_MEM_SIZE), -XEN_EFAULT);
}

/* B40: set_timer_op(0) stops; negative or more than 2^50 ns ahead fires
 * 100 ms later. */
static void set_timer_op_rules(void **state)
{
	F;
	long t0 = th_bind_virq(&f->d1, VIRQ_TIMER, 0);

	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_set_timer_op,
				      1500 * MS, 0, 0), 0);
	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_set_timer_op,
				      0, 0, 0), 0);
	advance(f, 1000 * MS);
	assert_false(th_pending(&f->d1, t0));
	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_set_timer_op,
				      atomic_load(&test_now) + (1ull << 51), 0,
				      0), 0);
	advance(f, 99 * MS);
	assert_false(th_pending(&f->d1, t0));
	advance(f, 1 * MS);
	assert_true(th_pending(&f->d1, t0));
	memset(f->d1.g.shared_info + 2048, 0, 512);
	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_set_timer_op,
				      (uint64_t)-5, 0, 0), 0);
	advance(f, 100 * MS);
	assert_true(th_pending(&f->d1, t0));
}

/* set_timer_op from a vCPU in 32-bit mode takes the deadline in two
 * registers (Xen's compat_set_timer_op(lo, hi)), whatever the layout. */
static void set_timer_op_mode(void **state)
{
	F;
	long t0 = th_bind_virq(&f->d1, VIRQ_TIMER, 0);
	uint64_t at = 1500 * MS;
	const uint64_t a32[6] = { (uint32_t)at, at >> 32 };
	const uint64_t a64[6] = { at, 7 };
	struct evtchn_vcpu_timer t;

	assert_int_equal(evtchn_hypercall_mode(f->d1.d, 0, EVTCHN_MODE_32,
					       __HYPERVISOR_set_timer_op, a32),
			 0);
	assert_int_equal(evtchn_vcpu_timer_get(f->d1.d, 0, &t), 0);
	assert_int_equal(t.singleshot_ns, at);
	assert_int_equal(evtchn_hypercall_mode(f->d1.d, 0, EVTCHN_MODE_64,
					       __HYPERVISOR_set_timer_op, a64),
			 0);
	assert_int_equal(evtchn_vcpu_timer_get(f->d1.d, 0, &t), 0);
	assert_int_equal(t.singleshot_ns, at);
	advance(f, 500 * MS);
	assert_true(th_pending(&f->d1, t0));
}

/* B41: the periodic period is at least 1 ms; it fires every period.
 * Xen's vcpu_set_periodic_timer() -> vcpu_periodic_timer_work_locked()
 * (xen/common/sched/core.c): the next tick is the last tick (0 at start)
 * plus the period, fired in the call when that time has come; so the
 * first set fires at once, and a new period keeps the last tick's phase. */
static void periodic_rules(void **state)
{
	F;
	struct vcpu_set_periodic_timer p = { .period_ns = 999999 };
	long t2 = th_bind_virq(&f->d1, VIRQ_TIMER, 2);
	struct evtchn_vcpu_timer t;

	assert_int_equal(vcpu_op(&f->d1, 0, VCPUOP_set_periodic_timer, 2, &p,
				 sizeof(p)), -XEN_EINVAL);
	p.period_ns = 10 * MS;
	/* any vCPU may set another's periodic timer; at 1,000 ms the first
	 * tick is due (0 + 10 ms): it fires now */
	assert_int_equal(vcpu_op(&f->d1, 0, VCPUOP_set_periodic_timer, 2, &p,
				 sizeof(p)), 0);
	assert_true(th_pending(&f->d1, t2));
	assert_int_equal(th_upcalls(&f->d1, 2), 1);
	assert_int_equal(evtchn_vcpu_timer_get(f->d1.d, 2, &t), 0);
	assert_int_equal(t.period_ns, 10 * MS);
	assert_int_equal(t.periodic_next_ns, 1010 * MS);
	for (int i = 0; i < 3; i++) {
		memset(f->d1.g.shared_info + 2048, 0, 512);
		advance(f, 9 * MS);
		assert_false(th_pending(&f->d1, t2));
		advance(f, 1 * MS);
		assert_true(th_pending(&f->d1, t2));
	}
	/* at 1,035 ms (last tick 1,030 ms) a new period of 100 ms keeps the
	 * phase: next at 1,130 ms, nothing now */
	memset(f->d1.g.shared_info + 2048, 0, 512);
	advance(f, 5 * MS);
	p.period_ns = 100 * MS;
	assert_int_equal(vcpu_op(&f->d1, 0, VCPUOP_set_periodic_timer, 2, &p,
				 sizeof(p)), 0);
	assert_false(th_pending(&f->d1, t2));
	assert_int_equal(evtchn_vcpu_timer_get(f->d1.d, 2, &t), 0);
	assert_int_equal(t.periodic_next_ns, 1130 * MS);
	advance(f, 94 * MS);
	assert_false(th_pending(&f->d1, t2));
	advance(f, 1 * MS);
	assert_true(th_pending(&f->d1, t2));
	assert_int_equal(vcpu_op(&f->d1, 0, VCPUOP_stop_periodic_timer, 2,
				 NULL, 0), 0);
	memset(f->d1.g.shared_info + 2048, 0, 512);
	advance(f, 100 * MS);
	assert_false(th_pending(&f->d1, t2));
	/* restarted more than a period after the last tick (1,130 ms; now
	 * 1,230 ms): fires at once */
	p.period_ns = 50 * MS;
	assert_int_equal(vcpu_op(&f->d1, 0, VCPUOP_set_periodic_timer, 2, &p,
				 sizeof(p)), 0);
	assert_true(th_pending(&f->d1, t2));
	assert_int_equal(evtchn_vcpu_timer_get(f->d1.d, 2, &t), 0);
	assert_int_equal(t.periodic_next_ns, 1280 * MS);
}

/* The example of the review: at 1,000 ms a 10 ms period fires at once;
 * at 1,005 ms a 100 ms period next fires at 1,100 ms (Xen), not 1,105. */
static void periodic_phase_example(void **state)
{
	F;
	struct vcpu_set_periodic_timer p = { .period_ns = 10 * MS };
	long t0 = th_bind_virq(&f->d1, VIRQ_TIMER, 0);

	assert_int_equal(vcpu_op(&f->d1, 0, VCPUOP_set_periodic_timer, 0, &p,
				 sizeof(p)), 0);
	assert_true(th_pending(&f->d1, t0));
	memset(f->d1.g.shared_info + 2048, 0, 512);
	advance(f, 5 * MS);
	p.period_ns = 100 * MS;
	assert_int_equal(vcpu_op(&f->d1, 0, VCPUOP_set_periodic_timer, 0, &p,
				 sizeof(p)), 0);
	assert_false(th_pending(&f->d1, t0));
	advance(f, 94 * MS);
	assert_false(th_pending(&f->d1, t0));
	advance(f, 1 * MS);
	assert_true(th_pending(&f->d1, t0));
}

/* Migration: timers read on one domain are restored on another. */
static void timer_save_restore(void **state)
{
	F;
	struct evtchn_vcpu_timer t, bad = { .period_ns = 5 };
	long t1;

	assert_int_equal(singleshot(&f->d2, 1, 1, 1700 * MS, 0), 0);
	assert_int_equal(evtchn_vcpu_timer_get(f->d2.d, 1, &t), 0);
	assert_int_equal(t.singleshot_ns, 1700 * MS);
	assert_int_equal(evtchn_vcpu_timer_set(f->d1.d, 1, &bad), -EINVAL);
	assert_int_equal(evtchn_vcpu_timer_set(f->d1.d, 9, &t), -EINVAL);
	assert_int_equal(evtchn_vcpu_timer_set(f->d1.d, 1, &t), 0);
	t1 = th_bind_virq(&f->d1, VIRQ_TIMER, 1);
	advance(f, 700 * MS);
	assert_true(th_pending(&f->d1, t1));
}

/* The host's timer thread on the real clock. */
static void timer_thread_fires(void **state)
{
	F;
	long t0 = th_bind_virq(&f->d1, VIRQ_TIMER, 0);
	time_t end = time(NULL) + 10;

	assert_int_equal(evtchn_host_set_clock(f->h, NULL, NULL), 0);
	assert_int_equal(evtchn_host_timers_start(f->h), 0);
	assert_int_equal(evtchn_host_timers_start(f->h), -EBUSY);
	assert_int_equal(singleshot(&f->d1, 0, 0,
				    evtchn_host_now(f->h) + 2 * MS, 0), 0);
	while (!th_pending(&f->d1, t0) && time(NULL) < end)
		sched_yield(); /* bounded: reports a lost timer, not a time */
	assert_true(th_pending(&f->d1, t0));
	assert_int_equal(evtchn_host_timers_stop(f->h), 0);
	assert_int_equal(evtchn_host_timers_stop(f->h), -ENOENT);
}

struct poller {
	struct th_domain *td;
	uint32_t vcpu, nr;
	uint32_t ports[4];
	uint64_t timeout;
	long rc;
	_Atomic bool done;
};

static long poll_ports(struct th_domain *td, uint32_t vcpu,
		       const uint32_t *ports, uint32_t nr, uint64_t timeout,
		       uint64_t ports_gpa)
{
	uint64_t gpa = th_scratch_gpa();
	struct sched_poll sp = { .nr_ports = nr, .timeout = timeout };
	uint64_t pg = ports_gpa ? ports_gpa : gpa + 512;

	memcpy(&sp.ports, &pg, sizeof(pg));
	if (!ports_gpa && nr <= 4)
		memcpy(td->mem + gpa + 512, ports, nr * 4);
	memcpy(td->mem + gpa, &sp, sizeof(sp));
	return th_hypercall(td, vcpu, __HYPERVISOR_sched_op, SCHEDOP_poll,
			    gpa, 0);
}

static void *poller_main(void *arg)
{
	struct poller *p = arg;

	p->rc = poll_ports(p->td, p->vcpu, p->ports, p->nr, p->timeout, 0);
	atomic_store(&p->done, true);
	return NULL;
}

/* Start a poller and wait until it polls: from then on an event wakes
 * it (the wait is bounded to report a hang, not a time). */
static void start_poller(struct fx *f, struct poller *p, pthread_t *t)
{
	time_t end = time(NULL) + 10;

	(void)f;
	assert_int_equal(pthread_create(t, NULL, poller_main, p), 0);
	while (evtchn_vcpu_polling(p->td->d, p->vcpu) != 1 &&
	       !atomic_load(&p->done) && time(NULL) < end)
		sched_yield();
	assert_false(atomic_load(&p->done));
}

static void wait_done(struct poller *p, pthread_t t)
{
	time_t end = time(NULL) + 10;

	while (!atomic_load(&p->done) && time(NULL) < end)
		sched_yield();
	assert_true(atomic_load(&p->done));
	pthread_join(t, NULL);
}

/* B38: at most 128 ports; a pending port returns at once; an invalid or
 * free port -EINVAL; a bad port list -EFAULT; the timeout is absolute
 * system time (a small value has passed already). */
static void poll_rules(void **state)
{
	F;
	uint32_t ports[2];
	long p = th_bind_ipi(&f->d1, 1), q = th_bind_ipi(&f->d1, 1);

	ports[0] = p;
	assert_int_equal(poll_ports(&f->d1, 1, ports, 129, 0, 0), -XEN_EINVAL);
	ports[0] = 40; /* free */
	assert_int_equal(poll_ports(&f->d1, 1, ports, 1, 0, 0), -XEN_EINVAL);
	ports[0] = 5000;
	assert_int_equal(poll_ports(&f->d1, 1, ports, 1, 0, 0), -XEN_EINVAL);
	assert_int_equal(poll_ports(&f->d1, 1, ports, 1, 0, TH_MEM_SIZE),
			 -XEN_EFAULT);
	/* a timeout that already passed (absolute: 5 ns after boot) */
	ports[0] = p;
	assert_int_equal(poll_ports(&f->d1, 1, ports, 1, 5, 0), 0);
	/* a pending port, masked even: at once */
	th_mask(&f->d1, q);
	assert_int_equal(th_send(&f->d1, 0, q), 0);
	ports[1] = q;
	assert_int_equal(poll_ports(&f->d1, 1, ports, 2, 0, 0), 0);
	/* the upcall pending: at once, before the ports are read */
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_int_equal(poll_ports(&f->d1, 1, ports, 1, 0, TH_MEM_SIZE), 0);
	/* 0 ports and no timeout... with the upcall pending returns too */
	assert_int_equal(poll_ports(&f->d1, 1, ports, 0, 0, 0), 0);
}

/* A poll wakes on a send from another thread, on a masked port, on its
 * (absolute) timeout, and on a kick from the VMM. */
static void poll_wakes(void **state)
{
	F;
	long p = th_bind_ipi(&f->d1, 2), m = th_bind_ipi(&f->d1, 3);
	struct poller pl = { .td = &f->d1, .vcpu = 2, .nr = 1 };
	pthread_t t;

	/* a send */
	pl.ports[0] = p;
	start_poller(f, &pl, &t);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	wait_done(&pl, t);
	assert_int_equal(pl.rc, 0);
	/* a masked port on vCPU 3 */
	th_mask(&f->d1, m);
	pl = (struct poller){ .td = &f->d1, .vcpu = 3, .nr = 1, .ports = { m } };
	start_poller(f, &pl, &t);
	assert_int_equal(th_send(&f->d1, 0, m), 0);
	wait_done(&pl, t);
	assert_int_equal(pl.rc, 0);
	assert_int_equal(th_upcalls(&f->d1, 3), 0);
	/* the timeout, absolute in system time */
	memset(f->d1.g.shared_info + 2048, 0, 512);
	pl = (struct poller){ .td = &f->d1, .vcpu = 3, .nr = 1, .ports = { m },
			      .timeout = atomic_load(&test_now) + 50 * MS };
	start_poller(f, &pl, &t);
	advance(f, 10 * MS);
	assert_false(atomic_load(&pl.done));
	assert_int_equal(evtchn_vcpu_polling(f->d1.d, 3), 1);
	advance(f, 40 * MS);
	wait_done(&pl, t);
	assert_int_equal(pl.rc, 0);
	/* the VMM's kick */
	pl = (struct poller){ .td = &f->d1, .vcpu = 3, .nr = 1, .ports = { m } };
	start_poller(f, &pl, &t);
	assert_int_equal(evtchn_vcpu_kick(f->d1.d, 3), 0);
	wait_done(&pl, t);
	assert_int_equal(pl.rc, 0);
	assert_int_equal(evtchn_vcpu_kick(f->d1.d, 9), -EINVAL);
}

/* A singleshot timer set on vCPU 0 from a thread of its own. */
struct sshot {
	struct fx *f;
	uint64_t deadline;
	long rc;
};

static void *sshot_main(void *arg)
{
	struct sshot *s = arg;

	s->rc = singleshot(&s->f->d1, 0, 0, s->deadline, 0);
	return NULL;
}

/*
 * A deadline that passes between the clock read and the timer lock: a
 * vCPU parked there (timer:clock_read) while the clock moves past its
 * deadline and the timers run must not miss it -- the poll returns, the
 * singleshot fires, with no later run of the timers.
 */
static void deadline_passed_before_the_lock(void **state)
{
#ifndef EVTCHN_PARK
	(void)state;
	skip(); /* built without park points (release) */
#else
	F;
	long t0 = th_bind_virq(&f->d1, VIRQ_TIMER, 0);
	long m = th_bind_ipi(&f->d1, 3);
	struct poller pl = { .td = &f->d1, .vcpu = 3, .nr = 1, .ports = { m },
			     .timeout = atomic_load(&test_now) + 5 * MS };
	struct sshot s = { .f = f, .deadline = atomic_load(&test_now) + 5 * MS };
	pthread_t t;

	evtchn_park_reset();
	assert_int_equal(evtchn_park_arm("timer:clock_read", 3, 1), 0);
	th_mask(&f->d1, m);
	assert_int_equal(pthread_create(&t, NULL, poller_main, &pl), 0);
	assert_true(evtchn_park_wait("timer:clock_read", 1, 5000));
	advance(f, 10 * MS);
	evtchn_park_release("timer:clock_read");
	wait_done(&pl, t);
	assert_int_equal(pl.rc, 0);

	evtchn_park_reset();
	assert_int_equal(evtchn_park_arm("timer:clock_read", 0, 1), 0);
	s.deadline = atomic_load(&test_now) + 5 * MS;
	assert_int_equal(pthread_create(&t, NULL, sshot_main, &s), 0);
	assert_true(evtchn_park_wait("timer:clock_read", 1, 5000));
	advance(f, 10 * MS);
	evtchn_park_release("timer:clock_read");
	pthread_join(t, NULL);
	assert_int_equal(s.rc, 0);
	assert_true(th_pending(&f->d1, t0));
	evtchn_park_reset();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(singleshot_rules),
		T(singleshot_compat_rules),
		cmocka_unit_test_setup_teardown(singleshot_compat_latched,
						setup32, fx_teardown),
		T(set_timer_op_rules),
		T(set_timer_op_mode),
		T(periodic_rules),
		T(periodic_phase_example),
		T(timer_save_restore),
		T(timer_thread_fires),
		T(poll_rules),
		T(poll_wakes),
		T(deadline_passed_before_the_lock),
	};

	return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
