/* SPDX-License-Identifier: MIT */
/*
 * The libevtchn back end: the scenario's domain is domain 0, privileged,
 * 2 vCPUs (as the dom0 the Xen side runs in), 2-level ABI, 64-bit layout.
 * Guest memory: pages 1..15 (page 0 is not RAM, like dom0's NULL page).
 * With --fifo the domain first switches to the FIFO ABI, as dom0's kernel
 * does at boot: control blocks in page 2, one event-array page (page 3)
 * with every event masked, as Linux prepares it.
 */
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xen/xen.h>
#include <xen/event_channel.h>

#include "evtchn/evtchn.h"
#include "oracle.h"

int oracle_main(int argc, char **argv, const struct oracle_backend *be);

#define PAGES 16u
#define ARG_GPA 0x1000u

struct lib_ctx {
	struct evtchn_domain *d;
	unsigned char *mem;
};

static void *lib_map(struct evtchn_domain *d, uint64_t gfn, bool writable,
		     void *opaque)
{
	struct lib_ctx *c = opaque;

	(void)d;
	(void)writable;
	if (gfn == 0 || gfn >= PAGES)
		return NULL;
	return c->mem + gfn * 4096;
}

/* Where the argument goes (a guest address); copied in for good memory. */
static uint64_t lib_arg(struct lib_ctx *c, void *arg, size_t len,
			enum oracle_addr where)
{
	switch (where) {
	case ORACLE_ADDR_NULL:
		return 0;
	case ORACLE_ADDR_UNMAPPED:
		return (uint64_t)PAGES * 4096 * 16;
	case ORACLE_ADDR_STRADDLE:
		memcpy(c->mem + PAGES * 4096 - 2, arg, 2);
		return PAGES * 4096 - 2;
	default:
		memcpy(c->mem + ARG_GPA, arg, len);
		return ARG_GPA;
	}
}

static long lib_op(void *opaque, int cmd, void *arg, size_t len,
		   enum oracle_addr where)
{
	struct lib_ctx *c = opaque;
	/* xencall passes cmd as an unsigned int; Xen reads an int */
	uint64_t args[6] = { (uint64_t)(unsigned)cmd,
			     lib_arg(c, arg, len, where) };
	long rc = evtchn_hypercall(c->d, 0, __HYPERVISOR_event_channel_op, args);

	if (where == ORACLE_ADDR_OK)
		memcpy(arg, c->mem + ARG_GPA, len);
	return rc;
}

static long lib_vcpu_op(void *opaque, int cmd, uint32_t vcpuid, void *arg,
			size_t len, enum oracle_addr where)
{
	struct lib_ctx *c = opaque;
	uint64_t args[6] = { (uint64_t)(unsigned)cmd, vcpuid,
			     lib_arg(c, arg, len, where) };

	return evtchn_hypercall(c->d, 0, __HYPERVISOR_vcpu_op, args);
}

int main(int argc, char **argv)
{
	struct lib_ctx c = { 0 };
	struct oracle_backend be = { "libevtchn", lib_op, lib_vcpu_op, &c };
	struct evtchn_domain_config cfg = { .domid = 0, .nr_vcpus = 2,
					    .privileged = true };
	struct evtchn_host *h;
	int rc;

	c.mem = calloc(PAGES, 4096);
	cfg.mem.map_cb = lib_map;
	cfg.mem.opaque = &c;
	if (!c.mem || evtchn_host_create(&h) ||
	    evtchn_domain_create(h, &cfg, &c.d))
		return 2;
	if (argc > 1 && !strcmp(argv[1], "--fifo")) {
		struct evtchn_init_control ic = { .control_gfn = 2 };
		struct evtchn_expand_array ea = { .array_gfn = 3 };

		for (ic.vcpu = 0; ic.vcpu < 2; ic.vcpu++) {
			ic.offset = ic.vcpu * 72;
			if (lib_op(&c, EVTCHNOP_init_control, &ic, sizeof(ic),
				   ORACLE_ADDR_OK))
				return 2;
		}
		/* Linux starts every event masked (init_array_page()). */
		for (uint32_t i = 0; i < 1024; i++)
			((uint32_t *)(c.mem + 3 * 4096))[i] =
				1u << EVTCHN_FIFO_MASKED;
		if (lib_op(&c, EVTCHNOP_expand_array, &ea, sizeof(ea),
			   ORACLE_ADDR_OK))
			return 2;
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	rc = oracle_main(argc, argv, &be);
	evtchn_domain_destroy(c.d);
	evtchn_host_destroy(h);
	free(c.mem);
	return rc;
}
