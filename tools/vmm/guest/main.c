/* SPDX-License-Identifier: MIT */
/*
 * Boot of every vCPU, vCPU 0's setup, and the check list.  vCPU 0 drives
 * the checks and reports each as "ok N - ..." or "FAIL N - ...: why" on
 * the serial port, then "result: OK|FAIL", then the number of failures
 * (at most 255) to the exit port.  The others serve it (smp.c).
 */
#include "guest.h"

#define XEN_CPUID_BASE 0x40000000u
#define XEN_CPUID_HYPERCALL (XEN_CPUID_BASE + 2)

struct setup_state setup;
uint32_t current_check_nr;
const char *current_check_desc;

static struct percpu percpu[GUEST_MAX_VCPUS];

/* How far vCPU 0 has got; the others wait for each stage. */
enum { STAGE_IDT = 1, STAGE_HYPERCALLS = 2 };
static uint32_t stage;

struct check_def {
	const char *desc;
	int (*run)(struct check *c);
};

/* The numbers are the positions: the harness compares these lines
 * across modes, so the list only ever grows at the end. */
static const struct check_def checks[] = {
	{ "setup: Xen CPUID, hypercall page, shared_info, upcall vectors",
	  check_setup },
	{ "IPI vCPU0 -> vCPU1 and vCPU1 -> vCPU0", check_ipi },
	{ "VIRQ_TIMER on vCPU0 from VCPUOP_set_singleshot_timer",
	  check_singleshot },
	{ "VIRQ_TIMER on vCPU0 from set_timer_op", check_set_timer_op },
	{ "VIRQ_TIMER on vCPU1 from its own singleshot timer",
	  check_vcpu1_timer },
	{ "SCHEDOP_poll: never blocked past its timeout or the event",
	  check_poll },
	{ "loopback interdomain channel: both ends, EVTCHNOP_status",
	  check_loopback },
	{ "masked port: pending, no upcall; EVTCHNOP_unmask delivers",
	  check_mask },
	{ "EVTCHNOP_bind_vcpu moves an interdomain port to vCPU1",
	  check_bind_vcpu },
	{ "close and rebind an IPI port: same port, delivered once",
	  check_rebind },
	{ "EVTCHNOP_reset closes every port; a new bind works", check_reset },
	{ "switch to FIFO: init_control on every vCPU, expand_array",
	  check_fifo_switch },
	{ "IPI vCPU0 -> vCPU1 and vCPU1 -> vCPU0 (fifo)", check_ipi_fifo },
	{ "VIRQ_TIMER on vCPU0 from VCPUOP_set_singleshot_timer (fifo)",
	  check_singleshot_fifo },
	{ "loopback interdomain channel: both ends, EVTCHNOP_status (fifo)",
	  check_loopback_fifo },
	{ "masked port: pending, no upcall; EVTCHNOP_unmask delivers (fifo)",
	  check_mask_fifo },
	{ "reset back to 2-level, vcpu_info registered; a load of IPIs, "
	  "loopback sends and ticks",
	  check_load },
	{ "backend in domain 0: notify both ways through its eventfd",
	  check_backend },
	{ "routes: PORT_TO_FD doorbell answered by FD_TO_PORT, eventfds",
	  check_route_echo },
	{ "MSI to a PIRQ: FD_TO_PIRQ answers a doorbell", check_msi_echo },
	{ "a load of backend notifications, routed doorbells and MSIs",
	  check_load_devices },
	{ "checkpoint (--save/--restore): the timer, time, IPIs, loopback go on",
	  check_migrate },
	{ "FIFO again: a load of IPIs, loopback sends and ticks",
	  check_load_fifo },
};

static void stage_set(uint32_t s)
{
	/* pairs with the acquire load in stage_wait() */
	__atomic_store_n(&stage, s, __ATOMIC_RELEASE);
}

static void stage_wait(uint32_t s)
{
	/* Interrupts are still off here: spin, do not halt. */
	while (__atomic_load_n(&stage, __ATOMIC_ACQUIRE) < s)
		cpu_relax();
}

static void xen_detect(void)
{
	uint32_t r[4];

	cpuid(XEN_CPUID_BASE, r);
	setup.cpuid_max = r[0];
	/* "XenVMMXenVMM" in EBX, ECX, EDX */
	setup.xen_cpuid = !memcmp(&r[1], "XenV", 4) &&
			  !memcmp(&r[2], "MMXe", 4) &&
			  !memcmp(&r[3], "nVMM", 4);
	if (!setup.xen_cpuid || r[0] < XEN_CPUID_HYPERCALL)
		return;
	cpuid(XEN_CPUID_HYPERCALL, r);
	setup.cpuid_msr = r[1];
}

