/* SPDX-License-Identifier: MIT */
/*
 * <xenevtchn.h> on top of libevtchn's backend handles.  The header itself
 * is included, so the compiler checks every prototype against Debian's.
 *
 * libxenevtchn's conventions: a port or 0 on success, -1 with errno set on
 * failure (errno is the positive value of the library's negative code).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>
#include <xenevtchn.h>
#include <xen/xen.h>
#include <xen/event_channel.h>

#include "evtchn/backend.h"
#include "evtchn/xenevtchn_compat.h"

#define EXPORT __attribute__((visibility("default")))

struct xenevtchn_handle {
	struct evtchn_backend *b;
};

/* The domain handles act for; the process-default host when none. */
static pthread_mutex_t compat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct evtchn_domain *chosen;
static struct evtchn_host *default_host;
static struct evtchn_domain *default_dom0;
/* Domain 0's memory: page 0 for hypercall arguments, page 1 its FIFO
 * control block. */
static unsigned char default_mem[2 * EVTCHN_PAGE_SIZE]
	__attribute__((aligned(EVTCHN_PAGE_SIZE)));

int evtchn_xenevtchn_use_domain(struct evtchn_domain *d)
{
	int rc = 0;

	pthread_mutex_lock(&compat_lock);
	if (default_host)
		rc = -EBUSY;
	else
		chosen = d;
	pthread_mutex_unlock(&compat_lock);
	return rc;
}

/*
 * The FIFO ABI for the default domain, as the Linux dom0 a backend normally
 * runs in has it: 131,071 ports instead of 2-level's 4,095, so a backend
 * serving many guests meets no limit a real dom0 would not.  Only the
 * control block is set up: ports that handles own never use event words.
 */
static int default_fifo(struct evtchn_domain *d)
{
	struct evtchn_init_control ic = { .control_gfn = 1, .vcpu = 0 };
	const uint64_t args[6] = { EVTCHNOP_init_control, 0 };

	memcpy(default_mem, &ic, sizeof(ic));
	return (int)evtchn_hypercall(d, 0, __HYPERVISOR_event_channel_op, args);
}

static struct evtchn_domain *compat_domain(void)
{
	struct evtchn_domain_config cfg = { .domid = 0, .nr_vcpus = 1,
					    .privileged = true };
	struct evtchn_domain *d;

	pthread_mutex_lock(&compat_lock);
	d = chosen ? chosen : default_dom0;
	if (!d && evtchn_host_create(&default_host) == 0) {
		/* Domain 0 is a backend domain: no guest memory of its own
		 * is ever touched but this page. */
		evtchn_guest_mem_flat(&cfg.mem, default_mem,
				      sizeof(default_mem));
		if (evtchn_domain_create(default_host, &cfg, &default_dom0)) {
			evtchn_host_destroy(default_host);
			default_host = NULL;
		} else if (default_fifo(default_dom0)) {
			evtchn_domain_destroy(default_dom0);
			evtchn_host_destroy(default_host);
			default_host = NULL;
			default_dom0 = NULL;
		}
		d = default_dom0;
	}
	pthread_mutex_unlock(&compat_lock);
	return d;
}

static int fail(int rc)
{
	errno = -rc;
	return -1;
}

EXPORT xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
					unsigned int flags)
{
	struct evtchn_domain *d = compat_domain();
	xenevtchn_handle *h;
	int rc;

	(void)logger;
	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	rc = evtchn_backend_open(d, flags & XENEVTCHN_NO_CLOEXEC
					    ? EVTCHN_BACKEND_NO_CLOEXEC : 0,
				 &h->b);
	if (rc) {
		free(h);
		errno = -rc;
		return NULL;
	}
	return h;
}

/* There is no device to reopen: a descriptor is only usable through the
 * handle that made it.  EBADF, as for any descriptor that is not an event
 * channel device. */
EXPORT xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger,
					  int fd, unsigned int open_flags)
{
	(void)logger;
	(void)fd;
	(void)open_flags;
	errno = EBADF;
	return NULL;
}

EXPORT int xenevtchn_close(xenevtchn_handle *xce)
{
	if (!xce)
		return 0;
	evtchn_backend_close(xce->b);
	free(xce);
	return 0;
}

EXPORT int xenevtchn_fd(xenevtchn_handle *xce)
{
	return evtchn_backend_fd(xce->b);
}

EXPORT int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	int rc = evtchn_backend_notify(xce->b, port);

	return rc < 0 ? fail(rc) : 0;
}

EXPORT xenevtchn_port_or_error_t
xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
	int rc = domid > 0xffff ? -EINVAL
				: evtchn_backend_bind_unbound(xce->b, domid);

	return rc < 0 ? fail(rc) : rc;
}

EXPORT xenevtchn_port_or_error_t
xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
			   evtchn_port_t remote_port)
{
	int rc = domid > 0xffff ? -EINVAL
				: evtchn_backend_bind_interdomain(
					  xce->b, domid, remote_port);

	return rc < 0 ? fail(rc) : rc;
}

EXPORT xenevtchn_port_or_error_t
xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
	int rc = evtchn_backend_bind_virq(xce->b, virq);

	return rc < 0 ? fail(rc) : rc;
}

EXPORT int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	int rc = evtchn_backend_unbind(xce->b, port);

	return rc < 0 ? fail(rc) : 0;
}

EXPORT xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	int rc = evtchn_backend_pending(xce->b);

	return rc < 0 ? fail(rc) : rc;
}

EXPORT int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	int rc = evtchn_backend_unmask(xce->b, port);

	return rc < 0 ? fail(rc) : 0;
}

EXPORT int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
	int rc = evtchn_backend_restrict(xce->b, domid);

	return rc < 0 ? fail(rc) : 0;
}
