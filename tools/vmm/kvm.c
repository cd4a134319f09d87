/* SPDX-License-Identifier: MIT */
/*
 * The machine: a KVM VM with an in-kernel irqchip, RAM at GPA 0, vCPUs
 * that start in 64-bit mode at the guest's entry (tools/vmm/vmm_abi.h),
 * and each vCPU's run loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm.h"
#include "vmm_abi.h"

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)

static __thread struct kvm_run *this_run;

/* A signal ends KVM_RUN (EINTR), or the next one at once. */
static void on_kick(int sig)
{
	(void)sig;
	if (this_run)
		this_run->immediate_exit = 1;
}

int vmm_kvm_map(struct vmm *vm, uint64_t gpa, void *hva, uint64_t size)
{
	struct kvm_userspace_memory_region r = {
		.slot = vm->next_slot++, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (uintptr_t)hva,
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

int vmm_kvm_overlay(struct vmm *vm, uint64_t gpa, void *hva)
{
	struct kvm_userspace_memory_region r = { .slot = 0 };
	uint64_t after = gpa + EVTCHN_PAGE_SIZE;
	int rc;

	/* RAM's slot 0 goes, then comes back as two around the page */
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r))
		return -errno;
	r.memory_size = gpa;
	r.userspace_addr = (uintptr_t)vm->ram;
	if (gpa && ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r))
		return -errno;
	rc = vmm_kvm_map(vm, gpa, hva, EVTCHN_PAGE_SIZE);
	if (!rc && after < vm->ram_size)
		rc = vmm_kvm_map(vm, after, vm->ram + after,
				 vm->ram_size - after);
	return rc;
}

/* GDT and identity page tables for the first 4 GiB (2 MiB pages). */
static void build_tables(struct vmm *vm)
{
	uint64_t *gdt = (uint64_t *)(vm->ram + VMM_GDT);
	uint64_t *pml4 = (uint64_t *)(vm->ram + VMM_PAGE_TABLES);
	uint64_t *pdpt = pml4 + 512;
	uint64_t *pd = pdpt + 512;

	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffull; /* 0x08: 64-bit code, DPL 0 */
	gdt[2] = 0x00cf93000000ffffull; /* 0x10: data */
	if (vm->is_linux) {
		/* the boot protocol's __BOOT_CS and __BOOT_DS */
		gdt[2] = 0x00af9b000000ffffull;
		gdt[3] = 0x00cf93000000ffffull;
	}
	pml4[0] = (VMM_PAGE_TABLES + 0x1000) | PTE_P | PTE_W;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (VMM_PAGE_TABLES + 0x2000 + i * 0x1000) | PTE_P |
			  PTE_W;
	for (uint64_t i = 0; i < 4 * 512; i++) {
		uint64_t addr = i << 21;

		pd[i] = addr | PTE_P | PTE_W | PTE_PS;
		if (addr == (VMM_APIC_BASE & ~((1ull << 21) - 1)))
			pd[i] |= PTE_PCD | PTE_PWT;
	}
}

int vmm_kvm_open(struct vmm *vm)
{
	int rc;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		fprintf(stderr, "evtchn-vmm: /dev/kvm: %s\n", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fprintf(stderr, "evtchn-vmm: unexpected KVM API version\n");
		return -EINVAL;
	}
	rc = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XEN_HVM);
	if (rc <= 0 || !(rc & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL)) {
		fprintf(stderr, "evtchn-vmm: this kernel's KVM cannot intercept "
				"Xen hypercalls (KVM_CAP_XEN_HVM = %d; "
				"CONFIG_KVM_XEN missing?)\n", rc);
		return -ENOTSUP;
	}
	vm->run_size = (size_t)ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0 || ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0)) {
		fprintf(stderr, "evtchn-vmm: VM: %s\n", strerror(errno));
		return -errno;
	}
	vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED)
		return -ENOMEM;
	/* a PC's timer (Linux checks that IRQ 0 ticks), and the TSS KVM
	 * needs for real mode on Intel (APs start there) */
	struct kvm_pit_config pit = { .flags = 0 };

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) ||
	    ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit)) {
		fprintf(stderr, "evtchn-vmm: PIT/TSS: %s\n", strerror(errno));
		return -errno;
	}
	rc = vmm_kvm_map(vm, 0, vm->ram, vm->ram_size);
	if (rc)
		fprintf(stderr, "evtchn-vmm: RAM: %s\n", strerror(-rc));
	return rc;
}

