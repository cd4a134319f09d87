/* SPDX-License-Identifier: MIT */
/*
 * PIRQs of an HVM guest, as Xen 4.17 emulates them (xen/arch/x86/physdev.c,
 * irq.c's emuirq functions, hvm/irq.c's hvm_inject_msi() and assert_gsi()):
 * the PHYSDEVOPs a guest may call, PIRQ allocation, and the two ways an
 * interrupt becomes a PIRQ event, an MSI whose data vector is 0 and a GSI
 * mapped to a PIRQ.
 *
 * There is no machine IRQ here: every PIRQ is emulated.  Each has a port
 * (EVTCHNOP_bind_pirq), an emulated-IRQ value (EMUIRQ_UNBOUND, a GSI, or
 * EMUIRQ_MSI_EMU) and Xen's PIRQ_ALLOCATED mark from get_free_pirq.  The
 * reverse map (emuirq -> pirq) holds GSIs and, as in Xen, the single key
 * IRQ_MSI_EMU: only the first PIRQ an MSI maps gets EMUIRQ_MSI_EMU; the
 * others are delivered without it.  A PIRQ "has an entry" (Xen's pirq_info()
 * finds it) while any of its state is set, as after Xen's fix of
 * pirq_cleanup_check().
 *
 * Locking: the domain lock (Xen's event_lock) for every change.  Senders
 * (MSIs of mapped PIRQs, GSI edges, EOI) read port and emuirq under RCU
 * and take no lock; an MSI that has to map its PIRQ first takes the lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rcu.h"

#include <xen/hvm/params.h>

#define NR_ISA_IRQS 16

int pirq_domain_init(struct evtchn_domain *d,
		     const struct evtchn_domain_config *cfg)
{
	d->has_pirq = !cfg->no_pirqs;
	d->nr_irqs_gsi = cfg->nr_irqs_gsi ? cfg->nr_irqs_gsi : 24;
	/* Xen: nr_static_irqs + extra_domU_irqs (32 unless set on Xen's
	 * command line) */
	d->nr_pirqs = cfg->nr_pirqs ? cfg->nr_pirqs : d->nr_irqs_gsi + 32;
	if (d->nr_irqs_gsi < NR_ISA_IRQS || d->nr_pirqs > PIRQ_MAX ||
	    d->nr_irqs_gsi > d->nr_pirqs)
		return -EINVAL;
	d->pirq = calloc(d->nr_pirqs, sizeof(*d->pirq));
	if (!d->pirq)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->nr_pirqs; i++)
		atomic_init(&d->pirq[i].emuirq, EMUIRQ_UNBOUND);
	for (uint32_t i = 0; i < PIRQ_NR_HVM_GSIS; i++)
		atomic_init(&d->gsi_pirq[i], -1);
	atomic_init(&d->msi_emu_pirq, -1);
	return 0;
}

void pirq_domain_free(struct evtchn_domain *d)
{
	free(d->pirq);
}

static int32_t pirq_emuirq(struct evtchn_domain *d, uint32_t pirq)
{
	/* pairs with the release stores in map_emuirq()/unmap_emuirq() */
	return pirq < d->nr_pirqs
		       ? atomic_load_explicit(&d->pirq[pirq].emuirq,
					      memory_order_acquire)
		       : EMUIRQ_UNBOUND;
}

/* Xen's pirq_info() != NULL: the PIRQ has some state.  Under the lock, or
 * a sender's view of a moment. */
static bool pirq_has_entry(struct evtchn_domain *d, uint32_t pirq)
{
	struct pirq *p = &d->pirq[pirq];

	return p->entry || atomic_load(&p->port) || p->allocated ||
	       atomic_load(&p->emuirq) != EMUIRQ_UNBOUND;
}

bool pirq_msi_direct(struct evtchn_domain *d, uint32_t pirq)
{
	int32_t emuirq, key;

	domain_assert_locked(d);
	if (pirq == 0 || pirq >= d->nr_pirqs)
		return false;
	emuirq = pirq_emuirq(d, pirq);
	key = atomic_load(&d->msi_emu_pirq);
	/* the two cases of pirq_inject_msi() that send_guest_pirq() at once */
	return emuirq == EMUIRQ_MSI_EMU ||
	       (emuirq == EMUIRQ_UNBOUND && key >= 0 && key != (int32_t)pirq &&
		pirq_has_entry(d, pirq));
}

