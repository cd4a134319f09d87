/* SPDX-License-Identifier: MIT */
/*
 * Checks 1-6: setup, IPIs, VIRQ_TIMER from each timer interface, and
 * SCHEDOP_poll; the helpers every check uses.  Each check binds what it
 * needs and closes it again, so that it passes or fails on its own.
 */
#include "guest.h"

#define POLL_LATE MS(500) /* how late a timed-out poll may return */
#define SETTLE_NS MS(10)  /* time for a wrong extra event to show up */

int fail(struct check *c, const char *f, ...)
{
	va_list ap;

	/* The first failure explains the check; later ones follow from it. */
	if (!c->detail[0]) {
		va_start(ap, f);
		vfmt(c->detail, sizeof(c->detail), f, ap);
		va_end(ap);
	}
	return -1;
}

/* vCPU @cpu exists and finished its own setup (within WAIT_NS). */
bool helper_ready(struct check *c, uint32_t cpu)
{
	struct bound b;

	if (cpu >= setup.nr_vcpus || cpu >= GUEST_MAX_VCPUS) {
		fail(c, "needs vCPU %u, the guest has %u", cpu,
		     setup.nr_vcpus);
		return false;
	}
	bound_start(&b, WAIT_NS);
	while (!__atomic_load_n(&setup.online[cpu], __ATOMIC_ACQUIRE)) {
		if (bound_passed(&b)) {
			fail(c, "vCPU %u did not finish its setup", cpu);
			return false;
		}
		cpu_relax();
	}
	return true;
}

bool port_tracked(struct check *c, uint32_t port)
{
	if (port < NR_TRACKED_PORTS)
		return true;
	fail(c, "port %u beyond the %u the guest counts", port,
	     NR_TRACKED_PORTS);
	return false;
}

int close_checked(struct check *c, uint32_t port)
{
	long rc = ev_close(port);

	return rc ? fail(c, "close port %u: rc %ld", port, rc) : 0;
}

/* An event on @port reaches @cpu exactly once and no other vCPU. */
int arrives_once(struct check *c, uint32_t cpu, uint32_t port,
		 const uint32_t *before)
{
	uint32_t n = setup.nr_vcpus < GUEST_MAX_VCPUS ? setup.nr_vcpus
						       : GUEST_MAX_VCPUS;

	if (ev_wait(cpu, port, before[cpu] + 1, WAIT_NS))
		return fail(c, "port %u: no event on vCPU %u within 2 s", port,
			    cpu);
	delay_ns(SETTLE_NS);
	for (uint32_t v = 0; v < n; v++) {
		uint32_t got = ev_count(v, port) - before[v];

		if (got != (v == cpu))
			return fail(c, "port %u: %u events on vCPU %u", port,
				    got, v);
	}
	return 0;
}

/* Everyone's count on @port, for arrives_once(). */
void counts_of(uint32_t port, uint32_t *before)
{
	for (uint32_t v = 0; v < GUEST_MAX_VCPUS; v++)
		before[v] = ev_count(v, port);
}

int check_setup(struct check *c)
{
	if (!setup.clock_ok)
		return fail(c, "the clock port (%#x) does not advance",
			    VMM_PORT_CLOCK);
	if (!setup.xen_cpuid)
		return fail(c, "CPUID 0x40000000 does not say XenVMMXenVMM");
	if (setup.cpuid_max < 0x40000002)
		return fail(c, "CPUID 0x40000000: max leaf %#x",
			    setup.cpuid_max);
	if (setup.cpuid_msr != VMM_XEN_MSR)
		return fail(c, "CPUID 0x40000002: hypercall MSR %#x",
			    setup.cpuid_msr);
	if (!setup.hypercall_page)
		return fail(c, "the hypercall page is still INT3 after WRMSR");
	if (setup.physmap_rc)
		return fail(c, "XENMEM_add_to_physmap(shared_info): rc %ld",
			    setup.physmap_rc);
	if (!setup.shinfo_rw)
		return fail(c, "a write to shared_info does not read back");
	for (uint32_t v = 0; v < setup.nr_vcpus && v < GUEST_MAX_VCPUS; v++) {
		if (!helper_ready(c, v))
			return -1;
		if (setup.vector_rc[v])
			return fail(c, "vCPU %u: upcall vector: rc %ld", v,
				    setup.vector_rc[v]);
		if (setup.periodic_rc[v])
			return fail(c, "vCPU %u: stop_periodic_timer: rc %ld",
				    v, setup.periodic_rc[v]);
	}
	return 0;
}

