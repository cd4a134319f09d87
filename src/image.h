/* SPDX-License-Identifier: MIT */
/*
 * The snapshot image's bytes (image.c) apart from what they mean
 * (snapshot.c): a decoded image is these structures, in host order, with
 * every value as the image gave it (snapshot.c checks them against the
 * domain).  image.c writes format 2 (little-endian sections) and reads
 * formats 1 and 2; docs/snapshot-format.md describes both.
 */
#ifndef EVTCHN_IMAGE_H
#define EVTCHN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "evtchn/evtchn.h"

#define IMAGE_FORMAT 2u      /* the format this library writes */
#define IMAGE_MAX_PAGES 128u /* FIFO event-array pages */
#define IMAGE_QUEUES 16u     /* FIFO queues per vCPU */

struct img_vcpu {
	uint64_t vi_gfn;
	uint32_t vi_offset;
	uint8_t registered, upcall_vector;
	uint64_t singleshot, period, periodic_next; /* timers */
	uint64_t cb_gfn;                            /* FIFO control block */
	uint32_t cb_offset;
	uint8_t cb_set;
	uint32_t tail[IMAGE_QUEUES];                /* Xen-private tails */
};

struct img_port {
	uint32_t port;
	uint32_t vcpu;      /* notify vCPU */
	uint32_t arg32;     /* remote port (interdomain), PIRQ */
	uint16_t arg16;     /* remote domid (unbound, interdomain), VIRQ */
	uint8_t state;      /* ECS_*, or ECS_FREE for a value no state has */
	uint8_t priority;
	uint8_t fifo_pending;
	uint8_t last_prio;  /* the FIFO queue last linked on */
	uint32_t last_vcpu;
};

struct img_pirq {
	uint32_t pirq;
	int32_t emuirq;     /* -1 none, -3 emulated MSI, else the GSI */
	uint8_t allocated, entry;
};

struct image {
	uint32_t format;
	uint32_t nr_vcpus, nr_ports, nr_pirqs, nr_pages;
	uint8_t layout;     /* enum evtchn_layout */
	uint8_t fifo;
	uint64_t callback_via, gsi_level;
	int32_t msi_emu_pirq;
	const unsigned char *shared_info; /* EVTCHN_PAGE_SIZE bytes */
	struct img_vcpu *v;               /* [nr_vcpus] */
	uint64_t gfns[IMAGE_MAX_PAGES];   /* [nr_pages] */
	struct img_port *p;               /* [nr_ports], in port order */
	struct img_pirq *q;               /* [nr_pirqs] */
};

/* The arrays of @im for its counts, zeroed; -ENOMEM. */
int image_alloc(struct image *im);
void image_free(struct image *im);

/*
 * @buf decoded into @im (which points into @buf for shared_info; free it
 * with image_free()).  -EINVAL: damaged, truncated, or not for a domain
 * of @nr_vcpus vCPUs; -EOPNOTSUPP: a newer format, or a section the image
 * says a reader needs that this library does not know; -ENOMEM.
 */
int image_decode(const void *buf, size_t len, uint32_t nr_vcpus,
		 struct image *im);

/* @im in the current format, in a buffer the caller frees. */
int image_encode(const struct image *im, unsigned char **out, size_t *len);

#endif /* EVTCHN_IMAGE_H */
