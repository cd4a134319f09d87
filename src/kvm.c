/* SPDX-License-Identifier: MIT */
/*
 * The KVM back end: a derived copy of the port table in KVM's own Xen
 * support, so that a guest's IPIs and loopback sends never leave the
 * kernel (include/evtchn/kvm.h).
 *
 * The library stays the source of truth.  Every change of a port's
 * binding or notify vCPU reaches kvm_port_changed() (watch.c), under the
 * domain lock, and the entry KVM has for that port is brought in line:
 * assigned, updated or deassigned.  A port being closed is deassigned
 * while it is unpublished, before its number can be bound again: KVM's
 * DEASSIGN waits for its own senders (SRCU), so no in-kernel send reaches
 * a later binding.
 *
 * What is offloaded now (2-level ABI only, KVM 6.12):
 *   - IPIs: KVM_XEN_ATTR_TYPE_EVTCHN { ipi, deliver to itself on the APIC
 *     of its notify vCPU };
 *   - loopback interdomain pairs (both ends in this domain): one entry per
 *     end, delivering to the other end on the APIC of its notify vCPU;
 *   - shared_info by HVA (the library's page), each vCPU's vcpu_info
 *     (its slot in shared_info), the Xen vCPU ids, the long mode;
 *   - the per-vCPU upcall vectors (vCPU attribute, set on that vCPU's own
 *     thread: evtchn_kvm_vcpu_sync()) and the global callback vector.
 * A port's entry exists only while KVM can deliver as Xen would: the
 * domain on 2-level, the callback a vector (per-vCPU or global), the
 * target vCPU's vcpu_info and vector known to KVM, no sending route on
 * the port.  Otherwise sends exit to the VMM and the library delivers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "evtchn/kvm.h"
#include "evtchn/route.h"
#include "internal.h"
#include "rcu.h"

#define MAX_2L_PORTS 4096u
#define VIA_VECTOR 2
#define MAX_GSIS 4096u /* KVM's routing table (KVM_MAX_IRQ_ROUTES) */

/* Linux 6.9 uapi (include/uapi/linux/kvm.h): shared_info and vcpu_info by
 * host address.  Older headers lack the names; the values are fixed. */
#ifndef KVM_XEN_ATTR_TYPE_SHARED_INFO_HVA
#define KVM_XEN_ATTR_TYPE_SHARED_INFO_HVA 0x6
#endif
#ifndef KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO_HVA
#define KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO_HVA 0x9
#endif

/* What KVM holds for a sending port: nothing, a port to deliver to on
 * an APIC, or an eventfd to signal. */
struct kvm_entry {
	uint32_t deliver;  /* deliver port + 1; 0: none */
	uint32_t apic;
	int efd;           /* eventfd + 1 (a PORT_TO_FD route's); 0: none */
};

/* An irqfd KVM reads: a route's eventfd (the library's duplicate) raising
 * a port through GSI gsi_base + its index. */
struct irqfd_slot {
	int fd;            /* -1: free */
	uint32_t port, apic;
};

static bool entry_on(const struct kvm_entry *e)
{
	return e->deliver || e->efd;
}

struct evtchn_kvm {
	int vm_fd;
	unsigned offload;
	uint32_t nr_vcpus;
	int *vcpu_fd;
	uint32_t *apic;
	/* per vCPU: the upcall vector KVM has, the one it should have, and
	 * whether KVM knows its vcpu_info (under the domain lock; applied on
	 * the vCPU's own thread) */
	uint8_t *kvm_vector, *want_vector;
	bool *vi_known;
	/* per vCPU: the vcpu_info KVM should use (its slot in shared_info,
	 * or the page the guest registered); vi_known says KVM has it */
	unsigned char **want_vi;
	/* per vCPU: the VIRQ_TIMER port KVM's timer fires on (0: the
	 * library's timers), and the one it should */
	uint32_t *kvm_timer, *want_timer;
	/* ports KVM's timer may still fire on although they closed: not
	 * handed out until the vCPU's thread took the timer back */
	uint8_t held[MAX_2L_PORTS];
	_Atomic bool *sync;        /* a vCPU attribute waits for its thread */
	/* per vCPU, for senders: its APIC ID + 1 while KVM delivers to it
	 * as the library would (kvm_delivers_to()), else 0 */
	_Atomic uint32_t *send_apic;
	/* irqfds: GSIs gsi_base .. + nr_gsis for FD_TO_PORT and FD_TO_PIRQ
	 * routes, in a routing table after the VMM's own entries */
	uint32_t gsi_base, nr_gsis;
	struct kvm_irq_routing_entry *base;
	uint32_t nr_base;
	struct irqfd_slot *irqfd;  /* [nr_gsis] */
	uint8_t global_vector;     /* what KVM has */
	bool long_mode;            /* what KVM has */
	struct kvm_entry entry[MAX_2L_PORTS];
};

