/* SPDX-License-Identifier: MIT */
/*
 * USDT trace points (provider "evtchn"), from <sys/sdt.h> of systemtap-sdt-dev.
 * A probe is one nop in the code and a note in the ELF file; a tracer
 * (bpftrace, perf, systemtap) patches it only while it is attached, so an
 * untraced send pays nothing but the nop.  Built without <sys/sdt.h>, the
 * macros are empty.  docs/tracing.md lists the probes and their arguments.
 */
#ifndef EVTCHN_TRACE_H
#define EVTCHN_TRACE_H

#ifdef EVTCHN_HAVE_SDT
#include <sys/sdt.h>
#define TRACE2(name, a, b) STAP_PROBE2(evtchn, name, a, b)
#define TRACE3(name, a, b, c) STAP_PROBE3(evtchn, name, a, b, c)
#define TRACE4(name, a, b, c, d) STAP_PROBE4(evtchn, name, a, b, c, d)
#else
#define TRACE2(name, a, b) do { } while (0)
#define TRACE3(name, a, b, c) do { } while (0)
#define TRACE4(name, a, b, c, d) do { } while (0)
#endif

/* send(domid, port, rc): EVTCHNOP_send and evtchn_port_raise() */
#define trace_send(domid, port, rc) TRACE3(send, domid, port, rc)
/* deliver(domid, vcpu, port): an event reaches a port (before the ABI) */
#define trace_deliver(domid, vcpu, port) TRACE3(deliver, domid, vcpu, port)
/* upcall(domid, vcpu): evtchn_upcall_pending went 0 -> 1 */
#define trace_upcall(domid, vcpu) TRACE2(upcall, domid, vcpu)
/* bind(domid, port, state, arg): a port is bound; state is Xen's ECS_*,
 * arg the remote domid, VIRQ, PIRQ or vCPU that goes with it */
#define trace_bind(domid, port, state, arg) TRACE4(bind, domid, port, state, arg)
/* close(domid, port): a port is unpublished (freed after a grace period) */
#define trace_close(domid, port) TRACE2(close, domid, port)

#endif /* EVTCHN_TRACE_H */
