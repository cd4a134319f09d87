/* SPDX-License-Identifier: MIT */
/*
 * Stress: the lock-free send path against binds, closes and vCPU moves.
 *
 * Each thread plays one vCPU and runs that vCPU's upcall handler too (the
 * reference consumer, polled), so a vCPU's hypercalls and consumer calls
 * come from one thread, as both APIs require.  Domain 1's vCPU 0 is the
 * control thread; its vCPUs 1-3 and domain 2's vCPUs 0-1 send.
 *
 * Flows are stable channels (never closed), from a sending port to a
 * receiving port: each domain 1 vCPU's IPI, and both directions of 4
 * channels between domains 1 and 2.  Each receiving port is alone in its
 * 64-port word, so no neighbour's event rescues a lost selector bit or
 * upcall.  EVTCHN_STRESS_ITERS sets the ping-pong rounds per flow.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fixture.h"

#define NR_FLOWS 12
#define NR_THR 6			/* vCPUs 0-3 of dom1, 0-1 of dom2 */
#define NR_PORTS 4096			/* 2-level, 64-bit layout */
#define HANG_NS (20ull * 1000000000ull)	/* hang detector, not a deadline */
#define MIN_CYCLES 8			/* control cycles of a churn run */
#define DEFAULT_ITERS 50000u

struct flow {
	struct th_domain *from, *to;
	uint32_t sport, rport;
	_Atomic unsigned sent, seen;
};

struct vcpu_thr {
	struct stress *s;
	struct th_domain *td;
	unsigned dom;			/* 0: domain 1, 1: domain 2 */
	uint32_t vcpu;
	unsigned seed;			/* rand_r() */
	int mine[NR_FLOWS], nr_mine;	/* flows this thread sends on */
	uint32_t closed[2];		/* control: closed, not bound again */
	pthread_t tid;
};

