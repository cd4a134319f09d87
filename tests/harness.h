/* SPDX-License-Identifier: MIT */
/* Test harness: a host with guests in flat memory, hypercalls issued the
 * way a guest issues them (argument structs in guest memory). */
#ifndef EVTCHN_TEST_HARNESS_H
#define EVTCHN_TEST_HARNESS_H

#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
#include <xen/sched.h>

#ifndef EVTCHNOP_reset_cont
#define EVTCHNOP_reset_cont 14 /* Xen-internal in the public header */
#endif

#include "evtchn/evtchn.h"
#include "evtchn_guest.h"

#define TH_MEM_PAGES 256u
/* FIFO: control blocks from page 60, event-array pages from page 64 */
#define TH_FIFO_CB_GFN 60u
#define TH_FIFO_ARRAY_GFN 64u
#define TH_MEM_SIZE (TH_MEM_PAGES * EVTCHN_PAGE_SIZE)
#define TH_MAX_VCPUS 64u
/* Guest pages 16..47 carry hypercall arguments, one page per thread. */
#define TH_SCRATCH_FIRST_GFN 16u
#define TH_SCRATCH_PAGES 32u

struct th_domain {
	struct evtchn_host *host;
	struct evtchn_domain *d;
	unsigned char *mem;         /* flat guest memory, TH_MEM_SIZE bytes */
	struct evtchn_guest g;      /* reference consumer */
	_Atomic unsigned upcalls[TH_MAX_VCPUS];
	/* with opts.irq: every interrupt the library asked for */
	struct evtchn_irq irqs[64];
	struct evtchn_irq last_irq;  /* the newest, whatever their number */
	_Atomic unsigned nr_irqs;
};

struct th_domain_opts {
	uint16_t domid;
	uint32_t nr_vcpus;
	enum evtchn_layout layout;
	bool privileged;
	uint32_t max_evtchn_port;
	bool irq;           /* irq_cb instead of upcall_cb */
	uint32_t nr_pirqs, nr_irqs_gsi; /* 0: the library's defaults */
	bool no_pirqs;
};

int th_domain_create(struct evtchn_host *h, struct th_domain *td,
		     const struct th_domain_opts *o);
void th_domain_destroy(struct th_domain *td);

/* Hypercall @nr (cmd, arg) from @vcpu with @arg copied through guest
 * memory and back; th_op for EVTCHNOPs, th_physdev (vCPU 0), th_hvm. */
long th_call(struct th_domain *td, uint32_t vcpu, uint64_t nr, uint64_t cmd,
	     void *arg, size_t len);
long th_op(struct th_domain *td, uint32_t vcpu, int cmd, void *arg,
	   size_t len);
long th_physdev(struct th_domain *td, int cmd, void *arg, size_t len);
long th_hvm(struct th_domain *td, uint32_t vcpu, uint64_t op, void *arg,
	    size_t len);
uint64_t th_scratch_gpa(void);
long th_hypercall(struct th_domain *td, uint32_t vcpu, uint64_t nr,
		  uint64_t a0, uint64_t a1, uint64_t a2);

/* Wrappers returning the port (>= 0) or Xen's error. */
long th_alloc_unbound(struct th_domain *td, domid_t dom, domid_t remote);
long th_bind_interdomain(struct th_domain *td, domid_t rdom, uint32_t rport);
long th_bind_ipi(struct th_domain *td, uint32_t vcpu);
long th_bind_virq(struct th_domain *td, uint32_t virq, uint32_t vcpu);
long th_close(struct th_domain *td, uint32_t port);
long th_send(struct th_domain *td, uint32_t vcpu, uint32_t port);
long th_unmask(struct th_domain *td, uint32_t port);
long th_bind_vcpu(struct th_domain *td, uint32_t port, uint32_t vcpu);
long th_status(struct th_domain *td, domid_t dom, uint32_t port,
	       struct evtchn_status *out);

/* Switch to FIFO: EVTCHNOP_init_control for every vCPU (returns the first
 * error), then @pages event-array pages.  th_fifo_expand adds @n more. */
long th_fifo_setup(struct th_domain *td, unsigned pages);
long th_fifo_expand(struct th_domain *td, unsigned n);
long th_set_priority(struct th_domain *td, uint32_t port, uint32_t prio);

bool th_pending(struct th_domain *td, uint32_t port);
bool th_masked(struct th_domain *td, uint32_t port);
void th_mask(struct th_domain *td, uint32_t port);
unsigned th_upcalls(struct th_domain *td, uint32_t vcpu);
/* Open descriptors of the process. */
int th_fd_count(void);

#endif
