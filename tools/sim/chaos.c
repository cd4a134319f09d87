/* SPDX-License-Identifier: MIT */
/*
 * evtchn-sim --chaos: bindings closed, bound again, reset and rerouted at
 * random while traffic runs, with accounting that tells a lost event and
 * an event that reached a later binding from the drops Xen makes.
 *
 * The workload.  The guest (domain 1) has N vCPU threads and one more
 * vCPU, the control vCPU, whose hypercalls the chaos thread makes.
 * Domain 0 holds backend handles; one thread of its own (the "domain 0
 * thread") reads them and the kick eventfds and sends back.  A channel of
 * the workload is a slot, of one of four kinds:
 *   IPI       a guest port bound with EVTCHNOP_bind_ipi to a vCPU; every
 *             vCPU sends on it;
 *   loopback  two IPI ports S and T and a PORT_TO_PORT route S -> T: the
 *             vCPUs send on S, the event arrives on T;
 *   handle    an interdomain channel from a guest port p to domain 0's
 *             port q, which a backend handle holds: the vCPUs' sends on p
 *             reach the handle (evtchn_backend_pending()), the domain 0
 *             thread's evtchn_backend_notify() on q reaches p;
 *   route     the same channel with routes: PORT_TO_FD takes the sends on
 *             p to a kick eventfd the domain 0 thread reads, FD_TO_PORT
 *             its writes to an answer eventfd to p (the library's I/O
 *             thread).
 * The chaos thread, meanwhile: closes a slot's guest ports and binds new
 * ones; has a handle unbind a slot's q and bind the guest port again
 * (through any handle); closes a handle and opens it again; moves a
 * port's notification to another vCPU (mask, EVTCHNOP_bind_vcpu, unmask,
 * as Linux does); replaces the whole route table with an equal one;
 * resets the guest (EVTCHNOP_reset by the control vCPU), which then comes
 * back on 2-level or FIFO, chosen at random; resets domain 0
 * (EVTCHNOP_reset through domain 0's hypercall path).
 *
 * Bindings and generations.  Each direction of a slot ends in a receiving
 * binding: the IPI port; T; q (or, routed, the kick eventfd); p.  It lives
 * from the bind that makes it to the close that ends it, has a generation
 * number, and has counters of its own (struct cblk), two sets a slot
 * direction, used by generations in turn.  The guest to domain 0
 * direction's binding is the channel (a new q, and a new eventfd pair,
 * each time either end changes: @cgen); the other direction's is p
 * (@pgen), which outlives changes of domain 0's end.  A slot's state word
 * holds both generations and whether senders may use it (LIVE).
 *
 * Counting.  A sender makes its send sequence (sseq) odd, reads the
 * state word, and, if the slot is live, counts the send in the receiving
 * binding's @sent before it makes it; after the call it reads the state
 * word again and makes its sequence even.  Unchanged: the binding existed
 * throughout the call (the chaos thread clears LIVE before it changes
 * anything, and sets it only after the new binding is complete): a stable
 * send, which the library must accept and deliver.  Changed: the send
 * raced with a change, and may be delivered to the old binding or dropped
 * where Xen drops it (-EINVAL from a port being closed, or nothing from a
 * port whose peer went away).  A receiver makes its handler sequence
 * (hseq) odd, takes events (the reference consumer clears a pending bit;
 * evtchn_backend_pending() reports a port; read() empties a kick
 * eventfd) and for each reads the binding's @sent and keeps the largest
 * in @seen, then makes the sequence even.
 *
 * Lost.  When the chaos thread decides to change a binding, the sends
 * recorded stable by then are owed: it waits until @seen reaches the
 * highest of them, sending one probe of its own on the binding every
 * millisecond, at most --drain-timeout; what is left then is lost.  At
 * the end, with every sender stopped, a binding still bound must have
 * @seen at its last stable send; the rest is lost.  As everywhere in
 * evtchn-sim, a send lost and followed by a delivered one on the same
 * binding looks like coalescing, to the guest as to this check.
 *
 * Dropped.  What no delivery followed when a binding ended (sent after
 * the change was decided, or at the end raced with one): the close took
 * its event with it (Xen's evtchn_free() clears pending), the send found
 * the port closed or unbound, or an eventfd signal was left unread when
 * its route went away.
 *
 * No event reaches a later binding.  After the library closed a binding,
 * the chaos thread waits until every sender's sseq and then every
 * receiver's hseq is even or has moved on.  Only then does it bind the
 * new binding, with @sent zero, and it makes the slot live only after
 * that.  So a send that may reach the new binding as invariant 3 allows
 * (one made while the binding existed) is counted in its @sent before it
 * is made, and a receiver that takes an event on a binding whose @sent is
 * 0 holds an event that no send to that binding explains: a late-binding
 * hit.  So is an event on a port that no binding holds, and a guest port
 * found pending when it was just bound or just before it is published
 * (VIRQ_TIMER's excepted: the library's timer thread may raise it as soon
 * as it is bound).  The one event Xen raises itself
 * at a bind (EVTCHNOP_bind_interdomain makes the binder's new port
 * pending: domain 0's q) is allowed once.  A binding whose port number
 * the old one had therefore cannot receive the old one's events unseen:
 * they would arrive while its @sent is 0, or be found pending at the bind.
 *
 * File descriptors.  /proc/self/fd is counted at the start, once
 * everything runs, at the end of the run and after the teardown: the
 * pairs must match.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>

#include "evtchn/backend.h"
#include "evtchn/evtchn.h"
#include "evtchn/route.h"
#include "evtchn_guest.h"
#include "sim.h"

#define CH_PORTS 4096u     /* ports a map covers: the 2-level maximum */
#define NH 3u              /* backend handles */
#define BATCH 8u           /* sends a vCPU or domain 0 makes at a time */
#define D0_ARG 0x1000u     /* domain 0's hypercall argument page */
#define MS 1000000ull
#define NS 1000000000ull

enum ck { CK_IPI, CK_LOOP, CK_HANDLE, CK_ROUTE, CK_NR };

static const char *const kind_name[CK_NR] = { "IPI", "loopback", "handle",
					       "route" };

/* Rows of the summary: a slot kind and direction. */
enum { ROW_IPI, ROW_LOOP, ROW_HFWD, ROW_HBACK, ROW_RFWD, ROW_RBACK,
       NROWS };

static const char *const row_name[NROWS] = {
	"IPI", "PORT_TO_PORT loopback", "guest to handle", "handle to guest",
	"PORT_TO_FD kick", "FD_TO_PORT answer",
};

/* The counters of one receiving binding. */
struct cblk {
	_Atomic uint64_t sent;        /* sends counted, each before made */
	_Atomic uint64_t seen;        /* largest @sent read after an event */
	_Atomic uint64_t delivered;   /* events taken */
	_Atomic uint64_t raced;       /* sends the binding changed under */
	_Atomic uint64_t refused;     /* of those, refused by the library */
	_Atomic uint64_t last_stable; /* the highest stable send's index */
	_Atomic uint64_t bind_allow;  /* events Xen raises at the bind */
	_Atomic uint64_t bind_events;
	_Atomic uint64_t late;        /* events no send to it explains */
	/* the chaos thread's: lost when the binding changed; sends below
	 * this are accounted (an answer eventfd's route went away) */
	uint64_t lost, floor;
} __attribute__((aligned(64)));

/* The state word: channel generation, port generation, LIVE. */
#define ST_LIVE 1ull

static uint64_t st_make(uint32_t cgen, uint32_t pgen, bool live)
{
	return (uint64_t)cgen << 32 | (uint64_t)(pgen & 0x7fffffffu) << 1 |
	       (live ? ST_LIVE : 0);
}

static uint32_t st_cgen(uint64_t st)
{
	return (uint32_t)(st >> 32);
}

static uint32_t st_pgen(uint64_t st)
{
	return (uint32_t)(st >> 1) & 0x7fffffffu;
}

struct cslot {
	uint32_t idx;
	enum ck kind;
	_Atomic uint64_t st;
	_Atomic uint32_t sport;       /* the guest port senders send on */
	_Atomic uint32_t q;           /* domain 0's port (handle, route) */
	_Atomic uint32_t hidx;        /* the handle that holds it */
	_Atomic int kick[2], ans[2];  /* route: eventfds, by cgen & 1 */
	struct cblk fwd[2];           /* by cgen & 1 */
	struct cblk back[2];          /* by pgen & 1 (handle, route) */
	/* the chaos thread's */
	uint32_t cgen, pgen;
	uint32_t vcpu;                /* where p, T or the IPI notify */
	uint32_t svcpu;               /* loopback: S's vCPU */
	uint32_t tport;               /* loopback: T */
	bool routed;                  /* its routes are in the table */
	unsigned ends;                /* what the change in progress ends */
};

/* Ends of a slot a change replaces. */
#define E_GUEST 1u  /* the guest ports (and with them domain 0's end) */
#define E_DOM0 2u   /* domain 0's port and the eventfds */

/* Map entries: what a port (guest, or domain 0's) is bound to now. */
enum { M_NONE, M_LIVE, M_CLOSING };
/* guest roles; domain 0's entries hold the handle's index instead */
enum { R_TIMER = 1, R_FWD, R_SRC, R_BACK };

static uint64_t me(unsigned state, unsigned role, uint32_t idx, uint32_t gen)
{
	return state | (uint64_t)role << 4 | (uint64_t)idx << 8 |
	       (uint64_t)gen << 32;
}

