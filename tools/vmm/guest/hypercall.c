/* SPDX-License-Identifier: MIT */
/* Hypercalls through the page the hypervisor fills (64-bit Xen ABI). */
#include "guest.h"

#define HYPERCALL_STUB_SIZE 32
#define NR_HYPERCALL_STUBS (GUEST_PAGE_SIZE / HYPERCALL_STUB_SIZE)
#define INT3 0xcc

extern uint8_t hypercall_page[];

/* Set once the page holds stubs; until then (or if it never does) a
 * hypercall answers -ENOSYS instead of running into INT3. */
static bool hypercalls_ready;

/*
 * Ask for the stubs (vCPU 0, once, before anyone calls).  The page
 * starts as INT3 (start.S): a first byte that changed means the
 * hypervisor wrote it, which it does while it handles the WRMSR: the
 * bytes read after it are the new ones.
 */
bool hypercall_page_setup(void)
{
	wrmsr(VMM_XEN_MSR, (uint64_t)hypercall_page);
	if (*(volatile uint8_t *)hypercall_page == INT3)
		return false;
	/* pairs with the acquire load in hypercall() on every vCPU */
	__atomic_store_n(&hypercalls_ready, true, __ATOMIC_RELEASE);
	return true;
}

/*
 * rdi, rsi, rdx, r10, r8 in; rax out.  The argument registers are
 * in/out: Xen may clobber them (debug builds poison them), and so may a
 * VMM.  rcx and r11 too (a SYSCALL-like path), r9 for a sixth argument.
 */
long hypercall(unsigned int nr, uint64_t a1, uint64_t a2, uint64_t a3,
	       uint64_t a4, uint64_t a5)
{
	register uint64_t r10 asm("r10") = a4;
	register uint64_t r8 asm("r8") = a5;
	void *entry = hypercall_page + nr * HYPERCALL_STUB_SIZE;
	long ret;

	if (nr >= NR_HYPERCALL_STUBS ||
	    !__atomic_load_n(&hypercalls_ready, __ATOMIC_ACQUIRE))
		return -GUEST_ENOSYS;
	asm volatile("call *%[entry]"
		     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10),
		       "+r"(r8)
		     : [entry] "r"(entry)
		     : "memory", "cc", "rcx", "r9", "r11");
	return ret;
}

long hc_evtchn_op(int cmd, void *arg)
{
	return hypercall(__HYPERVISOR_event_channel_op, (uint64_t)cmd,
			 (uint64_t)arg, 0, 0, 0);
}

long hc_memory_op(int cmd, void *arg)
{
	return hypercall(__HYPERVISOR_memory_op, (uint64_t)cmd, (uint64_t)arg,
			 0, 0, 0);
}

long hc_physdev_op(int cmd, void *arg)
{
	return hypercall(__HYPERVISOR_physdev_op, (uint64_t)cmd, (uint64_t)arg,
			 0, 0, 0);
}

long hc_hvm_op(unsigned long op, void *arg)
{
	return hypercall(__HYPERVISOR_hvm_op, op, (uint64_t)arg, 0, 0, 0);
}

long hc_vcpu_op(int cmd, uint32_t vcpu, void *arg)
{
	return hypercall(__HYPERVISOR_vcpu_op, (uint64_t)cmd, vcpu,
			 (uint64_t)arg, 0, 0);
}

long hc_sched_op(int cmd, void *arg)
{
	return hypercall(__HYPERVISOR_sched_op, (uint64_t)cmd, (uint64_t)arg,
			 0, 0, 0);
}

/* The 64-bit form: the absolute deadline in one register. */
long hc_set_timer_op(uint64_t deadline)
{
	return hypercall(__HYPERVISOR_set_timer_op, deadline, 0, 0, 0, 0);
}

/* Flags 0: a deadline already passed fires at once. */
long hc_singleshot(uint32_t vcpu, uint64_t deadline)
{
	struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = deadline };

	return hc_vcpu_op(VCPUOP_set_singleshot_timer, vcpu, &t);
}

/* SCHEDOP_poll on one port; @timeout is absolute system time. */
long hc_poll_one(uint32_t port, uint64_t timeout)
{
	evtchn_port_t p = port;
	struct sched_poll poll = { .nr_ports = 1, .timeout = timeout };

	set_xen_guest_handle(poll.ports, &p);
	return hc_sched_op(SCHEDOP_poll, &poll);
}
