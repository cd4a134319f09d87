/* SPDX-License-Identifier: MIT */
/*
 * The docs/api.md walk-through as a program (built and run by the tests):
 * a VMM with one 2-vCPU guest in flat memory wires in libevtchn, forwards
 * the guest's EVTCHNOP_bind_virq, raises VIRQ_TIMER and sees the upcall;
 * the guest binds a PIRQ and a device's MSI reaches it; then the domain is
 * saved and restored on a second host, as in a migration.
 */
/* Xen's headers give the current hypercall numbers only with a modern
 * interface version (or __XEN_TOOLS__); without it, <xen/xen.h> maps
 * __HYPERVISOR_event_channel_op to the old compat hypercall 16. */
#define __XEN_TOOLS__ 1

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include <evtchn/evtchn.h>

#define GUEST_RAM (1u << 20)

static unsigned upcalls;

/* Called when a vCPU's evtchn_upcall_pending goes 0 -> 1: a real VMM
 * injects the callback vector (or sets the GSI) here. */
static void raise_upcall(struct evtchn_domain *d, uint32_t vcpu, void *opaque)
{
	(void)d;
	(void)opaque;
	printf("inject upcall into vCPU %u\n", vcpu);
	upcalls++;
}

int main(void)
{
	struct evtchn_domain_config cfg = {
		.domid = 1, .nr_vcpus = 2, .layout = EVTCHN_LAYOUT_64,
		.upcall_cb = raise_upcall,
	};
	struct evtchn_bind_virq bind = { .virq = VIRQ_TIMER, .vcpu = 1 };
	const uint64_t arg_gpa = 0x1000;
	struct evtchn_host *host;
	struct evtchn_domain *dom;
	unsigned char *ram = calloc(1, GUEST_RAM);
	uint64_t regs[6] = { EVTCHNOP_bind_virq, arg_gpa };
	long rc;

	if (!ram || evtchn_host_create(&host))
		return 1;
	evtchn_guest_mem_flat(&cfg.mem, ram, GUEST_RAM);
	if (evtchn_domain_create(host, &cfg, &dom))
		return 1;

	/* The guest put its argument at 0x1000 and trapped: forward it. */
	memcpy(ram + arg_gpa, &bind, sizeof(bind));
	rc = evtchn_hypercall(dom, 0, __HYPERVISOR_event_channel_op, regs);
	memcpy(&bind, ram + arg_gpa, sizeof(bind));
	printf("EVTCHNOP_bind_virq -> %ld (%s), port %u\n", rc,
	       evtchn_strerror((int)rc), bind.port);
	if (rc != 0 || bind.port != 1)
		return 1;

	/* The VMM's timer for vCPU 1 expired. */
	evtchn_send_virq(dom, 1, VIRQ_TIMER);
	if (upcalls != 1)
		return 1;

	/* The guest binds PIRQ 40 and programs a device's MSI with data
	 * vector 0 and the PIRQ in the address (dest id 40); the device's
	 * write reaches the PIRQ's port (notify vCPU 0). */
	struct evtchn_bind_pirq bp = { .pirq = 40 };
	uint64_t msi_addr = 0xfee00000u | (40u << 12);

	regs[0] = EVTCHNOP_bind_pirq;
	memcpy(ram + arg_gpa, &bp, sizeof(bp));
	rc = evtchn_hypercall(dom, 0, __HYPERVISOR_event_channel_op, regs);
	memcpy(&bp, ram + arg_gpa, sizeof(bp));
	printf("EVTCHNOP_bind_pirq{40} -> %ld, port %u\n", rc, bp.port);
	if (rc != 0 || evtchn_msi_inject(dom, msi_addr, 0) != 0 ||
	    upcalls != 2)
		return 1;

	/* Migration: the image and the guest's RAM go to another host. */
	struct evtchn_host *host2;
	struct evtchn_domain *dom2;
	void *img;
	size_t len;

	if (evtchn_domain_save(dom, &img, &len) ||
	    evtchn_host_create(&host2) ||
	    evtchn_domain_create(host2, &cfg, &dom2))
		return 1;
	rc = evtchn_domain_restore(dom2, img, len);
	printf("restored a %zu-byte image: %ld\n", len, rc);
	if (rc == -EOPNOTSUPP) { /* a newer libevtchn's image: say why */
		struct evtchn_image_info info;

		evtchn_image_inspect(img, len, &info);
		printf("image format %u needs section %u\n", info.format,
		       info.unknown_required);
	}
	free(img);
	if (rc)
		return 1;

	evtchn_domain_destroy(dom2);
	evtchn_domain_destroy(dom);
	if (evtchn_host_destroy(host2) || evtchn_host_destroy(host))
		return 1;
	free(ram);
	return 0;
}
