/* SPDX-License-Identifier: MIT */
/*
 * Save and restore (src/snapshot.c): a domain restored on another host from
 * its image and a copy of its memory is the same domain: the same port
 * table, the same bits in memory, and every operation afterwards gives the
 * same answers and writes the same bytes as on the original.  Hostile
 * images are refused and change nothing.
 */
#include <string.h>

#include "fixture.h"
#include "fuzz_restore.h"

#include <xen/physdev.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#define NOW 5000000000ull

static uint64_t fixed_clock(void *opaque)
{
	(void)opaque;
	return NOW;
}

/* A migration: the source host (dom0 and the guest, domain 1) and the
 * destination host, where domain 1 is created empty. */
struct mig {
	struct evtchn_host *h[2];
	struct th_domain dom0[2], g[2];
	bool fifo;
};

static int mk(struct mig *m, int i)
{
	struct th_domain_opts o0 = { .domid = 0, .nr_vcpus = 1,
				     .privileged = true };
	struct th_domain_opts o1 = { .domid = 1, .nr_vcpus = 3 };

	return evtchn_host_create(&m->h[i]) ||
	       evtchn_host_set_clock(m->h[i], fixed_clock, NULL) ||
	       th_domain_create(m->h[i], &m->dom0[i], &o0) ||
	       th_domain_create(m->h[i], &m->g[i], &o1);
}

static int setup(void **state)
{
	struct mig *m = calloc(1, sizeof(*m));

	if (!m || mk(m, 0) || mk(m, 1))
		return -1;
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	struct mig *m = *state;

	for (int i = 0; i < 2; i++) {
		th_domain_destroy(&m->g[i]);
		th_domain_destroy(&m->dom0[i]);
		assert_int_equal(evtchn_host_destroy(m->h[i]), 0);
	}
	free(m);
	return 0;
}

#define M struct mig *m = *state

static long bind_pirq(struct th_domain *td, uint32_t pirq)
{
	struct evtchn_bind_pirq b = { .pirq = pirq };
	long rc = th_op(td, 0, EVTCHNOP_bind_pirq, &b, sizeof(b));

	return rc ? rc : (long)b.port;
}

/* Every kind of state a guest can have. */
static void build_state(struct mig *m)
{
	struct th_domain *g = &m->g[0];
	struct vcpu_register_vcpu_info info = { .mfn = 50, .offset = 64 };
	struct xen_hvm_param hp = { .domid = DOMID_SELF,
				    .index = HVM_PARAM_CALLBACK_IRQ,
				    .value = (2ull << 56) | 0xf3 };
	struct xen_hvm_evtchn_upcall_vector uv = { .vcpu = 2, .vector = 0xe0 };
	struct physdev_map_pirq mp = { .domid = DOMID_SELF,
				       .type = MAP_PIRQ_TYPE_GSI,
				       .index = 20, .pirq = -1 };
	struct physdev_get_free_pirq gf = { .type = MAP_PIRQ_TYPE_MSI };
	struct evtchn_vcpu_timer t = { .singleshot_ns = NOW + 777,
				       .period_ns = 10000000,
				       .periodic_next_ns = NOW + 5000 };
	uint64_t gpa = 51ull * EVTCHN_PAGE_SIZE;
	long ipi, lo, virq, unb;

	if (m->fifo)
		assert_int_equal(th_fifo_setup(g, 1), 0);
	memcpy(g->mem + gpa, &info, sizeof(info));
	assert_int_equal(th_hypercall(g, 1, __HYPERVISOR_vcpu_op,
				      VCPUOP_register_vcpu_info, 1, gpa), 0);
	assert_int_equal(th_hvm(g, 0, HVMOP_set_param, &hp, sizeof(hp)), 0);
	assert_int_equal(th_hvm(g, 0, HVMOP_set_evtchn_upcall_vector, &uv,
			     sizeof(uv)), 0);
	ipi = th_bind_ipi(g, 1);                       /* 1 */
	virq = th_bind_virq(g, VIRQ_TIMER, 2);         /* 2 */
	assert_int_equal(th_bind_virq(g, VIRQ_CONSOLE, 0), 3);
	assert_int_equal(th_bind_vcpu(g, 3, 2), 0);   /* a moved global VIRQ */
	lo = th_alloc_unbound(g, DOMID_SELF, DOMID_SELF); /* 4 */
	assert_int_equal(th_bind_interdomain(g, DOMID_SELF, lo), 5);
	unb = th_alloc_unbound(g, DOMID_SELF, 0);      /* 6: for dom0 */
	assert_int_equal(th_bind_interdomain(&m->dom0[0], 1, unb), 1);
	assert_int_equal(th_alloc_unbound(g, DOMID_SELF, 7), 7);
	assert_int_equal(th_physdev(g, PHYSDEVOP_map_pirq, &mp, sizeof(mp)), 0);
	assert_int_equal(bind_pirq(g, (uint32_t)mp.pirq), 8);
	assert_int_equal(th_physdev(g, PHYSDEVOP_get_free_pirq, &gf, sizeof(gf)),
			 0);
	assert_int_equal(bind_pirq(g, gf.pirq), 9);
	assert_int_equal(evtchn_msi_inject(g->d, ((uint64_t)0 << 32) |
							0xfee00000u |
							(gf.pirq << 12),
					   0),
			 0);
	if (m->fifo) {
		struct evtchn_set_priority sp = { .port = ipi, .priority = 3 };

		assert_int_equal(th_op(g, 0, EVTCHNOP_set_priority, &sp,
				       sizeof(sp)), 0);
	}
	/* events: pending, masked, linked on queues */
	th_mask(g, lo);
	assert_int_equal(th_send(g, 0, ipi), 0);
	assert_int_equal(th_send(g, 0, lo), 0);
	assert_int_equal(evtchn_send_virq(g->d, 2, VIRQ_TIMER), 0);
	assert_int_equal(th_send(&m->dom0[0], 0, 1), 0);
	assert_int_equal(evtchn_vcpu_timer_set(g->d, 1, &t), 0);
	(void)virq;
}

