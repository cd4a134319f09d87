/* SPDX-License-Identifier: MIT */
/* The guest image: a static ELF64 x86-64 executable, its PT_LOAD segments
 * copied into RAM (the rest zero), its entry point kept. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm.h"
#include "vmm_abi.h"

static int bad(const char *path, const char *why)
{
	fprintf(stderr, "evtchn-vmm: %s: %s\n", path, why);
	return -EINVAL;
}

int vmm_load_elf(struct vmm *vm, const char *path)
{
	FILE *f = fopen(path, "rb");
	Elf64_Ehdr eh;
	int rc = 0;

	if (!f) {
		fprintf(stderr, "evtchn-vmm: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (fread(&eh, sizeof(eh), 1, f) != 1 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr)) {
		rc = bad(path, "not an ELF64 x86-64 image");
		goto out;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (fseek(f, (long)(eh.e_phoff + i * sizeof(ph)), SEEK_SET) ||
		    fread(&ph, sizeof(ph), 1, f) != 1) {
			rc = bad(path, "truncated program headers");
			goto out;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_paddr < VMM_GUEST_BASE || ph.p_filesz > ph.p_memsz ||
		    ph.p_memsz > vm->ram_size ||
		    ph.p_paddr > VMM_STACKS_TOP - VMM_STACK_SIZE * VMM_MAX_VCPUS -
					 ph.p_memsz) {
			rc = bad(path, "a segment outside the guest's RAM");
			goto out;
		}
		memset(vm->ram + ph.p_paddr, 0, ph.p_memsz);
		if (fseek(f, (long)ph.p_offset, SEEK_SET) ||
		    fread(vm->ram + ph.p_paddr, 1, ph.p_filesz, f) != ph.p_filesz) {
			rc = bad(path, "truncated segment");
			goto out;
		}
	}
	vm->entry = eh.e_entry;
out:
	fclose(f);
	return rc;
}
