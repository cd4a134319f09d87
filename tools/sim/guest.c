/* SPDX-License-Identifier: MIT */
/*
 * evtchn-sim's guest: one thread a vCPU, each what a guest kernel's CPU
 * does with event channels.  It queues requests on the rings it owns and
 * notifies the backend when the ring's req_event asks for it, sends an IPI
 * to another vCPU, then waits for its upcall and runs the
 * reference consumer (guest/), whose handler takes timer ticks, IPIs,
 * the backend's responses and the assigned device's MSIs (PIRQs).
 * Hypercalls go through evtchn_hypercall() with their arguments in guest
 * memory, one argument page a vCPU.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/physdev.h>
#include <xen/vcpu.h>

#include "evtchn/evtchn.h"
#include "evtchn_guest.h"
#include "sim.h"

#define BATCH 16u     /* requests queued on a ring at a time */
#define WAIT_MS 100   /* the longest wait for an upcall */
#define MS 1000000ull

void sim_fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->fail_lock);
	if (!atomic_load(&s->failed)) {
		va_start(ap, fmt);
		vsnprintf(s->fail_msg, sizeof(s->fail_msg), fmt, ap);
		va_end(ap);
		atomic_store(&s->failed, 1);
	}
	pthread_mutex_unlock(&s->fail_lock);
}

/* A hypercall of vCPU @vcpu: the argument struct @arg goes to the vCPU's
 * argument page, its guest-physical address in argument register @slot. */
static long hypercall(struct sim *s, uint32_t vcpu, uint64_t nr,
		      uint64_t a[6], unsigned slot, void *arg, size_t len)
{
	unsigned char *page = s->mem + (s->l.arg_gfn + vcpu) * SIM_PAGE;
	long rc;

	if (arg) {
		memcpy(page, arg, len);
		a[slot] = (s->l.arg_gfn + vcpu) * SIM_PAGE;
	}
	rc = evtchn_hypercall(s->d, vcpu, nr, a);
	if (arg)
		memcpy(arg, page, len);
	return rc;
}

long sim_guest_op(void *ctx, uint32_t vcpu, int cmd, void *arg, size_t len)
{
	uint64_t a[6] = { (uint64_t)cmd };

	return hypercall(ctx, vcpu, __HYPERVISOR_event_channel_op, a, 1, arg,
			 len);
}

long sim_hypercall(struct sim *s, uint32_t vcpu, uint64_t nr, uint64_t a0,
		   uint64_t a1, void *arg, size_t len)
{
	uint64_t a[6] = { a0, a1 };

	return hypercall(s, vcpu, nr, a, 2, arg, len);
}

long sim_physdev_op(struct sim *s, uint32_t vcpu, int cmd, void *arg,
		    size_t len)
{
	uint64_t a[6] = { (uint64_t)cmd };

	return hypercall(s, vcpu, __HYPERVISOR_physdev_op, a, 1, arg, len);
}

long sim_vcpu_op(struct sim *s, uint32_t vcpu, int cmd, void *arg,
		 size_t len)
{
	return sim_hypercall(s, vcpu, __HYPERVISOR_vcpu_op, (uint64_t)cmd,
			     vcpu, arg, len);
}

static long futex(_Atomic uint32_t *w, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

/* The VMM's upcall: "inject" it by waking the vCPU thread.  Any thread,
 * must not block: one exchange, and a wake only when the vCPU sleeps. */
void sim_upcall_cb(struct evtchn_domain *d, uint32_t vcpu, void *opaque)
{
	struct sim_vcpu *v = &((struct sim *)opaque)->vcpu[vcpu];

	(void)d;
	/* seq_cst: pairs with the store of sleeping in sim_wait_upcall() */
	if (!atomic_exchange(&v->upcall, 1) && atomic_load(&v->sleeping))
		futex(&v->upcall, FUTEX_WAKE_PRIVATE, 1, NULL);
}

void sim_wake_all(struct sim *s)
{
	for (uint32_t i = 0; i < s->o.vcpus; i++) {
		atomic_store(&s->vcpu[i].upcall, 1);
		futex(&s->vcpu[i].upcall, FUTEX_WAKE_PRIVATE, 1, NULL);
	}
}

void sim_wait_upcall(struct sim_vcpu *v, unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
			       (long)(ms % 1000) * (long)MS };

	if (atomic_exchange(&v->upcall, 0))
		return;
	atomic_store(&v->sleeping, 1);
	if (!atomic_load(&v->upcall))
		futex(&v->upcall, FUTEX_WAIT_PRIVATE, 0, &ts);
	atomic_store(&v->sleeping, 0);
	atomic_store(&v->upcall, 0);
}

