/* SPDX-License-Identifier: MIT */
/*
 * vCPUs other than 0 ("helpers"): after their own setup they halt, and
 * wake for events (which the upcall handler counts) or for a command
 * vCPU 0 left in their mailbox, followed by a WAKE_VECTOR IPI.  One
 * command at a time per helper; vCPU 0 alone posts.
 */
#include "guest.h"

struct mailbox {
	uint32_t seq;  /* bumped by vCPU 0 for a new command (release) */
	uint32_t done; /* seq of the last one the helper finished (release) */
	uint32_t cmd;
	uint32_t port;
	uint64_t arg;
	long rc;
	uint64_t out;
} __attribute__((aligned(64)));

static struct mailbox mailbox[GUEST_MAX_VCPUS];

static long run(uint32_t cpu, struct mailbox *mb)
{
	uint32_t port;
	long rc;

	switch (mb->cmd) {
	case CMD_SEND:
		delay_ns(mb->arg);
		return ev_send(mb->port);
	case CMD_BIND_TIMER:
		rc = ev_bind_virq(VIRQ_TIMER, cpu, &port);
		mb->out = rc ? 0 : port;
		return rc;
	case CMD_SINGLESHOT:
		/* VCPUOP_set_singleshot_timer works on the caller only. */
		mb->out = xen_now() + mb->arg;
		return hc_singleshot(cpu, mb->out);
	case CMD_REGISTER_VCPU_INFO:
		return ev_register_vcpu_info(cpu);
	default:
		return -GUEST_ENOSYS;
	}
}

void helper_main(uint32_t cpu)
{
	struct mailbox *mb = &mailbox[cpu];
	uint32_t done = 0;

	for (;;) {
		uint32_t seq;

		/* Look with interrupts off, so that the wake IPI cannot come
		 * between the look and the HLT (safe_halt()). */
		irq_disable();
		/* pairs with the release store in smp_post() */
		seq = __atomic_load_n(&mb->seq, __ATOMIC_ACQUIRE);
		if (seq == done) {
			safe_halt();
			continue;
		}
		irq_enable();
		mb->rc = run(cpu, mb);
		done = seq;
		/* pairs with the acquire load in smp_wait() */
		__atomic_store_n(&mb->done, seq, __ATOMIC_RELEASE);
	}
}

static bool helper_online(uint32_t cpu)
{
	return cpu > 0 && cpu < setup.nr_vcpus && cpu < GUEST_MAX_VCPUS &&
	       __atomic_load_n(&setup.online[cpu], __ATOMIC_ACQUIRE);
}

/* Give @cpu a command and wake it; -1 if it is not there or still busy
 * with the last one (a wait for it timed out). */
int smp_post(uint32_t cpu, enum smp_cmd cmd, uint32_t port, uint64_t arg)
{
	struct mailbox *mb = &mailbox[cpu];

	if (!helper_online(cpu) ||
	    __atomic_load_n(&mb->done, __ATOMIC_ACQUIRE) != mb->seq)
		return -1;
	mb->cmd = cmd;
	mb->port = port;
	mb->arg = arg;
	/* the command before the number: pairs with the acquire load in
	 * helper_main() */
	__atomic_store_n(&mb->seq, mb->seq + 1, __ATOMIC_RELEASE);
	apic_send_ipi(cpu, WAKE_VECTOR);
	return 0;
}

/* Until @cpu has finished the posted command; -1 after WAIT_NS. */
int smp_wait(uint32_t cpu, long *rc, uint64_t *out)
{
	struct mailbox *mb = &mailbox[cpu];
	struct bound b;

	bound_start(&b, WAIT_NS);
	/* pairs with the release store in helper_main() */
	while (__atomic_load_n(&mb->done, __ATOMIC_ACQUIRE) != mb->seq) {
		if (bound_passed(&b))
			return -1;
		cpu_relax();
	}
	if (rc)
		*rc = mb->rc;
	if (out)
		*out = mb->out;
	return 0;
}

int smp_call(uint32_t cpu, enum smp_cmd cmd, uint32_t port, uint64_t arg,
	     long *rc, uint64_t *out)
{
	if (smp_post(cpu, cmd, port, arg))
		return -1;
	return smp_wait(cpu, rc, out);
}
