/* SPDX-License-Identifier: MIT */
/*
 * Hostile snapshot images against evtchn_domain_restore().
 *
 * Two base images (2-level and FIFO) are taken once from a guest with every
 * kind of state; an input is a list of mutations applied to one of them:
 *   byte 0        which base (bit 0)
 *   then records of 4 bytes: kind, offset (2 bytes), value
 *     kind % 4 == 0  XOR the byte at offset with value
 *     kind % 4 == 1  write a 32-bit boundary value (table[value]) there
 *     kind % 4 == 2  truncate the image to offset (if shorter)
 *     kind % 4 == 3  copy 20 bytes from elsewhere (a record over another)
 * What is checked: restore answers 0 or -EINVAL and nothing else; an
 * accepted image gives a domain whose own image restores again and saves
 * to the same bytes (a fixed point); the restored domain survives every
 * operation a guest and the VMM can apply (sends, unmasks, status, bind,
 * close, MSIs, GSIs, reset) under the sanitizers; a refused image leaves
 * the domain fresh (the base image still restores).
 */
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
#include <xen/physdev.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#include "evtchn/evtchn.h"
#include "fuzz_restore.h"

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr, "evtchn restore fuzz: %s:%d: %s\n",  \
				__FILE__, __LINE__, #c);                     \
			abort();                                             \
		}                                                            \
	} while (0)

#define MEM_PAGES 128u
#define MEM_SIZE (MEM_PAGES * EVTCHN_PAGE_SIZE)
#define ARG_GPA (16u * EVTCHN_PAGE_SIZE)
#define NR_VCPUS 3u

struct base {
	unsigned char *img;
	size_t len;
	unsigned char *mem; /* the guest memory the image goes with */
};

/* Test builds of the library (src/park.h): grace periods no other thread
 * can be in end at once.  Everything here runs on one thread. */
extern unsigned long evtchn_lone_grace(bool on) __attribute__((weak));

static struct evtchn_host *host, *host2; /* the second for d2 */
static struct base bases[2];
static FILE *devnull;
static unsigned long accepted, refused;

static uint64_t fixed_clock(void *opaque)
{
	(void)opaque;
	return 7000000000ull;
}

static long hcall(struct evtchn_domain *d, unsigned char *mem, uint32_t vcpu,
		  uint64_t nr, uint64_t a0, void *arg, size_t len)
{
	uint64_t a[6] = { a0, ARG_GPA };
	long rc;

	if (nr == __HYPERVISOR_vcpu_op) {
		a[1] = vcpu;
		a[2] = ARG_GPA;
	}
	memcpy(mem + ARG_GPA, arg, len);
	rc = evtchn_hypercall(d, vcpu, nr, a);
	memcpy(arg, mem + ARG_GPA, len);
	return rc;
}

static long evop(struct evtchn_domain *d, unsigned char *mem, int cmd,
		 void *arg, size_t len)
{
	return hcall(d, mem, 0, __HYPERVISOR_event_channel_op, (uint64_t)cmd,
		     arg, len);
}

static struct evtchn_domain *domain_on(struct evtchn_host *h,
				       unsigned char *mem)
{
	struct evtchn_domain_config cfg = { .domid = 1,
					    .nr_vcpus = NR_VCPUS };
	struct evtchn_domain *d;

	evtchn_guest_mem_flat(&cfg.mem, mem, MEM_SIZE);
	CHECK(evtchn_domain_create(h, &cfg, &d) == 0);
	return d;
}

static struct evtchn_domain *domain(unsigned char *mem)
{
	return domain_on(host, mem);
}