/* Xen's is_free_pirq(): no machine IRQ (nor PIRQ_ALLOCATED) and no emulated
 * one.  Being bound to a port does not count. */
static bool pirq_is_free(struct evtchn_domain *d, uint32_t pirq)
{
	return !d->pirq[pirq].allocated &&
	       atomic_load(&d->pirq[pirq].emuirq) == EMUIRQ_UNBOUND;
}

/* Xen's get_free_pirq(): GSIs from 16 up below nr_irqs_gsi, then (and for
 * every other type) from the top down to nr_irqs_gsi.  -ENOSPC. */
static int get_free_pirq(struct evtchn_domain *d, int type)
{
	if (type == MAP_PIRQ_TYPE_GSI)
		for (uint32_t i = NR_ISA_IRQS; i < d->nr_irqs_gsi; i++)
			if (pirq_is_free(d, i))
				return (int)i;
	for (uint32_t i = d->nr_pirqs; i-- > d->nr_irqs_gsi;)
		if (pirq_is_free(d, i))
			return (int)i;
	return -XEN_ENOSPC;
}

/* The reverse map's slot for @emuirq (a GSI or EMUIRQ_MSI_EMU). */
static int32_t reverse_get(struct evtchn_domain *d, int32_t emuirq)
{
	if (emuirq == EMUIRQ_MSI_EMU)
		return atomic_load(&d->msi_emu_pirq);
	return atomic_load(&d->gsi_pirq[emuirq]);
}

static void reverse_set(struct evtchn_domain *d, int32_t emuirq, int32_t pirq)
{
	/* pairs with the acquire loads in pirq_inject_msi() and
	 * evtchn_gsi_set() */
	if (emuirq == EMUIRQ_MSI_EMU)
		atomic_store_explicit(&d->msi_emu_pirq, pirq,
				      memory_order_release);
	else
		atomic_store_explicit(&d->gsi_pirq[emuirq], pirq,
				      memory_order_release);
}

/*
 * Xen's map_domain_emuirq_pirq() (lock held): -EINVAL for a PIRQ out of
 * range; a PIRQ or emuirq already mapped otherwise is left alone and the
 * answer is 0 (Xen only logs it).
 */
static int map_emuirq(struct evtchn_domain *d, int32_t pirq, int32_t emuirq)
{
	int32_t old_emuirq, old_pirq;

	domain_assert_locked(d);
	if (pirq < 0 || (uint32_t)pirq >= d->nr_pirqs ||
	    emuirq == EMUIRQ_UNBOUND)
		return -XEN_EINVAL;
	old_emuirq = atomic_load(&d->pirq[pirq].emuirq);
	old_pirq = emuirq != EMUIRQ_PT ? reverse_get(d, emuirq) : -1;
	if ((old_emuirq != EMUIRQ_UNBOUND && old_emuirq != emuirq) ||
	    (old_pirq != -1 && old_pirq != pirq))
		return 0;
	if (emuirq != EMUIRQ_PT)
		reverse_set(d, emuirq, pirq);
	/* pairs with the acquire load in pirq_emuirq() */
	atomic_store_explicit(&d->pirq[pirq].emuirq, emuirq,
			      memory_order_release);
	kvm_pirq_changed(d);
	return 0;
}

/* Xen's unmap_domain_pirq_emuirq() (lock held). */
static int unmap_emuirq(struct evtchn_domain *d, int32_t pirq)
{
	int32_t old;

	domain_assert_locked(d);
	if (pirq < 0 || (uint32_t)pirq >= d->nr_pirqs)
		return -XEN_EINVAL;
	old = atomic_load(&d->pirq[pirq].emuirq);
	if (old == EMUIRQ_UNBOUND)
		return -XEN_EINVAL;
	/* pairs with the acquire load in pirq_emuirq() */
	atomic_store_explicit(&d->pirq[pirq].emuirq, EMUIRQ_UNBOUND,
			      memory_order_release);
	d->pirq[pirq].entry = false; /* Xen's pirq_cleanup_check() */
	/* Whatever the key names now: for IRQ_MSI_EMU, possibly another
	 * PIRQ (Xen does the same). */
	if (old != EMUIRQ_PT)
		reverse_set(d, old, -1);
	kvm_pirq_changed(d);
	return 0;
}

