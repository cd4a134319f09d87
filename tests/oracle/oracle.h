/* SPDX-License-Identifier: MIT */
/*
 * The differential oracle: one scenario engine, two back ends (raw
 * hypercalls in a real Xen dom0, and libevtchn).  A scenario is text, one
 * operation a line; the output names ports symbolically so that it does
 * not depend on absolute port numbers.  See docs/oracle.md.
 */
#ifndef EVTCHN_ORACLE_H
#define EVTCHN_ORACLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where an operation's argument struct lives. */
enum oracle_addr {
	ORACLE_ADDR_OK,       /* good memory */
	ORACLE_ADDR_NULL,     /* address 0 (unmapped in dom0) */
	ORACLE_ADDR_UNMAPPED, /* an address with nothing behind it */
	ORACLE_ADDR_STRADDLE, /* last bytes of memory, the rest unmapped */
};

struct oracle_backend {
	const char *name;
	/* __HYPERVISOR_event_channel_op @cmd with @arg (@len bytes) at @where;
	 * copies @arg in and out (out only from good memory).  Returns Xen's
	 * return value (0 or a negative Xen errno). */
	long (*op)(void *ctx, int cmd, void *arg, size_t len,
		   enum oracle_addr where);
	/* __HYPERVISOR_vcpu_op @cmd on @vcpuid from vCPU 0, the same way. */
	long (*vcpu_op)(void *ctx, int cmd, uint32_t vcpuid, void *arg,
			size_t len, enum oracle_addr where);
	void *ctx;
};

/* Run the scenario text @text (named @name) and print its normalised
 * results to @out.  Returns 0, or -1 for a malformed scenario. */
int oracle_run(const struct oracle_backend *be, const char *name,
	       const char *text, FILE *out);

/* Read a whole file; NULL on error. */
char *oracle_slurp(const char *path);

#endif
