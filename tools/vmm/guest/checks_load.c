/* SPDX-License-Identifier: MIT */
/*
 * Check 17: back to 2-level (EVTCHNOP_reset), every vCPU's vcpu_info
 * moved out of shared_info (VCPUOP_register_vcpu_info, as Linux does), then
 * a measured load: IPIs
 * to vCPU 1, loopback sends and VIRQ_TIMER ticks, each event waited for
 * (no coalescing), between two marks on the VMM's load port, so that the
 * VMM can count the exits the load made in each of its modes.
 */
#include "guest.h"

#define LOAD_IPIS 1000u
#define LOAD_SENDS 1000u
#define LOAD_TICKS 100u

/* One measured class of events between the marks: the VMM prints the
 * exits it made ("load exits: ..."), then the guest what it was. */
void load_begin(void)
{
	outb(VMM_PORT_LOAD, VMM_LOAD_START);
}

void load_end(struct check *c, const char *what, uint32_t n, int ret)
{
	outb(VMM_PORT_LOAD, VMM_LOAD_END);
	(void)c;
	if (!ret)
		gprintf("load: %s %u\n", what, n);
}

/* @n sends on @from, each taken on @cpu at @to before the next. */
int round_trips(struct check *c, uint32_t from, uint32_t to, uint32_t cpu,
		uint32_t n)
{
	uint32_t got = ev_count(cpu, to);

	for (uint32_t i = 0; i < n; i++) {
		long rc = ev_send(from);

		if (rc)
			return fail(c, "send %u on port %u: rc %ld", i, from, rc);
		if (ev_wait(cpu, to, ++got, WAIT_NS)) {
			struct vcpu_info *vi = ev_vcpu_info(cpu);

			return fail(c, "event %u on port %u lost (pending %d "
				       "masked %d, vCPU %u: upcall_pending %u "
				       "sel %#lx, upcalls %u; counts %u %u)",
				    i, to, ev_test(to, EV_PENDING),
				    ev_test(to, EV_MASKED), cpu,
				    vi->evtchn_upcall_pending,
				    (unsigned long)vi->evtchn_pending_sel,
				    ev_upcalls(cpu), ev_count(0, to),
				    ev_count(1, to));
		}
	}
	return 0;
}

static int loads(struct check *c, const char *prefix);

static int ticks(struct check *c, uint32_t port, uint32_t n)
{
	uint32_t got = ev_count(0, port);

	for (uint32_t i = 0; i < n; i++) {
		long rc = hc_singleshot(0, xen_now() + 100000);

		if (rc)
			return fail(c, "singleshot %u: rc %ld", i, rc);
		if (ev_wait(0, port, ++got, WAIT_NS))
			return fail(c, "tick %u lost", i);
	}
	return 0;
}

int check_load(struct check *c)
{
	long rc;

	if (!helper_ready(c, 1))
		return -1;
	rc = ev_reset();
	if (rc)
		return fail(c, "reset: rc %ld", rc);
	ev_set_abi(&abi_2l_ops); /* a reset goes back to 2-level */
	rc = ev_register_vcpu_info(0);
	if (rc)
		return fail(c, "register_vcpu_info on vCPU 0: rc %ld", rc);
	for (uint32_t v = 1; v < setup.nr_vcpus && v < GUEST_MAX_VCPUS; v++)
		if (smp_call(v, CMD_REGISTER_VCPU_INFO, 0, 0, &rc, NULL) || rc)
			return fail(c, "register_vcpu_info on vCPU %u: rc %ld",
				    v, rc);
	return loads(c, "");
}

/* IPIs to vCPU 1, loopback sends and ticks, each a measured load named
 * @prefix + its class. */
