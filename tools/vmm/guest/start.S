/* SPDX-License-Identifier: MIT */
/*
 * Entry of every vCPU (see ../vmm_abi.h): long mode, interrupts off,
 * RDI = vCPU id, RSI = number of vCPUs, RSP = the top of its own stack.
 * vCPU 0 zeroes .bss while the others wait on a flag in .data (which the
 * image itself initialises), so nobody relies on the loader for .bss and
 * nobody touches .bss before it is clean.
 */
	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	cld
	mov	%rdi, %r12		/* kept across the zeroing */
	mov	%rsi, %r13
	test	%rdi, %rdi
	jnz	1f

	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep stosb
	/* Fast-string stores are not ordered with later stores by the
	 * architecture: fence before the others may read .bss. */
	mfence
	movl	$1, bss_ready(%rip)
	jmp	2f

1:	pause
	cmpl	$0, bss_ready(%rip)
	je	1b

2:	mov	%r12, %rdi
	mov	%r13, %rsi
	and	$-16, %rsp		/* the SysV alignment at a call */
	xor	%ebp, %ebp
	call	guest_main
3:	cli
	hlt
	jmp	3b

	.data
	.balign 4
bss_ready:
	.long	0

/*
 * The hypercall page: writing its address to the Xen MSR makes the
 * hypervisor fill it with one 32-byte stub per hypercall.  It starts full
 * of INT3 so that a call through an unfilled page traps (vector 3) instead
 * of running into whatever follows.
 */
	.section .text.hypercall_page, "ax"
	.balign 4096
	.globl hypercall_page
hypercall_page:
	.fill	4096, 1, 0xcc

	.section .note.GNU-stack, "", @progbits