static void send(struct sim_vcpu *v, uint32_t port)
{
	struct evtchn_send send = { .port = port };
	long rc = sim_guest_op(v->sim, v->id, EVTCHNOP_send, &send,
			       sizeof(send));

	if (rc)
		sim_fail(v->sim, "vCPU %u: EVTCHNOP_send on port %u: %s",
			 v->id, port, evtchn_strerror((int)rc));
}

/* The guest's notification on ring @r.  --inject-loss drops the first one
 * of ring 0 (counted as sent, never made): the backend is asleep and only
 * this kick would wake it. */
static void ring_kick(struct sim_vcpu *v, struct sim_ring *r)
{
	bool drop = v->sim->o.inject_loss == SIM_LOSS_KICK && r->index == 0 &&
		    !atomic_load(&r->chan->kicks_sent);

	/* counted before the send it stands for */
	atomic_fetch_add(&r->chan->kicks_sent, 1);
	if (!drop)
		send(v, r->port);
}

/* Queue up to BATCH requests, RING_PUSH_REQUESTS_AND_CHECK_NOTIFY. */
static void ring_produce(struct sim_vcpu *v, struct sim_ring *r)
{
	sim_front_ring_t *f = &r->front;
	sim_sring_t *sr = f->sring;
	unsigned n = RING_FREE_REQUESTS(f);
	RING_IDX old, event;
	uint64_t now;

	if (n > BATCH)
		n = BATCH;
	if (!n)
		return;
	now = sim_now_ns();
	for (unsigned i = 0; i < n; i++) {
		struct sim_req *q = RING_GET_REQUEST(f, f->req_prod_pvt++);

		q->id = r->next_id++;
		q->pad = 0;
		q->sent_ns = now;
	}
	atomic_fetch_add_explicit(&r->requests, n, memory_order_relaxed);
	old = __atomic_load_n(&sr->req_prod, __ATOMIC_RELAXED);
	/* requests before the index: pairs with the acquire load in
	 * backend.c serve() */
	__atomic_store_n(&sr->req_prod, f->req_prod_pvt, __ATOMIC_RELEASE);
	/* the index before reading req_event: pairs with the fence of the
	 * backend's final check */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = __atomic_load_n(&sr->req_event, __ATOMIC_RELAXED);
	if ((RING_IDX)(f->req_prod_pvt - event) <
	    (RING_IDX)(f->req_prod_pvt - old))
		ring_kick(v, r);
}

/* The responses, with their latency; RING_FINAL_CHECK_FOR_RESPONSES. */
static void ring_consume(struct sim_vcpu *v, struct sim_ring *r)
{
	sim_front_ring_t *f = &r->front;
	sim_sring_t *sr = f->sring;
	bool more;

	do {
		/* pairs with the release store of rsp_prod in backend.c */
		RING_IDX prod =
			__atomic_load_n(&sr->rsp_prod, __ATOMIC_ACQUIRE);
		uint64_t now = sim_now_ns(), n = 0;

		if (prod - f->rsp_cons > f->req_prod_pvt - f->rsp_cons) {
			/* more responses than requests: a broken backend */
			atomic_fetch_add(&r->bad, 1);
			sim_fail(v->sim, "ring %u: rsp_prod %u beyond the "
					 "requests (%u)",
				 r->index, prod, f->req_prod_pvt);
			return;
		}
		for (; f->rsp_cons != prod; f->rsp_cons++, n++) {
			const struct sim_rsp *rsp =
				RING_GET_RESPONSE(f, f->rsp_cons);
			uint64_t sent = rsp->sent_ns;

			sim_hist_add(&v->lat, now > sent ? now - sent : 0);
		}
		atomic_fetch_add_explicit(&r->responses, n,
					  memory_order_relaxed);
		more = __atomic_load_n(&sr->rsp_prod, __ATOMIC_ACQUIRE) !=
		       f->rsp_cons;
		if (!more) {
			__atomic_store_n(&sr->rsp_event, f->rsp_cons + 1,
					 __ATOMIC_RELAXED);
			/* pairs with the fence of the backend's push */
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			more = __atomic_load_n(&sr->rsp_prod,
					       __ATOMIC_ACQUIRE) != f->rsp_cons;
		}
	} while (more);
}

