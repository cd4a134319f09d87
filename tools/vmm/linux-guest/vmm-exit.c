/* SPDX-License-Identifier: MIT */
/*
 * vmm-exit STATUS: tell evtchn-vmm the guest is done (its exit port,
 * vmm_abi.h), with STATUS as the VMM's exit status (0: every check
 * passed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

#include "../vmm_abi.h"

int main(int argc, char **argv)
{
	int status = argc > 1 ? atoi(argv[1]) : 0;

	if (ioperm(VMM_PORT_EXIT, 1, 1)) {
		perror("vmm-exit: ioperm");
		return 1;
	}
	outb((unsigned char)(status > 255 ? 255 : status), VMM_PORT_EXIT);
	return 0;
}