/* An IPI port bound to @to; @from sends on it. */
static int ipi(struct check *c, uint32_t from, uint32_t to)
{
	uint32_t port, before[GUEST_MAX_VCPUS];
	long rc = ev_bind_ipi(to, &port);
	int ret = -1;

	if (rc)
		return fail(c, "bind_ipi(vcpu %u): rc %ld", to, rc);
	if (!port_tracked(c, port))
		goto out;
	counts_of(port, before);
	if (from == 0) {
		rc = ev_send(port);
	} else if (smp_call(from, CMD_SEND, port, 0, &rc, NULL)) {
		ret = fail(c, "vCPU %u did not answer", from);
		goto out;
	}
	if (rc)
		ret = fail(c, "send on port %u from vCPU %u: rc %ld", port,
			   from, rc);
	else
		ret = arrives_once(c, to, port, before);
out:
	if (close_checked(c, port))
		ret = -1;
	return ret;
}

int check_ipi(struct check *c)
{
	if (!helper_ready(c, 1))
		return -1;
	if (ipi(c, 0, 1))
		return -1;
	return ipi(c, 1, 0);
}

/* One VIRQ_TIMER tick on @cpu, not before @deadline, and no second. */
static int one_tick(struct check *c, uint32_t cpu, uint32_t port,
		    const uint32_t *before, uint64_t deadline)
{
	uint64_t at;

	if (ev_wait(cpu, port, before[cpu] + 1, WAIT_NS))
		return fail(c, "no VIRQ_TIMER on vCPU %u within 2 s", cpu);
	at = ev_time(cpu, port);
	if (at < deadline)
		return fail(c, "the tick came %lu ns before its deadline",
			    deadline - at);
	/* A singleshot fires once; more would be a periodic timer's. */
	return arrives_once(c, cpu, port, before);
}

static long arm_singleshot(uint64_t deadline)
{
	return hc_singleshot(0, deadline);
}

/* VIRQ_TIMER bound on vCPU 0, armed by @arm for 2 ms from now. */
static int tick_on_0(struct check *c, long (*arm)(uint64_t), const char *how)
{
	uint32_t port, before[GUEST_MAX_VCPUS];
	uint64_t deadline;
	long rc = ev_bind_virq(VIRQ_TIMER, 0, &port);
	int ret = -1;

	if (rc)
		return fail(c, "bind_virq(VIRQ_TIMER, vcpu 0): rc %ld", rc);
	if (!port_tracked(c, port))
		goto out;
	counts_of(port, before);
	deadline = xen_now() + MS(2);
	rc = arm(deadline);
	if (rc)
		ret = fail(c, "%s: rc %ld", how, rc);
	else
		ret = one_tick(c, 0, port, before, deadline);
out:
	if (close_checked(c, port))
		ret = -1;
	return ret;
}

int check_singleshot(struct check *c)
{
	return tick_on_0(c, arm_singleshot, "VCPUOP_set_singleshot_timer");
}

int check_set_timer_op(struct check *c)
{
	return tick_on_0(c, hc_set_timer_op, "set_timer_op");
}

