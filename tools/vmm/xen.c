/* SPDX-License-Identifier: MIT */
/*
 * The Xen interface: CPUID leaves, the hypercall MSR (KVM fills the page),
 * KVM_EXIT_XEN handed to libevtchn, the few hypercalls that are the VMM's
 * own (xen_version, add_to_physmap for shared_info), and the library's
 * interrupts injected into the local APICs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/features.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/arch-x86/cpuid.h>

#include "vmm.h"
#include "vmm_abi.h"

#define XEN_VERSION_4_17 ((4u << 16) | 17u)

void vmm_count(struct vmm *vm, enum vmm_exit_kind k)
{
	atomic_fetch_add_explicit(&vm->exits[k], 1, memory_order_relaxed);
}

/* CPUID 0x40000000.. (Xen's cpuid.h): signature, version, the hypercall
 * MSR, and the vCPU id. */
void vmm_xen_cpuid(struct vmm *vm, uint32_t vcpu, struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = &c->entries[c->nent];

	(void)vm;
	memset(e, 0, 5 * sizeof(*e));
	e[0].function = XEN_CPUID_FIRST_LEAF;
	e[0].eax = XEN_CPUID_FIRST_LEAF + 4;
	e[0].ebx = XEN_CPUID_SIGNATURE_EBX;
	e[0].ecx = XEN_CPUID_SIGNATURE_ECX;
	e[0].edx = XEN_CPUID_SIGNATURE_EDX;
	e[1].function = XEN_CPUID_FIRST_LEAF + 1;
	e[1].eax = XEN_VERSION_4_17;
	e[2].function = XEN_CPUID_FIRST_LEAF + 2;
	e[2].eax = 1;           /* hypercall pages */
	e[2].ebx = VMM_XEN_MSR; /* the MSR that fills one */
	e[3].function = XEN_CPUID_FIRST_LEAF + 3;
	e[4].function = XEN_CPUID_FIRST_LEAF + 4;
	e[4].eax = XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_UPCALL_VECTOR;
	e[4].ebx = vcpu;
	c->nent += 5;
}

/* The library's interrupts: vectors through the local APIC of the vCPU
 * (its APIC ID is its id), a GSI on the in-kernel IOAPIC. */
static void inject(struct evtchn_domain *d, const struct evtchn_irq *irq,
		   void *opaque)
{
	struct vmm *vm = opaque;

	(void)d;
	switch (irq->method) {
	case EVTCHN_UPCALL_VCPU_VECTOR:
	case EVTCHN_UPCALL_VECTOR: {
		struct kvm_msi msi = {
			.address_lo = (uint32_t)VMM_APIC_BASE | irq->vcpu << 12,
			.data = irq->vector,
		};

		(void)ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi);
		break;
	}
	case EVTCHN_UPCALL_GSI: {
		struct kvm_irq_level l = { .irq = irq->gsi, .level = irq->level };

		(void)ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
		break;
	}
	default:
		break; /* no PCI bus here */
	}
}

static void *map_gfn(struct evtchn_domain *d, uint64_t gfn, bool writable,
		     void *opaque)
{
	struct vmm *vm = opaque;

	(void)writable;
	/* shared_info over a RAM page: what the guest sees there */
	if (vm->shinfo_gpa && gfn == vm->shinfo_gpa / EVTCHN_PAGE_SIZE)
		return evtchn_domain_shared_info(d);
	return gfn < vm->ram_size / EVTCHN_PAGE_SIZE
		       ? vm->ram + gfn * EVTCHN_PAGE_SIZE
		       : NULL;
}

/* Hypercall arguments are guest-virtual: the vCPU's page tables say
 * where (called on the vCPU's own thread, inside its hypercall). */
static int translate(struct evtchn_domain *d, uint32_t vcpu, uint64_t gva,
		     uint64_t *gpa, void *opaque)
{
	struct vmm *vm = opaque;
	struct kvm_translation t = { .linear_address = gva };

	(void)d;
	if (vcpu >= vm->nr_vcpus ||
	    ioctl(vm->vcpu[vcpu].fd, KVM_TRANSLATE, &t) || !t.valid)
		return -EFAULT;
	*gpa = t.physical_address;
	return 0;
}

/* Xen system time is the guest's kvmclock, which KVM's own Xen timers
 * count in (the back end's timers, and the library's, agree with it). */
static uint64_t kvm_now(void *opaque)
{
	struct vmm *vm = opaque;
	struct kvm_clock_data c = { 0 };

	return ioctl(vm->vm_fd, KVM_GET_CLOCK, &c) ? 0 : c.clock;
}