static int hvm_set(struct evtchn_kvm *k, struct kvm_xen_hvm_attr *a)
{
	return ioctl(k->vm_fd, KVM_XEN_HVM_SET_ATTR, a) ? -errno : 0;
}

static int vcpu_set(struct evtchn_kvm *k, uint32_t v,
		    struct kvm_xen_vcpu_attr *a)
{
	return ioctl(k->vcpu_fd[v], KVM_XEN_VCPU_SET_ATTR, a) ? -errno : 0;
}

/* KVM can deliver to @vcpu as the library would (lock held): 2-level, it
 * knows the vCPU's vcpu_info, and it injects what the library would --
 * the vCPU's own vector or the global one; never a GSI or INTx line. */
static bool kvm_delivers_to(struct evtchn_domain *d, uint32_t vcpu)
{
	struct evtchn_kvm *k = d->kvm;
	uint64_t via;

	if (domain_abi(d) != &evtchn_abi_2l || vcpu >= k->nr_vcpus ||
	    !k->vi_known[vcpu])
		return false;
	via = atomic_load(&d->callback_via);
	return (k->kvm_vector[vcpu] &&
		k->kvm_vector[vcpu] ==
			atomic_load(&d->vcpu[vcpu].upcall_vector)) ||
	       (via >> 56 == VIA_VECTOR && (uint8_t)via == k->global_vector &&
		!atomic_load(&d->vcpu[vcpu].upcall_vector));
}

/* An interdomain port whose other end a backend handle owns: KVM
 * signals the handle's eventfd for that port (lock held). */
static bool backend_entry(struct evtchn_domain *d, uint64_t b,
			  struct kvm_entry *e)
{
	struct evtchn_domain *rd;
	int fd = -1;

	if (!(d->kvm->offload & EVTCHN_KVM_BACKEND))
		return false;
	/* The peer lives while the channel does (its close unbinds this
	 * end under both locks); RCU for the lookup. */
	evtchn_rcu_read_lock();
	rd = host_domain_rcu(d->host, bind_dom(b));
	if (rd)
		fd = backend_kernel_fd(rd, bind_port(b));
	evtchn_rcu_read_unlock();
	if (fd < 0)
		return false;
	e->efd = fd + 1;
	return true;
}

/* The delivery KVM should make for a send on @port now (lock held):
 * false when none (the send exits to the VMM).  A sending route replaces
 * Xen's delivery on an IPI or interdomain port, as route_send() does. */
static bool entry_wanted(struct evtchn_domain *d, uint32_t port,
			 struct kvm_entry *e)
{
	struct evtchn_kvm *k = d->kvm;
	const struct evtchn_route *r;
	uint64_t b;
	uint32_t target, vcpu;

	if (port >= MAX_2L_PORTS || !port_is_valid(d, port))
		return false;
	b = port_bind(port_get(d, port));
	if ((b & BIND_ZOMBIE) ||
	    (bind_state(b) != ECS_IPI && bind_state(b) != ECS_INTERDOMAIN))
		return false;
	r = route_send_entry(d, port);
	if (r && r->kind == EVTCHN_ROUTE_PORT_TO_FD) {
		if (!(k->offload & EVTCHN_KVM_ROUTES))
			return false;
		e->efd = r->fd + 1;
		return true;
	}
	if (!r && bind_state(b) == ECS_INTERDOMAIN && bind_dom(b) != d->domid)
		return backend_entry(d, b, e);
	if (r) /* PORT_TO_PORT */
		target = (k->offload & EVTCHN_KVM_ROUTES) ? r->target_port : 0;
	else if (bind_state(b) == ECS_IPI && (k->offload & EVTCHN_KVM_IPI))
		target = port;
	else if (bind_state(b) == ECS_INTERDOMAIN && bind_dom(b) == d->domid &&
		 (k->offload & EVTCHN_KVM_LOOPBACK))
		target = bind_port(b);
	else
		return false;
	/* KVM delivers to whatever the entry names: only to a usable port
	 * (route_send() and send_rcu() check it on every send) */
	if (!target || target >= MAX_2L_PORTS || !port_is_valid(d, target) ||
	    !bind_usable(port_bind(port_get(d, target))))
		return false;
	vcpu = atomic_load(&port_get(d, target)->notify_vcpu);
	if (!kvm_delivers_to(d, vcpu))
		return false;
	e->deliver = target + 1;
	e->apic = k->apic[vcpu];
	return true;
}

