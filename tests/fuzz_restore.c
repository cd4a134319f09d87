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
 *     kind % 4 == 3  copy 24 bytes from elsewhere (a port record over
 *                    another)
 * What is checked: restore answers 0, -EINVAL or -EOPNOTSUPP only; an
 * accepted image gives a domain whose own image restores again and saves
 * to the same bytes (a fixed point); the restored domain survives every
 * operation a guest and the VMM can apply (sends, unmasks, status, bind,
 * close, MSIs, GSIs, reset) under the sanitizers, on every port and PIRQ
 * that has state (exercise()); a refused image leaves the domain fresh
 * (the base image still restores).
 *
 * Inputs in a row: the hosts, the base images and their guest memory are
 * made once; the library reaches guest memory only through map_cb(),
 * which marks the pages it maps, and the harness marks the page it copies
 * arguments through, so after each input only those pages are copied back
 * from the base.
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
	unsigned char *mem;  /* the guest memory the image goes with */
	unsigned char *work; /* the memory inputs run on: mem at each start */
	uint64_t dirty[MEM_PAGES / 64]; /* pages of work that may differ */
};

/* Test builds of the library (src/park.h): grace periods no other thread
 * can be in end at once.  Everything here runs on one thread. */
extern unsigned long evtchn_lone_grace(bool on) __attribute__((weak));

static struct evtchn_host *host, *host2; /* the second for d2 */
static struct base bases[2];
static unsigned long accepted, refused;

static uint64_t fixed_clock(void *opaque)
{
	(void)opaque;
	return 7000000000ull;
}

static void mark(struct base *b, uint64_t gfn)
{
	b->dirty[gfn / 64] |= 1ull << (gfn % 64);
}

/* Guest memory as the library sees it: every page it maps is marked. */
static void *map_cb(struct evtchn_domain *d, uint64_t gfn, bool writable,
		    void *opaque)
{
	struct base *b = opaque;

	(void)d;
	(void)writable;
	if (gfn >= MEM_PAGES)
		return NULL;
	mark(b, gfn);
	return b->work + gfn * EVTCHN_PAGE_SIZE;
}

/* The memory the next input runs on: the base's again. */
static void mem_restore(struct base *b)
{
	for (uint64_t pg = 0; pg < MEM_PAGES; pg++)
		if (b->dirty[pg / 64] >> (pg % 64) & 1)
			memcpy(b->work + pg * EVTCHN_PAGE_SIZE,
			       b->mem + pg * EVTCHN_PAGE_SIZE,
			       EVTCHN_PAGE_SIZE);
	memset(b->dirty, 0, sizeof(b->dirty));
}

static long hcall(struct evtchn_domain *d, struct base *b, uint32_t vcpu,
		  uint64_t nr, uint64_t a0, void *arg, size_t len)
{
	uint64_t a[6] = { a0, ARG_GPA };
	long rc;

	if (nr == __HYPERVISOR_vcpu_op) {
		a[1] = vcpu;
		a[2] = ARG_GPA;
	}
	mark(b, ARG_GPA / EVTCHN_PAGE_SIZE);
	memcpy(b->work + ARG_GPA, arg, len);
	rc = evtchn_hypercall(d, vcpu, nr, a);
	memcpy(arg, b->work + ARG_GPA, len);
	return rc;
}

static long evop(struct evtchn_domain *d, struct base *b, int cmd,
		 void *arg, size_t len)
{
	return hcall(d, b, 0, __HYPERVISOR_event_channel_op, (uint64_t)cmd,
		     arg, len);
}

static struct evtchn_domain *domain_on(struct evtchn_host *h,
				       struct base *b)
{
	struct evtchn_domain_config cfg = { .domid = 1,
					    .nr_vcpus = NR_VCPUS };
	struct evtchn_domain *d;

	cfg.mem.map_cb = map_cb;
	cfg.mem.opaque = b;
	CHECK(evtchn_domain_create(h, &cfg, &d) == 0);
	return d;
}