/* An IPI to the next vCPU (itself when alone), as Linux sends reschedule
 * IPIs: whether or not the last one was taken yet.  Post to the target's
 * mailbox, count the send, send. */
static void ipi_send(struct sim_vcpu *v)
{
	struct sim *s = v->sim;
	uint32_t n = s->o.vcpus, t = v->next_target;
	uint32_t port = s->vcpu[t].ipi_port;

	/* seq_cst: the target reads the count after the event and the
	 * mailbox after the count (on_ipi()) */
	atomic_store(&s->mailbox[t * n + v->id], 1);
	atomic_fetch_add(&s->port[port].sent, 1);
	send(v, port);
	atomic_fetch_add_explicit(&v->ipis_sent, 1, memory_order_relaxed);
	if (n > 1) {
		t = (t + 1) % n;
		if (t == v->id)
			t = (t + 1) % n;
		v->next_target = t;
	}
}

static void on_ipi(struct sim_vcpu *v, struct sim_port *p)
{
	struct sim *s = v->sim;
	uint32_t n = s->o.vcpus;

	/* after the consumer cleared pending: every send that pending
	 * stood for is counted by now */
	atomic_store(&p->seen, atomic_load(&p->sent));
	for (uint32_t i = 0; i < n; i++)
		atomic_exchange(&s->mailbox[v->id * n + i], 0);
	atomic_fetch_add_explicit(&v->ipis, 1, memory_order_relaxed);
}

static void on_ring(struct sim_vcpu *v, struct sim_ring *r)
{
	atomic_store(&r->chan->answers_seen,
		     atomic_load(&r->chan->answers_sent));
	ring_consume(v, r);
}

/*
 * Linux's PIRQ: startup_pirq() asks PHYSDEVOP_irq_status_query whether
 * the PIRQ needs PHYSDEVOP_eoi, and its ack (eoi_pirq(), before the
 * handler of an edge interrupt) makes the call when it does; an error
 * reads as no flags.  Linux asks at bind time, when an MSI PIRQ has no
 * emulated mapping yet (Xen answers -EINVAL, so Linux never EOIs MSI
 * PIRQs).  This guest asks at the first event, after an MSI reached the
 * PIRQ, and EOIs each event when the answer says needs_eoi: Xen 4.17 says
 * so for the PIRQ that holds the domain's one emulated-MSI mapping (the
 * first an MSI reached) and answers -EINVAL for the others.
 */
static void msi_ack(struct sim_vcpu *v, struct sim_msi_vec *m)
{
	struct sim *s = v->sim;
	long rc;

	if (!m->queried) {
		struct physdev_irq_status_query q = { .irq = m->pirq };

		m->status_rc = sim_physdev_op(s, v->id,
					      PHYSDEVOP_irq_status_query, &q,
					      sizeof(q));
		m->needs_eoi = !m->status_rc &&
			       (q.flags & XENIRQSTAT_needs_eoi);
		m->queried = true;
	}
	if (m->needs_eoi) {
		struct physdev_eoi e = { .irq = m->pirq };

		rc = sim_physdev_op(s, v->id, PHYSDEVOP_eoi, &e, sizeof(e));
		if (rc)
			sim_fail(s, "vCPU %u: PHYSDEVOP_eoi of PIRQ %u: %s",
				 v->id, m->pirq, evtchn_strerror((int)rc));
		atomic_fetch_add_explicit(&m->eois, 1, memory_order_relaxed);
	}
}

/* An MSI of the device: take every completion, then ask for the next
 * interrupt (event index) and look again, as a driver re-enables its
 * interrupt after polling. */
