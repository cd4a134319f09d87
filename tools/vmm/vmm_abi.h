/* SPDX-License-Identifier: MIT */
/*
 * What evtchn-vmm gives the freestanding test guest (tools/vmm/guest/), and
 * the guest relies on.  Shared by both sides; plain constants only.
 *
 * Machine: guest RAM from GPA 0 (VMM_RAM_SIZE), an in-kernel irqchip
 * (local APICs in xAPIC mode at 0xfee00000, APIC ID = vCPU id), no PIT
 * interrupts used.  The guest is a static ELF64 x86-64 image linked at
 * VMM_GUEST_BASE; the VMM loads its PT_LOAD segments and starts every vCPU
 * at its entry point:
 *   - 64-bit long mode, paging on, CR4.PAE, EFER.LME|LMA|NXE; the first
 *     4 GiB identity mapped with 2 MiB pages (page tables at
 *     VMM_PAGE_TABLES), writable, cacheable except the APIC's page;
 *   - a GDT at VMM_GDT: 0x08 64-bit code, 0x10 data; CS = 0x08,
 *     DS = ES = SS = FS = GS = 0x10;
 *   - RFLAGS = 0x2 (interrupts off), no IDT (the guest loads its own);
 *   - RDI = vCPU id, RSI = number of vCPUs, RSP = the top of that vCPU's
 *     VMM_STACK_SIZE stack below VMM_STACKS_TOP.
 * Xen: CPUID leaves 0x40000000.. say "XenVMMXenVMM" (max leaf 0x40000004),
 * version 4.17 (0x40000001), one hypercall page through MSR VMM_XEN_MSR
 * (0x40000002: eax = 1 page, ebx = the MSR).  Writing the MSR with a page's
 * GPA fills it with hypercall stubs (KVM does it): entry N at N * 32.
 * Hypercalls follow the 64-bit Xen ABI (rdi, rsi, rdx, r10, r8).
 * shared_info appears where the guest asks (XENMEM_add_to_physmap,
 * XENMAPSPACE_shared_info) at a GPA at or above VMM_RAM_SIZE (outside RAM).
 *
 * Test devices (port I/O):
 *   VMM_PORT_SERIAL  (0x3f8): outb a character: the console (8250 THR).
 *   VMM_PORT_EXIT    (0xf4):  outb a status: the guest is done; 0 = all
 *                             checks passed.  The VMM exits with it.
 *   VMM_PORT_CLOCK   (0x510): inl twice: Xen system time in ns (the value
 *                             the VMM's library uses for timers), low then
 *                             high 32 bits, latched at the low read.
 *   VMM_PORT_LOAD    (0x511): outb VMM_LOAD_START / VMM_LOAD_END around a
 *                             measured load: the VMM prints the exits
 *                             made in between, by kind.
 *   VMM_PORT_CHECKPOINT (0x513): outb anything: with --save FILE the VMM
 *                             stops every vCPU here, writes the machine
 *                             to FILE and exits (status 75); --restore
 *                             FILE carries on after the OUT.  Without
 *                             --save nothing happens.
 *   VMM_PORT_VIRQ    (0x514): outb a VIRQ number: the VMM raises that
 *                             global VIRQ (evtchn_send_virq()).
 *   VMM_PORT_DEVICE  (0x512): outl the GPA (8-byte aligned) of a struct
 *                             vmm_dev_req: a request to the echo device
 *                             (tools/vmm/device.c), done when the OUT
 *                             returns, its result in the struct.
 *
 * The echo device, outside the guest (a thread of the VMM, domain 0):
 *   VMM_DEV_BACKEND     a port of domain 0, unbound for the guest, bound
 *                       by a backend handle that answers every
 *                       notification with one (result: the port);
 *   VMM_DEV_ROUTE_ECHO  the guest's sends on @port signal an eventfd
 *                       (route PORT_TO_FD); each signal is answered on an
 *                       eventfd routed to @port2 on vCPU @vcpu
 *                       (FD_TO_PORT);
 *   VMM_DEV_MSI_ECHO    the same, the answer an MSI to PIRQ @pirq
 *                       (FD_TO_PIRQ);
 *   VMM_DEV_CLEAR       every route of the device removed.
 * result: 0 or a port, or a negative errno.
 */
#ifndef EVTCHN_VMM_ABI_H
#define EVTCHN_VMM_ABI_H

#define VMM_RAM_SIZE 0x4000000ull         /* 64 MiB */
#define VMM_GUEST_BASE 0x100000ull        /* where the guest is linked */
#define VMM_GDT 0x8000ull
#define VMM_PAGE_TABLES 0x9000ull         /* PML4, PDPT, 4 PDs: 0x9000-0xefff */
#define VMM_STACKS_TOP 0x3000000ull       /* stacks grow down from here */
#define VMM_STACK_SIZE 0x10000ull         /* 64 KiB a vCPU */
#define VMM_XEN_MSR 0x40000000u
#define VMM_APIC_BASE 0xfee00000ull

#define VMM_PORT_SERIAL 0x3f8
#define VMM_PORT_EXIT 0xf4
#define VMM_PORT_CLOCK 0x510
#define VMM_PORT_LOAD 0x511
#define VMM_LOAD_START 1
#define VMM_LOAD_END 2
#define VMM_PORT_DEVICE 0x512
#define VMM_PORT_CHECKPOINT 0x513
#define VMM_PORT_VIRQ 0x514 /* outb V: the VMM sends global VIRQ V */
#define VMM_EXIT_SAVED 75 /* the VMM's status after --save */

#define VMM_DEV_BACKEND 1
#define VMM_DEV_ROUTE_ECHO 2
#define VMM_DEV_MSI_ECHO 3
#define VMM_DEV_CLEAR 4

#ifndef __ASSEMBLER__
struct vmm_dev_req {
	unsigned int op;
	unsigned int port;
	unsigned int port2;
	unsigned int vcpu;
	unsigned int pirq;
	int result;
};
#endif

#endif