/* Both hosts' copies of the guest agree: memory, shared_info, every
 * port's status, timers, the dump. */
static void same_domain(struct mig *m)
{
	struct th_domain *a = &m->g[0], *b = &m->g[1];
	char *da = NULL, *db = NULL;
	size_t la = 0, lb = 0;
	FILE *fa = open_memstream(&da, &la), *fb = open_memstream(&db, &lb);

	/* guest memory but the pages the tests pass hypercall arguments in */
	assert_memory_equal(a->mem, b->mem,
			    TH_SCRATCH_FIRST_GFN * EVTCHN_PAGE_SIZE);
	assert_memory_equal(a->mem + (TH_SCRATCH_FIRST_GFN + TH_SCRATCH_PAGES) *
					     EVTCHN_PAGE_SIZE,
			    b->mem + (TH_SCRATCH_FIRST_GFN + TH_SCRATCH_PAGES) *
					     EVTCHN_PAGE_SIZE,
			    TH_MEM_SIZE - (TH_SCRATCH_FIRST_GFN +
					   TH_SCRATCH_PAGES) *
						  EVTCHN_PAGE_SIZE);
	assert_memory_equal(evtchn_domain_shared_info(a->d),
			    evtchn_domain_shared_info(b->d), EVTCHN_PAGE_SIZE);
	for (uint32_t p = 0; p < 80; p++) {
		struct evtchn_status sa, sb;
		long ra = th_status(a, DOMID_SELF, p, &sa);
		long rb = th_status(b, DOMID_SELF, p, &sb);

		assert_int_equal(ra, rb);
		if (ra)
			continue;
		assert_int_equal(sa.status, sb.status);
		assert_int_equal(sa.vcpu, sb.vcpu);
		assert_memory_equal(&sa.u, &sb.u, sizeof(sa.u));
	}
	for (uint32_t v = 0; v < 3; v++) {
		struct evtchn_vcpu_timer ta, tb;

		assert_int_equal(evtchn_vcpu_timer_get(a->d, v, &ta), 0);
		assert_int_equal(evtchn_vcpu_timer_get(b->d, v, &tb), 0);
		assert_memory_equal(&ta, &tb, sizeof(ta));
	}
	assert_true(evtchn_domain_dump(a->d, fa) > 0);
	assert_true(evtchn_domain_dump(b->d, fb) > 0);
	fclose(fa);
	fclose(fb);
	assert_string_equal(da, db);
	free(da);
	free(db);
}

