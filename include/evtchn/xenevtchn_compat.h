/* SPDX-License-Identifier: MIT */
/*
 * libevtchn-xenevtchn: Debian's <xenevtchn.h> API on top of backend
 * handles, for backends that link against libxenevtchn.  Link with
 * -levtchn-xenevtchn instead of -lxenevtchn; the library is separate from
 * libevtchn and never clashes with Debian's libxenevtchn.so.1.
 *
 * Which domain the xenevtchn_* handles act for: the one a VMM chooses with
 * evtchn_xenevtchn_use_domain() before opening handles, or, when none was
 * chosen, domain 0 of a host the library creates on the first
 * xenevtchn_open() (a program that never heard of evtchn works as in a Xen
 * dom0: loopback within domain 0 included).  That domain uses the FIFO ABI,
 * as a Linux dom0 does: 131,071 ports for handles, not 2-level's 4,095.  A
 * domain the VMM chooses has the ports its own ABI gives it: a backend
 * domain of the VMM's that should serve thousands of channels switches to
 * FIFO (EVTCHNOP_init_control) before handles bind.
 */
#ifndef EVTCHN_XENEVTCHN_COMPAT_H
#define EVTCHN_XENEVTCHN_COMPAT_H

#include "evtchn/evtchn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Handles opened from now on act for @d (NULL: back to the default).
 * Returns 0, or -EBUSY once the process-default host exists. */
EVTCHN_API int evtchn_xenevtchn_use_domain(struct evtchn_domain *d);

#ifdef __cplusplus
}
#endif
#endif
