/* SPDX-License-Identifier: MIT */
/*
 * Backend handles: the userspace end of interdomain channels, with the
 * semantics of Linux's /dev/xen/evtchn.
 *
 * A handle acts for a backend domain @d (any domain of the host; domain 0
 * by convention).  The ports it binds are ports of @d that deliver to the
 * handle instead of to @d's shared_info: each handle has a file descriptor
 * that is readable while one of its ports has an event to report.  A port
 * is reported once, then stays masked until the handle unmasks it; events
 * that arrive meanwhile are remembered (one) and reported after the
 * unmask.  A guest's send to a handle's port queues it and signals the
 * descriptor without a lock and without calling the VMM.
 *
 * Returns: a port (>= 0) or 0, or a negative errno: Xen's values for what
 * the hypercall would refuse, and Linux's driver errors otherwise
 * (-ENOTCONN: the port is not bound by this handle; -EACCES: refused by
 * the handle's domid restriction; -EAGAIN: nothing pending).
 *
 * Threads: any thread; calls on one handle are serialised by the handle.
 * evtchn_backend_close() must not race with other calls on the handle.
 */
#ifndef EVTCHN_BACKEND_H
#define EVTCHN_BACKEND_H

#include <stdint.h>

#include "evtchn/evtchn.h"

#ifdef __cplusplus
extern "C" {
#endif

struct evtchn_backend;

/* The descriptor is not close-on-exec. */
#define EVTCHN_BACKEND_NO_CLOEXEC (1u << 0)

EVTCHN_API int evtchn_backend_open(struct evtchn_domain *d, unsigned flags,
				   struct evtchn_backend **out);
/* Unbinds (closes) every port of the handle and closes its descriptor. */
EVTCHN_API int evtchn_backend_close(struct evtchn_backend *b);
/* Readable (poll/epoll) while a port is pending; do not read it directly. */
EVTCHN_API int evtchn_backend_fd(struct evtchn_backend *b);
EVTCHN_API struct evtchn_domain *evtchn_backend_domain(struct evtchn_backend *b);

/* Bind to @domid's port @remote_port, unbound for the handle's domain. */
EVTCHN_API int evtchn_backend_bind_interdomain(struct evtchn_backend *b,
					       uint16_t domid,
					       uint32_t remote_port);
/* A new port of the handle's domain, unbound for @domid to bind. */
EVTCHN_API int evtchn_backend_bind_unbound(struct evtchn_backend *b,
					   uint16_t domid);
/* VIRQ @virq of the handle's domain, on vCPU 0. */
EVTCHN_API int evtchn_backend_bind_virq(struct evtchn_backend *b,
					uint32_t virq);
/* Close a port of the handle. */
EVTCHN_API int evtchn_backend_unbind(struct evtchn_backend *b, uint32_t port);
/* EVTCHNOP_send on a port of the handle. */
EVTCHN_API int evtchn_backend_notify(struct evtchn_backend *b, uint32_t port);
/* The next reported port, or -EAGAIN; the port stays masked. */
EVTCHN_API int evtchn_backend_pending(struct evtchn_backend *b);
/* Report @port again when it has an event; a port that is not the
 * handle's is ignored (0), as Linux's driver does. */
EVTCHN_API int evtchn_backend_unmask(struct evtchn_backend *b, uint32_t port);
/* From now on bind only to @domid (permanent): interdomain binds to other
 * domains, unbound ports and VIRQs are refused with -EACCES. */
EVTCHN_API int evtchn_backend_restrict(struct evtchn_backend *b,
				       uint16_t domid);

#ifdef __cplusplus
}
#endif
#endif /* EVTCHN_BACKEND_H */