/* The same operations on both copies. */
static void same_ops(struct mig *m)
{
	for (int i = 0; i < 2; i++) {
		struct th_domain *g = &m->g[i];
		struct physdev_eoi e = { .irq = 16 };

		assert_int_equal(th_send(g, 2, 1), 0);     /* IPI again */
		assert_int_equal(th_unmask(g, 4), 0);      /* the masked one */
		assert_int_equal(th_send(g, 0, 5), 0);
		assert_int_equal(evtchn_send_virq(g->d, 2, VIRQ_TIMER), 0);
		assert_int_equal(evtchn_send_virq(g->d, 0, VIRQ_CONSOLE), 0);
		assert_int_equal(evtchn_gsi_set(g->d, 20, true), 1);
		assert_int_equal(th_physdev(g, PHYSDEVOP_eoi, &e, sizeof(e)), 0);
		assert_int_equal(th_bind_ipi(g, 0), 10);  /* lowest free */
		assert_int_equal(th_send(g, 0, 10), 0);
		assert_int_equal(th_close(g, 7), 0);
		assert_int_equal(th_bind_virq(g, VIRQ_TIMER, 2), -XEN_EEXIST);
		assert_int_equal(bind_pirq(g, 16), -XEN_EEXIST);
	}
}

static void migrate(struct mig *m)
{
	void *img;
	size_t len;

	build_state(m);
	assert_int_equal(evtchn_domain_save(m->g[0].d, &img, &len), 0);
	memcpy(m->g[1].mem, m->g[0].mem, TH_MEM_SIZE);
	assert_int_equal(evtchn_domain_restore(m->g[1].d, img, len), 0);
	/* Once only: the domain is not fresh any more. */
	assert_int_equal(evtchn_domain_restore(m->g[1].d, img, len), -EBUSY);
	free(img);
	/* The channel to dom0 comes back unbound for dom0 on the new host,
	 * and dom0's backend binds it again; on the old host dom0 closes
	 * its end (it leaves with the guest). */
	{
		struct evtchn_status st;

		assert_int_equal(th_status(&m->g[1], DOMID_SELF, 6, &st), 0);
		assert_int_equal(st.status, EVTCHNSTAT_unbound);
		assert_int_equal(st.u.unbound.dom, 0);
		assert_int_equal(th_bind_interdomain(&m->dom0[1], 1, 6), 1);
		assert_int_equal(th_close(&m->dom0[0], 1), 0);
		/* the bind raised dom0's end, not the guest's */
		assert_int_equal(th_close(&m->dom0[1], 1), 0);
		assert_int_equal(th_bind_interdomain(&m->dom0[1], 1, 6), 1);
		assert_int_equal(th_close(&m->dom0[1], 1), 0);
	}
}

static void roundtrip_2l(void **state)
{
	M;

	migrate(m);
	same_domain(m);
	same_ops(m);
	same_domain(m);
}

static void roundtrip_fifo(void **state)
{
	M;

	m->fifo = true;
	migrate(m);
	same_domain(m);
	same_ops(m);
	same_domain(m);
}

/* A 32-bit guest keeps its layout. */
static void roundtrip_layout32(void **state)
{
	M;

	assert_int_equal(evtchn_domain_set_layout(m->g[0].d, EVTCHN_LAYOUT_32),
			 0);
	m->g[0].g.compat = true;
	migrate(m);
	assert_int_equal(evtchn_domain_layout(m->g[1].d), EVTCHN_LAYOUT_32);
	same_domain(m);
}

/* An upcall that was pending is raised again on the new host. */
static void pending_upcall_raised_again(void **state)
{
	M;

	build_state(m);
	void *img;
	size_t len;

	/* vCPU 1's registered vcpu_info (gfn 50, offset 64) */
	assert_true(m->g[0].mem[50 * EVTCHN_PAGE_SIZE + 64] & 1);
	assert_int_equal(evtchn_domain_save(m->g[0].d, &img, &len), 0);
	memcpy(m->g[1].mem, m->g[0].mem, TH_MEM_SIZE);
	assert_int_equal(th_upcalls(&m->g[1], 1), 0);
	assert_int_equal(evtchn_domain_restore(m->g[1].d, img, len), 0);
	assert_int_equal(th_upcalls(&m->g[1], 1), 1);
	free(img);
}

/* --- the image format (docs/snapshot-format.md) ---------------------- */

#define HDR_SIZE 32u
#define SEC_HDR 16u
#define SEC_REQUIRED 1u
#define SEC_SHARED_INFO 2u
#define SEC_TIMERS 4u

static uint32_t le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* The offset of section @type's header in a format-2 image, or 0. */
static size_t find_section(const unsigned char *img, size_t len,
			   uint32_t type)
{
	for (size_t off = le32(img + 12); off + SEC_HDR <= len;
	     off += SEC_HDR + ((le64(img + off + 8) + 7) & ~7ull))
		if (le32(img + off) == type)
			return off;
	return 0;
}

