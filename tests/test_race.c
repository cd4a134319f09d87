/* SPDX-License-Identifier: MIT */
/*
 * Races made to happen (DESIGN invariants 3 and 4).  Each test parks a
 * thread at a named point of the library (src/park.h) and drives the
 * others through the window it was stopped in, then checks where the
 * event went: to the binding that existed while it was sent, or dropped
 * where Xen drops it; never to a binding made later, never lost, never a
 * freed record touched (ASan).  Waits are bounded only to report a failure
 * instead of hanging.
 */
#include <pthread.h>
#include <time.h>

#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/vcpu.h>

#include "evtchn/backend.h"
#include "evtchn/route.h"
#include "fixture.h"
#include "park.h"

#define F struct fx *f = *state
#define WAIT_MS 5000

#ifndef EVTCHN_PARK
#define NEED_PARK() skip() /* built without park points (release) */
#else
#define NEED_PARK() evtchn_park_reset()
#endif

/* A hypercall or library call on a thread of its own. */
struct job {
	pthread_t tid;
	long (*fn)(struct job *j);
	struct th_domain *td;
	struct evtchn_backend *b;
	uint32_t vcpu, port;
	uint16_t dom;
	long rc;
};

static void *job_main(void *arg)
{
	struct job *j = arg;

	j->rc = j->fn(j);
	return NULL;
}

static void job_start(struct job *j)
{
	assert_int_equal(pthread_create(&j->tid, NULL, job_main, j), 0);
}

static long job_join(struct job *j)
{
	pthread_join(j->tid, NULL);
	return j->rc;
}

/* Whether thread @tid ends within @ms (then joined). */
static bool joined_within(pthread_t tid, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	return pthread_timedjoin_np(tid, NULL, &ts) == 0;
}

/* Whether @j ended within WAIT_MS (then joined). */
static bool job_ended(struct job *j)
{
	return joined_within(j->tid, WAIT_MS);
}

static long do_send(struct job *j)
{
	return th_send(j->td, j->vcpu, j->port);
}

static long do_close(struct job *j)
{
	return th_close(j->td, j->port);
}

static long do_unbind(struct job *j)
{
	return evtchn_backend_unbind(j->b, j->port);
}

static long do_bind_interdomain(struct job *j)
{
	return th_bind_interdomain(j->td, j->dom, j->port);
}

static long do_expand(struct job *j)
{
	return th_fifo_expand(j->td, 1);
}

#ifdef EVTCHN_PARK
/* Guest 1's unbound port bound by a handle of domain 0, its first event
 * taken: *gp the guest's end, returns the handle's. */
static int backend_channel(struct fx *f, struct evtchn_backend **b, long *gp)
{
	int bp;

	*gp = th_alloc_unbound(&f->d1, DOMID_SELF, 0);
	assert_true(*gp > 0);
	assert_int_equal(evtchn_backend_open(f->dom0.d, 0, b), 0);
	bp = evtchn_backend_bind_interdomain(*b, 1, (uint32_t)*gp);
	assert_true(bp > 0);
	assert_int_equal(evtchn_backend_pending(*b), bp);
	assert_int_equal(evtchn_backend_unmask(*b, bp), 0);
	return bp;
}
#endif

/*
 * A guest event on its way to a backend handle: the sender holds the
 * handle's port record when the handle unbinds (and decides the port is
 * still its own) and domain 0 closes the same port by number.  The record
 * must outlive the sender (ASan: no use after free) and the close by number
 * must not hit the port a second time.
 */
