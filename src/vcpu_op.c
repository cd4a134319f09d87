/* SPDX-License-Identifier: MIT */
/* VCPUOP_register_vcpu_info and where each vCPU's vcpu_info lives. */
#include <string.h>

#include "internal.h"
#include "rcu.h"

#define VCPU_INFO_SIZE sizeof(struct vcpu_info_x86_64)

/* Xen's vcpu_info_reset(): the legacy slot in shared_info for vCPUs below
 * 32, a private dummy for the others until they register one. */
void vcpu_info_reset(struct evtchn_domain *d, struct evtchn_vcpu *v)
{
	unsigned char *vi = v->id < XEN_LEGACY_MAX_VCPUS_X86_64
				    ? d->shared_info + v->id * VCPU_INFO_SIZE
				    : v->dummy_vcpu_info;

	atomic_store_explicit(&v->vcpu_info, vi, memory_order_release);
}

/* Copy a vcpu_info that senders may be updating, word by word. */
static void vcpu_info_copy(unsigned char *dst, unsigned char *src)
{
	for (size_t i = 0; i < VCPU_INFO_SIZE; i += sizeof(uint32_t))
		__atomic_store_n((uint32_t *)(dst + i),
				 __atomic_load_n((uint32_t *)(src + i),
						 __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
}

/* Xen 4.17's map_vcpu_info() checks that need no lock, in its order. */
static long vcpu_info_check(struct evtchn_domain *d, uint32_t offset)
{
	size_t align = domain_layout(d) == EVTCHN_LAYOUT_32
			       ? _Alignof(struct vcpu_info_x86_32)
			       : _Alignof(struct vcpu_info_x86_64);

	if (offset > EVTCHN_PAGE_SIZE - VCPU_INFO_SIZE)
		return -XEN_ENXIO;
	if (offset & (align - 1))
		return -XEN_ENXIO;
	return 0;
}

/* The rest of Xen 4.17's map_vcpu_info(), domain lock held: @page is
 * @gfn mapped before the lock was taken (NULL: not RAM), installed only
 * when the call succeeds. */
static long map_vcpu_info(struct evtchn_domain *d, uint32_t caller,
			  struct evtchn_vcpu *v, uint64_t gfn,
			  unsigned char *page, uint32_t offset)
{
	bool compat = domain_layout(d) == EVTCHN_LAYOUT_32;
	unsigned char *vi, *old;

	/* The layout may have changed since the unlocked check. */
	if (vcpu_info_check(d, offset))
		return -XEN_ENXIO;
	/* Xen 4.18 and later answer -EBUSY here. */
	if (v->registered)
		return -XEN_EINVAL;
	/* Run this on yourself or on an offline vCPU. */
	if (v->id != caller && atomic_load(&v->online))
		return -XEN_EINVAL;
	if (!page)
		return -XEN_EINVAL;

	vi = page + offset;
	old = atomic_load_explicit(&v->vcpu_info, memory_order_relaxed);
	if (old == v->dummy_vcpu_info) {
		memset(vi, 0, VCPU_INFO_SIZE);
		vi[offsetof(struct vcpu_info_x86_64, evtchn_upcall_mask)] = 1;
	} else {
		vcpu_info_copy(vi, old);
	}
	v->registered = true;
	v->vi_gfn = gfn;
	v->vi_page = page;
	kvm_vcpu_info_changed(d, caller, v->id, vi);
	/* The new vcpu_info before the pending flags.  pairs with the acquire
	 * loads in abi_2l.c and deliver.c */
	atomic_store_explicit(&v->vcpu_info, vi, memory_order_release);

	/* Everything pending, so nothing is lost: a spurious upcall.  32-bit
	 * halves: the 64-bit selector may be only 4-byte aligned (see
	 * sel_test_and_set() in abi_2l.c). */
	if (compat) {
		__atomic_store_n((uint32_t *)(vi + offsetof(struct vcpu_info_x86_32,
							    evtchn_pending_sel)),
				 ~0u, __ATOMIC_SEQ_CST);
	} else {
		uint32_t *sel = (uint32_t *)(vi + offsetof(struct vcpu_info_x86_64,
							   evtchn_pending_sel));

		__atomic_store_n(&sel[0], ~0u, __ATOMIC_SEQ_CST);
		__atomic_store_n(&sel[1], ~0u, __ATOMIC_SEQ_CST);
	}
	/* The upcall is raised by do_vcpu_op() once the lock is dropped. */
	return 0;
}

/* A registration carried over by evtchn_domain_restore(): the guest's
 * vcpu_info is already in its memory.  Lock held. */
void vcpu_info_restore(struct evtchn_domain *d, struct evtchn_vcpu *v,
		       uint64_t gfn, void *page, uint32_t offset)
{
	domain_assert_locked(d);
	v->registered = true;
	v->vi_gfn = gfn;
	v->vi_page = page;
	/* pairs with the acquire loads in abi_2l.c and deliver.c */
	atomic_store_explicit(&v->vcpu_info, (unsigned char *)page + offset,
			      memory_order_release);
}

/* The vcpu_op sub-ops of the library; any other returns -ENOSYS for the
 * VMM to handle (Xen checks the vCPU, -ENOENT, before the command).
 * Xen also refreshes the vCPU's time info after register_vcpu_info; time
 * info belongs to the VMM (pvclock), which should do the same. */
long do_vcpu_op(struct evtchn_domain *d, uint32_t vcpu, int cmd,
		uint32_t vcpuid, uint64_t arg, bool compat)
{
	struct vcpu_register_vcpu_info info;
	struct evtchn_vcpu *v;
	unsigned char *page;
	long rc;

	switch (cmd) {
	case VCPUOP_register_vcpu_info:
	case VCPUOP_set_singleshot_timer:
	case VCPUOP_stop_singleshot_timer:
	case VCPUOP_set_periodic_timer:
	case VCPUOP_stop_periodic_timer:
		break;
	default:
		return -XEN_ENOSYS;
	}
	v = domain_vcpu(d, vcpuid);
	if (!v)
		return -XEN_ENOENT;
	if (cmd != VCPUOP_register_vcpu_info)
		return timer_vcpu_op(d, vcpu, cmd, v, arg, compat);
	if (guest_copy_from(d, vcpu, arg, &info, sizeof(info)))
		return -XEN_EFAULT;
	rc = vcpu_info_check(d, info.offset);
	if (rc)
		return rc;
	/* Mapped before the lock, so the VMM's map callback runs under none
	 * of the library's (internal.h); unmapped after it unless kept. */
	page = guest_map_gfn(d, info.mfn, true);
	domain_lock(d);
	rc = map_vcpu_info(d, vcpu, v, info.mfn, page, info.offset);
	domain_unlock(d);
	if (rc) {
		guest_unmap_gfn(d, info.mfn, page);
		return rc;
	}
	/* Everything pending, so nothing is lost: a spurious upcall (Xen's
	 * map_vcpu_info()), outside the lock for the VMM's callback. */
	evtchn_rcu_read_lock();
	vcpu_mark_events_pending(d, v);
	evtchn_rcu_read_unlock();
	return 0;
}
