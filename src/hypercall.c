/* SPDX-License-Identifier: MIT */
/* The hypercall entry the VMM calls on every Xen hypercall exit. */
#include <errno.h>

#include "internal.h"

long evtchn_hypercall(struct evtchn_domain *d, uint32_t vcpu, uint64_t nr,
		      const uint64_t args[6])
{
	return evtchn_hypercall_mode(d, vcpu, EVTCHN_MODE_LAYOUT, nr, args);
}

/* Xen's hvm_hypercall(): the calling vCPU's mode, taken on every call,
 * picks the 64-bit handlers or the compat ones (set_timer_op's deadline in
 * two registers, SCHEDOP_poll's and VCPUOP_set_singleshot_timer's compat
 * structs, PHYSDEVOP_map_pirq's compat layout). */
long evtchn_hypercall_mode(struct evtchn_domain *d, uint32_t vcpu,
			   enum evtchn_mode mode, uint64_t nr,
			   const uint64_t args[6])
{
	bool compat, irqs_off = mode & EVTCHN_MODE_IRQS_OFF;

	if (!d || !args || vcpu >= d->nr_vcpus)
		return -EINVAL;
	switch ((int)mode & ~EVTCHN_MODE_IRQS_OFF) {
	case EVTCHN_MODE_LAYOUT:
		compat = domain_layout(d) == EVTCHN_LAYOUT_32;
		break;
	case EVTCHN_MODE_64:
		compat = false;
		break;
	case EVTCHN_MODE_32:
		compat = true;
		break;
	default:
		return -EINVAL;
	}
	switch (nr) {
	case __HYPERVISOR_event_channel_op:
		/* int cmd, void *arg (the same structs in both modes) */
		return do_event_channel_op(d, vcpu, (int)args[0], args[1]);
	case __HYPERVISOR_set_timer_op:
		/* 64-bit: one register; 32-bit: low and high halves */
		return do_set_timer_op(d, vcpu,
				       compat ? (uint32_t)args[0] |
							(uint64_t)args[1] << 32
					      : args[0]);
	case __HYPERVISOR_physdev_op:
		/* int cmd, void *arg */
		return do_physdev_op(d, vcpu, (int)args[0], args[1], compat);
	case __HYPERVISOR_hvm_op:
		/* unsigned long op, void *arg */
		return do_hvm_op(d, vcpu, args[0], args[1]);
	case __HYPERVISOR_sched_op:
		/* int cmd, void *arg */
		return do_sched_op(d, vcpu, (int)args[0], args[1], compat,
				   irqs_off);
	case __HYPERVISOR_vcpu_op:
		/* int cmd, unsigned int vcpuid, void *arg */
		return do_vcpu_op(d, vcpu, (int)args[0], (uint32_t)args[1],
				  args[2], compat);
	default:
		return -ENOSYS;
	}
}
