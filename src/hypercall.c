/* SPDX-License-Identifier: MIT */
/* The hypercall entry the VMM calls on every Xen hypercall exit. */
#include <errno.h>

#include "internal.h"

long evtchn_hypercall(struct evtchn_domain *d, uint32_t vcpu, uint64_t nr,
		      const uint64_t args[6])
{
	if (!d || !args || vcpu >= d->nr_vcpus)
		return -EINVAL;
	switch (nr) {
	case __HYPERVISOR_event_channel_op:
		/* int cmd, void *arg */
		return do_event_channel_op(d, vcpu, (int)args[0], args[1]);
	case __HYPERVISOR_set_timer_op:
		/* 64-bit guests: one register; 32-bit: low and high halves */
		return do_set_timer_op(d, vcpu,
				       domain_layout(d) == EVTCHN_LAYOUT_64
					       ? args[0]
					       : (uint32_t)args[0] |
							 (uint64_t)args[1] << 32);
	case __HYPERVISOR_physdev_op:
		/* int cmd, void *arg */
		return do_physdev_op(d, vcpu, (int)args[0], args[1]);
	case __HYPERVISOR_hvm_op:
		/* unsigned long op, void *arg */
		return do_hvm_op(d, vcpu, args[0], args[1]);
	case __HYPERVISOR_sched_op:
		/* int cmd, void *arg */
		return do_sched_op(d, vcpu, (int)args[0], args[1]);
	case __HYPERVISOR_vcpu_op:
		/* int cmd, unsigned int vcpuid, void *arg */
		return do_vcpu_op(d, vcpu, (int)args[0], (uint32_t)args[1],
				  args[2]);
	default:
		return -ENOSYS;
	}
}
