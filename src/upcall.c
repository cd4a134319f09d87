/* SPDX-License-Identifier: MIT */
/*
 * How an upcall reaches an HVM guest (Xen 4.17 xen/arch/x86/hvm/irq.c
 * hvm_assert_evtchn_irq(), hvm_set_callback_via(); hvm.c
 * HVMOP_set_evtchn_upcall_vector): a per-vCPU vector, else the global
 * callback vector, else, for vCPU 0 only, a GSI or PCI INTx line whose
 * level follows vCPU 0's evtchn_upcall_pending.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "internal.h"
#include "rcu.h"

#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#define VIA_GSI 0
#define VIA_PCI_INTX 1
#define VIA_VECTOR 2

/* The GSI/INTx line's state (what it should be, what the VMM was told),
 * as under Xen's irq_lock.  Held for a few loads and stores, never across
 * the VMM's callback: line_commit() tells it. */
static void line_lock(struct evtchn_domain *d)
{
	spin_lock(&d->line_lock);
}

static void line_unlock(struct evtchn_domain *d)
{
	spin_unlock(&d->line_lock);
}

static void irq_raise(struct evtchn_domain *d, struct evtchn_irq *irq)
{
	ASSERT_NO_LOCK_HELD();
	d->irq_cb(d, irq, d->opaque);
}

/* The line of a GSI or INTx callback @via to @level. */
static void line_set(struct evtchn_domain *d, uint64_t via, bool level)
{
	struct evtchn_irq irq = { .vcpu = 0, .level = level };

	if (via >> 56 == VIA_GSI) {
		irq.method = EVTCHN_UPCALL_GSI;
		irq.gsi = (uint8_t)via;
	} else {
		irq.method = EVTCHN_UPCALL_PCI_INTX;
		irq.pci_dev = (uint8_t)(via >> 11) & 31;
		irq.pci_intx = (uint8_t)via & 3;
	}
	irq_raise(d, &irq);
}

static bool via_is_line(const struct evtchn_domain *d, uint64_t via);

/*
 * Tell the VMM what the line should be now (line lock held on entry,
 * released on return).  One thread tells at a time, with the lock
 * dropped around each callback; a thread that finds another telling
 * leaves its wish in the state, and the teller, which looks again after
 * each call, carries it out.  So the VMM sees the calls in order, ends
 * with the last state, and is never called under a library lock.
 */
static void line_commit(struct evtchn_domain *d)
{
	if (d->line_telling) {
		line_unlock(d);
		return;
	}
	d->line_telling = true;
	for (;;) {
		uint64_t via = atomic_load(&d->callback_via);
		bool want = d->line_want && via_is_line(d, via);
		uint64_t tell_via;
		bool level;

		if (d->line_told && (!want || d->line_told_via != via)) {
			tell_via = d->line_told_via; /* the old line drops */
			level = false;
			d->line_told = false;
		} else if (want && !d->line_told) {
			tell_via = via;
			level = true;
			d->line_told = true;
			d->line_told_via = via;
		} else {
			break;
		}
		line_unlock(d);
		line_set(d, tell_via, level);
		line_lock(d);
	}
	d->line_telling = false;
	line_unlock(d);
}

/* A GSI or INTx callback that Xen would use (GSI 0 or beyond nr_gsis is
 * none). */
static bool via_is_line(const struct evtchn_domain *d, uint64_t via)
{
	if (via >> 56 == VIA_PCI_INTX)
		return true;
	return via >> 56 == VIA_GSI && (uint8_t)via != 0 &&
	       (uint8_t)via < d->nr_gsis;
}

/*
 * The VMM's callbacks for an upcall are made when the raising thread's
 * outermost read-side section ends, not inside it: a VMM lock a callback
 * takes may then be held across anything that waits for a grace period
 * (close, unbind, reset, a route table's replacement).  Each vCPU is on at
 * most one thread's list (bit 0 of owed, set by the thread that put it
 * there); while it is, a raise on another thread leaves the callback to
 * that one, which makes it after the raise.  The thread takes the vCPU off
 * its list and counts the callback as being made (owed += 1 turns bit 0
 * into 2) in one step, so a raise after that puts it on a list again: no
 * upcall is lost, and one may be told twice, as an interrupt in flight
 * is.  evtchn_domain_destroy() waits until no vCPU of the domain is owed
 * or being told (upcall_wait()).
 */
static void upcall_owe(struct evtchn_vcpu *v)
{
	if (atomic_fetch_or(&v->owed, 1) & 1)
		return;
	v->owed_next = evtchn_upcalls_owed;
	evtchn_upcalls_owed = v;
	if (!evtchn_rcu_depth)
		evtchn_upcalls_flush();
}