/* Bring KVM's entry for @port in line (lock held). */
static void entry_sync(struct evtchn_domain *d, uint32_t port)
{
	struct evtchn_kvm *k = d->kvm;
	struct kvm_entry want = { 0 }, *have;
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_EVTCHN };
	uint64_t b;

	if (port == 0 || port >= MAX_2L_PORTS)
		return;
	have = &k->entry[port];
	if (!entry_wanted(d, port, &want))
		memset(&want, 0, sizeof(want));
	if (!memcmp(&want, have, sizeof(want)))
		return;
	a.u.evtchn.send_port = port;
	if (have->deliver && want.deliver == have->deliver) {
		/* Only the target vCPU moved. */
		a.u.evtchn.flags = KVM_XEN_EVTCHN_UPDATE;
	} else if (entry_on(have)) {
		a.u.evtchn.flags = KVM_XEN_EVTCHN_DEASSIGN;
		(void)hvm_set(k, &a);
		memset(have, 0, sizeof(*have));
		if (!entry_on(&want))
			return;
		a.u.evtchn.flags = 0;
	}
	b = port_bind(port_get(d, port));
	/* KVM wants an IPI entry to deliver to itself; anything else
	 * (a route, a loopback end) is an interdomain entry */
	a.u.evtchn.type = bind_state(b) == ECS_IPI && want.deliver == port + 1
				  ? EVTCHNSTAT_ipi
				  : EVTCHNSTAT_interdomain;
	if (want.efd) {
		a.u.evtchn.deliver.eventfd.port = 0;
		a.u.evtchn.deliver.eventfd.fd = want.efd - 1;
	} else {
		a.u.evtchn.deliver.port.port = want.deliver - 1;
		a.u.evtchn.deliver.port.vcpu = want.apic;
		a.u.evtchn.deliver.port.priority =
			KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
	}
	if (hvm_set(k, &a) == 0)
		*have = want;
}

/* The port KVM's timer of @v should fire on (lock held): its VIRQ_TIMER
 * port, when KVM can deliver to @v; 0: the library's timers. */
static uint32_t timer_wanted(struct evtchn_domain *d, uint32_t v)
{
	uint32_t port = atomic_load(&d->vcpu[v].virq_to_evtchn[VIRQ_TIMER]);
	uint64_t b;

	if (!(d->kvm->offload & EVTCHN_KVM_TIMER) || !port ||
	    port >= MAX_2L_PORTS || !port_is_valid(d, port) ||
	    !kvm_delivers_to(d, v))
		return 0;
	b = port_bind(port_get(d, port));
	return bind_usable(b) && bind_state(b) == ECS_VIRQ &&
			       bind_virq(b) == VIRQ_TIMER
		       ? port
		       : 0;
}

/* The timers that should move, for their vCPUs' threads (lock held).  A
 * port KVM's timer still names after it closed is held: not handed out
 * again before the vCPU's thread took the timer back. */
static void timers_sync(struct evtchn_domain *d)
{
	struct evtchn_kvm *k = d->kvm;

	for (uint32_t v = 0; v < k->nr_vcpus; v++) {
		uint32_t want = timer_wanted(d, v);

		if (want == k->want_timer[v])
			continue;
		k->want_timer[v] = want;
		if (k->kvm_timer[v] && k->kvm_timer[v] != want)
			k->held[k->kvm_timer[v]] = 1;
		atomic_store(&k->sync[v], true);
	}
}

void kvm_timer_read(struct evtchn_domain *d, uint32_t vcpu,
		    uint64_t *deadline)
{
	struct evtchn_kvm *k = d->kvm;
	struct kvm_xen_vcpu_attr a = { .type = KVM_XEN_VCPU_ATTR_TYPE_TIMER };

	if (!k || vcpu >= k->nr_vcpus || !k->kvm_timer[vcpu])
		return;
	/* KVM re-arms the timer at the same deadline after the read */
	if (ioctl(k->vcpu_fd[vcpu], KVM_XEN_VCPU_GET_ATTR, &a) == 0)
		*deadline = a.u.timer.expires_ns;
}

bool kvm_timer_write(struct evtchn_domain *d, uint32_t vcpu,
		     uint64_t deadline)
{
	struct evtchn_kvm *k = d->kvm;
	struct kvm_xen_vcpu_attr a = { .type = KVM_XEN_VCPU_ATTR_TYPE_TIMER };

	if (!k || vcpu >= k->nr_vcpus || !k->kvm_timer[vcpu])
		return false;
	a.u.timer.port = k->kvm_timer[vcpu];
	a.u.timer.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
	a.u.timer.expires_ns = deadline;
	return vcpu_set(k, vcpu, &a) == 0;
}