/* The registers vmm_abi.h promises at the entry point; for Linux, those
 * of the 64-bit boot protocol on vCPU 0 (CS 0x10, DS 0x18, RSI the zero
 * page), the others left to wait for INIT and SIPI. */
static int vcpu_boot_state(struct vmm *vm, struct vmm_vcpu *v)
{
	uint16_t cs = vm->is_linux ? 0x10 : 0x08, ds = vm->is_linux ? 0x18 : 0x10;
	struct kvm_segment code = { .base = 0, .limit = 0xffffffff,
				    .selector = cs, .type = 11, .present = 1,
				    .dpl = 0, .s = 1, .l = 1, .g = 1 };
	struct kvm_segment data = { .base = 0, .limit = 0xffffffff,
				    .selector = ds, .type = 3, .present = 1,
				    .dpl = 0, .s = 1, .db = 1, .g = 1 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };

	if (vm->is_linux && v->id != 0)
		return 0;
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.gdt.base = VMM_GDT;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = VMM_PAGE_TABLES;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA | EFER_NXE;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs))
		return -errno;
	/* With the in-kernel irqchip, vCPUs but the first wait for INIT and
	 * SIPI; here every vCPU starts at the entry. */
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };

	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp))
		return -errno;
	regs.rflags = 0x2;
	regs.rip = vm->entry;
	regs.rdi = v->id;
	regs.rsi = vm->is_linux ? vm->boot_params : vm->nr_vcpus;
	regs.rsp = VMM_STACKS_TOP - v->id * VMM_STACK_SIZE;
	return ioctl(v->fd, KVM_SET_REGS, &regs) ? -errno : 0;
}

/* What KVM supports, with Xen's leaves in place of KVM's own. */
static int vcpu_cpuid(struct vmm *vm, struct vmm_vcpu *v)
{
	unsigned max = 256;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + max * sizeof(c->entries[0]));
	uint32_t n = 0;
	int rc;

	if (!c)
		return -ENOMEM;
	c->nent = max;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c)) {
		rc = -errno;
		goto out;
	}
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if ((e->function & 0xffffff00) == 0x40000000)
			continue;
		/* the initial APIC ID (= vCPU id) where CPUID reports it */
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffff) | v->id << 24;
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = v->id;
		/* Linux: no XSAVE (FXSAVE instead).  A KVM nested under
		 * QEMU's TCG lists XSAVE components in leaf 0xd that the
		 * features of leaves 1 and 7 do not back, and Linux warns
		 * of an inconsistent XSAVE size at boot. */
		if (vm->is_linux && e->function == 0xd)
			continue;
		if (vm->is_linux && e->function == 1)
			e->ecx &= ~((1u << 26) | (1u << 27) | (1u << 28));
		c->entries[n++] = *e;
	}
	c->nent = n;
	vmm_xen_cpuid(vm, v->id, c);
	rc = ioctl(v->fd, KVM_SET_CPUID2, c) ? -errno : 0;
out:
	free(c);
	return rc;
}