int vmm_xen_setup(struct vmm *vm)
{
	struct kvm_xen_hvm_config cfg = {
		.flags = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
		.msr = VMM_XEN_MSR,
	};
	struct evtchn_domain_config dc = {
		.domid = 1, .nr_vcpus = vm->nr_vcpus, .irq_cb = inject,
		.opaque = vm,
		.mem = { .map_cb = map_gfn, .translate_cb = translate,
			 .opaque = vm },
	};
	int rc;

	if (ioctl(vm->vm_fd, KVM_XEN_HVM_CONFIG, &cfg)) {
		fprintf(stderr, "evtchn-vmm: KVM_XEN_HVM_CONFIG: %s\n",
			strerror(errno));
		return -errno;
	}
	rc = evtchn_host_create(&vm->host);
	if (!rc)
		rc = evtchn_host_set_clock(vm->host, kvm_now, vm);
	if (!rc)
		rc = evtchn_domain_create(vm->host, &dc, &vm->dom);
	if (!rc)
		rc = evtchn_host_timers_start(vm->host);
	if (rc)
		fprintf(stderr, "evtchn-vmm: libevtchn: %s\n",
			evtchn_strerror(rc));
	return rc;
}

#define VMM_GSIS 24       /* the IOAPIC's pins */
#define VMM_IRQFD_GSIS 16 /* the library's irqfds: GSIs 24-39 */

/* KVM's default routing of the in-kernel irqchip, which the library keeps
 * in every table it sets: GSIs 0-15 on the PICs and the IOAPIC, 16-23 on
 * the IOAPIC. */
static unsigned irqchip_routes(struct kvm_irq_routing_entry *e)
{
	unsigned n = 0;

	for (uint32_t gsi = 0; gsi < VMM_GSIS; gsi++) {
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC,
				       .pin = gsi } };
		if (gsi < 16)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8
							? KVM_IRQCHIP_PIC_MASTER
							: KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % 8 } };
	}
	return n;
}

/* The KVM back end (--kvm-offload): IPIs, loopback and routed sends,
 * backend notifications, timers and irqfds in the kernel.  After the vCPUs
 * exist, before they run. */
int vmm_xen_offload(struct vmm *vm)
{
	int fds[VMM_MAX_VCPUS];
	struct kvm_irq_routing_entry base[VMM_GSIS + 16];
	struct evtchn_kvm_config cfg = { .vm_fd = vm->vm_fd,
					 .nr_vcpus = vm->nr_vcpus,
					 .vcpu_fds = fds,
					 .offload = vm->offload_classes,
					 .gsi_base = VMM_GSIS,
					 .nr_gsis = VMM_IRQFD_GSIS,
					 .base_routes = base };
	int rc;

	cfg.nr_base_routes = irqchip_routes(base);
	for (uint32_t i = 0; i < vm->nr_vcpus; i++)
		fds[i] = vm->vcpu[i].fd;
	rc = evtchn_domain_attach_kvm(vm->dom, &cfg);
	if (rc)
		fprintf(stderr, "evtchn-vmm: KVM back end: %s\n",
			evtchn_strerror(rc));
	return rc;
}

void vmm_xen_teardown(struct vmm *vm)
{
	if (vm->dom)
		evtchn_domain_destroy(vm->dom);
	if (vm->host)
		evtchn_host_destroy(vm->host);
}

/* Guest memory at guest-virtual @gva of vCPU @v, or NULL. */
static void *guest_ptr(struct vmm_vcpu *v, uint64_t gva, size_t len)
{
	uint64_t gpa;

	if (translate(NULL, v->id, gva, &gpa, v->vm) ||
	    gpa + len > v->vm->ram_size ||
	    (gpa & (EVTCHN_PAGE_SIZE - 1)) + len > EVTCHN_PAGE_SIZE)
		return NULL;
	return v->vm->ram + gpa;
}

/* XENMEM_add_to_physmap of shared_info: the library's page appears at the
 * GPA the guest names: outside RAM a memory slot of its own, inside RAM
 * (where Linux puts it) over the RAM page, which RAM's slots then leave
 * out (a KVM slot cannot overlap another). */
static long add_to_physmap(struct vmm_vcpu *v, uint64_t arg)
{
	struct vmm *vm = v->vm;
	struct xen_add_to_physmap *xatp = guest_ptr(v, arg, sizeof(*xatp));
	uint64_t gpa;
	long rc = 0;

	if (!xatp)
		return -XEN_EFAULT;
	if (xatp->domid != DOMID_SELF || xatp->space != XENMAPSPACE_shared_info ||
	    xatp->idx != 0)
		return -XEN_EINVAL;
	gpa = (uint64_t)xatp->gpfn * EVTCHN_PAGE_SIZE;
	if (gpa >= VMM_APIC_BASE || (gpa >= 0xa0000 && gpa < 0x100000))
		return -XEN_EINVAL;
	pthread_mutex_lock(&vm->lock);
	if (vm->shinfo_gpa == 0)
		rc = gpa < vm->ram_size
			     ? vmm_kvm_overlay(vm, gpa,
					       evtchn_domain_shared_info(vm->dom))
			     : vmm_kvm_map(vm, gpa,
					   evtchn_domain_shared_info(vm->dom),
					   EVTCHN_PAGE_SIZE);
	else if (vm->shinfo_gpa != gpa)
		rc = -XEN_EBUSY; /* moving it is not supported here */
	if (rc == 0)
		vm->shinfo_gpa = gpa;
	pthread_mutex_unlock(&vm->lock);
	return rc ? -XEN_EINVAL : 0;
}

