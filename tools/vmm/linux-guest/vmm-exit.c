/* SPDX-License-Identifier: MIT */
/*
 * vmm-exit STATUS: tell evtchn-vmm the guest is done (its exit port,
 * vmm_abi.h), with STATUS as the VMM's exit status (0: every check
 * passed).
 *
 * The byte goes through /dev/port, so that the kernel writes it: a guest
 * restored on the KVM that QEMU's TCG nests cannot use ioperm() and OUT
 * itself (KVM hands back the task register as a busy TSS, as the CPU
 * holds it, and QEMU's port check then refuses every user-mode OUT:
 * docs/vmm.md).  Without /dev/port it falls back to ioperm() and OUT.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>
#include <unistd.h>

#include "../vmm_abi.h"

int main(int argc, char **argv)
{
	int status = argc > 1 ? atoi(argv[1]) : 0;
	unsigned char b = (unsigned char)(status > 255 ? 255 : status);
	int fd = open("/dev/port", O_WRONLY);

	if (fd >= 0) {
		ssize_t n = pwrite(fd, &b, 1, VMM_PORT_EXIT);

		close(fd);
		if (n == 1)
			return 0;
	}
	if (ioperm(VMM_PORT_EXIT, 1, 1)) {
		perror("vmm-exit: ioperm");
		return 1;
	}
	outb(b, VMM_PORT_EXIT);
	return 0;
}