/* Xen's send_guest_pirq(): the PIRQ's port, if bound, at its notify vCPU.
 * RCU held; no lock. */
static void send_guest_pirq(struct evtchn_domain *d, uint32_t pirq)
{
	/* pairs with the release store in pirq_set_port() */
	uint32_t port = atomic_load_explicit(&d->pirq[pirq].port,
					     memory_order_acquire);
	struct evtchn_port *p;
	uint64_t b;

	if (!port || !port_is_valid(d, port))
		return;
	p = port_get(d, port);
	b = port_bind(p);
	/* Closed meanwhile: dropped, as Xen drops it when its trylock
	 * fails. */
	if (!bind_usable(b) || bind_state(b) != ECS_PIRQ ||
	    bind_port(b) != pirq)
		return;
	deliver_port(d, atomic_load_explicit(&p->notify_vcpu,
					     memory_order_acquire), port);
}

int pirq_bind_check(struct evtchn_domain *d, uint32_t pirq)
{
	domain_assert_locked(d);
	return atomic_load(&d->pirq[pirq].port) ? -XEN_EEXIST : 0;
}

void pirq_set_port(struct evtchn_domain *d, uint32_t pirq, uint32_t port)
{
	domain_assert_locked(d);
	if (pirq >= d->nr_pirqs)
		return;
	/* pairs with the acquire load in send_guest_pirq() */
	atomic_store_explicit(&d->pirq[pirq].port, port, memory_order_release);
	if (!port)
		d->pirq[pirq].entry = false; /* Xen's pirq_cleanup_check() */
	kvm_pirq_changed(d);
}

/* Xen's is_hvm_pv_evtchn_domain() (4.17): a vector callback, or a per-vCPU
 * upcall vector on vCPU 0. */
static bool pv_evtchn_domain(struct evtchn_domain *d)
{
	return atomic_load(&d->callback_via) >> 56 ==
		       HVM_PARAM_CALLBACK_TYPE_VECTOR ||
	       atomic_load(&d->vcpu[0].upcall_vector) != 0;
}

/* physdev_hvm_map_pirq(): only GSIs, 0..47; a negative pirq asks for one. */
static int hvm_map_pirq(struct evtchn_domain *d, int type, int index,
			int *pirq)
{
	if (type != MAP_PIRQ_TYPE_GSI)
		return -XEN_EINVAL; /* "map type not supported yet" */
	if (index < 0 || index >= PIRQ_NR_HVM_GSIS)
		return -XEN_EINVAL;
	if (*pirq < 0) {
		*pirq = get_free_pirq(d, type); /* -ENOSPC fails below */
		/* Xen's get_free_pirq() creates the PIRQ's entry, which stays
		 * when the mapping is then refused as a conflict. */
		if (*pirq >= 0)
			d->pirq[*pirq].entry = true;
	}
	return map_emuirq(d, *pirq, index);
}

/* A privileged caller's map or unmap of another domain's PIRQ.  Xen would
 * map or unmap a machine IRQ; there is none, and Xen's answer for a control
 * domain without a machine IRQ to give is -EINVAL. */
static int foreign_domain(struct evtchn_domain *cur, domid_t domid,
			  struct evtchn_domain **out)
{
	struct evtchn_domain *d;

	lib_lock(&cur->host->xlock);
	d = host_domain_rcu(cur->host, domid);
	if (!d) {
		lib_unlock(&cur->host->xlock);
		return -XEN_ESRCH;
	}
	/* XSM_DM_PRIV with the dummy policy: the control domain only (a
	 * guest naming its own domid is refused too, as in 4.17). */
	if (!cur->privileged) {
		lib_unlock(&cur->host->xlock);
		return -XEN_EPERM;
	}
	*out = d;
	return 0;
}