/* @img with a section { @type, @flags, @plen bytes of 0x5a } inserted
 * before the one at @at (or at the end: @at == len); in a new buffer. */
static unsigned char *add_section(const unsigned char *img, size_t len,
				  size_t at, uint32_t type, uint32_t flags,
				  size_t plen, size_t *out_len)
{
	size_t slen = SEC_HDR + ((plen + 7) & ~(size_t)7);
	unsigned char *out = calloc(1, len + slen);

	assert_non_null(out);
	memcpy(out, img, at);
	put32(out + at, type);
	put32(out + at + 4, flags);
	put64(out + at + 8, plen);
	memset(out + at + SEC_HDR, 0x5a, plen);
	memcpy(out + at + slen, img + at, len - at);
	put64(out + 16, len + slen);
	put32(out + 28, le32(img + 28) + 1);
	*out_len = len + slen;
	return out;
}

/* A restore into a fresh domain 9 of @h gives @want; when it refuses, the
 * domain is still fresh (@good restores after it). */
static void restore_as(struct evtchn_host *h, const void *img, size_t len,
		       int want, const void *good, size_t good_len)
{
	struct th_domain td;
	struct th_domain_opts o = { .domid = 9, .nr_vcpus = 3 };

	assert_int_equal(th_domain_create(h, &td, &o), 0);
	assert_int_equal(evtchn_domain_restore(td.d, img, len), want);
	if (want)
		assert_int_equal(evtchn_domain_restore(td.d, good, good_len),
				 0);
	th_domain_destroy(&td);
}

/* The image this library writes: format 2, every section required, the
 * header's size and count right. */
static void image_layout(void **state)
{
	M;
	struct evtchn_image_info info;
	unsigned char *img;
	size_t len;

	build_state(m);
	assert_int_equal(evtchn_domain_save(m->g[0].d, (void **)&img, &len), 0);
	assert_memory_equal(img, "EVTCHNS", 8);
	assert_int_equal(le32(img + 8), EVTCHN_IMAGE_FORMAT);
	assert_int_equal(le32(img + 12), HDR_SIZE);
	assert_int_equal(le64(img + 16), len);
	assert_int_equal(le32(img + 24), 0);
	assert_int_equal(len % 8, 0);
	assert_int_equal(evtchn_image_inspect(img, len, &info), 0);
	assert_int_equal(info.format, 2);
	assert_int_equal(info.nr_sections, 6); /* 2-level: no FIFO sections */
	assert_int_equal(info.nr_skipped, 0);
	assert_int_equal(info.unknown_required, 0);
	assert_int_equal(le32(img + find_section(img, len, SEC_SHARED_INFO) +
			      4),
			 SEC_REQUIRED);
	assert_memory_equal(img + find_section(img, len, SEC_SHARED_INFO) +
				    SEC_HDR,
			    evtchn_domain_shared_info(m->g[0].d),
			    EVTCHN_PAGE_SIZE);
	free(img);
}

/* A newer library's optional section is skipped, wherever it is: the
 * restore gives the same domain as without it. */
static void unknown_optional_section(void **state)
{
	M;
	struct evtchn_image_info info;
	struct th_domain_opts o = { .domid = 1, .nr_vcpus = 3 };
	unsigned char *img, *more, *again;
	size_t len, mlen, alen;
	void *img2;
	size_t len2;

	build_state(m);
	assert_int_equal(evtchn_domain_save(m->g[0].d, (void **)&img, &len), 0);
	/* first, between two, last; payloads padded or not */
	more = add_section(img, len, HDR_SIZE, 0x1000, 0, 13, &mlen);
	again = add_section(more, mlen,
			    find_section(more, mlen, SEC_TIMERS), 0x7fffffff,
			    0xfffffffe, 0, &alen);
	free(more);
	more = add_section(again, alen, alen, 0x1001, 0, 4096, &mlen);
	free(again);
	assert_int_equal(evtchn_image_inspect(more, mlen, &info), 0);
	assert_int_equal(info.nr_sections, 9);
	assert_int_equal(info.nr_skipped, 3);
	assert_int_equal(info.unknown_required, 0);
	memcpy(m->g[1].mem, m->g[0].mem, TH_MEM_SIZE);
	assert_int_equal(evtchn_domain_restore(m->g[1].d, more, mlen), 0);
	/* the same domain: it saves what one restored from the image
	 * without the sections saves */
	assert_int_equal(evtchn_domain_save(m->g[1].d, &img2, &len2), 0);
	th_domain_destroy(&m->g[1]);
	assert_int_equal(th_domain_create(m->h[1], &m->g[1], &o), 0);
	memcpy(m->g[1].mem, m->g[0].mem, TH_MEM_SIZE);
	assert_int_equal(evtchn_domain_restore(m->g[1].d, img, len), 0);
	free(img);
	assert_int_equal(evtchn_domain_save(m->g[1].d, (void **)&img, &len),
			 0);
	assert_int_equal(len2, len);
	assert_memory_equal(img2, img, len);
	free(img2);
	free(more);
	free(img);
}

