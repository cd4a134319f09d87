/* SPDX-License-Identifier: MIT */
/*
 * The Xen back end: raw __HYPERVISOR_event_channel_op hypercalls from a
 * real Xen dom0 through libxencall (linked statically into the initramfs).
 */
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <xencall.h>
#include <xen/xen.h>

#include "oracle.h"

int oracle_main(int argc, char **argv, const struct oracle_backend *be);

struct xen_ctx {
	xencall_handle *xc;
	unsigned char *buf;   /* hypercall buffer */
	unsigned char *edge;  /* a page whose successor is unmapped */
	unsigned char *hole;  /* an unmapped page */
};

/* Where the argument goes; copied in for good memory. */
static uint64_t xen_arg(struct xen_ctx *c, void *arg, size_t len,
			enum oracle_addr where)
{
	switch (where) {
	case ORACLE_ADDR_NULL:
		return 0;
	case ORACLE_ADDR_UNMAPPED:
		return (uintptr_t)c->hole;
	case ORACLE_ADDR_STRADDLE:
		memcpy(c->edge + 4094, arg, 2);
		return (uintptr_t)(c->edge + 4094);
	default:
		memcpy(c->buf, arg, len);
		return (uintptr_t)c->buf;
	}
}

/* The runner stays on dom0's vCPU 0 (main()), the "current" vCPU of a
 * VCPUOP that only works on the caller. */
static long xen_vcpu_op(void *opaque, int cmd, uint32_t vcpuid, void *arg,
			size_t len, enum oracle_addr where)
{
	struct xen_ctx *c = opaque;
	uint64_t addr = xen_arg(c, arg, len, where);
	int rc = xencall3(c->xc, __HYPERVISOR_vcpu_op, (unsigned)cmd, vcpuid,
			  addr);

	return rc < 0 ? -errno : rc;
}

static long xen_op(void *opaque, int cmd, void *arg, size_t len,
		   enum oracle_addr where)
{
	struct xen_ctx *c = opaque;
	uint64_t addr;
	int rc;

	switch (where) {
	case ORACLE_ADDR_NULL:
		addr = 0;
		break;
	case ORACLE_ADDR_UNMAPPED:
		addr = (uintptr_t)c->hole;
		break;
	case ORACLE_ADDR_STRADDLE:
		memcpy(c->edge + 4094, arg, 2);
		addr = (uintptr_t)(c->edge + 4094);
		break;
	default:
		memcpy(c->buf, arg, len);
		addr = (uintptr_t)c->buf;
		break;
	}
	rc = xencall2(c->xc, __HYPERVISOR_event_channel_op, (unsigned)cmd,
		      addr);
	if (where == ORACLE_ADDR_OK)
		memcpy(arg, c->buf, len);
	return rc < 0 ? -errno : rc;
}

int main(int argc, char **argv)
{
	struct xen_ctx c = { 0 };
	struct oracle_backend be = { "xen", xen_op, xen_vcpu_op, &c };
	unsigned char *two;
	cpu_set_t cpu0;

	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	if (sched_setaffinity(0, sizeof(cpu0), &cpu0)) {
		perror("sched_setaffinity");
		return 2;
	}

	c.xc = xencall_open(NULL, 0);
	if (!c.xc) {
		perror("xencall_open");
		return 2;
	}
	c.buf = xencall_alloc_buffer(c.xc, 4096);
	two = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (!c.buf || two == MAP_FAILED)
		return 2;
	munmap(two + 4096, 4096);
	c.edge = two;
	c.hole = two + 4096;
	return oracle_main(argc, argv, &be);
}