/* PHYSDEVOP_map_pirq: the struct is copied back whatever the result; a
 * 32-bit caller's (@compat) in Xen's compat layout. */
static long op_map_pirq(struct evtchn_domain *d, uint32_t vcpu, uint64_t arg,
			bool compat)
{
	size_t size = compat ? PHYSDEV_MAP_PIRQ_SIZE_32
			     : sizeof(struct physdev_map_pirq);
	struct physdev_map_pirq m;
	unsigned char raw[sizeof(struct physdev_map_pirq)];
	struct evtchn_domain *t;
	uint64_t table_base;
	long rc;

	if (guest_copy_from(d, vcpu, arg, raw, size))
		return -XEN_EFAULT;
	memcpy(&m, raw, offsetof(struct physdev_map_pirq, table_base));
	memcpy(&table_base, raw + size - 8, 8);
	if (m.type == MAP_PIRQ_TYPE_MSI_SEG)
		m.type = MAP_PIRQ_TYPE_MSI;
	else if (m.type == MAP_PIRQ_TYPE_MULTI_MSI && table_base)
		return -XEN_EINVAL; /* before anything is copied back */

	if (m.domid == DOMID_SELF) {
		/* Only with a vector callback: Xen's HVM IRQ logic would
		 * deadlock otherwise. */
		if (!pv_evtchn_domain(d)) {
			rc = -XEN_EINVAL;
		} else {
			domain_lock(d);
			rc = hvm_map_pirq(d, m.type, m.index, &m.pirq);
			domain_unlock(d);
		}
	} else {
		rc = foreign_domain(d, m.domid, &t);
		if (rc == 0) {
			lib_unlock(&d->host->xlock);
			rc = -XEN_EINVAL;
		}
	}
	/* Back as it came, with Xen's type and pirq. */
	memcpy(raw + offsetof(struct physdev_map_pirq, type), &m.type,
	       sizeof(m.type));
	memcpy(raw + offsetof(struct physdev_map_pirq, pirq), &m.pirq,
	       sizeof(m.pirq));
	if (guest_copy_to(d, vcpu, arg, raw, size))
		rc = -XEN_EFAULT;
	return rc;
}

/* PHYSDEVOP_unmap_pirq: the emulated IRQ goes; the port stays bound. */
static long op_unmap_pirq(struct evtchn_domain *d, uint32_t vcpu, uint64_t arg)
{
	struct physdev_unmap_pirq u;
	struct evtchn_domain *t = d;
	long rc = 0;

	if (guest_copy_from(d, vcpu, arg, &u, sizeof(u)))
		return -XEN_EFAULT;
	if (u.domid != DOMID_SELF) {
		rc = foreign_domain(d, u.domid, &t);
		if (rc)
			return rc;
	}
	if (t->has_pirq) {
		domain_lock(t);
		if (u.pirq >= 0 && pirq_emuirq(t, (uint32_t)u.pirq) !=
					   EMUIRQ_UNBOUND)
			rc = unmap_emuirq(t, u.pirq);
		domain_unlock(t);
	}
	if (u.domid != DOMID_SELF) {
		/* Even naming itself by number: then the machine IRQ, which
		 * is not there. */
		lib_unlock(&d->host->xlock);
		if (rc == 0)
			rc = -XEN_EINVAL;
	}
	return rc;
}

/* PHYSDEVOP_eoi: a PCI GSI whose line is still high raises its PIRQ
 * again (level-triggered INTx). */
static long op_eoi(struct evtchn_domain *d, uint32_t vcpu, uint64_t arg)
{
	struct physdev_eoi e;
	int32_t gsi;
	long rc = 0;

	if (guest_copy_from(d, vcpu, arg, &e, sizeof(e)))
		return -XEN_EFAULT;
	if (e.irq >= d->nr_pirqs)
		return -XEN_EINVAL;
	domain_lock(d);
	if (!pirq_has_entry(d, e.irq)) {
		rc = -XEN_EINVAL;
		goto out;
	}
	gsi = pirq_emuirq(d, e.irq);
	/* ISA IRQs are edge-triggered: never again.  Sent after the lock
	 * (the VMM's callback runs under none); the read-side section,
	 * entered first, keeps the port's binding from being finished. */
	if (gsi >= NR_ISA_IRQS &&
	    (atomic_load(&d->gsi_level) >> gsi & 1)) {
		evtchn_rcu_read_lock();
		domain_unlock(d);
		send_guest_pirq(d, e.irq);
		evtchn_rcu_read_unlock();
		return rc;
	}
out:
	domain_unlock(d);
	return rc;
}