/* A newer library's required section, a newer format or an unknown
 * header flag: -EOPNOTSUPP, the domain as it was, and
 * evtchn_image_inspect() says why. */
static void newer_image_refused(void **state)
{
	M;
	struct evtchn_image_info info;
	unsigned char *img, *more;
	size_t len, mlen;

	build_state(m);
	assert_int_equal(evtchn_domain_save(m->g[0].d, (void **)&img, &len), 0);
	more = add_section(img, len, find_section(img, len, SEC_TIMERS),
			   0x1234, SEC_REQUIRED, 40, &mlen);
	restore_as(m->h[1], more, mlen, -EOPNOTSUPP, img, len);
	assert_int_equal(evtchn_image_inspect(more, mlen, &info),
			 -EOPNOTSUPP);
	assert_int_equal(info.format, 2);
	assert_int_equal(info.unknown_required, 0x1234);
	/* damage wins over what is unknown */
	put64(more + 16, mlen + 8);
	assert_int_equal(evtchn_image_inspect(more, mlen, &info), -EINVAL);
	restore_as(m->h[1], more, mlen, -EINVAL, img, len);
	free(more);

	more = malloc(len);
	assert_non_null(more);
	memcpy(more, img, len);
	put32(more + 24, 1u << 31); /* a header flag */
	restore_as(m->h[1], more, len, -EOPNOTSUPP, img, len);
	assert_int_equal(evtchn_image_inspect(more, len, &info), -EOPNOTSUPP);
	assert_int_equal(info.unknown_flags, 1u << 31);
	memcpy(more, img, len);
	put32(more + 8, EVTCHN_IMAGE_FORMAT + 1);
	restore_as(m->h[1], more, len, -EOPNOTSUPP, img, len);
	assert_int_equal(evtchn_image_inspect(more, len, &info), -EOPNOTSUPP);
	assert_int_equal(info.format, EVTCHN_IMAGE_FORMAT + 1);
	put32(more + 8, 0);
	restore_as(m->h[1], more, len, -EINVAL, img, len);
	free(more);
	free(img);
}

/* Damage to the structure is -EINVAL: a section twice, one missing, a
 * length past the end, padding that is not zero, a wrong count. */
static void damaged_structure(void **state)
{
	M;
	unsigned char *img, *bad;
	size_t len, blen, si;

	build_state(m);
	assert_int_equal(evtchn_domain_save(m->g[0].d, (void **)&img, &len), 0);
	si = find_section(img, len, SEC_SHARED_INFO);
	bad = add_section(img, len, len, SEC_TIMERS, SEC_REQUIRED, 72, &blen);
	restore_as(m->h[1], bad, blen, -EINVAL, img, len); /* twice */
	put32(bad + len, 0); /* type 0 */
	restore_as(m->h[1], bad, blen, -EINVAL, img, len);
	free(bad);
	bad = malloc(len);
	assert_non_null(bad);
	memcpy(bad, img, len);
	put32(bad + si, 0x4000); /* shared_info becomes an unknown section */
	restore_as(m->h[1], bad, len, -EOPNOTSUPP, img, len);
	put32(bad + si + 4, 0);  /* optional: skipped, and then missing */
	restore_as(m->h[1], bad, len, -EINVAL, img, len);
	memcpy(bad, img, len);
	put64(bad + si + 8, len); /* past the end */
	restore_as(m->h[1], bad, len, -EINVAL, img, len);
	memcpy(bad, img, len);
	put64(bad + si + 8, EVTCHN_PAGE_SIZE - 1); /* a byte of padding */
	restore_as(m->h[1], bad, len, -EINVAL, img, len);
	memcpy(bad, img, len);
	put32(bad + 28, le32(img + 28) + 1); /* count */
	restore_as(m->h[1], bad, len, -EINVAL, img, len);
	memcpy(bad, img, len);
	put32(bad + 12, 24); /* header size */
	restore_as(m->h[1], bad, len, -EINVAL, img, len);
	free(bad);
	free(img);
}

