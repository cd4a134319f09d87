/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: copying hypercall arguments in and out, page by page, and
 * mapping guest pages the library keeps (vcpu_info, FIFO control blocks
 * and event arrays).  Every address comes from the guest and is checked; a
 * bad one gives -EFAULT, never a crash.
 *
 * The VMM's memory callbacks (map, unmap, translate) are made under no
 * lock of the library and outside its read-side section (internal.h): a
 * page kept under a lock is mapped before the lock is taken and installed
 * or discarded under it, and a page that loses its owner is unmapped once
 * the lock is dropped and no reader can still use it.
 */
#include <string.h>

#include "internal.h"
#include "rcu.h"

void evtchn_guest_mem_flat(struct evtchn_guest_mem *mem, void *base,
			   uint64_t size)
{
	memset(mem, 0, sizeof(*mem));
	mem->flat_base = base;
	mem->flat_size = size;
}

void *guest_map_gfn(struct evtchn_domain *d, uint64_t gfn, bool writable)
{
	const struct evtchn_guest_mem *m = &d->mem;

	ASSERT_NO_LOCK_NOR_READER();
	if (m->map_cb)
		return m->map_cb(d, gfn, writable, m->opaque);
	if (!m->flat_base || gfn >= (m->flat_size >> EVTCHN_PAGE_SHIFT))
		return NULL;
	return (unsigned char *)m->flat_base + (gfn << EVTCHN_PAGE_SHIFT);
}

void guest_unmap_gfn(struct evtchn_domain *d, uint64_t gfn, void *hva)
{
	ASSERT_NO_LOCK_NOR_READER();
	if (d->mem.map_cb && d->mem.unmap_cb && hva)
		d->mem.unmap_cb(d, gfn, hva, d->mem.opaque);
}

/* The host address of @gva (its gfn and offset in the page), or NULL. */
static unsigned char *guest_page_ptr(struct evtchn_domain *d, uint32_t vcpu,
				     uint64_t gva, bool writable,
				     uint64_t *gfn, uint64_t *off)
{
	uint64_t gpa = gva;
	unsigned char *page;

	ASSERT_NO_LOCK_NOR_READER();
	if (d->mem.translate_cb &&
	    d->mem.translate_cb(d, vcpu, gva, &gpa, d->mem.opaque) != 0)
		return NULL;
	*gfn = gpa >> EVTCHN_PAGE_SHIFT;
	*off = gpa & (EVTCHN_PAGE_SIZE - 1);
	page = guest_map_gfn(d, *gfn, writable);
	return page ? page + *off : NULL;
}

static int guest_copy(struct evtchn_domain *d, uint32_t vcpu, uint64_t gva,
		      void *buf, size_t len, bool to_guest)
{
	unsigned char *p = buf;

	if (len && gva + (len - 1) < gva)
		return -XEN_EFAULT; /* wraps around the address space */
	while (len) {
		size_t chunk = EVTCHN_PAGE_SIZE - (gva & (EVTCHN_PAGE_SIZE - 1));
		unsigned char *hva;
		uint64_t gfn, off;

		hva = guest_page_ptr(d, vcpu, gva, to_guest, &gfn, &off);
		if (!hva)
			return -XEN_EFAULT;
		/* Within both the virtual and the physical page. */
		if (chunk > EVTCHN_PAGE_SIZE - off)
			chunk = EVTCHN_PAGE_SIZE - off;
		if (chunk > len)
			chunk = len;
		if (to_guest)
			memcpy(hva, p, chunk);
		else
			memcpy(p, hva, chunk);
		guest_unmap_gfn(d, gfn, hva - off);
		p += chunk;
		gva += chunk;
		len -= chunk;
	}
	return 0;
}

int guest_copy_from(struct evtchn_domain *d, uint32_t vcpu, uint64_t gva,
		    void *buf, size_t len)
{
	return guest_copy(d, vcpu, gva, buf, len, false);
}

int guest_copy_to(struct evtchn_domain *d, uint32_t vcpu, uint64_t gva,
		  const void *buf, size_t len)
{
	return guest_copy(d, vcpu, gva, (void *)buf, len, true);
}