/* PHYSDEVOP_irq_status_query: every emulated PIRQ needs an EOI and none
 * is shared. */
static long op_irq_status_query(struct evtchn_domain *d, uint32_t vcpu,
				uint64_t arg)
{
	struct physdev_irq_status_query q;

	if (guest_copy_from(d, vcpu, arg, &q, sizeof(q)))
		return -XEN_EFAULT;
	if ((int32_t)q.irq < 0 || q.irq >= d->nr_pirqs)
		return -XEN_EINVAL;
	if (pirq_emuirq(d, q.irq) == EMUIRQ_UNBOUND)
		return -XEN_EINVAL;
	q.flags = XENIRQSTAT_needs_eoi;
	if (guest_copy_to(d, vcpu, arg, &q, sizeof(q)))
		return -XEN_EFAULT;
	return 0;
}

/* PHYSDEVOP_get_free_pirq: the PIRQ stays allocated for the domain's
 * life (nothing clears Xen's PIRQ_ALLOCATED for an HVM guest). */
static long op_get_free_pirq(struct evtchn_domain *d, uint32_t vcpu,
			     uint64_t arg)
{
	struct physdev_get_free_pirq g;
	int pirq;

	if (guest_copy_from(d, vcpu, arg, &g, sizeof(g)))
		return -XEN_EFAULT;
	domain_lock(d);
	pirq = get_free_pirq(d, g.type);
	if (pirq >= 0)
		d->pirq[pirq].allocated = true;
	domain_unlock(d);
	if (pirq < 0)
		return pirq;
	g.pirq = (uint32_t)pirq;
	if (guest_copy_to(d, vcpu, arg, &g, sizeof(g)))
		return -XEN_EFAULT;
	return 0;
}

/* Xen's hvm_physdev_op() filter, then do_physdev_op(). */
long do_physdev_op(struct evtchn_domain *d, uint32_t vcpu, int cmd,
		   uint64_t arg, bool compat)
{
	switch (cmd) {
	case PHYSDEVOP_map_pirq:
	case PHYSDEVOP_unmap_pirq:
	case PHYSDEVOP_eoi:
	case PHYSDEVOP_irq_status_query:
	case PHYSDEVOP_get_free_pirq:
		if (!d->has_pirq)
			return -XEN_ENOSYS;
		break;
	default:
		return -ENOSYS; /* not for an HVM guest: the VMM's business */
	}
	switch (cmd) {
	case PHYSDEVOP_map_pirq:
		return op_map_pirq(d, vcpu, arg, compat);
	case PHYSDEVOP_unmap_pirq:
		return op_unmap_pirq(d, vcpu, arg);
	case PHYSDEVOP_eoi:
		return op_eoi(d, vcpu, arg);
	case PHYSDEVOP_irq_status_query:
		return op_irq_status_query(d, vcpu, arg);
	default:
		return op_get_free_pirq(d, vcpu, arg);
	}
}

/*
 * Xen 4.17's hvm_inject_msi() for a PIRQ: 0 delivered (or dropped: no port
 * bound), -ERANGE for PIRQ 0 (and, 4.17's int, anything from 2^31),
 * -EINVAL beyond nr_pirqs or mapped to a GSI, -EBUSY when the first-use
 * mapping was refused and the PIRQ has no state at all.
 *
 * Only an MSI that would map its PIRQ (the IRQ_MSI_EMU key is free) takes
 * the domain lock; the others, and with Xen's one key that is every MSI
 * PIRQ but the first, decide from what they read: the outcome of a map
 * that changes nothing.
 */
