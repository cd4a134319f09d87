/* SPDX-License-Identifier: MIT */
/*
 * Routes: the table proposed on the KVM list in 2021 and never merged
 * upstream.  One call installs a domain's complete table atomically (as
 * KVM_SET_GSI_ROUTING does for IRQs); one call assigns, replaces or
 * deassigns a single entry.  Senders never wait while a table is
 * replaced; the old table is freed after an RCU grace period.
 *
 * Entry kinds:
 *  PORT_TO_FD    a guest's EVTCHNOP_send on @port signals eventfd @fd
 *                (an out-of-process backend wakes without the VMM);
 *  PORT_TO_PORT  a guest's EVTCHNOP_send on @port makes @target_port of
 *                the same guest pending (loopback with separate source and
 *                target ports);
 *  FD_TO_PORT    a write to eventfd @fd makes @port pending on vCPU
 *                @vcpu (an irqfd), without the VMM: the library's I/O
 *                thread (evtchn_routes_thread_start()) or the VMM's own
 *                loop (evtchn_routes_fd() + evtchn_routes_dispatch())
 *                watches the descriptors;
 *  FD_TO_PIRQ    a write to eventfd @fd is an MSI to PIRQ @pirq, as
 *                evtchn_msi_inject() delivers it (the irqfd of an assigned
 *                device whose MSI the guest programmed with data vector 0:
 *                evtchn_msi_pirq() gives the PIRQ); watched like FD_TO_PORT.
 * A sending route applies where Xen would deliver the send (the port is
 * bound interdomain or IPI) and replaces that delivery; on an unbound
 * port the send is dropped as in Xen, on a free port it is -EINVAL.
 *
 * Keys and deassignment: PORT_TO_FD and PORT_TO_PORT by @port (deassign:
 * fd -1 / target_port 0), FD_TO_PORT by @port, its target, FD_TO_PIRQ by
 * @pirq (deassign: fd -1).  Errors follow KVM's uAPI where it has one:
 * port 0 or beyond the ABI's maximum -EINVAL, a duplicate key -EEXIST,
 * deassigning an unknown entry -ENOENT; and: unknown kind or vCPU -EINVAL,
 * PIRQ 0 or beyond the domain's nr_pirqs -EINVAL, a closed descriptor
 * -EBADF, a descriptor that is not an eventfd -EINVAL, an eventfd that is
 * not non-blocking (EFD_NONBLOCK) -EINVAL: the library reads and writes
 * them inside an RCU read-side section, where it must never wait.  Reads
 * also ask the kernel for no wait on each call (RWF_NOWAIT), so clearing
 * O_NONBLOCK later (it belongs to the file description, shared with every
 * process that holds the fd) cannot block them; a write of 1 blocks only at
 * an eventfd count of 2^64 - 2, which a process sharing the description can
 * bring about only by clearing O_NONBLOCK and filling the count itself.
 *
 * Descriptors: the library keeps its own duplicate of every fd in a route
 * and closes it exactly once (on deassignment, replacement or domain
 * destruction); the caller keeps and closes its own.
 */
#ifndef EVTCHN_ROUTE_H
#define EVTCHN_ROUTE_H

#include <stdint.h>

#include "evtchn/evtchn.h"

#ifdef __cplusplus
extern "C" {
#endif

enum evtchn_route_kind {
	EVTCHN_ROUTE_PORT_TO_FD = 1,
	EVTCHN_ROUTE_PORT_TO_PORT = 2,
	EVTCHN_ROUTE_FD_TO_PORT = 3,
	EVTCHN_ROUTE_FD_TO_PIRQ = 4,
};

struct evtchn_route {
	uint32_t kind;         /* enum evtchn_route_kind */
	uint32_t port;         /* the key: see above */
	int32_t fd;            /* PORT_TO_FD, FD_TO_PORT; -1 deassigns */
	uint32_t target_port;  /* PORT_TO_PORT; 0 deassigns */
	uint32_t vcpu;         /* FD_TO_PORT */
	uint32_t pirq;         /* FD_TO_PIRQ: the key */
};

/* Replace @d's whole table with @n entries (0: none).  All or nothing. */
EVTCHN_API int evtchn_routes_set(struct evtchn_domain *d,
				 const struct evtchn_route *routes, unsigned n);
/* Assign or replace the entry with @r's key, or deassign it. */
EVTCHN_API int evtchn_route_update(struct evtchn_domain *d,
				   const struct evtchn_route *r);

/* FD_TO_PORT, FD_TO_PIRQ: an epoll descriptor, readable when a watched
 * eventfd was signalled; then call evtchn_routes_dispatch() (non-blocking;
 * returns the number of signals handled by Xen's rules: events raised, and
 * MSIs to PIRQs delivered or dropped for want of a port).  Or let the
 * library's own thread do it. */
EVTCHN_API int evtchn_routes_fd(struct evtchn_domain *d);
EVTCHN_API int evtchn_routes_dispatch(struct evtchn_domain *d);
EVTCHN_API int evtchn_routes_thread_start(struct evtchn_domain *d);
EVTCHN_API int evtchn_routes_thread_stop(struct evtchn_domain *d);

#ifdef __cplusplus
}
#endif
#endif