/* Copy @len bytes of @src to the guest at @arg. */
static long to_guest(struct vmm_vcpu *v, uint64_t arg, const void *src,
		     size_t len)
{
	void *p = guest_ptr(v, arg, len);

	if (!p)
		return -XEN_EFAULT;
	memcpy(p, src, len);
	return 0;
}

/* xen_version: what an HVM guest of Xen 4.17 reads (Linux: features at
 * boot, the rest through /sys/hypervisor). */
static long xen_version(struct vmm_vcpu *v, int cmd, uint64_t arg)
{
	switch (cmd) {
	case XENVER_version:
		return XEN_VERSION_4_17;
	case XENVER_extraversion: {
		xen_extraversion_t x = ".7";

		return to_guest(v, arg, x, sizeof(x));
	}
	case XENVER_capabilities: {
		xen_capabilities_info_t c = "hvm-3.0-x86_32 hvm-3.0-x86_32p "
					    "hvm-3.0-x86_64";

		return to_guest(v, arg, c, sizeof(c));
	}
	case XENVER_changeset: {
		xen_changeset_info_t c = "evtchn-vmm";

		return to_guest(v, arg, c, sizeof(c));
	}
	case XENVER_compile_info: {
		xen_compile_info_t ci = { .compiler = "evtchn-vmm" };

		return to_guest(v, arg, &ci, sizeof(ci));
	}
	case XENVER_platform_parameters: {
		xen_platform_parameters_t pp = { .virt_start = 0 };

		return to_guest(v, arg, &pp, sizeof(pp));
	}
	case XENVER_pagesize:
		return EVTCHN_PAGE_SIZE;
	case XENVER_guest_handle: {
		xen_domain_handle_t h = { 0 };

		return to_guest(v, arg, h, sizeof(h));
	}
	case XENVER_get_features: {
		struct xen_feature_info *fi = guest_ptr(v, arg, sizeof(*fi));

		if (!fi)
			return -XEN_EFAULT;
		fi->submap = fi->submap_idx == 0
				     ? (1u << XENFEAT_auto_translated_physmap) |
					       (1u << XENFEAT_hvm_callback_vector) |
					       (1u << XENFEAT_hvm_safe_pvclock)
				     : 0;
		return 0;
	}
	default:
		return -XEN_ENOSYS;
	}
}

/* HVM parameters the library leaves to the VMM: none is set here (no
 * xenstore, no console ring), and Xen reads an unset one as 0. */
static long hvm_param(struct vmm_vcpu *v, int op, uint64_t arg)
{
	struct xen_hvm_param *p = guest_ptr(v, arg, sizeof(*p));

	if (!p)
		return -XEN_EFAULT;
	if (p->domid != DOMID_SELF || p->index >= HVM_NR_PARAMS)
		return -XEN_EINVAL;
	if (op == HVMOP_get_param)
		p->value = 0;
	return 0;
}

/* VCPUOPs the library leaves to the VMM. */
static long vcpu_op(int cmd)
{
	switch (cmd) {
	case VCPUOP_register_runstate_memory_area:
		/* accepted; the area stays as the guest left it (all
		 * zero: running, no steal time) */
		return 0;
	default:
		return -XEN_ENOSYS;
	}
}

static enum vmm_exit_kind classify(const struct kvm_xen_exit *x)
{
	uint64_t cmd = x->u.hcall.params[0];

	switch (x->u.hcall.input) {
	case __HYPERVISOR_event_channel_op:
		return (int)cmd == EVTCHNOP_send ? EXIT_XEN_EVTCHN_SEND
						 : EXIT_XEN_EVTCHN_OTHER;
	case __HYPERVISOR_set_timer_op:
		return EXIT_XEN_TIMER;
	case __HYPERVISOR_vcpu_op:
		return (int)cmd >= VCPUOP_set_periodic_timer &&
				       (int)cmd <= VCPUOP_stop_singleshot_timer
			       ? EXIT_XEN_TIMER
			       : EXIT_XEN_OTHER;
	case __HYPERVISOR_sched_op:
		return (int)cmd == SCHEDOP_poll ? EXIT_XEN_POLL : EXIT_XEN_OTHER;
	default:
		return EXIT_XEN_OTHER;
	}
}

