/* SPDX-License-Identifier: MIT */
/*
 * evtchn-vmm: a small KVM VMM that presents Xen to its guest and hands
 * every Xen hypercall to libevtchn.  One struct for the machine, one for
 * each vCPU; each file one concern (kvm.c the machine, loader.c the guest
 * image, xen.c the Xen interface, main.c the options and the run).
 */
#ifndef EVTCHN_VMM_H
#define EVTCHN_VMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "evtchn/evtchn.h"
#include "evtchn/kvm.h"

#define VMM_MAX_VCPUS 8

/* What made a vCPU leave KVM_RUN, counted for the report. */
enum vmm_exit_kind {
	EXIT_IO_SERIAL,
	EXIT_IO_CLOCK,
	EXIT_IO_OTHER,
	EXIT_XEN_EVTCHN_SEND,   /* EVTCHNOP_send */
	EXIT_XEN_EVTCHN_OTHER,  /* the other EVTCHNOPs */
	EXIT_XEN_TIMER,         /* set_timer_op, VCPUOP_*_timer */
	EXIT_XEN_POLL,          /* SCHEDOP_poll */
	EXIT_XEN_OTHER,         /* every other hypercall */
	EXIT_INTR,              /* a signal (stop) */
	EXIT_OTHER,
	EXIT_KINDS
};

struct vmm;
struct vmm_device;

struct vmm_vcpu {
	struct vmm *vm;
	uint32_t id;
	int fd;
	struct kvm_run *run;
	pthread_t tid;               /* set by the vCPU's own thread */
	_Atomic bool running;
	/* the vcpu_info the guest registered (0: its shared_info slot) */
	_Atomic uint64_t vcpu_info_gpa;
};

struct vmm {
	int kvm_fd, vm_fd;
	size_t run_size;
	unsigned char *ram;          /* ram_size bytes at GPA 0 */
	uint64_t ram_size;           /* VMM_RAM_SIZE, or --memory */
	uint64_t entry;              /* the guest's entry point */
	bool is_linux;                /* --kernel: a bzImage (linux.c) */
	uint64_t boot_params;        /* its zero page */
	struct vmm_serial *serial;   /* serial.c: COM1 */
	_Atomic uint8_t rtc_index, rtc_b; /* rtc.c: the CMOS clock */
	uint32_t nr_vcpus;
	struct vmm_vcpu vcpu[VMM_MAX_VCPUS];
	uint32_t next_slot;          /* KVM memory slots in use */

	struct evtchn_host *host;
	struct evtchn_domain *dom;
	uint64_t shinfo_gpa;         /* 0: not mapped yet */
	pthread_mutex_t lock;        /* the VMM's own state (shared_info) */

	unsigned long timeout;       /* seconds the guest may run */
	_Atomic bool stop;
	_Atomic int status;          /* the guest's verdict, -1 none */
	_Atomic unsigned long exits[EXIT_KINDS];
	unsigned long load_base[EXIT_KINDS]; /* at VMM_LOAD_START */
	struct vmm_device *dev;      /* device.c */
	const char *save_path;       /* --save: at VMM_PORT_CHECKPOINT */
	/* stopping every vCPU for a save: how many have parked */
	_Atomic bool pause;
	_Atomic unsigned parked;
	bool verbose;
	bool offload;                /* --kvm-offload: the KVM back end */
	unsigned offload_classes;    /* EVTCHN_KVM_* */
	/* the serial console: a line at a time */
	char line[256];
	unsigned line_len;
};

/* kvm.c */
int vmm_kvm_open(struct vmm *vm);
int vmm_kvm_create_vcpus(struct vmm *vm);
int vmm_kvm_map(struct vmm *vm, uint64_t gpa, void *hva, uint64_t size);
/* @hva's page at RAM's @gpa instead of the RAM page */
int vmm_kvm_overlay(struct vmm *vm, uint64_t gpa, void *hva);
int vmm_vcpu_run(struct vmm_vcpu *v);
void vmm_stop(struct vmm *vm, int status);
/* the exit status when --timeout passes first */
#define VMM_EXIT_TIMEOUT 66
/* what a guest that stopped making progress was doing: each vCPU's
 * registers, run state and pending events, then libevtchn's port table
 * (the vCPU threads have stopped) */
void vmm_dump_machine(struct vmm *vm);

/* loader.c: the guest's ELF64 image into RAM; its entry point */
int vmm_load_elf(struct vmm *vm, const char *path);
/* linux.c: a bzImage, its initrd and command line, for a 64-bit entry */
int vmm_load_linux(struct vmm *vm, const char *kernel, const char *initrd,
		   const char *cmdline);

/* serial.c: an 8250 UART at COM1 (IRQ 4) that writes lines to stdout */
int vmm_serial_init(struct vmm *vm);
void vmm_serial_io(struct vmm *vm, uint16_t port, bool out, uint8_t *data);
/* its registers, for --save and --restore */
#define VMM_SERIAL_STATE 8
void vmm_serial_save(struct vmm *vm, unsigned char *state);
void vmm_serial_restore(struct vmm *vm, const unsigned char *state);

/* rtc.c: the CMOS clock (ports 0x70 and 0x71): the host's time, read only */
#define VMM_RTC_REG_B_DEFAULT 0x02
void vmm_rtc_io(struct vmm *vm, uint16_t port, bool out, uint8_t *data);

/* xen.c */
int vmm_xen_setup(struct vmm *vm);
void vmm_xen_cpuid(struct vmm *vm, uint32_t vcpu, struct kvm_cpuid2 *cpuid);
void vmm_xen_hypercall(struct vmm_vcpu *v, struct kvm_xen_exit *x);
int vmm_xen_offload(struct vmm *vm);
void vmm_xen_teardown(struct vmm *vm);

/* snapshot.c: the machine to a file and back (--save, --restore) */
int vmm_snapshot_save(struct vmm *vm, const char *path);
int vmm_snapshot_restore(struct vmm *vm, const char *path);

/* device.c: the echo device (vmm_abi.h) */
int vmm_device_start(struct vmm *vm);
void vmm_device_stop(struct vmm *vm);
void vmm_device_request(struct vmm *vm, uint64_t gpa);
unsigned long vmm_device_echoes(struct vmm *vm);

void vmm_count(struct vmm *vm, enum vmm_exit_kind k);
/* main.c: the exits a measured load made (VMM_PORT_LOAD) */
void vmm_load_mark(struct vmm *vm, int what);

#endif