int vmm_kvm_create_vcpus(struct vmm *vm)
{
	struct sigaction sa = { .sa_handler = on_kick };
	int rc;

	build_tables(vm);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		struct vmm_vcpu *v = &vm->vcpu[i];

		v->vm = vm;
		v->id = i;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i);
		if (v->fd < 0)
			return -errno;
		v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED)
			return -errno;
		rc = vcpu_cpuid(vm, v);
		if (!rc)
			rc = vcpu_boot_state(vm, v);
		if (rc) {
			fprintf(stderr, "evtchn-vmm: vCPU %u: %s\n", i,
				strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* The guest is done (or broken): every vCPU leaves its loop. */
void vmm_stop(struct vmm *vm, int status)
{
	int none = -1;

	atomic_compare_exchange_strong(&vm->status, &none, status);
	atomic_store(&vm->stop, true);
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		/* a vCPU blocked in SCHEDOP_poll inside the library */
		evtchn_vcpu_kick(vm->dom, i);
		if (atomic_load(&vm->vcpu[i].running) &&
		    !pthread_equal(vm->vcpu[i].tid, pthread_self()))
			pthread_kill(vm->vcpu[i].tid, SIGUSR1);
	}
}

/* The exit KVM reported last is finished (its I/O done, RIP past it)
 * when KVM_RUN is entered again: do that without running the guest. */
static void complete_exit(struct vmm_vcpu *v)
{
	v->run->immediate_exit = 1;
	(void)ioctl(v->fd, KVM_RUN, 0);
	v->run->immediate_exit = 0;
}

/* A vCPU told to stop for a save: its exit completed, it waits. */
static void park(struct vmm_vcpu *v)
{
	struct vmm *vm = v->vm;

	complete_exit(v);
	atomic_fetch_add(&vm->parked, 1);
	while (!atomic_load(&vm->stop))
		usleep(1000);
}

/* VMM_PORT_CHECKPOINT with --save: every other vCPU parked, then the
 * machine to the file; the VMM ends with VMM_EXIT_SAVED. */
static void checkpoint(struct vmm_vcpu *v)
{
	struct vmm *vm = v->vm;
	int rc;

	atomic_store(&vm->pause, true);
	for (uint32_t i = 0; i < vm->nr_vcpus; i++)
		if (i != v->id && atomic_load(&vm->vcpu[i].running))
			pthread_kill(vm->vcpu[i].tid, SIGUSR1);
	while (atomic_load(&vm->parked) < vm->nr_vcpus - 1)
		usleep(1000);
	complete_exit(v);
	rc = vmm_snapshot_save(vm, vm->save_path);
	if (rc) {
		fprintf(stderr, "evtchn-vmm: --save %s: %s\n", vm->save_path,
			strerror(-rc));
		vmm_stop(vm, 6);
		return;
	}
	printf("evtchn-vmm: saved to %s\n", vm->save_path);
	fflush(stdout);
	vmm_stop(vm, VMM_EXIT_SAVED);
}

static void handle_io(struct vmm_vcpu *v)
{
	struct vmm *vm = v->vm;
	struct kvm_run *r = v->run;
	unsigned char *data = (unsigned char *)r + r->io.data_offset;
	static _Thread_local uint64_t clock_latch;
	static _Thread_local bool latched;

	switch (r->io.port) {
	case VMM_PORT_SERIAL ... VMM_PORT_SERIAL + 7:
		vmm_count(vm, EXIT_IO_SERIAL);
		for (uint32_t i = 0; i < r->io.count; i++)
			vmm_serial_io(vm, r->io.port,
				      r->io.direction == KVM_EXIT_IO_OUT,
				      data + i * r->io.size);
		return;
	case 0x70 ... 0x71:
		vmm_count(vm, EXIT_IO_OTHER);
		for (uint32_t i = 0; i < r->io.count; i++)
			vmm_rtc_io(vm, r->io.port,
				   r->io.direction == KVM_EXIT_IO_OUT,
				   data + i * r->io.size);
		return;
	case VMM_PORT_LOAD:
		vmm_count(vm, EXIT_IO_OTHER);
		if (r->io.direction == KVM_EXIT_IO_OUT)
			vmm_load_mark(vm, data[0]);
		return;
	case VMM_PORT_VIRQ:
		vmm_count(vm, EXIT_IO_OTHER);
		if (r->io.direction == KVM_EXIT_IO_OUT)
			(void)evtchn_send_virq(vm->dom, 0, data[0]);
		return;
	case VMM_PORT_CHECKPOINT:
		vmm_count(vm, EXIT_IO_OTHER);
		if (r->io.direction == KVM_EXIT_IO_OUT && vm->save_path)
			checkpoint(v);
		return;
	case VMM_PORT_DEVICE:
		vmm_count(vm, EXIT_IO_OTHER);
		if (r->io.direction == KVM_EXIT_IO_OUT && r->io.size == 4) {
			uint32_t gpa;

			memcpy(&gpa, data, 4);
			vmm_device_request(vm, gpa);
		}
		return;
	case VMM_PORT_EXIT:
		vmm_count(vm, EXIT_IO_OTHER);
		if (r->io.direction == KVM_EXIT_IO_OUT)
			vmm_stop(vm, data[0]);
		return;
	case VMM_PORT_CLOCK:
		vmm_count(vm, EXIT_IO_CLOCK);
		if (r->io.direction == KVM_EXIT_IO_IN && r->io.size == 4) {
			uint32_t half;

			/* low half latches the time; high half reads it */
			if (!latched)
				clock_latch = evtchn_host_now(vm->host);
			half = latched ? (uint32_t)(clock_latch >> 32)
				       : (uint32_t)clock_latch;
			latched = !latched;
			memcpy(data, &half, 4);
		}
		return;
	default:
		vmm_count(vm, EXIT_IO_OTHER);
		if (r->io.direction == KVM_EXIT_IO_IN)
			memset(data, 0xff, r->io.size * r->io.count);
		return;
	}
}

static void dump_regs(struct vmm_vcpu *v, const char *why)
{
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
		fprintf(stderr, "evtchn-vmm: vCPU %u: %s at rip %#llx rsp %#llx\n",
			v->id, why, regs.rip, regs.rsp);
	else
		fprintf(stderr, "evtchn-vmm: vCPU %u: %s\n", v->id, why);
}

/* @len bytes of the guest at virtual address @gva, as the vCPU sees them */
static void dump_bytes(struct vmm *vm, struct vmm_vcpu *v, const char *what,
		       uint64_t gva, unsigned len)
{
	fprintf(stderr, "evtchn-vmm: vCPU %u: %s (%#llx):", v->id, what,
		(unsigned long long)gva);
	for (unsigned i = 0; i < len; i++) {
		struct kvm_translation tr = { .linear_address = gva + i };

		if (ioctl(v->fd, KVM_TRANSLATE, &tr) || !tr.valid ||
		    tr.physical_address >= vm->ram_size) {
			fprintf(stderr, " ??");
			continue;
		}
		fprintf(stderr, " %02x", vm->ram[tr.physical_address]);
	}
	fprintf(stderr, "\n");
}

/* A 256-bit vector register of the local APIC at @reg (IRR, ISR), its
 * eight words from the highest. */
static void dump_vectors(const struct kvm_lapic_state *apic, unsigned reg)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w;

		memcpy(&w, apic->regs + reg + 16 * i, sizeof(w));
		fprintf(stderr, " %08x", w);
	}
}

