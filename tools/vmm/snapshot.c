/* SPDX-License-Identifier: MIT */
/*
 * Save a running guest to a file and carry on from it in a new process
 * (evtchn-vmm --save FILE / --restore FILE): what KVM holds for each vCPU
 * and for the VM, the guest's memory, where shared_info is mapped, and
 * libevtchn's image (evtchn_domain_save(), which reads the timers KVM
 * holds).  With the KVM back end on, evtchn_domain_attach_kvm() after the
 * restore builds KVM's copy of the port table again.
 *
 * The file is this example's own: a header, then records { tag, vCPU,
 * length, bytes } in host byte order, for the same evtchn-vmm build on
 * the same kind of host.  The library's image inside is what a VMM
 * migrates between versions of libevtchn (little-endian, readable by every
 * later release; docs/snapshot-format.md); when a restore refuses it as a
 * newer library's (-EOPNOTSUPP), evtchn_image_inspect() says why.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm.h"
#include "vmm_abi.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SNAP_MAGIC 0x50414e534d4d5645ull /* "EVMMSNAP" */
#define SNAP_VERSION 1

enum snap_tag {
	SNAP_END,
	SNAP_MACHINE,   /* struct snap_machine */
	SNAP_RAM,       /* the guest's RAM (--memory) */
	SNAP_CLOCK,     /* struct kvm_clock_data */
	SNAP_IRQCHIP,   /* struct kvm_irqchip, one per chip */
	SNAP_LIBEVTCHN, /* evtchn_domain_save() */
	SNAP_REGS,      /* the rest are per vCPU */
	SNAP_SREGS,
	SNAP_XSAVE,
	SNAP_XCRS,
	SNAP_MSRS,      /* struct kvm_msrs + entries */
	SNAP_LAPIC,
	SNAP_EVENTS,
	SNAP_MP_STATE,
	SNAP_PIT,       /* struct kvm_pit_state2 */
	SNAP_SERIAL,    /* vmm_serial_save() */
};

struct snap_header {
	uint64_t magic;
	uint32_t version;
	uint32_t nr_vcpus;
};

struct snap_record {
	uint32_t tag;
	uint32_t vcpu;
	uint64_t len;
};

struct snap_machine {
	uint64_t shinfo_gpa;
	uint64_t ram_size;
};

/* The MSRs a vCPU carries that KVM_SET_SREGS and the LAPIC do not (those
 * the host lacks are left out at save). */
static const uint32_t saved_msrs[] = {
	0x00000010, /* TSC */
	0x00000174, 0x00000175, 0x00000176, /* SYSENTER_CS/ESP/EIP */
	0x00000277, /* PAT */
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, /* STAR, LSTAR,
							  CSTAR, SFMASK */
	0xc0000102, /* KERNEL_GS_BASE */
	0xc0000103, /* TSC_AUX */
	0x4b564d00, 0x4b564d01, /* kvmclock: wall clock, system time */
	0x000006e0, /* TSC_DEADLINE */
	0x000001a0, /* MISC_ENABLE */
};

static int put(FILE *f, uint32_t tag, uint32_t vcpu, const void *p,
	       uint64_t len)
{
	struct snap_record r = { .tag = tag, .vcpu = vcpu, .len = len };

	return fwrite(&r, sizeof(r), 1, f) == 1 &&
			       (!len || fwrite(p, len, 1, f) == 1)
		       ? 0
		       : -EIO;
}

static size_t xsave_size(struct vmm *vm)
{
	int n = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return n > (int)sizeof(struct kvm_xsave) ? (size_t)n
						 : sizeof(struct kvm_xsave);
}