bool kvm_port_held(struct evtchn_domain *d, uint32_t port)
{
	return d->kvm && port < MAX_2L_PORTS && d->kvm->held[port];
}

/* Move @v's singleshot timer between the library and KVM, on @v's own
 * thread (lock held). */
static void timer_apply(struct evtchn_domain *d, uint32_t v)
{
	struct evtchn_kvm *k = d->kvm;
	struct kvm_xen_vcpu_attr a = { .type = KVM_XEN_VCPU_ATTR_TYPE_TIMER };
	uint64_t deadline = 0;

	if (k->kvm_timer[v] == k->want_timer[v])
		return;
	if (k->kvm_timer[v]) {
		/* KVM's deadline (0: fired or none), then its timer off */
		if (ioctl(k->vcpu_fd[v], KVM_XEN_VCPU_GET_ATTR, &a) == 0)
			deadline = a.u.timer.expires_ns;
		memset(&a.u, 0, sizeof(a.u));
		if (vcpu_set(k, v, &a))
			return; /* KVM keeps it; the port stays held */
		k->held[k->kvm_timer[v]] = 0;
		k->kvm_timer[v] = 0;
	} else {
		deadline = timer_take_singleshot(d, v);
	}
	if (k->want_timer[v]) {
		a.u.timer.port = k->want_timer[v];
		a.u.timer.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
		a.u.timer.expires_ns = deadline;
		if (vcpu_set(k, v, &a) == 0) {
			k->kvm_timer[v] = k->want_timer[v];
			return;
		}
	}
	if (deadline)
		timer_give_singleshot(d, v, deadline);
}

bool kvm_deliver(struct evtchn_domain *d, uint32_t vcpu, uint32_t port)
{
	struct evtchn_kvm *k =
		atomic_load_explicit(&d->kvm_send, memory_order_acquire);
	struct kvm_irq_routing_xen_evtchn e = {
		.port = port,
		.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL,
	};
	uint32_t apic;

	if (!k || port == 0 || port >= MAX_2L_PORTS || vcpu >= k->nr_vcpus)
		return false;
	apic = atomic_load_explicit(&k->send_apic[vcpu], memory_order_relaxed);
	if (!apic)
		return false;
	e.vcpu = apic - 1;
	/* 0 also when the port is masked or pending already */
	return ioctl(k->vm_fd, KVM_XEN_HVM_EVTCHN_SEND, &e) == 0;
}

/* The port @r raises when its eventfd is signalled, if KVM can raise it
 * as the library would (lock held): FD_TO_PORT its port on its vCPU, an
 * FD_TO_PIRQ the PIRQ's port when an MSI goes straight to it (one that
 * would map the PIRQ first stays the library's). */
static bool irqfd_wanted(struct evtchn_domain *d, const struct evtchn_route *r,
			 struct irqfd_slot *want)
{
	uint32_t port, vcpu;
	uint64_t b;

	if (r->kind == EVTCHN_ROUTE_FD_TO_PORT) {
		port = r->port;
		vcpu = r->vcpu;
	} else if (pirq_msi_direct(d, r->pirq)) {
		port = atomic_load(&d->pirq[r->pirq].port);
		if (!port || !port_is_valid(d, port))
			return false;
		b = port_bind(port_get(d, port));
		if (bind_state(b) != ECS_PIRQ || bind_port(b) != r->pirq)
			return false;
		vcpu = atomic_load(&port_get(d, port)->notify_vcpu);
	} else {
		return false;
	}
	if (!port || port >= MAX_2L_PORTS || !port_is_valid(d, port) ||
	    !bind_usable(port_bind(port_get(d, port))) ||
	    !kvm_delivers_to(d, vcpu))
		return false;
	want->fd = r->fd;
	want->port = port;
	want->apic = d->kvm->apic[vcpu];
	return true;
}

/* KVM's GSI routing: the VMM's entries, then one per irqfd in use. */
static int irqfd_routing(struct evtchn_kvm *k)
{
	struct kvm_irq_routing *t;
	uint32_t n = k->nr_base;
	int rc;

	t = calloc(1, sizeof(*t) + (k->nr_base + k->nr_gsis) *
					   sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	if (k->nr_base)
		memcpy(t->entries, k->base, k->nr_base * sizeof(t->entries[0]));
	for (uint32_t i = 0; i < k->nr_gsis; i++) {
		struct kvm_irq_routing_entry *e = &t->entries[n];

		if (k->irqfd[i].fd < 0)
			continue;
		e->gsi = k->gsi_base + i;
		e->type = KVM_IRQ_ROUTING_XEN_EVTCHN;
		e->u.xen_evtchn.port = k->irqfd[i].port;
		e->u.xen_evtchn.vcpu = k->irqfd[i].apic;
		e->u.xen_evtchn.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
		n++;
	}
	t->nr = n;
	rc = ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, t) ? -errno : 0;
	free(t);
	return rc;
}