struct stress {
	struct fx *f;
	bool churn;
	bool fifo;			/* FIFO ABI, else 2-level */
	unsigned iters;
	struct flow flow[NR_FLOWS];
	int8_t flow_of[2][NR_PORTS];	/* receiving port -> flow, or -1 */
	uint32_t l[4];			/* domain 1's interdomain ports */
	uint32_t owner[4];		/* vCPU each l[k] is bound to */
	struct vcpu_thr thr[NR_THR];
	_Atomic uint32_t vol[2];	/* volatile port numbers, 0: none */
	_Atomic unsigned long vol_sends;
	_Atomic unsigned busy;		/* threads with work left */
	_Atomic bool stop, failed;
	int bad_flow;
	unsigned long cycles, rebinds;	/* control thread; read after join */
	char msg[256];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* cmocka cannot fail from another thread: record the first failure, stop
 * everything, and let the test thread report it after the join. */
static void stress_fail(struct stress *s, int flow, const char *fmt, ...)
{
	bool no = false;
	va_list ap;

	if (atomic_compare_exchange_strong(&s->failed, &no, true)) {
		va_start(ap, fmt);
		vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
		va_end(ap);
		s->bad_flow = flow;
	}
	atomic_store(&s->stop, true);
}

/* true when @cond holds; else records the failure */
#define CHECK(s, cond, ...) \
	((cond) ? true : (stress_fail(s, -1, __VA_ARGS__), false))

static void done(struct stress *s)
{
	if (atomic_fetch_sub(&s->busy, 1) == 1)
		atomic_store(&s->stop, true);
}

/* The event callback of every vCPU. */
static void on_event(uint32_t vcpu, uint32_t port, void *opaque)
{
	struct vcpu_thr *t = opaque;
	struct stress *s = t->s;
	struct flow *fl;
	unsigned sent, seen;
	int i;

	(void)vcpu;
	/* Rule 2: a closed port gets no event until it is bound again.  The
	 * control thread owns closed ports in the guest and saw their pending
	 * bit clear after the close, so any event here came later. */
	if (port == t->closed[0] || port == t->closed[1])
		stress_fail(s, -1, "rule 2: event on port %u after its close",
			    port);
	i = port < NR_PORTS ? s->flow_of[t->dom][port] : -1;
	if (i < 0)
		return; /* a volatile port */
	fl = &s->flow[i];
	/* Rule 1: the pending bit was cleared before this load, so sent is at
	 * least the round whose send raised it.  seen only grows: a consumer
	 * the port was just moved away from may finish late. */
	sent = atomic_load(&fl->sent);
	seen = atomic_load(&fl->seen);
	while (seen < sent &&
	       !atomic_compare_exchange_weak(&fl->seen, &seen, sent))
		;
}

/* Run this vCPU's upcall handler if it has an upcall; domain 1's senders
 * also send on the volatile port numbers now and then. */
static void vcpu_poll(struct vcpu_thr *t)
{
	struct stress *s = t->s;
	uint32_t p;
	long rc;

	if (evtchn_guest_upcall_pending(&t->td->g, t->vcpu))
		evtchn_guest_upcall(&t->td->g, t->vcpu, on_event, t);
	else
		sched_yield();
	if (!s->churn || t->dom || !t->vcpu || rand_r(&t->seed) % 4)
		return;
	p = atomic_load(&s->vol[rand_r(&t->seed) % 2]);
	if (!p)
		return;
	rc = th_send(t->td, t->vcpu, p);
	/* Rule 3: a number being bound, closed or reused: 0 or -EINVAL. */
	CHECK(s, rc == 0 || rc == -XEN_EINVAL,
	      "rule 3: send on volatile port %u: %ld", p, rc);
	atomic_fetch_add(&s->vol_sends, 1);
}

/* Rule 1 (hang detector): wait until a consumer has seen round @r of flow
 * @i.  A lost event leaves seen behind for ever. */
static void wait_seen(struct vcpu_thr *t, int i, unsigned r)
{
	struct stress *s = t->s;
	uint64_t end = now_ns() + HANG_NS;

	for (unsigned n = 1; atomic_load(&s->flow[i].seen) < r; n++) {
		if (atomic_load(&s->stop))
			return;
		vcpu_poll(t);
		if (n % 16 == 0 && now_ns() > end) {
			stress_fail(s, i, "rule 1: round %u of flow %d lost: "
				    "no consumer saw it in 20 s", r, i);
			return;
		}
	}
}

/* Ping-pong on this thread's flows: publish the round, send, wait. */
static void send_rounds(struct vcpu_thr *t)
{
	struct stress *s = t->s;
	long rc;

	for (unsigned r = 1; r <= s->iters && !atomic_load(&s->stop); r++) {
		for (int j = 0; j < t->nr_mine; j++) {
			struct flow *fl = &s->flow[t->mine[j]];

			atomic_store(&fl->sent, r);
			rc = th_send(fl->from, t->vcpu, fl->sport);
			/* Rule 3: a send on a live channel succeeds. */
			CHECK(s, rc == 0, "rule 3: send on flow %d: %ld",
			      t->mine[j], rc);
		}
		for (int j = 0; j < t->nr_mine; j++)
			wait_seen(t, t->mine[j], r);
	}
}

/* Let the senders try @n more volatile sends, checking that no closed port
 * becomes pending meanwhile (rule 2). */
static void let_senders_send(struct vcpu_thr *t, unsigned n)
{
	struct stress *s = t->s;
	unsigned long target = atomic_load(&s->vol_sends) + n;
	uint64_t end = now_ns() + HANG_NS;

	while (atomic_load(&s->vol_sends) < target &&
	       !atomic_load(&s->stop)) {
		for (int i = 0; i < 2; i++)
			CHECK(s, !t->closed[i] ||
				 !th_pending(t->td, t->closed[i]),
			      "rule 2: closed port %u became pending",
			      t->closed[i]);
		vcpu_poll(t);
		if (now_ns() > end)
			stress_fail(s, -1, "no volatile send in 20 s");
	}
}

/* Close @port, a volatile port of domain 1, and check rule 2: "no event
 * reaches a later binding". */
static void close_volatile(struct vcpu_thr *t, uint32_t port, int slot)
{
	struct stress *s = t->s;
	long rc = th_close(t->td, port);

	CHECK(s, rc == 0, "close port %u: %ld", port, rc);
	/* Rule 2: close returns after the grace period and the finish, so
	 * what the old binding left pending is gone. */
	CHECK(s, !th_pending(t->td, port), "rule 2: port %u pending after "
	      "close", port);
	/* As Linux does, the number goes back to vCPU 0 (this thread): an
	 * event on it would reach on_event here. */
	evtchn_guest_bind_port(&t->td->g, port, 0);
	t->closed[slot] = port;
	/* Rule 2: it stays clear while senders send on the old number. */
	let_senders_send(t, 4);
}

/*
 * Move domain 1's end of interdomain channel @k to vCPU @v as Linux does:
 * mask, rebind in the guest and in the hypervisor, unmask from the calling
 * vCPU 0 (EVTCHNOP_unmask re-raises an event left pending).  Rule 1 covers
 * it: no event is lost across the move.  As in Xen, a send that read the
 * old notify vCPU before bind_vcpu may mark the old vCPU's selector after
 * the unmask; the port's next move re-raises such an event, so it is late,
 * not lost (the control thread runs until every sender is done).
 */
static void rebind(struct stress *s, unsigned k, uint32_t v)
{
	struct th_domain *d1 = &s->f->d1;
	uint32_t port = s->l[k];
	long rc;

	evtchn_guest_mask(&d1->g, port);
	evtchn_guest_bind_port(&d1->g, port, v);
	rc = th_bind_vcpu(d1, port, v);
	CHECK(s, rc == 0, "bind_vcpu port %u to vCPU %u: %ld", port, v, rc);
	evtchn_guest_unmask(&d1->g, 0, port);
	CHECK(s, !th_masked(d1, port), "port %u masked after unmask", port);
	s->owner[k] = v;
	s->rebinds++;
}

/* Domain 1's vCPU 0: bind, publish and close volatile ports; move the
 * stable interdomain ports between vCPUs. */
static void control(struct vcpu_thr *t)
{
	struct stress *s = t->s;
	struct th_domain *d1 = t->td;
	long a, b, rc;

	for (unsigned long n = 0; !atomic_load(&s->stop); n++) {
		uint32_t v = n % 4, k = (n / 2) % 4;

		if (n == MIN_CYCLES)
			done(s);
		/* A volatile IPI on a rotating vCPU. */
		t->closed[0] = t->closed[1] = 0;
		a = th_bind_ipi(d1, v);
		if (!CHECK(s, a > 0, "bind_ipi: %ld", a))
			return;
		evtchn_guest_bind_port(&d1->g, a, v);
		atomic_store(&s->vol[0], a);
		let_senders_send(t, 4);
		close_volatile(t, a, 0);

		/* A loopback pair: a's events reach vCPU v, b's vCPU 0. */
		t->closed[0] = t->closed[1] = 0;
		a = th_alloc_unbound(d1, DOMID_SELF, DOMID_SELF);
		if (!CHECK(s, a > 0, "alloc_unbound: %ld", a))
			return;
		rc = th_bind_vcpu(d1, a, v);
		CHECK(s, rc == 0, "bind_vcpu unbound port %ld: %ld", a, rc);
		evtchn_guest_bind_port(&d1->g, a, v);
		b = th_bind_interdomain(d1, DOMID_SELF, a);
		if (!CHECK(s, b > 0, "bind_interdomain loopback: %ld", b))
			return;
		evtchn_guest_bind_port(&d1->g, b, 0);
		atomic_store(&s->vol[0], a);
		atomic_store(&s->vol[1], b);
		let_senders_send(t, 4);
		close_volatile(t, n & 1 ? a : b, 0);
		close_volatile(t, n & 1 ? b : a, 1);

		v = (s->owner[k] + 1 + rand_r(&t->seed) % 3) % 4;
		if (n % 2 == 0)
			rebind(s, k, v);
		/* FIFO: a new priority applies from the port's next link. */
		if (s->fifo) {
			rc = th_set_priority(d1, s->l[k], rand_r(&t->seed) % 16);
			CHECK(s, rc == 0, "set_priority port %u: %ld", s->l[k],
			      rc);
		}
		s->cycles++;
	}
}

static void *vcpu_main(void *arg)
{
	struct vcpu_thr *t = arg;
	struct stress *s = t->s;

	if (t == &s->thr[0] && s->churn) {
		control(t);
	} else if (t->nr_mine) {
		send_rounds(t);
		done(s);
	}
	/* Keep taking this vCPU's events until every thread is done. */
	while (!atomic_load(&s->stop))
		vcpu_poll(t);
	return NULL;
}

/* Fill the rest of the 64-port word of port @last with idle IPIs. */
static void pad_word(struct th_domain *td, long last)
{
	while (++last % 64)
		assert_int_equal(th_bind_ipi(td, 0), last);
}

static void add_flow(struct stress *s, int i, struct th_domain *from,
		     uint32_t sport, struct th_domain *to, uint32_t rport,
		     unsigned thr)
{
	s->flow[i] = (struct flow){ .from = from, .sport = sport, .to = to,
				    .rport = rport };
	s->flow_of[to == &s->f->d2][rport] = i;
	s->thr[thr].mine[s->thr[thr].nr_mine++] = i;
}

static void stress_setup(struct stress *s, struct fx *f, bool churn)
{
	struct th_domain *d1 = &f->d1, *d2 = &f->d2;
	const char *env = getenv("EVTCHN_STRESS_ITERS");
	uint32_t ipi[4], r[4];
	long p;

	s->f = f;
	s->churn = churn;
	s->iters = env ? strtoul(env, NULL, 0) : 0;
	if (!s->iters)
		s->iters = DEFAULT_ITERS;
	s->bad_flow = -1;
	memset(s->flow_of, -1, sizeof(s->flow_of));
	for (uint32_t v = 0; v < 4; v++) {
		p = th_bind_ipi(d1, v);
		assert_true(p > 0);
		ipi[v] = p;
		evtchn_guest_bind_port(&d1->g, p, v);
		pad_word(d1, p);
	}
	for (unsigned k = 0; k < 4; k++) {
		p = th_alloc_unbound(d2, DOMID_SELF, 1);
		assert_true(p > 0);
		r[k] = p;
		assert_int_equal(th_bind_vcpu(d2, p, k % 2), 0);
		evtchn_guest_bind_port(&d2->g, p, k % 2);
		pad_word(d2, p);
		p = th_bind_interdomain(d1, 2, r[k]);
		assert_true(p > 0);
		s->l[k] = p;
		pad_word(d1, p);
		/* also re-raises the event bind_interdomain left pending */
		rebind(s, k, k);
	}
	assert_false(atomic_load(&s->failed));
	for (unsigned i = 0; i < 4; i++) {
		add_flow(s, i, d1, ipi[i], d1, ipi[i], 1 + i % 3);
		add_flow(s, 4 + i, d1, s->l[i], d2, r[i], 1 + (4 + i) % 3);
		add_flow(s, 8 + i, d2, r[i], d1, s->l[i], 4 + i % 2);
	}
	for (unsigned i = 0; i < NR_THR; i++) {
		struct vcpu_thr *t = &s->thr[i];

		t->s = s;
		t->dom = i >= 4;
		t->td = t->dom ? d2 : d1;
		t->vcpu = t->dom ? i - 4 : i;
		t->seed = i + 1;
		atomic_fetch_add(&s->busy, t->nr_mine > 0);
	}
	atomic_fetch_add(&s->busy, churn); /* the control thread */
}

/* After a failure: the frozen state of the flow that lost an event. */
static void report(struct stress *s)
{
	struct flow *fl;
	struct evtchn_status st = { 0 };
	struct th_domain *to;

	print_message("stress failure: %s\n", s->msg);
	if (s->bad_flow < 0)
		return;
	fl = &s->flow[s->bad_flow];
	to = fl->to;
	th_status(to, DOMID_SELF, fl->rport, &st);
	print_message("flow %d: sent %u seen %u; receiving port dom%u/%u: "
		      "pending %d masked %d, notify vCPU %u, guest vCPU %u\n",
		      s->bad_flow, atomic_load(&fl->sent),
		      atomic_load(&fl->seen), evtchn_domain_id(to->d),
		      fl->rport, th_pending(to, fl->rport),
		      th_masked(to, fl->rport), st.vcpu,
		      to->g.port_vcpu[fl->rport]);
	for (uint32_t v = 0; v < to->g.nr_vcpus; v++)
		print_message("  vCPU %u: upcall_pending %d, selector %#llx\n",
			      v, evtchn_guest_upcall_pending(&to->g, v),
			      (unsigned long long)
			      evtchn_guest_pending_sel(&to->g, v));
}

static void stress_run(struct fx *f, bool churn, bool fifo)
{
	struct stress *s = calloc(1, sizeof(*s));
	uint64_t t0 = now_ns();

	assert_non_null(s);
	s->fifo = fifo;
	if (fifo) {
		assert_int_equal(th_fifo_setup(&f->d1, 4), 0);
		assert_int_equal(th_fifo_setup(&f->d2, 4), 0);
	}
	stress_setup(s, f, churn);
	for (unsigned i = 0; i < NR_THR; i++)
		assert_int_equal(pthread_create(&s->thr[i].tid, NULL,
						vcpu_main, &s->thr[i]), 0);
	for (unsigned i = 0; i < NR_THR; i++)
		assert_int_equal(pthread_join(s->thr[i].tid, NULL), 0);
	if (atomic_load(&s->failed)) {
		report(s);
		free(s);
		fail();
	}
	/* Rule 1: every round of every flow was seen. */
	for (unsigned i = 0; i < NR_FLOWS; i++)
		assert_int_equal(atomic_load(&s->flow[i].seen), s->iters);
	if (churn)
		assert_true(s->cycles >= MIN_CYCLES);
	print_message("%u rounds on %d flows, %lu control cycles, %lu "
		      "rebinds, %lu volatile sends: %.2f s\n", s->iters,
		      NR_FLOWS, s->cycles, s->rebinds,
		      atomic_load(&s->vol_sends), (now_ns() - t0) / 1e9);
	free(s);
}

/* Rule 1 alone: no event on an open, unmasked channel is lost (IPIs and
 * interdomain channels in both directions, all senders at once); rule 3:
 * every send on them returns 0. */
static void no_event_lost(void **state)
{
	stress_run(*state, false, false);
}

/* Rules 1-3 together: the same flows while domain 1's vCPU 0 binds and
 * closes volatile ports that senders also hit (rule 2: no event reaches a
 * later binding; rule 3: those sends return 0 or -EINVAL) and moves the
 * stable interdomain ports between vCPUs (rule 1 across a rebind). */
static void no_event_lost_across_close_and_rebind(void **state)
{
	stress_run(*state, true, false);
}

/* The same two runs on the FIFO ABI; the control thread also changes the
 * priorities of domain 1's stable receiving ports as it goes. */
static void fifo_no_event_lost(void **state)
{
	stress_run(*state, false, true);
}

static void fifo_no_event_lost_across_close_rebind_and_priority(void **state)
{
	stress_run(*state, true, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(no_event_lost),
		FX_TEST(no_event_lost_across_close_and_rebind),
		FX_TEST(fifo_no_event_lost),
		FX_TEST(fifo_no_event_lost_across_close_rebind_and_priority),
	};

	return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}