static int loads(struct check *c, const char *prefix)
{
	uint32_t ipi, a, b, timer;
	char name[32];
	int ret;

	if (ev_bind_ipi(1, &ipi) || ev_alloc_unbound(&a) ||
	    ev_bind_interdomain(a, &b) ||
	    ev_bind_virq(VIRQ_TIMER, 0, &timer))
		return fail(c, "binds after the reset failed");
	if (!port_tracked(c, ipi) || !port_tracked(c, b) ||
	    !port_tracked(c, timer))
		return -1;
	/* the event Xen raises on the new interdomain port goes first */
	if (ev_wait(0, b, 1, WAIT_NS) && !ev_count(0, b))
		return fail(c, "the event bind_interdomain raised was lost");
	load_begin();
	ret = round_trips(c, ipi, ipi, 1, LOAD_IPIS);
	fmt(name, sizeof(name), "%sipi", prefix);
	load_end(c, name, LOAD_IPIS, ret);
	if (ret)
		return ret;
	load_begin();
	ret = round_trips(c, a, b, 0, LOAD_SENDS);
	fmt(name, sizeof(name), "%sloopback", prefix);
	load_end(c, name, LOAD_SENDS, ret);
	if (ret)
		return ret;
	load_begin();
	ret = ticks(c, timer, LOAD_TICKS);
	fmt(name, sizeof(name), "%stimer", prefix);
	load_end(c, name, LOAD_TICKS, ret);
	return ret;
}

/* Check 23: the same loads on FIFO, which KVM cannot deliver: with the
 * back end too, every send and tick is the library's. */
int check_load_fifo(struct check *c)
{
	long rc;
	int ret;

	if (!helper_ready(c, 1))
		return -1;
	rc = ev_reset();
	if (rc)
		return fail(c, "reset: rc %ld", rc);
	ev_set_abi(&abi_2l_ops);
	ret = check_fifo_switch(c);
	if (!ret)
		ret = loads(c, "fifo-");
	rc = ev_reset(); /* back to 2-level */
	ev_set_abi(&abi_2l_ops);
	if (!ret && rc)
		return fail(c, "reset: rc %ld", rc);
	return ret;
}

/*
 * Check 22: the VMM may stop the guest here and go on in a new process
 * (evtchn-vmm --save / --restore): a singleshot timer armed before the
 * checkpoint ticks after it, system time never goes back, IPIs and
 * loopback sends still arrive -- and, measured, still make no exit where
 * the KVM back end took them before.  Without --save the checkpoint is
 * nothing and the same holds.
 */
#define AFTER_TRIPS 200u

int check_migrate(struct check *c)
{
	uint32_t ipi, a, b, timer, ticks;
	uint64_t t0, t1;
	long rc;
	int ret;

	if (!helper_ready(c, 1))
		return -1;
	rc = ev_reset();
	if (rc)
		return fail(c, "reset: rc %ld", rc);
	ev_set_abi(&abi_2l_ops);
	if (ev_bind_ipi(1, &ipi) || ev_alloc_unbound(&a) ||
	    ev_bind_interdomain(a, &b) ||
	    ev_bind_virq(VIRQ_TIMER, 0, &timer))
		return fail(c, "binds failed");
	if (!port_tracked(c, ipi) || !port_tracked(c, b) ||
	    !port_tracked(c, timer))
		return -1;
	if (ev_wait(0, b, 1, WAIT_NS) && !ev_count(0, b))
		return fail(c, "the event bind_interdomain raised was lost");
	ticks = ev_count(0, timer);
	t0 = xen_now();
	rc = hc_singleshot(0, t0 + MS(300));
	if (rc)
		return fail(c, "singleshot: rc %ld", rc);
	outb(VMM_PORT_CHECKPOINT, 1);
	t1 = xen_now();
	if (t1 < t0)
		return fail(c, "system time went back across the checkpoint "
			       "(%lu -> %lu ns)", (unsigned long)t0,
			    (unsigned long)t1);
	if (ev_wait(0, timer, ticks + 1, WAIT_NS))
		return fail(c, "the timer armed before the checkpoint did "
			       "not tick after it");
	if (ev_time(0, timer) < t0 + MS(300))
		return fail(c, "the timer ticked %lu ns early",
			    (unsigned long)(t0 + MS(300) - ev_time(0, timer)));
	load_begin();
	ret = round_trips(c, ipi, ipi, 1, AFTER_TRIPS);
	load_end(c, "ipi-after", AFTER_TRIPS, ret);
	if (ret)
		return ret;
	load_begin();
	ret = round_trips(c, a, b, 0, AFTER_TRIPS);
	load_end(c, "loopback-after", AFTER_TRIPS, ret);
	return ret;
}