static void irqfd_detach(struct evtchn_domain *d, struct irqfd_slot *s,
			 uint32_t i)
{
	struct evtchn_kvm *k = d->kvm;
	struct kvm_irqfd f = { .fd = (uint32_t)s->fd, .gsi = k->gsi_base + i,
			       .flags = KVM_IRQFD_FLAG_DEASSIGN };

	const struct evtchn_route *irq;
	unsigned n = route_irqs(d, &irq);

	(void)ioctl(k->vm_fd, KVM_IRQFD, &f);
	/* the library reads it again (what KVM left in it, too), if it is
	 * still in the table: a replaced table's descriptors are closed
	 * after a grace period and must not be watched again */
	for (unsigned i = 0; i < n; i++)
		if (irq[i].fd == s->fd)
			route_irq_watch(d, s->fd, true);
	s->fd = -1;
}

/* Bring KVM's irqfds in line with the route table (lock held).  An
 * eventfd moves between the library's epoll set and KVM with nothing
 * lost or doubled: whoever reads the count takes those signals. */
static void irqfd_sync(struct evtchn_domain *d)
{
	struct evtchn_kvm *k = d->kvm;
	const struct evtchn_route *irq;
	unsigned nirq = route_irqs(d, &irq);
	struct irqfd_slot want[64];
	bool keep[64] = { false }, routing = false;
	unsigned nwant = 0;

	if (!k->nr_gsis || !(k->offload & EVTCHN_KVM_IRQFD))
		return;
	for (unsigned i = 0; i < nirq && nwant < 64 && nwant < k->nr_gsis; i++)
		if (irqfd_wanted(d, &irq[i], &want[nwant]))
			nwant++;
	/* slots no longer wanted go; a kept one may change its target */
	for (uint32_t i = 0; i < k->nr_gsis; i++) {
		struct irqfd_slot *s = &k->irqfd[i];
		unsigned w;

		if (s->fd < 0)
			continue;
		for (w = 0; w < nwant && want[w].fd != s->fd; w++)
			;
		if (w == nwant) {
			irqfd_detach(d, s, i);
			routing = true;
			continue;
		}
		keep[w] = true;
		if (s->port != want[w].port || s->apic != want[w].apic) {
			s->port = want[w].port;
			s->apic = want[w].apic;
			routing = true;
		}
	}
	for (unsigned w = 0; w < nwant; w++) {
		if (keep[w])
			continue;
		for (uint32_t i = 0; i < k->nr_gsis; i++) {
			if (k->irqfd[i].fd >= 0)
				continue;
			k->irqfd[i] = want[w];
			routing = true;
			break;
		}
	}
	if (!routing)
		return;
	/* the routes first, then the irqfds that use them */
	if (irqfd_routing(k)) {
		for (uint32_t i = 0; i < k->nr_gsis; i++)
			if (k->irqfd[i].fd >= 0)
				irqfd_detach(d, &k->irqfd[i], i);
		(void)irqfd_routing(k);
		return;
	}
	for (unsigned w = 0; w < nwant; w++) {
		if (keep[w])
			continue;
		for (uint32_t i = 0; i < k->nr_gsis; i++) {
			struct kvm_irqfd f = { .fd = (uint32_t)want[w].fd,
					       .gsi = k->gsi_base + i };

			if (k->irqfd[i].fd != want[w].fd)
				continue;
			route_irq_watch(d, want[w].fd, false);
			if (ioctl(k->vm_fd, KVM_IRQFD, &f)) {
				route_irq_watch(d, want[w].fd, true);
				k->irqfd[i].fd = -1;
			}
			break;
		}
	}
}

bool kvm_irqfd_holds(struct evtchn_domain *d, int fd)
{
	struct evtchn_kvm *k = d->kvm;

	for (uint32_t i = 0; k && i < k->nr_gsis; i++)
		if (k->irqfd[i].fd == fd)
			return true;
	return false;
}

void kvm_pirq_changed(struct evtchn_domain *d)
{
	if (d->kvm)
		irqfd_sync(d);
}

/* A port changed (lock held): its entry, and the entries that deliver to
 * it (its state and notify vCPU are their target's): the other end of a
 * loopback pair, the ports whose PORT_TO_PORT route names it. */
