/* SPDX-License-Identifier: MIT */
/*
 * The FIFO ABI, guest side, after Linux's drivers/xen/events/events_fifo.c:
 * a control block per vCPU (READY bits, a HEAD per priority), one
 * event-array page (ports 0..1023) whose words the hypervisor links into
 * per-vCPU queues.
 */
#include "guest.h"

#define WORDS_PER_PAGE (GUEST_PAGE_SIZE / sizeof(event_word_t))
#define QUEUES_MASK ((1u << EVTCHN_FIFO_MAX_QUEUES) - 1)
#define W_PENDING (1u << EVTCHN_FIFO_PENDING)
#define W_MASKED (1u << EVTCHN_FIFO_MASKED)
#define W_LINKED (1u << EVTCHN_FIFO_LINKED)
#define MAX_FIFO_STEPS (4 * WORDS_PER_PAGE)

static event_word_t event_array[WORDS_PER_PAGE] PAGE_ALIGNED;

static struct {
	uint8_t bytes[GUEST_PAGE_SIZE];
} cb_page[GUEST_MAX_VCPUS] PAGE_ALIGNED;

/* Set before the vCPU's EVTCHNOP_init_control; NULL: not on FIFO. */
static struct evtchn_fifo_control_block *control[GUEST_MAX_VCPUS];

/* Where each vCPU's queues continue; only that vCPU's handler uses its
 * row (0: at the tail, read HEAD from the control block next time). */
static uint32_t queue_head[GUEST_MAX_VCPUS][EVTCHN_FIFO_MAX_QUEUES];

static event_word_t *word_of(uint32_t port)
{
	return port < WORDS_PER_PAGE ? &event_array[port] : NULL;
}

