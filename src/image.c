/* SPDX-License-Identifier: MIT */
/*
 * Snapshot images as bytes: format 2 written, formats 1 and 2 read
 * (docs/snapshot-format.md is the reference; the two must agree).
 *
 * Format 2 is little-endian throughout: a 32-byte header (magic, format,
 * header size, image size, flags, section count), then sections, each a
 * 16-byte header { type, flags, payload length } and the payload, padded
 * with zeros to a multiple of 8 bytes.  A reader takes the sections it
 * knows, skips those it does not know unless their REQUIRED flag is set,
 * and refuses an image with an unknown required section or header flag
 * (-EOPNOTSUPP): a newer library's state it cannot restore.  Everything
 * else that is not as the format says is damage (-EINVAL).
 *
 * Format 1 (libevtchn 0.1.0) is a 64-byte header and fixed-size records in
 * the writer's byte order; it is read as little-endian, the order of every
 * host that wrote one.
 *
 * Nothing here knows what the values mean: snapshot.c checks them.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "internal.h"

#define MAGIC "EVTCHNS" /* 8 bytes with its NUL, in both formats */

/* --- little-endian fields at any offset ------------------------------- */

static uint16_t ld16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static uint32_t ld32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t ld64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static void st16(unsigned char *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void st32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void st64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static bool zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int image_alloc(struct image *im)
{
	im->v = calloc(im->nr_vcpus ? im->nr_vcpus : 1, sizeof(*im->v));
	im->p = calloc(im->nr_ports ? im->nr_ports : 1, sizeof(*im->p));
	im->q = calloc(im->nr_pirqs ? im->nr_pirqs : 1, sizeof(*im->q));
	if (im->v && im->p && im->q)
		return 0;
	image_free(im);
	return -ENOMEM;
}

void image_free(struct image *im)
{
	free(im->v);
	free(im->p);
	free(im->q);
	im->v = NULL;
	im->p = NULL;
	im->q = NULL;
}

/* --- format 2 ---------------------------------------------------------- */

#define HDR2_SIZE 32u
#define SEC_HDR_SIZE 16u
#define SEC_REQUIRED 1u
#define HDR2_FLAGS_KNOWN 0u /* none defined yet */

enum section_type {
	SEC_DOMAIN = 1,
	SEC_SHARED_INFO = 2,
	SEC_VCPUS = 3,
	SEC_TIMERS = 4,
	SEC_FIFO_VCPUS = 5,
	SEC_FIFO_PAGES = 6,
	SEC_PORTS = 7,
	SEC_PIRQS = 8,
	SEC_NR_KNOWN,
};

/* Payload sizes: the whole section, or each record of it. */
#define DOMAIN_SIZE 32u
#define VCPU_REC 16u
#define TIMER_REC 24u
#define FIFO_VCPU_REC 80u
#define PAGE_REC 8u
#define PORT_REC 24u
#define PIRQ_REC 12u

/* Port states in the image: Xen's EVTCHNSTAT_* numbers. */
static const uint8_t state_of_stat[] = {
	[1] = ECS_UNBOUND, [2] = ECS_INTERDOMAIN, [3] = ECS_PIRQ,
	[4] = ECS_VIRQ,    [5] = ECS_IPI,
};

static uint8_t stat_of_state(uint8_t state)
{
	for (uint8_t i = 1; i < sizeof(state_of_stat); i++)
		if (state_of_stat[i] == state)
			return i;
	return 0;
}

/* The structure of a format-2 image: where each known section is. */
struct walk {
	uint32_t flags, nr_sections, nr_skipped, unknown_required;
	const unsigned char *sec[SEC_NR_KNOWN];
	uint64_t sec_len[SEC_NR_KNOWN];
};

static uint64_t padded(uint64_t n)
{
	return (n + 7) & ~7ull;
}

/* Every section's bounds, padding and type; damage first (-EINVAL), then
 * what this library cannot restore (-EOPNOTSUPP). */
static int walk_v2(const unsigned char *b, size_t len, struct walk *w)
{
	uint64_t off = len >= HDR2_SIZE ? ld32(b + 12) : 0, n = 0;

	if (len < HDR2_SIZE || off < HDR2_SIZE || off % 8 || off > len ||
	    ld64(b + 16) != len)
		return -EINVAL;
	w->flags = ld32(b + 24);
	w->nr_sections = ld32(b + 28);
	while (off < len) {
		const unsigned char *s = b + off;
		uint32_t type, flags;
		uint64_t slen;

		if (len - off < SEC_HDR_SIZE)
			return -EINVAL;
		type = ld32(s);
		flags = ld32(s + 4);
		slen = ld64(s + 8);
		if (type == 0 || slen > len - off - SEC_HDR_SIZE ||
		    padded(slen) > len - off - SEC_HDR_SIZE ||
		    !zero(s + SEC_HDR_SIZE + slen, padded(slen) - slen))
			return -EINVAL;
		if (type < SEC_NR_KNOWN) {
			if (w->sec[type])
				return -EINVAL; /* twice */
			w->sec[type] = s + SEC_HDR_SIZE;
			w->sec_len[type] = slen;
		} else if (flags & SEC_REQUIRED) {
			if (!w->unknown_required)
				w->unknown_required = type;
		} else {
			w->nr_skipped++;
		}
		off += SEC_HDR_SIZE + padded(slen);
		n++;
	}
	if (n != w->nr_sections)
		return -EINVAL;
	if ((w->flags & ~HDR2_FLAGS_KNOWN) || w->unknown_required)
		return -EOPNOTSUPP;
	return 0;
}

/* Section @type holds @count records of @size bytes (absent: none). */
static bool records(const struct walk *w, int type, uint32_t size,
		    uint32_t *count)
{
	if (w->sec_len[type] % size)
		return false;
	*count = (uint32_t)(w->sec_len[type] / size);
	return w->sec_len[type] / size <= UINT32_MAX;
}

static int decode_domain(const struct walk *w, uint32_t nr_vcpus,
			 struct image *im)
{
	const unsigned char *s = w->sec[SEC_DOMAIN];
	uint32_t n;

	if (!s || w->sec_len[SEC_DOMAIN] != DOMAIN_SIZE ||
	    !zero(s + 6, 2) || !zero(s + 28, 4))
		return -EINVAL;
	im->nr_vcpus = ld32(s);
	im->layout = s[4];
	im->fifo = s[5];
	im->callback_via = ld64(s + 8);
	im->gsi_level = ld64(s + 16);
	im->msi_emu_pirq = (int32_t)ld32(s + 24);
	if (im->nr_vcpus != nr_vcpus || im->fifo > 1)
		return -EINVAL;
	/* the sections sized by the vCPU count, and FIFO's only with FIFO */
	if (!w->sec[SEC_SHARED_INFO] ||
	    w->sec_len[SEC_SHARED_INFO] != EVTCHN_PAGE_SIZE ||
	    !w->sec[SEC_VCPUS] ||
	    w->sec_len[SEC_VCPUS] != (uint64_t)nr_vcpus * VCPU_REC ||
	    !w->sec[SEC_TIMERS] ||
	    w->sec_len[SEC_TIMERS] != (uint64_t)nr_vcpus * TIMER_REC ||
	    !w->sec[SEC_FIFO_VCPUS] != !im->fifo ||
	    (im->fifo && w->sec_len[SEC_FIFO_VCPUS] !=
				 (uint64_t)nr_vcpus * FIFO_VCPU_REC) ||
	    (w->sec[SEC_FIFO_PAGES] && !im->fifo))
		return -EINVAL;
	im->shared_info = w->sec[SEC_SHARED_INFO];
	if (!records(w, SEC_FIFO_PAGES, PAGE_REC, &im->nr_pages) ||
	    !records(w, SEC_PORTS, PORT_REC, &im->nr_ports) ||
	    !records(w, SEC_PIRQS, PIRQ_REC, &n))
		return -EINVAL;
	im->nr_pirqs = n;
	if (im->nr_pages > IMAGE_MAX_PAGES ||
	    im->nr_ports >= STORAGE_MAX_PORTS)
		return -EINVAL;
	return 0;
}

static int decode_vcpus(const struct walk *w, struct image *im)
{
	for (uint32_t i = 0; i < im->nr_vcpus; i++) {
		const unsigned char *s = w->sec[SEC_VCPUS] + i * VCPU_REC;
		const unsigned char *t = w->sec[SEC_TIMERS] + i * TIMER_REC;
		struct img_vcpu *v = &im->v[i];

		if (!zero(s + 14, 2))
			return -EINVAL;
		v->vi_gfn = ld64(s);
		v->vi_offset = ld32(s + 8);
		v->registered = s[12];
		v->upcall_vector = s[13];
		v->singleshot = ld64(t);
		v->period = ld64(t + 8);
		v->periodic_next = ld64(t + 16);
		if (!im->fifo)
			continue;
		s = w->sec[SEC_FIFO_VCPUS] + i * FIFO_VCPU_REC;
		if (!zero(s + 13, 3))
			return -EINVAL;
		v->cb_gfn = ld64(s);
		v->cb_offset = ld32(s + 8);
		v->cb_set = s[12];
		for (uint32_t q = 0; q < IMAGE_QUEUES; q++)
			v->tail[q] = ld32(s + 16 + 4 * q);
	}
	for (uint32_t i = 0; i < im->nr_pages; i++)
		im->gfns[i] = ld64(w->sec[SEC_FIFO_PAGES] + i * PAGE_REC);
	return 0;
}

static int decode_ports(const struct walk *w, struct image *im)
{
	for (uint32_t i = 0; i < im->nr_ports; i++) {
		const unsigned char *s = w->sec[SEC_PORTS] + (size_t)i * PORT_REC;
		struct img_port *p = &im->p[i];

		if (!zero(s + 18, 2))
			return -EINVAL;
		p->port = ld32(s);
		p->vcpu = ld32(s + 4);
		p->arg32 = ld32(s + 8);
		p->arg16 = ld16(s + 12);
		p->state = s[14] < sizeof(state_of_stat) ? state_of_stat[s[14]]
							 : ECS_FREE;
		p->priority = s[15];
		p->fifo_pending = s[16];
		p->last_prio = s[17];
		p->last_vcpu = ld32(s + 20);
	}
	for (uint32_t i = 0; i < im->nr_pirqs; i++) {
		const unsigned char *s = w->sec[SEC_PIRQS] + (size_t)i * PIRQ_REC;
		struct img_pirq *q = &im->q[i];

		if (!zero(s + 10, 2))
			return -EINVAL;
		q->pirq = ld32(s);
		q->emuirq = (int32_t)ld32(s + 4);
		q->allocated = s[8];
		q->entry = s[9];
	}
	return 0;
}

static int decode_v2(const unsigned char *b, size_t len, uint32_t nr_vcpus,
		     struct image *im)
{
	struct walk w = { 0 };
	int rc = walk_v2(b, len, &w);

	if (!rc)
		rc = decode_domain(&w, nr_vcpus, im);
	if (!rc)
		rc = image_alloc(im);
	if (!rc)
		rc = decode_vcpus(&w, im);
	if (!rc)
		rc = decode_ports(&w, im);
	return rc;
}

/* --- format 1 ---------------------------------------------------------- */

/* The records of format 1 (struct snap_* of libevtchn 0.1.0). */
#define HDR1_SIZE 64u
#define VCPU1_REC 120u
#define PORT1_REC 20u
#define PIRQ1_REC 12u

/* Format 1 stored Xen's ECS_* numbers as they were then. */
static const uint8_t state_v1[] = {
	[2] = ECS_UNBOUND, [3] = ECS_INTERDOMAIN, [4] = ECS_PIRQ,
	[5] = ECS_VIRQ,    [6] = ECS_IPI,
};

static void decode_v1_records(const unsigned char *b, struct image *im)
{
	const unsigned char *s = b + HDR1_SIZE + EVTCHN_PAGE_SIZE;

	for (uint32_t i = 0; i < im->nr_vcpus; i++, s += VCPU1_REC) {
		struct img_vcpu *v = &im->v[i];

		v->vi_gfn = ld64(s);
		v->cb_gfn = ld64(s + 8);
		v->singleshot = ld64(s + 16);
		v->period = ld64(s + 24);
		v->periodic_next = ld64(s + 32);
		v->vi_offset = ld32(s + 40);
		v->cb_offset = ld32(s + 44);
		v->registered = s[48];
		v->cb_set = s[49];
		v->upcall_vector = s[50];
		for (uint32_t q = 0; q < IMAGE_QUEUES; q++)
			v->tail[q] = ld32(s + 52 + 4 * q);
	}
	for (uint32_t i = 0; i < im->nr_pages; i++, s += 8)
		im->gfns[i] = ld64(s);
	for (uint32_t i = 0; i < im->nr_ports; i++, s += PORT1_REC) {
		struct img_port *p = &im->p[i];
		uint16_t lastq = ld16(s + 18);

		p->port = ld32(s);
		p->vcpu = ld32(s + 4);
		p->arg32 = ld32(s + 8);
		p->arg16 = ld16(s + 12);
		p->state = s[14] < sizeof(state_v1) ? state_v1[s[14]] : ECS_FREE;
		p->priority = s[15];
		p->fifo_pending = s[16];
		p->last_vcpu = lastq >> 4;
		p->last_prio = lastq & 15;
	}
	for (uint32_t i = 0; i < im->nr_pirqs; i++, s += PIRQ1_REC) {
		struct img_pirq *q = &im->q[i];

		q->pirq = ld32(s);
		q->emuirq = (int32_t)ld32(s + 4);
		q->allocated = s[8];
		q->entry = s[9];
	}
}

static int decode_v1(const unsigned char *b, size_t len, uint32_t nr_vcpus,
		     struct image *im)
{
	uint64_t size;
	int rc;

	if (len < HDR1_SIZE || ld32(b + 12) != len)
		return -EINVAL;
	im->nr_vcpus = ld32(b + 16);
	im->nr_ports = ld32(b + 20);
	im->nr_pirqs = ld32(b + 24);
	im->nr_pages = ld32(b + 28);
	if (im->nr_vcpus != nr_vcpus || im->nr_pages > IMAGE_MAX_PAGES ||
	    im->nr_ports >= STORAGE_MAX_PORTS)
		return -EINVAL;
	size = HDR1_SIZE + EVTCHN_PAGE_SIZE +
	       (uint64_t)im->nr_vcpus * VCPU1_REC + im->nr_pages * 8ull +
	       (uint64_t)im->nr_ports * PORT1_REC +
	       (uint64_t)im->nr_pirqs * PIRQ1_REC;
	if (size != len)
		return -EINVAL;
	im->layout = b[32];
	im->fifo = b[33];
	im->callback_via = ld64(b + 40);
	im->gsi_level = ld64(b + 48);
	im->msi_emu_pirq = (int32_t)ld32(b + 56);
	if (im->fifo > 1)
		return -EINVAL;
	im->shared_info = b + HDR1_SIZE;
	rc = image_alloc(im);
	if (!rc)
		decode_v1_records(b, im);
	return rc;
}

/* --- the entry points -------------------------------------------------- */

int image_decode(const void *buf, size_t len, uint32_t nr_vcpus,
		 struct image *im)
{
	const unsigned char *b = buf;
	int rc;

	memset(im, 0, sizeof(*im));
	if (len < 12 || memcmp(b, MAGIC, 8))
		return -EINVAL;
	im->format = ld32(b + 8);
	switch (im->format) {
	case 1:
		rc = decode_v1(b, len, nr_vcpus, im);
		break;
	case 2:
		rc = decode_v2(b, len, nr_vcpus, im);
		break;
	default:
		rc = im->format > IMAGE_FORMAT ? -EOPNOTSUPP : -EINVAL;
		break;
	}
	if (rc)
		image_free(im);
	return rc;
}

/* Section @type's header at @*off, its payload of @len bytes to follow;
 * returns the payload. */
static unsigned char *section(unsigned char *b, size_t *off, uint32_t type,
			      uint64_t len)
{
	unsigned char *s = b + *off;

	st32(s, type);
	st32(s + 4, SEC_REQUIRED);
	st64(s + 8, len);
	*off += SEC_HDR_SIZE + padded(len);
	return s + SEC_HDR_SIZE;
}

static void encode_vcpus(const struct image *im, unsigned char *b,
			 size_t *off)
{
	unsigned char *s = section(b, off, SEC_VCPUS,
				   (uint64_t)im->nr_vcpus * VCPU_REC);
	unsigned char *t = section(b, off, SEC_TIMERS,
				   (uint64_t)im->nr_vcpus * TIMER_REC);

	for (uint32_t i = 0; i < im->nr_vcpus; i++) {
		const struct img_vcpu *v = &im->v[i];

		st64(s + i * VCPU_REC, v->vi_gfn);
		st32(s + i * VCPU_REC + 8, v->vi_offset);
		s[i * VCPU_REC + 12] = v->registered;
		s[i * VCPU_REC + 13] = v->upcall_vector;
		st64(t + i * TIMER_REC, v->singleshot);
		st64(t + i * TIMER_REC + 8, v->period);
		st64(t + i * TIMER_REC + 16, v->periodic_next);
	}
	if (!im->fifo)
		return;
	s = section(b, off, SEC_FIFO_VCPUS,
		    (uint64_t)im->nr_vcpus * FIFO_VCPU_REC);
	for (uint32_t i = 0; i < im->nr_vcpus; i++, s += FIFO_VCPU_REC) {
		st64(s, im->v[i].cb_gfn);
		st32(s + 8, im->v[i].cb_offset);
		s[12] = im->v[i].cb_set;
		for (uint32_t q = 0; q < IMAGE_QUEUES; q++)
			st32(s + 16 + 4 * q, im->v[i].tail[q]);
	}
	s = section(b, off, SEC_FIFO_PAGES, im->nr_pages * PAGE_REC);
	for (uint32_t i = 0; i < im->nr_pages; i++)
		st64(s + i * PAGE_REC, im->gfns[i]);
}

static void encode_ports(const struct image *im, unsigned char *b,
			 size_t *off)
{
	unsigned char *s = section(b, off, SEC_PORTS,
				   (uint64_t)im->nr_ports * PORT_REC);

	for (uint32_t i = 0; i < im->nr_ports; i++, s += PORT_REC) {
		const struct img_port *p = &im->p[i];

		st32(s, p->port);
		st32(s + 4, p->vcpu);
		st32(s + 8, p->arg32);
		st16(s + 12, p->arg16);
		s[14] = stat_of_state(p->state);
		s[15] = p->priority;
		s[16] = p->fifo_pending;
		s[17] = p->last_prio;
		st32(s + 20, p->last_vcpu);
	}
	s = section(b, off, SEC_PIRQS, (uint64_t)im->nr_pirqs * PIRQ_REC);
	for (uint32_t i = 0; i < im->nr_pirqs; i++, s += PIRQ_REC) {
		st32(s, im->q[i].pirq);
		st32(s + 4, (uint32_t)im->q[i].emuirq);
		s[8] = im->q[i].allocated;
		s[9] = im->q[i].entry;
	}
}

int image_encode(const struct image *im, unsigned char **out, size_t *len)
{
	uint64_t n = im->nr_vcpus;
	size_t size = HDR2_SIZE + 6 * SEC_HDR_SIZE + DOMAIN_SIZE +
		      EVTCHN_PAGE_SIZE + padded(n * VCPU_REC) +
		      n * TIMER_REC + padded(im->nr_ports * (uint64_t)PORT_REC) +
		      padded(im->nr_pirqs * (uint64_t)PIRQ_REC);
	uint32_t nr_sections = 6;
	unsigned char *b, *s;
	size_t off = HDR2_SIZE;

	if (im->fifo) {
		size += 2 * SEC_HDR_SIZE + n * FIFO_VCPU_REC +
			im->nr_pages * PAGE_REC;
		nr_sections += 2;
	}
	b = calloc(1, size);
	if (!b)
		return -ENOMEM;
	memcpy(b, MAGIC, 8);
	st32(b + 8, IMAGE_FORMAT);
	st32(b + 12, HDR2_SIZE);
	st64(b + 16, size);
	st32(b + 28, nr_sections);
	s = section(b, &off, SEC_DOMAIN, DOMAIN_SIZE);
	st32(s, im->nr_vcpus);
	s[4] = im->layout;
	s[5] = im->fifo;
	st64(s + 8, im->callback_via);
	st64(s + 16, im->gsi_level);
	st32(s + 24, (uint32_t)im->msi_emu_pirq);
	s = section(b, &off, SEC_SHARED_INFO, EVTCHN_PAGE_SIZE);
	memcpy(s, im->shared_info, EVTCHN_PAGE_SIZE);
	encode_vcpus(im, b, &off);
	encode_ports(im, b, &off);
	*out = b;
	*len = size;
	return 0;
}

int evtchn_image_inspect(const void *buf, size_t len,
			 struct evtchn_image_info *info)
{
	const unsigned char *b = buf;
	struct walk w = { 0 };
	int rc;

	if (!buf || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	if (len < 12 || memcmp(b, MAGIC, 8))
		return -EINVAL;
	info->format = ld32(b + 8);
	switch (info->format) {
	case 1:
		return len >= HDR1_SIZE && ld32(b + 12) == len ? 0 : -EINVAL;
	case 2:
		rc = walk_v2(b, len, &w);
		info->nr_sections = w.nr_sections;
		info->nr_skipped = w.nr_skipped;
		info->unknown_required = w.unknown_required;
		info->unknown_flags = w.flags & ~HDR2_FLAGS_KNOWN;
		return rc;
	default:
		return info->format > IMAGE_FORMAT ? -EOPNOTSUPP : -EINVAL;
	}
}