static void backend_unbind_then_close_while_sender_holds_record(void **state)
{
	F;
	NEED_PARK();
#ifdef EVTCHN_PARK
	struct evtchn_backend *b;
	long gp;
	int bp = backend_channel(f, &b, &gp);
	struct job s = { .fn = do_send, .td = &f->d1, .port = (uint32_t)gp };
	struct job u = { .fn = do_unbind, .b = b, .port = (uint32_t)bp };
	struct job g = { .fn = do_close, .td = &f->dom0, .port = (uint32_t)bp };
	struct evtchn_status st;

	evtchn_park_arm("backend:deliver", (uint64_t)bp, 1);
	evtchn_park_arm("backend:unbind", (uint64_t)bp, 1);
	job_start(&s);
	assert_true(evtchn_park_wait("backend:deliver", 1, WAIT_MS));
	job_start(&u);
	assert_true(evtchn_park_wait("backend:unbind", 1, WAIT_MS));
	/* The handle closed its port already: the close by number finds it
	 * being freed. */
	job_start(&g);
	bool g_ended = job_ended(&g);
	evtchn_park_release("backend:unbind");
	evtchn_park_release("backend:deliver");
	assert_int_equal(job_join(&s), 0);
	assert_int_equal(job_join(&u), 0);
	if (!g_ended)
		job_join(&g);
	assert_true(g_ended);
	assert_int_equal(g.rc, -XEN_EINVAL);
	assert_int_equal(th_status(&f->dom0, DOMID_SELF, bp, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	/* The event went to the handle that owned the port, not to domain 0
	 * itself. */
	assert_false(th_pending(&f->dom0, bp));
	assert_int_equal(evtchn_backend_pending(b), -EAGAIN);
	assert_int_equal(evtchn_backend_close(b), 0);
	evtchn_park_reset();
#endif
}

/* The same, the other way round: domain 0 closes the port first, then the
 * handle unbinds and finds it is no longer its own. */
static void backend_close_then_unbind_while_sender_holds_record(void **state)
{
	F;
	NEED_PARK();
#ifdef EVTCHN_PARK
	struct evtchn_backend *b;
	long gp;
	int bp = backend_channel(f, &b, &gp);
	struct job s = { .fn = do_send, .td = &f->d1, .port = (uint32_t)gp };
	struct job u = { .fn = do_unbind, .b = b, .port = (uint32_t)bp };
	struct job g = { .fn = do_close, .td = &f->dom0, .port = (uint32_t)bp };

	evtchn_park_arm("backend:deliver", (uint64_t)bp, 1);
	evtchn_park_arm("port:unpublished", (uint64_t)bp, 0);
	evtchn_park_arm("backend:unbind", (uint64_t)bp, 0);
	job_start(&s);
	assert_true(evtchn_park_wait("backend:deliver", 1, WAIT_MS));
	job_start(&g); /* waits for the sender's grace period */
	assert_true(evtchn_park_wait("port:unpublished", 1, WAIT_MS));
	job_start(&u);
	assert_true(evtchn_park_wait("backend:unbind", 1, WAIT_MS));
	evtchn_park_release("backend:deliver");
	assert_int_equal(job_join(&s), 0);
	assert_int_equal(job_join(&g), 0);
	assert_int_equal(job_join(&u), 0);
	assert_false(th_pending(&f->dom0, bp));
	assert_int_equal(evtchn_backend_close(b), 0);
	evtchn_park_reset();
#endif
}

/*
 * A sender checked the handle's port usable, then the handle unbound it
 * before the sender looked for the owner: the event belongs to the closed
 * port and is dropped; it never reaches domain 0's own shared_info and
 * upcall (where no port of domain 0 is bound).
 */
static void backend_unbind_before_sender_finds_owner(void **state)
{
	F;
	NEED_PARK();
#ifdef EVTCHN_PARK
	struct evtchn_backend *b;
	long gp;
	int bp = backend_channel(f, &b, &gp);
	struct job s = { .fn = do_send, .td = &f->d1, .port = (uint32_t)gp };
	struct job u = { .fn = do_unbind, .b = b, .port = (uint32_t)bp };
	unsigned up0 = th_upcalls(&f->dom0, 0);

	evtchn_park_arm("deliver:port", (uint64_t)bp, 1);
	evtchn_park_arm("backend:unbind", (uint64_t)bp, 0);
	job_start(&s);
	assert_true(evtchn_park_wait("deliver:port", 1, WAIT_MS));
	job_start(&u); /* unpublished, then waits for the sender */
	assert_true(evtchn_park_wait("backend:unbind", 1, WAIT_MS));
	evtchn_park_release("deliver:port");
	assert_int_equal(job_join(&s), 0);
	assert_int_equal(job_join(&u), 0);
	assert_false(th_pending(&f->dom0, bp));
	assert_int_equal(th_upcalls(&f->dom0, 0), up0);
	assert_int_equal(evtchn_backend_close(b), 0);
	evtchn_park_reset();
#endif
}

/*
 * A handle's port closed by a reset of its domain and its number bound
 * again (an IPI of domain 0): notify on the old number must not send on
 * the new binding.
 */
static void backend_notify_after_reset_leaves_new_binding(void **state)
{
	F;
	struct evtchn_backend *b;
	struct evtchn_reset r = { .dom = DOMID_SELF };
	long gp = th_alloc_unbound(&f->d1, DOMID_SELF, 0);
	int bp;
	long ipi;

	assert_int_equal(evtchn_backend_open(f->dom0.d, 0, &b), 0);
	bp = evtchn_backend_bind_interdomain(b, 1, (uint32_t)gp);
	assert_true(bp > 0);
	assert_int_equal(th_op(&f->dom0, 0, EVTCHNOP_reset, &r, sizeof(r)), 0);
	ipi = th_bind_ipi(&f->dom0, 0);
	assert_int_equal(ipi, bp);
	assert_false(th_pending(&f->dom0, bp));
	assert_int_equal(evtchn_backend_notify(b, bp), -ENOTCONN);
	assert_false(th_pending(&f->dom0, bp));
	/* and unbinding it leaves the IPI bound */
	assert_int_equal(evtchn_backend_unbind(b, bp), 0);
	struct evtchn_status st;
	assert_int_equal(th_status(&f->dom0, DOMID_SELF, bp, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_ipi);
	assert_int_equal(evtchn_backend_close(b), 0);
}

/*
 * FIFO: a sender finds no event-array page for its port and is stopped
 * before it saves the event; expand_array adds the page meanwhile.  The
 * event must still be raised (Xen's add_page_to_event_array() re-raises
 * saved events).
 */
static void fifo_expand_while_sender_saves_event(void **state)
{
	F;
	NEED_PARK();
#ifdef EVTCHN_PARK
	long p;
	struct job s = { .fn = do_send, .td = &f->d1 };
	struct job g = { .fn = do_expand, .td = &f->d1 };
	unsigned up;

	assert_int_equal(th_fifo_setup(&f->d1, 0), 0);
	p = th_bind_ipi(&f->d1, 0);
	assert_true(p > 0);
	up = th_upcalls(&f->d1, 0);
	s.port = (uint32_t)p;
	evtchn_park_arm("fifo:saved", (uint64_t)p, 1);
	evtchn_park_arm("fifo:published", PARK_ANY, 0);
	job_start(&s);
	assert_true(evtchn_park_wait("fifo:saved", 1, WAIT_MS));
	job_start(&g);
	assert_true(evtchn_park_wait("fifo:published", 1, WAIT_MS));
	evtchn_park_release("fifo:saved");
	assert_int_equal(job_join(&s), 0);
	assert_int_equal(job_join(&g), 0);
	assert_true(th_pending(&f->d1, (uint32_t)p));
	assert_int_equal(th_upcalls(&f->d1, 0), up + 1);
	evtchn_park_reset();
#endif
}

/*
 * SETTLING fooled by a repeat.  Guest 1's port r was the end of a channel
 * from guest 2 that closed; a bind of guest 2 to r waits one grace period.
 * Meanwhile a second channel to r is made, a sender on its guest-2 end
 * reads the binding and is stopped, and that end closes.  The waiting bind
 * must wait for that sender too, or the sender's event lands on r after r
 * was bound to the new channel.
 */
static void settling_waits_again_after_a_repeat(void **state)
{
	F;
	NEED_PARK();
#ifdef EVTCHN_PARK
	long r = th_alloc_unbound(&f->d1, DOMID_SELF, 2), l1, l2;
	struct job bj = { .fn = do_bind_interdomain, .td = &f->d2, .dom = 1 };
	struct job s = { .fn = do_send, .td = &f->d2 };
	struct job c = { .fn = do_close, .td = &f->d2 };
	struct evtchn_status st;
	bool waited_again;

	assert_true(r > 0);
	l1 = th_bind_interdomain(&f->d2, 1, (uint32_t)r);
	assert_true(l1 > 0);
	assert_int_equal(th_close(&f->d2, (uint32_t)l1), 0); /* r settles */
	evtchn_park_arm("bind_interdomain:settling", (uint64_t)r, 0);
	evtchn_park_arm("bind_interdomain:waited", (uint64_t)r, 1);
	bj.port = (uint32_t)r;
	job_start(&bj);
	assert_true(evtchn_park_wait("bind_interdomain:waited", 1, WAIT_MS));
	/* A second channel to r, a sender in flight on it, and its close. */
	l2 = th_bind_interdomain(&f->d2, 1, (uint32_t)r);
	assert_true(l2 > 0);
	assert_true(th_pending(&f->d2, (uint32_t)l2));
	s.port = c.port = (uint32_t)l2;
	evtchn_park_arm("send:interdomain", (uint64_t)l2, 1);
	evtchn_park_arm("port:unpublished", (uint64_t)l2, 0);
	job_start(&s);
	assert_true(evtchn_park_wait("send:interdomain", 1, WAIT_MS));
	job_start(&c);
	assert_true(evtchn_park_wait("port:unpublished", 1, WAIT_MS));
	/* The first bind goes on: it must see r settled again and wait. */
	evtchn_park_release("bind_interdomain:waited");
	waited_again = evtchn_park_wait("bind_interdomain:settling", 3,
					WAIT_MS);
	/* still not bound while the sender is in flight */
	assert_int_equal(th_status(&f->d1, DOMID_SELF, (uint32_t)r, &st), 0);
	evtchn_park_release("send:interdomain");
	assert_int_equal(job_join(&s), 0);
	assert_int_equal(job_join(&c), 0);
	assert_true(job_join(&bj) > 0);
	assert_true(waited_again);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
	evtchn_park_reset();
#endif
}

/*
 * An IPI sender stopped between reading its binding and delivering while
 * the port is closed and a new port is bound: the new binding gets a
 * different number (the closing one is not handed out before the sender
 * is done) and nothing of the stalled event; the closed port's pending bit
 * goes with it.
 */
static void ipi_close_and_rebind_while_sender_stalled(void **state)
{
	F;
	NEED_PARK();
#ifdef EVTCHN_PARK
	long p = th_bind_ipi(&f->d1, 1), q;
	struct job s = { .fn = do_send, .td = &f->d1, .port = (uint32_t)p };
	struct job c = { .fn = do_close, .td = &f->d1, .port = (uint32_t)p };

	evtchn_park_arm("deliver:port", (uint64_t)p, 1);
	evtchn_park_arm("port:unpublished", (uint64_t)p, 0);
	job_start(&s);
	assert_true(evtchn_park_wait("deliver:port", 1, WAIT_MS));
	job_start(&c);
	assert_true(evtchn_park_wait("port:unpublished", 1, WAIT_MS));
	q = th_bind_ipi(&f->d1, 2);
	assert_true(q > 0);
	assert_int_not_equal(q, p);
	evtchn_park_release("deliver:port");
	assert_int_equal(job_join(&s), 0);
	assert_int_equal(job_join(&c), 0);
	assert_false(th_pending(&f->d1, (uint32_t)q));
	assert_false(th_pending(&f->d1, (uint32_t)p));
	assert_int_equal(th_upcalls(&f->d1, 2), 0);
	evtchn_park_reset();
#endif
}

static long do_reset(struct job *j)
{
	struct evtchn_reset r = { .dom = DOMID_SELF };

	return th_op(j->td, 0, EVTCHNOP_reset, &r, sizeof(r));
}

/* The same while the sender's domain is reset: a port bound during the
 * reset is not the stalled sender's, and gets nothing. */
static void reset_while_sender_stalled(void **state)
{
	F;
	NEED_PARK();
#ifdef EVTCHN_PARK
	long p = th_bind_ipi(&f->d1, 1), q;
	struct job s = { .fn = do_send, .td = &f->d1, .port = (uint32_t)p };
	struct job r = { .fn = do_reset, .td = &f->d1 };
	struct evtchn_status st;

	evtchn_park_arm("deliver:port", (uint64_t)p, 1);
	evtchn_park_arm("port:unpublished", (uint64_t)p, 0);
	job_start(&s);
	assert_true(evtchn_park_wait("deliver:port", 1, WAIT_MS));
	job_start(&r);
	assert_true(evtchn_park_wait("port:unpublished", 1, WAIT_MS));
	q = th_bind_ipi(&f->d1, 3); /* another vCPU binds during the reset */
	assert_true(q > 0);
	assert_int_not_equal(q, p);
	evtchn_park_release("deliver:port");
	assert_int_equal(job_join(&s), 0);
	assert_int_equal(job_join(&r), 0);
	assert_false(th_pending(&f->d1, (uint32_t)q));
	assert_int_equal(th_upcalls(&f->d1, 3), 0);
	assert_int_equal(th_status(&f->d1, DOMID_SELF, (uint32_t)p, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	evtchn_park_reset();
#endif
}

/* Whether @j ends within @ms (then joined). */
static bool job_ended_within(struct job *j, unsigned ms)
{
	return joined_within(j->tid, ms);
}

/*
 * evtchn_lone_grace() (the fuzzers' shortcut) ends a grace period at once
 * only while no other thread has entered the read side: alone, a close
 * does not wait; with a sender stalled inside its read-side section on
 * another thread, the close waits for it as always.
 */
static void lone_grace_waits_for_another_reader(void **state)
{
	F;
	NEED_PARK();
#ifdef EVTCHN_PARK
	long p = th_bind_ipi(&f->d1, 1);
	struct job s = { .fn = do_send, .td = &f->d1, .port = (uint32_t)p };
	struct job c = { .fn = do_close, .td = &f->d1, .port = (uint32_t)p };
	unsigned long skips = evtchn_lone_grace(true);

	/* Alone (no thread of an earlier test is left). */
	assert_int_equal(th_close(&f->d1, (uint32_t)p), 0);
	assert_true(evtchn_lone_grace(true) > skips);
	p = th_bind_ipi(&f->d1, 1);
	s.port = c.port = (uint32_t)p;

	/* A sender on another thread inside its read-side section. */
	evtchn_park_arm("deliver:port", (uint64_t)p, 1);
	evtchn_park_arm("port:unpublished", (uint64_t)p, 0);
	job_start(&s);
	assert_true(evtchn_park_wait("deliver:port", 1, WAIT_MS));
	skips = evtchn_lone_grace(true);
	job_start(&c);
	assert_true(evtchn_park_wait("port:unpublished", 1, WAIT_MS));
	assert_false(job_ended_within(&c, 200));
	evtchn_park_release("deliver:port");
	assert_int_equal(job_join(&s), 0);
	assert_int_equal(job_join(&c), 0);
	assert_int_equal(evtchn_lone_grace(false), skips);
	evtchn_park_reset();
#endif
}

static long do_routes_set(struct job *j)
{
	struct evtchn_route r = { .kind = EVTCHN_ROUTE_PORT_TO_FD,
				  .port = j->port, .fd = (int)j->vcpu };

	return evtchn_routes_set(j->td->d, &r, 1);
}

static uint64_t efd_take(int fd)
{
	uint64_t v = 0;

	return read(fd, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

/* A sender that found a PORT_TO_FD route in the old table while the table
 * is replaced: its event goes to the old route's eventfd (the old table
 * and its descriptors live until the sender is done), a send after the
 * replacement to the new one. */
static void route_replaced_while_sender_stalled(void **state)
{
	F;
	NEED_PARK();
#ifdef EVTCHN_PARK
	long p = th_bind_ipi(&f->d1, 0);
	int e1 = eventfd(0, EFD_NONBLOCK), e2 = eventfd(0, EFD_NONBLOCK);
	struct evtchn_route r = { .kind = EVTCHN_ROUTE_PORT_TO_FD,
				  .port = (uint32_t)p, .fd = e1 };
	struct job s = { .fn = do_send, .td = &f->d1, .port = (uint32_t)p };
	struct job u = { .fn = do_routes_set, .td = &f->d1,
			 .port = (uint32_t)p, .vcpu = (uint32_t)e2 };

	assert_int_equal(evtchn_routes_set(f->d1.d, &r, 1), 0);
	evtchn_park_arm("route:send", (uint64_t)p, 1);
	evtchn_park_arm("route:published", PARK_ANY, 0);
	job_start(&s);
	assert_true(evtchn_park_wait("route:send", 1, WAIT_MS));
	job_start(&u);
	assert_true(evtchn_park_wait("route:published", 1, WAIT_MS));
	assert_int_equal(th_send(&f->d1, 1, (uint32_t)p), 0);
	assert_int_equal(efd_take(e2), 1);
	evtchn_park_release("route:send");
	assert_int_equal(job_join(&s), 0);
	assert_int_equal(job_join(&u), 0);
	assert_int_equal(efd_take(e1), 1);
	assert_int_equal(efd_take(e2), 0);
	assert_false(th_pending(&f->d1, (uint32_t)p));
	assert_int_equal(evtchn_routes_set(f->d1.d, NULL, 0), 0);
	close(e1);
	close(e2);
	evtchn_park_reset();
#endif
}

/*
 * No VMM callback under a library lock, nor inside its RCU read side.  The
 * VMM's interrupt callback takes a mutex of the VMM's ("vmm") that another
 * vCPU thread holds while it calls into the library; if the library called
 * back under one of its locks that the other call needs, or inside a
 * read-side section while the other call waits for a grace period (a
 * reset, a close), the two would wait for each other.  Only destroy waits
 * for the callbacks of its domain being made (callback_ends_before_destroy
 * below).
 */
struct cbx {
	pthread_mutex_t vmm;
	_Atomic int in_cb, calls;
	unsigned char *mem;
	struct evtchn_host *h;
	struct evtchn_domain *d;
};

#define CB_MEM (64 * EVTCHN_PAGE_SIZE)

static void cb_irq(struct evtchn_domain *d, const struct evtchn_irq *irq,
		   void *opaque)
{
	struct cbx *x = opaque;

	(void)d;
	(void)irq;
	atomic_store(&x->in_cb, 1);
	pthread_mutex_lock(&x->vmm);
	atomic_fetch_add(&x->calls, 1);
	pthread_mutex_unlock(&x->vmm);
}

/* Hypercall @nr (@cmd, struct at page @page of guest memory) from @vcpu. */
static long cb_call(struct cbx *x, uint32_t vcpu, uint64_t nr, uint64_t cmd,
		    unsigned page, void *arg, size_t len)
{
	uint64_t gpa = (uint64_t)page * EVTCHN_PAGE_SIZE;
	const uint64_t a[6] = { cmd, gpa };
	long rc;

	memcpy(x->mem + gpa, arg, len);
	rc = evtchn_hypercall(x->d, vcpu, nr, a);
	memcpy(arg, x->mem + gpa, len);
	return rc;
}

struct cb_job {
	pthread_t tid;
	struct cbx *x;
	int what;
	long rc;
};

enum { CB_BIND_INTERDOMAIN, CB_SET_VIA, CB_BIND_IPI, CB_STATUS, CB_SEND,
       CB_RESET_SELF, CB_CLOSE };

static void *cb_job_main(void *arg)
{
	struct cb_job *j = arg;
	struct cbx *x = j->x;

	switch (j->what) {
	case CB_BIND_INTERDOMAIN: {
		struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
						   .remote_dom = DOMID_SELF };
		struct evtchn_bind_interdomain bi = { .remote_dom = DOMID_SELF };

		j->rc = cb_call(x, 0, __HYPERVISOR_event_channel_op,
				EVTCHNOP_alloc_unbound, 1, &au, sizeof(au));
		bi.remote_port = au.port;
		/* Xen raises an event on the new port: vCPU 0's vector */
		if (!j->rc)
			j->rc = cb_call(x, 0, __HYPERVISOR_event_channel_op,
					EVTCHNOP_bind_interdomain, 1, &bi,
					sizeof(bi));
		break;
	}
	case CB_SET_VIA: {
		/* vCPU 0's upcall is pending: the new GSI line rises */
		struct xen_hvm_param p = { .domid = DOMID_SELF,
					   .index = HVM_PARAM_CALLBACK_IRQ,
					   .value = 10 };

		j->rc = cb_call(x, 0, __HYPERVISOR_hvm_op, HVMOP_set_param, 2,
				&p, sizeof(p));
		break;
	}
	case CB_BIND_IPI: {
		struct evtchn_bind_ipi b = { .vcpu = 1 };

		j->rc = cb_call(x, 1, __HYPERVISOR_event_channel_op,
				EVTCHNOP_bind_ipi, 3, &b, sizeof(b));
		break;
	}
	case CB_SEND: {
		/* an IPI to vCPU 1 (port 1, bound first): its vector */
		struct evtchn_send s = { .port = 1 };

		j->rc = cb_call(x, 0, __HYPERVISOR_event_channel_op,
				EVTCHNOP_send, 1, &s, sizeof(s));
		break;
	}
	case CB_RESET_SELF: {
		/* closes every port, then waits for a grace period */
		struct evtchn_reset r = { .dom = DOMID_SELF };

		j->rc = cb_call(x, 1, __HYPERVISOR_event_channel_op,
				EVTCHNOP_reset, 3, &r, sizeof(r));
		break;
	}
	case CB_CLOSE: {
		struct evtchn_close c = { .port = 1 };

		j->rc = cb_call(x, 1, __HYPERVISOR_event_channel_op,
				EVTCHNOP_close, 3, &c, sizeof(c));
		break;
	}
	default: {
		struct evtchn_status s = { .dom = DOMID_SELF, .port = 1 };

		j->rc = cb_call(x, 1, __HYPERVISOR_event_channel_op,
				EVTCHNOP_status, 3, &s, sizeof(s));
		break;
	}
	}
	return NULL;
}

/* With the VMM mutex held, start @fn(@arg) and wait until its callback
 * blocks on the mutex. */
static void start_blocked(struct cbx *x, pthread_t *tid, void *(*fn)(void *),
			  void *arg)
{
	pthread_mutex_lock(&x->vmm);
	assert_int_equal(pthread_create(tid, NULL, fn, arg), 0);
	for (int i = 0; i < 5000 && !atomic_load(&x->in_cb); i++)
		usleep(1000); /* bounded: reports a missing callback */
	assert_true(atomic_load(&x->in_cb));
}

/* Thread B makes a call whose callback blocks on the VMM mutex; thread A,
 * holding it, makes a call that needs the domain; A must finish. */
static void callback_case(int b_what, int a_what, bool via_first)
{
	struct cbx x = { .vmm = PTHREAD_MUTEX_INITIALIZER };
	struct evtchn_domain_config cfg = { .domid = 1, .nr_vcpus = 2,
					    .irq_cb = cb_irq, .opaque = &x };
	struct cb_job b = { .x = &x, .what = b_what };
	struct cb_job a = { .x = &x, .what = a_what };
	bool a_done;

	x.mem = calloc(1, CB_MEM);
	assert_non_null(x.mem);
	evtchn_guest_mem_flat(&cfg.mem, x.mem, CB_MEM);
	assert_int_equal(evtchn_host_create(&x.h), 0);
	assert_int_equal(evtchn_domain_create(x.h, &cfg, &x.d), 0);
	if (via_first) {
		/* a GSI callback and vCPU 0's upcall pending: the line up */
		struct xen_hvm_param p = { .domid = DOMID_SELF,
					   .index = HVM_PARAM_CALLBACK_IRQ,
					   .value = 9 };
		struct evtchn_bind_ipi ipi = { .vcpu = 0 };
		struct evtchn_send s;

		assert_int_equal(cb_call(&x, 0, __HYPERVISOR_hvm_op,
					 HVMOP_set_param, 2, &p, sizeof(p)), 0);
		assert_int_equal(cb_call(&x, 0, __HYPERVISOR_event_channel_op,
					 EVTCHNOP_bind_ipi, 1, &ipi,
					 sizeof(ipi)), 0);
		s.port = ipi.port;
		assert_int_equal(cb_call(&x, 0, __HYPERVISOR_event_channel_op,
					 EVTCHNOP_send, 1, &s, sizeof(s)), 0);
	} else {
		struct xen_hvm_param p = { .domid = DOMID_SELF,
					   .index = HVM_PARAM_CALLBACK_IRQ,
					   .value = (2ull << 56) | 0xf3 };

		assert_int_equal(cb_call(&x, 0, __HYPERVISOR_hvm_op,
					 HVMOP_set_param, 2, &p, sizeof(p)), 0);
	}
	if (b_what == CB_SEND) {
		struct evtchn_bind_ipi ipi = { .vcpu = 1 };

		assert_int_equal(cb_call(&x, 1, __HYPERVISOR_event_channel_op,
					 EVTCHNOP_bind_ipi, 1, &ipi,
					 sizeof(ipi)), 0);
		assert_int_equal(ipi.port, 1);
	}
	x.calls = 0;
	start_blocked(&x, &b.tid, cb_job_main, &b);
	assert_int_equal(pthread_create(&a.tid, NULL, cb_job_main, &a), 0);
	a_done = joined_within(a.tid, WAIT_MS);
	pthread_mutex_unlock(&x.vmm);
	if (!a_done)
		pthread_join(a.tid, NULL);
	pthread_join(b.tid, NULL);
	assert_true(a_done);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_true(atomic_load(&x.calls) >= 1); /* no upcall lost */
	assert_int_equal(evtchn_domain_destroy(x.d), 0);
	assert_int_equal(evtchn_host_destroy(x.h), 0);
	free(x.mem);
}

static void callback_outside_locks_bind_interdomain(void **state)
{
	(void)state;
	callback_case(CB_BIND_INTERDOMAIN, CB_BIND_IPI, false);
	callback_case(CB_BIND_INTERDOMAIN, CB_STATUS, false);
}

static void callback_outside_locks_set_callback_via(void **state)
{
	(void)state;
	callback_case(CB_SET_VIA, CB_BIND_IPI, true);
	callback_case(CB_SET_VIA, CB_STATUS, true);
}

/* B's callback blocked, A waits for a grace period: a reset of the domain
 * (every port closed), a close of the port B sent on.  Against a library
 * that made the callback inside the sender's read-side section, A never
 * finishes. */
static void callback_outside_read_side_reset(void **state)
{
	(void)state;
	callback_case(CB_SEND, CB_RESET_SELF, false);
	callback_case(CB_BIND_INTERDOMAIN, CB_RESET_SELF, false);
	callback_case(CB_SET_VIA, CB_RESET_SELF, true);
}

static void callback_outside_read_side_close(void **state)
{
	(void)state;
	callback_case(CB_SEND, CB_CLOSE, false);
}

/* The upcall callback (no irq_cb) of a send, blocked on the VMM mutex,
 * while another thread destroys the domain: destroy returns only after
 * the callback has ended, and the callback may still use its domain. */
struct dx {
	struct cbx x;
	_Atomic int cb_done, destroyed;
	uint32_t port;
};

static void dx_upcall(struct evtchn_domain *d, uint32_t vcpu, void *opaque)
{
	struct dx *dx = opaque;

	(void)vcpu;
	atomic_store(&dx->x.in_cb, 1);
	pthread_mutex_lock(&dx->x.vmm);
	pthread_mutex_unlock(&dx->x.vmm);
	/* still alive: ASan reports a use after free otherwise */
	assert_int_equal(evtchn_domain_id(d), 1);
	assert_int_equal(atomic_load(&dx->destroyed), 0);
	atomic_store(&dx->cb_done, 1);
}

static void *dx_send_main(void *arg)
{
	struct dx *dx = arg;

	assert_int_equal(evtchn_port_raise(dx->x.d, dx->port), 0);
	return NULL;
}

static void *dx_destroy_main(void *arg)
{
	struct dx *dx = arg;

	assert_int_equal(evtchn_domain_destroy(dx->x.d), 0);
	atomic_store(&dx->destroyed, 1);
	return NULL;
}

static void callback_ends_before_destroy(void **state)
{
	struct dx dx = { .x.vmm = PTHREAD_MUTEX_INITIALIZER };
	struct evtchn_domain_config cfg = { .domid = 1, .nr_vcpus = 1,
					    .upcall_cb = dx_upcall,
					    .opaque = &dx };
	struct evtchn_bind_ipi b = { .vcpu = 0 };
	pthread_t s, k;

	(void)state;
	dx.x.mem = calloc(1, CB_MEM);
	assert_non_null(dx.x.mem);
	evtchn_guest_mem_flat(&cfg.mem, dx.x.mem, CB_MEM);
	assert_int_equal(evtchn_host_create(&dx.x.h), 0);
	assert_int_equal(evtchn_domain_create(dx.x.h, &cfg, &dx.x.d), 0);
	assert_int_equal(cb_call(&dx.x, 0, __HYPERVISOR_event_channel_op,
				 EVTCHNOP_bind_ipi, 1, &b, sizeof(b)), 0);
	dx.port = b.port;
	start_blocked(&dx.x, &s, dx_send_main, &dx);
	assert_int_equal(pthread_create(&k, NULL, dx_destroy_main, &dx), 0);
	/* destroy waits for the callback (a bounded look: it must not
	 * have returned after 100 ms) */
	usleep(100000);
	assert_int_equal(atomic_load(&dx.destroyed), 0);
	pthread_mutex_unlock(&dx.x.vmm);
	pthread_join(s, NULL);
	pthread_join(k, NULL);
	assert_int_equal(atomic_load(&dx.cb_done), 1);
	assert_int_equal(atomic_load(&dx.destroyed), 1);
	assert_int_equal(evtchn_host_destroy(dx.x.h), 0);
	free(dx.x.mem);
}

/*
 * The memory and clock callbacks: not under a lock, and not inside the
 * read-side section either (a reset waits for a grace period).  Thread B
 * makes a call whose map, unmap or clock callback blocks on the VMM mutex
 * held by the test; thread A then makes a call that needs the domain lock,
 * the host's lock (a reset) or the timer lock, and must finish.  After the
 * mutex is let go, B's call must give the answer it gives after A's, and
 * B's upcall must arrive.
 */
enum { CB_REGISTER = 10, CB_INIT_CONTROL, CB_EXPAND, CB_TIMER, CB_RESET,
       CB_PERIODIC };
enum { BLOCK_MAP = 1, BLOCK_UNMAP, BLOCK_CLOCK };

#define CB_PAGE 10    /* the page B's call maps or unmaps */
#define CB_CTRL 11    /* vCPU 0's FIFO control block (set up first) */
#define CB_ARRAY 12   /* the event array's first page (B_RESET) */

struct ux {
	struct cbx x;
	struct evtchn_guest_mem mem; /* ux_map() and ux_unmap() on x.mem */
	int block;
	_Atomic int maps, unmaps, irqs[2];
};

static __thread bool ux_blocker; /* thread B */

static void ux_block(struct ux *u, int what, uint64_t gfn)
{
	if (!ux_blocker || u->block != what ||
	    (what != BLOCK_CLOCK && gfn != CB_PAGE))
		return;
	atomic_store(&u->x.in_cb, 1);
	pthread_mutex_lock(&u->x.vmm);
	pthread_mutex_unlock(&u->x.vmm);
}

static void *ux_map(struct evtchn_domain *d, uint64_t gfn, bool writable,
		    void *opaque)
{
	struct ux *u = opaque;

	(void)d;
	(void)writable;
	if (gfn >= CB_MEM / EVTCHN_PAGE_SIZE)
		return NULL;
	ux_block(u, BLOCK_MAP, gfn);
	atomic_fetch_add(&u->maps, 1);
	return u->x.mem + gfn * EVTCHN_PAGE_SIZE;
}

static void ux_unmap(struct evtchn_domain *d, uint64_t gfn, void *hva,
		     void *opaque)
{
	struct ux *u = opaque;

	assert_ptr_equal(hva, u->x.mem + gfn * EVTCHN_PAGE_SIZE);
	ux_block(u, BLOCK_UNMAP, gfn);
	assert_int_equal(evtchn_domain_id(d), 1); /* still alive */
	atomic_fetch_add(&u->unmaps, 1);
}

static uint64_t ux_clock(void *opaque)
{
	ux_block(opaque, BLOCK_CLOCK, 0);
	return 1000000000ull;
}

static void ux_irq(struct evtchn_domain *d, const struct evtchn_irq *irq,
		   void *opaque)
{
	struct ux *u = opaque;

	(void)d;
	if (irq->vcpu < 2)
		atomic_fetch_add(&u->irqs[irq->vcpu], 1);
}

static struct ux *ux_new(int block)
{
	struct ux *u = calloc(1, sizeof(*u));

	assert_non_null(u);
	pthread_mutex_init(&u->x.vmm, NULL);
	u->block = block;
	u->x.mem = calloc(1, CB_MEM);
	assert_non_null(u->x.mem);
	u->mem.map_cb = ux_map;
	u->mem.unmap_cb = ux_unmap;
	u->mem.opaque = u;
	assert_int_equal(evtchn_host_create(&u->x.h), 0);
	return u;
}

/* Once every domain is destroyed. */
static void ux_free(struct ux *u)
{
	assert_int_equal(evtchn_host_destroy(u->x.h), 0);
	/* Every page mapped was unmapped once: those a call kept, those it
	 * let go, those a reset took away. */
	assert_int_equal(atomic_load(&u->maps), atomic_load(&u->unmaps));
	pthread_mutex_destroy(&u->x.vmm);
	free(u->x.mem);
	free(u);
}

static long ux_vcpu_op(struct ux *u, uint32_t vcpu, int cmd, void *arg,
		       size_t len)
{
	uint64_t gpa = 3 * EVTCHN_PAGE_SIZE;
	const uint64_t a[6] = { (uint64_t)cmd, vcpu, gpa };

	memcpy(u->x.mem + gpa, arg, len);
	return evtchn_hypercall(u->x.d, vcpu, __HYPERVISOR_vcpu_op, a);
}

static long ux_evtchn_op(struct ux *u, uint32_t vcpu, int cmd, void *arg,
			 size_t len)
{
	return cb_call(&u->x, vcpu, __HYPERVISOR_event_channel_op,
		       (uint64_t)cmd, 2, arg, len);
}

static long ux_init_control(struct ux *u, uint32_t vcpu, uint64_t gfn)
{
	struct evtchn_init_control ic = { .control_gfn = gfn, .vcpu = vcpu };

	return ux_evtchn_op(u, vcpu, EVTCHNOP_init_control, &ic, sizeof(ic));
}

static long ux_expand(struct ux *u, uint64_t gfn)
{
	struct evtchn_expand_array ea = { .array_gfn = gfn };

	return ux_evtchn_op(u, 0, EVTCHNOP_expand_array, &ea, sizeof(ea));
}

static long ux_reset(struct ux *u)
{
	struct evtchn_reset r = { .dom = DOMID_SELF };

	return ux_evtchn_op(u, 0, EVTCHNOP_reset, &r, sizeof(r));
}

struct ux_job {
	pthread_t tid;
	struct ux *u;
	int what;
	bool blocker;
	long rc;
};

static void *ux_job_main(void *arg)
{
	struct ux_job *j = arg;
	struct ux *u = j->u;

	ux_blocker = j->blocker;
	switch (j->what) {
	case CB_REGISTER: {
		struct vcpu_register_vcpu_info vi = { .mfn = CB_PAGE };

		j->rc = ux_vcpu_op(u, 1, VCPUOP_register_vcpu_info, &vi,
				   sizeof(vi));
		break;
	}
	case CB_INIT_CONTROL:
		/* then the saved event arrives with the first array page */
		j->rc = ux_init_control(u, 0, CB_PAGE);
		if (!j->rc)
			j->rc = ux_expand(u, CB_ARRAY);
		break;
	case CB_EXPAND:
		j->rc = ux_expand(u, CB_PAGE);
		break;
	case CB_TIMER: {
		struct vcpu_set_singleshot_timer st = { .timeout_abs_ns = 1 };

		j->rc = ux_vcpu_op(u, 0, VCPUOP_set_singleshot_timer, &st,
				   sizeof(st));
		break;
	}
	case CB_RESET:
		j->rc = ux_reset(u);
		break;
	case CB_PERIODIC: {
		struct vcpu_set_periodic_timer pt = { .period_ns = 10000000 };

		j->rc = ux_vcpu_op(u, 1, VCPUOP_set_periodic_timer, &pt,
				   sizeof(pt));
		break;
	}
	default: {
		struct evtchn_bind_ipi b = { .vcpu = 1 };

		j->rc = ux_evtchn_op(u, 1, EVTCHNOP_bind_ipi, &b, sizeof(b));
		break;
	}
	}
	return NULL;
}

/* An event pending on vCPU 0 under 2-level, then FIFO with it saved. */
static void ux_saved_event(struct ux *u, bool fifo)
{
	struct evtchn_bind_ipi b = { .vcpu = 0 };
	struct evtchn_send s;

	assert_int_equal(ux_evtchn_op(u, 0, EVTCHNOP_bind_ipi, &b, sizeof(b)),
			 0);
	s.port = b.port;
	assert_int_equal(ux_evtchn_op(u, 0, EVTCHNOP_send, &s, sizeof(s)), 0);
	if (fifo)
		assert_int_equal(ux_init_control(u, 0, CB_CTRL), 0);
}

static void ux_setup(struct ux *u, int b_what)
{
	struct xen_hvm_param p = { .domid = DOMID_SELF,
				   .index = HVM_PARAM_CALLBACK_IRQ,
				   .value = (2ull << 56) | 0xf3 };
	unsigned char *si = evtchn_domain_shared_info(u->x.d);

	assert_int_equal(cb_call(&u->x, 0, __HYPERVISOR_hvm_op,
				 HVMOP_set_param, 2, &p, sizeof(p)), 0);
	switch (b_what) {
	case CB_INIT_CONTROL:
		ux_saved_event(u, false);
		break;
	case CB_EXPAND:
		ux_saved_event(u, true);
		break;
	case CB_TIMER: {
		struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = 0 };

		assert_int_equal(ux_evtchn_op(u, 0, EVTCHNOP_bind_virq, &bv,
					      sizeof(bv)), 0);
		break;
	}
	case CB_RESET:
		assert_int_equal(ux_init_control(u, 0, CB_PAGE), 0);
		assert_int_equal(ux_expand(u, CB_ARRAY), 0);
		break;
	}
	/* No upcall pending: the one B's call raises is seen. */
	for (int v = 0; v < 2; v++)
		si[v * sizeof(struct vcpu_info)] = 0;
	atomic_store(&u->irqs[0], 0);
	atomic_store(&u->irqs[1], 0);
}

/* B (@b_what, blocked in the callback @block) against A (@a_what).  B
 * then answers @b_rc; its upcall arrives on vCPU @b_vcpu (-1: none is
 * owed, A's reset took the event). */
static void unlocked_case(int b_what, int block, int a_what, long b_rc,
			  int b_vcpu)
{
	struct ux *u = ux_new(block);
	struct evtchn_domain_config cfg = { .domid = 1, .nr_vcpus = 2,
					    .irq_cb = ux_irq };
	struct ux_job b = { .what = b_what, .blocker = true };
	struct ux_job a = { .what = a_what };
	bool a_done;

	b.u = a.u = u;
	cfg.opaque = u;
	cfg.mem = u->mem;
	assert_int_equal(evtchn_host_set_clock(u->x.h, ux_clock, u), 0);
	assert_int_equal(evtchn_domain_create(u->x.h, &cfg, &u->x.d), 0);
	ux_setup(u, b_what);

	start_blocked(&u->x, &b.tid, ux_job_main, &b);
	assert_int_equal(pthread_create(&a.tid, NULL, ux_job_main, &a), 0);
	a_done = joined_within(a.tid, WAIT_MS);
	pthread_mutex_unlock(&u->x.vmm);
	if (!a_done)
		pthread_join(a.tid, NULL);
	pthread_join(b.tid, NULL);
	assert_true(a_done); /* no deadlock */
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, b_rc);
	if (b_vcpu >= 0) /* no upcall lost */
		assert_true(atomic_load(&u->irqs[b_vcpu]) >= 1);
	assert_int_equal(evtchn_domain_destroy(u->x.d), 0);
	ux_free(u);
}

static void map_outside_locks_register_vcpu_info(void **state)
{
	(void)state;
	unlocked_case(CB_REGISTER, BLOCK_MAP, CB_BIND_IPI, 0, 1);
	unlocked_case(CB_REGISTER, BLOCK_MAP, CB_RESET, 0, 1);
}

static void map_outside_locks_init_control(void **state)
{
	(void)state;
	unlocked_case(CB_INIT_CONTROL, BLOCK_MAP, CB_BIND_IPI, 0, 0);
	/* the reset closed the pending port first */
	unlocked_case(CB_INIT_CONTROL, BLOCK_MAP, CB_RESET, 0, -1);
}

static void map_outside_locks_expand_array(void **state)
{
	(void)state;
	unlocked_case(CB_EXPAND, BLOCK_MAP, CB_BIND_IPI, 0, 0);
	/* back on 2-level before the page comes: Xen's answer, page let go */
	unlocked_case(CB_EXPAND, BLOCK_MAP, CB_RESET, -XEN_EOPNOTSUPP, -1);
}

static void unmap_outside_locks_reset(void **state)
{
	(void)state;
	unlocked_case(CB_RESET, BLOCK_UNMAP, CB_BIND_IPI, 0, -1);
	unlocked_case(CB_RESET, BLOCK_UNMAP, CB_RESET, 0, -1);
}

/* Domain 0 resets paused domain 1, and its unmap callback blocks; the VMM
 * destroys domain 1 meanwhile: the destroy waits for the reset to let go
 * of it (ASan sees any use after free). */
struct xreset {
	pthread_t tid;
	struct evtchn_domain *d0, *d1;
	unsigned char *mem0;
	long rc;
};

static void *xreset_main(void *arg)
{
	struct xreset *r = arg;
	struct evtchn_reset rs = { .dom = 1 };
	const uint64_t a[6] = { EVTCHNOP_reset, EVTCHN_PAGE_SIZE };

	ux_blocker = true;
	memcpy(r->mem0 + EVTCHN_PAGE_SIZE, &rs, sizeof(rs));
	r->rc = evtchn_hypercall(r->d0, 0, __HYPERVISOR_event_channel_op, a);
	return NULL;
}

static void *destroy_main(void *arg)
{
	struct xreset *r = arg;

	r->rc = evtchn_domain_destroy(r->d1);
	return NULL;
}

static void unmap_outside_locks_reset_of_another_domain(void **state)
{
	struct ux *u = ux_new(BLOCK_UNMAP);
	struct evtchn_domain_config c0 = { .domid = 0, .nr_vcpus = 1,
					   .privileged = true };
	struct evtchn_domain_config c1 = { .domid = 1, .nr_vcpus = 2,
					   .mem = u->mem };
	struct xreset r = { 0 }, dr;

	(void)state;
	r.mem0 = calloc(1, CB_MEM);
	assert_non_null(r.mem0);
	evtchn_guest_mem_flat(&c0.mem, r.mem0, CB_MEM);
	assert_int_equal(evtchn_domain_create(u->x.h, &c0, &r.d0), 0);
	assert_int_equal(evtchn_domain_create(u->x.h, &c1, &u->x.d), 0);
	r.d1 = u->x.d;
	assert_int_equal(ux_init_control(u, 0, CB_PAGE), 0);
	assert_int_equal(ux_expand(u, CB_ARRAY), 0);
	assert_int_equal(evtchn_domain_set_paused(r.d1, true), 0);

	start_blocked(&u->x, &r.tid, xreset_main, &r);
	dr = r;
	assert_int_equal(pthread_create(&dr.tid, NULL, destroy_main, &dr), 0);
	/* Bounded only to see it wait: it may not end before the unmap. */
	assert_false(joined_within(dr.tid, 200));
	pthread_mutex_unlock(&u->x.vmm);
	pthread_join(r.tid, NULL);
	pthread_join(dr.tid, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(dr.rc, 0);
	assert_int_equal(evtchn_domain_destroy(r.d0), 0);
	ux_free(u);
	free(r.mem0);
}

static void clock_outside_locks_timer_ops(void **state)
{
	(void)state;
	unlocked_case(CB_TIMER, BLOCK_CLOCK, CB_PERIODIC, 0, 0);
	unlocked_case(CB_TIMER, BLOCK_CLOCK, CB_BIND_IPI, 0, 0);
	/* the reset closed VIRQ_TIMER's port: no event owed */
	unlocked_case(CB_TIMER, BLOCK_CLOCK, CB_RESET, 0, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(backend_unbind_then_close_while_sender_holds_record),
		FX_TEST(backend_close_then_unbind_while_sender_holds_record),
		FX_TEST(backend_unbind_before_sender_finds_owner),
		FX_TEST(backend_notify_after_reset_leaves_new_binding),
		FX_TEST(fifo_expand_while_sender_saves_event),
		FX_TEST(settling_waits_again_after_a_repeat),
		FX_TEST(ipi_close_and_rebind_while_sender_stalled),
		FX_TEST(reset_while_sender_stalled),
		FX_TEST(route_replaced_while_sender_stalled),
		FX_TEST(lone_grace_waits_for_another_reader),
		cmocka_unit_test(callback_outside_locks_bind_interdomain),
		cmocka_unit_test(callback_outside_locks_set_callback_via),
		cmocka_unit_test(callback_outside_read_side_reset),
		cmocka_unit_test(callback_outside_read_side_close),
		cmocka_unit_test(callback_ends_before_destroy),
		cmocka_unit_test(map_outside_locks_register_vcpu_info),
		cmocka_unit_test(map_outside_locks_init_control),
		cmocka_unit_test(map_outside_locks_expand_array),
		cmocka_unit_test(unmap_outside_locks_reset),
		cmocka_unit_test(unmap_outside_locks_reset_of_another_domain),
		cmocka_unit_test(clock_outside_locks_timer_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