static struct evtchn_domain *domain(struct base *b)
{
	return domain_on(host, b);
}

/* A guest with every kind of state; its image and memory. */
static void make_base(struct base *b, bool fifo)
{
	struct evtchn_domain *d;
	unsigned char *mem = b->work = calloc(1, MEM_SIZE);
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
	d = domain(b);
	if (fifo) {
		for (uint32_t v = 0; v < NR_VCPUS; v++) {
			struct evtchn_init_control ic = {
				.control_gfn = 50, .offset = v * 72, .vcpu = v
			};

			CHECK(evop(d, b, EVTCHNOP_init_control, &ic,
				   sizeof(ic)) == 0);
		}
		struct evtchn_expand_array ea = { .array_gfn = 51 };

		CHECK(evop(d, b, EVTCHNOP_expand_array, &ea, sizeof(ea)) ==
		      0);
	}
	CHECK(hcall(d, b, 1, __HYPERVISOR_vcpu_op,
		    VCPUOP_register_vcpu_info, &vi, sizeof(vi)) == 0);
	CHECK(hcall(d, b, 0, __HYPERVISOR_hvm_op, HVMOP_set_param, &hp,
		    sizeof(hp)) == 0);
	CHECK(evop(d, b, EVTCHNOP_bind_ipi, &ipi, sizeof(ipi)) == 0);
	CHECK(evop(d, b, EVTCHNOP_bind_virq, &virq, sizeof(virq)) == 0);
	CHECK(evop(d, b, EVTCHNOP_alloc_unbound, &au, sizeof(au)) == 0);
	bi.remote_port = au.port;
	CHECK(evop(d, b, EVTCHNOP_bind_interdomain, &bi, sizeof(bi)) == 0);
	au.remote_dom = 0;
	CHECK(evop(d, b, EVTCHNOP_alloc_unbound, &au, sizeof(au)) == 0);
	CHECK(hcall(d, b, 0, __HYPERVISOR_physdev_op, PHYSDEVOP_map_pirq,
		    &mp, sizeof(mp)) == 0);
	bp = (struct evtchn_bind_pirq){ .pirq = (uint32_t)mp.pirq };
	CHECK(evop(d, b, EVTCHNOP_bind_pirq, &bp, sizeof(bp)) == 0);
	CHECK(hcall(d, b, 0, __HYPERVISOR_physdev_op,
		    PHYSDEVOP_get_free_pirq, &gf, sizeof(gf)) == 0);
	bp = (struct evtchn_bind_pirq){ .pirq = gf.pirq };
	CHECK(evop(d, b, EVTCHNOP_bind_pirq, &bp, sizeof(bp)) == 0);
	CHECK(evtchn_msi_inject(d, 0xfee00000u | (gf.pirq << 12), 0) == 0);
	s.port = ipi.port;
	CHECK(evop(d, b, EVTCHNOP_send, &s, sizeof(s)) == 0);
	s.port = bi.local_port;
	CHECK(evop(d, b, EVTCHNOP_send, &s, sizeof(s)) == 0);
	CHECK(evtchn_send_virq(d, 2, VIRQ_TIMER) == 0);
	CHECK(evtchn_domain_save(d, (void **)&b->img, &b->len) == 0);
	CHECK(evtchn_domain_destroy(d) == 0);
	/* What the image goes with; the work copy is it again. */
	b->mem = malloc(MEM_SIZE);
	CHECK(b->mem);
	memcpy(b->mem, mem, MEM_SIZE);
	memset(b->dirty, 0, sizeof(b->dirty));
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
}

static const uint32_t boundary[] = {
	0,	    1,		2,	    3,		 5,	   6,
	15,	    16,		47,	    48,		 55,	   56,
	63,	    64,		1023,	    1024,	 4095,	   4096,
	131071,	    131072,	0x7fff,	    0x7ff0,	 0xffff,   0x10000,
	0x7fffffff, 0x80000000, 0xfffffffd, 0xfffffffe, 0xffffffff, 0xf3,
	0x0f,	    0x10,
};

