/* SPDX-License-Identifier: MIT */
/*
 * Interrupt entry stubs.  The upcall and wake vectors return to the
 * interrupted code, so they save every general register (the C handler
 * may clobber any caller-saved one, and the interrupted code expects all
 * of them back).  Every other vector, exceptions first, is fatal: its
 * stub records the vector and lands in trap_fatal(), which reports and
 * ends the run with status 2.  No SSE state is saved: the C code is built
 * with -mgeneral-regs-only.
 */
	.code64
	.text

	.macro SAVE_REGS
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rbp
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	.endm

	.macro RESTORE_REGS
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rbp
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rbx
	pop	%rax
	.endm

	/*
	 * The CPU aligned RSP to 16 before pushing its 40-byte frame, so
	 * the depth here is known; aligning explicitly anyway keeps the
	 * ABI's rule at the call whatever the frame.  RBX (callee-saved)
	 * holds the unaligned value across the call.  DF is cleared for C.
	 */
	.macro IRQ_STUB name, handler
	.globl	\name
	.balign	16
\name:
	SAVE_REGS
	cld
	mov	%rsp, %rbx
	and	$-16, %rsp
	call	\handler
	mov	%rbx, %rsp
	RESTORE_REGS
	iretq
	.endm

	IRQ_STUB upcall_entry, upcall_interrupt
	IRQ_STUB wake_entry, wake_interrupt

	/* The APIC's spurious vector: no EOI, nothing to do. */
	.globl	spurious_entry
	.balign	16
spurious_entry:
	iretq

	/*
	 * One 16-byte fatal stub per vector, at trap_stubs + 16 * vector.
	 * Exceptions with an error code have it on the stack already; the
	 * others push 0, so trap_fatal() sees one frame layout.
	 */
	.macro TRAP_STUB vec
	.balign	16
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || \
	    (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$\vec
	jmp	trap_common		/* at most 2 + 5 + 5 bytes */
	.endm

	.balign	16
	.globl	trap_stubs
trap_stubs:
	.altmacro
	.set	vec, 0
	.rept	256
	TRAP_STUB %vec
	.set	vec, vec + 1
	.endr
	.noaltmacro

trap_common:
	SAVE_REGS
	cld
	mov	%rsp, %rdi		/* struct trap_frame * */
	and	$-16, %rsp
	call	trap_fatal
1:	cli
	hlt
	jmp	1b

	.section .note.GNU-stack, "", @progbits