#define ME_STATE(m) ((unsigned)((m) & 15))
#define ME_ROLE(m) ((unsigned)(((m) >> 4) & 15))
#define ME_IDX(m) ((uint32_t)(((m) >> 8) & 0xffffff))
#define ME_GEN(m) ((uint32_t)((m) >> 32))

/* An epoll key of the domain 0 thread: a kick eventfd's slot and
 * generation (top bit set), or a handle's index. */
#define KEY_KICK (1ull << 63)

struct ctot {
	uint64_t sent, delivered, raced, refused, dropped, lost, late;
	uint64_t bind_events;
};

enum act { A_CLOSE, A_UNBIND, A_MOVE, A_SWAP, A_REOPEN, A_GRESET, A_DRESET,
	   A_NR };

struct sim_chaos {
	struct sim *s;
	uint32_t ctl;                 /* the control vCPU */
	uint32_t nt;                  /* traffic vCPUs */
	uint32_t nslots;
	struct cslot *slot;
	_Atomic uint64_t gmap[CH_PORTS];
	_Atomic uint64_t dmap[CH_PORTS];
	_Atomic uint32_t timer_port[SIM_MAX_VCPUS];
	/* The handles.  Read-held by the domain 0 thread for a pass and by
	 * the chaos thread for an unbind or a probe (the library serialises
	 * calls on one handle); write-held to close and reopen a handle and
	 * to bind a port and record it before the bind's event is taken. */
	pthread_rwlock_t hlock;
	struct evtchn_backend *h[NH];
	int ep;                       /* the domain 0 thread's epoll */
	pthread_t d0_thread, chaos_thread;
	bool d0_started, chaos_started;
	_Atomic uint64_t d0_sseq, d0_hseq, d0_sends, d0_events;
	_Atomic bool d0_stop, d0_quiet, chaos_stop;
	_Atomic uint32_t park_req, parked;
	_Atomic uint64_t late_total, ticks, actions;
	uint64_t d0_rng;
	/* the chaos thread's */
	uint64_t rng;
	bool fifo;                    /* the guest's ABI now */
	bool leaked, injected_late;
	uint64_t n_act[A_NR], n_close[CK_NR], n_other_handle, n_tables,
		n_reset_fifo, n_reset_2l, n_reset_by_d0, n_d0_close,
		n_bindings, n_probes, n_updates;
	struct ctot tot[NROWS];
	uint64_t no_tick;
	int fd_start, fd_setup, fd_end, fd_after;
};

/* ---- helpers ---- */