/* evtchn_domain_dump()'s text, kept in memory. */
static struct {
	char *buf;
	size_t len, cap;
} dump_text;

static ssize_t dump_write(void *cookie, const char *buf, size_t len)
{
	(void)cookie;
	if (dump_text.len + len + 1 > dump_text.cap) {
		size_t cap = dump_text.cap ? dump_text.cap : 1 << 16;

		while (dump_text.len + len + 1 > cap)
			cap *= 2;
		dump_text.buf = realloc(dump_text.buf, cap);
		CHECK(dump_text.buf);
		dump_text.cap = cap;
	}
	memcpy(dump_text.buf + dump_text.len, buf, len);
	dump_text.len += len;
	return (ssize_t)len;
}

/*
 * The ports of @d that are not free, as evtchn_domain_dump() lists them
 * (each line after the first begins with the port), into @ports (at most
 * @max); *@valid: how many ports are valid (the first line says).
 * Returns how many.
 */
static uint32_t dump_ports(struct evtchn_domain *d, uint32_t *ports,
			   uint32_t max, uint32_t *valid)
{
	static FILE *out;
	const char *p, *v;
	uint32_t n = 0;
	int listed;

	if (!out) {
		cookie_io_functions_t io = { .write = dump_write };

		out = fopencookie(NULL, "w", io);
		CHECK(out);
	}
	dump_text.len = 0;
	listed = evtchn_domain_dump(d, out);
	CHECK(listed >= 1 && fflush(out) == 0 && dump_text.buf);
	dump_text.buf[dump_text.len] = 0;
	v = strstr(dump_text.buf, " ports valid):\n");
	CHECK(v);
	while (v > dump_text.buf && v[-1] >= '0' && v[-1] <= '9')
		v--;
	*valid = (uint32_t)strtoul(v, NULL, 10);
	for (p = strchr(dump_text.buf, '\n'); p && p[1]; p = strchr(p, '\n')) {
		uint32_t port = (uint32_t)strtoul(p + 1, NULL, 10);

		CHECK(port < *valid);
		if (n < max)
			ports[n++] = port;
		p++;
	}
	CHECK(n == (uint32_t)listed || (uint32_t)listed > max);
	return n;
}

/*
 * Everything a guest and the VMM can do to the restored domain, on every
 * port and PIRQ that has state: what a restore may have got wrong is
 * there.  A free port, an invalid one and a PIRQ without state take the
 * same paths as in any fresh domain; one of each is exercised (the
 * lowest free port, the first invalid one, PIRQ 0 and those beyond the
 * domain's).  The ports with state are those evtchn_domain_dump() lists
 * (port 0 among them); a PIRQ has state when an MSI to it is not refused
 * as one without (-EBUSY: another holds the emulated-MSI mapping and this
 * one has none; -ERANGE: PIRQ 0).
 */