/* A guest with every kind of state; its image and memory. */
static void make_base(struct base *b, bool fifo)
{
	struct evtchn_domain *d;
	unsigned char *mem = calloc(1, MEM_SIZE);
	struct vcpu_register_vcpu_info vi = { .mfn = 40, .offset = 64 };
	struct xen_hvm_param hp = { .domid = DOMID_SELF,
				    .index = HVM_PARAM_CALLBACK_IRQ,
				    .value = (2ull << 56) | 0xf3 };
	struct evtchn_bind_ipi ipi = { .vcpu = 1 };
	struct evtchn_bind_virq virq = { .virq = VIRQ_TIMER, .vcpu = 2 };
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
					   .remote_dom = DOMID_SELF };
	struct evtchn_bind_interdomain bi = { .remote_dom = DOMID_SELF };
	struct physdev_map_pirq mp = { .domid = DOMID_SELF,
				       .type = MAP_PIRQ_TYPE_GSI, .index = 20,
				       .pirq = -1 };
	struct physdev_get_free_pirq gf = { .type = MAP_PIRQ_TYPE_MSI };
	struct evtchn_bind_pirq bp;
	struct evtchn_send s;

	CHECK(mem);
	d = domain(mem);
	if (fifo) {
		for (uint32_t v = 0; v < NR_VCPUS; v++) {
			struct evtchn_init_control ic = {
				.control_gfn = 50, .offset = v * 72, .vcpu = v
			};

			CHECK(evop(d, mem, EVTCHNOP_init_control, &ic,
				   sizeof(ic)) == 0);
		}
		struct evtchn_expand_array ea = { .array_gfn = 51 };

		CHECK(evop(d, mem, EVTCHNOP_expand_array, &ea, sizeof(ea)) ==
		      0);
	}
	CHECK(hcall(d, mem, 1, __HYPERVISOR_vcpu_op,
		    VCPUOP_register_vcpu_info, &vi, sizeof(vi)) == 0);
	CHECK(hcall(d, mem, 0, __HYPERVISOR_hvm_op, HVMOP_set_param, &hp,
		    sizeof(hp)) == 0);
	CHECK(evop(d, mem, EVTCHNOP_bind_ipi, &ipi, sizeof(ipi)) == 0);
	CHECK(evop(d, mem, EVTCHNOP_bind_virq, &virq, sizeof(virq)) == 0);
	CHECK(evop(d, mem, EVTCHNOP_alloc_unbound, &au, sizeof(au)) == 0);
	bi.remote_port = au.port;
	CHECK(evop(d, mem, EVTCHNOP_bind_interdomain, &bi, sizeof(bi)) == 0);
	au.remote_dom = 0;
	CHECK(evop(d, mem, EVTCHNOP_alloc_unbound, &au, sizeof(au)) == 0);
	CHECK(hcall(d, mem, 0, __HYPERVISOR_physdev_op, PHYSDEVOP_map_pirq,
		    &mp, sizeof(mp)) == 0);
	bp = (struct evtchn_bind_pirq){ .pirq = (uint32_t)mp.pirq };
	CHECK(evop(d, mem, EVTCHNOP_bind_pirq, &bp, sizeof(bp)) == 0);
	CHECK(hcall(d, mem, 0, __HYPERVISOR_physdev_op,
		    PHYSDEVOP_get_free_pirq, &gf, sizeof(gf)) == 0);
	bp = (struct evtchn_bind_pirq){ .pirq = gf.pirq };
	CHECK(evop(d, mem, EVTCHNOP_bind_pirq, &bp, sizeof(bp)) == 0);
	CHECK(evtchn_msi_inject(d, 0xfee00000u | (gf.pirq << 12), 0) == 0);
	s.port = ipi.port;
	CHECK(evop(d, mem, EVTCHNOP_send, &s, sizeof(s)) == 0);
	s.port = bi.local_port;
	CHECK(evop(d, mem, EVTCHNOP_send, &s, sizeof(s)) == 0);
	CHECK(evtchn_send_virq(d, 2, VIRQ_TIMER) == 0);
	CHECK(evtchn_domain_save(d, (void **)&b->img, &b->len) == 0);
	b->mem = mem;
	CHECK(evtchn_domain_destroy(d) == 0);
}

static void init(void)
{
	if (evtchn_lone_grace)
		evtchn_lone_grace(true);
	CHECK(evtchn_host_create(&host) == 0);
	CHECK(evtchn_host_set_clock(host, fixed_clock, NULL) == 0);
	CHECK(evtchn_host_create(&host2) == 0);
	CHECK(evtchn_host_set_clock(host2, fixed_clock, NULL) == 0);
	make_base(&bases[0], false);
	make_base(&bases[1], true);
	devnull = fopen("/dev/null", "w");
	CHECK(devnull);
}

static const uint32_t boundary[] = {
	0,	    1,		2,	    3,		 5,	   6,
	15,	    16,		47,	    48,		 55,	   56,
	63,	    64,		1023,	    1024,	 4095,	   4096,
	131071,	    131072,	0x7fff,	    0x7ff0,	 0xffff,   0x10000,
	0x7fffffff, 0x80000000, 0xfffffffd, 0xfffffffe, 0xffffffff, 0xf3,
	0x0f,	    0x10,
};