static uint64_t rnd(uint64_t *x)
{
	/* xorshift64* */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

static uint32_t rndn(uint64_t *x, uint32_t n)
{
	return (uint32_t)(((rnd(x) >> 32) * n) >> 32);
}

static void max_store(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t old = atomic_load(a);

	while (old < v && !atomic_compare_exchange_weak(a, &old, v))
		;
}

static void nap_us(unsigned us)
{
	struct timespec ts = { 0, (long)us * 1000 };

	nanosleep(&ts, NULL);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool has_dom0_end(const struct cslot *sl)
{
	return sl->kind == CK_HANDLE || sl->kind == CK_ROUTE;
}

static unsigned row_of(const struct cslot *sl, bool back)
{
	switch (sl->kind) {
	case CK_IPI:
		return ROW_IPI;
	case CK_LOOP:
		return ROW_LOOP;
	case CK_HANDLE:
		return back ? ROW_HBACK : ROW_HFWD;
	default:
		return back ? ROW_RBACK : ROW_RFWD;
	}
}

static void __attribute__((format(printf, 2, 3)))
late_hit(struct sim_chaos *c, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&c->late_total, 1);
	sim_fail(c->s, "late-binding hit: %s", msg);
}

static void zero_blk(struct cblk *b)
{
	atomic_store(&b->sent, 0);
	atomic_store(&b->seen, 0);
	atomic_store(&b->delivered, 0);
	atomic_store(&b->raced, 0);
	atomic_store(&b->refused, 0);
	atomic_store(&b->last_stable, 0);
	atomic_store(&b->bind_allow, 0);
	atomic_store(&b->bind_events, 0);
	atomic_store(&b->late, 0);
	b->lost = b->floor = 0;
}

/* ---- hypercalls of the chaos thread ---- */

static long gop(struct sim_chaos *c, int cmd, void *arg, size_t len)
{
	return sim_guest_op(c->s, c->ctl, cmd, arg, len);
}

/* An event channel op of domain 0 (its vCPU 0), arguments in its memory. */
static long d0op(struct sim_chaos *c, int cmd, void *arg, size_t len)
{
	struct sim *s = c->s;
	uint64_t a[6] = { (uint64_t)cmd, D0_ARG };
	long rc;

	memcpy(s->dom0_mem + D0_ARG, arg, len);
	rc = evtchn_hypercall(s->dom0, 0, __HYPERVISOR_event_channel_op, a);
	memcpy(arg, s->dom0_mem + D0_ARG, len);
	return rc;
}

static void must(struct sim_chaos *c, const char *what, long rc)
{
	if (rc < 0)
		sim_fail(c->s, "chaos: %s: %s", what, evtchn_strerror((int)rc));
}

/* ---- receivers ---- */

/* A receiver took an event of binding @b (generation @gen). */
static void took(struct sim_chaos *c, struct cslot *sl, struct cblk *b,
		 const char *who, uint32_t port, uint32_t gen)
{
	uint64_t sent = atomic_load(&b->sent), a;

	if (!sent) {
		a = atomic_load(&b->bind_allow);
		while (a && !atomic_compare_exchange_weak(&b->bind_allow, &a,
							  a - 1))
			;
		if (a) {
			atomic_fetch_add(&b->bind_events, 1);
			return;
		}
		atomic_fetch_add(&b->late, 1);
		late_hit(c, "%s port %u took an event of %s slot %u's "
			    "binding %u, to which nothing was sent yet",
			 who, port, kind_name[sl->kind], sl->idx, gen);
		return;
	}
	atomic_fetch_add_explicit(&b->delivered, 1, memory_order_relaxed);
	max_store(&b->seen, sent);
}

/* The guest's handler, for each event the consumer takes. */
static void on_event(uint32_t vcpu, uint32_t port, void *opaque)
{
	struct sim_vcpu *v = opaque;
	struct sim_chaos *c = v->sim->chaos;
	struct cslot *sl;
	uint64_t m;

	atomic_fetch_add_explicit(&v->events, 1, memory_order_relaxed);
	m = port < CH_PORTS ? atomic_load(&c->gmap[port]) : 0;
	if (ME_STATE(m) == M_NONE) {
		late_hit(c, "vCPU %u took an event on guest port %u, which "
			    "no binding holds",
			 vcpu, port);
		return;
	}
	if (ME_ROLE(m) == R_TIMER) {
		atomic_fetch_add_explicit(&v->ticks, 1, memory_order_relaxed);
		if (v->draining && ME_IDX(m) == vcpu)
			atomic_store(&v->final_tick, true);
		return;
	}
	sl = &c->slot[ME_IDX(m)];
	took(c, sl,
	     ME_ROLE(m) == R_BACK ? &sl->back[ME_GEN(m) & 1]
				  : &sl->fwd[ME_GEN(m) & 1],
	     "guest", port, ME_GEN(m));
}

/* ---- senders ---- */

/* Where a sender looks at the state word again: stable or raced. */
static void settle(struct sim_chaos *c, struct cslot *sl, struct cblk *b,
		   uint64_t st, uint64_t idx, long rc, const char *who)
{
	if (atomic_load(&sl->st) == st) {
		if (rc)
			sim_fail(c->s, "%s: a send on %s slot %u, bound "
				       "throughout, failed: %s",
				 who, kind_name[sl->kind], sl->idx,
				 evtchn_strerror((int)rc));
		max_store(&b->last_stable, idx);
		return;
	}
	atomic_fetch_add_explicit(&b->raced, 1, memory_order_relaxed);
	if (rc == -EINVAL || rc == -ENOTCONN)
		atomic_fetch_add_explicit(&b->refused, 1,
					  memory_order_relaxed);
	else if (rc)
		sim_fail(c->s, "%s: a send that raced with a change of %s "
			       "slot %u: %s",
			 who, kind_name[sl->kind], sl->idx,
			 evtchn_strerror((int)rc));
}

/* Now and then a sender dawdles between reading the binding and sending
 * (a short spin, 1 send in 32) or gives its CPU away (1 in 64): more sends
 * are in flight when the chaos thread changes a binding. */
static void dawdle(uint64_t *r)
{
	uint64_t x = rnd(r);

	if ((x & 31) == 0)
		for (unsigned i = (unsigned)(x >> 40) & 255; i; i--)
			__builtin_ia32_pause();
	else if ((x & 63) == 1)
		sched_yield();
}

static long guest_send(struct sim *s, uint32_t vcpu, uint32_t port)
{
	struct evtchn_send send = { .port = port };

	return sim_guest_op(s, vcpu, EVTCHNOP_send, &send, sizeof(send));
}

/* A vCPU's send on slot @sl, towards its receiving binding. */
static void vcpu_send(struct sim_vcpu *v, struct cslot *sl)
{
	struct sim_chaos *c = v->sim->chaos;
	uint64_t st, idx;
	struct cblk *b;
	long rc;

	/* odd before the state is read: pairs with quiesce() */
	atomic_fetch_add(&v->sseq, 1);
	st = atomic_load(&sl->st);
	if (st & ST_LIVE) {
		b = &sl->fwd[st_cgen(st) & 1];
		idx = atomic_fetch_add(&b->sent, 1) + 1;
		dawdle(&v->rng);
		rc = guest_send(v->sim, v->id, atomic_load(&sl->sport));
		settle(c, sl, b, st, idx, rc, "vCPU");
		atomic_fetch_add_explicit(&v->sends, 1, memory_order_relaxed);
	}
	atomic_fetch_add(&v->sseq, 1);
}

/* Domain 0's send on slot @sl, towards the guest (hlock held). */
static long d0_notify(struct sim_chaos *c, struct cslot *sl, uint64_t st)
{
	uint64_t one = 1;

	if (sl->kind == CK_HANDLE)
		return c->h[atomic_load(&sl->hidx)]
			       ? evtchn_backend_notify(
					 c->h[atomic_load(&sl->hidx)],
					 atomic_load(&sl->q))
			       : -ENOTCONN;
	if (write(atomic_load(&sl->ans[st_cgen(st) & 1]), &one, sizeof(one)) !=
	    sizeof(one))
		return -errno;
	return 0;
}

static void d0_send(struct sim_chaos *c, struct cslot *sl)
{
	uint64_t st, idx;
	struct cblk *b;
	long rc;

	atomic_fetch_add(&c->d0_sseq, 1);
	st = atomic_load(&sl->st);
	if (st & ST_LIVE) {
		b = &sl->back[st_pgen(st) & 1];
		idx = atomic_fetch_add(&b->sent, 1) + 1;
		dawdle(&c->d0_rng);
		rc = d0_notify(c, sl, st);
		settle(c, sl, b, st, idx, rc, "domain 0");
		atomic_fetch_add_explicit(&c->d0_sends, 1,
					  memory_order_relaxed);
	}
	atomic_fetch_add(&c->d0_sseq, 1);
}

/* ---- the vCPU threads ---- */

static void vcpu_park(struct sim_chaos *c)
{
	atomic_fetch_add(&c->parked, 1);
	while (atomic_load(&c->park_req))
		nap_us(50);
	atomic_fetch_sub(&c->parked, 1);
}

static void *vcpu_main(void *arg)
{
	struct sim_vcpu *v = arg;
	struct sim *s = v->sim;
	struct sim_chaos *c = s->chaos;
	struct vcpu_set_periodic_timer pt = {
		.period_ns = s->o.timer_ms * MS,
	};
	long rc;

	rc = sim_vcpu_op(s, v->id, VCPUOP_set_periodic_timer, &pt, sizeof(pt));
	if (rc)
		sim_fail(s, "vCPU %u: VCPUOP_set_periodic_timer: %s", v->id,
			 evtchn_strerror((int)rc));
	for (;;) {
		int phase = atomic_load(&s->phase);

		if (phase == SIM_STOP)
			break;
		if (atomic_load(&c->park_req)) {
			vcpu_park(c);
			continue;
		}
		if (phase == SIM_RUN) {
			for (unsigned i = 0; i < BATCH; i++)
				vcpu_send(v, &c->slot[rndn(&v->rng,
							   c->nslots)]);
		} else if (!v->draining) {
			sim_drain_begin(v);
		}
		sim_wait_upcall(v, phase == SIM_RUN ? 1 : 100);
		atomic_fetch_add(&v->hseq, 1);
		evtchn_guest_upcall(&s->g, v->id, on_event, v);
		atomic_fetch_add(&v->hseq, 1);
	}
	sim_vcpu_op(s, v->id, VCPUOP_stop_singleshot_timer, NULL, 0);
	sim_vcpu_op(s, v->id, VCPUOP_stop_periodic_timer, NULL, 0);
	return NULL;
}

/* ---- the domain 0 thread ---- */

static void d0_kick(struct sim_chaos *c, uint64_t key)
{
	struct cslot *sl = &c->slot[(uint32_t)(key >> 32) & 0xffffff];
	uint32_t gen = (uint32_t)key;
	uint64_t count;

	if (read(atomic_load(&sl->kick[gen & 1]), &count, sizeof(count)) !=
	    sizeof(count))
		return;
	atomic_fetch_add_explicit(&c->d0_events, 1, memory_order_relaxed);
	took(c, sl, &sl->fwd[gen & 1], "kick eventfd of domain 0", 0, gen);
}

/* Every port handle @k reports, each unmasked after it is taken. */
static void d0_reports(struct sim_chaos *c, uint32_t k)
{
	struct evtchn_backend *h = c->h[k];
	int q;

	while (h && (q = evtchn_backend_pending(h)) >= 0) {
		uint64_t m = (uint32_t)q < CH_PORTS ? atomic_load(&c->dmap[q])
						    : 0;

		atomic_fetch_add_explicit(&c->d0_events, 1,
					  memory_order_relaxed);
		if (ME_STATE(m) == M_NONE || ME_ROLE(m) != k) {
			late_hit(c, "handle %u reported domain 0's port %d, "
				    "which it does not hold",
				 k, q);
		} else {
			struct cslot *sl = &c->slot[ME_IDX(m)];

			took(c, sl, &sl->fwd[ME_GEN(m) & 1], "domain 0",
			     (uint32_t)q, ME_GEN(m));
		}
		evtchn_backend_unmask(h, (uint32_t)q);
	}
}

static void *d0_main(void *arg)
{
	struct sim_chaos *c = arg;
	struct sim *s = c->s;
	struct epoll_event ev[32];

	while (!atomic_load(&c->d0_stop)) {
		int n;

		/* odd from before epoll_wait(): a kick eventfd it returns is
		 * closed only once the pass is over */
		atomic_fetch_add(&c->d0_hseq, 1);
		n = epoll_wait(c->ep, ev, 32, 1);
		pthread_rwlock_rdlock(&c->hlock);
		for (int i = 0; i < n; i++)
			if (ev[i].data.u64 & KEY_KICK)
				d0_kick(c, ev[i].data.u64);
		for (uint32_t k = 0; k < NH; k++)
			d0_reports(c, k);
		atomic_fetch_add(&c->d0_hseq, 1);
		if (atomic_load(&s->phase) == SIM_RUN) {
			for (unsigned i = 0; i < BATCH; i++) {
				struct cslot *sl =
					&c->slot[rndn(&c->d0_rng, c->nslots)];

				if (has_dom0_end(sl))
					d0_send(c, sl);
			}
		} else {
			atomic_store(&c->d0_quiet, true);
		}
		pthread_rwlock_unlock(&c->hlock);
	}
	return NULL;
}

/* ---- the chaos thread's waits ---- */

/* Until every sender (@senders) or receiver pass that may have begun
 * before the call is over. */
static void quiesce(struct sim_chaos *c, bool senders)
{
	uint64_t snap[SIM_MAX_VCPUS + 1];
	_Atomic uint64_t *seq[SIM_MAX_VCPUS + 1];
	uint32_t n = c->nt;

	for (uint32_t i = 0; i < n; i++)
		seq[i] = senders ? &c->s->vcpu[i].sseq : &c->s->vcpu[i].hseq;
	seq[n++] = senders ? &c->d0_sseq : &c->d0_hseq;
	for (uint32_t i = 0; i < n; i++)
		snap[i] = atomic_load(seq[i]);
	for (uint32_t i = 0; i < n; i++)
		while ((snap[i] & 1) && atomic_load(seq[i]) == snap[i])
			sched_yield();
}

/* A send of the chaos thread on binding @b of @sl (live: always stable). */
static void probe(struct sim_chaos *c, struct cslot *sl, bool back)
{
	uint64_t st = atomic_load(&sl->st);
	struct cblk *b = back ? &sl->back[st_pgen(st) & 1]
			      : &sl->fwd[st_cgen(st) & 1];
	uint64_t idx = atomic_fetch_add(&b->sent, 1) + 1;
	long rc;

	if (back) {
		pthread_rwlock_rdlock(&c->hlock);
		rc = d0_notify(c, sl, st);
		pthread_rwlock_unlock(&c->hlock);
	} else {
		rc = guest_send(c->s, c->ctl, atomic_load(&sl->sport));
	}
	settle(c, sl, b, st, idx, rc, "chaos probe");
	c->n_probes++;
}

/* The owed sends of a binding about to change: until @seen reaches the
 * last stable send recorded now. */
static void owed(struct sim_chaos *c, struct cslot *sl, bool back)
{
	struct sim *s = c->s;
	struct cblk *b = back ? &sl->back[sl->pgen & 1]
			      : &sl->fwd[sl->cgen & 1];
	uint64_t want = atomic_load(&b->last_stable), seen;
	uint64_t start = sim_now_ns(), next = start + MS;
	uint64_t deadline = start + (uint64_t)(s->o.drain_timeout * 1e9);

	/* below the floor, an answer eventfd's route took it away */
	while (want > b->floor && (seen = atomic_load(&b->seen)) < want) {
		uint64_t now = sim_now_ns();

		if (now >= deadline) {
			b->lost += want - seen;
			sim_fail(s, "%s slot %u: %llu sends made before its "
				    "change was decided were never delivered",
				 kind_name[sl->kind], sl->idx,
				 (unsigned long long)(want - seen));
			return;
		}
		if (now >= next) {
			probe(c, sl, back);
			next = now + MS;
		}
		sched_yield();
	}
}

/* ---- routes ---- */

static void routes_apply(struct sim_chaos *c)
{
	struct evtchn_route *r = calloc(2 * c->nslots + 1, sizeof(*r));
	unsigned n = 0;
	int rc;

	if (!r) {
		sim_fail(c->s, "chaos: calloc");
		return;
	}
	for (uint32_t i = 0; i < c->nslots; i++) {
		struct cslot *sl = &c->slot[i];
		uint32_t g = sl->cgen & 1;

		if (!sl->routed)
			continue;
		if (sl->kind == CK_LOOP) {
			r[n++] = (struct evtchn_route){
				.kind = EVTCHN_ROUTE_PORT_TO_PORT,
				.port = atomic_load(&sl->sport),
				.target_port = sl->tport };
		} else {
			r[n++] = (struct evtchn_route){
				.kind = EVTCHN_ROUTE_PORT_TO_FD,
				.port = atomic_load(&sl->sport),
				.fd = atomic_load(&sl->kick[g]) };
			r[n++] = (struct evtchn_route){
				.kind = EVTCHN_ROUTE_FD_TO_PORT,
				.port = atomic_load(&sl->sport),
				.fd = atomic_load(&sl->ans[g]),
				.vcpu = sl->vcpu };
		}
	}
	/* in a new order each time: the library sorts them */
	for (unsigned i = n; i > 1; i--) {
		unsigned j = rndn(&c->rng, i);
		struct evtchn_route t = r[i - 1];

		r[i - 1] = r[j];
		r[j] = t;
	}
	rc = evtchn_routes_set(c->s->d, r, n);
	if (rc)
		must(c, "evtchn_routes_set", rc);
	c->n_tables++;
	free(r);
}

/* The routes of @sl in (@in) or out of the table: one entry at a time
 * (evtchn_route_update()), or a whole new table, at random. */
static void route_slot(struct sim_chaos *c, struct cslot *sl, bool in)
{
	uint32_t p = atomic_load(&sl->sport), g = sl->cgen & 1;
	struct evtchn_route r[2];
	unsigned n = 0;

	sl->routed = in;
	if (rnd(&c->rng) & 1) {
		routes_apply(c);
		return;
	}
	if (sl->kind == CK_LOOP) {
		r[n++] = (struct evtchn_route){
			.kind = EVTCHN_ROUTE_PORT_TO_PORT, .port = p,
			.target_port = in ? sl->tport : 0 };
	} else {
		r[n++] = (struct evtchn_route){
			.kind = EVTCHN_ROUTE_PORT_TO_FD, .port = p,
			.fd = in ? atomic_load(&sl->kick[g]) : -1 };
		r[n++] = (struct evtchn_route){
			.kind = EVTCHN_ROUTE_FD_TO_PORT, .port = p,
			.fd = in ? atomic_load(&sl->ans[g]) : -1,
			.vcpu = sl->vcpu };
	}
	for (unsigned i = 0; i < n; i++)
		must(c, "evtchn_route_update",
		     evtchn_route_update(c->s->d, &r[i]));
	c->n_updates += n;
}

/* ---- binding ---- */

/* A guest port just bound must not be pending: nothing was sent to it
 * (@when: when it was bound, or later, before anything was). */
static void fresh(struct sim_chaos *c, uint32_t port, const char *when)
{
	if (port >= CH_PORTS) {
		sim_fail(c->s, "chaos: guest port %u beyond the map", port);
		return;
	}
	if (evtchn_guest_is_pending(&c->s->g, port))
		late_hit(c, "guest port %u was pending %s", port, when);
}

#define AT_BIND "when it was bound"
#define BEFORE_SEND "before anything was sent to it"


static uint32_t bind_ipi(struct sim_chaos *c, uint32_t vcpu)
{
	struct evtchn_bind_ipi bi = { .vcpu = vcpu };
	long rc = gop(c, EVTCHNOP_bind_ipi, &bi, sizeof(bi));

	must(c, "EVTCHNOP_bind_ipi", rc);
	if (rc)
		return 0;
	fresh(c, bi.port, AT_BIND);
	evtchn_guest_bind_port(&c->s->g, bi.port, vcpu);
	return bi.port;
}

static void gmap_set(struct sim_chaos *c, uint32_t port, uint64_t m)
{
	if (port && port < CH_PORTS)
		atomic_store(&c->gmap[port], m);
}

static void dmap_set(struct sim_chaos *c, uint32_t port, uint64_t m)
{
	if (port < CH_PORTS)
		atomic_store(&c->dmap[port], m);
}

/* --inject-late: an event the guest sends to a binding before it is
 * published, uncounted: its receiver must call it a late-binding hit. */
static void inject_late(struct sim_chaos *c, uint32_t port)
{
	if (!c->s->o.inject_late || c->injected_late ||
	    atomic_load(&c->s->phase) != SIM_RUN || !c->s->t_run)
		return;
	c->injected_late = true;
	must(c, "EVTCHNOP_send (--inject-late)",
	     guest_send(c->s, c->ctl, port));
}

/* New guest ports for @sl (a new generation of its guest-end bindings). */
static void bind_guest_end(struct sim_chaos *c, struct cslot *sl)
{
	struct sim *s = c->s;
	uint32_t p;

	switch (sl->kind) {
	case CK_IPI:
		sl->pgen = ++sl->cgen;
		zero_blk(&sl->fwd[sl->cgen & 1]);
		sl->vcpu = rndn(&c->rng, c->nt);
		p = bind_ipi(c, sl->vcpu);
		gmap_set(c, p, me(M_LIVE, R_FWD, sl->idx, sl->cgen));
		atomic_store(&sl->sport, p);
		inject_late(c, p);
		break;
	case CK_LOOP:
		sl->pgen = ++sl->cgen;
		zero_blk(&sl->fwd[sl->cgen & 1]);
		sl->svcpu = rndn(&c->rng, c->nt);
		sl->vcpu = rndn(&c->rng, c->nt);
		p = bind_ipi(c, sl->svcpu);
		sl->tport = bind_ipi(c, sl->vcpu);
		gmap_set(c, p, me(M_LIVE, R_SRC, sl->idx, sl->cgen));
		gmap_set(c, sl->tport, me(M_LIVE, R_FWD, sl->idx, sl->cgen));
		atomic_store(&sl->sport, p);
		sl->routed = true;
		break;
	default: {
		struct evtchn_alloc_unbound au = {
			.dom = DOMID_SELF, .remote_dom = SIM_BACKEND_DOMID };
		struct evtchn_bind_vcpu bv;
		long rc;

		sl->pgen++;
		zero_blk(&sl->back[sl->pgen & 1]);
		sl->vcpu = rndn(&c->rng, c->nt);
		rc = gop(c, EVTCHNOP_alloc_unbound, &au, sizeof(au));
		must(c, "EVTCHNOP_alloc_unbound", rc);
		if (rc)
			return;
		fresh(c, au.port, AT_BIND);
		bv = (struct evtchn_bind_vcpu){ .port = au.port,
						.vcpu = sl->vcpu };
		must(c, "EVTCHNOP_bind_vcpu",
		     gop(c, EVTCHNOP_bind_vcpu, &bv, sizeof(bv)));
		evtchn_guest_bind_port(&s->g, au.port, sl->vcpu);
		gmap_set(c, au.port, me(M_LIVE, R_BACK, sl->idx, sl->pgen));
		atomic_store(&sl->sport, au.port);
		break;
	}
	}
	c->n_bindings++;
}

/* A new domain 0 end for @sl: a handle binds its guest port (which is
 * unbound for domain 0), a route slot gets new eventfds. */
static void bind_dom0_end(struct sim_chaos *c, struct cslot *sl)
{
	struct cblk *b;
	uint32_t k = rndn(&c->rng, NH);
	int q;

	sl->cgen++;
	b = &sl->fwd[sl->cgen & 1];
	zero_blk(b);
	/* Xen makes the binder's new port pending */
	atomic_store(&b->bind_allow, 1);
	if (k != atomic_load(&sl->hidx) && c->s->t_run)
		c->n_other_handle++;
	/* the map is written before the domain 0 thread can take the bind's
	 * event */
	pthread_rwlock_wrlock(&c->hlock);
	q = evtchn_backend_bind_interdomain(c->h[k], SIM_GUEST_DOMID,
					    atomic_load(&sl->sport));
	if (q >= 0) {
		dmap_set(c, (uint32_t)q, me(M_LIVE, k, sl->idx, sl->cgen));
		atomic_store(&sl->q, (uint32_t)q);
		atomic_store(&sl->hidx, k);
	}
	pthread_rwlock_unlock(&c->hlock);
	must(c, "evtchn_backend_bind_interdomain", q);
	if (sl->kind == CK_ROUTE) {
		uint32_t g = sl->cgen & 1;
		int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		int ans = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct epoll_event ev = {
			.events = EPOLLIN,
			.data.u64 = KEY_KICK | (uint64_t)sl->idx << 32 |
				    sl->cgen,
		};

		if (kick < 0 || ans < 0)
			sim_fail(c->s, "chaos: eventfd: %s", strerror(errno));
		atomic_store(&sl->kick[g], kick);
		atomic_store(&sl->ans[g], ans);
		if (kick >= 0 && epoll_ctl(c->ep, EPOLL_CTL_ADD, kick, &ev))
			sim_fail(c->s, "chaos: epoll_ctl: %s", strerror(errno));
		sl->routed = true;
	}
	c->n_bindings++;
}

/* ---- changes ---- */

/* Owed sends first, then the slot stops taking sends and its ports are
 * marked closing: a receiver still takes their events for the old
 * binding. */
static void change_begin(struct sim_chaos *c, struct cslot *sl,
			 unsigned ends)
{
	if (has_dom0_end(sl) && (ends & E_GUEST))
		ends |= E_DOM0;
	sl->ends = ends;
	owed(c, sl, false);
	if (has_dom0_end(sl))
		owed(c, sl, true);
	atomic_store(&sl->st, st_make(sl->cgen, sl->pgen, false));
	if (ends & E_GUEST) {
		uint32_t p = atomic_load(&sl->sport);

		switch (sl->kind) {
		case CK_IPI:
			gmap_set(c, p, me(M_CLOSING, R_FWD, sl->idx, sl->cgen));
			break;
		case CK_LOOP:
			gmap_set(c, p, me(M_CLOSING, R_SRC, sl->idx, sl->cgen));
			gmap_set(c, sl->tport,
				 me(M_CLOSING, R_FWD, sl->idx, sl->cgen));
			break;
		default:
			gmap_set(c, p,
				 me(M_CLOSING, R_BACK, sl->idx, sl->pgen));
			break;
		}
	}
	if (ends & E_DOM0)
		dmap_set(c, atomic_load(&sl->q),
			 me(M_CLOSING, atomic_load(&sl->hidx), sl->idx,
			    sl->cgen));
}

/* Sometimes the routes go before the library closes anything, sometimes
 * after: either way an event goes with the old binding or is dropped. */
static void maybe_unroute(struct sim_chaos *c, struct cslot **v, unsigned n)
{
	bool any = false;

	if (rnd(&c->rng) & 1)
		return;
	if (n == 1 && v[0]->routed) {
		route_slot(c, v[0], false);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		if (v[i]->routed) {
			v[i]->routed = false;
			any = true;
		}
	if (any)
		routes_apply(c);
}

static void archive(struct sim_chaos *c, struct cslot *sl, struct cblk *b,
		    bool back)
{
	struct ctot *t = &c->tot[row_of(sl, back)];
	uint64_t sent = atomic_load(&b->sent), seen = atomic_load(&b->seen);
	uint64_t unseen = sent > seen ? sent - seen : 0;

	t->sent += sent;
	t->delivered += atomic_load(&b->delivered);
	t->raced += atomic_load(&b->raced);
	t->refused += atomic_load(&b->refused);
	t->late += atomic_load(&b->late);
	t->bind_events += atomic_load(&b->bind_events);
	t->lost += b->lost;
	t->dropped += unseen > b->lost ? unseen - b->lost : 0;
}

static void close_fd(struct sim_chaos *c, int fd)
{
	if (fd < 0)
		return;
	if (c->s->o.inject_fd_leak && !c->leaked && c->s->t_run) {
		c->leaked = true; /* --inject-fd-leak: never closed */
		return;
	}
	close(fd);
}

static void drain_fd(int fd)
{
	uint64_t count;

	if (fd >= 0)
		(void)!read(fd, &count, sizeof(count));
}

/* After the library closed the old ends of @n slots (and @timers: the
 * guest's timer ports): no sender, then no receiver pass, may still hold
 * them; then their counters are final. */
static void change_settle(struct sim_chaos *c, struct cslot **v, unsigned n,
			  bool timers)
{
	bool unroute = false;

	if (n == 1 && v[0]->routed)
		route_slot(c, v[0], false);
	for (unsigned i = 0; i < n; i++)
		if (v[i]->routed) {
			v[i]->routed = false;
			unroute = true;
		}
	if (unroute)
		routes_apply(c);
	quiesce(c, true);
	for (unsigned i = 0; i < n; i++) {
		struct cslot *sl = v[i];
		uint32_t g = sl->cgen & 1;

		if (sl->kind != CK_ROUTE || !(sl->ends & E_DOM0))
			continue;
		/* signals left unread: their sends are dropped */
		drain_fd(atomic_load(&sl->kick[g]));
		drain_fd(atomic_load(&sl->ans[g]));
		epoll_ctl(c->ep, EPOLL_CTL_DEL, atomic_load(&sl->kick[g]),
			  NULL);
		/* p outlives the change: its answers so far are
		 * accounted, whatever the eventfd took with it */
		if (!(sl->ends & E_GUEST))
			sl->back[sl->pgen & 1].floor =
				atomic_load(&sl->back[sl->pgen & 1].sent);
	}
	quiesce(c, false);
	for (unsigned i = 0; i < n; i++) {
		struct cslot *sl = v[i];
		uint32_t g = sl->cgen & 1;

		if (sl->ends & E_GUEST) {
			if (has_dom0_end(sl)) {
				archive(c, sl, &sl->back[sl->pgen & 1], true);
			} else {
				archive(c, sl, &sl->fwd[g], false);
				gmap_set(c, sl->tport, 0);
			}
			gmap_set(c, atomic_load(&sl->sport), 0);
		}
		if (sl->ends & E_DOM0) {
			archive(c, sl, &sl->fwd[g], false);
			dmap_set(c, atomic_load(&sl->q), 0);
			if (sl->kind == CK_ROUTE) {
				close_fd(c, atomic_exchange(&sl->kick[g], -1));
				close_fd(c, atomic_exchange(&sl->ans[g], -1));
			}
		}
	}
	if (timers)
		for (uint32_t v = 0; v < c->nt; v++)
			gmap_set(c, atomic_load(&c->timer_port[v]), 0);
}

/* New bindings for what the change ended, the routes, then live.  Until
 * then nothing can have been sent to the new guest ports: a pending one is
 * a late-binding hit, looked for once more after a short while. */
static void change_finish(struct sim_chaos *c, struct cslot **v, unsigned n)
{
	bool route = false;

	for (unsigned i = 0; i < n; i++) {
		if (v[i]->ends & E_GUEST)
			bind_guest_end(c, v[i]);
		if (v[i]->ends & E_DOM0)
			bind_dom0_end(c, v[i]);
		route |= v[i]->routed;
	}
	if (route && n == 1)
		route_slot(c, v[0], true);
	else if (route)
		routes_apply(c);
	nap_us(rndn(&c->rng, 50));
	for (unsigned i = 0; i < n; i++) {
		if (!(v[i]->ends & E_GUEST))
			continue;
		fresh(c, atomic_load(&v[i]->sport), BEFORE_SEND);
		if (v[i]->kind == CK_LOOP)
			fresh(c, v[i]->tport, BEFORE_SEND);
	}
	for (unsigned i = 0; i < n; i++) {
		v[i]->ends = 0;
		atomic_store(&v[i]->st,
			     st_make(v[i]->cgen, v[i]->pgen, true));
	}
}

/* The guest closes a port (EVTCHNOP_close). */
static void guest_close(struct sim_chaos *c, uint32_t port)
{
	struct evtchn_close cl = { .port = port };

	must(c, "EVTCHNOP_close", gop(c, EVTCHNOP_close, &cl, sizeof(cl)));
}

/* The slot's handle lets domain 0's port go (hlock held). */
static void handle_unbind(struct sim_chaos *c, struct cslot *sl)
{
	struct evtchn_backend *h = c->h[atomic_load(&sl->hidx)];

	if (h)
		must(c, "evtchn_backend_unbind",
		     evtchn_backend_unbind(h, atomic_load(&sl->q)));
}

/* ---- actions ---- */

static void act_close(struct sim_chaos *c)
{
	struct cslot *sl = &c->slot[rndn(&c->rng, c->nslots)];
	bool flip = rnd(&c->rng) & 1;

	change_begin(c, sl, E_GUEST);
	maybe_unroute(c, &sl, 1);
	switch (sl->kind) {
	case CK_IPI:
		guest_close(c, atomic_load(&sl->sport));
		break;
	case CK_LOOP:
		guest_close(c, flip ? sl->tport : atomic_load(&sl->sport));
		guest_close(c, flip ? atomic_load(&sl->sport) : sl->tport);
		break;
	default:
		/* either end first */
		if (flip)
			guest_close(c, atomic_load(&sl->sport));
		pthread_rwlock_rdlock(&c->hlock);
		handle_unbind(c, sl);
		pthread_rwlock_unlock(&c->hlock);
		if (!flip)
			guest_close(c, atomic_load(&sl->sport));
		break;
	}
	change_settle(c, &sl, 1, false);
	change_finish(c, &sl, 1);
	c->n_close[sl->kind]++;
}

/* A random handle or route slot, or NULL. */
static struct cslot *dom0_slot(struct sim_chaos *c)
{
	for (unsigned tries = 0; tries < 64; tries++) {
		struct cslot *sl = &c->slot[rndn(&c->rng, c->nslots)];

		if (has_dom0_end(sl))
			return sl;
	}
	return NULL;
}

/* The handle unbinds the port; or domain 0 closes it under the handle
 * first (EVTCHNOP_close through its hypercall path), and the handle then
 * lets the record go. */
static void act_unbind(struct sim_chaos *c)
{
	struct cslot *sl = dom0_slot(c);

	if (!sl)
		return;
	change_begin(c, sl, E_DOM0);
	maybe_unroute(c, &sl, 1);
	if (rnd(&c->rng) & 1) {
		struct evtchn_close cl = { .port = atomic_load(&sl->q) };

		must(c, "EVTCHNOP_close (domain 0)",
		     d0op(c, EVTCHNOP_close, &cl, sizeof(cl)));
		c->n_d0_close++;
	}
	pthread_rwlock_rdlock(&c->hlock);
	handle_unbind(c, sl);
	pthread_rwlock_unlock(&c->hlock);
	change_settle(c, &sl, 1, false);
	change_finish(c, &sl, 1);
}

/* Linux's rebind_irq_to_cpu(): mask, EVTCHNOP_bind_vcpu, unmask (which
 * raises an event that arrived meanwhile).  The binding stays: every send
 * meanwhile is stable and must arrive. */
static void act_move(struct sim_chaos *c)
{
	struct cslot *sl = dom0_slot(c);
	struct evtchn_bind_vcpu bv;
	uint32_t p, to;

	if (!sl || c->nt < 2)
		return;
	p = atomic_load(&sl->sport);
	to = (sl->vcpu + 1 + rndn(&c->rng, c->nt - 1)) % c->nt;
	evtchn_guest_mask(&c->s->g, p);
	bv = (struct evtchn_bind_vcpu){ .port = p, .vcpu = to };
	must(c, "EVTCHNOP_bind_vcpu",
	     gop(c, EVTCHNOP_bind_vcpu, &bv, sizeof(bv)));
	sl->vcpu = to;
	if (sl->kind == CK_ROUTE)
		route_slot(c, sl, true); /* FD_TO_PORT names the vCPU */
	evtchn_guest_bind_port(&c->s->g, p, to);
	evtchn_guest_unmask(&c->s->g, c->ctl, p);
}

static void act_swap(struct sim_chaos *c)
{
	routes_apply(c);
}

/* Every slot of kinds @mask (bit per kind) held by handle @k (NH: any). */
static unsigned pick(struct sim_chaos *c, struct cslot **v, unsigned mask,
		     uint32_t k)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < c->nslots; i++) {
		struct cslot *sl = &c->slot[i];

		if (!(mask & 1u << sl->kind))
			continue;
		if (k < NH && atomic_load(&sl->hidx) != k)
			continue;
		v[n++] = sl;
	}
	return n;
}