/* The vCPU's upcall flags and selector word in its vcpu_info, and the
 * vectors its local APIC has requested and has in service. */
static void dump_upcall(struct vmm *vm, struct vmm_vcpu *v)
{
	uint64_t gpa = atomic_load(&v->vcpu_info_gpa);
	const unsigned char *vi = NULL;
	struct kvm_lapic_state apic;
	uint64_t sel = 0;

	if (gpa && gpa + 16 <= vm->ram_size)
		vi = vm->ram + gpa;
	else if (!gpa && v->id < 32)
		vi = (const unsigned char *)evtchn_domain_shared_info(vm->dom) +
		     v->id * 64;
	if (vi) {
		memcpy(&sel, vi + 8, sizeof(sel));
		fprintf(stderr,
			"evtchn-vmm: vCPU %u: vcpu_info%s upcall_pending %u "
			"upcall_mask %u pending_sel %#llx\n",
			v->id, gpa ? "" : " (in shared_info)", vi[0], vi[1],
			(unsigned long long)sel);
	}
	if (ioctl(v->fd, KVM_GET_LAPIC, &apic) == 0) {
		fprintf(stderr, "evtchn-vmm: vCPU %u: local APIC IRR", v->id);
		dump_vectors(&apic, 0x200);
		fprintf(stderr, " ISR");
		dump_vectors(&apic, 0x100);
		fprintf(stderr, "\n");
	}
}

