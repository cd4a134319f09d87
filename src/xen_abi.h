/* SPDX-License-Identifier: MIT */
/*
 * Xen's public ABI, from Debian's libxen-dev headers only.  Never retype a
 * Xen struct or constant: include it from here.
 */
#ifndef EVTCHN_XEN_ABI_H
#define EVTCHN_XEN_ABI_H

#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif

#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
#include <xen/sched.h>
#include <xen/physdev.h>
#include <xen/foreign/x86_32.h>
#include <xen/foreign/x86_64.h>

/* Without __XEN_TOOLS__ (or a new __XEN_INTERFACE_VERSION__) <xen/xen.h>
 * maps event_channel_op to the old compat hypercall 16. */
_Static_assert(__HYPERVISOR_event_channel_op == 32,
	       "event_channel_op must be hypercall 32");
_Static_assert(__HYPERVISOR_vcpu_op == 24, "vcpu_op must be hypercall 24");
_Static_assert(DOMID_SELF == 0x7FF0, "DOMID_SELF");
_Static_assert(NR_VIRQS == 24, "NR_VIRQS");

/* shared_info / vcpu_info offsets the 2-level ABI writes, both layouts. */
_Static_assert(sizeof(struct vcpu_info_x86_64) == 64, "vcpu_info 64");
_Static_assert(sizeof(struct vcpu_info_x86_32) == 64, "vcpu_info 32");
_Static_assert(offsetof(struct vcpu_info_x86_64, evtchn_pending_sel) == 8,
	       "64-bit pending_sel");
_Static_assert(offsetof(struct vcpu_info_x86_32, evtchn_pending_sel) == 4,
	       "32-bit pending_sel");
_Static_assert(offsetof(struct shared_info_x86_64, evtchn_pending) == 2048,
	       "64-bit evtchn_pending");
_Static_assert(offsetof(struct shared_info_x86_64, evtchn_mask) == 2560,
	       "64-bit evtchn_mask");
_Static_assert(offsetof(struct shared_info_x86_32, evtchn_pending) == 2048,
	       "32-bit evtchn_pending");
_Static_assert(offsetof(struct shared_info_x86_32, evtchn_mask) == 2176,
	       "32-bit evtchn_mask");
_Static_assert(XEN_LEGACY_MAX_VCPUS_X86_64 == 32 &&
		       XEN_LEGACY_MAX_VCPUS_X86_32 == 32,
	       "legacy vcpu_info slots");
_Static_assert(sizeof(struct shared_info_x86_64) <= 4096, "shared_info page");

/* Argument structs are guest-visible sizes. */
_Static_assert(sizeof(struct evtchn_status) == 24, "evtchn_status");
_Static_assert(sizeof(struct evtchn_alloc_unbound) == 8, "alloc_unbound");
_Static_assert(sizeof(struct evtchn_bind_interdomain) == 12,
	       "bind_interdomain");
_Static_assert(sizeof(struct vcpu_register_vcpu_info) == 16,
	       "register_vcpu_info");

_Static_assert(__HYPERVISOR_physdev_op == 33, "physdev_op is hypercall 33");
_Static_assert(sizeof(struct evtchn_bind_pirq) == 12, "bind_pirq");
_Static_assert(sizeof(struct physdev_unmap_pirq) == 8, "unmap_pirq");
_Static_assert(sizeof(struct physdev_eoi) == 4, "eoi");
_Static_assert(sizeof(struct physdev_irq_status_query) == 8,
	       "irq_status_query");
_Static_assert(sizeof(struct physdev_get_free_pirq) == 8, "get_free_pirq");
/* physdev_map_pirq: 64-bit guests see table_base at 32 (40 bytes); 32-bit
 * guests align it to 4, right after entry_nr (36 bytes). */
_Static_assert(sizeof(struct physdev_map_pirq) == 40 &&
		       offsetof(struct physdev_map_pirq, table_base) == 32,
	       "map_pirq 64");
#define PHYSDEV_MAP_PIRQ_SIZE_32 \
	(offsetof(struct physdev_map_pirq, entry_nr) + sizeof(int) + 8)
_Static_assert(PHYSDEV_MAP_PIRQ_SIZE_32 == 36, "map_pirq 32");

/* Xen's continuation of EVTCHNOP_reset.  The public header defines it only
 * for the hypervisor itself (#ifdef __XEN__), yet a guest can issue it. */
#ifndef EVTCHNOP_reset_cont
#define EVTCHNOP_reset_cont 14
#endif

/* 2-level limits: (bits per word)^2 ports. */
#define EVTCHN_2L_PORTS_64 (64u * 64u)
#define EVTCHN_2L_PORTS_32 (32u * 32u)
#define EVTCHN_ABI_MAX_PORTS EVTCHN_2L_PORTS_64

/* Xen's struct evtchn is 64-byte aligned: 4096/64 ports per bucket, so a
 * fresh domain has ports 0..63 valid (Xen's valid_evtchns). */
#define EVTCHN_PORTS_PER_BUCKET 64u

#endif /* EVTCHN_XEN_ABI_H */
