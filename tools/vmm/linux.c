/* SPDX-License-Identifier: MIT */
/*
 * A Linux bzImage booted directly in 64-bit mode (the x86 64-bit boot
 * protocol, Documentation/x86/boot.rst): the zero page with the image's
 * setup header, an E820 map, the command line and the initrd; the
 * protected-mode payload at its preferred address; an MP table so that
 * the kernel finds every vCPU (there is no ACPI).  vCPU 0 enters at the
 * payload's 64-bit entry; the others wait for INIT and SIPI in KVM's
 * local APIC, as on a PC.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm.h"
#include "vmm_abi.h"

/* Where things go in guest memory (below 1 MiB but the kernel). */
#define ZERO_PAGE 0x7000ull
#define CMDLINE 0x20000ull
#define CMDLINE_MAX 2048
#define EBDA 0x9fc00ull
#define MPTABLE 0xf0000ull
#define KERNEL_DEFAULT 0x1000000ull

/* boot_params offsets (arch/x86/include/uapi/asm/bootparam.h) */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1
#define BP_SETUP_SECTS 0x1f1
#define BP_BOOT_FLAG 0x1fe
#define BP_HEADER 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_XLOADFLAGS 0x236
#define BP_PREF_ADDRESS 0x258
#define BP_INIT_SIZE 0x260
#define BP_E820_TABLE 0x2d0
#define XLF_KERNEL_64 (1u << 0)
#define LOADED_HIGH (1u << 0)
#define CAN_USE_HEAP (1u << 7)

#define E820_RAM 1
#define E820_RESERVED 2

static int read_file(const char *path, unsigned char **buf, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_size <= 0) {
		close(fd);
		return -EINVAL;
	}
	*buf = malloc((size_t)st.st_size);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, *buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(*buf);
		return -EIO;
	}
	*len = (size_t)st.st_size;
	return 0;
}

static void put16(unsigned char *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void e820_add(unsigned char *bp, uint64_t addr, uint64_t size,
		     uint32_t type)
{
	unsigned n = bp[BP_E820_ENTRIES];
	unsigned char *e = bp + BP_E820_TABLE + n * 20;

	memcpy(e, &addr, 8);
	memcpy(e + 8, &size, 8);
	put32(e + 16, type);
	bp[BP_E820_ENTRIES] = (unsigned char)(n + 1);
}

static uint8_t checksum(const unsigned char *p, size_t n)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

/*
 * The MP table (Intel MultiProcessor Specification 1.4): a floating
 * pointer and a configuration table with one processor entry per vCPU
 * (APIC ID = vCPU id, vCPU 0 the bootstrap processor), an ISA bus, the
 * IOAPIC at 0xfec00000 with ISA IRQs 0-15 on its pins 0-15 (as KVM's
 * default routing has them: its PIT raises GSI 0 on pin 0), and the local
 * interrupts (ExtINT on LINT0, NMI on
 * LINT1).
 */
static void mptable(struct vmm *vm)
{
	unsigned char *base = vm->ram + MPTABLE, *t = base + 16, *e;
	uint8_t ioapic_id = (uint8_t)vm->nr_vcpus;
	uint16_t entries = 0;

	memset(base, 0, 1024);
	/* floating pointer */
	memcpy(base, "_MP_", 4);
	put32(base + 4, (uint32_t)(MPTABLE + 16));
	base[8] = 1;    /* length in 16 bytes */
	base[9] = 4;    /* spec 1.4 */
	base[10] = checksum(base, 16);
	/* configuration table header (44 bytes), entries after it */
	memcpy(t, "PCMP", 4);
	t[6] = 4;
	memcpy(t + 8, "EVTCHN  ", 8);
	memcpy(t + 16, "evtchn-vmm  ", 12);
	put32(t + 36, (uint32_t)VMM_APIC_BASE);
	e = t + 44;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++, entries++) {
		e[0] = 0;           /* processor */
		e[1] = (uint8_t)i;  /* local APIC ID */
		e[2] = 0x14;        /* local APIC version */
		e[3] = 1 | (i == 0 ? 2 : 0); /* enabled, BSP */
		put32(e + 4, 0x600); /* family 6 */
		put32(e + 8, 0x201); /* FPU, APIC */
		e += 20;
	}
	e[0] = 1;               /* bus 0: ISA */
	e[1] = 0;
	memcpy(e + 2, "ISA   ", 6);
	e += 8;
	entries++;
	e[0] = 2;               /* IOAPIC */
	e[1] = ioapic_id;
	e[2] = 0x11;
	e[3] = 1;               /* enabled */
	put32(e + 4, 0xfec00000u);
	e += 8;
	entries++;
	for (uint8_t irq = 0; irq < 16; irq++, entries++) {
		e[0] = 3;       /* I/O interrupt */
		e[1] = 0;       /* INT */
		put16(e + 2, 0); /* conforming polarity and trigger */
		e[4] = 0;       /* bus */
		e[5] = irq;
		e[6] = ioapic_id;
		e[7] = irq;
		e += 8;
	}
	e[0] = 4;               /* local interrupt: ExtINT on LINT0 */
	e[1] = 3;
	e[4] = 0;
	e[5] = 0;
	e[6] = 0xff;            /* every local APIC */
	e[7] = 0;
	e += 8;
	e[0] = 4;               /* NMI on LINT1 */
	e[1] = 1;
	e[6] = 0xff;
	e[7] = 1;
	e += 8;
	entries += 2;
	put16(t + 4, (uint16_t)(e - t));
	put16(t + 34, entries);
	t[7] = checksum(t, (size_t)(e - t));
}