/* Everything a guest and the VMM can do to the restored domain. */
static void exercise(struct evtchn_domain *d, unsigned char *mem)
{
	struct evtchn_reset r = { .dom = DOMID_SELF };

	CHECK(evtchn_domain_dump(d, devnull) >= 0);
	for (uint32_t p = 0; p < 80; p++) {
		struct evtchn_status st = { .dom = DOMID_SELF, .port = p };
		struct evtchn_send s = { .port = p };
		struct evtchn_unmask u = { .port = p };
		struct evtchn_bind_vcpu bv = { .port = p, .vcpu = p % NR_VCPUS };

		(void)evop(d, mem, EVTCHNOP_status, &st, sizeof(st));
		(void)evop(d, mem, EVTCHNOP_send, &s, sizeof(s));
		(void)evop(d, mem, EVTCHNOP_unmask, &u, sizeof(u));
		(void)evop(d, mem, EVTCHNOP_bind_vcpu, &bv, sizeof(bv));
	}
	for (uint32_t v = 0; v < 3 * NR_VCPUS; v++)
		(void)evtchn_send_virq(d, v % NR_VCPUS, v % 4);
	for (uint32_t i = 0; i < 60; i++) {
		struct physdev_eoi e = { .irq = i };
		struct physdev_irq_status_query q = { .irq = i };

		(void)evtchn_msi_inject(d, 0xfee00000u | (i << 12), 0);
		(void)hcall(d, mem, 0, __HYPERVISOR_physdev_op, PHYSDEVOP_eoi,
			    &e, sizeof(e));
		(void)hcall(d, mem, 0, __HYPERVISOR_physdev_op,
			    PHYSDEVOP_irq_status_query, &q, sizeof(q));
	}
	for (uint32_t g = 0; g < 48; g++) {
		CHECK(evtchn_gsi_set(d, g, true) >= 0);
		CHECK(evtchn_gsi_set(d, g, false) >= 0);
	}
	for (uint32_t i = 0; i < 8; i++) {
		struct evtchn_bind_ipi ipi = { .vcpu = i % NR_VCPUS };
		struct evtchn_close c = { .port = i * 3 };

		(void)evop(d, mem, EVTCHNOP_bind_ipi, &ipi, sizeof(ipi));
		(void)evop(d, mem, EVTCHNOP_close, &c, sizeof(c));
	}
	CHECK(evtchn_host_timers_run(host) >= 0);
	CHECK(evop(d, mem, EVTCHNOP_reset, &r, sizeof(r)) == 0);
}

int evtchn_fuzz_restore_one(const uint8_t *data, size_t size)
{
	const struct base *b;
	unsigned char *img, *mem, *img2 = NULL, *img3 = NULL;
	struct evtchn_domain *d, *d2;
	size_t len, len2, len3;
	int rc;

	if (!host)
		init();
	if (size < 1)
		return 0;
	b = &bases[data[0] & 1];
	len = b->len;
	img = malloc(len);
	CHECK(img);
	memcpy(img, b->img, len);
	for (size_t i = 1; i + 4 <= size; i += 4) {
		size_t off = ((size_t)data[i + 1] | (size_t)data[i + 2] << 8);
		uint8_t v = data[i + 3];

		if (len == 0)
			break; /* truncated to nothing */
		switch (data[i] % 4) {
		case 0:
			img[off % len] ^= v;
			break;
		case 1:
			if (len >= 4) {
				uint32_t x = boundary[v % (sizeof(boundary) /
							 sizeof(boundary[0]))];

				memcpy(img + off % (len - 3), &x, 4);
			}
			break;
		case 2:
			if (off < len)
				len = off;
			break;
		default:
			if (len >= 20)
				memmove(img + off % (len - 19),
					img + (off * 7 + v) % (len - 19), 20);
			break;
		}
	}
	mem = malloc(MEM_SIZE);
	CHECK(mem);
	memcpy(mem, b->mem, MEM_SIZE);
	d = domain(mem);
	rc = evtchn_domain_restore(d, img, len);
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc) {
		refused++;
		/* nothing changed: the good image still goes in */
		CHECK(evtchn_domain_restore(d, b->img, b->len) == 0);
	} else {
		accepted++;
		/* a fixed point: its own image restores and saves the same */
		CHECK(evtchn_domain_save(d, (void **)&img2, &len2) == 0);
		d2 = domain_on(host2, mem);
		CHECK(evtchn_domain_restore(d2, img2, len2) == 0);
		CHECK(evtchn_domain_save(d2, (void **)&img3, &len3) == 0);
		CHECK(len2 == len3 && memcmp(img2, img3, len2) == 0);
		CHECK(evtchn_domain_destroy(d2) == 0);
		exercise(d, mem);
	}
	CHECK(evtchn_domain_destroy(d) == 0);
	free(img);
	free(img2);
	free(img3);
	free(mem);
	return 0;
}

void evtchn_fuzz_restore_counts(unsigned long *acc, unsigned long *ref)
{
	*acc = accepted;
	*ref = refused;
}