/* A write reads back: shared_info is memory, not a hole.  The probe is
 * the mask bit of the last 2-level port, which nothing binds. */
static bool shinfo_write_visible(void)
{
	size_t last = ARRAY_SIZE(shinfo->evtchn_mask) - 1;
	xen_ulong_t *w = &shinfo->evtchn_mask[last];
	xen_ulong_t top = (xen_ulong_t)1 << (sizeof(xen_ulong_t) * 8 - 1);
	bool seen;

	__atomic_fetch_or(w, top, __ATOMIC_SEQ_CST);
	seen = __atomic_load_n(w, __ATOMIC_SEQ_CST) & top;
	__atomic_fetch_and(w, ~top, __ATOMIC_SEQ_CST);
	return seen && !(__atomic_load_n(w, __ATOMIC_SEQ_CST) & top);
}

static void shared_info_map(void)
{
	struct xen_add_to_physmap xatp = {
		.domid = DOMID_SELF,
		.space = XENMAPSPACE_shared_info,
		.idx = 0,
		.gpfn = SHINFO_GPA / GUEST_PAGE_SIZE,
	};

	setup.physmap_rc = hc_memory_op(XENMEM_add_to_physmap, &xatp);
	if (setup.physmap_rc == 0)
		setup.shinfo_rw = shinfo_write_visible();
}

/*
 * Each vCPU for itself: its upcall vector (only once shared_info is
 * there: the handler reads it), and no periodic tick, as Linux stops it,
 * so that every VIRQ_TIMER is a singleshot's.
 */
static void vcpu_setup(uint32_t cpu)
{
	struct xen_hvm_evtchn_upcall_vector op = { .vcpu = cpu,
						   .vector = UPCALL_VECTOR };

	if (setup.physmap_rc == 0 && setup.shinfo_rw)
		setup.vector_rc[cpu] =
			hc_hvm_op(HVMOP_set_evtchn_upcall_vector, &op);
	else
		setup.vector_rc[cpu] = -GUEST_ENOSYS;
	setup.periodic_rc[cpu] =
		hc_vcpu_op(VCPUOP_stop_periodic_timer, cpu, NULL);
	/* the results before the flag: pairs with the acquire load in
	 * helper_ready() */
	__atomic_store_n(&setup.online[cpu], 1, __ATOMIC_RELEASE);
}

static unsigned int run_checks(void)
{
	unsigned int failed = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(checks); i++) {
		struct check c = { .nr = i + 1 };

		/* for trap_fatal(), maybe on another vCPU */
		__atomic_store_n(&current_check_desc, checks[i].desc,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&current_check_nr, c.nr, __ATOMIC_RELEASE);
		if (checks[i].run(&c) == 0) {
			gprintf("ok %u - %s\n", c.nr, checks[i].desc);
			continue;
		}
		failed++;
		gprintf("FAIL %u - %s: %s\n", c.nr, checks[i].desc,
			c.detail[0] ? c.detail : "failed");
	}
	__atomic_store_n(&current_check_nr, 0, __ATOMIC_RELAXED);
	return failed;
}

/* vCPU 0: set the machine up for everyone, then run the checks. */
static void __attribute__((noreturn)) vcpu0_main(void)
{
	unsigned int failed;

	setup.clock_ok = clock_advances();
	xen_detect();
	/* Not a Xen interface: no WRMSR (it may #GP), no hypercalls. */
	if (setup.xen_cpuid)
		setup.hypercall_page = hypercall_page_setup();
	if (setup.hypercall_page)
		shared_info_map();
	else
		setup.physmap_rc = -GUEST_ENOSYS;
	stage_set(STAGE_HYPERCALLS);
	vcpu_setup(0);
	irq_enable();
	failed = run_checks();
	gprintf("result: %s\n", failed ? "FAIL" : "OK");
	guest_exit(failed > 255 ? 255 : (uint8_t)failed);
}

void guest_main(uint64_t id, uint64_t nr)
{
	uint32_t cpu = (uint32_t)id;

	/* vCPUs past the legacy vcpu_info array would need their own
	 * registration; they take no part. */
	if (cpu >= GUEST_MAX_VCPUS)
		halt_forever();
	percpu[cpu].id = cpu;
	wrmsr(MSR_GS_BASE, (uint64_t)&percpu[cpu]);
	if (cpu == 0) {
		setup.nr_vcpus = (uint32_t)nr;
		idt_init();
		stage_set(STAGE_IDT);
	} else {
		stage_wait(STAGE_IDT);
	}
	idt_load();
	apic_enable();
	if (cpu == 0)
		vcpu0_main();
	stage_wait(STAGE_HYPERCALLS);
	vcpu_setup(cpu);
	helper_main(cpu);
}