/* One vCPU, out of KVM_RUN with its last exit completed. */
static int save_vcpu(struct vmm *vm, struct vmm_vcpu *v, FILE *f)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	size_t xs = xsave_size(vm), n = ARRAY_SIZE(saved_msrs);
	struct kvm_xsave *xsave = calloc(1, xs);
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) +
					      n * sizeof(msrs->entries[0]));
	int rc = -ENOMEM, got;

	if (!xsave || !msrs)
		goto out;
	rc = -errno;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) ||
	    ioctl(v->fd, KVM_GET_SREGS, &sregs) ||
	    ioctl(v->fd, xs > sizeof(*xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
		  xsave) ||
	    ioctl(v->fd, KVM_GET_XCRS, &xcrs) ||
	    ioctl(v->fd, KVM_GET_LAPIC, &lapic) ||
	    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) ||
	    ioctl(v->fd, KVM_GET_MP_STATE, &mp)) {
		rc = -errno;
		goto out;
	}
	/* KVM_GET_MSRS stops at the first MSR it does not know: keep the
	 * ones it read, one at a time */
	msrs->nmsrs = 0;
	for (size_t i = 0; i < n; i++) {
		struct {
			struct kvm_msrs h;
			struct kvm_msr_entry e;
		} one = { .h.nmsrs = 1, .e.index = saved_msrs[i] };

		got = ioctl(v->fd, KVM_GET_MSRS, &one);
		if (got == 1)
			msrs->entries[msrs->nmsrs++] = one.e;
	}
	rc = put(f, SNAP_REGS, v->id, &regs, sizeof(regs));
	if (!rc)
		rc = put(f, SNAP_SREGS, v->id, &sregs, sizeof(sregs));
	if (!rc)
		rc = put(f, SNAP_XSAVE, v->id, xsave, xs);
	if (!rc)
		rc = put(f, SNAP_XCRS, v->id, &xcrs, sizeof(xcrs));
	if (!rc)
		rc = put(f, SNAP_MSRS, v->id, msrs,
			 sizeof(*msrs) + msrs->nmsrs * sizeof(msrs->entries[0]));
	if (!rc)
		rc = put(f, SNAP_LAPIC, v->id, &lapic, sizeof(lapic));
	if (!rc)
		rc = put(f, SNAP_EVENTS, v->id, &ev, sizeof(ev));
	if (!rc)
		rc = put(f, SNAP_MP_STATE, v->id, &mp, sizeof(mp));
out:
	free(xsave);
	free(msrs);
	return rc;
}

int vmm_snapshot_save(struct vmm *vm, const char *path)
{
	struct snap_header h = { .magic = SNAP_MAGIC, .version = SNAP_VERSION,
				 .nr_vcpus = vm->nr_vcpus };
	struct snap_machine m = { .shinfo_gpa = vm->shinfo_gpa,
				  .ram_size = vm->ram_size };
	struct kvm_clock_data clock = { 0 };
	void *img = NULL;
	size_t img_len = 0;
	FILE *f = fopen(path, "wb");
	int rc;

	if (!f)
		return -errno;
	/* the library's image first: it reads KVM's timers */
	rc = evtchn_domain_save(vm->dom, &img, &img_len);
	if (!rc && ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock))
		rc = -errno;
	if (!rc && fwrite(&h, sizeof(h), 1, f) != 1)
		rc = -EIO;
	if (!rc)
		rc = put(f, SNAP_MACHINE, 0, &m, sizeof(m));
	if (!rc)
		rc = put(f, SNAP_CLOCK, 0, &clock, sizeof(clock));
	for (uint32_t chip = 0; !rc && chip < 3; chip++) {
		struct kvm_irqchip c = { .chip_id = chip };

		rc = ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &c)
			     ? -errno
			     : put(f, SNAP_IRQCHIP, chip, &c, sizeof(c));
	}
	if (!rc) {
		struct kvm_pit_state2 pit;
		unsigned char serial[VMM_SERIAL_STATE];

		rc = ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) ? -errno
			: put(f, SNAP_PIT, 0, &pit, sizeof(pit));
		if (!rc) {
			vmm_serial_save(vm, serial);
			rc = put(f, SNAP_SERIAL, 0, serial, sizeof(serial));
		}
	}
	for (uint32_t i = 0; !rc && i < vm->nr_vcpus; i++)
		rc = save_vcpu(vm, &vm->vcpu[i], f);
	if (!rc)
		rc = put(f, SNAP_LIBEVTCHN, 0, img, img_len);
	if (!rc)
		rc = put(f, SNAP_RAM, 0, vm->ram, vm->ram_size);
	if (!rc)
		rc = put(f, SNAP_END, 0, NULL, 0);
	free(img);
	if (fclose(f) && !rc)
		rc = -EIO;
	return rc;
}