#define DOM0_KINDS (1u << CK_HANDLE | 1u << CK_ROUTE)

static void act_reopen(struct sim_chaos *c, struct cslot **v)
{
	uint32_t k = rndn(&c->rng, NH);
	unsigned n = pick(c, v, DOM0_KINDS, k);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = k };
	int rc;

	for (unsigned i = 0; i < n; i++)
		change_begin(c, v[i], E_DOM0);
	maybe_unroute(c, v, n);
	pthread_rwlock_wrlock(&c->hlock);
	must(c, "evtchn_backend_close", evtchn_backend_close(c->h[k]));
	c->h[k] = NULL;
	rc = evtchn_backend_open(c->s->dom0, 0, &c->h[k]);
	must(c, "evtchn_backend_open", rc);
	if (!rc && epoll_ctl(c->ep, EPOLL_CTL_ADD, evtchn_backend_fd(c->h[k]),
			     &ev))
		sim_fail(c->s, "chaos: epoll_ctl: %s", strerror(errno));
	pthread_rwlock_unlock(&c->hlock);
	change_settle(c, v, n, false);
	change_finish(c, v, n);
}

static void park_vcpus(struct sim_chaos *c)
{
	atomic_store(&c->park_req, 1);
	sim_wake_all(c->s);
	while (atomic_load(&c->parked) != c->nt)
		nap_us(50);
}