/* Tell the VMM of @v's upcall, by the method in force now. */
static void upcall_tell(struct evtchn_domain *d, struct evtchn_vcpu *v)
{
	uint8_t vec = atomic_load(&v->upcall_vector);
	uint64_t via;

	ASSERT_NO_LOCK_NOR_READER();
	if (!d->irq_cb) {
		if (d->upcall_cb)
			d->upcall_cb(d, v->id, d->opaque);
		return;
	}
	if (vec) {
		struct evtchn_irq irq = { .method = EVTCHN_UPCALL_VCPU_VECTOR,
					  .vcpu = v->id, .vector = vec };

		irq_raise(d, &irq);
		return;
	}
	via = atomic_load_explicit(&d->callback_via, memory_order_acquire);
	if (via >> 56 == VIA_VECTOR) {
		struct evtchn_irq irq = { .method = EVTCHN_UPCALL_VECTOR,
					  .vcpu = v->id, .vector = (uint8_t)via };

		irq_raise(d, &irq);
		return;
	}
	/* A GSI or INTx line: what it should be was set at the raise (or
	 * since); vCPU 0 only. */
	if (v->id == 0 && !atomic_load(&d->vcpu[0].upcall_vector)) {
		line_lock(d);
		line_commit(d);
	}
}

void evtchn_upcalls_flush(void)
{
	static __thread bool flushing;
	struct evtchn_vcpu *v;

	/* A library call made from one of these callbacks leaves what it
	 * raises to the loop below. */
	if (flushing)
		return;
	flushing = true;
	while ((v = evtchn_upcalls_owed)) {
		evtchn_upcalls_owed = v->owed_next;
		atomic_fetch_add(&v->owed, 1);
		upcall_tell(v->owner, v);
		/* pairs with the acquire load in upcall_wait() */
		atomic_fetch_sub_explicit(&v->owed, 2, memory_order_release);
	}
	flushing = false;
}

/* Destroy: no callback for @d's vCPUs is owed or being made.  Called
 * after the last grace period, when no thread can raise one any more;
 * the threads that did make theirs at the end of their read-side
 * sections, or are in a VMM callback. */
void upcall_wait(struct evtchn_domain *d)
{
	for (uint32_t i = 0; i < d->nr_vcpus; i++)
		for (unsigned spin = 0; atomic_load_explicit(
			     &d->vcpu[i].owed, memory_order_acquire);
		     spin++) {
			if (spin < 64) {
				sched_yield();
			} else {
				struct timespec ts = { .tv_nsec = 100000 };

				nanosleep(&ts, NULL);
			}
		}
}

/*
 * Xen's hvm_assert_evtchn_irq(), after upcall_pending went 0 -> 1.
 * Returns whether Xen kicks the vCPU (vcpu_kick(), which also ends a
 * SCHEDOP_poll whatever it polls): a per-vCPU vector (vlapic_set_irq()),
 * or a domain that is is_hvm_pv_evtchn_domain() (the global callback
 * vector, or a per-vCPU vector on vCPU 0).  A GSI or INTx callback kicks
 * only the vCPU its interrupt is routed to, which the VMM's interrupt
 * controller decides (it calls evtchn_vcpu_kick()); with no callback at
 * all, nothing is kicked.  Without irq_cb the VMM's upcall_cb stands for
 * a vector.  The VMM's callback is owed, made when the caller's read-side
 * section ends (upcall_owe()).
 */
bool upcall_raise(struct evtchn_domain *d, struct evtchn_vcpu *v)
{
	uint64_t via;

	if (!d->irq_cb) {
		if (d->upcall_cb)
			upcall_owe(v);
		return true;
	}
	/* pairs with the release store in set_callback_via() */
	via = atomic_load_explicit(&d->callback_via, memory_order_acquire);
	if (atomic_load(&v->upcall_vector) || via >> 56 == VIA_VECTOR) {
		upcall_owe(v);
		return true;
	}
	if (atomic_load(&d->vcpu[0].upcall_vector))
		return true; /* is_hvm_pv_evtchn_domain(): a kick, no IRQ */
	if (v->id == 0) {
		line_lock(d);
		d->line_want = true;
		line_unlock(d);
		upcall_owe(v);
	}
	return false;
}

/* Xen's local_events_need_delivery() for an HVM vCPU whose upcall is
 * pending: an interrupt is there for it -- its own vector, the global
 * callback vector, or on vCPU 0 a GSI or INTx callback line (taken to be
 * routed to vCPU 0) -- or the VMM's upcall_cb.  The guest's IF, which Xen
 * also looks at, is the VMM's (docs/conformance.md). */
