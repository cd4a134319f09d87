/* SPDX-License-Identifier: MIT */
/*
 * The freestanding test guest of evtchn-vmm: declarations shared by its
 * files.  Xen's guest ABI comes from Debian's Xen headers only (xen/xen.h
 * and the others), the machine (memory map, ports) from ../vmm_abi.h.
 */
#ifndef GUEST_H
#define GUEST_H

/* The modern hypercall numbers and structures, not the legacy ones. */
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>

#include "../vmm_abi.h"
#include "arch.h"

/* vcpu_info lives in shared_info for these; more vCPUs just park. */
#define GUEST_MAX_VCPUS XEN_LEGACY_MAX_VCPUS
#define GUEST_PAGE_SIZE 4096u
#define SHINFO_GPA VMM_RAM_SIZE /* first page outside RAM */
#define UPCALL_VECTOR 0xf3
#define WAKE_VECTOR 0xf0    /* LAPIC IPI that ends a helper's HLT */
#define SPURIOUS_VECTOR 0xff
#define NR_TRACKED_PORTS 256u /* ports whose events are counted */
/* Rounds of one upcall while the hypervisor keeps upcall_pending set. */
#define MAX_UPCALL_ROUNDS 1000u

#define MS(x) ((uint64_t)(x) * 1000000ull)
/* The bound on every wait for something that must happen.  Generous: on
 * a loaded host under an emulator a vCPU can stall for seconds (its exits
 * wait for a descheduled VMM thread), and a bound only matters when the
 * awaited thing is lost. */
#define WAIT_NS MS(10000)

#define GUEST_ENOSYS 38 /* Xen's ENOSYS: no hypercall page */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PAGE_ALIGNED __attribute__((aligned(4096)))

/* lib.c */
void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
int vfmt(char *buf, size_t size, const char *fmt, va_list ap);
int fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_emergency(const char *s);
void spin_lock(uint32_t *lock);
void spin_unlock(uint32_t *lock);
bool spin_trylock_bounded(uint32_t *lock, unsigned long tries);
uint64_t xen_now(void);
void delay_ns(uint64_t ns);
bool clock_advances(void);

struct bound {
	uint64_t end;
	uint64_t polls_left;
};

void bound_start(struct bound *b, uint64_t ns);
bool bound_passed(struct bound *b);

/* main.c, entered from start.S */
void guest_main(uint64_t id, uint64_t nr) __attribute__((noreturn));

/* trap.c (wake_interrupt and trap_fatal are entered from vectors.S) */
struct trap_frame;
void wake_interrupt(void);
void trap_fatal(struct trap_frame *f) __attribute__((noreturn));
void idt_init(void);
void idt_load(void);
void apic_enable(void);
void apic_eoi(void);
void apic_send_ipi(uint32_t apic_id, uint8_t vector);
void guest_exit(uint8_t status) __attribute__((noreturn));

/* hypercall.c */
bool hypercall_page_setup(void);
long hypercall(unsigned int nr, uint64_t a1, uint64_t a2, uint64_t a3,
	       uint64_t a4, uint64_t a5);
long hc_evtchn_op(int cmd, void *arg);
long hc_memory_op(int cmd, void *arg);
long hc_hvm_op(unsigned long op, void *arg);
long hc_physdev_op(int cmd, void *arg);
long hc_vcpu_op(int cmd, uint32_t vcpu, void *arg);
long hc_sched_op(int cmd, void *arg);
long hc_set_timer_op(uint64_t deadline);
long hc_singleshot(uint32_t vcpu, uint64_t deadline);
long hc_poll_one(uint32_t port, uint64_t timeout);

/* events.c: what a port's events did, and the bind calls with the
 * bookkeeping a guest does around them. */
#define shinfo ((struct shared_info *)SHINFO_GPA)

enum ev_bit { EV_PENDING, EV_MASKED, EV_LINKED };

struct abi_ops {
	void (*upcall)(uint32_t cpu);
	/* Set the mask; whether it was set already. */
	bool (*mask)(uint32_t port);
	/* Clear the mask on bind (Linux's unmask of a fresh port). */
	void (*enable)(uint32_t port);
	/* Which vCPU consumes the port (2-level only). */
	void (*set_vcpu)(uint32_t port, uint32_t vcpu);
	bool (*test)(uint32_t port, enum ev_bit bit);
};

extern const struct abi_ops abi_2l_ops;
extern const struct abi_ops abi_fifo_ops;

void ev_set_abi(const struct abi_ops *ops);
void ev_record(uint32_t cpu, uint32_t port);
uint32_t ev_count(uint32_t cpu, uint32_t port);
uint64_t ev_time(uint32_t cpu, uint32_t port);
uint32_t ev_upcalls(uint32_t cpu);
int ev_wait(uint32_t cpu, uint32_t port, uint32_t want, uint64_t ns);
bool ev_port_used(uint32_t port);
void ev_mask(uint32_t port);
bool ev_test(uint32_t port, enum ev_bit bit);
long ev_bind_ipi(uint32_t vcpu, uint32_t *port);
long ev_bind_virq(uint32_t virq, uint32_t vcpu, uint32_t *port);
long ev_alloc_unbound(uint32_t *port);
long ev_bind_interdomain(uint32_t remote_port, uint32_t *port);
long ev_bind_interdomain_dom(uint16_t dom, uint32_t remote_port,
			     uint32_t *port);
