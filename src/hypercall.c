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
	case __HYPERVISOR_vcpu_op:
		/* int cmd, unsigned int vcpuid, void *arg */
		return do_vcpu_op(d, vcpu, (int)args[0], (uint32_t)args[1],
				  args[2]);
	default:
		return -ENOSYS;
	}
}