int pirq_inject_msi(struct evtchn_domain *d, uint32_t pirq)
{
	int32_t emuirq, key;
	int rc = 0;

	if ((int32_t)pirq <= 0)
		return -XEN_ERANGE;
	if (pirq >= d->nr_pirqs)
		return -XEN_EINVAL; /* map_domain_emuirq_pirq()'s range */
	evtchn_rcu_read_lock();
	emuirq = pirq_emuirq(d, pirq);
	/* pairs with the release store in reverse_set() */
	key = atomic_load_explicit(&d->msi_emu_pirq, memory_order_acquire);
	if (emuirq == EMUIRQ_UNBOUND && key >= 0 && key != (int32_t)pirq) {
		/* Another PIRQ holds the key: the map would answer 0 and
		 * change nothing. */
		if (pirq_has_entry(d, pirq))
			send_guest_pirq(d, pirq);
		else
			rc = -XEN_EBUSY;
	} else if (emuirq == EMUIRQ_MSI_EMU) {
		send_guest_pirq(d, pirq);
	} else if (emuirq != EMUIRQ_UNBOUND) {
		rc = -XEN_EINVAL;
	} else {
		rc = 1; /* the key is free: map it, under the lock */
	}
	evtchn_rcu_read_unlock();
	if (rc != 1)
		return rc;

	domain_lock(d);
	rc = 0;
	emuirq = pirq_emuirq(d, pirq);
	if (emuirq == EMUIRQ_UNBOUND) {
		rc = map_emuirq(d, (int32_t)pirq, EMUIRQ_MSI_EMU);
		if (rc == 0 && !pirq_has_entry(d, pirq))
			rc = -XEN_EBUSY;
	} else if (emuirq != EMUIRQ_MSI_EMU) {
		rc = -XEN_EINVAL;
	}
	if (rc == 0) {
		/* after the lock, as in op_eoi() */
		evtchn_rcu_read_lock();
		domain_unlock(d);
		send_guest_pirq(d, pirq);
		evtchn_rcu_read_unlock();
		return rc;
	}
	domain_unlock(d);
	return rc;
}

int evtchn_msi_pirq(uint64_t addr, uint32_t data, uint32_t *pirq)
{
	if (data & 0xff)
		return 1; /* a vector: an ordinary MSI */
	if (pirq)
		*pirq = (uint32_t)((addr >> 32) & 0xffffff00) |
			(uint32_t)((addr & 0x000ff000) >> 12);
	return 0;
}

int evtchn_msi_inject(struct evtchn_domain *d, uint64_t addr, uint32_t data)
{
	uint32_t pirq;

	if (!d)
		return -EINVAL;
	if (evtchn_msi_pirq(addr, data, &pirq))
		return 1;
	return pirq_inject_msi(d, pirq);
}

/* Xen's assert_gsi(): a GSI mapped to a PIRQ raises the PIRQ instead of
 * the vIOAPIC, once for each rising edge of the line. */
int evtchn_gsi_set(struct evtchn_domain *d, uint32_t gsi, bool level)
{
	uint64_t bit, old;
	int32_t pirq;
	int routed = 0;

	if (!d || gsi >= PIRQ_NR_HVM_GSIS)
		return -EINVAL;
	bit = 1ull << gsi;
	old = level ? atomic_fetch_or(&d->gsi_level, bit)
		    : atomic_fetch_and(&d->gsi_level, ~bit);
	evtchn_rcu_read_lock();
	/* pairs with the release store in reverse_set() */
	pirq = atomic_load_explicit(&d->gsi_pirq[gsi], memory_order_acquire);
	if (pirq >= 0 && pirq_emuirq(d, (uint32_t)pirq) == (int32_t)gsi) {
		routed = 1;
		if (level && !(old & bit))
			send_guest_pirq(d, (uint32_t)pirq);
	}
	evtchn_rcu_read_unlock();
	return routed;
}

const char *pirq_describe(struct evtchn_domain *d, uint32_t pirq, char *buf,
			  size_t size)
{
	int32_t e = pirq_emuirq(d, pirq);

	if (e >= 0)
		snprintf(buf, size, " gsi %d", e);
	else if (e == EMUIRQ_MSI_EMU)
		snprintf(buf, size, " msi");
	else
		buf[0] = 0;
	return buf;
}