void kvm_port_changed(struct evtchn_domain *d, uint32_t port)
{
	uint64_t b;

	if (!d->kvm)
		return;
	entry_sync(d, port);
	timers_sync(d);
	if (port_is_valid(d, port)) {
		b = port_bind(port_get(d, port));
		if (bind_state(b) == ECS_INTERDOMAIN && bind_dom(b) == d->domid)
			entry_sync(d, bind_port(b));
	}
	route_targets(d, port, entry_sync);
	irqfd_sync(d);
}

/* Everything again (lock held): the ABI, the callback, a vector or a
 * route table changed. */
void kvm_resync(struct evtchn_domain *d)
{
	struct evtchn_kvm *k = d->kvm;
	uint64_t via;
	uint8_t global;

	if (!k)
		return;
	if (k->long_mode != (domain_layout(d) == EVTCHN_LAYOUT_64)) {
		struct kvm_xen_hvm_attr lm = { .type = KVM_XEN_ATTR_TYPE_LONG_MODE,
					       .u.long_mode = !k->long_mode };

		if (hvm_set(k, &lm) == 0)
			k->long_mode = !k->long_mode;
	}
	via = atomic_load(&d->callback_via);
	global = via >> 56 == VIA_VECTOR ? (uint8_t)via : 0;
	if (global != k->global_vector) {
		struct kvm_xen_hvm_attr a = { .type =
						      KVM_XEN_ATTR_TYPE_UPCALL_VECTOR,
					      .u.vector = global };

		if (hvm_set(k, &a) == 0)
			k->global_vector = global;
	}
	for (uint32_t v = 0; v < k->nr_vcpus; v++) {
		uint8_t want = atomic_load(&d->vcpu[v].upcall_vector);

		atomic_store(&k->send_apic[v],
			     kvm_delivers_to(d, v) ? k->apic[v] + 1 : 0);
		if (want != k->kvm_vector[v]) {
			k->want_vector[v] = want;
			atomic_store(&k->sync[v], true);
		}
	}
	for (uint32_t p = 1; p < MAX_2L_PORTS; p++)
		entry_sync(d, p);
	timers_sync(d);
	irqfd_sync(d);
}

/* @v's upcall vector into KVM, on @v's own thread (or before the vCPUs
 * run).  Lock held. */
static void vector_set(struct evtchn_kvm *k, uint32_t v)
{
	struct kvm_xen_vcpu_attr a = {
		.type = KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR,
		.u.vector = k->want_vector[v],
	};

	if (vcpu_set(k, v, &a) == 0)
		k->kvm_vector[v] = k->want_vector[v];
}

/* @v's vcpu_info into KVM, on @v's own thread (or before the vCPUs run).
 * Lock held. */
static int vcpu_info_set(struct evtchn_kvm *k, uint32_t v)
{
	struct kvm_xen_vcpu_attr a = { .type =
					       KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO_HVA };
	int rc;

	if (k->vi_known[v] || !k->want_vi[v])
		return 0;
	/* u.hva shares gpa's place (6.9 uapi) */
	a.u.gpa = (uintptr_t)k->want_vi[v];
	rc = vcpu_set(k, v, &a);
	k->vi_known[v] = rc == 0;
	return rc;
}

/* The vCPU attributes that wait for @v's own thread (lock held). */
static void vcpu_apply(struct evtchn_domain *d, uint32_t v)
{
	vector_set(d->kvm, v);
	(void)vcpu_info_set(d->kvm, v);
	kvm_resync(d);
	timer_apply(d, v);
}

void kvm_vector_changed(struct evtchn_domain *d, uint32_t caller,
			uint32_t vcpu)
{
	struct evtchn_kvm *k = d->kvm;

	if (!k || vcpu >= k->nr_vcpus)
		return;
	k->want_vector[vcpu] = atomic_load(&d->vcpu[vcpu].upcall_vector);
	if (caller == vcpu)
		vcpu_apply(d, vcpu); /* on that vCPU's own thread */
	else
		atomic_store(&k->sync[vcpu], true);
}

int evtchn_kvm_vcpu_sync(struct evtchn_domain *d, uint32_t vcpu)
{
	struct evtchn_kvm *k;

	if (!d || vcpu >= d->nr_vcpus)
		return -EINVAL;
	k = d->kvm;
	if (!k || !atomic_load_explicit(&k->sync[vcpu], memory_order_acquire))
		return 0;
	domain_lock(d);
	atomic_store(&k->sync[vcpu], false);
	vcpu_apply(d, vcpu);
	domain_unlock(d);
	return 0;
}

int evtchn_kvm_vcpu_sync_pending(struct evtchn_domain *d, uint32_t vcpu)
{
	struct evtchn_kvm *k;

	if (!d || vcpu >= d->nr_vcpus)
		return -EINVAL;
	k = d->kvm;
	return k && atomic_load_explicit(&k->sync[vcpu], memory_order_acquire);
}