long ev_bind_pirq(uint32_t pirq, uint32_t *port);
long ev_bind_vcpu(uint32_t port, uint32_t vcpu);
long ev_send(uint32_t port);
long ev_close(uint32_t port);
long ev_unmask(uint32_t port);
long ev_status(uint32_t port, struct evtchn_status *st);
long ev_reset(void);
void upcall_interrupt(void);
struct vcpu_info *ev_vcpu_info(uint32_t cpu);
long ev_register_vcpu_info(uint32_t cpu);

/* evt_fifo.c */
long fifo_init_vcpu(uint32_t cpu, uint8_t *link_bits);
long fifo_expand(void);

/* smp.c: what vCPU 0 asks another vCPU to do. */
enum smp_cmd {
	CMD_SEND,	/* after @arg ns, EVTCHNOP_send on @port */
	CMD_BIND_TIMER, /* bind VIRQ_TIMER to itself: out = the port */
	CMD_SINGLESHOT, /* its singleshot timer @arg ns from now: out =
			   the deadline */
	CMD_REGISTER_VCPU_INFO, /* VCPUOP_register_vcpu_info for itself */
};

void helper_main(uint32_t cpu) __attribute__((noreturn));
int smp_post(uint32_t cpu, enum smp_cmd cmd, uint32_t port, uint64_t arg);
int smp_wait(uint32_t cpu, long *rc, uint64_t *out);
int smp_call(uint32_t cpu, enum smp_cmd cmd, uint32_t port, uint64_t arg,
	     long *rc, uint64_t *out);

/* main.c: boot state vCPU 0 reports in check 1. */
struct setup_state {
	uint32_t nr_vcpus;
	bool clock_ok;
	bool xen_cpuid;
	uint32_t cpuid_max;
	uint32_t cpuid_msr;
	bool hypercall_page;
	long physmap_rc;
	bool shinfo_rw;
	/* per vCPU, written by that vCPU before it sets online */
	long vector_rc[GUEST_MAX_VCPUS];
	long periodic_rc[GUEST_MAX_VCPUS];
	uint32_t online[GUEST_MAX_VCPUS];
};

extern struct setup_state setup;

/* The check running now (0: none), for the fatal trap's report. */
extern uint32_t current_check_nr;
extern const char *current_check_desc;

/* checks*.c: one function per check; 0 passed, -1 failed with
 * c->detail saying why. */
struct check {
	unsigned int nr;
	char detail[192];
};

int fail(struct check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool helper_ready(struct check *c, uint32_t cpu);
bool port_tracked(struct check *c, uint32_t port);
int close_checked(struct check *c, uint32_t port);
void counts_of(uint32_t port, uint32_t *before);
int arrives_once(struct check *c, uint32_t cpu, uint32_t port,
		 const uint32_t *before);

int check_setup(struct check *c);
int check_load(struct check *c);
int check_ipi(struct check *c);
int check_singleshot(struct check *c);
int check_set_timer_op(struct check *c);
int check_vcpu1_timer(struct check *c);
int check_poll(struct check *c);
int check_loopback(struct check *c);
int check_mask(struct check *c);
int check_bind_vcpu(struct check *c);
int check_rebind(struct check *c);
int check_reset(struct check *c);
int check_fifo_switch(struct check *c);
int check_ipi_fifo(struct check *c);
int check_singleshot_fifo(struct check *c);
int check_loopback_fifo(struct check *c);
int check_mask_fifo(struct check *c);
int check_backend(struct check *c);
int check_route_echo(struct check *c);
int check_msi_echo(struct check *c);
int check_load_devices(struct check *c);
int check_migrate(struct check *c);
int check_load_fifo(struct check *c);

/* checks_dev.c: a request to the VMM's echo device; its result */
int dev_request(uint32_t op, uint32_t port, uint32_t port2, uint32_t vcpu,
		uint32_t pirq);
/* checks_load.c: @n round trips, each a send on @from and its answer on
 * @to at vCPU @cpu */
int round_trips(struct check *c, uint32_t from, uint32_t to, uint32_t cpu,
		uint32_t n);
void load_begin(void);
void load_end(struct check *c, const char *what, uint32_t n, int ret);

/* The vCPU this code runs on (GS base points at its entry). */
struct percpu {
	uint32_t id;
} __attribute__((aligned(64)));

static inline uint32_t this_vcpu(void)
{
	uint32_t id;

	asm volatile("movl %%gs:0, %0" : "=r"(id));
	return id;
}

#endif