int vmm_load_linux(struct vmm *vm, const char *kernel, const char *initrd,
		   const char *cmdline)
{
	unsigned char *img = NULL, *rd = NULL, *bp = vm->ram + ZERO_PAGE;
	size_t img_len, rd_len = 0, setup_len, hdr_end;
	uint64_t load, init_size, rd_addr = 0;
	int rc;

	rc = read_file(kernel, &img, &img_len);
	if (rc) {
		fprintf(stderr, "evtchn-vmm: --kernel %s: %s\n", kernel,
			strerror(-rc));
		return rc;
	}
	rc = -EINVAL;
	if (img_len < 0x1000 || get32(img + BP_HEADER) != 0x53726448 ||
	    img[BP_BOOT_FLAG] != 0x55 || img[BP_BOOT_FLAG + 1] != 0xaa ||
	    (img[BP_VERSION] | img[BP_VERSION + 1] << 8) < 0x20c ||
	    !(img[BP_XLOADFLAGS] & XLF_KERNEL_64)) {
		fprintf(stderr, "evtchn-vmm: %s is not a bzImage with a 64-bit "
				"entry (boot protocol 2.12+)\n", kernel);
		goto out;
	}
	setup_len = ((size_t)(img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4) +
		     1) * 512;
	memcpy(&load, img + BP_PREF_ADDRESS, 8);
	init_size = get32(img + BP_INIT_SIZE);
	if (!load || load % 0x200000)
		load = KERNEL_DEFAULT;
	if (setup_len >= img_len || load + init_size > vm->ram_size / 2) {
		fprintf(stderr, "evtchn-vmm: %s: does not fit in %llu MiB\n",
			kernel, (unsigned long long)(vm->ram_size >> 20));
		goto out;
	}
	if (initrd) {
		rc = read_file(initrd, &rd, &rd_len);
		if (rc) {
			fprintf(stderr, "evtchn-vmm: --initrd %s: %s\n", initrd,
				strerror(-rc));
			goto out;
		}
		rc = -EINVAL;
		/* at the top of RAM, below the 2 GiB initrd_addr_max */
		rd_addr = ((vm->ram_size < 0x80000000ull ? vm->ram_size
							  : 0x80000000ull) -
			   rd_len) & ~0xfffull;
		if (rd_addr < load + init_size) {
			fprintf(stderr, "evtchn-vmm: the initrd does not fit\n");
			goto out;
		}
		memcpy(vm->ram + rd_addr, rd, rd_len);
	}
	if (strlen(cmdline) >= CMDLINE_MAX) {
		fprintf(stderr, "evtchn-vmm: --cmdline: at most %d bytes\n",
			CMDLINE_MAX - 1);
		goto out;
	}
	memcpy(vm->ram + load, img + setup_len, img_len - setup_len);
	/* the zero page: the setup header as the image has it */
	memset(bp, 0, 4096);
	hdr_end = 0x202 + img[0x201];
	memcpy(bp + BP_HDR, img + BP_HDR, hdr_end - BP_HDR);
	bp[BP_TYPE_OF_LOADER] = 0xff;
	bp[BP_LOADFLAGS] |= LOADED_HIGH;
	bp[BP_LOADFLAGS] &= (unsigned char)~CAN_USE_HEAP;
	strcpy((char *)vm->ram + CMDLINE, cmdline);
	put32(bp + BP_CMD_LINE_PTR, (uint32_t)CMDLINE);
	put32(bp + BP_EXT_CMD_LINE_PTR, 0);
	put32(bp + BP_RAMDISK_IMAGE, (uint32_t)rd_addr);
	put32(bp + BP_RAMDISK_SIZE, (uint32_t)rd_len);
	put32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(rd_addr >> 32));
	put32(bp + BP_EXT_RAMDISK_SIZE, 0);
	e820_add(bp, 0, EBDA, E820_RAM);
	e820_add(bp, EBDA, 0x100000 - EBDA, E820_RESERVED);
	e820_add(bp, 0x100000, vm->ram_size - 0x100000, E820_RAM);
	mptable(vm);
	vm->is_linux = true;
	vm->entry = load + 0x200;
	vm->boot_params = ZERO_PAGE;
	rc = 0;
out:
	free(img);
	free(rd);
	return rc;
}