bool upcall_deliverable(struct evtchn_domain *d, struct evtchn_vcpu *v)
{
	uint64_t via;

	if (!d->irq_cb || atomic_load(&v->upcall_vector))
		return true;
	via = atomic_load_explicit(&d->callback_via, memory_order_acquire);
	return via >> 56 == VIA_VECTOR || (v->id == 0 && via_is_line(d, via));
}

int evtchn_upcall_level_update(struct evtchn_domain *d)
{
	if (!d)
		return -EINVAL;
	if (!d->irq_cb)
		return 0;
	evtchn_rcu_read_lock();
	line_lock(d);
	/* Read under the lock: an upcall that sets it now waits for us and
	 * then finds the line as we leave it. */
	d->line_want = __atomic_load_n(atomic_load(&d->vcpu[0].vcpu_info),
				       __ATOMIC_SEQ_CST) & 1;
	line_unlock(d);
	evtchn_rcu_read_unlock();
	/* Told outside the read side, by whichever thread tells last. */
	line_lock(d);
	line_commit(d);
	return 0;
}

/* Xen's hvm_set_callback_via(): the line's state moves to the new
 * callback (the old line drops, the new one rises if it was up). */
static void set_callback_via(struct evtchn_domain *d, uint64_t via)
{
	domain_lock(d);
	line_lock(d);
	/* pairs with the acquire loads in upcall_raise() */
	atomic_store_explicit(&d->callback_via, via, memory_order_release);
	line_unlock(d);
	kvm_resync(d); /* KVM injects vectors, never lines */
	domain_unlock(d);
	line_lock(d);
	line_commit(d);
}

/* HVMOP_set_param / HVMOP_get_param for HVM_PARAM_CALLBACK_IRQ. */
static long hvm_param(struct evtchn_domain *cur, uint32_t vcpu, int op,
		      uint64_t arg)
{
	struct xen_hvm_param p;
	struct evtchn_domain *d = cur;
	long rc = 0;

	if (guest_copy_from(cur, vcpu, arg, &p, sizeof(p)))
		return -XEN_EFAULT;
	if (p.index != HVM_PARAM_CALLBACK_IRQ)
		return -ENOSYS; /* the VMM's parameters */
	if (p.domid != DOMID_SELF && p.domid != cur->domid) {
		/* Xen: rcu_lock_domain_by_any_id(), then XSM_TARGET */
		lib_lock(&cur->host->xlock);
		d = host_domain_rcu(cur->host, p.domid);
		if (!d)
			rc = -XEN_ESRCH;
		else if (!cur->privileged)
			rc = -XEN_EPERM;
		else
			d->xrefs++; /* alive without xlock (destroy waits) */
		lib_unlock(&cur->host->xlock);
		if (rc)
			return rc;
	}
	/* No library lock held: set_callback_via() tells the VMM of the
	 * line. */
	if (op == HVMOP_set_param)
		set_callback_via(d, p.value);
	else
		p.value = atomic_load(&d->callback_via);
	if (d != cur)
		domain_unref(d);
	if (op == HVMOP_get_param &&
	    guest_copy_to(cur, vcpu, arg, &p, sizeof(p)))
		return -XEN_EFAULT;
	return 0;
}

/* HVMOP_set_evtchn_upcall_vector. */
static long set_upcall_vector(struct evtchn_domain *d, uint32_t vcpu,
			      uint64_t arg)
{
	struct xen_hvm_evtchn_upcall_vector op;
	struct evtchn_vcpu *v;

	if (guest_copy_from(d, vcpu, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (op.vector < 0x10)
		return -XEN_EINVAL;
	v = domain_vcpu(d, op.vcpu);
	if (!v)
		return -XEN_ENOENT;
	atomic_store(&v->upcall_vector, op.vector);
	domain_lock(d);
	kvm_vector_changed(d, vcpu, op.vcpu);
	domain_unlock(d);
	/* An upcall already pending is injected now. */
	evtchn_rcu_read_lock();
	if ((__atomic_load_n(atomic_load(&v->vcpu_info), __ATOMIC_SEQ_CST) &
	     1) &&
	    upcall_raise(d, v))
		poll_kick(v);
	evtchn_rcu_read_unlock();
	return 0;
}

long do_hvm_op(struct evtchn_domain *d, uint32_t vcpu, uint64_t op,
	       uint64_t arg)
{
	switch (op) {
	case HVMOP_set_param:
	case HVMOP_get_param:
		return hvm_param(d, vcpu, (int)op, arg);
	case HVMOP_set_evtchn_upcall_vector:
		return set_upcall_vector(d, vcpu, arg);
	default:
		return -ENOSYS;
	}
}