/* Linux's clear_linked(): take the word off its queue, return the link. */
static uint32_t clear_linked(event_word_t *word)
{
	event_word_t w = __atomic_load_n(word, __ATOMIC_SEQ_CST), new;

	do {
		new = w & ~(W_LINKED | EVTCHN_FIFO_LINK_MASK);
	} while (!__atomic_compare_exchange_n(word, &w, new, false,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	return w & EVTCHN_FIFO_LINK_MASK;
}

/* Linux's consume_one_event(): the head of queue @prio. */
static void consume_one(uint32_t cpu, struct evtchn_fifo_control_block *cb,
			unsigned int prio, uint32_t *ready)
{
	uint32_t port = queue_head[cpu][prio];
	event_word_t *word, w;
	uint32_t next;

	if (port == 0) /* reached the tail last time: HEAD is new */
		port = __atomic_load_n(&cb->head[prio], __ATOMIC_ACQUIRE);
	word = port ? word_of(port) : NULL;
	if (!word) {
		/* A head no bind gave: drop the queue rather than loop. */
		*ready &= ~(1u << prio);
		queue_head[cpu][prio] = 0;
		return;
	}
	next = clear_linked(word);
	if (next == 0)
		*ready &= ~(1u << prio);
	queue_head[cpu][prio] = next;
	w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
	if ((w & (W_PENDING | W_MASKED)) != W_PENDING)
		return;
	/* Ack before handling: a new event links the word again. */
	if (__atomic_fetch_and(word, ~W_PENDING, __ATOMIC_SEQ_CST) & W_PENDING)
		ev_record(cpu, port);
}

/* Linux's __evtchn_fifo_handle_events(), with a bound on the steps: a
 * queue that links back into itself must not keep this vCPU here with
 * interrupts off for ever (its events are lost; a check then fails). */
static void drain_queues(uint32_t cpu, struct evtchn_fifo_control_block *cb)
{
	/* Only the 16 queues exist, whatever the word says. */
	uint32_t ready = __atomic_exchange_n(&cb->ready, 0, __ATOMIC_SEQ_CST) &
			 QUEUES_MASK;

	for (uint32_t steps = 0; ready && steps < MAX_FIFO_STEPS; steps++) {
		unsigned int prio = (unsigned int)__builtin_ctz(ready);

		consume_one(cpu, cb, prio, &ready);
		ready |= __atomic_exchange_n(&cb->ready, 0, __ATOMIC_SEQ_CST) &
			 QUEUES_MASK;
	}
}

static void upcall_fifo(uint32_t cpu)
{
	struct evtchn_fifo_control_block *cb =
		__atomic_load_n(&control[cpu], __ATOMIC_ACQUIRE);
	struct vcpu_info *vi = ev_vcpu_info(cpu);

	for (unsigned int round = 0; round < MAX_UPCALL_ROUNDS; round++) {
		/* Cleared before READY is read: an event linked after this
		 * store sets it again and the loop goes round. */
		__atomic_store_n(&vi->evtchn_upcall_pending, 0,
				 __ATOMIC_SEQ_CST);
		if (!cb)
			return; /* no queues of ours: nothing to take */
		drain_queues(cpu, cb);
		if (!__atomic_load_n(&vi->evtchn_upcall_pending,
				     __ATOMIC_SEQ_CST))
			return;
	}
}

/*
 * EVTCHNOP_init_control for @cpu (any vCPU may do it for any other).  The
 * control block is published first: the first call switches the domain
 * to FIFO, and the handler must then find the block.  The caller makes
 * sure no event is in flight meanwhile.
 */
long fifo_init_vcpu(uint32_t cpu, uint8_t *link_bits)
{
	struct evtchn_init_control op = {
		.control_gfn = (uint64_t)&cb_page[cpu] / GUEST_PAGE_SIZE,
		.vcpu = cpu,
	};
	long rc;

	memset(&cb_page[cpu], 0, sizeof(cb_page[cpu]));
	memset(queue_head[cpu], 0, sizeof(queue_head[cpu]));
	__atomic_store_n(&control[cpu],
			 (struct evtchn_fifo_control_block *)&cb_page[cpu],
			 __ATOMIC_RELEASE);
	rc = hc_evtchn_op(EVTCHNOP_init_control, &op);
	if (rc)
		__atomic_store_n(&control[cpu], NULL, __ATOMIC_RELEASE);
	*link_bits = op.link_bits;
	return rc;
}

/* Linux's init_array_page(): every word masked before the hypervisor
 * sees the page; binding a port unmasks it. */
long fifo_expand(void)
{
	struct evtchn_expand_array op = {
		.array_gfn = (uint64_t)event_array / GUEST_PAGE_SIZE,
	};

	for (uint32_t i = 0; i < WORDS_PER_PAGE; i++)
		__atomic_store_n(&event_array[i], W_MASKED, __ATOMIC_RELAXED);
	/* Written before the page is the hypervisor's; the hypercall, a VM
	 * exit, orders them before it. */
	return hc_evtchn_op(EVTCHNOP_expand_array, &op);
}

static bool mask_fifo(uint32_t port)
{
	event_word_t *word = word_of(port);

	return word ? __atomic_fetch_or(word, W_MASKED, __ATOMIC_SEQ_CST) &
			      W_MASKED
		    : true;
}

static void enable_fifo(uint32_t port)
{
	event_word_t *word = word_of(port);

	if (word)
		__atomic_fetch_and(word, ~W_MASKED, __ATOMIC_SEQ_CST);
}

static void set_vcpu_fifo(uint32_t port, uint32_t vcpu)
{
	/* The hypervisor queues on the port's vCPU: nothing to note. */
	(void)port;
	(void)vcpu;
}

static bool test_fifo(uint32_t port, enum ev_bit bit)
{
	static const event_word_t bits[] = {
		[EV_PENDING] = W_PENDING,
		[EV_MASKED] = W_MASKED,
		[EV_LINKED] = W_LINKED,
	};
	event_word_t *word = word_of(port);

	if (!word)
		return bit == EV_MASKED; /* no word: as if masked */
	return __atomic_load_n(word, __ATOMIC_SEQ_CST) & bits[bit];
}

const struct abi_ops abi_fifo_ops = {
	.upcall = upcall_fifo,
	.mask = mask_fifo,
	.enable = enable_fifo,
	.set_vcpu = set_vcpu_fifo,
	.test = test_fifo,
};