static void unpark_vcpus(struct sim_chaos *c)
{
	atomic_store(&c->park_req, 0);
	while (atomic_load(&c->parked))
		nap_us(50);
}

/* VIRQ_TIMER of every traffic vCPU (parked, or not started yet).  Its
 * port is not looked at for a pending event: the periodic timer goes on
 * across a reset, and the library's timer thread may raise the port as
 * soon as it is bound, a send made while the binding exists. */
static void bind_timers(struct sim_chaos *c)
{
	for (uint32_t v = 0; v < c->nt; v++) {
		struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = v };
		long rc = gop(c, EVTCHNOP_bind_virq, &bv, sizeof(bv));

		must(c, "EVTCHNOP_bind_virq", rc);
		if (rc)
			continue;
		evtchn_guest_bind_port(&c->s->g, bv.port, v);
		gmap_set(c, bv.port, me(M_LIVE, R_TIMER, v, 0));
		atomic_store(&c->timer_port[v], bv.port);
	}
}

/*
 * The guest resets itself (EVTCHNOP_reset, DOMID_SELF), as a kernel does
 * at kexec, while its vCPUs run; or its toolstack does: the vCPUs stop,
 * the domain is paused and domain 0 resets it (EVTCHNOP_reset of domain
 * 1, Xen's privileged path).  Every port closes and the domain is on
 * 2-level again.  Then, with the vCPUs parked, the consumer starts afresh
 * on 2-level or FIFO (new, zeroed control blocks and pages), and
 * everything is bound again.  This is where the ABI changes: switching a
 * running guest from 2-level to FIFO would raise, on whatever a port is
 * bound to now, an event Xen saved in the port in an earlier FIFO session
 * (abi_fifo.c, as Xen does).
 */