/* One record's payload into @vcpu's state or the machine's. */
static int restore_record(struct vmm *vm, const struct snap_record *r,
			  void *p)
{
	struct vmm_vcpu *v = r->vcpu < vm->nr_vcpus ? &vm->vcpu[r->vcpu] : NULL;
	unsigned long req;

	switch (r->tag) {
	case SNAP_MACHINE:
		if (r->len != sizeof(struct snap_machine) ||
		    ((struct snap_machine *)p)->ram_size != vm->ram_size)
			return -EINVAL;
		vm->shinfo_gpa = ((struct snap_machine *)p)->shinfo_gpa;
		return 0;
	case SNAP_CLOCK:
		if (r->len != sizeof(struct kvm_clock_data))
			return -EINVAL;
		((struct kvm_clock_data *)p)->flags = 0;
		return ioctl(vm->vm_fd, KVM_SET_CLOCK, p) ? -errno : 0;
	case SNAP_IRQCHIP:
		if (r->len != sizeof(struct kvm_irqchip))
			return -EINVAL;
		return ioctl(vm->vm_fd, KVM_SET_IRQCHIP, p) ? -errno : 0;
	case SNAP_PIT:
		if (r->len != sizeof(struct kvm_pit_state2))
			return -EINVAL;
		return ioctl(vm->vm_fd, KVM_SET_PIT2, p) ? -errno : 0;
	case SNAP_SERIAL:
		if (r->len != VMM_SERIAL_STATE)
			return -EINVAL;
		vmm_serial_restore(vm, p);
		return 0;
	case SNAP_LIBEVTCHN:
		return 0; /* after the machine: vmm_snapshot_restore() */
	case SNAP_REGS: req = KVM_SET_REGS; break;
	case SNAP_SREGS: req = KVM_SET_SREGS; break;
	case SNAP_XSAVE: req = KVM_SET_XSAVE; break;
	case SNAP_XCRS: req = KVM_SET_XCRS; break;
	case SNAP_MSRS: req = KVM_SET_MSRS; break;
	case SNAP_LAPIC: req = KVM_SET_LAPIC; break;
	case SNAP_EVENTS: req = KVM_SET_VCPU_EVENTS; break;
	case SNAP_MP_STATE: req = KVM_SET_MP_STATE; break;
	default:
		return -EINVAL;
	}
	if (!v)
		return -EINVAL;
	if (req == KVM_SET_MSRS) {
		struct kvm_msrs *m = p;

		if (r->len < sizeof(*m) ||
		    r->len != sizeof(*m) + m->nmsrs * sizeof(m->entries[0]))
			return -EINVAL;
		return ioctl(v->fd, req, p) == (int)m->nmsrs ? 0 : -EINVAL;
	}
	return ioctl(v->fd, req, p) ? -errno : 0;
}

/* Why the library refused its image: a newer libevtchn's. */
static void explain_image(const void *img, size_t len)
{
	struct evtchn_image_info info;

	(void)evtchn_image_inspect(img, len, &info);
	if (info.format > EVTCHN_IMAGE_FORMAT)
		fprintf(stderr,
			"evtchn-vmm: libevtchn image format %u; this libevtchn "
			"reads up to %d\n",
			info.format, EVTCHN_IMAGE_FORMAT);
	else if (info.unknown_required)
		fprintf(stderr,
			"evtchn-vmm: the libevtchn image needs section type "
			"%#x, which this libevtchn does not know\n",
			info.unknown_required);
	else if (info.unknown_flags)
		fprintf(stderr,
			"evtchn-vmm: the libevtchn image has flags %#x, which "
			"this libevtchn does not know\n",
			info.unknown_flags);
}

int vmm_snapshot_restore(struct vmm *vm, const char *path)
{
	struct snap_header h;
	struct snap_record r;
	void *img = NULL;
	size_t img_len = 0;
	FILE *f = fopen(path, "rb");
	int rc = 0;

	if (!f)
		return -errno;
	if (fread(&h, sizeof(h), 1, f) != 1 || h.magic != SNAP_MAGIC ||
	    h.version != SNAP_VERSION || h.nr_vcpus != vm->nr_vcpus)
		rc = -EINVAL;
	while (!rc && fread(&r, sizeof(r), 1, f) == 1 && r.tag != SNAP_END) {
		void *p;

		/* guest memory straight into place */
		if (r.tag == SNAP_RAM) {
			if (r.len != vm->ram_size ||
			    fread(vm->ram, r.len, 1, f) != 1)
				rc = -EINVAL;
			continue;
		}
		p = r.len ? malloc(r.len) : NULL;

		if (r.len > (1u << 26) || (r.len && !p) ||
		    (r.len && fread(p, r.len, 1, f) != 1)) {
			free(p);
			rc = -EINVAL;
			break;
		}
		rc = restore_record(vm, &r, p);
		if (r.tag == SNAP_LIBEVTCHN && !rc) {
			img = p;
			img_len = r.len;
		} else {
			free(p);
		}
	}
	if (!rc && (r.tag != SNAP_END || !img))
		rc = -EINVAL;
	fclose(f);
	/* shared_info where the guest had it, then the library's state
	 * (the guest's memory is in place) */
	if (!rc && vm->shinfo_gpa)
		rc = vm->shinfo_gpa < vm->ram_size
			     ? vmm_kvm_overlay(vm, vm->shinfo_gpa,
					       evtchn_domain_shared_info(vm->dom))
			     : vmm_kvm_map(vm, vm->shinfo_gpa,
					   evtchn_domain_shared_info(vm->dom),
					   EVTCHN_PAGE_SIZE);
	if (!rc)
		rc = evtchn_domain_restore(vm->dom, img, img_len);
	if (rc == -EOPNOTSUPP)
		explain_image(img, img_len);
	free(img);
	return rc;
}
