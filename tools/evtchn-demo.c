/* SPDX-License-Identifier: MIT */
/*
 * evtchn-demo: a 2-vCPU guest in flat memory binds an IPI to vCPU 1 and an
 * interdomain loopback channel, sends on both, and its upcall handler (the
 * reference consumer) prints what it saw.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include "evtchn/evtchn.h"
#include "evtchn_guest.h"

#define MEM_SIZE (64u * EVTCHN_PAGE_SIZE)
#define ARG_GPA (16u * EVTCHN_PAGE_SIZE)

struct demo {
	struct evtchn_domain *d;
	unsigned char *mem;
	unsigned upcalls[2];
};

static void upcall_cb(struct evtchn_domain *d, uint32_t vcpu, void *opaque)
{
	struct demo *demo = opaque;

	(void)d;
	demo->upcalls[vcpu]++;
	printf("  hypervisor: raise upcall on vCPU %u\n", vcpu);
}

/* The guest's hypercall: argument struct in guest memory. */
static long guest_op(void *ctx, uint32_t vcpu, int cmd, void *arg, size_t len)
{
	struct demo *demo = ctx;
	uint64_t args[6] = { (uint64_t)cmd, ARG_GPA + vcpu * EVTCHN_PAGE_SIZE };
	long rc;

	memcpy(demo->mem + args[1], arg, len);
	rc = evtchn_hypercall(demo->d, vcpu, __HYPERVISOR_event_channel_op,
			      args);
	memcpy(arg, demo->mem + args[1], len);
	return rc;
}

static void on_event(uint32_t vcpu, uint32_t port, void *opaque)
{
	(void)opaque;
	printf("  guest vCPU %u: event on port %u\n", vcpu, port);
}

static int fail(const char *what, long rc)
{
	fprintf(stderr, "evtchn-demo: %s: %s\n", what, evtchn_strerror((int)rc));
	return 1;
}

int main(void)
{
	struct evtchn_domain_config cfg = { .domid = 1, .nr_vcpus = 2 };
	struct evtchn_bind_interdomain bi = { .remote_dom = DOMID_SELF };
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
					   .remote_dom = DOMID_SELF };
	struct evtchn_bind_ipi ipi = { .vcpu = 1 };
	struct evtchn_send send;
	struct evtchn_host *h;
	struct evtchn_guest g;
	struct demo demo = { 0 };
	long rc;

	demo.mem = calloc(1, MEM_SIZE);
	if (!demo.mem || evtchn_host_create(&h))
		return 1;
	evtchn_guest_mem_flat(&cfg.mem, demo.mem, MEM_SIZE);
	cfg.upcall_cb = upcall_cb;
	cfg.opaque = &demo;
	rc = evtchn_domain_create(h, &cfg, &demo.d);
	if (rc)
		return fail("domain_create", rc);
	evtchn_guest_init(&g, evtchn_domain_shared_info(demo.d), false, 2,
			  guest_op, &demo);

	printf("domain 1, 2 vCPUs, 2-level ABI (64-bit layout)\n");
	rc = guest_op(&demo, 0, EVTCHNOP_bind_ipi, &ipi, sizeof(ipi));
	if (rc)
		return fail("bind_ipi", rc);
	evtchn_guest_bind_port(&g, ipi.port, 1);
	printf("EVTCHNOP_bind_ipi{vcpu 1} -> port %u\n", ipi.port);

	rc = guest_op(&demo, 0, EVTCHNOP_alloc_unbound, &au, sizeof(au));
	if (rc)
		return fail("alloc_unbound", rc);
	bi.remote_port = au.port;
	rc = guest_op(&demo, 0, EVTCHNOP_bind_interdomain, &bi, sizeof(bi));
	if (rc)
		return fail("bind_interdomain", rc);
	printf("EVTCHNOP_alloc_unbound -> port %u; bind_interdomain{SELF, %u} "
	       "-> port %u (Xen sets it pending)\n",
	       au.port, au.port, bi.local_port);
	printf("vCPU 0 upcall handler:\n");
	evtchn_guest_upcall(&g, 0, on_event, NULL);

	send.port = ipi.port;
	printf("vCPU 0: EVTCHNOP_send{%u} (IPI to vCPU 1)\n", send.port);
	guest_op(&demo, 0, EVTCHNOP_send, &send, sizeof(send));
	send.port = bi.local_port;
	printf("vCPU 0: EVTCHNOP_send{%u} (loopback: arrives on port %u)\n",
	       send.port, au.port);
	guest_op(&demo, 0, EVTCHNOP_send, &send, sizeof(send));
	printf("vCPU 1 upcall handler:\n");
	evtchn_guest_upcall(&g, 1, on_event, NULL);
	printf("vCPU 0 upcall handler:\n");
	evtchn_guest_upcall(&g, 0, on_event, NULL);
	printf("upcalls raised: vCPU0 %u, vCPU1 %u\n", demo.upcalls[0],
	       demo.upcalls[1]);
	evtchn_domain_dump(demo.d, stdout);

	evtchn_guest_fini(&g);
	evtchn_domain_destroy(demo.d);
	evtchn_host_destroy(h);
	free(demo.mem);
	return 0;
}