static void act_greset(struct sim_chaos *c, struct cslot **v)
{
	struct sim *s = c->s;
	struct evtchn_reset r = { .dom = DOMID_SELF };
	unsigned n = pick(c, v, ~0u, NH);
	bool by_d0 = rnd(&c->rng) & 1;

	for (unsigned i = 0; i < n; i++)
		change_begin(c, v[i], E_GUEST);
	for (uint32_t i = 0; i < c->nt; i++)
		gmap_set(c, atomic_load(&c->timer_port[i]),
			 me(M_CLOSING, R_TIMER, i, 0));
	maybe_unroute(c, v, n);
	if (by_d0) {
		park_vcpus(c);
		evtchn_domain_set_paused(s->d, true);
		r.dom = SIM_GUEST_DOMID;
		must(c, "EVTCHNOP_reset of domain 1 by domain 0",
		     d0op(c, EVTCHNOP_reset, &r, sizeof(r)));
		evtchn_domain_set_paused(s->d, false);
		c->n_reset_by_d0++;
	} else {
		must(c, "EVTCHNOP_reset",
		     gop(c, EVTCHNOP_reset, &r, sizeof(r)));
	}
	/* domain 0's ends are unbound now; their handles let them go */
	pthread_rwlock_rdlock(&c->hlock);
	for (unsigned i = 0; i < n; i++)
		if (has_dom0_end(v[i]))
			handle_unbind(c, v[i]);
	pthread_rwlock_unlock(&c->hlock);
	change_settle(c, v, n, true);
	if (!by_d0)
		park_vcpus(c);
	evtchn_guest_fifo_forget(&s->g);
	c->fifo = rnd(&c->rng) & 1;
	if (c->fifo && sim_fifo_init(s))
		sim_fail(s, "chaos: FIFO after the reset failed");
	c->fifo ? c->n_reset_fifo++ : c->n_reset_2l++;
	bind_timers(c);
	change_finish(c, v, n);
	unpark_vcpus(c);
}

/* Domain 0 resets itself through its hypercall path: every handle's port
 * closes under it; each handle lets its records go, and binds the guest's
 * ports (unbound for domain 0 now) again. */
static void act_dreset(struct sim_chaos *c, struct cslot **v)
{
	struct evtchn_reset r = { .dom = DOMID_SELF };
	unsigned n = pick(c, v, DOM0_KINDS, NH);

	for (unsigned i = 0; i < n; i++)
		change_begin(c, v[i], E_DOM0);
	maybe_unroute(c, v, n);
	must(c, "EVTCHNOP_reset (domain 0)",
	     d0op(c, EVTCHNOP_reset, &r, sizeof(r)));
	pthread_rwlock_rdlock(&c->hlock);
	for (unsigned i = 0; i < n; i++)
		handle_unbind(c, v[i]);
	pthread_rwlock_unlock(&c->hlock);
	change_settle(c, v, n, false);
	change_finish(c, v, n);
}

static void *chaos_main(void *arg)
{
	/* how often each action comes, in 64ths */
	static const unsigned char weight[A_NR] = {
		[A_CLOSE] = 24, [A_UNBIND] = 12, [A_MOVE] = 8, [A_SWAP] = 12,
		[A_REOPEN] = 3, [A_GRESET] = 2, [A_DRESET] = 3,
	};
	struct sim_chaos *c = arg;
	struct cslot **v = calloc(c->nslots, sizeof(*v));

	if (!v) {
		sim_fail(c->s, "chaos: calloc");
		return NULL;
	}
	for (uint64_t i = 0; !atomic_load(&c->chaos_stop); i++) {
		unsigned a = 0;

		if (i < A_NR) {
			a = (unsigned)i; /* each action once, first */
		} else {
			unsigned w = rndn(&c->rng, 64);

			while (w >= weight[a])
				w -= weight[a++];
		}
		switch (a) {
		case A_CLOSE:
			act_close(c);
			break;
		case A_UNBIND:
			act_unbind(c);
			break;
		case A_MOVE:
			act_move(c);
			break;
		case A_SWAP:
			act_swap(c);
			break;
		case A_REOPEN:
			act_reopen(c, v);
			break;
		case A_GRESET:
			act_greset(c, v);
			break;
		default:
			act_dreset(c, v);
			break;
		}
		c->n_act[a]++;
		atomic_fetch_add_explicit(&c->actions, 1, memory_order_relaxed);
		if (atomic_load(&c->s->failed))
			break;
		nap_us(rndn(&c->rng, 200));
	}
	free(v);
	return NULL;
}

