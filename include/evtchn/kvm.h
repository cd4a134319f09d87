/* SPDX-License-Identifier: MIT */
/*
 * The KVM back end: a VMM whose guest runs on KVM (Linux with
 * CONFIG_KVM_XEN) attaches a domain to its VM, and the library keeps a
 * copy of what KVM can do itself in the kernel, so that the guest's IPIs
 * and loopback sends never exit to the VMM.  The library stays the source
 * of truth; KVM's copy follows every bind, close, bind_vcpu, reset, ABI
 * switch, callback and vector change.  docs/kvm.md says what is offloaded
 * and what KVM does differently.
 */
#ifndef EVTCHN_KVM_H
#define EVTCHN_KVM_H

#include <stdint.h>

#include "evtchn/evtchn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the back end may hand to KVM. */
#define EVTCHN_KVM_IPI (1u << 0)      /* IPI ports */
#define EVTCHN_KVM_LOOPBACK (1u << 1) /* interdomain pairs within the domain */
/* VIRQ_TIMER singleshot timers (KVM's TIMER vCPU attribute): the VMM's
 * clock for the library (evtchn_host_set_clock()) must then be the guest's
 * kvmclock (KVM_GET_CLOCK), which KVM's timers count in. */
#define EVTCHN_KVM_TIMER (1u << 2)
/* Sending routes (<evtchn/route.h>): PORT_TO_FD as an eventfd entry (the
 * guest's send signals the eventfd from the kernel), PORT_TO_PORT as a
 * port entry. */
#define EVTCHN_KVM_ROUTES (1u << 3)
/* Interdomain ports whose other end a backend handle (<evtchn/backend.h>)
 * owns: the guest's send signals an eventfd of the handle from the
 * kernel, which the handle's descriptor reports. */
#define EVTCHN_KVM_BACKEND (1u << 4)
/* FD_TO_PORT and FD_TO_PIRQ routes as irqfds (KVM_IRQFD on a GSI routed
 * with KVM_IRQ_ROUTING_XEN_EVTCHN): a write to the eventfd raises the port
 * from the kernel.  Needs gsi_base and nr_gsis (below). */
#define EVTCHN_KVM_IRQFD (1u << 5)
#define EVTCHN_KVM_ALL (EVTCHN_KVM_IPI | EVTCHN_KVM_LOOPBACK | \
			EVTCHN_KVM_TIMER | EVTCHN_KVM_ROUTES | \
			EVTCHN_KVM_BACKEND | EVTCHN_KVM_IRQFD)
#define EVTCHN_KVM_MAX_IRQFDS 64

/* KVM_CAP_XEN_HVM bits the back end needs: INTERCEPT_HCALL, SHARED_INFO,
 * EVTCHN_SEND (the EVTCHN attribute) and SHARED_INFO_HVA (Linux 6.9). */
#define EVTCHN_KVM_CAPS_NEEDED ((1u << 1) | (1u << 2) | (1u << 5) | (1u << 8))

struct kvm_irq_routing_entry;

struct evtchn_kvm_config {
	int vm_fd;                 /* the VM (KVM_CREATE_VM) */
	uint32_t nr_vcpus;         /* the domain's vCPU count */
	const int *vcpu_fds;       /* [nr_vcpus] (KVM_CREATE_VCPU) */
	const uint32_t *apic_ids;  /* [nr_vcpus] or NULL: APIC ID = vCPU id */
	unsigned offload;          /* EVTCHN_KVM_* */
	/*
	 * EVTCHN_KVM_IRQFD: KVM_SET_GSI_ROUTING replaces a VM's whole table,
	 * so the library sets it: the VMM's own entries (@base_routes, e.g.
	 * its IOAPIC and PIC pins; copied) and one XEN_EVTCHN entry per
	 * irqfd, on GSIs @gsi_base .. @gsi_base + @nr_gsis - 1 (at most
	 * EVTCHN_KVM_MAX_IRQFDS), which the VMM leaves to it.  nr_gsis 0:
	 * no irqfds, the routing table untouched.
	 */
	uint32_t gsi_base, nr_gsis;
	const struct kvm_irq_routing_entry *base_routes;
	uint32_t nr_base_routes;
};

/*
 * Attach @d to a KVM VM whose KVM_XEN_HVM_CONFIG has INTERCEPT_HCALL (and
 * a non-zero MSR).  Sets shared_info (the library's page, by HVA), the long
 * mode, each vCPU's Xen id and vcpu_info, the vectors the guest set, and
 * the ports @cfg->offload names.  Call it before the vCPUs run, or while
 * none is in KVM_RUN (it sets vCPU attributes from the calling thread).
 * -ENOTSUP when the kernel lacks a capability of EVTCHN_KVM_CAPS_NEEDED:
 * the domain keeps working in userspace.  -EBUSY when attached already.
 */
EVTCHN_API int evtchn_domain_attach_kvm(struct evtchn_domain *d,
					const struct evtchn_kvm_config *cfg);
/*
 * On vCPU @vcpu's own thread before each KVM_RUN: applies the vCPU
 * attributes that changed on another thread (KVM sets a vCPU's attributes
 * only from its thread while it may run).  One atomic load when nothing
 * waits.  0, or -EINVAL.
 */
EVTCHN_API int evtchn_kvm_vcpu_sync(struct evtchn_domain *d, uint32_t vcpu);
/*
 * 1 when an attribute of vCPU @vcpu waits for its thread (another vCPU
 * registered its vcpu_info or set its upcall vector), else 0: a VMM whose
 * vCPU may sit in KVM_RUN for long (halted, or waiting for SIPI) kicks its
 * thread out so that it calls evtchn_kvm_vcpu_sync().  -EINVAL.
 */
EVTCHN_API int evtchn_kvm_vcpu_sync_pending(struct evtchn_domain *d,
					    uint32_t vcpu);
/* What KVM holds for @d now (for a VMM's report or an operator). */
struct evtchn_kvm_stats {
	uint32_t entries;   /* EVTCHN entries (sending ports) */
	uint32_t irqfds;    /* route eventfds KVM reads */
	uint32_t timers;    /* vCPUs whose VIRQ_TIMER KVM fires */
	uint32_t vcpus;     /* vCPUs KVM delivers to */
};
EVTCHN_API int evtchn_kvm_stats(struct evtchn_domain *d,
				struct evtchn_kvm_stats *st);

/* Everything back to userspace: every KVM entry removed, the timers back
 * to the library.  Call it while no vCPU is in KVM_RUN or in a call of the
 * library (as for attach).  -ENOENT when not attached.  Destroying the
 * domain detaches it. */
EVTCHN_API int evtchn_domain_detach_kvm(struct evtchn_domain *d);

#ifdef __cplusplus
}
#endif
#endif