void vmm_dump_machine(struct vmm *vm)
{
	uint64_t now = evtchn_host_now(vm->host);
	static const char *const mp[] = { "runnable", "uninitialized",
					  "init-received", "halted",
					  "sipi-received" };

	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		struct vmm_vcpu *v = &vm->vcpu[i];
		struct kvm_regs regs;
		struct kvm_mp_state st;
		struct kvm_vcpu_events ev;
		struct evtchn_vcpu_timer t;

		if (ioctl(v->fd, KVM_GET_REGS, &regs) ||
		    ioctl(v->fd, KVM_GET_MP_STATE, &st) ||
		    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev)) {
			fprintf(stderr, "evtchn-vmm: vCPU %u: %s\n", v->id,
				strerror(errno));
			continue;
		}
		fprintf(stderr,
			"evtchn-vmm: vCPU %u: rip %#llx rsp %#llx IF=%d %s; "
			"interrupt injected=%u nr=%u; nmi pending=%u; "
			"exception injected=%u\n",
			v->id, regs.rip, regs.rsp, !!(regs.rflags & 0x200),
			st.mp_state < sizeof(mp) / sizeof(mp[0])
				? mp[st.mp_state]
				: "?",
			ev.interrupt.injected, ev.interrupt.nr, ev.nmi.pending,
			ev.exception.injected);
		dump_upcall(vm, v);
		dump_bytes(vm, v, "code at rip-16", regs.rip - 16, 48);
		dump_bytes(vm, v, "stack", regs.rsp, 64);
		if (evtchn_vcpu_timer_get(vm->dom, v->id, &t) == 0)
			fprintf(stderr,
				"evtchn-vmm: vCPU %u: timer singleshot %+.6f s, "
				"periodic %llu ns next %+.6f s (from now)\n",
				v->id,
				t.singleshot_ns ? ((double)t.singleshot_ns -
						   (double)now) / 1e9
						: 0.0,
				(unsigned long long)t.period_ns,
				t.period_ns ? ((double)t.periodic_next_ns -
					       (double)now) / 1e9
					    : 0.0);
	}
	fprintf(stderr, "evtchn-vmm: libevtchn's ports:\n");
	(void)evtchn_domain_dump(vm->dom, stderr);
}

/* The vCPU thread: KVM_RUN until the guest is done. */
int vmm_vcpu_run(struct vmm_vcpu *v)
{
	struct vmm *vm = v->vm;
	struct kvm_run *r = v->run;

	this_run = r;
	v->tid = pthread_self();
	atomic_store(&v->running, true);
	while (!atomic_load(&vm->stop)) {
		if (atomic_load(&vm->pause)) {
			park(v);
			break;
		}
		/* vCPU attributes of the KVM back end wait for this thread */
		if (vm->offload)
			evtchn_kvm_vcpu_sync(vm->dom, v->id);
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				r->immediate_exit = 0;
				vmm_count(vm, EXIT_INTR);
				continue;
			}
			fprintf(stderr, "evtchn-vmm: KVM_RUN: %s\n",
				strerror(errno));
			vmm_stop(vm, 3);
			break;
		}
		switch (r->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v);
			break;
		case KVM_EXIT_XEN:
			vmm_xen_hypercall(v, &r->xen);
			break;
		case KVM_EXIT_HLT:
			vmm_count(vm, EXIT_OTHER);
			break;
		case KVM_EXIT_SHUTDOWN:
			vmm_count(vm, EXIT_OTHER);
			dump_regs(v, "shutdown (triple fault)");
			vmm_stop(vm, 4);
			break;
		default:
			vmm_count(vm, EXIT_OTHER);
			fprintf(stderr, "evtchn-vmm: vCPU %u: exit reason %u\n",
				v->id, r->exit_reason);
			dump_regs(v, "unexpected exit");
			vmm_stop(vm, 5);
			break;
		}
	}
	return 0;
}