static void on_msi(struct sim_vcpu *v, struct sim_msi_vec *m)
{
	struct sim_msi *sh = m->sh;
	uint64_t done;

	msi_ack(v, m);
	/* after the consumer cleared pending: every MSI that pending stood
	 * for is counted by now */
	atomic_store(&sh->seen, atomic_load(&sh->sent));
	do {
		done = atomic_load(&sh->done);
		atomic_store(&sh->taken, done);
		/* the index before the count, seq_cst: pairs with the
		 * device's store of the count and load of the index
		 * (backend.c device_tick()) */
		atomic_store(&sh->event, done + 1);
	} while (atomic_load(&sh->done) != done);
}

static void on_tick(struct sim_vcpu *v)
{
	atomic_fetch_add_explicit(&v->ticks, 1, memory_order_relaxed);
	if (v->draining)
		atomic_store(&v->final_tick, true);
}

/* The consumer's callback, for each event the upcall handler takes. */
static void on_event(uint32_t vcpu, uint32_t port, void *opaque)
{
	struct sim_vcpu *v = opaque;
	struct sim *s = v->sim;
	struct sim_port *p;

	atomic_fetch_add_explicit(&v->events, 1, memory_order_relaxed);
	if (port >= s->nr_ports || s->port[port].kind == SIM_PORT_NONE ||
	    s->port[port].vcpu != vcpu) {
		atomic_fetch_add_explicit(&v->stray, 1, memory_order_relaxed);
		return;
	}
	p = &s->port[port];
	atomic_fetch_add_explicit(&p->delivered, 1, memory_order_relaxed);
	switch (p->kind) {
	case SIM_PORT_TIMER:
		on_tick(v);
		break;
	case SIM_PORT_IPI:
		on_ipi(v, p);
		break;
	case SIM_PORT_RING:
		on_ring(v, &s->ring[p->ring]);
		break;
	case SIM_PORT_PIRQ:
		on_msi(v, &s->msi[p->ring]);
		break;
	default:
		break;
	}
}

static void work(struct sim_vcpu *v)
{
	struct sim *s = v->sim;

	for (uint32_t i = v->id; i < s->o.rings; i += s->o.vcpus)
		ring_produce(v, &s->ring[i]);
	ipi_send(v);
}

/* Stop sending; the periodic timer gives way to one singleshot tick that
 * must still arrive.  vCPU 0's driver stops the device, which then raises
 * nothing more. */
void sim_drain_begin(struct sim_vcpu *v)
{
	struct sim *s = v->sim;
	struct vcpu_set_singleshot_timer st = { .flags = 0 };
	long rc;

	rc = sim_vcpu_op(s, v->id, VCPUOP_stop_periodic_timer, NULL, 0);
	if (rc)
		sim_fail(s, "vCPU %u: VCPUOP_stop_periodic_timer: %s", v->id,
			 evtchn_strerror((int)rc));
	v->draining = true;
	if (v->id == 0 && s->dev)
		atomic_store(&s->dev->stop, 1);
	/* Xen system time; a real guest reads it from its pvclock */
	st.timeout_abs_ns = evtchn_host_now(s->host) + MS;
	rc = sim_vcpu_op(s, v->id, VCPUOP_set_singleshot_timer, &st,
			 sizeof(st));
	if (rc)
		sim_fail(s, "vCPU %u: VCPUOP_set_singleshot_timer: %s", v->id,
			 evtchn_strerror((int)rc));
	atomic_store(&v->quiet, true);
}

void *sim_vcpu_main(void *arg)
{
	struct sim_vcpu *v = arg;
	struct sim *s = v->sim;
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
		if (phase == SIM_RUN)
			work(v);
		else if (!v->draining)
			sim_drain_begin(v);
		sim_wait_upcall(v, WAIT_MS);
		evtchn_guest_upcall(&s->g, v->id, on_event, v);
	}
	sim_vcpu_op(s, v->id, VCPUOP_stop_singleshot_timer, NULL, 0);
	sim_vcpu_op(s, v->id, VCPUOP_stop_periodic_timer, NULL, 0);
	return NULL;
}