/* The caller's mode, and for SCHEDOP_poll whether it can take an
 * interrupt now (Xen's poll ignores a pending upcall while IF is clear). */
static enum evtchn_mode call_mode(struct vmm_vcpu *v,
				  const struct kvm_xen_exit *x)
{
	int mode = x->u.hcall.longmode ? EVTCHN_MODE_64 : EVTCHN_MODE_32;
	struct kvm_regs regs;

	if (x->u.hcall.input == __HYPERVISOR_sched_op &&
	    (int)x->u.hcall.params[0] == SCHEDOP_poll &&
	    ioctl(v->fd, KVM_GET_REGS, &regs) == 0 && !(regs.rflags & 0x200))
		mode |= EVTCHN_MODE_IRQS_OFF;
	return (enum evtchn_mode)mode;
}

/* Where a vCPU's vcpu_info now is, for the dump of a guest that stopped
 * (vmm_dump_machine()); libevtchn has accepted the registration. */
static void note_vcpu_info(struct vmm_vcpu *v, uint64_t vcpu, uint64_t arg)
{
	struct vmm *vm = v->vm;
	struct vcpu_register_vcpu_info info;
	uint64_t gpa;

	if (vcpu >= vm->nr_vcpus ||
	    translate(vm->dom, v->id, arg, &gpa, vm) ||
	    gpa + sizeof(info) > vm->ram_size)
		return;
	memcpy(&info, vm->ram + gpa, sizeof(info));
	atomic_store(&vm->vcpu[vcpu].vcpu_info_gpa,
		     info.mfn * EVTCHN_PAGE_SIZE + info.offset);
}

/* KVM_EXIT_XEN: libevtchn first, then what is the VMM's. */
void vmm_xen_hypercall(struct vmm_vcpu *v, struct kvm_xen_exit *x)
{
	struct vmm *vm = v->vm;
	uint64_t nr = x->u.hcall.input, a[6];
	long rc;

	if (x->type != KVM_EXIT_XEN_HCALL)
		return;
	for (int i = 0; i < 6; i++)
		a[i] = x->u.hcall.params[i];
	vmm_count(vm, classify(x));
	if (x->u.hcall.cpl != 0) {
		x->u.hcall.result = (uint64_t)-XEN_EPERM; /* Xen: kernel only */
		return;
	}
	rc = evtchn_hypercall_mode(vm->dom, v->id, call_mode(v, x), nr, a);
	if (rc == 0 && nr == __HYPERVISOR_vcpu_op &&
	    (int)a[0] == VCPUOP_register_vcpu_info)
		note_vcpu_info(v, a[1], a[2]);
	if (rc == -ENOSYS) {
		switch (nr) {
		case __HYPERVISOR_xen_version:
			rc = xen_version(v, (int)a[0], a[1]);
			break;
		case __HYPERVISOR_memory_op:
			rc = (int)a[0] == XENMEM_add_to_physmap
				     ? add_to_physmap(v, a[1])
				     : -XEN_ENOSYS;
			break;
		case __HYPERVISOR_hvm_op:
			rc = (int)a[0] == HVMOP_get_param ||
					     (int)a[0] == HVMOP_set_param
				     ? hvm_param(v, (int)a[0], a[1])
				     : -XEN_ENOSYS;
			break;
		case __HYPERVISOR_vcpu_op:
			rc = vcpu_op((int)a[0]);
			break;
		case __HYPERVISOR_sched_op:
			if ((int)a[0] == SCHEDOP_yield) {
				rc = 0;
			} else if ((int)a[0] == SCHEDOP_shutdown) {
				vmm_stop(vm, 0);
				rc = 0;
			} else {
				rc = -XEN_ENOSYS;
			}
			break;
		default:
			rc = -XEN_ENOSYS;
			break;
		}
	}
	/* what this call set for another vCPU waits for that vCPU's thread,
	 * which may sit in KVM_RUN (halted, or waiting for SIPI) */
	for (uint32_t i = 0; vm->offload && i < vm->nr_vcpus; i++)
		if (i != v->id && evtchn_kvm_vcpu_sync_pending(vm->dom, i) == 1 &&
		    atomic_load(&vm->vcpu[i].running))
			pthread_kill(vm->vcpu[i].tid, SIGUSR1);
	if (vm->verbose)
		fprintf(stderr, "evtchn-vmm: vCPU %u: hypercall %llu(%#llx, "
				"%#llx) = %ld\n", v->id,
			(unsigned long long)nr, (unsigned long long)a[0],
			(unsigned long long)a[1], rc);
	x->u.hcall.result = (uint64_t)rc;
}
