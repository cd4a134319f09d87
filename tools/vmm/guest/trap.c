/* SPDX-License-Identifier: MIT */
/* The IDT, the local APIC, and the fatal end of any unexpected vector. */
#include "guest.h"

#define APIC_REG_TPR 0x80
#define APIC_REG_EOI 0xb0
#define APIC_REG_SVR 0xf0
#define APIC_REG_ICR_LO 0x300
#define APIC_REG_ICR_HI 0x310
#define APIC_SVR_ENABLE 0x100
#define APIC_ICR_BUSY (1u << 12)
#define APIC_ICR_ASSERT (1u << 14)

#define GATE_INTERRUPT 0x8e /* present, DPL 0, 64-bit interrupt gate */
#define KERNEL_CS 0x08	    /* VMM_GDT's code segment */
#define TRAP_STUB_SIZE 16

struct idt_entry {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
};

_Static_assert(sizeof(struct idt_entry) == 16, "IDT gate size");

/* What vectors.S pushed, lowest address first. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

extern const char trap_stubs[];
extern const char upcall_entry[], wake_entry[], spurious_entry[];

/* Built once by vCPU 0 before any other vCPU loads it. */
static struct idt_entry idt[256] __attribute__((aligned(16)));

static void idt_set(unsigned int vec, const void *handler)
{
	uint64_t a = (uint64_t)handler;

	idt[vec] = (struct idt_entry){
		.off_lo = (uint16_t)a,
		.sel = KERNEL_CS,
		.type = GATE_INTERRUPT,
		.off_mid = (uint16_t)(a >> 16),
		.off_hi = (uint32_t)(a >> 32),
	};
}

void idt_init(void)
{
	for (unsigned int v = 0; v < 256; v++)
		idt_set(v, trap_stubs + v * TRAP_STUB_SIZE);
	idt_set(UPCALL_VECTOR, upcall_entry);
	idt_set(WAKE_VECTOR, wake_entry);
	idt_set(SPURIOUS_VECTOR, spurious_entry);
}

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) desc = { sizeof(idt) - 1, (uint64_t)idt };

	asm volatile("lidt %0" : : "m"(desc) : "memory");
}

static void apic_write(uint32_t reg, uint32_t val)
{
	*(volatile uint32_t *)(VMM_APIC_BASE + reg) = val;
}

static uint32_t apic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(VMM_APIC_BASE + reg);
}

/* Software-enable this vCPU's APIC (it drops fixed interrupts until then)
 * with the spurious vector at 0xff, and accept every priority. */
void apic_enable(void)
{
	apic_write(APIC_REG_TPR, 0);
	apic_write(APIC_REG_SVR, APIC_SVR_ENABLE | SPURIOUS_VECTOR);
}

void apic_eoi(void)
{
	apic_write(APIC_REG_EOI, 0);
}

/* A fixed, edge, physical-destination IPI. */
void apic_send_ipi(uint32_t apic_id, uint8_t vector)
{
	uint64_t flags = irq_save();

	apic_write(APIC_REG_ICR_HI, apic_id << 24);
	apic_write(APIC_REG_ICR_LO, APIC_ICR_ASSERT | vector);
	for (unsigned int i = 0; i < 100000; i++) {
		if (!(apic_read(APIC_REG_ICR_LO) & APIC_ICR_BUSY))
			break;
		cpu_relax();
	}
	irq_restore(flags);
}

/* WAKE_VECTOR: it only ends a helper's HLT; the helper then looks at its
 * mailbox. */
void wake_interrupt(void)
{
	apic_eoi();
}

void guest_exit(uint8_t status)
{
	outb(VMM_PORT_EXIT, status);
	halt_forever();
}

/* The end of the run: a check line for the check that was running (if
 * any), the result, status 2. */
void trap_fatal(struct trap_frame *f)
{
	/* pairs with the release store in run_checks() */
	uint32_t nr = __atomic_load_n(&current_check_nr, __ATOMIC_ACQUIRE);
	char line[256];

	if (nr)
		fmt(line, sizeof(line), "FAIL %u - %s: ", nr,
		    __atomic_load_n(&current_check_desc, __ATOMIC_RELAXED));
	else
		fmt(line, sizeof(line), "trap before the checks: ");
	console_emergency(line);
	fmt(line, sizeof(line),
	    "vector %lu on vCPU %u, error %#lx, rip %#lx, cr2 %#lx, rsp %#lx\n",
	    f->vector, this_vcpu(), f->error, f->rip, read_cr2(), f->rsp);
	console_emergency(line);
	console_emergency("result: FAIL\n");
	guest_exit(2);
}