/* vCPU 1 binds its own VIRQ_TIMER and arms its own singleshot. */
int check_vcpu1_timer(struct check *c)
{
	uint32_t port, before[GUEST_MAX_VCPUS];
	uint64_t out;
	long rc;
	int ret = -1;

	if (!helper_ready(c, 1))
		return -1;
	if (smp_call(1, CMD_BIND_TIMER, 0, 0, &rc, &out))
		return fail(c, "vCPU 1 did not answer");
	if (rc)
		return fail(c, "vCPU 1's bind_virq(VIRQ_TIMER): rc %ld", rc);
	port = (uint32_t)out;
	if (!port_tracked(c, port))
		goto out;
	counts_of(port, before);
	if (smp_call(1, CMD_SINGLESHOT, 0, MS(2), &rc, &out))
		ret = fail(c, "vCPU 1 did not answer");
	else if (rc)
		ret = fail(c, "VCPUOP_set_singleshot_timer on vCPU 1: rc %ld",
			   rc);
	else
		ret = one_tick(c, 1, port, before, out);
out:
	if (close_checked(c, port))
		ret = -1;
	return ret;
}

/*
 * SCHEDOP_poll must never leave the guest blocked past its timeout or the
 * event it waits for.  It may return sooner: a spurious wake-up, which
 * Xen's interface allows, and what KVM does at CPL 0 (it answers poll
 * in the kernel as a yield unless the VMM enables its own poll).
 */

/* Nobody sends: the poll returns 0 by its absolute timeout. */
static int poll_times_out(struct check *c, uint32_t port)
{
	uint64_t flags, timeout, back;
	long rc;

	/* Interrupts off across the call, as a guest polls: no upcall
	 * runs in the middle of the timing. */
	flags = irq_save();
	timeout = xen_now() + MS(5);
	rc = hc_poll_one(port, timeout);
	back = xen_now();
	irq_restore(flags);
	if (rc)
		return fail(c, "poll with a 5 ms timeout: rc %ld", rc);
	if (back > timeout && back - timeout > POLL_LATE)
		return fail(c, "poll returned %lu ns after its timeout",
			    back - timeout);
	return 0;
}

/*
 * vCPU 1 sends 1 ms after it is asked: the poll returns long before its
 * 1 s timeout, and the event arrives.  Interrupts go off before the
 * request: should this vCPU be held up past the send, the event is still
 * pending at the poll (which then returns at once) instead of taken by
 * the upcall before it, which would leave a blocking poll nothing to
 * wait for but its timeout.
 */
static int poll_woken(struct check *c, uint32_t port)
{
	uint32_t before = ev_count(0, port);
	uint64_t flags, start, back;
	long rc, send_rc;

	flags = irq_save();
	if (smp_post(1, CMD_SEND, port, MS(1))) {
		irq_restore(flags);
		return fail(c, "vCPU 1 is not taking commands");
	}
	start = xen_now();
	rc = hc_poll_one(port, start + MS(1000));
	back = xen_now();
	irq_restore(flags);
	if (smp_wait(1, &send_rc, NULL))
		return fail(c, "vCPU 1 did not send");
	if (send_rc)
		return fail(c, "send on vCPU 1: rc %ld", send_rc);
	if (rc)
		return fail(c, "poll ended by an event: rc %ld", rc);
	if (back - start >= MS(1000))
		return fail(c, "poll ran into its 1 s timeout");
	if (ev_wait(0, port, before + 1, WAIT_NS))
		return fail(c, "no upcall for the event after the poll");
	return 0;
}

int check_poll(struct check *c)
{
	uint32_t port;
	long rc;
	int ret;

	if (!helper_ready(c, 1))
		return -1;
	rc = ev_bind_ipi(0, &port);
	if (rc)
		return fail(c, "bind_ipi(vcpu 0): rc %ld", rc);
	ret = port_tracked(c, port) ? poll_times_out(c, port) : -1;
	if (!ret)
		ret = poll_woken(c, port);
	if (close_checked(c, port))
		ret = -1;
	return ret;
}