/* ---- set-up, run, drain, report ---- */

static int setup(struct sim_chaos *c)
{
	struct sim *s = c->s;
	int rc;

	c->nt = s->o.vcpus;
	c->ctl = s->o.vcpus;
	c->nslots = CK_NR * s->o.rings;
	c->slot = calloc(c->nslots, sizeof(*c->slot));
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	{
		pthread_rwlockattr_t a;

		/* the domain 0 thread read-holds it nearly all the time */
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(
			&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&c->hlock, &a);
		pthread_rwlockattr_destroy(&a);
	}
	if (!c->slot || c->ep < 0)
		return sim_fail_rc("set-up", -ENOMEM);
	rc = sim_setup_guest(s);
	if (rc)
		return rc;
	c->fifo = s->o.fifo;
	for (uint32_t v = 0; v < s->nvcpu; v++)
		s->vcpu[v].rng = c->rng ^ (0x9e3779b97f4a7c15ull * (v + 1));
	c->d0_rng = c->rng ^ 0x5851f42d4c957f2dull;
	for (uint32_t k = 0; k < NH; k++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = k };

		rc = evtchn_backend_open(s->dom0, 0, &c->h[k]);
		if (rc)
			return sim_fail_rc("evtchn_backend_open", rc);
		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, evtchn_backend_fd(c->h[k]),
			      &ev))
			return sim_fail_rc("epoll_ctl", -errno);
	}
	bind_timers(c);
	for (uint32_t i = 0; i < c->nslots; i++) {
		struct cslot *sl = &c->slot[i];

		sl->idx = i;
		sl->kind = (enum ck)(i % CK_NR);
		for (unsigned g = 0; g < 2; g++)
			sl->kick[g] = sl->ans[g] = -1;
		sl->ends = E_GUEST | (has_dom0_end(sl) ? E_DOM0 : 0);
	}
	{
		struct cslot **v = calloc(c->nslots, sizeof(*v));

		if (!v)
			return sim_fail_rc("calloc", -ENOMEM);
		for (uint32_t i = 0; i < c->nslots; i++)
			v[i] = &c->slot[i];
		change_finish(c, v, c->nslots);
		free(v);
	}
	if (atomic_load(&s->failed))
		return EXIT_FAILURE;
	rc = evtchn_routes_thread_start(s->d);
	if (rc)
		return sim_fail_rc("evtchn_routes_thread_start", rc);
	s->routes_running = true;
	rc = evtchn_host_timers_start(s->host);
	if (rc)
		return sim_fail_rc("evtchn_host_timers_start", rc);
	s->timers_running = true;
	return 0;
}

static int start(struct sim_chaos *c)
{
	struct sim *s = c->s;
	int rc;

	s->t_run = sim_now_ns();
	for (uint32_t v = 0; v < c->nt; v++) {
		rc = pthread_create(&s->vcpu[v].thread, NULL, vcpu_main,
				    &s->vcpu[v]);
		if (rc)
			return sim_fail_rc("pthread_create", -rc);
		s->vcpu[v].started = true;
	}
	rc = pthread_create(&c->d0_thread, NULL, d0_main, c);
	if (rc)
		return sim_fail_rc("pthread_create", -rc);
	c->d0_started = true;
	rc = pthread_create(&c->chaos_thread, NULL, chaos_main, c);
	if (rc)
		return sim_fail_rc("pthread_create", -rc);
	c->chaos_started = true;
	return 0;
}

static uint64_t total_sends(struct sim_chaos *c)
{
	uint64_t n = atomic_load_explicit(&c->d0_sends, memory_order_relaxed);

	for (uint32_t v = 0; v < c->nt; v++)
		n += atomic_load_explicit(&c->s->vcpu[v].sends,
					  memory_order_relaxed);
	return n;
}

static uint64_t total_events(struct sim_chaos *c)
{
	uint64_t n = atomic_load_explicit(&c->d0_events, memory_order_relaxed);

	for (uint32_t v = 0; v < c->nt; v++)
		n += atomic_load_explicit(&c->s->vcpu[v].events,
					  memory_order_relaxed);
	return n;
}

/* The workload until --duration, --sends, SIGINT or a failure. */
static void run(struct sim_chaos *c, const sigset_t *mask)
{
	struct sim *s = c->s;
	bool tty = isatty(STDOUT_FILENO);
	uint64_t step = (uint64_t)((s->o.interval ? s->o.interval
						  : (tty ? 0.5 : 1.0)) * 1e9);
	uint64_t end = s->t_run + (uint64_t)(s->o.duration * 1e9);
	uint64_t next = s->t_run + step, last = s->t_run, now;
	uint64_t psends = 0, pevents = 0, pacts = 0;

	while (!sim_got_stop && !atomic_load(&s->failed)) {
		struct timespec ts = { 0, 10 * (long)MS };

		now = sim_now_ns();
		if (now >= end ||
		    (s->o.max_sends && total_sends(c) >= s->o.max_sends))
			break;
		if (now >= next) {
			uint64_t sends = total_sends(c), ev = total_events(c);
			uint64_t acts = atomic_load(&c->actions);
			double dt = (double)(now - last) / 1e9;

			printf(tty ? "\r\033[K%6.1f s  sends %.0f/s  events "
				     "%.0f/s  chaos actions %.0f/s"
				   : "%6.1f s: sends %.0f/s, events %.0f/s, "
				     "chaos actions %.0f/s\n",
			       (double)(now - s->t_run) / 1e9,
			       (double)(sends - psends) / dt,
			       (double)(ev - pevents) / dt,
			       (double)(acts - pacts) / dt);
			fflush(stdout);
			s->line_open = tty;
			psends = sends;
			pevents = ev;
			pacts = acts;
			last = now;
			next += step;
			if (next <= now)
				next = now + step;
		}
		ppoll(NULL, 0, &ts, mask);
		if (sim_got_dump) {
			sim_got_dump = 0;
			if (s->line_open)
				putchar('\n');
			s->line_open = false;
			evtchn_domain_dump(s->d, stdout);
			fflush(stdout);
		}
	}
	if (s->line_open) {
		putchar('\n');
		s->line_open = false;
	}
}

/* The bindings' counters as they stand (live ones: not archived). */
static bool live_covered(struct sim_chaos *c)
{
	for (uint32_t i = 0; i < c->nslots; i++) {
		struct cslot *sl = &c->slot[i];
		struct cblk *b[2] = { &sl->fwd[sl->cgen & 1],
				      has_dom0_end(sl) ? &sl->back[sl->pgen & 1]
						       : NULL };

		for (unsigned k = 0; k < 2; k++) {
			uint64_t ls;

			if (!b[k])
				continue;
			ls = atomic_load(&b[k]->last_stable);
			if (ls > b[k]->floor && atomic_load(&b[k]->seen) < ls)
				return false;
		}
	}
	for (uint32_t v = 0; v < c->nt; v++)
		if (!atomic_load(&c->s->vcpu[v].final_tick))
			return false;
	return true;
}

/* The chaos stops (every slot is live again), then the senders; the
 * receivers go on until every stable send was followed by a delivery and
 * every vCPU had its final tick, at most --drain-timeout. */
static void drain(struct sim_chaos *c)
{
	struct sim *s = c->s;
	uint64_t deadline;

	atomic_store(&c->chaos_stop, true);
	if (c->chaos_started) {
		pthread_join(c->chaos_thread, NULL);
		c->chaos_started = false;
	}
	s->t_drain = sim_now_ns();
	deadline = s->t_drain + (uint64_t)(s->o.drain_timeout * 1e9);
	atomic_store(&s->phase, SIM_DRAIN);
	sim_wake_all(s);
	for (;;) {
		bool quiet = atomic_load(&c->d0_quiet);

		for (uint32_t v = 0; v < c->nt; v++)
			quiet &= atomic_load(&s->vcpu[v].quiet);
		if (quiet && live_covered(c))
			break;
		if (sim_now_ns() >= deadline)
			break;
		nap_us(1000);
	}
	s->t_end = sim_now_ns();
}

static void stop_threads(struct sim_chaos *c)
{
	struct sim *s = c->s;

	atomic_store(&c->chaos_stop, true);
	if (c->chaos_started)
		pthread_join(c->chaos_thread, NULL);
	c->chaos_started = false;
	atomic_store(&s->phase, SIM_STOP);
	sim_wake_all(s);
	for (uint32_t v = 0; s->vcpu && v < c->nt; v++) {
		if (s->vcpu[v].started)
			pthread_join(s->vcpu[v].thread, NULL);
		s->vcpu[v].started = false;
	}
	atomic_store(&c->d0_stop, true);
	if (c->d0_started)
		pthread_join(c->d0_thread, NULL);
	c->d0_started = false;
}