void kvm_vcpu_info_changed(struct evtchn_domain *d, uint32_t caller,
			   uint32_t vcpu, unsigned char *vi)
{
	struct evtchn_kvm *k = d->kvm;

	/* KVM still writes the old place: nothing KVM delivers targets the
	 * vCPU until it has the new one, which is set on the vCPU's own
	 * thread (a guest registers a secondary vCPU's from vCPU 0). */
	if (!k || vcpu >= k->nr_vcpus)
		return;
	k->vi_known[vcpu] = false;
	k->want_vi[vcpu] = vi;
	kvm_resync(d);
	if (caller == vcpu)
		vcpu_apply(d, vcpu);
	else
		atomic_store(&k->sync[vcpu], true);
}

static void kvm_free(struct evtchn_kvm *k)
{
	if (!k)
		return;
	free(k->vcpu_fd);
	free(k->apic);
	free(k->kvm_vector);
	free(k->want_vector);
	free(k->vi_known);
	free(k->want_vi);
	free(k->kvm_timer);
	free(k->want_timer);
	free((void *)k->sync);
	free((void *)k->send_apic);
	free(k->base);
	free(k->irqfd);
	free(k);
}

/* Shared_info, the long mode, and each vCPU's id and vcpu_info: before
 * the vCPUs run (their attributes are set from this thread). */
static int kvm_setup(struct evtchn_domain *d, struct evtchn_kvm *k)
{
	struct kvm_xen_hvm_attr lm = { .type = KVM_XEN_ATTR_TYPE_LONG_MODE };
	struct kvm_xen_hvm_attr si = { .type = KVM_XEN_ATTR_TYPE_SHARED_INFO_HVA };
	int rc;

	lm.u.long_mode = domain_layout(d) == EVTCHN_LAYOUT_64;
	/* u.shared_info.hva shares gfn's place (6.9 uapi) */
	si.u.shared_info.gfn = (uintptr_t)d->shared_info;
	rc = hvm_set(k, &lm);
	k->long_mode = lm.u.long_mode;
	if (!rc)
		rc = hvm_set(k, &si);
	for (uint32_t v = 0; !rc && v < k->nr_vcpus; v++) {
		struct kvm_xen_vcpu_attr id = { .type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID,
						.u.vcpu_id = v };

		rc = vcpu_set(k, v, &id);
		/* the vcpu_info the guest registered, else its slot in
		 * shared_info; vCPUs from 32 have none until they register
		 * one: not offloaded (vi_known false) */
		if (d->vcpu[v].registered)
			k->want_vi[v] = atomic_load(&d->vcpu[v].vcpu_info);
		else if (v < XEN_LEGACY_MAX_VCPUS_X86_64)
			k->want_vi[v] = d->shared_info + v * 64;
		if (!rc)
			rc = vcpu_info_set(k, v);
	}
	return rc;
}