/* Every byte of the image but shared_info (guest data) mutated: the
 * restore either accepts a consistent state or refuses and changes
 * nothing; never a crash (the suite runs under ASan and UBSan). */
static void hostile_images(void **state)
{
	M;
	unsigned char *img, *bad;
	size_t len, si;
	unsigned accepted = 0, refused = 0;
	static const uint8_t flips[] = { 0x01, 0x80, 0xff };
	FILE *null = fopen("/dev/null", "w");

	build_state(m);
	assert_int_equal(evtchn_domain_save(m->g[0].d, (void **)&img, &len), 0);
	si = find_section(img, len, SEC_SHARED_INFO) + SEC_HDR;
	bad = malloc(len);
	/* short, long, foreign */
	assert_int_equal(evtchn_domain_restore(m->g[1].d, img, len - 1),
			 -EINVAL);
	assert_int_equal(evtchn_domain_restore(m->g[1].d, img, 10), -EINVAL);
	assert_int_equal(evtchn_domain_restore(m->g[1].d, NULL, len), -EINVAL);
	assert_int_equal(evtchn_domain_restore(NULL, img, len), -EINVAL);
	assert_int_equal(evtchn_domain_restore(m->dom0[1].d, img, len),
			 -EINVAL); /* 1 vCPU, not 3 */
	for (size_t off = 0; off < len; off++) {
		if (off == si)
			off += EVTCHN_PAGE_SIZE; /* shared_info */
		for (size_t k = 0; k < sizeof(flips); k++) {
			struct th_domain td;
			struct th_domain_opts o = { .domid = 9, .nr_vcpus = 3 };
			int rc;

			memcpy(bad, img, len);
			bad[off] ^= flips[k];
			assert_int_equal(th_domain_create(m->h[1], &td, &o), 0);
			rc = evtchn_domain_restore(td.d, bad, len);
			/* -EOPNOTSUPP: a type, flag or format made unknown */
			assert_true(rc == 0 || rc == -EINVAL ||
				    rc == -EOPNOTSUPP);
			if (rc == 0) {
				accepted++;
				assert_true(evtchn_domain_dump(td.d, null) >= 0);
			} else {
				refused++;
				/* unchanged: the good image still goes in */
				assert_int_equal(evtchn_domain_restore(
							 td.d, img, len),
						 0);
			}
			th_domain_destroy(&td);
		}
	}
	print_message("hostile images: %u accepted, %u refused\n", accepted,
		      refused);
	assert_true(refused > 0 && accepted > 0);
	fclose(null);
	free(bad);
	free(img);
}

/* Random mutations of whole images (fuzz_restore.c): accepted images
 * are fixed points and survive every operation; refused ones change
 * nothing.  EVTCHN_FUZZ_ITERS sets the count (default 1,500). */
static void random_image_mutations(void **state)
{
	const char *env = getenv("EVTCHN_FUZZ_ITERS");
	unsigned long iters = env ? strtoul(env, NULL, 0) : 1500, acc, ref;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t in[1 + 4 * 6];

	(void)state;
	for (unsigned long i = 0; i < iters; i++) {
		size_t n = 1 + 4 * (1 + i % 6);

		for (size_t k = 0; k < n; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			in[k] = (uint8_t)x;
		}
		/* mostly single edits of the records, few truncations */
		for (size_t k = 1; k < n; k += 4)
			if (in[k] % 4 == 2 && in[k + 3] & 1)
				in[k] = 0;
		assert_int_equal(evtchn_fuzz_restore_one(in, n), 0);
	}
	evtchn_fuzz_restore_counts(&acc, &ref);
	print_message("random images: %lu accepted, %lu refused\n", acc, ref);
	assert_true(acc > 0 && ref > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(roundtrip_2l, setup, teardown),
		cmocka_unit_test_setup_teardown(roundtrip_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(roundtrip_layout32, setup,
						teardown),
		cmocka_unit_test_setup_teardown(pending_upcall_raised_again,
						setup, teardown),
		cmocka_unit_test_setup_teardown(image_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_optional_section, setup,
						teardown),
		cmocka_unit_test_setup_teardown(newer_image_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(damaged_structure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(hostile_images, setup, teardown),
		cmocka_unit_test(random_image_mutations),
	};

	return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