/* The bindings still bound at the end, into the totals. */
static void final_accounting(struct sim_chaos *c)
{
	for (uint32_t i = 0; i < c->nslots; i++) {
		struct cslot *sl = &c->slot[i];

		for (unsigned back = 0; back < 2; back++) {
			struct cblk *b;
			uint64_t ls, seen, base;

			if (back && !has_dom0_end(sl))
				continue;
			b = back ? &sl->back[sl->pgen & 1]
				 : &sl->fwd[sl->cgen & 1];
			ls = atomic_load(&b->last_stable);
			seen = atomic_load(&b->seen);
			base = seen > b->floor ? seen : b->floor;
			if (ls > base) {
				b->lost += ls - base;
				sim_fail(c->s, "%s slot %u: %llu sends, bound "
					       "to the end, never delivered",
					 kind_name[sl->kind], sl->idx,
					 (unsigned long long)(ls - base));
			}
			archive(c, sl, b, back);
		}
	}
	for (uint32_t v = 0; v < c->nt; v++) {
		atomic_fetch_add(&c->ticks,
				 atomic_load(&c->s->vcpu[v].ticks));
		c->no_tick += !atomic_load(&c->s->vcpu[v].final_tick);
	}
}

/* --inject-loss: one more stable send counted on slot 0, never made. */
static void inject_loss(struct sim_chaos *c)
{
	struct cblk *b = &c->slot[0].fwd[c->slot[0].cgen & 1];
	uint64_t idx = atomic_fetch_add(&b->sent, 1) + 1;

	max_store(&b->last_stable, idx);
}

static void row(const char *label, const struct ctot *t)
{
	uint64_t out = t->delivered + t->dropped + t->lost;

	printf("%-24s %12llu %12llu %11llu %10llu %10llu %6llu %5llu\n",
	       label, (unsigned long long)t->sent,
	       (unsigned long long)t->delivered,
	       (unsigned long long)(t->sent > out ? t->sent - out : 0),
	       (unsigned long long)t->raced, (unsigned long long)t->dropped,
	       (unsigned long long)t->lost, (unsigned long long)t->late);
}

static void summary(struct sim_chaos *c, bool ok)
{
	struct sim *s = c->s;
	struct ctot all = { 0 };
	uint64_t lost, closes = 0, bind_events = 0, probes = c->n_probes;
	double ran = (double)(s->t_drain - s->t_run) / 1e9;

	for (unsigned k = 0; k < CK_NR; k++)
		closes += c->n_close[k];
	printf("\nevtchn-sim --chaos: %u vCPU%s and a control vCPU, %u "
	       "channel%s of each kind, seed %llu: ran %.2f s, drained in "
	       "%.2f s\n",
	       c->nt, c->nt == 1 ? "" : "s", s->o.rings,
	       s->o.rings == 1 ? "" : "s",
	       (unsigned long long)s->o.seed, ran,
	       (double)(s->t_end - s->t_drain) / 1e9);
	printf("ABI: %s at the start, %s at the end\n",
	       s->o.fifo ? "FIFO" : "2-level", c->fifo ? "FIFO" : "2-level");
	printf("\n%-24s %12s %12s %11s %10s %10s %6s %5s\n", "events", "sent",
	       "delivered", "coalesced", "raced", "dropped", "lost", "late");
	for (unsigned r = 0; r < NROWS; r++) {
		const struct ctot *t = &c->tot[r];
		char label[40];

		snprintf(label, sizeof(label), "  %s", row_name[r]);
		row(label, t);
		all.sent += t->sent;
		all.delivered += t->delivered;
		all.raced += t->raced;
		all.refused += t->refused;
		all.dropped += t->dropped;
		all.lost += t->lost;
		all.late += t->late;
		bind_events += t->bind_events;
	}
	row("  all", &all);
	printf("%llu sends a second (%llu by the chaos thread's probes); "
	       "VIRQ_TIMER ticks %llu; events Xen raised at a handle's bind "
	       "%llu\n",
	       (unsigned long long)(ran > 0 ? (double)all.sent / ran : 0),
	       (unsigned long long)probes,
	       (unsigned long long)atomic_load(&c->ticks),
	       (unsigned long long)bind_events);
	printf("\nchaos: %llu actions\n",
	       (unsigned long long)atomic_load(&c->actions));
	printf("  ports closed and bound again: %llu (IPI %llu, loopback "
	       "%llu, handle %llu, route %llu)\n",
	       (unsigned long long)closes, (unsigned long long)c->n_close[0],
	       (unsigned long long)c->n_close[1],
	       (unsigned long long)c->n_close[2],
	       (unsigned long long)c->n_close[3]);
	printf("  backend unbinds and rebinds: %llu (domain 0 closed the "
	       "port under its handle first: %llu)\n",
	       (unsigned long long)c->n_act[A_UNBIND],
	       (unsigned long long)c->n_d0_close);
	printf("  backend handles closed and reopened: %llu\n",
	       (unsigned long long)c->n_act[A_REOPEN]);
	printf("  rebinds through another handle: %llu\n",
	       (unsigned long long)c->n_other_handle);
	printf("  vCPU moves: %llu\n", (unsigned long long)c->n_act[A_MOVE]);
	printf("  route table swaps: %llu (%llu whole tables installed in "
	       "all, %llu single entries updated)\n",
	       (unsigned long long)c->n_act[A_SWAP],
	       (unsigned long long)c->n_tables,
	       (unsigned long long)c->n_updates);
	printf("  guest resets: %llu (by domain 0, the guest paused: %llu; "
	       "back on FIFO %llu, on 2-level %llu)\n",
	       (unsigned long long)c->n_act[A_GRESET],
	       (unsigned long long)c->n_reset_by_d0,
	       (unsigned long long)c->n_reset_fifo,
	       (unsigned long long)c->n_reset_2l);
	printf("  domain 0 resets: %llu\n",
	       (unsigned long long)c->n_act[A_DRESET]);
	printf("  bindings made: %llu\n", (unsigned long long)c->n_bindings);
	printf("  sends raced with a change: %llu (refused by the library: "
	       "%llu)\n",
	       (unsigned long long)all.raced, (unsigned long long)all.refused);
	printf("  dropped where Xen drops them: %llu\n",
	       (unsigned long long)all.dropped);
	printf("late-binding hits: %llu\n",
	       (unsigned long long)atomic_load(&c->late_total));
	printf("fds: %d at the start, %d after the teardown; %d running, %d "
	       "at the end of the run\n",
	       c->fd_start, c->fd_after, c->fd_setup, c->fd_end);
	lost = all.lost + c->no_tick;
	printf("lost: %llu\n", (unsigned long long)lost);
	if (lost)
		printf("  sends %llu, final timer ticks %llu\n",
		       (unsigned long long)all.lost,
		       (unsigned long long)c->no_tick);
	if (atomic_load(&s->failed))
		fprintf(stderr, "evtchn-sim: %s\n", s->fail_msg);
	printf("result: %s\n", ok ? "OK" : "FAILED");
	fflush(stdout);
}

static void teardown(struct sim_chaos *c)
{
	struct sim *s = c->s;

	stop_threads(c);
	/* the routes go (their descriptors with them) before ours close */
	if (s->routes_running)
		evtchn_routes_thread_stop(s->d);
	s->routes_running = false;
	if (s->d)
		evtchn_routes_set(s->d, NULL, 0);
	for (uint32_t k = 0; k < NH; k++)
		if (c->h[k])
			evtchn_backend_close(c->h[k]);
	for (uint32_t i = 0; c->slot && i < c->nslots; i++)
		for (unsigned g = 0; g < 2; g++) {
			if (c->slot[i].kick[g] >= 0)
				close(c->slot[i].kick[g]);
			if (c->slot[i].ans[g] >= 0)
				close(c->slot[i].ans[g]);
		}
	if (c->ep >= 0)
		close(c->ep);
	sim_teardown(s);
}

int sim_chaos_main(struct sim *s, const sigset_t *mask)
{
	struct sim_chaos *c = calloc(1, sizeof(*c));
	bool ok;
	int rc;

	if (!c)
		return sim_fail_rc("calloc", -ENOMEM);
	c->s = s;
	c->ep = -1;
	s->chaos = c;
	s->memfd = -1;
	s->sock = -1;
	if (!s->o.seed_set)
		s->o.seed = sim_now_ns();
	c->rng = s->o.seed * 0x9e3779b97f4a7c15ull + 1;

	c->fd_start = count_fds();
	rc = setup(c);
	if (!rc) {
		c->fd_setup = count_fds();
		rc = start(c);
	}
	if (!rc) {
		run(c, mask);
		drain(c);
	}
	stop_threads(c);
	if (!rc) {
		if (s->o.inject_loss)
			inject_loss(c);
		final_accounting(c);
		c->fd_end = count_fds();
	}
	teardown(c);
	c->fd_after = count_fds();
	if (!rc) {
		ok = !atomic_load(&s->failed) && !atomic_load(&c->late_total) &&
		     !c->no_tick && c->fd_start == c->fd_after &&
		     c->fd_setup == c->fd_end;
		for (unsigned r = 0; r < NROWS; r++)
			ok &= !c->tot[r].lost;
		summary(c, ok);
		rc = ok ? 0 : 1;
	} else if (atomic_load(&s->failed)) {
		fprintf(stderr, "evtchn-sim: %s\n", s->fail_msg);
	}
	pthread_rwlock_destroy(&c->hlock);
	free(c->slot);
	free(c);
	s->chaos = NULL;
	return rc;
}
