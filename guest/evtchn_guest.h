/* SPDX-License-Identifier: MIT */
/*
 * Reference guest-side consumer of Xen event channels (2-level ABI): what a
 * guest kernel does with shared_info and vcpu_info, written after Linux's
 * drivers/xen/events behaviour, for tests, the demo and benchmarks.
 *
 * Each vCPU's calls must come from one thread at a time (as a real vCPU's
 * upcall handler); different vCPUs may run concurrently.  Every access to
 * shared memory is atomic, as the hypervisor side writes it concurrently.
 */
#ifndef EVTCHN_GUEST_H
#define EVTCHN_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Issue EVTCHNOP @cmd from vCPU @vcpu with argument struct @arg (@len
 * bytes), copying it in and out of guest memory; returns Xen's value. */
typedef long (*evtchn_guest_op_cb)(void *ctx, uint32_t vcpu, int cmd,
				   void *arg, size_t len);

/* Called for each event the upcall handler takes. */
typedef void (*evtchn_guest_event_cb)(uint32_t vcpu, uint32_t port,
				      void *opaque);

/* A vCPU's own state is written on every upcall: each vCPU's sits in a
 * cache line of its own, as a guest's per-CPU data does, so that vCPU
 * threads do not slow each other down through it. */
struct evtchn_guest_scan {
	uint32_t word;  /* where the next scan starts: fairness */
	uint32_t bit;
	uint32_t pad[14];
};

#define EVTCHN_GUEST_FIFO_PAGES 128
#define EVTCHN_GUEST_FIFO_QUEUES 16

struct evtchn_guest {
	unsigned char *shared_info;
	bool compat;                   /* 32-bit layout */
	/* FIFO ABI, once evtchn_guest_fifo_init_vcpu() succeeded */
	bool fifo;
	uint32_t *fifo_array[EVTCHN_GUEST_FIFO_PAGES]; /* event words */
	uint32_t fifo_pages;
	void **fifo_cb;                /* [nr_vcpus] control blocks */
	uint32_t (*fifo_head)[EVTCHN_GUEST_FIFO_QUEUES]; /* local heads, a
							  * line per vCPU */
	uint32_t nr_vcpus;
	unsigned char **vcpu_info;     /* [nr_vcpus] */
	uint16_t *port_vcpu;           /* [nr ports]: vCPU a port is bound to */
	struct evtchn_guest_scan *scan;
	evtchn_guest_op_cb op;
	void *ctx;
};

int evtchn_guest_init(struct evtchn_guest *g, void *shared_info, bool compat,
		      uint32_t nr_vcpus, evtchn_guest_op_cb op, void *ctx);
void evtchn_guest_fini(struct evtchn_guest *g);
/* What evtchn_guest_init() gives, on a consumer made by it (the same vCPU
 * count and hypercall callback), without allocating again. */
int evtchn_guest_reset(struct evtchn_guest *g, void *shared_info,
		       bool compat);
uint32_t evtchn_guest_nr_ports(const struct evtchn_guest *g);

/* The vcpu_info the guest registered for @vcpu (VCPUOP_register_vcpu_info). */
void evtchn_guest_set_vcpu_info(struct evtchn_guest *g, uint32_t vcpu,
				void *vcpu_info);
/* Record which vCPU handles @port (Linux's cpu_evtchn mask). */
void evtchn_guest_bind_port(struct evtchn_guest *g, uint32_t port,
			    uint32_t vcpu);

/* The upcall handler of vCPU @vcpu: clear upcall_pending, exchange the
 * selector, scan the pending words fairly from where the last scan
 * stopped, clear each event's pending bit and dispatch it; repeat while
 * upcall_pending was raised again.  Returns the number of events. */
unsigned evtchn_guest_upcall(struct evtchn_guest *g, uint32_t vcpu,
			     evtchn_guest_event_cb cb, void *opaque);

void evtchn_guest_mask(struct evtchn_guest *g, uint32_t port);
/* Linux's HVM unmask from vCPU @vcpu: clear the mask locally; when the
 * event is pending (or the port belongs to another vCPU), re-mask and ask
 * the hypervisor with EVTCHNOP_unmask. */
void evtchn_guest_unmask(struct evtchn_guest *g, uint32_t vcpu,
			 uint32_t port);
bool evtchn_guest_is_pending(const struct evtchn_guest *g, uint32_t port);
bool evtchn_guest_is_masked(const struct evtchn_guest *g, uint32_t port);
bool evtchn_guest_upcall_pending(const struct evtchn_guest *g, uint32_t vcpu);

/*
 * FIFO ABI, as Linux's drivers/xen/events/events_fifo.c does it.
 * init_vcpu: EVTCHNOP_init_control for @vcpu with its control block at
 *   @cb (host address) = guest frame @gfn + @offset; the first one switches
 *   the domain (and this consumer) to FIFO.  Returns Xen's value.
 * expand: EVTCHNOP_expand_array with the zeroed page @page at @gfn.
 * Once in FIFO mode, evtchn_guest_upcall() consumes the queues (highest
 * priority first, clearing LINKED and following links), and mask, unmask
 * (BUSY-aware; EVTCHNOP_unmask when the event is pending), is_pending and
 * is_masked work on event words.
 */
long evtchn_guest_fifo_init_vcpu(struct evtchn_guest *g, uint32_t vcpu,
				 void *cb, uint64_t gfn, uint32_t offset);
long evtchn_guest_fifo_expand(struct evtchn_guest *g, void *page,
			      uint64_t gfn);
/* The domain was reset (EVTCHNOP_reset): the hypervisor is on the 2-level
 * ABI again.  Forget the FIFO control blocks, pages and queue heads (a
 * FIFO session started again gets new, zeroed ones, as a kernel that
 * starts afresh allocates them).  No upcall handler may run meanwhile. */
void evtchn_guest_fifo_forget(struct evtchn_guest *g);
/* The event word of @port, or NULL when its page was not added. */
uint32_t *evtchn_guest_fifo_word(const struct evtchn_guest *g, uint32_t port);
uint64_t evtchn_guest_pending_sel(const struct evtchn_guest *g,
				  uint32_t vcpu);

#endif /* EVTCHN_GUEST_H */