static void exercise(struct evtchn_domain *d, struct base *b)
{
	struct evtchn_reset r = { .dom = DOMID_SELF };
	uint32_t ports[256], n, valid, free_port = 1;

	n = dump_ports(d, ports, 250, &valid);
	for (uint32_t i = 0; i < n; i++)
		if (ports[i] == free_port)
			free_port++;
	if (free_port < valid)
		ports[n++] = free_port;
	ports[n++] = valid;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t p = ports[i];
		struct evtchn_status st = { .dom = DOMID_SELF, .port = p };
		struct evtchn_send s = { .port = p };
		struct evtchn_unmask u = { .port = p };
		struct evtchn_bind_vcpu bv = { .port = p, .vcpu = p % NR_VCPUS };

		(void)evop(d, b, EVTCHNOP_status, &st, sizeof(st));
		(void)evop(d, b, EVTCHNOP_send, &s, sizeof(s));
		(void)evop(d, b, EVTCHNOP_unmask, &u, sizeof(u));
		(void)evop(d, b, EVTCHNOP_bind_vcpu, &bv, sizeof(bv));
	}
	for (uint32_t v = 0; v < 3 * NR_VCPUS; v++)
		(void)evtchn_send_virq(d, v % NR_VCPUS, v % 4);
	for (uint32_t i = 0; i < 60; i++) {
		struct physdev_eoi e = { .irq = i };
		struct physdev_irq_status_query q = { .irq = i };
		int rc = evtchn_msi_inject(d, 0xfee00000u | (i << 12), 0);

		if (i && (rc == -EBUSY || rc == -ERANGE))
			continue;
		(void)hcall(d, b, 0, __HYPERVISOR_physdev_op, PHYSDEVOP_eoi,
			    &e, sizeof(e));
		(void)hcall(d, b, 0, __HYPERVISOR_physdev_op,
			    PHYSDEVOP_irq_status_query, &q, sizeof(q));
	}
	for (uint32_t g = 0; g < 48; g++) {
		CHECK(evtchn_gsi_set(d, g, true) >= 0);
		CHECK(evtchn_gsi_set(d, g, false) >= 0);
	}
	for (uint32_t i = 0; i < 8; i++) {
		struct evtchn_bind_ipi ipi = { .vcpu = i % NR_VCPUS };
		struct evtchn_close c = { .port = i * 3 };

		(void)evop(d, b, EVTCHNOP_bind_ipi, &ipi, sizeof(ipi));
		(void)evop(d, b, EVTCHNOP_close, &c, sizeof(c));
	}
	CHECK(evtchn_host_timers_run(host) >= 0);
	CHECK(evop(d, b, EVTCHNOP_reset, &r, sizeof(r)) == 0);
}

int evtchn_fuzz_restore_one(const uint8_t *data, size_t size)
{
	static unsigned char *img;
	static size_t img_cap;
	struct base *b;
	unsigned char *img2 = NULL, *img3 = NULL;
	struct evtchn_domain *d, *d2;
	size_t len, len2, len3;
	int rc;

	if (!host)
		init();
	if (size < 1)
		return 0;
	b = &bases[data[0] & 1];
	len = b->len;
	if (img_cap < len) {
		img = realloc(img, len);
		CHECK(img);
		img_cap = len;
	}
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
			if (len >= 24)
				memmove(img + off % (len - 23),
					img + (off * 7 + v) % (len - 23), 24);
			break;
		}
	}
	d = domain(b);
	rc = evtchn_domain_restore(d, img, len);
	/* -EOPNOTSUPP: a section type, flag or format a newer library's */
	CHECK(rc == 0 || rc == -EINVAL || rc == -EOPNOTSUPP);
	if (rc) {
		refused++;
		/* nothing changed: the good image still goes in */
		CHECK(evtchn_domain_restore(d, b->img, b->len) == 0);
	} else {
		accepted++;
		/* a fixed point: its own image restores and saves the same */
		CHECK(evtchn_domain_save(d, (void **)&img2, &len2) == 0);
		d2 = domain_on(host2, b);
		CHECK(evtchn_domain_restore(d2, img2, len2) == 0);
		CHECK(evtchn_domain_save(d2, (void **)&img3, &len3) == 0);
		CHECK(len2 == len3 && memcmp(img2, img3, len2) == 0);
		CHECK(evtchn_domain_destroy(d2) == 0);
		exercise(d, b);
	}
	CHECK(evtchn_domain_destroy(d) == 0);
	free(img2);
	free(img3);
	mem_restore(b);
	return 0;
}

void evtchn_fuzz_restore_counts(unsigned long *acc, unsigned long *ref)
{
	*acc = accepted;
	*ref = refused;
}
