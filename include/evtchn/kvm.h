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
#define EVTCHN_KVM_ALL (EVTCHN_KVM_IPI | EVTCHN_KVM_LOOPBACK | \
			EVTCHN_KVM_TIMER | EVTCHN_KVM_ROUTES | \
			EVTCHN_KVM_BACKEND)

/* KVM_CAP_XEN_HVM bits the back end needs: INTERCEPT_HCALL, SHARED_INFO,
 * EVTCHN_SEND (the EVTCHN attribute) and SHARED_INFO_HVA (Linux 6.9). */
#define EVTCHN_KVM_CAPS_NEEDED ((1u << 1) | (1u << 2) | (1u << 5) | (1u << 8))

struct evtchn_kvm_config {
	int vm_fd;                 /* the VM (KVM_CREATE_VM) */
	uint32_t nr_vcpus;         /* the domain's vCPU count */
	const int *vcpu_fds;       /* [nr_vcpus] (KVM_CREATE_VCPU) */
	const uint32_t *apic_ids;  /* [nr_vcpus] or NULL: APIC ID = vCPU id */
	unsigned offload;          /* EVTCHN_KVM_* */
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
/* Everything back to userspace: every KVM entry removed, the timers back
 * to the library.  Call it while no vCPU is in KVM_RUN or in a call of the
 * library (as for attach).  -ENOENT when not attached.  Destroying the
 * domain detaches it. */
EVTCHN_API int evtchn_domain_detach_kvm(struct evtchn_domain *d);

#ifdef __cplusplus
}
#endif
#endif