int evtchn_domain_attach_kvm(struct evtchn_domain *d,
			     const struct evtchn_kvm_config *cfg)
{
	struct evtchn_kvm *k;
	int caps, rc;

	if (!d || !cfg || cfg->nr_vcpus != d->nr_vcpus || !cfg->vcpu_fds ||
	    (cfg->offload & ~EVTCHN_KVM_ALL) ||
	    (cfg->nr_base_routes && !cfg->base_routes) ||
	    cfg->nr_gsis > EVTCHN_KVM_MAX_IRQFDS ||
	    (uint64_t)cfg->gsi_base + cfg->nr_gsis > MAX_GSIS)
		return -EINVAL;
	caps = ioctl(cfg->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XEN_HVM);
	if (caps < 0)
		return -errno;
	if ((caps & EVTCHN_KVM_CAPS_NEEDED) != EVTCHN_KVM_CAPS_NEEDED)
		return -ENOTSUP;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->vm_fd = cfg->vm_fd;
	k->offload = cfg->offload;
	k->nr_vcpus = cfg->nr_vcpus;
	k->vcpu_fd = calloc(k->nr_vcpus, sizeof(*k->vcpu_fd));
	k->apic = calloc(k->nr_vcpus, sizeof(*k->apic));
	k->kvm_vector = calloc(k->nr_vcpus, 1);
	k->want_vector = calloc(k->nr_vcpus, 1);
	k->vi_known = calloc(k->nr_vcpus, sizeof(*k->vi_known));
	k->want_vi = calloc(k->nr_vcpus, sizeof(*k->want_vi));
	k->sync = calloc(k->nr_vcpus, sizeof(*k->sync));
	k->send_apic = calloc(k->nr_vcpus, sizeof(*k->send_apic));
	k->kvm_timer = calloc(k->nr_vcpus, sizeof(*k->kvm_timer));
	k->want_timer = calloc(k->nr_vcpus, sizeof(*k->want_timer));
	if (!k->vcpu_fd || !k->apic || !k->kvm_vector || !k->want_vector ||
	    !k->vi_known || !k->want_vi || !k->sync || !k->send_apic || !k->kvm_timer || !k->want_timer) {
		kvm_free(k);
		return -ENOMEM;
	}
	for (uint32_t v = 0; v < k->nr_vcpus; v++) {
		k->vcpu_fd[v] = cfg->vcpu_fds[v];
		k->apic[v] = cfg->apic_ids ? cfg->apic_ids[v] : v;
	}
	k->gsi_base = cfg->gsi_base;
	k->nr_gsis = cfg->nr_gsis;
	k->nr_base = cfg->nr_base_routes;
	k->irqfd = calloc(k->nr_gsis ? k->nr_gsis : 1, sizeof(*k->irqfd));
	k->base = calloc(k->nr_base ? k->nr_base : 1, sizeof(*k->base));
	if (!k->irqfd || !k->base) {
		kvm_free(k);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < k->nr_gsis; i++)
		k->irqfd[i].fd = -1;
	if (k->nr_base)
		memcpy(k->base, cfg->base_routes, k->nr_base * sizeof(*k->base));
	domain_lock(d);
	rc = d->kvm ? -EBUSY : kvm_setup(d, k);
	if (rc) {
		domain_unlock(d);
		kvm_free(k);
		return rc;
	}
	d->kvm = k;
	/* vectors the guest set already: from this thread, before the
	 * vCPUs run */
	for (uint32_t v = 0; v < k->nr_vcpus; v++) {
		k->want_vector[v] = atomic_load(&d->vcpu[v].upcall_vector);
		if (k->want_vector[v])
			vector_set(k, v);
	}
	kvm_resync(d);
	/* the timers too, from this thread while no vCPU runs */
	for (uint32_t v = 0; v < k->nr_vcpus; v++) {
		atomic_store(&k->sync[v], false);
		timer_apply(d, v);
	}
	atomic_store_explicit(&d->kvm_send, k, memory_order_release);
	domain_unlock(d);
	return 0;
}

int evtchn_kvm_stats(struct evtchn_domain *d, struct evtchn_kvm_stats *st)
{
	struct evtchn_kvm *k;

	if (!d || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	domain_lock(d);
	k = d->kvm;
	if (!k) {
		domain_unlock(d);
		return -ENOENT;
	}
	for (uint32_t p = 1; p < MAX_2L_PORTS; p++)
		st->entries += entry_on(&k->entry[p]);
	for (uint32_t i = 0; i < k->nr_gsis; i++)
		st->irqfds += k->irqfd[i].fd >= 0;
	for (uint32_t v = 0; v < k->nr_vcpus; v++) {
		st->timers += k->kvm_timer[v] != 0;
		st->vcpus += atomic_load(&k->send_apic[v]) != 0;
	}
	domain_unlock(d);
	return 0;
}

void kvm_destroy(struct evtchn_domain *d)
{
	if (d->kvm)
		(void)evtchn_domain_detach_kvm(d);
}

int evtchn_domain_detach_kvm(struct evtchn_domain *d)
{
	struct kvm_xen_hvm_attr a = { .type = KVM_XEN_ATTR_TYPE_EVTCHN,
				      .u.evtchn.flags = KVM_XEN_EVTCHN_RESET };
	struct evtchn_kvm *k;

	if (!d)
		return -EINVAL;
	domain_lock(d);
	k = d->kvm;
	if (k) {
		/* the timers back to the library (from this thread: the VMM
		 * detaches while no vCPU runs) */
		for (uint32_t v = 0; v < k->nr_vcpus; v++) {
			k->want_timer[v] = 0;
			timer_apply(d, v);
		}
		(void)hvm_set(k, &a);
		/* the irqfds back to the library, the VMM's routing alone */
		for (uint32_t i = 0; i < k->nr_gsis; i++)
			if (k->irqfd[i].fd >= 0)
				irqfd_detach(d, &k->irqfd[i], i);
		if (k->nr_gsis)
			(void)irqfd_routing(k);
	}
	d->kvm = NULL;
	atomic_store(&d->kvm_send, NULL);
	domain_unlock(d);
	/* no sender uses it any more */
	evtchn_synchronize_rcu();
	kvm_free(k);
	return k ? 0 : -ENOENT;
}
