/* SPDX-License-Identifier: MIT */
/*
 * The fuzz core (see fuzz_core.h for the input format): hostile hypercall
 * sequences, hostile VMM calls and a hostile guest scribbling its memory,
 * each result checked against a model of Xen's answers, built on the public
 * API and Xen's headers only.
 *
 * The oracle.  The model keeps its own port table: what a control domain
 * must read with EVTCHNOP_status from the privileged domain 0, changed as
 * Xen changes it by every operation.  From it every EVTCHNOP gets its exact
 * expected return value (Xen's checks in Xen's order: lowest free port,
 * -ENOSPC, -EEXIST, -EPERM...), successful binds are read back, deliveries
 * are checked bit by bit in shared_info and vcpu_info (pending always set;
 * the selector and upcall raised only on the transitions Xen raises them;
 * the upcall callback called exactly then), and the table is checked for
 * consistency: interdomain peers point back, port 0 is reserved, vCPUs
 * exist, VIRQs and PIRQs are bound once and VIRQs delivered, the valid
 * ports are exactly the buckets allocation has reached.  Anything else
 * aborts, which is what a fuzzer reports.
 *
 * What is compared with the library, and when, so that nothing is missed
 * while no check costs a hypercall for every port of every domain:
 *  - After every operation, each port it may have changed, with
 *    EVTCHNOP_status (fz_flush()): a port allocation reached (and where
 *    the valid ports end when it added a bucket), both ends of a bind, a
 *    close and the peer it leaves unbound, a port moved to another vCPU,
 *    each port a reset closed (then the whole table, as below).
 *  - The whole table of a domain (check_tables()) every FZ_CHECK_EVERY
 *    operations and after every operation with FZ_HDR_CHECK_ALWAYS, for
 *    each domain a library call may have changed since its last check;
 *    and at the end of every input, for each domain the input reached.
 *    Every valid port is read in one call (evtchn_test_status(): what
 *    EVTCHNOP_status answers, from the function the hypercall uses) and
 *    must be the model's: state, notify vCPU (a closed port's too),
 *    binding; where the valid ports end, through EVTCHNOP_status.  At the
 *    end of an input, and at FZ_OP_CHECK, evtchn_domain_dump() too: it
 *    lists port 0 and every port that is not free, and its text must be
 *    the model's line for line (pending and masked as the library reads
 *    them, a closing or settling port, FIFO priority and LINKED, the
 *    number of valid ports).  FZ_OP_CHECK also reads every PIRQ with
 *    PHYSDEVOP_irq_status_query.
 *  - PIRQs: every GSI's route at every table check of a domain a PIRQ call
 *    reached; every PIRQ's mapping at its end (and at FZ_OP_CHECK).
 *  - Guest memory: with FIFO, the whole memory the operation may have
 *    written (sh_check(): every page the library mapped or the harness
 *    wrote; the library reaches guest memory only through fz_map()).
 *  - A domain no library call reached since the input began (touch()) is
 *    as the input found it: fresh (see "Inputs in a row").
 * So a port an operation should not have changed is found at the next
 * table check of its domain, at the latest at the end of the input that
 * changed it: a crash is always the input's own.
 *
 * FIFO.  The model keeps what Xen 4.17's event_fifo.c keeps and a guest
 * cannot see: which vCPUs have a control block and where, the event-array
 * pages, each queue's tail, and per port its priority, its last queue and
 * the event saved while its array page was missing.  Everything is one
 * thread, so every FIFO operation (a delivery, an unmask, a close, a reset,
 * init_control, expand_array) is predicted exactly: it is run first on a
 * copy of the domain's guest memory and shared_info, in Xen's order of
 * atomics, and afterwards the whole memory must equal the copy and the
 * upcalls (one per 0 -> 1 of evtchn_upcall_pending) must be the ones the
 * copy raised.  Whatever the guest scribbled into its event words and
 * control blocks is simply part of the state the prediction starts from.
 * Allocation skips a free port whose event word is LINKED; EVTCHNOP_reset
 * goes back to 2-level.
 *
 * PIRQs.  The model keeps per domain what Xen 4.17 keeps for an HVM guest's
 * emulated PIRQs: per PIRQ its emuirq (unbound, a GSI, IRQ_MSI_EMU) and
 * PIRQ_ALLOCATED, the reverse map (GSI keys and the single IRQ_MSI_EMU
 * key), the GSI levels, the callback (HVM_PARAM_CALLBACK_IRQ, per-vCPU
 * upcall vectors: is_hvm_pv_evtchn_domain()); the bound port is read from
 * the port table.  Every PHYSDEVOP gets its exact answer and copy-back
 * (map_pirq's allocation order, refusals answered 0, -EINVAL with -28 in
 * the pirq field, MSI_SEG copied back as MSI, both struct layouts), every
 * MSI (evtchn_msi_inject()) and GSI change (evtchn_gsi_set()) its return
 * value, and every delivery (an MSI, a rising edge, an EOI of a PCI GSI
 * still high) is predicted as a send's is.  Domains have Xen's default
 * 56 PIRQs, or 20, 300 or none (fuzz_core.h, PCFG).  The library keeps a
 * PIRQ's entry (Xen's pirq_info()) while the PIRQ has state; Xen also
 * keeps the empty one get_free_pirq() makes inside a map_pirq that is then
 * refused, which PHYSDEVOP_eoi and an MSI can see: the model demands
 * Xen's answer there and counts the case (pirq_entry_diff).
 *
 * The reference guest consumer is used when its header is on the include
 * path (the replay test links guest_dep); the libFuzzer target built
 * without guest_dep skips the consumer operations.
 */
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
#include <xen/physdev.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/foreign/x86_32.h>
#include <xen/foreign/x86_64.h>

#include "evtchn/evtchn.h"
#include "fuzz_core.h"

/* guest_dep brings both the header's directory and the library. */
#if defined(__has_include)
#if __has_include("evtchn_guest.h")
#include "evtchn_guest.h"
#define FZ_HAVE_GUEST 1
#endif
#endif
#ifndef FZ_HAVE_GUEST
#define FZ_HAVE_GUEST 0
#endif

#ifndef EVTCHNOP_reset_cont
#define EVTCHNOP_reset_cont 14 /* Xen-internal in the public header */
#endif

#define NDOM 3
/* PIRQs: the most any fuzz domain has (fz_pcfg), the vIOAPIC's pins
 * (Xen's NR_HVM_DOMU_IRQS), Xen's emuirq values (asm/irq.h). */
#define FZ_PIRQ_MAX 300u
#define FZ_NR_GSIS 48u
#define EMU_UNBOUND (-1)
#define EMU_MSI (-3)
#define MAX_VCPUS 40u
#define MEM_SIZE ((uint64_t)FZ_MEM_PAGES * EVTCHN_PAGE_SIZE)
#define PORTS_64 4096u /* 2-level: 64 * 64 */
#define PORTS_32 1024u /* 2-level: 32 * 32 */
#define BUCKET 64u     /* ports are made valid 64 at a time */
#define STORAGE_MAX_PORT ((1u << 17) - 1) /* max_evtchn_port 0 */
/* FIFO (Xen's public event_channel.h) */
#define FIFO_WORDS_PER_PAGE (EVTCHN_PAGE_SIZE / sizeof(event_word_t)) /* 1024 */
#define FIFO_MAX_PAGES (EVTCHN_FIFO_NR_CHANNELS / FIFO_WORDS_PER_PAGE) /* 128 */
#define FIFO_CB_SIZE sizeof(struct evtchn_fifo_control_block)          /* 72 */
#define FIFO_MAX_PORT (EVTCHN_FIFO_NR_CHANNELS - 1u)
#define FIFO_QUEUES EVTCHN_FIFO_MAX_QUEUES
#define W_PENDING (1u << EVTCHN_FIFO_PENDING)
#define W_MASKED (1u << EVTCHN_FIFO_MASKED)
#define W_LINKED (1u << EVTCHN_FIFO_LINKED)
#define W_BUSY (1u << EVTCHN_FIFO_BUSY)
#define W_LINK ((uint32_t)EVTCHN_FIFO_LINK_MASK)
#define VCPU_INFO_SIZE 64u
#define MAX_OPS 2048u
/* Guest addresses the harness itself uses for arguments. */
#define SCRATCH_STATUS (MEM_SIZE - 64)               /* domain 0 */
#define SCRATCH_GUEST (MEM_SIZE - EVTCHN_PAGE_SIZE + 2048) /* consumer */

_Static_assert(FZ_MEM_PAGES * EVTCHN_PAGE_SIZE == 65536,
	       "ADDR decoding assumes 64 KiB of guest memory");
_Static_assert(NR_VIRQS == 24, "NR_VIRQS");
_Static_assert(FIFO_MAX_PAGES == 128 && FIFO_CB_SIZE == 72 &&
		       offsetof(struct evtchn_fifo_control_block, ready) == 0 &&
		       offsetof(struct evtchn_fifo_control_block, head) == 8,
	       "FIFO ABI");
_Static_assert(STORAGE_MAX_PORT == FIFO_MAX_PORT, "the FIFO maximum");
_Static_assert(sizeof(struct vcpu_info_x86_64) == VCPU_INFO_SIZE &&
		       sizeof(struct vcpu_info_x86_32) == VCPU_INFO_SIZE,
	       "vcpu_info size");

static const uint32_t fz_max_ports[16] = { 1,  2,   3,   5,    31,   62,
					   63, 64,  65,  70,   127,  128,
					   1023, 1024, 4095, 4096 };
static const uint32_t fz_nr_vcpus[NDOM] = { 1, 3, 40 };

/* PIRQ configurations (PCFG in fuzz_core.h); 0 in the config is the
 * library's default, Xen 4.17's for a 24-GSI host. */
static const struct {
	uint32_t nr_pirqs, nr_irqs_gsi; /* as the model sees them */
	uint32_t cfg_pirqs, cfg_gsi;    /* as the config says */
	bool none;
} fz_pcfg[4] = {
	{ 56, 24, 0, 0, false },
	{ 20, 16, 20, 16, false },
	{ 300, 48, 300, 48, false },
	{ 56, 24, 0, 0, true },
};

/* Test builds of the library (src/park.h): grace periods no other thread
 * can be in end at once.  Everything here runs on one thread. */
extern unsigned long evtchn_lone_grace(bool on) __attribute__((weak));
/* The same builds read a port table in one call, and log the ports whose
 * binding or notify vCPU changed (src/park.h). */
extern int evtchn_test_status(struct evtchn_domain *d, uint32_t first,
			      uint32_t n, struct evtchn_status *out)
	__attribute__((weak));
extern int evtchn_test_changed(struct evtchn_domain *d, uint32_t *ports,
			       uint32_t max) __attribute__((weak));
#define FZ_CHANGED_MAX 64 /* the library's log holds 64 */

static struct evtchn_fuzz_stats stats;
/* The counts when the last input's operations ended (before its end). */
static struct evtchn_fuzz_stats stats_ops;
/* EVTCHN_FUZZ_TRACE=1: every EVTCHNOP the model checks, on stderr. */
static int trace = -1;
static bool all_ports;
static bool fresh_only; /* see "Inputs in a row" */

void evtchn_fuzz_set_all_ports(int on)
{
	all_ports = on;
}

void evtchn_fuzz_set_fresh(int on)
{
	fresh_only = on;
}

const struct evtchn_fuzz_stats *evtchn_fuzz_stats(void)
{
	return &stats;
}

const struct evtchn_fuzz_stats *evtchn_fuzz_stats_ops(void)
{
	return &stats_ops;
}

int evtchn_fuzz_have_guest(void)
{
	return FZ_HAVE_GUEST;
}

/* ------------------------------------------------------------------ */
/* State */

struct fz;

/* What Xen keeps per port for FIFO (struct evtchn's priority, pending and
 * fifo_lastq); a fresh bucket is all zeroes. */
struct fz_pm {
	uint8_t prio;
	uint8_t saved;   /* raised while its event-array page was missing */
	uint16_t lastq;  /* vcpu << 4 | priority of the queue it was last on */
};

struct fz_dom {
	struct fz *f;
	int idx;                    /* == domid */
	struct evtchn_domain *d;    /* NULL: not there */
	/* Flat guest memory, MEM_SIZE, kept from input to input: zero at the
	 * start of each (see "Inputs in a row" below). */
	unsigned char *mem;
	uint32_t dirty;             /* pages that may not be zero (bit: gfn) */
	uint32_t nr_vcpus;
	uint32_t cfg_max;           /* config max_evtchn_port (0: ABI max) */
	unsigned pcfg;              /* PIRQ configuration (fz_pcfg) */
	bool privileged, paused;
	/* A library call that may have changed the domain: this input, and
	 * since the last table check. */
	bool touched, touched_check;
	/* Checked whole (check_tables()) since the last library call that
	 * may have changed it. */
	bool verified;
	/* State a recycle cannot take back to a fresh domain's (a vcpu_info,
	 * FIFO, PIRQs, timers, a callback, upcall vectors): the domain is
	 * destroyed at the end of the input instead. */
	bool lasting;
	bool pirq_used;             /* a PIRQ call reached the library */
	bool online[MAX_VCPUS], registered[MAX_VCPUS];
	bool ticked[MAX_VCPUS];     /* a periodic tick fired: the last one */
	/* Where each vCPU's vcpu_info is; NULL: the library's private dummy
	 * (vCPUs from 32 up until they register one). */
	unsigned char *vi[MAX_VCPUS];
	unsigned long upcalls[MAX_VCPUS];
	/* A register_vcpu_info in progress: the upcall may come from there. */
	int reg_vcpu;
	unsigned char *reg_vi;
	/* The library's private dummy vcpu_info of vCPUs from 32 up: its
	 * upcall_pending, once set, is never cleared. */
	bool dummy_up[MAX_VCPUS];
	/* The highest port ever allocated: the valid ports are the buckets up
	 * to it. */
	uint32_t hiwater;
	/* FIFO, from the first successful init_control to a reset. */
	bool fifo;
	bool cb_set[MAX_VCPUS];
	uint64_t cb_gfn[MAX_VCPUS];
	uint32_t cb_off[MAX_VCPUS];
	uint32_t npages;
	uint64_t page_gfn[FIFO_MAX_PAGES];
	uint32_t tail[MAX_VCPUS][FIFO_QUEUES]; /* Xen-private; 0: none */
	struct fz_pm *pm;                      /* [pm_n] */
	uint32_t pm_n;
	/* PIRQs, as Xen 4.17 keeps them for an HVM guest (struct pirq and
	 * the emuirq -> pirq radix tree); the bound port is read from the
	 * port table. */
	bool has_pirq;                  /* XEN_X86_EMU_USE_PIRQ */
	uint32_t nr_pirqs, nr_irqs_gsi;
	int32_t emuirq[FZ_PIRQ_MAX];    /* EMU_UNBOUND, EMU_MSI or a GSI */
	bool pirq_alloc[FZ_PIRQ_MAX];   /* get_free_pirq: PIRQ_ALLOCATED */
	/* Xen's entry with nothing in it: get_free_pirq() inside a map_pirq
	 * that was then refused created it (pirq_get_info()); gone at the
	 * PIRQ's next pirq_cleanup_check() (close of its port, unmap). */
	bool pirq_empty[FZ_PIRQ_MAX];
	int32_t gsi_pirq[FZ_NR_GSIS];   /* reverse map: GSI keys, -1 none */
	int32_t msi_emu_pirq;           /* reverse map: the IRQ_MSI_EMU key */
	uint64_t gsi_level;             /* lines high (evtchn_gsi_set()) */
	/* HVM_PARAM_CALLBACK_IRQ and the per-vCPU upcall vectors */
	uint64_t callback_via;
	uint8_t upcall_vector[MAX_VCPUS];
#if FZ_HAVE_GUEST
	struct evtchn_guest g;
	bool g_ok;
	bool g_fresh;               /* as evtchn_guest_init() left it */
#endif
};

/* The model's port table of one domain: what domain 0 must see with
 * EVTCHNOP_status (status, vcpu and the union member of the state, the
 * rest zero); ports [0, end) are valid, @bound of them (port 0 not
 * counted) are not closed. */
struct fz_scan {
	uint32_t end, cap, bound;
	struct evtchn_status *st; /* [cap] */
	/* Unbound because the other end closed (the library's SETTLING,
	 * which evtchn_domain_dump() shows). */
	uint8_t *settling;        /* [cap] */
};

/* Ports an operation may have changed, compared with the library after
 * it (fz_flush()); @end: where the valid ports end; @count: how many are
 * bound; @all: too many ports, every bound one and the count. */
#define FZ_DIRTY_MAX 64u
struct fz_dirty {
	uint32_t n;
	bool all, end, count;
	uint32_t port[FZ_DIRTY_MAX];
};

/* A FIFO prediction: the domain's guest memory and shared_info as the
 * operation must leave them, and the upcalls it must raise. */
struct fz_sh {
	struct fz_dom *z; /* NULL: no prediction running */
	unsigned long total;
	unsigned long base[MAX_VCPUS], up[MAX_VCPUS];
	bool dummy[MAX_VCPUS];
	/* Pages of the copy that hold the memory as it was: the dirty ones at
	 * the start, then any the prediction reached (a clean page is zero). */
	uint32_t have;
	unsigned char si[EVTCHN_PAGE_SIZE];
	unsigned char mem[MEM_SIZE];
};

/* A host kept for one configuration of the three domains (their
 * max_evtchn_port, domain 2's PIRQs), with its domains as the last input
 * of that configuration left them (see "Inputs in a row"): FZ_WAYS hosts
 * in each of FZ_SETS sets, a configuration in the set its hash names. */
#define FZ_SETS 64u
#define FZ_WAYS 4u
#define FZ_HOSTS (FZ_SETS * FZ_WAYS)
struct fz_host {
	struct evtchn_host *h;     /* NULL: slot unused */
	struct evtchn_domain *d[NDOM];
	uint32_t cfg_max[NDOM];
	unsigned pcfg2;
	unsigned long used;        /* the input that used it last */
};

struct fz {
	const uint8_t *p;
	size_t n;
	struct evtchn_host *h;     /* cur->h */
	struct fz_host hosts[FZ_HOSTS], *cur;
	unsigned long inputs;
	struct fz_dom dom[NDOM];
	struct fz_scan scan[NDOM];
	struct fz_dirty dirty[NDOM];
	struct fz_scan before; /* a copy, for reset */
	struct fz_sh sh;
	unsigned long total_upcalls;
	bool check_always;
	unsigned ops;
	/* The header: layouts (bit: domain), max_evtchn_port selectors,
	 * domain 2's PIRQ configuration. */
	uint8_t l32, maxsel[NDOM], pcfg2;
};

static _Noreturn void fz_fail(int line, const char *what)
{
	fprintf(stderr, "evtchn fuzz: invariant broken at fuzz_core.c:%d: %s\n",
		line, what);
	abort();
}

#define CHECK(c)                                 \
	do {                                     \
		if (!(c))                        \
			fz_fail(__LINE__, #c);   \
	} while (0)

/* ------------------------------------------------------------------ */
/* Input */

static uint8_t in8(struct fz *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}

static uint16_t in16(struct fz *f)
{
	uint16_t v = in8(f);

	return v | (uint16_t)(in8(f) << 8);
}

static uint32_t in32(struct fz *f)
{
	uint32_t v = in16(f);

	return v | ((uint32_t)in16(f) << 16);
}

static uint64_t in64(struct fz *f)
{
	uint64_t v = in32(f);

	return v | ((uint64_t)in32(f) << 32);
}

static void in_bytes(struct fz *f, void *buf, size_t len)
{
	unsigned char *b = buf;

	for (size_t i = 0; i < len; i++)
		b[i] = in8(f);
}

/* DOM: a domain index. */
static int rd_dom(struct fz *f)
{
	return in8(f) % NDOM;
}

/* VCPU: the calling vCPU of domain @z, sometimes not one of its vCPUs. */
static uint32_t rd_vcpu(struct fz *f, const struct fz_dom *z)
{
	uint8_t b = in8(f);

	if (b < 250)
		return b % z->nr_vcpus;
	if (b == 255)
		return UINT32_MAX;
	return z->nr_vcpus + (b - 250);
}

/* TVCPU: a vCPU named in an argument. */
static uint32_t rd_tvcpu(struct fz *f)
{
	uint8_t b = in8(f);
	static const uint32_t special[] = { UINT32_MAX, 0x80000000u, 40, 0 };

	if (b < 200)
		return b % 4;
	if (b < 240)
		return 30 + b % 12;
	if (b % 4 == 3)
		return in32(f);
	return special[b % 4];
}

static uint32_t rd_port(struct fz *f)
{
	static const uint32_t special[] = { 63,	     64,	  127,
					    128,     1023,	  1024,
					    4095,    4096,	  0x7FFFFFFFu,
					    UINT32_MAX, 0x80000000u };
	uint8_t b = in8(f);

	if (b < 100)
		return b % 8; /* the ports most likely bound */
	if (b < 200)
		return b % 71;
	b = (b - 200) % 12;
	return b < 11 ? special[b] : in32(f);
}

static domid_t rd_domid(struct fz *f)
{
	static const domid_t plain[] = { 0, 1, 2, DOMID_SELF, DOMID_SELF,
					 1, 2, 0, 3 };
	uint8_t b = in8(f);

	if (b % 10 < 9)
		return plain[b % 10];
	switch (b / 10 % 4) {
	case 0:
		return DOMID_IO;
	case 1:
		return 0xFFFF;
	case 2:
		return in16(f);
	default:
		return 0x7FEF;
	}
}

static uint32_t rd_virq(struct fz *f)
{
	static const uint32_t special[] = { UINT32_MAX, 0x80000000u, 24 };
	uint8_t b = in8(f);

	if (b < 230)
		return b % 26;
	b %= 4;
	return b < 3 ? special[b] : in32(f);
}

static uint64_t rd_addr(struct fz *f)
{
	uint8_t m = in8(f);

	if (m < 192)
		return in16(f);
	if (m < 216)
		return MEM_SIZE - in8(f) % 40;
	if (m < 232) {
		uint64_t page = in8(f) % (FZ_MEM_PAGES - 1) + 1;

		return page * EVTCHN_PAGE_SIZE - (in8(f) % 23 + 1);
	}
	if (m < 240)
		return in8(f);
	if (m < 248)
		return in64(f);
	return UINT64_MAX - in8(f) % 32;
}

/* GFN: a guest frame, mostly RAM. */
static uint64_t rd_gfn(struct fz *f)
{
	static const uint64_t special[] = { FZ_MEM_PAGES, FZ_MEM_PAGES + 1,
					    0xFFFFF, 1ull << 40, UINT64_MAX };
	uint8_t b = in8(f);

	if (b < 224)
		return b % FZ_MEM_PAGES;
	b %= 6;
	return b < 5 ? special[b] : in64(f);
}

/* CBOFF: a control block offset, mostly valid (8-aligned, <= 4096 - 72). */
static uint32_t rd_cboff(struct fz *f)
{
	static const uint32_t special[] = { 4024, 4025, 4032, 4,
					    4096, UINT32_MAX, 4020 };
	uint8_t b = in8(f);

	if (b < 160)
		return (b % 56) * 72u;
	if (b < 200)
		return (b % 25) * 8u;
	b %= 8;
	return b < 7 ? special[b] : in32(f);
}

/* A FIFO priority, mostly valid. */
static uint32_t rd_prio(struct fz *f)
{
	static const uint32_t special[] = { 16, 255, UINT32_MAX };
	uint8_t b = in8(f);

	if (b < 200)
		return b % 16;
	b %= 4;
	return b < 3 ? special[b] : in32(f);
}

/* ------------------------------------------------------------------ */
/* Guest memory and shared_info */

static bool in_mem(uint64_t addr, uint64_t len)
{
	return addr <= MEM_SIZE && len <= MEM_SIZE - addr;
}

/* The harness, as the guest, writes what fits of [@addr, @addr + @len):
 * those pages may not be zero any more. */
static void mem_dirty(struct fz_dom *z, uint64_t addr, uint64_t len)
{
	uint64_t last;

	if (!len || addr >= MEM_SIZE)
		return;
	last = addr + len - 1;
	if (last < addr || last >= MEM_SIZE)
		last = MEM_SIZE - 1;
	for (uint64_t pg = addr / EVTCHN_PAGE_SIZE;
	     pg <= last / EVTCHN_PAGE_SIZE; pg++)
		z->dirty |= 1u << pg;
}

/* The same for a host address, when it is in guest memory (not in
 * shared_info or the library's own pages). */
static void mem_dirty_ptr(struct fz_dom *z, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, m = (uintptr_t)z->mem;

	if (a >= m && a < m + MEM_SIZE)
		mem_dirty(z, a - m, len);
}

/* Write what fits of @len bytes at guest-physical @addr. */
static void put(struct fz_dom *z, uint64_t addr, const void *buf, size_t len)
{
	const unsigned char *b = buf;

	mem_dirty(z, addr, len);

	for (size_t i = 0; i < len; i++) {
		uint64_t a = addr + i;

		if (a < addr)
			break;
		if (a < MEM_SIZE)
			z->mem[a] = b[i];
	}
}

/* Save / compare what is in memory of [@addr, @addr + @len). */
static void save(const struct fz_dom *z, uint64_t addr, unsigned char *buf,
		 size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t a = addr + i;

		buf[i] = (a >= addr && a < MEM_SIZE) ? z->mem[a] : 0;
	}
}

static bool same(const struct fz_dom *z, uint64_t addr,
		 const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t a = addr + i;

		if (a >= addr && a < MEM_SIZE && z->mem[a] != buf[i])
			return false;
	}
	return true;
}

static bool overlaps(const unsigned char *a, size_t alen,
		     const unsigned char *b, size_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool is32(const struct fz_dom *z)
{
	return evtchn_domain_layout(z->d) == EVTCHN_LAYOUT_32;
}

static uint32_t layout_ports(const struct fz_dom *z)
{
	return is32(z) ? PORTS_32 : PORTS_64;
}

static unsigned char *si(const struct fz_dom *z)
{
	return evtchn_domain_shared_info(z->d);
}

static unsigned char *pending_map(const struct fz_dom *z)
{
	return si(z) + (is32(z) ? offsetof(struct shared_info_x86_32,
					   evtchn_pending)
				: offsetof(struct shared_info_x86_64,
					   evtchn_pending));
}

static unsigned char *mask_map(const struct fz_dom *z)
{
	return si(z) + (is32(z) ? offsetof(struct shared_info_x86_32,
					   evtchn_mask)
				: offsetof(struct shared_info_x86_64,
					   evtchn_mask));
}

static size_t sel_off(const struct fz_dom *z)
{
	return is32(z) ? offsetof(struct vcpu_info_x86_32, evtchn_pending_sel)
		       : offsetof(struct vcpu_info_x86_64, evtchn_pending_sel);
}

static size_t sel_size(const struct fz_dom *z)
{
	return is32(z) ? 4 : 8;
}

static unsigned bits_per_word(const struct fz_dom *z)
{
	return is32(z) ? 32 : 64;
}

/* Bitmaps are arrays of little-endian words: bit n is in byte n / 8 in
 * both layouts. */
static bool bit_get(const unsigned char *base, uint32_t nr)
{
	return base[nr / 8] >> (nr % 8) & 1;
}

static void bit_put(unsigned char *base, uint32_t nr, bool v)
{
	if (v)
		base[nr / 8] |= (unsigned char)(1u << (nr % 8));
	else
		base[nr / 8] &= (unsigned char)~(1u << (nr % 8));
}

/* Highest port the domain may allocate now. */
static uint32_t port_limit(const struct fz_dom *z)
{
	uint32_t max = z->cfg_max ? z->cfg_max : STORAGE_MAX_PORT;
	uint32_t abi = z->fifo ? FIFO_MAX_PORT : layout_ports(z) - 1;

	return max < abi ? max : abi;
}

/* ------------------------------------------------------------------ */
/* FIFO state in guest memory */

static uint32_t ld32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void st32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* The event word of @port (Xen's evtchn_fifo_word_from_port()), or NULL. */
static unsigned char *fifo_word(const struct fz_dom *z, uint32_t port)
{
	if (!z->fifo || port >= z->npages * FIFO_WORDS_PER_PAGE)
		return NULL;
	return z->mem + z->page_gfn[port / FIFO_WORDS_PER_PAGE] *
				EVTCHN_PAGE_SIZE +
	       port % FIFO_WORDS_PER_PAGE * sizeof(event_word_t);
}

/* vCPU @v's control block, or NULL. */
static unsigned char *fifo_cb(const struct fz_dom *z, uint32_t v)
{
	if (!z->fifo || v >= z->nr_vcpus || !z->cb_set[v])
		return NULL;
	return z->mem + z->cb_gfn[v] * EVTCHN_PAGE_SIZE + z->cb_off[v];
}

/* Xen's evtchn_fifo_is_busy(). */
static bool fifo_linked(const struct fz_dom *z, uint32_t port)
{
	const unsigned char *w = fifo_word(z, port);

	return w && (ld32(w) & W_LINKED);
}

/* The model's per-port FIFO state; ports never seen are zero, as a fresh
 * bucket is. */
static struct fz_pm *pm(struct fz_dom *z, uint32_t port)
{
	if (port >= z->pm_n) {
		uint32_t n = z->pm_n ? z->pm_n : 1024;

		CHECK(port <= STORAGE_MAX_PORT);
		while (n <= port)
			n *= 2;
		z->pm = realloc(z->pm, n * sizeof(*z->pm));
		CHECK(z->pm);
		memset(z->pm + z->pm_n, 0, (n - z->pm_n) * sizeof(*z->pm));
		z->pm_n = n;
	}
	return &z->pm[port];
}

static bool virq_global(uint32_t virq)
{
	return virq != VIRQ_TIMER && virq != VIRQ_DEBUG &&
	       virq != VIRQ_XENOPROF && virq != VIRQ_XENPMU;
}

/* The domain @domid names for @caller, as Xen looks it up. */
static int dom_idx(struct fz *f, int caller, domid_t domid)
{
	if (domid == DOMID_SELF || domid == caller)
		return caller;
	if (domid < NDOM && f->dom[domid].d)
		return domid;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Calls into the library */

static bool xen_errno_ok(long rc)
{
	switch (-rc) {
	case 0:
	case XEN_EPERM:
	case XEN_ENOENT:
	case XEN_ESRCH:
	case XEN_EFAULT:
	case XEN_EINVAL:
	case XEN_EEXIST:
	case XEN_ENOSPC:
	case XEN_EBUSY:
	case XEN_ENOSYS:
	case XEN_EOPNOTSUPP:
	case XEN_ENXIO:
	case XEN_ENOMEM:
	case XEN_EACCES:
	case XEN_ETIME: /* set_singleshot_timer, VCPU_SSHOTTMR_future */
		return true;
	default:
		/* No EVTCHNOP or VCPUOP returns a positive value: ports come
		 * back in the argument struct. */
		return false;
	}
}

/* A library call that may change @z (see "Inputs in a row"). */
static void touch(struct fz_dom *z)
{
	z->touched = z->touched_check = true;
	z->verified = false;
#if FZ_HAVE_GUEST
	z->g_fresh = false; /* (the consumer is used only after one) */
#endif
}

/* A hypercall the model looks with, changing nothing. */
static long hcall_look(struct fz_dom *z, uint32_t vcpu, uint64_t nr,
		       const uint64_t a[6])
{
	long rc = evtchn_hypercall(z->d, vcpu, nr, a);

	stats.hypercalls++;
	CHECK(xen_errno_ok(rc));
	if (rc == 0)
		stats.ok++;
	return rc;
}

static long hcall(struct fz_dom *z, uint32_t vcpu, uint64_t nr,
		  const uint64_t a[6])
{
	touch(z);
	return hcall_look(z, vcpu, nr, a);
}

static void fz_upcall(struct evtchn_domain *d, uint32_t vcpu, void *opaque)
{
	struct fz_dom *z = opaque;
	unsigned char *vi;

	CHECK(d == z->d);
	CHECK(vcpu < z->nr_vcpus);
	vi = (int)vcpu == z->reg_vcpu ? z->reg_vi : z->vi[vcpu];
	/* Called on the 0 -> 1 transition: the flag is set by now. */
	if (vi) {
		CHECK(vi[0] & 1);
	} else {
		z->dummy_up[vcpu] = true; /* the dummy's flag stays set */
		z->lasting = true;
	}
	z->upcalls[vcpu]++;
	z->f->total_upcalls++;
	stats.upcalls++;
}

/* The library reaches guest memory only through here (no flat region is
 * given): every page it maps, to copy an argument or to keep (vcpu_info,
 * FIFO control blocks and event arrays), may not be zero any more. */
static void *fz_map(struct evtchn_domain *d, uint64_t gfn, bool writable,
		    void *opaque)
{
	struct fz_dom *z = opaque;

	(void)d;
	(void)writable;
	if (gfn >= FZ_MEM_PAGES)
		return NULL;
	z->dirty |= 1u << gfn;
	return z->mem + gfn * EVTCHN_PAGE_SIZE;
}

/* EVTCHNOP_status from domain 0 (privileged) on any domain's port. */
static long q_status(struct fz *f, domid_t dom, uint32_t port,
		     struct evtchn_status *out)
{
	struct fz_dom *z0 = &f->dom[0];
	struct evtchn_status s;
	unsigned char keep[sizeof(s)];
	uint64_t a[6] = { EVTCHNOP_status, SCRATCH_STATUS, 0, 0, 0, 0 };
	unsigned long total = f->total_upcalls;
	long rc;

	memset(&s, 0, sizeof(s));
	s.dom = dom;
	s.port = port;
	/* The model looks without touching: domain 0's memory is put back
	 * (it may hold its event words, control blocks or vcpu_info). */
	memcpy(keep, z0->mem + SCRATCH_STATUS, sizeof(keep));
	memcpy(z0->mem + SCRATCH_STATUS, &s, sizeof(s));
	mem_dirty(z0, SCRATCH_STATUS, sizeof(s));
	rc = hcall_look(z0, 0, __HYPERVISOR_event_channel_op, a);
	CHECK(f->total_upcalls == total);
	if (rc == 0) {
		memcpy(out, z0->mem + SCRATCH_STATUS, sizeof(*out));
		CHECK(out->dom == dom && out->port == port);
	}
	memcpy(z0->mem + SCRATCH_STATUS, keep, sizeof(keep));
	return rc;
}

static void scan_reserve(struct fz_scan *s, uint32_t n)
{
	uint32_t cap = s->cap ? s->cap : 256;

	if (n <= s->cap)
		return;
	while (cap < n)
		cap *= 2;
	s->st = realloc(s->st, cap * sizeof(*s->st));
	s->settling = realloc(s->settling, cap);
	CHECK(s->st && s->settling);
	s->cap = cap;
}

static void scan_copy(struct fz_scan *dst, const struct fz_scan *src)
{
	scan_reserve(dst, src->end);
	memcpy(dst->st, src->st, src->end * sizeof(*src->st));
	memcpy(dst->settling, src->settling, src->end);
	dst->end = src->end;
	dst->bound = src->bound;
}

/*
 * The model's port table of @di.  It is not read from the library: every
 * operation that may change a port changes it here as Xen would, and the
 * ports it may have changed are compared with EVTCHNOP_status right after
 * the operation (fz_flush()); the whole table is compared at the table
 * checks (check_tables()).
 */
static struct fz_scan *scan(struct fz *f, int di)
{
	CHECK(f->dom[di].d);
	return &f->scan[di];
}

/* What EVTCHNOP_status answers for a closed port. */
static void m_closed(struct evtchn_status *e, int di, uint32_t port)
{
	memset(e, 0, sizeof(*e));
	e->dom = (domid_t)di;
	e->port = port;
	e->status = EVTCHNSTAT_closed;
}

/* A fresh domain's table: bucket 0, every port closed. */
static void m_fresh(struct fz *f, int di)
{
	static struct evtchn_status tpl[NDOM][BUCKET];
	static bool tpl_ok[NDOM];
	struct fz_scan *s = &f->scan[di];

	if (!tpl_ok[di]) {
		for (uint32_t p = 0; p < BUCKET; p++)
			m_closed(&tpl[di][p], di, p);
		tpl_ok[di] = true;
	}
	scan_reserve(s, BUCKET);
	memcpy(s->st, tpl[di], sizeof(tpl[di]));
	memset(s->settling, 0, BUCKET);
	s->end = BUCKET;
	s->bound = 0;
	memset(&f->dirty[di], 0, sizeof(f->dirty[di]));
}

/* Compare @port of @di with the library after the operation. */
static void m_dirty(struct fz *f, int di, uint32_t port)
{
	struct fz_dirty *dd = &f->dirty[di];

	if (dd->all)
		return;
	for (uint32_t i = 0; i < dd->n; i++)
		if (dd->port[i] == port)
			return;
	if (dd->n == FZ_DIRTY_MAX)
		dd->all = true;
	else
		dd->port[dd->n++] = port;
}

/* Allocation reached @port of @di (Xen's evtchn_allocate_port()): its
 * bucket exists from now, whatever came after. */
static void m_reach(struct fz *f, int di, uint32_t port)
{
	struct fz_scan *s = &f->scan[di];
	struct fz_dom *z = &f->dom[di];
	uint32_t end = (port / BUCKET + 1) * BUCKET;

	if (port > z->hiwater)
		z->hiwater = port;
	touch(z);
	m_dirty(f, di, port);
	if (end <= s->end)
		return;
	scan_reserve(s, end);
	for (uint32_t p = s->end; p < end; p++)
		m_closed(&s->st[p], di, p);
	memset(s->settling + s->end, 0, end - s->end);
	s->end = end;
	f->dirty[di].end = true;
}

/* Port @port of @di is now as @e says (a copy of the status answer). */
static void m_set(struct fz *f, int di, uint32_t port,
		  const struct evtchn_status *e)
{
	struct fz_scan *s = &f->scan[di];

	CHECK(port < s->end);
	touch(&f->dom[di]);
	if (port) {
		s->bound -= s->st[port].status != EVTCHNSTAT_closed;
		s->bound += e->status != EVTCHNSTAT_closed;
	}
	s->st[port] = *e;
	s->st[port].dom = (domid_t)di;
	s->st[port].port = port;
	s->settling[port] = 0;
	m_dirty(f, di, port);
}

static void m_close(struct fz *f, int di, uint32_t port)
{
	struct evtchn_status e;

	m_closed(&e, di, port);
	m_set(f, di, port, &e);
}

/* Bound: @status with notify vCPU @vcpu; @a and @b fill the union member
 * (interdomain: domain and port; unbound: the remote domain; virq, pirq). */
static void m_bind(struct fz *f, int di, uint32_t port, uint32_t status,
		   uint32_t vcpu, uint32_t a, uint32_t b)
{
	struct evtchn_status e;

	m_closed(&e, di, port);
	e.status = status;
	e.vcpu = vcpu;
	switch (status) {
	case EVTCHNSTAT_unbound:
		e.u.unbound.dom = (domid_t)a;
		break;
	case EVTCHNSTAT_interdomain:
		e.u.interdomain.dom = (domid_t)a;
		e.u.interdomain.port = b;
		break;
	case EVTCHNSTAT_pirq:
		e.u.pirq = a;
		break;
	case EVTCHNSTAT_virq:
		e.u.virq = a;
		break;
	default:
		break;
	}
	m_set(f, di, port, &e);
}

/* A closed channel's other end: unbound for the closer (Xen's
 * evtchn_close() and domain_kill()), its notify vCPU kept. */
static void m_peer_unbound(struct fz *f, int di, uint32_t port, int closer)
{
	struct fz_scan *s = &f->scan[di];

	CHECK(port < s->end &&
	      s->st[port].status == EVTCHNSTAT_interdomain);
	m_bind(f, di, port, EVTCHNSTAT_unbound, s->st[port].vcpu,
	       (uint32_t)closer, 0);
	s->settling[port] = 1;
}

/* The library's status of @port of @di is the model's. */
static void same_status(struct fz *f, int di, uint32_t port,
			const struct evtchn_status *got)
{
	const struct evtchn_status *want = &f->scan[di].st[port];

	if (!memcmp(got, want, sizeof(*got)))
		return;
	fprintf(stderr, "evtchn fuzz: dom%d port %u: status %u vcpu %u "
			"(u %08x %08x), the model says %u vcpu %u "
			"(u %08x %08x)\n", di, port, got->status,
		got->vcpu, ((const uint32_t *)&got->u)[0],
		((const uint32_t *)&got->u)[1], want->status, want->vcpu,
		((const uint32_t *)&want->u)[0],
		((const uint32_t *)&want->u)[1]);
	CHECK(!"port status as the model says");
}

/* Compare one port of @di with the library. */
static void verify_port(struct fz *f, int di, uint32_t port)
{
	struct fz_scan *s = &f->scan[di];
	struct evtchn_status got;
	long rc = q_status(f, (domid_t)di, port, &got);

	if (port >= s->end) {
		CHECK(rc == -XEN_EINVAL);
		return;
	}
	CHECK(rc == 0);
	same_status(f, di, port, &got);
}

/* The valid ports end where the model says: the last one answers, the
 * next one is -EINVAL (Xen's port_is_valid()). */
static void verify_end(struct fz *f, int di)
{
	struct fz_scan *s = &f->scan[di];

	verify_port(f, di, s->end - 1);
	verify_port(f, di, s->end);
}

static void verify_all(struct fz *f, int di)
{
	struct fz_scan *s = &f->scan[di];

	for (uint32_t p = 0; p <= s->end; p++)
		verify_port(f, di, p);
}

/*
 * Every valid port of @di as verify_all() compares it (status, notify
 * vCPU, binding), read in one call a few hundred ports at a time
 * (evtchn_test_status(): what EVTCHNOP_status answers, without a
 * hypercall's copies for each port), and where the valid ports end
 * through EVTCHNOP_status.  Port by port where the library is not a test
 * build.
 */
static void verify_table(struct fz *f, int di)
{
	struct fz_scan *s = &f->scan[di];
	struct evtchn_status got[256];

	if (!evtchn_test_status) {
		verify_all(f, di);
		return;
	}
	for (uint32_t p = 0; p < s->end; p += 256) {
		uint32_t n = s->end - p < 256 ? s->end - p : 256;

		CHECK(evtchn_test_status(f->dom[di].d, p, n, got) ==
		      (int)s->end);
		if (!memcmp(got, &s->st[p], n * sizeof(got[0])))
			continue;
		for (uint32_t i = 0; i < n; i++)
			same_status(f, di, p + i, &got[i]);
	}
	verify_end(f, di);
}

/*
 * Every port the library changed since the last look (its log,
 * evtchn_test_changed(): each write of a binding or a notify vCPU) is as
 * the model says, and the valid ports end where it says: a port the
 * operation should not have changed is found at once.  A log that ran
 * over: the whole table.  Without the log (not a test build): every
 * FZ_CHECK_EVERY operations, the whole table (check_ports()).
 */
static void verify_changed(struct fz *f, int di)
{
	struct fz_scan *s = &f->scan[di];
	struct evtchn_domain *d = f->dom[di].d;
	uint32_t ports[FZ_CHANGED_MAX];
	int n;

	if (!evtchn_test_changed || !evtchn_test_status)
		return;
	n = evtchn_test_changed(d, ports, FZ_CHANGED_MAX);
	CHECK(n >= 0);
	if (n > FZ_CHANGED_MAX) {
		verify_table(f, di);
		return;
	}
	CHECK(evtchn_test_status(d, 0, 0, NULL) == (int)s->end);
	for (int i = 0; i < n; i++) {
		struct evtchn_status got;

		CHECK(ports[i] < s->end);
		CHECK(evtchn_test_status(d, ports[i], 1, &got) ==
		      (int)s->end);
		same_status(f, di, ports[i], &got);
	}
}

/* How much of a table check_ports() compares. */
enum { CHK_TABLE, CHK_WHOLE, CHK_DEEP };

static void check_ports(struct fz *f, int di, int how);
static void check_tables(struct fz *f, int di, int how, bool deep_pirqs);
static void verify_dump(struct fz *f, int di);

/* After an operation: every port it may have changed is what the model
 * says.  (A port it should not have changed is found by the table check,
 * check_tables(), or the first operation that looks at it.) */
static void fz_flush(struct fz *f)
{
	for (int di = 0; di < NDOM; di++) {
		struct fz_dirty *dd = &f->dirty[di];

		if (!f->dom[di].d) {
			memset(dd, 0, sizeof(*dd));
			continue;
		}
		if (dd->all) {
			/* (the whole table: the library's log too) */
			if (evtchn_test_changed)
				(void)evtchn_test_changed(f->dom[di].d, NULL, 0);
			verify_table(f, di);
			check_tables(f, di, CHK_TABLE, false);
		} else {
			for (uint32_t i = 0; i < dd->n; i++)
				verify_port(f, di, dd->port[i]);
			if (dd->end)
				verify_end(f, di);
			if (dd->count)
				verify_dump(f, di);
			verify_changed(f, di);
		}
		memset(dd, 0, sizeof(*dd));
	}
}

static bool st_closed(const struct fz_scan *s, uint32_t port)
{
	return port >= s->end || s->st[port].status == EVTCHNSTAT_closed;
}

/* Xen's get_free_port(): the lowest free port from 1, or -1 (-ENOSPC).  In
 * FIFO a free port whose event word is still LINKED is busy (Xen's
 * evtchn_is_busy()); a port past the valid ones gets a new bucket without
 * that look. */
static long lowest_free(struct fz *f, int di)
{
	struct fz_scan *s = scan(f, di);
	const struct fz_dom *z = &f->dom[di];
	uint32_t lim = port_limit(z);
	bool skipped = false;

	for (uint32_t p = 1; p <= lim; p++) {
		if (!st_closed(s, p))
			continue;
		if (p < s->end && fifo_linked(z, p)) {
			skipped = true;
			continue;
		}
		if (skipped)
			stats.fifo_busy_skips++;
		return p;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Delivery oracle */

struct fz_ev {
	bool on;
	struct fz_dom *z;
	uint32_t port, vcpu;
	bool in_range, have_vi;
	bool pend, mask, sel, upc;
	unsigned long cnt, total;
};

/* Snapshot what Xen's set_pending / unmask look at for @port of @z with
 * notify vCPU @vcpu. */
static void ev_snap(struct fz_dom *z, uint32_t port, uint32_t vcpu,
		    struct fz_ev *e)
{
	unsigned char *vi;

	memset(e, 0, sizeof(*e));
	CHECK(vcpu < z->nr_vcpus);
	e->on = true;
	e->z = z;
	e->port = port;
	e->vcpu = vcpu;
	e->cnt = z->upcalls[vcpu];
	e->total = z->f->total_upcalls;
	e->in_range = port < layout_ports(z);
	if (!e->in_range)
		return;
	e->pend = bit_get(pending_map(z), port);
	e->mask = bit_get(mask_map(z), port);
	vi = z->vi[vcpu];
	if (vi) {
		e->have_vi = true;
		e->sel = bit_get(vi + sel_off(z), port / bits_per_word(z));
		e->upc = vi[0] & 1;
	}
}

/* After the selector and the upcall flag were looked at: @raised says
 * whether Xen goes on to set the selector bit. */
static void ev_check_raise(const struct fz_ev *e, bool raised, bool skip_vi)
{
	struct fz_dom *z = e->z;
	unsigned long d = z->upcalls[e->vcpu] - e->cnt;
	unsigned long dt = z->f->total_upcalls - e->total;
	unsigned char *vi = z->vi[e->vcpu];

	if (!raised) {
		CHECK(d == 0 && dt == 0);
		return;
	}
	if (!e->have_vi) {
		CHECK(d <= 1 && dt == d);
		return;
	}
	if (!skip_vi)
		CHECK(bit_get(vi + sel_off(z), e->port / bits_per_word(z)));
	if (!e->sel && !e->upc) {
		CHECK(d == 1 && dt == 1);
		if (!skip_vi)
			CHECK(vi[0] & 1);
	} else {
		CHECK(d == 0 && dt == 0);
	}
}

/* An event arrived on a usable port (Xen's evtchn_2l_set_pending). */
static void ev_check_event(const struct fz_ev *e, bool skip_vi)
{
	if (!e->on)
		return;
	stats.sends_delivered++;
	if (!e->in_range) {
		/* Beyond the current layout's bitmaps: dropped. */
		CHECK(e->z->f->total_upcalls == e->total);
		return;
	}
	CHECK(bit_get(pending_map(e->z), e->port));
	ev_check_raise(e, !e->pend && !e->mask, skip_vi);
}

/* EVTCHNOP_unmask on a usable port (Xen's evtchn_2l_unmask). */
static void ev_check_unmask(const struct fz_ev *e)
{
	if (!e->in_range) {
		CHECK(e->z->f->total_upcalls == e->total);
		return;
	}
	CHECK(!bit_get(mask_map(e->z), e->port));
	CHECK(bit_get(pending_map(e->z), e->port) == e->pend);
	ev_check_raise(e, e->mask && e->pend, false);
}

/* Nothing may change for @port: no bit, no upcall. */
static void ev_check_nothing(const struct fz_ev *e)
{
	CHECK(e->z->f->total_upcalls == e->total);
	if (!e->in_range)
		return;
	CHECK(bit_get(pending_map(e->z), e->port) == e->pend);
	CHECK(bit_get(mask_map(e->z), e->port) == e->mask);
}

/* ------------------------------------------------------------------ */
/* FIFO oracle: predictions on a copy of the guest's memory */

/* Start predicting what the next operation does to @z's memory. */
static void sh_begin(struct fz *f, struct fz_dom *z)
{
	struct fz_sh *sh = &f->sh;

	CHECK(!sh->z);
	sh->z = z;
	sh->total = f->total_upcalls;
	/* The pages that may not be zero; any other is zero (fz_dirty). */
	sh->have = z->dirty;
	for (uint32_t pg = 0; pg < FZ_MEM_PAGES; pg++)
		if (sh->have >> pg & 1)
			memcpy(sh->mem + pg * EVTCHN_PAGE_SIZE,
			       z->mem + pg * EVTCHN_PAGE_SIZE,
			       EVTCHN_PAGE_SIZE);
	memcpy(sh->si, si(z), EVTCHN_PAGE_SIZE);
	for (uint32_t v = 0; v < z->nr_vcpus; v++) {
		sh->base[v] = z->upcalls[v];
		sh->up[v] = 0;
		sh->dummy[v] = z->dummy_up[v];
	}
}

/* Page @pg of the copy, as the memory was at sh_begin(). */
static void sh_page(struct fz_sh *sh, uint64_t pg)
{
	static const unsigned char zero[EVTCHN_PAGE_SIZE];

	if (sh->have >> pg & 1)
		return;
	/* A page nobody wrote: zero, in the memory and in the copy. */
	CHECK(memcmp(sh->z->mem + pg * EVTCHN_PAGE_SIZE, zero,
		     EVTCHN_PAGE_SIZE) == 0);
	memset(sh->mem + pg * EVTCHN_PAGE_SIZE, 0, EVTCHN_PAGE_SIZE);
	sh->have |= 1u << pg;
}

/* The copy of the byte at @real (guest memory or shared_info). */
static unsigned char *sh_at(struct fz_sh *sh, const unsigned char *real)
{
	uintptr_t r = (uintptr_t)real, m = (uintptr_t)sh->z->mem,
		  s = (uintptr_t)si(sh->z);

	if (r >= m && r < m + MEM_SIZE) {
		/* Words and vcpu_infos never straddle a page. */
		sh_page(sh, (r - m) / EVTCHN_PAGE_SIZE);
		return sh->mem + (r - m);
	}
	if (r >= s && r < s + EVTCHN_PAGE_SIZE)
		return sh->si + (r - s);
	CHECK(0);
	return NULL;
}

/* The hypercall's copy-out of @len bytes at @addr (inside memory). */
static void sh_put(struct fz_sh *sh, uint64_t addr, const void *buf,
		   size_t len)
{
	CHECK(in_mem(addr, len));
	for (uint64_t pg = addr / EVTCHN_PAGE_SIZE;
	     len && pg <= (addr + len - 1) / EVTCHN_PAGE_SIZE; pg++)
		sh_page(sh, pg);
	memcpy(sh->mem + addr, buf, len);
}

static void sh_diff(const char *what, const unsigned char *want,
		    const unsigned char *got, size_t len, size_t base)
{
	for (size_t i = 0; i < len; i++)
		if (want[i] != got[i]) {
			fprintf(stderr,
				"evtchn fuzz: %s byte 0x%zx is 0x%02x, the "
				"model says 0x%02x\n",
				what, base + i, got[i], want[i]);
			return;
		}
}

/*
 * The operation ran: memory, shared_info and upcalls are as predicted.
 * The memory is compared page by page where it may have changed: the
 * library reaches guest memory only through fz_map(), which marks every
 * page it maps dirty (those it keeps too, when it maps them), and the
 * harness marks what it writes; a page that is not dirty now was zero at
 * sh_begin() (so in the copy) and nothing wrote it since.
 */
static void sh_check(struct fz *f)
{
	static const unsigned char zero[EVTCHN_PAGE_SIZE];
	struct fz_sh *sh = &f->sh;
	struct fz_dom *z = sh->z;
	unsigned long sum = 0;
	uint32_t pages;

	CHECK(z);
	pages = z->dirty | sh->have;
	for (uint32_t pg = 0; pg < FZ_MEM_PAGES; pg++) {
		const unsigned char *want = sh->have >> pg & 1
						    ? sh->mem + pg * EVTCHN_PAGE_SIZE
						    : zero;
		const unsigned char *got = z->mem + pg * EVTCHN_PAGE_SIZE;

		if (!(pages >> pg & 1) || !memcmp(want, got, EVTCHN_PAGE_SIZE))
			continue;
		sh_diff("guest memory", want, got, EVTCHN_PAGE_SIZE,
			pg * EVTCHN_PAGE_SIZE);
		CHECK(!"FIFO guest memory as predicted");
	}
	if (memcmp(sh->si, si(z), EVTCHN_PAGE_SIZE)) {
		sh_diff("shared_info", sh->si, si(z), EVTCHN_PAGE_SIZE, 0);
		CHECK(!"shared_info as predicted");
	}
	for (uint32_t v = 0; v < z->nr_vcpus; v++) {
		CHECK(z->upcalls[v] - sh->base[v] == sh->up[v]);
		CHECK(z->dummy_up[v] == sh->dummy[v]);
		sum += sh->up[v];
	}
	CHECK(f->total_upcalls - sh->total == sum);
	sh->z = NULL;
}

/* Xen's vcpu_mark_events_pending(): the upcall on 0 -> 1 only. */
static void sim_mark(struct fz *f, uint32_t v)
{
	struct fz_sh *sh = &f->sh;
	struct fz_dom *z = sh->z;

	if (z->vi[v]) {
		unsigned char *b = sh_at(sh, z->vi[v]);

		if (*b & 1)
			return;
		*b |= 1;
	} else {
		if (sh->dummy[v])
			return;
		sh->dummy[v] = true;
	}
	sh->up[v]++;
	stats.fifo_upcalls++;
}

/* Xen 4.17's evtchn_fifo_set_pending() of @port at vCPU @v, atomic by
 * atomic on the copy (words, control blocks and vcpu_info may overlap). */
static void sim_set_pending(struct fz *f, uint32_t port, uint32_t v)
{
	struct fz_sh *sh = &f->sh;
	struct fz_dom *z = sh->z;
	const unsigned char *wr = fifo_word(z, port);
	struct fz_pm *m = pm(z, port);
	unsigned char *w, *cb;
	uint32_t lv, lp, prio, r;
	bool linked = true;

	CHECK(z->fifo && v < z->nr_vcpus);
	if (!wr) {
		/* No event-array page yet: raised when it arrives. */
		m->saved = 1;
		stats.fifo_saved++;
		return;
	}
	prio = m->prio;
	CHECK(prio < FIFO_QUEUES);
	lv = m->lastq >> 4;
	if (lv >= z->nr_vcpus)
		lv = 0;
	lp = m->lastq & 15;
	if (!z->cb_set[v]) {
		/* "The guest must not unmask an event until the control block
		 * is initialized": dropped, not even P (Xen 4.17). */
		stats.fifo_no_cb++;
		return;
	}
	w = sh_at(sh, wr);
	cb = sh_at(sh, fifo_cb(z, v));
	st32(w, ld32(w) | W_PENDING);
	if (!(ld32(w) & W_MASKED) && !(ld32(w) & W_LINKED)) {
		st32(w, ld32(w) | W_LINKED);
		/* It was the old queue's tail: that queue is empty now. */
		if (z->tail[lv][lp] == port)
			z->tail[lv][lp] = 0;
		if (lv != v || lp != prio)
			m->lastq = (uint16_t)(v << 4 | prio);
		linked = false;
		if (z->tail[v][prio]) {
			const unsigned char *tr = fifo_word(z, z->tail[v][prio]);
			unsigned char *tw;
			uint32_t t;

			/* A tail was linked, so its page is there. */
			CHECK(tr);
			tw = sh_at(sh, tr);
			t = ld32(tw);
			/* Linked to it only while it is still LINKED. */
			if (t & W_LINKED) {
				st32(tw, (t & ~(W_BUSY | W_LINK)) | port);
				linked = true;
			}
		}
		if (!linked)
			st32(cb + offsetof(struct evtchn_fifo_control_block,
					   head) + prio * 4, port);
		z->tail[v][prio] = port;
		stats.fifo_linked++;
	}
	if (linked)
		return;
	r = ld32(cb + offsetof(struct evtchn_fifo_control_block, ready));
	if (r & 1u << prio)
		return;
	st32(cb + offsetof(struct evtchn_fifo_control_block, ready),
	     r | 1u << prio);
	sim_mark(f, v);
}

/* Xen's evtchn_fifo_unmask(): clear M, relink if P. */
static void sim_unmask(struct fz *f, uint32_t port, uint32_t v)
{
	struct fz_sh *sh = &f->sh;
	const unsigned char *wr = fifo_word(sh->z, port);
	unsigned char *w;

	if (!wr)
		return;
	w = sh_at(sh, wr);
	st32(w, ld32(w) & ~W_MASKED);
	if (ld32(w) & W_PENDING)
		sim_set_pending(f, port, v);
}

/* Xen's evtchn_fifo_clear_pending(): P only. */
static void sim_clear_pending(struct fz *f, uint32_t port)
{
	struct fz_sh *sh = &f->sh;
	const unsigned char *wr = fifo_word(sh->z, port);

	if (wr)
		st32(sh_at(sh, wr), ld32(sh_at(sh, wr)) & ~W_PENDING);
}

/* A successful init_control of vCPU @v (Xen's evtchn_fifo_init_control()):
 * the first one switches the domain, saving what was pending under
 * 2-level (setup_ports(): ports below the 2-level maximum, up to the first
 * invalid one) and giving them the default priority. */
static void fifo_model_init(struct fz *f, int di, uint32_t v, uint64_t gfn,
			    uint32_t off)
{
	struct fz_dom *z = &f->dom[di];

	if (!z->fifo) {
		struct fz_scan *s = scan(f, di);
		uint32_t prev = layout_ports(z);

		for (uint32_t p = 1; p < prev && p < s->end; p++) {
			struct fz_pm *m = pm(z, p);

			if (bit_get(pending_map(z), p))
				m->saved = 1;
			m->prio = EVTCHN_FIFO_PRIORITY_DEFAULT;
		}
		z->fifo = true;
		z->npages = 0;
		memset(z->cb_set, 0, sizeof(z->cb_set));
		memset(z->tail, 0, sizeof(z->tail));
		stats.fifo_switches++;
	}
	z->cb_set[v] = true;
	z->cb_gfn[v] = gfn;
	z->cb_off[v] = off;
}

/* A successful expand_array (Xen's add_page_to_event_array()): the page,
 * then every saved event in it raised again at its notify vCPU.  Xen never
 * clears the saved flag (evtchn->pending): not here, not at close, not at
 * reset, so a port bound again, or a later FIFO session, gets the event
 * again.  The library skips a port that is not usable now
 * (docs/conformance.md, deliberate differences). */
static void fifo_model_expand(struct fz *f, int di, uint64_t gfn)
{
	struct fz_dom *z = &f->dom[di];
	struct fz_scan *s = scan(f, di);
	uint32_t first = z->npages * FIFO_WORDS_PER_PAGE;

	CHECK(z->npages < FIFO_MAX_PAGES);
	z->page_gfn[z->npages++] = gfn;
	for (uint32_t p = first;
	     p < first + FIFO_WORDS_PER_PAGE && p < s->end; p++) {
		struct fz_pm *m = pm(z, p);

		if (!m->saved)
			continue;
		if (st_closed(s, p))
			continue;
		stats.fifo_raised++;
		sim_set_pending(f, p, s->st[p].vcpu);
	}
	stats.fifo_pages++;
}

/* Back to 2-level (EVTCHNOP_reset): the FIFO state is gone; priorities,
 * last queues and saved events of ports still free stay, as in Xen. */
static void fifo_model_leave(struct fz_dom *z)
{
	z->fifo = false;
	z->npages = 0;
	memset(z->cb_set, 0, sizeof(z->cb_set));
	memset(z->tail, 0, sizeof(z->tail));
}

/* The reference consumer follows the domain's ABI: what the guest set up
 * with raw hypercalls is its own state too. */
static void guest_sync_fifo(struct fz_dom *z)
{
#if FZ_HAVE_GUEST
	struct evtchn_guest *g = &z->g;

	if (!z->g_ok)
		return;
	if (!z->fifo) {
		g->fifo = false;
		__atomic_store_n(&g->fifo_pages, 0, __ATOMIC_RELEASE);
		memset(g->fifo_cb, 0, z->nr_vcpus * sizeof(*g->fifo_cb));
		memset(g->fifo_head, 0, z->nr_vcpus * sizeof(*g->fifo_head));
		return;
	}
	g->fifo = true;
	for (uint32_t v = 0; v < z->nr_vcpus; v++) {
		void *cb = fifo_cb(z, v);

		if (g->fifo_cb[v] != cb) {
			g->fifo_cb[v] = cb;
			memset(g->fifo_head[v], 0, sizeof(g->fifo_head[v]));
		}
	}
	for (uint32_t i = 0; i < z->npages; i++)
		g->fifo_array[i] = (uint32_t *)(z->mem + z->page_gfn[i] *
							 EVTCHN_PAGE_SIZE);
	__atomic_store_n(&g->fifo_pages, z->npages, __ATOMIC_RELEASE);
#else
	(void)z;
#endif
}

/* ------------------------------------------------------------------ */
/* EVTCHNOP model */

union fz_arg {
	struct evtchn_bind_interdomain bind_interdomain;
	struct evtchn_bind_virq bind_virq;
	struct evtchn_bind_pirq bind_pirq;
	struct evtchn_close close;
	struct evtchn_send send;
	struct evtchn_status status;
	struct evtchn_alloc_unbound alloc_unbound;
	struct evtchn_bind_ipi bind_ipi;
	struct evtchn_bind_vcpu bind_vcpu;
	struct evtchn_unmask unmask;
	struct evtchn_reset reset;
	struct evtchn_init_control init_control;
	struct evtchn_expand_array expand_array;
	struct evtchn_set_priority set_priority;
	unsigned char raw[32];
};

static size_t op_size(int cmd)
{
	switch (cmd) {
	case EVTCHNOP_bind_interdomain:
		return sizeof(struct evtchn_bind_interdomain);
	case EVTCHNOP_bind_virq:
		return sizeof(struct evtchn_bind_virq);
	case EVTCHNOP_bind_pirq:
		return sizeof(struct evtchn_bind_pirq);
	case EVTCHNOP_close:
		return sizeof(struct evtchn_close);
	case EVTCHNOP_send:
		return sizeof(struct evtchn_send);
	case EVTCHNOP_status:
		return sizeof(struct evtchn_status);
	case EVTCHNOP_alloc_unbound:
		return sizeof(struct evtchn_alloc_unbound);
	case EVTCHNOP_bind_ipi:
		return sizeof(struct evtchn_bind_ipi);
	case EVTCHNOP_bind_vcpu:
		return sizeof(struct evtchn_bind_vcpu);
	case EVTCHNOP_unmask:
		return sizeof(struct evtchn_unmask);
	case EVTCHNOP_reset:
	case EVTCHNOP_reset_cont:
		return sizeof(struct evtchn_reset);
	case EVTCHNOP_init_control:
		return sizeof(struct evtchn_init_control);
	case EVTCHNOP_expand_array:
		return sizeof(struct evtchn_expand_array);
	case EVTCHNOP_set_priority:
		return sizeof(struct evtchn_set_priority);
	default:
		return 0;
	}
}

#if FZ_HAVE_GUEST
static void guest_bind(struct fz_dom *z, uint32_t port, uint32_t vcpu)
{
	if (z->g_ok)
		evtchn_guest_bind_port(&z->g, port, vcpu);
}
#else
static void guest_bind(struct fz_dom *z, uint32_t port, uint32_t vcpu)
{
	(void)z;
	(void)port;
	(void)vcpu;
}
#endif

static long fz_evtchn_op(struct fz *f, int di, uint32_t vcpu,
			 const uint64_t a[6])
{
	struct fz_dom *z = &f->dom[di];
	int cmd = (int)a[0];
	uint64_t addr = a[1];
	size_t size = op_size(cmd);
	union fz_arg in, out;
	unsigned char saved[sizeof(union fz_arg)];
	unsigned char before[sizeof(union fz_arg)];
	struct evtchn_status st = { 0 }, rst = { 0 };
	struct fz_ev ev = { 0 }, ev2 = { 0 };
	struct fz_dom *shz = NULL;
	bool valid = false, deliver = false, unmask = false;
	bool was_fifo = false;
	long exp, rc, lf = -1;
	int t = -1, lf_dom = di;
	uint32_t port = 0, tv = 0;

	memset(&in, 0, sizeof(in));
	if (vcpu >= z->nr_vcpus) {
		exp = -XEN_EINVAL;
	} else if (!size) {
		exp = -XEN_ENOSYS;
	} else if (!in_mem(addr, size)) {
		exp = -XEN_EFAULT;
	} else {
		memcpy(&in, z->mem + addr, size);
		exp = 1; /* computed below */
	}

	/* The model reads the port table through domain 0's memory, which
	 * may be where this argument is: put the argument back after. */
	save(z, addr, saved, sizeof(saved));

	if (exp == 1) {
		switch (cmd) {
		case EVTCHNOP_bind_interdomain: {
			struct evtchn_bind_interdomain *b =
				&in.bind_interdomain;
			struct fz_scan *rs;

			t = dom_idx(f, di, b->remote_dom);
			if (t < 0) {
				exp = -XEN_ESRCH;
				break;
			}
			lf = lowest_free(f, di);
			if (lf < 0) {
				exp = -XEN_ENOSPC;
				break;
			}
			rs = scan(f, t);
			port = b->remote_port;
			if (!st_closed(rs, port) &&
			    rs->st[port].status == EVTCHNSTAT_unbound &&
			    rs->st[port].u.unbound.dom == di) {
				exp = 0;
				rst = rs->st[port];
			} else {
				exp = -XEN_EINVAL;
			}
			break;
		}
		case EVTCHNOP_bind_virq: {
			struct evtchn_bind_virq *b = &in.bind_virq;
			struct fz_scan *s;
			bool bound = false;

			tv = b->vcpu;
			if ((int32_t)b->virq < 0 || b->virq >= NR_VIRQS) {
				exp = -XEN_EINVAL;
				break;
			}
			if (virq_global(b->virq) && tv != 0) {
				exp = -XEN_EINVAL;
				break;
			}
			if (tv >= z->nr_vcpus) {
				exp = -XEN_ENOENT;
				break;
			}
			s = scan(f, di);
			for (uint32_t p = 1; p < s->end; p++)
				if (s->st[p].status == EVTCHNSTAT_virq &&
				    s->st[p].u.virq == b->virq &&
				    (virq_global(b->virq) ||
				     s->st[p].vcpu == tv))
					bound = true;
			if (bound) {
				exp = -XEN_EEXIST;
				break;
			}
			lf = lowest_free(f, di);
			exp = lf < 0 ? -XEN_ENOSPC : 0;
			break;
		}
		case EVTCHNOP_bind_pirq: {
			/* Xen 4.17, HVM: any PIRQ below nr_pirqs (56 by
			 * default), mapped or not; -EEXIST when bound. */
			struct fz_scan *s;
			bool bound = false;

			if (in.bind_pirq.pirq >= z->nr_pirqs) {
				exp = -XEN_EINVAL;
				break;
			}
			s = scan(f, di);
			for (uint32_t p = 1; p < s->end; p++)
				if (s->st[p].status == EVTCHNSTAT_pirq &&
				    s->st[p].u.pirq == in.bind_pirq.pirq)
					bound = true;
			if (bound) {
				exp = -XEN_EEXIST;
				break;
			}
			lf = lowest_free(f, di);
			exp = lf < 0 ? -XEN_ENOSPC : 0;
			break;
		}
		case EVTCHNOP_close:
		case EVTCHNOP_send:
		case EVTCHNOP_unmask:
		case EVTCHNOP_set_priority:
		case EVTCHNOP_bind_vcpu: {
			struct fz_scan *s = scan(f, di);

			port = cmd == EVTCHNOP_close	  ? in.close.port
			       : cmd == EVTCHNOP_send	  ? in.send.port
			       : cmd == EVTCHNOP_unmask	  ? in.unmask.port
			       : cmd == EVTCHNOP_bind_vcpu ? in.bind_vcpu.port
						   : in.set_priority.port;
			valid = port < s->end;
			if (valid)
				st = s->st[port];
			if (cmd == EVTCHNOP_bind_vcpu) {
				tv = in.bind_vcpu.vcpu;
				if (tv >= z->nr_vcpus)
					exp = -XEN_ENOENT;
				else if (!valid)
					exp = -XEN_EINVAL;
				else if (st.status == EVTCHNSTAT_virq)
					exp = virq_global(st.u.virq)
						      ? 0
						      : -XEN_EINVAL;
				else if (st.status == EVTCHNSTAT_unbound ||
					 st.status ==
						 EVTCHNSTAT_interdomain ||
					 st.status == EVTCHNSTAT_pirq)
					exp = 0;
				else
					exp = -XEN_EINVAL;
				break;
			}
			if (!valid) {
				exp = -XEN_EINVAL;
				break;
			}
			if (cmd == EVTCHNOP_set_priority) {
				/* Xen's evtchn_port_set_priority(): the ABI,
				 * a usable port, then the priority. */
				if (!z->fifo)
					exp = -XEN_ENOSYS;
				else if (st.status == EVTCHNSTAT_closed)
					exp = -XEN_EACCES;
				else if (in.set_priority.priority >
					 EVTCHN_FIFO_PRIORITY_MIN)
					exp = -XEN_EINVAL;
				else
					exp = 0;
			} else if (cmd == EVTCHNOP_unmask) {
				exp = 0; /* not usable: nothing at all */
				unmask = st.status != EVTCHNSTAT_closed;
			} else if (cmd == EVTCHNOP_close) {
				exp = st.status == EVTCHNSTAT_closed
					      ? -XEN_EINVAL
					      : 0;
			} else if (st.status == EVTCHNSTAT_ipi) {
				exp = 0;
				deliver = true;
			} else if (st.status == EVTCHNSTAT_interdomain) {
				exp = 0;
				deliver = true;
				t = st.u.interdomain.dom;
				CHECK(t < NDOM && f->dom[t].d);
				CHECK(!st_closed(scan(f, t),
						 st.u.interdomain.port));
				rst = scan(f, t)->st[st.u.interdomain.port];
			} else if (st.status == EVTCHNSTAT_unbound) {
				exp = 0; /* dropped */
			} else {
				exp = -XEN_EINVAL;
			}
			break;
		}
		case EVTCHNOP_status: {
			struct fz_scan *s;

			t = dom_idx(f, di, in.status.dom);
			port = in.status.port;
			if (t < 0) {
				exp = -XEN_ESRCH;
				break;
			}
			s = scan(f, t);
			if (port >= s->end)
				exp = -XEN_EINVAL;
			else if (t != di && !z->privileged)
				exp = -XEN_EPERM;
			else {
				exp = 0;
				st = s->st[port];
			}
			break;
		}
		case EVTCHNOP_alloc_unbound:
			t = dom_idx(f, di, in.alloc_unbound.dom);
			if (t < 0) {
				exp = -XEN_ESRCH;
				break;
			}
			lf = lowest_free(f, t);
			lf_dom = t;
			if (lf < 0)
				exp = -XEN_ENOSPC;
			else if (t != di && !z->privileged)
				exp = -XEN_EPERM;
			else
				exp = 0;
			break;
		case EVTCHNOP_bind_ipi:
			tv = in.bind_ipi.vcpu;
			if (tv >= z->nr_vcpus) {
				exp = -XEN_ENOENT;
				break;
			}
			lf = lowest_free(f, di);
			exp = lf < 0 ? -XEN_ENOSPC : 0;
			break;
		case EVTCHNOP_reset:
		case EVTCHNOP_reset_cont:
			t = dom_idx(f, di, in.reset.dom);
			if (t < 0)
				exp = -XEN_ESRCH;
			else if (t != di && !z->privileged)
				exp = -XEN_EPERM;
			else if (t != di && !f->dom[t].paused)
				exp = -XEN_EINVAL;
			else if (cmd == EVTCHNOP_reset_cont)
				exp = -XEN_EBUSY; /* no reset in progress */
			else {
				exp = 0;
				scan_copy(&f->before, scan(f, t));
				was_fifo = f->dom[t].fifo;
			}
			break;
		case EVTCHNOP_init_control: {
			/* Xen's evtchn_fifo_init_control(), in its order. */
			const struct evtchn_init_control *ic =
				&in.init_control;

			tv = ic->vcpu;
			if (tv >= z->nr_vcpus)
				exp = -XEN_ENOENT;
			else if (ic->offset > EVTCHN_PAGE_SIZE - FIFO_CB_SIZE)
				exp = -XEN_EINVAL;
			else if (ic->offset & 7)
				exp = -XEN_EINVAL;
			else if (z->fifo && z->cb_set[tv])
				exp = -XEN_EINVAL;
			else if (ic->control_gfn >= FZ_MEM_PAGES)
				exp = -XEN_EINVAL; /* and still 2-level */
			else
				exp = 0;
			break;
		}
		case EVTCHNOP_expand_array:
			if (!z->fifo)
				exp = -XEN_EOPNOTSUPP;
			else if (z->npages >= FIFO_MAX_PAGES)
				exp = -XEN_ENOSPC;
			else if (in.expand_array.array_gfn >= FZ_MEM_PAGES)
				exp = -XEN_EINVAL;
			else
				exp = 0;
			break;
		default:
			CHECK(0);
		}
	}

	put(z, addr, saved, sizeof(saved));

	/* What a successful operation does, looked at (2-level) or predicted
	 * (FIFO) now. */
	if (exp == 0) {
		switch (cmd) {
		case EVTCHNOP_bind_interdomain:
			if (z->fifo) {
				struct evtchn_bind_interdomain e =
					in.bind_interdomain;

				pm(z, (uint32_t)lf)->prio =
					EVTCHN_FIFO_PRIORITY_DEFAULT;
				sh_begin(f, z);
				sim_set_pending(f, (uint32_t)lf, 0);
				e.local_port = (uint32_t)lf;
				sh_put(&f->sh, addr, &e, sizeof(e));
			} else {
				ev_snap(z, (uint32_t)lf, 0, &ev);
			}
			break;
		case EVTCHNOP_send:
			if (deliver) {
				bool ipi = st.status == EVTCHNSTAT_ipi;
				struct fz_dom *zt = ipi ? z : &f->dom[t];
				uint32_t tp = ipi ? port : st.u.interdomain.port;
				uint32_t nv = ipi ? st.vcpu : rst.vcpu;

				if (zt->fifo) {
					sh_begin(f, zt);
					sim_set_pending(f, tp, nv);
				} else {
					ev_snap(zt, tp, nv, &ev);
				}
			} else if (z->fifo) {
				sh_begin(f, z); /* unbound: nothing */
			} else {
				ev_snap(z, port, st.vcpu, &ev2);
			}
			break;
		case EVTCHNOP_unmask:
			if (z->fifo) {
				sh_begin(f, z);
				if (unmask)
					sim_unmask(f, port, st.vcpu);
			} else {
				ev_snap(z, port, st.vcpu, &ev);
			}
			break;
		case EVTCHNOP_close:
			/* Xen's evtchn_free(): P cleared, the mask and the
			 * saved flag kept. */
			/* Xen's evtchn_close(): pirq_cleanup_check(). */
			if (st.status == EVTCHNSTAT_pirq) {
				CHECK(st.u.pirq < z->nr_pirqs);
				z->pirq_empty[st.u.pirq] = false;
			}
			if (z->fifo) {
				sh_begin(f, z);
				sim_clear_pending(f, port);
			}
			break;
		case EVTCHNOP_reset: {
			struct fz_dom *zt = &f->dom[t];

			if (zt->fifo)
				sh_begin(f, zt);
			for (uint32_t p = 1; p < f->before.end; p++) {
				if (f->before.st[p].status == EVTCHNSTAT_closed)
					continue;
				if (f->before.st[p].status == EVTCHNSTAT_pirq) {
					uint32_t q = f->before.st[p].u.pirq;

					CHECK(q < zt->nr_pirqs);
					zt->pirq_empty[q] = false;
				}
				if (zt->fifo)
					sim_clear_pending(f, p);
			}
			if (zt->fifo) {
				fifo_model_leave(zt);
				stats.fifo_resets++;
			}
			break;
		}
		case EVTCHNOP_init_control: {
			struct evtchn_init_control e = in.init_control;

			sh_begin(f, z);
			fifo_model_init(f, di, tv, e.control_gfn, e.offset);
			/* Copied out on success only: link_bits = 17. */
			e.link_bits = EVTCHN_FIFO_LINK_BITS;
			sh_put(&f->sh, addr, &e, sizeof(e));
			break;
		}
		case EVTCHNOP_expand_array:
			sh_begin(f, z);
			fifo_model_expand(f, di, in.expand_array.array_gfn);
			break;
		case EVTCHNOP_set_priority:
			/* Takes effect when the event is linked next. */
			pm(z, port)->prio = (uint8_t)in.set_priority.priority;
			stats.set_priority_ok++;
			break;
		case EVTCHNOP_alloc_unbound:
			/* Xen's evtchn_port_init(): the default priority. */
			if (f->dom[t].fifo)
				pm(&f->dom[t], (uint32_t)lf)->prio =
					EVTCHN_FIFO_PRIORITY_DEFAULT;
			break;
		case EVTCHNOP_bind_virq:
		case EVTCHNOP_bind_ipi:
		case EVTCHNOP_bind_pirq:
			if (z->fifo)
				pm(z, (uint32_t)lf)->prio =
					EVTCHN_FIFO_PRIORITY_DEFAULT;
			break;
		default:
			break;
		}
	}
	if (cmd == EVTCHNOP_expand_array && exp == -XEN_ENOSPC)
		stats.fifo_enospc++;

	save(z, addr, before, sizeof(before));
	{
		unsigned long total = f->total_upcalls;

		rc = hcall(z, vcpu, __HYPERVISOR_event_channel_op, a);
		CHECK(rc == exp);
		if (rc != 0 || !(deliver || unmask ||
				 cmd == EVTCHNOP_bind_interdomain ||
				 cmd == EVTCHNOP_expand_array))
			CHECK(f->total_upcalls == total);
	}
	if (rc == -XEN_EFAULT)
		stats.efault++;
	if (trace)
		fprintf(stderr,
			"evtchn fuzz: dom%d vcpu %u %s cmd %d port %u -> %ld "
			"(allocated %ld)\n",
			di, vcpu, z->fifo ? "FIFO" : "2L", cmd, port, rc, lf);
	shz = f->sh.z;
	if (shz)
		sh_check(f); /* all of that domain's memory, argument included */

	/* Nothing changes the guest's argument but a successful copy-out. */
	if (shz != z &&
	    (rc != 0 || cmd == EVTCHNOP_close || cmd == EVTCHNOP_bind_vcpu ||
	     cmd == EVTCHNOP_reset || cmd == EVTCHNOP_set_priority ||
	     cmd == EVTCHNOP_expand_array))
		CHECK(same(z, addr, before, size ? size : 8));

	/* A port allocation that was reached allocated (and perhaps added a
	 * bucket), whatever came after. */
	if (lf >= 0) {
		m_reach(f, lf_dom, (uint32_t)lf);
		if (lf >= (long)PORTS_64)
			stats.fifo_ports_high++;
	}
	/* (The ports it changes are compared after it: m_set() and
	 * m_reach() mark them.  One it names but must leave alone is
	 * compared at the next table check, at the latest at the end of
	 * the input.)  The domains it reached may have changed. */
	if (t >= 0)
		touch(&f->dom[t]);
	if (lf >= 0)
		touch(&f->dom[lf_dom]);
	if (valid && st.status == EVTCHNSTAT_interdomain)
		touch(&f->dom[st.u.interdomain.dom]);
	if (rc != 0) {
		fz_flush(f);
		return rc;
	}

	memset(&out, 0, sizeof(out));
	memcpy(&out, z->mem + addr, size);

	switch (cmd) {
	case EVTCHNOP_bind_interdomain: {
		const unsigned char *arg = z->mem + addr;
		bool skip = z->vi[0] &&
			    overlaps(arg, size, z->vi[0], VCPU_INFO_SIZE);

		/* "We may have lost notifications": the new port is made
		 * pending at vCPU 0. */
		if (!z->fifo)
			ev_check_event(&ev, skip);
		CHECK(out.bind_interdomain.local_port == (uint32_t)lf);
		CHECK(out.bind_interdomain.remote_dom ==
		      in.bind_interdomain.remote_dom);
		CHECK(out.bind_interdomain.remote_port ==
		      in.bind_interdomain.remote_port);
		/* Both ends bound to each other; the remote end keeps its
		 * notify vCPU. */
		m_bind(f, di, (uint32_t)lf, EVTCHNSTAT_interdomain, 0,
		       (uint32_t)t, port);
		m_bind(f, t, port, EVTCHNSTAT_interdomain, rst.vcpu,
		       (uint32_t)di, (uint32_t)lf);
		guest_bind(z, lf, 0);
		if (t == di)
			stats.loopback++;
		else
			stats.interdomain++;
		break;
	}
	case EVTCHNOP_bind_virq:
		CHECK(out.bind_virq.port == (uint32_t)lf);
		CHECK(out.bind_virq.virq == in.bind_virq.virq &&
		      out.bind_virq.vcpu == in.bind_virq.vcpu);
		m_bind(f, di, (uint32_t)lf, EVTCHNSTAT_virq, tv,
		       in.bind_virq.virq, 0);
		guest_bind(z, lf, tv);
		stats.virq++;
		break;
	case EVTCHNOP_bind_pirq:
		CHECK(out.bind_pirq.port == (uint32_t)lf);
		CHECK(out.bind_pirq.pirq == in.bind_pirq.pirq &&
		      out.bind_pirq.flags == in.bind_pirq.flags);
		m_bind(f, di, (uint32_t)lf, EVTCHNSTAT_pirq, 0,
		       in.bind_pirq.pirq, 0);
		z->lasting = true; /* the PIRQ's entry */
		guest_bind(z, lf, 0);
		stats.pirq++;
		break;
	case EVTCHNOP_bind_ipi:
		CHECK(out.bind_ipi.port == (uint32_t)lf);
		CHECK(out.bind_ipi.vcpu == in.bind_ipi.vcpu);
		m_bind(f, di, (uint32_t)lf, EVTCHNSTAT_ipi, tv, 0, 0);
		guest_bind(z, lf, tv);
		stats.ipi++;
		break;
	case EVTCHNOP_alloc_unbound: {
		domid_t remote = in.alloc_unbound.remote_dom == DOMID_SELF
					 ? (domid_t)di
					 : in.alloc_unbound.remote_dom;

		CHECK(out.alloc_unbound.port == (uint32_t)lf);
		CHECK(out.alloc_unbound.dom == in.alloc_unbound.dom &&
		      out.alloc_unbound.remote_dom ==
			      in.alloc_unbound.remote_dom);
		m_bind(f, t, (uint32_t)lf, EVTCHNSTAT_unbound, 0, remote, 0);
		guest_bind(&f->dom[t], lf, 0);
		stats.unbound++;
		break;
	}
	case EVTCHNOP_close:
		/* FIFO: the event word's P was checked with the memory. */
		if (!z->fifo && port < layout_ports(z))
			CHECK(!bit_get(pending_map(z), port));
		if (st.status == EVTCHNSTAT_interdomain)
			/* The peer is unbound, reserved for the closer. */
			m_peer_unbound(f, st.u.interdomain.dom,
				       st.u.interdomain.port, di);
		m_close(f, di, port);
		stats.closes++;
		break;
	case EVTCHNOP_send:
		if (shz)
			break; /* FIFO: checked with the memory */
		if (deliver)
			ev_check_event(&ev, false);
		else
			ev_check_nothing(&ev2);
		break;
	case EVTCHNOP_unmask:
		if (shz)
			break;
		if (unmask)
			ev_check_unmask(&ev);
		else
			ev_check_nothing(&ev);
		break;
	case EVTCHNOP_bind_vcpu: {
		struct evtchn_status e = st;
		uint8_t settling = f->scan[di].settling[port];

		/* The notify vCPU only: the binding stays as it is. */
		e.vcpu = tv;
		m_set(f, di, port, &e);
		f->scan[di].settling[port] = settling;
		guest_bind(z, port, tv);
		break;
	}
	case EVTCHNOP_status: {
		/* Xen writes status, vcpu and the union member of the state;
		 * everything else is what the guest passed. */
		struct evtchn_status e = in.status;

		e.status = st.status;
		e.vcpu = st.vcpu;
		switch (st.status) {
		case EVTCHNSTAT_unbound:
			e.u.unbound.dom = st.u.unbound.dom;
			break;
		case EVTCHNSTAT_interdomain:
			e.u.interdomain.dom = st.u.interdomain.dom;
			e.u.interdomain.port = st.u.interdomain.port;
			break;
		case EVTCHNSTAT_pirq:
			e.u.pirq = st.u.pirq;
			break;
		case EVTCHNSTAT_virq:
			e.u.virq = st.u.virq;
			break;
		default:
			break;
		}
		CHECK(memcmp(&e, &out.status, sizeof(e)) == 0);
		break;
	}
	case EVTCHNOP_reset: {
		struct fz_dom *zt = &f->dom[t];

		/* Every port closed; channels to other domains leave their
		 * ends unbound for this one. */
		for (uint32_t p = 1; p < f->before.end; p++) {
			const struct evtchn_status *b = &f->before.st[p];

			if (b->status == EVTCHNSTAT_closed)
				continue;
			/* FIFO: the words were checked with the memory. */
			if (!was_fifo && p < layout_ports(zt))
				CHECK(!bit_get(pending_map(zt), p));
			if (b->status == EVTCHNSTAT_interdomain &&
			    b->u.interdomain.dom != t)
				m_peer_unbound(f, b->u.interdomain.dom,
					       b->u.interdomain.port, t);
		}
		for (uint32_t p = 1; p < f->before.end; p++)
			if (f->before.st[p].status != EVTCHNSTAT_closed)
				m_close(f, t, p);
		/* Each port that was bound closed (notify vCPU 0), and no
		 * port bound now. */
		f->dirty[t].count = true;
		guest_sync_fifo(zt);
		stats.resets++;
		break;
	}
	case EVTCHNOP_init_control:
		CHECK(out.init_control.link_bits == EVTCHN_FIFO_LINK_BITS);
		z->lasting = true;
		guest_sync_fifo(z);
		break;
	case EVTCHNOP_expand_array:
		guest_sync_fifo(z);
		break;
	default:
		break;
	}
	fz_flush(f);
	return rc;
}

/* ------------------------------------------------------------------ */
/* VCPUOP model */

/* The fuzz host's system time (see evtchn_fuzz_one()). */
#define FZ_NOW 1000000000ull

static uint64_t fz_clock(void *opaque)
{
	(void)opaque;
	return FZ_NOW;
}

/* The events of VIRQ @virq raised on @vcpu, predicted before the call
 * (op_virq(), timers that fire in the call); virq_check() after it. */
static void virq_predict(struct fz *f, int di, uint32_t vcpu, uint32_t virq,
			 struct fz_ev *e)
{
	struct fz_dom *z = &f->dom[di];
	struct fz_scan *s = scan(f, di);

	if (z->fifo)
		sh_begin(f, z);
	for (uint32_t p = 1; p < s->end; p++)
		if (s->st[p].status == EVTCHNSTAT_virq &&
		    s->st[p].u.virq == virq &&
		    (virq_global(virq) || s->st[p].vcpu == vcpu)) {
			if (z->fifo)
				sim_set_pending(f, p, s->st[p].vcpu);
			else
				ev_snap(z, p, s->st[p].vcpu, e);
		}
}

static void virq_check(struct fz *f, const struct fz_ev *e,
		       unsigned long total)
{
	if (f->sh.z)
		sh_check(f);
	else if (e->on)
		ev_check_event(e, false);
	else
		CHECK(f->total_upcalls == total); /* unbound: dropped */
}

/* Xen 4.17.7's common_vcpu_op() timer sub-ops (compat_vcpu_op() for a
 * 32-bit caller: the 12-byte compat struct is copied before the vCPU
 * check).  A singleshot deadline that would fire at once is moved one ns
 * into the future first, so no VIRQ_TIMER is raised behind the model's
 * back; a periodic timer's first tick fires in the call (the last tick is
 * 0 until then, and the clock stands still), and is predicted. */
static long fz_timer_op(struct fz *f, int di, uint32_t vcpu,
			const uint64_t a[6])
{
	struct fz_dom *z = &f->dom[di];
	int cmd = (int)a[0];
	uint32_t vid = (uint32_t)a[1];
	uint64_t addr = a[2];
	unsigned long total = f->total_upcalls;
	unsigned char before[16];
	struct vcpu_set_singleshot_timer ss;
	struct vcpu_set_periodic_timer pt;
	size_t sslen = is32(z) ? 12 : sizeof(ss);
	struct fz_ev e = { 0 };
	bool tick = false;
	long exp = 0, rc;

	if (vid >= z->nr_vcpus) {
		exp = -XEN_ENOENT;
	} else if (cmd == VCPUOP_set_singleshot_timer) {
		if (!is32(z) && vid != vcpu) {
			exp = -XEN_EINVAL;
		} else if (!in_mem(addr, sslen)) {
			exp = -XEN_EFAULT;
		} else if (vid != vcpu) {
			exp = -XEN_EINVAL;
		} else {
			/* the flags are ignored (4.17.3 and later) */
			memcpy(&ss, z->mem + addr, 8);
			if (ss.timeout_abs_ns <= FZ_NOW ||
			    (int64_t)ss.timeout_abs_ns < 0) {
				ss.timeout_abs_ns = FZ_NOW + 1;
				memcpy(z->mem + addr, &ss, 8);
				mem_dirty(z, addr, 8);
			}
		}
	} else if (cmd == VCPUOP_stop_singleshot_timer) {
		if (vid != vcpu)
			exp = -XEN_EINVAL;
	} else if (cmd == VCPUOP_set_periodic_timer) {
		if (!in_mem(addr, sizeof(pt))) {
			exp = -XEN_EFAULT;
		} else {
			memcpy(&pt, z->mem + addr, sizeof(pt));
			if (pt.period_ns < 1000000 || pt.period_ns > (~0ull >> 2))
				exp = -XEN_EINVAL;
			else if (!z->ticked[vid] && pt.period_ns <= FZ_NOW)
				tick = true; /* 0 + period has come */
		}
	}
	if (tick) {
		z->ticked[vid] = true;
		z->lasting = true;
		virq_predict(f, di, vid, VIRQ_TIMER, &e);
	}
	save(z, addr, before, sizeof(before));
	rc = hcall(z, vcpu, __HYPERVISOR_vcpu_op, a);
	CHECK(rc == exp);
	if (rc == 0)
		z->lasting = true; /* a timer */
	if (tick)
		virq_check(f, &e, total);
	else
		CHECK(f->total_upcalls == total);
	/* no copy-out: the argument is as it was */
	CHECK(same(z, addr, before, sizeof(before)));
	return rc;
}

static long fz_vcpu_op(struct fz *f, int di, uint32_t vcpu,
		       const uint64_t a[6])
{
	struct fz_dom *z = &f->dom[di];
	int cmd = (int)a[0];
	uint32_t vid = (uint32_t)a[1];
	uint64_t addr = a[2];
	struct vcpu_register_vcpu_info info = { 0 };
	size_t align = is32(z) ? _Alignof(struct vcpu_info_x86_32)
			       : _Alignof(struct vcpu_info_x86_64);
	unsigned char old[VCPU_INFO_SIZE], before[sizeof(info)];
	unsigned char *nvi = NULL, *ovi = NULL;
	unsigned long total = f->total_upcalls, cnt = 0;
	bool upc = false;
	long exp, rc;

	if (vcpu < z->nr_vcpus &&
	    (cmd == VCPUOP_set_singleshot_timer ||
	     cmd == VCPUOP_stop_singleshot_timer ||
	     cmd == VCPUOP_set_periodic_timer ||
	     cmd == VCPUOP_stop_periodic_timer))
		return fz_timer_op(f, di, vcpu, a);
	if (vcpu >= z->nr_vcpus)
		exp = -XEN_EINVAL;
	else if (cmd != VCPUOP_register_vcpu_info)
		exp = -XEN_ENOSYS;
	else if (vid >= z->nr_vcpus)
		exp = -XEN_ENOENT;
	else if (!in_mem(addr, sizeof(info)))
		exp = -XEN_EFAULT;
	else {
		memcpy(&info, z->mem + addr, sizeof(info));
		/* Xen 4.17's map_vcpu_info(), in its order. */
		if (info.offset > EVTCHN_PAGE_SIZE - VCPU_INFO_SIZE)
			exp = -XEN_ENXIO;
		else if (info.offset & (align - 1))
			exp = -XEN_ENXIO;
		else if (z->registered[vid])
			exp = -XEN_EINVAL;
		else if (vid != vcpu && z->online[vid])
			exp = -XEN_EINVAL;
		else if (info.mfn >= FZ_MEM_PAGES)
			exp = -XEN_EINVAL;
		else
			exp = 0;
	}
	if (exp == 0) {
		nvi = z->mem + info.mfn * EVTCHN_PAGE_SIZE + info.offset;
		ovi = z->vi[vid];
		if (ovi)
			memcpy(old, ovi, sizeof(old));
		upc = ovi && (ovi[0] & 1);
		cnt = z->upcalls[vid];
		z->reg_vcpu = (int)vid;
		z->reg_vi = nvi;
	}
	save(z, addr, before, sizeof(before));
	rc = hcall(z, vcpu, __HYPERVISOR_vcpu_op, a);
	z->reg_vcpu = -1;
	CHECK(rc == exp);
	if (rc == -XEN_EFAULT)
		stats.efault++;
	if (rc != 0) {
		CHECK(f->total_upcalls == total);
		CHECK(same(z, addr, before, sizeof(before)));
		return rc;
	}

	/* The old contents moved (or a fresh one with the upcall masked),
	 * every selector bit set, the upcall raised unless it was pending. */
	for (size_t i = 0; i < VCPU_INFO_SIZE; i++) {
		if (i >= sel_off(z) && i < sel_off(z) + sel_size(z))
			CHECK(nvi[i] == 0xFF);
		else if (i == 0)
			CHECK(nvi[0] == ((ovi ? old[0] : 0) | 1));
		else if (ovi)
			CHECK(nvi[i] == old[i]);
		else
			CHECK(nvi[i] ==
			      (i == offsetof(struct vcpu_info_x86_64,
					     evtchn_upcall_mask)
				       ? 1
				       : 0));
	}
	CHECK(z->upcalls[vid] - cnt == (upc ? 0u : 1u));
	CHECK(f->total_upcalls - total == (upc ? 0u : 1u));
	z->vi[vid] = nvi;
	z->registered[vid] = true;
	z->lasting = true;
#if FZ_HAVE_GUEST
	if (z->g_ok)
		evtchn_guest_set_vcpu_info(&z->g, vid, nvi);
#endif
	stats.registered++;
	if (vid >= 32)
		stats.high_vcpu_registered++;
	return rc;
}

/* ------------------------------------------------------------------ */
/* PIRQ model (Xen 4.17: physdev.c, irq.c's emuirq functions, hvm/irq.c's
 * hvm_inject_msi() and assert_gsi()) */

/* The port PIRQ @pirq of @di is bound to, and its vCPU (the port table). */
static bool pirq_port(struct fz *f, int di, uint32_t pirq, uint32_t *port,
		      uint32_t *vcpu)
{
	struct fz_scan *s = scan(f, di);

	for (uint32_t p = 1; p < s->end; p++)
		if (s->st[p].status == EVTCHNSTAT_pirq &&
		    s->st[p].u.pirq == pirq) {
			if (port)
				*port = p;
			if (vcpu)
				*vcpu = s->st[p].vcpu;
			return true;
		}
	return false;
}

/* Xen's domain_pirq_to_emuirq(). */
static int32_t m_emuirq(const struct fz_dom *z, int64_t pirq)
{
	return pirq >= 0 && pirq < z->nr_pirqs ? z->emuirq[pirq]
					       : EMU_UNBOUND;
}

/*
 * Xen's pirq_info() != NULL, as the library keeps it: the PIRQ has some
 * state (a port, PIRQ_ALLOCATED, an emuirq), which is Xen after its
 * pirq_cleanup_check() fix (docs/conformance.md).  Xen also keeps the
 * empty entry get_free_pirq() makes for a map_pirq that is then refused
 * (z->pirq_empty): m_entry_xen().
 */
static bool m_entry(struct fz *f, int di, uint32_t pirq)
{
	const struct fz_dom *z = &f->dom[di];

	return pirq < z->nr_pirqs &&
	       (z->pirq_alloc[pirq] || z->emuirq[pirq] != EMU_UNBOUND ||
		pirq_port(f, di, pirq, NULL, NULL));
}

static bool m_entry_xen(struct fz *f, int di, uint32_t pirq)
{
	return m_entry(f, di, pirq) ||
	       (pirq < f->dom[di].nr_pirqs && f->dom[di].pirq_empty[pirq]);
}

/* Xen's entry, counting the cases where only the empty entry of a
 * refused map_pirq makes it exist. */
static bool m_entry_checked(struct fz *f, int di, uint32_t pirq)
{
	bool xen = m_entry_xen(f, di, pirq);

	if (xen != m_entry(f, di, pirq)) {
		stats.pirq_entry_diff++;
		if (trace)
			fprintf(stderr, "evtchn fuzz: dom%d pirq %u: the empty "
					"entry of a refused map\n", di, pirq);
	}
	return xen;
}

/* Xen's is_free_pirq(): being bound does not count. */
static bool m_free(const struct fz_dom *z, uint32_t pirq)
{
	return !z->pirq_alloc[pirq] && z->emuirq[pirq] == EMU_UNBOUND;
}

/* Xen's get_free_pirq(): GSIs from 16 below nr_irqs_gsi, then (every
 * other type too) from the top down to nr_irqs_gsi; -ENOSPC. */
static int32_t m_get_free(const struct fz_dom *z, int32_t type)
{
	if (type == MAP_PIRQ_TYPE_GSI)
		for (uint32_t i = 16; i < z->nr_irqs_gsi; i++)
			if (m_free(z, i))
				return (int32_t)i;
	for (uint32_t i = z->nr_pirqs; i-- > z->nr_irqs_gsi;)
		if (m_free(z, i))
			return (int32_t)i;
	return -XEN_ENOSPC;
}

/* Xen's domain_emuirq_to_pirq(): the reverse map's key @emuirq. */
static int32_t m_reverse(const struct fz_dom *z, int32_t emuirq)
{
	if (emuirq == EMU_MSI)
		return z->msi_emu_pirq;
	CHECK(emuirq >= 0 && (uint32_t)emuirq < FZ_NR_GSIS);
	return z->gsi_pirq[emuirq];
}

/* Xen's map_domain_emuirq_pirq(): -EINVAL out of range; 0 otherwise,
 * with *refused when the PIRQ or the emuirq is mapped otherwise (Xen logs
 * "already mapped" and changes nothing). */
static long m_map(struct fz_dom *z, int32_t pirq, int32_t emuirq,
		  bool *refused)
{
	int32_t old_e, old_p;

	*refused = false;
	if (pirq < 0 || (uint32_t)pirq >= z->nr_pirqs)
		return -XEN_EINVAL;
	old_e = z->emuirq[pirq];
	old_p = m_reverse(z, emuirq);
	if ((old_e != EMU_UNBOUND && old_e != emuirq) ||
	    (old_p != -1 && old_p != pirq)) {
		*refused = true;
		return 0;
	}
	if (emuirq == EMU_MSI)
		z->msi_emu_pirq = pirq;
	else
		z->gsi_pirq[emuirq] = pirq;
	z->emuirq[pirq] = emuirq;
	return 0;
}

/* Xen's unmap_domain_pirq_emuirq() of a mapped PIRQ: the reverse key goes
 * too (whatever it names: in this model always @pirq), then
 * pirq_cleanup_check(). */
static void m_unmap(struct fz_dom *z, uint32_t pirq)
{
	int32_t old = z->emuirq[pirq];

	CHECK(old != EMU_UNBOUND);
	CHECK(m_reverse(z, old) == (int32_t)pirq);
	z->emuirq[pirq] = EMU_UNBOUND;
	if (old == EMU_MSI)
		z->msi_emu_pirq = -1;
	else
		z->gsi_pirq[old] = -1;
	z->pirq_empty[pirq] = false;
}

/* Xen's is_hvm_pv_evtchn_domain() (4.17): a vector callback, or an
 * upcall vector on vCPU 0. */
static bool m_pv_evtchn(const struct fz_dom *z)
{
	return z->callback_via >> 56 == HVM_PARAM_CALLBACK_TYPE_VECTOR ||
	       z->upcall_vector[0] != 0;
}

/* Whether vCPU @v's evtchn_upcall_pending is set (vCPUs from 32 up that
 * did not register: the library's private dummy). */
static bool m_upcall_pending(const struct fz_dom *z, uint32_t v)
{
	return z->vi[v] ? z->vi[v][0] & 1 : z->dummy_up[v];
}

/*
 * Xen's send_guest_pirq() of @pirq when @send (else nothing must happen),
 * predicted before the call: the port, if one is bound, made pending at
 * its vCPU, as EVTCHNOP_send's deliveries are predicted (FIFO on a copy of
 * the memory, 2-level by its bits).  With no delivery the whole memory,
 * shared_info and the upcalls must stay as they are.  Returns whether a
 * port was there.
 */
static bool pirq_expect(struct fz *f, int di, uint32_t pirq, bool send,
			struct fz_ev *ev)
{
	struct fz_dom *z = &f->dom[di];
	uint32_t port = 0, vcpu = 0;
	bool bound = send && pirq < z->nr_pirqs &&
		     pirq_port(f, di, pirq, &port, &vcpu);

	memset(ev, 0, sizeof(*ev));
	if (z->fifo) {
		sh_begin(f, z);
		if (bound)
			sim_set_pending(f, port, vcpu);
	} else if (bound) {
		ev_snap(z, port, vcpu, ev);
	} else {
		sh_begin(f, z);
	}
	return bound;
}

static void pirq_expect_check(struct fz *f, const struct fz_ev *ev)
{
	if (f->sh.z) {
		sh_check(f);
	} else {
		CHECK(ev->on);
		ev_check_event(ev, false);
	}
}

/* HVMOPs: HVM_PARAM_CALLBACK_IRQ and HVMOP_set_evtchn_upcall_vector
 * (src/upcall.c); every other HVMOP is the VMM's, -ENOSYS. */
static long fz_hvm_op(struct fz *f, int di, uint32_t vcpu,
		      const uint64_t a[6])
{
	struct fz_dom *z = &f->dom[di];
	uint64_t op = a[0], addr = a[1];
	unsigned long total = f->total_upcalls, cnt = 0;
	unsigned char before[16], after[16];
	size_t size = 16;
	bool copied = false, raise = false;
	uint32_t tv = 0;
	long exp, rc;

	if (op == HVMOP_set_param || op == HVMOP_get_param) {
		struct xen_hvm_param p;
		int t;

		_Static_assert(sizeof(p) == 16, "xen_hvm_param");
		if (!in_mem(addr, size)) {
			exp = -XEN_EFAULT;
		} else {
			memcpy(&p, z->mem + addr, size);
			t = dom_idx(f, di, p.domid);
			if (p.index != HVM_PARAM_CALLBACK_IRQ)
				exp = -XEN_ENOSYS; /* the VMM's parameters */
			else if (t < 0)
				exp = -XEN_ESRCH;
			else if (t != di && !z->privileged)
				exp = -XEN_EPERM;
			else
				exp = 0;
			if (t >= 0)
				touch(&f->dom[t]);
			if (exp == 0 && op == HVMOP_set_param) {
				/* upcall_cb: no line to move */
				f->dom[t].callback_via = p.value;
				f->dom[t].lasting = true;
				if (p.value >> 56 ==
				    HVM_PARAM_CALLBACK_TYPE_VECTOR)
					stats.callback_vectors++;
			} else if (exp == 0) {
				p.value = f->dom[t].callback_via;
				memcpy(after, &p, size);
				copied = true;
			}
		}
	} else if (op == HVMOP_set_evtchn_upcall_vector) {
		struct xen_hvm_evtchn_upcall_vector u;

		size = sizeof(u);
		if (!in_mem(addr, size)) {
			exp = -XEN_EFAULT;
		} else {
			memcpy(&u, z->mem + addr, size);
			if (u.vector < 0x10) {
				exp = -XEN_EINVAL;
			} else if (u.vcpu >= z->nr_vcpus) {
				exp = -XEN_ENOENT;
			} else {
				exp = 0;
				tv = u.vcpu;
				z->upcall_vector[tv] = u.vector;
				z->lasting = true;
				/* An upcall already pending is raised now
				 * (upcall_cb: no irq_cb).  Xen injects the
				 * vector even with none pending: a deliberate
				 * difference (docs/conformance.md). */
				raise = m_upcall_pending(z, tv);
				cnt = z->upcalls[tv];
				stats.upcall_vectors++;
			}
		}
	} else {
		exp = -XEN_ENOSYS;
		size = 0;
	}
	if (size && in_mem(addr, size))
		save(z, addr, before, size);
	rc = hcall(z, vcpu, __HYPERVISOR_hvm_op, a);
	if (trace || rc != exp)
		fprintf(stderr, "evtchn fuzz: dom%d vcpu %u hvm_op %#llx -> "
				"%ld (model %ld)\n", di, vcpu,
			(unsigned long long)op, rc, exp);
	CHECK(rc == exp);
	if (raise) {
		CHECK(z->upcalls[tv] == cnt + 1);
		CHECK(f->total_upcalls == total + 1);
		stats.upcall_vector_raised++;
	} else {
		CHECK(f->total_upcalls == total);
	}
	if (rc == -XEN_EFAULT)
		stats.efault++;
	if (size && in_mem(addr, size))
		CHECK(same(z, addr, copied ? after : before, size));
	return rc;
}

/*
 * Xen 4.17's PHYSDEVOPs of an HVM guest (hvm_physdev_op(), do_physdev_op()):
 * map_pirq of GSIs on itself with a vector callback, unmap_pirq, eoi (a
 * PCI GSI still high raises its PIRQ again), irq_status_query,
 * get_free_pirq; foreign domains as the library (no machine IRQs); every
 * other PHYSDEVOP -ENOSYS.
 */
static long fz_physdev_op(struct fz *f, int di, uint32_t vcpu,
			  const uint64_t a[6])
{
	struct fz_dom *z = &f->dom[di];
	int cmd = (int)a[0];
	uint64_t addr = a[1];
	unsigned long total = f->total_upcalls;
	unsigned char before[40], after[40];
	struct fz_ev ev = { .on = false };
	struct fz_dom *shz;
	size_t size = 0;
	bool copied = false, predict = false;
	long exp, rc;
	int32_t got = -1;

	stats.physdev_ops++;
	z->pirq_used = true;
	switch (cmd) {
	case PHYSDEVOP_map_pirq:
		size = is32(z) ? 36 : 40;
		break;
	case PHYSDEVOP_eoi:
		size = 4;
		break;
	case PHYSDEVOP_unmap_pirq:
	case PHYSDEVOP_irq_status_query:
	case PHYSDEVOP_get_free_pirq:
		size = 8;
		break;
	default:
		break;
	}
	if (!size || !z->has_pirq) {
		exp = -XEN_ENOSYS; /* before anything is read */
	} else if (!in_mem(addr, size)) {
		exp = -XEN_EFAULT;
	} else {
		switch (cmd) {
		case PHYSDEVOP_map_pirq: {
			struct physdev_map_pirq m;
			uint64_t tb;
			bool refused = false;
			int32_t p;

			memcpy(&m, z->mem + addr,
			       offsetof(struct physdev_map_pirq, entry_nr) + 4);
			memcpy(&tb, z->mem + addr + size - 8, 8);
			memcpy(after, z->mem + addr, size);
			if (m.type == MAP_PIRQ_TYPE_MSI_SEG) {
				m.type = MAP_PIRQ_TYPE_MSI;
			} else if (m.type == MAP_PIRQ_TYPE_MULTI_MSI && tb) {
				exp = -XEN_EINVAL; /* nothing copied back */
				break;
			}
			copied = true;
			if (m.domid != DOMID_SELF) {
				if (m.domid >= NDOM || !f->dom[m.domid].d)
					exp = -XEN_ESRCH;
				else if (!z->privileged)
					exp = -XEN_EPERM;
				else
					exp = -XEN_EINVAL; /* no machine IRQ */
			} else if (!m_pv_evtchn(z)) {
				exp = -XEN_EINVAL; /* Xen's deadlock guard */
			} else if (m.type != MAP_PIRQ_TYPE_GSI) {
				exp = -XEN_EINVAL; /* "not supported yet" */
			} else if (m.index < 0 ||
				   (uint32_t)m.index >= FZ_NR_GSIS) {
				exp = -XEN_EINVAL;
			} else {
				/* Any negative pirq asks for one; -ENOSPC
				 * goes into the field and the map refuses. */
				p = m.pirq < 0 ? m_get_free(z, m.type)
					       : m.pirq;
				exp = m_map(z, p, m.index, &refused);
				if (m.pirq < 0 && p >= 0 && refused)
					z->pirq_empty[p] = true;
				if (p == -XEN_ENOSPC)
					stats.pirq_map_enospc++;
				else if (refused)
					stats.pirq_map_refused++;
				else if (exp == 0)
					stats.pirq_maps++;
				m.pirq = p;
			}
			memcpy(after + offsetof(struct physdev_map_pirq, type),
			       &m.type, sizeof(m.type));
			memcpy(after + offsetof(struct physdev_map_pirq, pirq),
			       &m.pirq, sizeof(m.pirq));
			break;
		}
		case PHYSDEVOP_unmap_pirq: {
			struct physdev_unmap_pirq u;
			struct fz_dom *zt = z;

			memcpy(&u, z->mem + addr, sizeof(u));
			if (u.domid != DOMID_SELF) {
				if (u.domid >= NDOM || !f->dom[u.domid].d) {
					exp = -XEN_ESRCH;
					break;
				}
				if (!z->privileged) {
					exp = -XEN_EPERM;
					break;
				}
				zt = &f->dom[u.domid];
				touch(zt);
				zt->pirq_used = true;
			}
			/* Not mapped (out of range too): nothing, 0. */
			if (zt->has_pirq && m_emuirq(zt, u.pirq) != EMU_UNBOUND) {
				zt->lasting = true;
				m_unmap(zt, (uint32_t)u.pirq);
				stats.pirq_unmaps++;
			}
			/* Another domain (even naming itself by number): then
			 * the machine IRQ, which is not there. */
			exp = u.domid == DOMID_SELF ? 0 : -XEN_EINVAL;
			break;
		}
		case PHYSDEVOP_eoi: {
			uint32_t irq = ld32(z->mem + addr);
			int32_t gsi;

			if (irq >= z->nr_pirqs ||
			    !m_entry_checked(f, di, irq)) {
				exp = -XEN_EINVAL;
				break;
			}
			exp = 0;
			/* A PCI GSI (ISA IRQs are edge) still asserted. */
			gsi = z->emuirq[irq];
			predict = true;
			if (pirq_expect(f, di, irq,
					gsi >= 16 && (z->gsi_level >> gsi & 1),
					&ev))
				stats.pirq_eoi_raised++;
			stats.pirq_eoi_ok++;
			break;
		}
		case PHYSDEVOP_irq_status_query: {
			struct physdev_irq_status_query q;

			memcpy(&q, z->mem + addr, sizeof(q));
			if ((int32_t)q.irq < 0 || q.irq >= z->nr_pirqs ||
			    z->emuirq[q.irq] == EMU_UNBOUND) {
				exp = -XEN_EINVAL;
				break;
			}
			exp = 0;
			/* needs_eoi always, never shared */
			q.flags = XENIRQSTAT_needs_eoi;
			memcpy(after, &q, sizeof(q));
			copied = true;
			stats.pirq_status_ok++;
			break;
		}
		case PHYSDEVOP_get_free_pirq: {
			struct physdev_get_free_pirq g;

			memcpy(&g, z->mem + addr, sizeof(g));
			got = m_get_free(z, g.type);
			if (got < 0) {
				exp = -XEN_ENOSPC; /* nothing copied back */
				stats.pirq_free_enospc++;
				break;
			}
			exp = 0;
			g.pirq = (uint32_t)got;
			memcpy(after, &g, sizeof(g));
			copied = true;
			z->pirq_alloc[got] = true; /* for good */
			stats.pirq_free++;
			break;
		}
		default:
			CHECK(0);
		}
	}
	if (size && in_mem(addr, size))
		save(z, addr, before, size);
	shz = f->sh.z;
	rc = hcall(z, vcpu, __HYPERVISOR_physdev_op, a);
	if (trace || rc != exp)
		fprintf(stderr, "evtchn fuzz: dom%d vcpu %u physdev_op %d -> "
				"%ld (model %ld)\n", di, vcpu, cmd, rc, exp);
	CHECK(rc == exp);
	if (rc == 0)
		z->lasting = true; /* PIRQ state */
	if (predict)
		pirq_expect_check(f, &ev); /* memory too, for FIFO */
	else
		CHECK(f->total_upcalls == total);
	if (rc == -XEN_EFAULT)
		stats.efault++;
	/* Nothing changes the argument but the copy-back, and the event an
	 * EOI raises again where the argument lies in what it writes: the
	 * FIFO memory the prediction covers (sh_check() compared all of it,
	 * argument included) or the vcpu_info it marks (ev_check_event()
	 * compared those bits). */
	if (size && in_mem(addr, size) && shz != z &&
	    !(ev.on && ev.have_vi &&
	      overlaps(z->mem + addr, size, z->vi[ev.vcpu], VCPU_INFO_SIZE)))
		CHECK(same(z, addr, copied ? after : before, size));
	return rc;
}

/* Any hypercall from vCPU @vcpu of domain @di, checked. */
static long fz_hypercall(struct fz *f, int di, uint32_t vcpu, uint64_t nr,
			 const uint64_t a[6])
{
	struct fz_dom *z = &f->dom[di];
	unsigned long total = f->total_upcalls;
	long rc;

	if (nr == __HYPERVISOR_event_channel_op)
		return fz_evtchn_op(f, di, vcpu, a);
	if (nr == __HYPERVISOR_vcpu_op)
		return fz_vcpu_op(f, di, vcpu, a);
	if (nr == __HYPERVISOR_physdev_op && vcpu < z->nr_vcpus)
		return fz_physdev_op(f, di, vcpu, a);
	if (nr == __HYPERVISOR_hvm_op && vcpu < z->nr_vcpus)
		return fz_hvm_op(f, di, vcpu, a);
	rc = hcall(z, vcpu, nr, a);
	CHECK(rc == (vcpu >= z->nr_vcpus ? -XEN_EINVAL : -XEN_ENOSYS));
	CHECK(f->total_upcalls == total);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The reference guest consumer */

/* Hypercall @nr (@cmd, @arg) from @z's vCPU @vcpu with @arg where the
 * guest keeps its hypercall arguments, checked. */
static long fz_call_at(struct fz_dom *z, uint32_t vcpu, uint64_t nr,
		       int64_t cmd, void *arg, size_t len)
{
	uint64_t a[6] = { (uint64_t)cmd, SCRATCH_GUEST, 0, 0, 0, 0 };
	long rc;

	CHECK(len <= 64);
	memcpy(z->mem + SCRATCH_GUEST, arg, len);
	mem_dirty(z, SCRATCH_GUEST, len);
	rc = fz_hypercall(z->f, z->idx, vcpu, nr, a);
	memcpy(arg, z->mem + SCRATCH_GUEST, len);
	return rc;
}

/* EVTCHNOP @cmd, the same way. */
static long fz_op_at(struct fz_dom *z, uint32_t vcpu, int cmd, void *arg,
		     size_t len)
{
	return fz_call_at(z, vcpu, __HYPERVISOR_event_channel_op, cmd, arg,
			  len);
}

#if FZ_HAVE_GUEST
static long fz_guest_op(void *ctx, uint32_t vcpu, int cmd, void *arg,
			size_t len)
{
	return fz_op_at(ctx, vcpu, cmd, arg, len);
}

struct fz_upcall_ctx {
	struct fz_dom *z;
	uint32_t vcpu;
};

static void fz_guest_event(uint32_t vcpu, uint32_t port, void *opaque)
{
	struct fz_upcall_ctx *c = opaque;

	CHECK(vcpu == c->vcpu);
	CHECK(port < (c->z->g.fifo ? EVTCHN_FIFO_NR_CHANNELS
				   : evtchn_guest_nr_ports(&c->z->g)));
	/* Acked (pending cleared) before it is handled. */
	CHECK(!evtchn_guest_is_pending(&c->z->g, port));
	stats.guest_events++;
	if (c->z->g.fifo)
		stats.fifo_guest_events++;
}
#endif

/* ------------------------------------------------------------------ */
/* Domains */

/* The model of a fresh domain @di: config as given, nothing bound; the
 * library's domain and the guest memory (zero) are kept. */
static void model_fresh(struct fz *f, int di, uint32_t cfg_max,
			unsigned pcfg)
{
	/* What every fresh model of slot @di starts from. */
	static struct fz_dom tpl[NDOM];
	static bool tpl_ok[NDOM];
	struct fz_dom *z = &f->dom[di];
	unsigned char *mem = z->mem;
	struct evtchn_domain *d = z->d;

	CHECK(!z->dirty);
	free(z->pm);
	if (!tpl_ok[di]) {
		struct fz_dom *t = &tpl[di];

		memset(t, 0, sizeof(*t));
		t->idx = di;
		t->reg_vcpu = -1;
		t->nr_vcpus = fz_nr_vcpus[di];
		t->privileged = di == 0;
		for (uint32_t i = 0; i < FZ_PIRQ_MAX; i++)
			t->emuirq[i] = EMU_UNBOUND;
		for (uint32_t i = 0; i < FZ_NR_GSIS; i++)
			t->gsi_pirq[i] = -1;
		t->msi_emu_pirq = -1;
		tpl_ok[di] = true;
	}
	*z = tpl[di];
	z->f = f;
	z->d = d;
	z->mem = mem;
	z->cfg_max = cfg_max;
	z->pcfg = pcfg;
	CHECK(pcfg < 4);
	z->has_pirq = !fz_pcfg[pcfg].none;
	z->nr_pirqs = fz_pcfg[pcfg].nr_pirqs;
	z->nr_irqs_gsi = fz_pcfg[pcfg].nr_irqs_gsi;
	CHECK(z->nr_pirqs <= FZ_PIRQ_MAX);
	m_fresh(f, di);
}

static uint32_t cfg_max_of(uint8_t maxsel)
{
	return maxsel < 128 ? 0 : fz_max_ports[(maxsel - 128) % 16];
}

/* The domain as a fresh one looks: checked at creation, and at the end of
 * an input that leaves it for the next one (recycle()). */
static void dom_looks_fresh(struct fz *f, int di)
{
	struct fz_dom *z = &f->dom[di];
	static const unsigned char zero[EVTCHN_PAGE_SIZE];
	unsigned char *page = si(z);

	CHECK(evtchn_host_domain(f->h, (uint16_t)di) == z->d);
	CHECK(evtchn_domain_id(z->d) == di);
	CHECK(evtchn_domain_nr_vcpus(z->d) == z->nr_vcpus);
	CHECK(page && ((uintptr_t)page & (EVTCHN_PAGE_SIZE - 1)) == 0);
	CHECK(memcmp(page, zero, EVTCHN_PAGE_SIZE) == 0);
}

/* Domain @di as the input starts it (layout @l32, max_evtchn_port from
 * @maxsel, PIRQ configuration @pcfg): the one the last input left when
 * it has that configuration (recycle()), else a new one. */
static void dom_create(struct fz *f, int di, bool l32, uint8_t maxsel,
		       unsigned pcfg)
{
	struct fz_dom *z = &f->dom[di];
	struct evtchn_domain_config cfg;
	enum evtchn_layout layout = l32 ? EVTCHN_LAYOUT_32 : EVTCHN_LAYOUT_64;
	uint32_t cfg_max = cfg_max_of(maxsel);
	unsigned char *page;
	int rc;

#if FZ_HAVE_GUEST
	struct evtchn_guest g = z->g;
	bool g_ok = z->g_ok, g_fresh = z->g_fresh;
#endif

	if (z->d && fresh_only) {
		/* (only a domain nothing was done to) */
		CHECK(evtchn_domain_destroy(z->d) == 0);
		z->d = NULL;
	}
	model_fresh(f, di, cfg_max, pcfg);
	if (!z->d) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.domid = (uint16_t)di;
		cfg.nr_vcpus = z->nr_vcpus;
		cfg.max_evtchn_port = z->cfg_max;
		cfg.layout = layout;
		cfg.privileged = z->privileged;
		cfg.mem.map_cb = fz_map;
		cfg.mem.opaque = z;
		cfg.upcall_cb = fz_upcall;
		cfg.opaque = z;
		cfg.nr_pirqs = fz_pcfg[pcfg].cfg_pirqs;
		cfg.nr_irqs_gsi = fz_pcfg[pcfg].cfg_gsi;
		cfg.no_pirqs = fz_pcfg[pcfg].none;
		rc = evtchn_domain_create(f->h, &cfg, &z->d);
		CHECK(rc == 0);
		CHECK(evtchn_domain_layout(z->d) == layout);
		dom_looks_fresh(f, di);
	} else {
		stats.reused++;
		/* What the guest latches first (a fresh domain's layout is
		 * the configuration's until then). */
		if (evtchn_domain_layout(z->d) != layout)
			CHECK(evtchn_domain_set_layout(z->d, layout) == 0);
	}
	page = si(z);
	for (uint32_t v = 0; v < z->nr_vcpus && v < 32; v++)
		z->vi[v] = page + v * VCPU_INFO_SIZE;
#if FZ_HAVE_GUEST
	/* The consumer as made new, its arrays kept. */
	z->g = g;
	z->g_ok = g_ok;
	if (!z->g_ok)
		CHECK(evtchn_guest_init(&z->g, page, l32, z->nr_vcpus,
					fz_guest_op, z) == 0);
	else if (!g_fresh || z->g.shared_info != page || z->g.compat != l32)
		CHECK(evtchn_guest_reset(&z->g, page, l32) == 0);
	z->g_ok = z->g_fresh = true;
#endif
}

/* Destroy domain @di: peers in other domains become unbound for it, as in
 * Xen (compared with the library at once). */
static void dom_destroy(struct fz *f, int di)
{
	struct fz_dom *z = &f->dom[di];
	struct fz_scan *s = &f->scan[di];

	for (uint32_t p = 1; p < s->end; p++) {
		const struct evtchn_status *st = &s->st[p];
		int o = st->u.interdomain.dom;

		if (st->status == EVTCHNSTAT_interdomain && o != di)
			m_peer_unbound(f, o, st->u.interdomain.port, di);
	}
	CHECK(evtchn_domain_destroy(z->d) == 0);
	z->d = NULL;
	CHECK(evtchn_host_domain(f->h, (uint16_t)di) == NULL);
	memset(&f->dirty[di], 0, sizeof(f->dirty[di]));
	fz_flush(f);
	/* (the consumer is kept for the slot's next domain) */
	free(z->pm);
	z->pm = NULL;
	z->pm_n = 0;
	z->fifo = false;
	s->end = 0;
	s->bound = 0;
}

/* Zero what may not be zero of @di's guest memory (after the domain is
 * gone or holds no page of it). */
static void mem_clean(struct fz_dom *z)
{
	for (uint32_t pg = 0; pg < FZ_MEM_PAGES; pg++)
		if (z->dirty >> pg & 1)
			memset(z->mem + pg * EVTCHN_PAGE_SIZE, 0,
			       EVTCHN_PAGE_SIZE);
	z->dirty = 0;
}

/* ------------------------------------------------------------------ */
/* The whole port table */

/*
 * The model's PIRQ state of @di against itself and the library: the
 * reverse map and the emuirqs agree; every GSI routes to its PIRQ or not
 * (evtchn_gsi_set() with the level it has: no edge, nothing raised); with
 * @deep, irq_status_query of every PIRQ (and two beyond) answers whether
 * it is mapped.
 */
static void check_pirqs(struct fz *f, int di, bool deep)
{
	struct fz_dom *z = &f->dom[di];
	unsigned long total = f->total_upcalls;

	for (uint32_t p = 0; p < z->nr_pirqs; p++) {
		int32_t e = z->emuirq[p];

		CHECK(e == EMU_UNBOUND || e == EMU_MSI ||
		      (e >= 0 && (uint32_t)e < FZ_NR_GSIS));
		if (e != EMU_UNBOUND)
			CHECK(m_reverse(z, e) == (int32_t)p);
	}
	if (z->msi_emu_pirq >= 0)
		CHECK(m_emuirq(z, z->msi_emu_pirq) == EMU_MSI);
	for (uint32_t g = 0; g < FZ_NR_GSIS; g++) {
		int32_t p = z->gsi_pirq[g];

		if (p >= 0)
			CHECK(m_emuirq(z, p) == (int32_t)g);
		CHECK(evtchn_gsi_set(z->d, g, z->gsi_level >> g & 1) ==
		      (p >= 0));
	}
	CHECK(f->total_upcalls == total);
	if (!deep || !z->has_pirq)
		return;
	for (uint32_t p = 0; p < z->nr_pirqs + 2; p++) {
		struct physdev_irq_status_query q = { .irq = p,
						      .flags = 0xdead };
		uint64_t a[6] = { PHYSDEVOP_irq_status_query, SCRATCH_STATUS,
				  0, 0, 0, 0 };
		unsigned char keep[sizeof(q)];
		long rc;

		/* Looked at without touching: the guest's bytes go back. */
		memcpy(keep, z->mem + SCRATCH_STATUS, sizeof(keep));
		memcpy(z->mem + SCRATCH_STATUS, &q, sizeof(q));
		mem_dirty(z, SCRATCH_STATUS, sizeof(q));
		rc = hcall_look(z, 0, __HYPERVISOR_physdev_op, a);
		memcpy(&q, z->mem + SCRATCH_STATUS, sizeof(q));
		memcpy(z->mem + SCRATCH_STATUS, keep, sizeof(keep));
		if (m_emuirq(z, p) == EMU_UNBOUND) {
			CHECK(rc == -XEN_EINVAL);
			CHECK(q.flags == 0xdead);
		} else {
			CHECK(rc == 0);
			CHECK(q.irq == p && q.flags == XENIRQSTAT_needs_eoi);
		}
	}
	CHECK(f->total_upcalls == total);
}

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

static FILE *dump_out(void)
{
	static FILE *out;

	if (!out) {
		cookie_io_functions_t io = { .write = dump_write };

		out = fopencookie(NULL, "w", io);
		CHECK(out);
	}
	return out;
}

/* Text without printf: a dump is compared line by line on every table
 * check. */
static char *put_s(char *p, const char *str)
{
	while (*str)
		*p++ = *str++;
	return p;
}

static char *put_u(char *p, uint32_t v, int width)
{
	char t[12];
	int n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (width-- > n)
		*p++ = ' ';
	while (n)
		*p++ = t[--n];
	return p;
}

/* A port as the model says evtchn_domain_dump() lists it (src/dump.c:
 * "  %6u [%d/%d] %-11s vcpu %u", the binding, FIFO's " prio %u" and
 * " linked", a newline). */
static size_t dump_line(struct fz *f, int di, uint32_t port, char *buf)
{
	static const char *const name[] = {
		[EVTCHNSTAT_unbound] = "unbound",
		[EVTCHNSTAT_interdomain] = "interdomain",
		[EVTCHNSTAT_pirq] = "pirq",
		[EVTCHNSTAT_virq] = "virq",
		[EVTCHNSTAT_ipi] = "ipi",
	};
	struct fz_dom *z = &f->dom[di];
	struct fz_scan *s = &f->scan[di];
	const struct evtchn_status *st = &s->st[port];
	const char *n = port ? name[st->status] : "reserved";
	const unsigned char *w = fifo_word(z, port);
	bool pend, mask;
	char *p = buf;

	if (z->fifo) {
		pend = w && (ld32(w) & W_PENDING);
		mask = !w || (ld32(w) & W_MASKED);
	} else {
		pend = port < layout_ports(z) && bit_get(pending_map(z), port);
		mask = port >= layout_ports(z) || bit_get(mask_map(z), port);
	}
	p = put_s(p, "  ");
	p = put_u(p, port, 6);
	p = put_s(p, pend ? " [1/" : " [0/");
	p = put_s(p, mask ? "1] " : "0] ");
	p = put_s(p, n);
	for (size_t i = strlen(n); i < 11; i++)
		*p++ = ' ';
	p = put_s(p, " vcpu ");
	p = put_u(p, st->vcpu, 0);
	switch (st->status) {
	case EVTCHNSTAT_unbound:
		p = put_s(p, " for dom ");
		p = put_u(p, st->u.unbound.dom, 0);
		if (s->settling[port])
			p = put_s(p, " (settling)");
		break;
	case EVTCHNSTAT_interdomain:
		p = put_s(p, " dom ");
		p = put_u(p, st->u.interdomain.dom, 0);
		p = put_s(p, " port ");
		p = put_u(p, st->u.interdomain.port, 0);
		break;
	case EVTCHNSTAT_virq:
		p = put_s(p, " virq ");
		p = put_u(p, st->u.virq, 0);
		break;
	case EVTCHNSTAT_pirq: {
		int32_t e = m_emuirq(z, st->u.pirq);

		p = put_s(p, " pirq ");
		p = put_u(p, st->u.pirq, 0);
		if (e >= 0) {
			p = put_s(p, " gsi ");
			p = put_u(p, (uint32_t)e, 0);
		} else if (e == EMU_MSI) {
			p = put_s(p, " msi");
		}
		break;
	}
	default:
		break;
	}
	if (z->fifo) {
		p = put_s(p, " prio ");
		p = put_u(p, pm(z, port)->prio, 0);
		if (w && (ld32(w) & W_LINKED))
			p = put_s(p, " linked");
	}
	*p++ = '\n';
	return (size_t)(p - buf);
}

/*
 * The library's whole port table of @di, as evtchn_domain_dump() lists it
 * (port 0 and every port that is not free: state, notify vCPU, binding,
 * pending and masked, and with FIFO the priority and LINKED; the ABI, the
 * layout, the vCPUs and how many ports are valid), must be the model's,
 * line for line: every port the model has bound is bound so, no other
 * port is bound, the valid ports end where the model says.  One call, not
 * one hypercall a port; only a closed port's notify vCPU is not in it.
 */
static void verify_dump(struct fz *f, int di)
{
	struct fz_dom *z = &f->dom[di];
	struct fz_scan *s = scan(f, di);
	FILE *out = dump_out();
	char want[256];
	size_t at;
	int n;

	dump_text.len = 0;
	n = evtchn_domain_dump(z->d, out);
	CHECK(fflush(out) == 0);
	CHECK(n == (int)s->bound + 1);
	CHECK(dump_text.buf);
	dump_text.buf[dump_text.len] = 0;
	at = (size_t)snprintf(want, sizeof(want),
			      "Event channel information for domain %d (%s "
			      "ABI, %s layout, %u vCPUs, %u ports valid):\n",
			      di, z->fifo ? "FIFO" : "2-level",
			      is32(z) ? "32-bit" : "64-bit", z->nr_vcpus,
			      s->end);
	CHECK(at < sizeof(want));
	if (strncmp(dump_text.buf, want, at)) {
		fprintf(stderr, "evtchn fuzz: dump of dom%d begins %.*s, the "
				"model says %s", di, (int)at, dump_text.buf,
			want);
		CHECK(!"the dump's header as the model says");
	}
	for (uint32_t p = 0; p < s->end; p++) {
		size_t len;

		if (p && s->st[p].status == EVTCHNSTAT_closed)
			continue;
		len = dump_line(f, di, p, want);
		if (at + len > dump_text.len ||
		    memcmp(dump_text.buf + at, want, len)) {
			fprintf(stderr, "evtchn fuzz: dump of dom%d: %.*s"
					"the model says %s", di,
				(int)strcspn(dump_text.buf + at, "\n") + 1,
				dump_text.buf + at, want);
			CHECK(!"the dump's line as the model says");
		}
		at += len;
	}
	CHECK(at == dump_text.len);
}

/*
 * The library's port table of @di against the model.
 * CHK_TABLE: nothing more in a test build of the library, where each
 *   operation is followed by a look at every port the library changed
 *   (verify_changed()); else as CHK_WHOLE.
 * CHK_WHOLE: every valid port (verify_table(): status, notify vCPU,
 *   binding, a closed port's notify vCPU too; the end through
 *   EVTCHNOP_status) and, up to a few buckets, the dump (verify_dump():
 *   pending, masked, closing, settling, FIFO priority and LINKED too;
 *   beyond that its text costs more than the rest of an input).
 * CHK_DEEP: the same, the dump whatever the size.
 */
static void check_ports(struct fz *f, int di, int how)
{
	struct fz_scan *s = scan(f, di);

	if (how != CHK_TABLE || !evtchn_test_changed)
		verify_table(f, di);
	if (how == CHK_DEEP || (how == CHK_WHOLE && s->end <= 4 * BUCKET))
		verify_dump(f, di);
}

/*
 * Domain @di's table checked whole: the model against itself (interdomain
 * peers point back, port 0 is reserved, vCPUs exist, VIRQs and PIRQs are
 * bound once, the valid ports are the buckets allocation reached), the
 * library against the model (check_ports(), @deep), its PIRQ state (when
 * a PIRQ call reached it, or @deep; every PIRQ's with @deep_pirqs), and
 * every bound VIRQ delivered.
 */
static void check_tables(struct fz *f, int di, int how, bool deep_pirqs)
{
	bool deep = how == CHK_DEEP;
	struct fz_dom *z = &f->dom[di];
	bool seen_global[NR_VIRQS] = { false };
	static bool seen_vcpu[NR_VIRQS][MAX_VCPUS];
	static bool seen_pirq[FZ_PIRQ_MAX];
	struct fz_scan *s = scan(f, di);
	uint32_t max, lim;

	stats.checks++;
	z->touched_check = false;
	/* Storage only up to the highest port ever allocatable. */
	max = z->cfg_max ? z->cfg_max : STORAGE_MAX_PORT;
	lim = (max + 1 + BUCKET - 1) / BUCKET * BUCKET;
	CHECK(s->end <= (lim > BUCKET ? lim : BUCKET));
	CHECK(z->hiwater <= max);
	CHECK(s->end == (z->hiwater / BUCKET + 1) * BUCKET);
	/* Port 0 is reserved: closed, vCPU 0. */
	CHECK(s->st[0].status == EVTCHNSTAT_closed);
	CHECK(s->st[0].vcpu == 0);
	memset(seen_vcpu, 0, sizeof(seen_vcpu));
	memset(seen_pirq, 0, sizeof(seen_pirq));
	for (uint32_t p = 0; p < s->end; p++) {
		const struct evtchn_status *st = &s->st[p];

		CHECK(st->vcpu < z->nr_vcpus);
		switch (st->status) {
		case EVTCHNSTAT_closed:
		case EVTCHNSTAT_unbound:
		case EVTCHNSTAT_ipi:
			break;
		case EVTCHNSTAT_interdomain: {
			int t = st->u.interdomain.dom;
			uint32_t rp = st->u.interdomain.port;
			struct fz_scan *ts;

			CHECK(t < NDOM && f->dom[t].d);
			ts = scan(f, t);
			CHECK(rp < ts->end);
			CHECK(ts->st[rp].status == EVTCHNSTAT_interdomain);
			CHECK(ts->st[rp].u.interdomain.dom == di);
			CHECK(ts->st[rp].u.interdomain.port == p);
			CHECK(t != di || rp != p);
			break;
		}
		case EVTCHNSTAT_virq:
			CHECK(st->u.virq < NR_VIRQS);
			if (virq_global(st->u.virq)) {
				CHECK(!seen_global[st->u.virq]);
				seen_global[st->u.virq] = true;
			} else {
				CHECK(!seen_vcpu[st->u.virq][st->vcpu]);
				seen_vcpu[st->u.virq][st->vcpu] = true;
			}
			break;
		case EVTCHNSTAT_pirq:
			/* One port a PIRQ, below nr_pirqs. */
			CHECK(st->u.pirq < z->nr_pirqs);
			CHECK(!seen_pirq[st->u.pirq]);
			seen_pirq[st->u.pirq] = true;
			break;
		default:
			CHECK(0);
		}
	}
	check_ports(f, di, how);
	if (deep || deep_pirqs || z->pirq_used)
		check_pirqs(f, di, deep || deep_pirqs);
	/* Every bound VIRQ reaches its port. */
	for (uint32_t p = 1; p < s->end; p++) {
		const struct evtchn_status *st = &s->st[p];
		struct fz_ev e;

		if (st->status != EVTCHNSTAT_virq)
			continue;
		touch(z);
		if (z->fifo) {
			unsigned char *w = fifo_word(z, p);

			if (w) { /* the guest acks */
				st32(w, ld32(w) & ~W_PENDING);
				mem_dirty_ptr(z, w, 4);
			}
			sh_begin(f, z);
			sim_set_pending(f, p, st->vcpu);
			CHECK(evtchn_send_virq(z->d,
					       virq_global(st->u.virq)
						       ? 0
						       : st->vcpu,
					       st->u.virq) == 0);
			sh_check(f);
			continue;
		}
		if (p >= layout_ports(z))
			continue;
		bit_put(pending_map(z), p, false); /* the guest acks */
		ev_snap(z, p, st->vcpu, &e);
		CHECK(evtchn_send_virq(z->d,
				       virq_global(st->u.virq) ? 0 : st->vcpu,
				       st->u.virq) == 0);
		ev_check_event(&e, false);
	}
	/* Nothing to do again at the input's end until something changes
	 * (the deliveries above change no binding). */
	z->touched_check = false;
	z->verified = how != CHK_TABLE && (deep_pirqs || !z->pirq_used);
}

/* The tables of the domains a library call may have changed: since the
 * input began (@deep: port by port), or since their last check.  The
 * others are as the input found them: fresh. */
static void check_all(struct fz *f, bool deep)
{
	fz_flush(f);
	for (int di = 0; di < NDOM; di++) {
		struct fz_dom *z = &f->dom[di];

		CHECK(evtchn_host_domain(f->h, (uint16_t)di) == z->d);
		if (z->d && (deep ? z->touched : z->touched_check))
			check_tables(f, di, deep ? CHK_DEEP : CHK_TABLE, deep);
	}
}

/* ------------------------------------------------------------------ */
/* Operations */

static void op_evtchn(struct fz *f)
{
	static const uint64_t special_cmd[16] = {
		15,
		16,
		UINT64_MAX,
		0x80000000u,
		0x7FFFFFFFu,
		0x100000000ull | EVTCHNOP_close,
		0x100000000ull | EVTCHNOP_bind_interdomain,
		0xFFFFFFFF00000000ull | EVTCHNOP_status,
		0xFFFFFFFFu,
		100,
		EVTCHNOP_reset_cont,
		EVTCHNOP_init_control,
		EVTCHNOP_expand_array,
		EVTCHNOP_set_priority,
		EVTCHNOP_bind_pirq,
		0,
	};
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint32_t vcpu;
	uint8_t cb;
	uint64_t a[6] = { 0 };
	union fz_arg arg;
	size_t len;
	int cmd;

	if (!z->d)
		return;
	vcpu = rd_vcpu(f, z);
	cb = in8(f);
	a[0] = cb < 240 ? cb % 15 : special_cmd[cb - 240];
	if (cb == 255)
		a[0] = in64(f);
	a[1] = rd_addr(f);
	cmd = (int)a[0];
	memset(&arg, 0, sizeof(arg));
	if (in8(f) >= 224) {
		in_bytes(f, arg.raw, 24);
		len = 24;
	} else {
		len = op_size(cmd);
		switch (cmd) {
		case EVTCHNOP_bind_interdomain:
			arg.bind_interdomain.remote_dom = rd_domid(f);
			arg.bind_interdomain.remote_port = rd_port(f);
			arg.bind_interdomain.local_port = in8(f);
			break;
		case EVTCHNOP_bind_virq:
			arg.bind_virq.virq = rd_virq(f);
			arg.bind_virq.vcpu = rd_tvcpu(f);
			arg.bind_virq.port = in8(f);
			break;
		case EVTCHNOP_bind_pirq:
			arg.bind_pirq.pirq = rd_port(f);
			arg.bind_pirq.flags = in8(f) & 1;
			break;
		case EVTCHNOP_close:
			arg.close.port = rd_port(f);
			break;
		case EVTCHNOP_send:
			arg.send.port = rd_port(f);
			break;
		case EVTCHNOP_status:
			arg.status.dom = rd_domid(f);
			arg.status.port = rd_port(f);
			arg.status.status = in8(f);
			memset(&arg.status.u, in8(f), sizeof(arg.status.u));
			break;
		case EVTCHNOP_alloc_unbound:
			arg.alloc_unbound.dom = rd_domid(f);
			arg.alloc_unbound.remote_dom = rd_domid(f);
			break;
		case EVTCHNOP_bind_ipi:
			arg.bind_ipi.vcpu = rd_tvcpu(f);
			break;
		case EVTCHNOP_bind_vcpu:
			arg.bind_vcpu.port = rd_port(f);
			arg.bind_vcpu.vcpu = rd_tvcpu(f);
			break;
		case EVTCHNOP_unmask:
			arg.unmask.port = rd_port(f);
			break;
		case EVTCHNOP_reset:
		case EVTCHNOP_reset_cont:
			arg.reset.dom = rd_domid(f);
			break;
		case EVTCHNOP_init_control:
			arg.init_control.control_gfn = rd_gfn(f);
			arg.init_control.offset = rd_cboff(f);
			arg.init_control.vcpu = rd_tvcpu(f);
			arg.init_control.link_bits = in8(f);
			break;
		case EVTCHNOP_expand_array:
			arg.expand_array.array_gfn = rd_gfn(f);
			break;
		case EVTCHNOP_set_priority:
			arg.set_priority.port = rd_port(f);
			arg.set_priority.priority = rd_prio(f);
			break;
		default:
			in_bytes(f, arg.raw, 8);
			len = 8;
			break;
		}
	}
	put(z, a[1], &arg, len);
	fz_hypercall(f, di, vcpu, __HYPERVISOR_event_channel_op, a);
}

/* alloc_unbound in A for B, then B binds to it. */
static void op_connect(struct fz *f)
{
	uint8_t b = in8(f);
	int A = b % 3, B = b / 3 % 3, via0 = b / 9 & 1, self = b / 18 & 1;
	uint64_t addr_a = rd_addr(f), addr_b = rd_addr(f);
	int caller = via0 ? 0 : A;
	struct evtchn_alloc_unbound al = { 0 };
	struct evtchn_bind_interdomain bi = { 0 };
	uint64_t a[6] = { EVTCHNOP_alloc_unbound, addr_a, 0, 0, 0, 0 };

	if (!f->dom[A].d || !f->dom[B].d)
		return;
	al.dom = via0 ? (domid_t)A : DOMID_SELF;
	al.remote_dom = (self && caller == B) ? DOMID_SELF : (domid_t)B;
	put(&f->dom[caller], addr_a, &al, sizeof(al));
	if (fz_hypercall(f, caller, 0, __HYPERVISOR_event_channel_op, a))
		return;
	memcpy(&al, f->dom[caller].mem + addr_a, sizeof(al));
	bi.remote_dom = (self && A == B) ? DOMID_SELF : (domid_t)A;
	bi.remote_port = al.port;
	put(&f->dom[B], addr_b, &bi, sizeof(bi));
	a[0] = EVTCHNOP_bind_interdomain;
	a[1] = addr_b;
	fz_hypercall(f, B, 0, __HYPERVISOR_event_channel_op, a);
}

static void op_register(struct fz *f)
{
	static const uint64_t special_gfn[] = { 16, 17, 0xFFFFF, 1ull << 40,
						UINT64_MAX };
	static const uint32_t special_off[] = { 4096, 4095, UINT32_MAX, 4033 };
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	struct vcpu_register_vcpu_info info = { 0 };
	uint64_t a[6] = { VCPUOP_register_vcpu_info, 0, 0, 0, 0, 0 };
	uint32_t vcpu;
	uint8_t b;

	if (!z->d)
		return;
	vcpu = rd_vcpu(f, z);
	b = in8(f);
	if (b < 160)
		a[1] = b % z->nr_vcpus;
	else if (b < 220)
		a[1] = 30 + b % 12;
	else
		a[1] = b == 255 ? in32(f) : 0xFFFFFFFFu - b % 2;
	b = in8(f);
	info.mfn = b < 220 ? b % FZ_MEM_PAGES : special_gfn[b % 5];
	b = in8(f);
	if (b < 96)
		info.offset = (b % 64) * 64u;
	else if (b < 128)
		info.offset = EVTCHN_PAGE_SIZE - VCPU_INFO_SIZE; /* last */
	else if (b < 160)
		info.offset = EVTCHN_PAGE_SIZE - VCPU_INFO_SIZE + 4 + b % 8 * 4;
	else if (b < 192)
		info.offset = (b % 63) * 64u + 4; /* 32-bit aligned only */
	else if (b < 216)
		info.offset = (b % 63) * 64u + 1 + b % 3;
	else if (b < 252)
		info.offset = special_off[b % 4];
	else
		info.offset = in32(f);
	info.rsvd = in8(f) < 240 ? 0 : 0xdeadbeef;
	a[2] = rd_addr(f);
	if (in8(f) >= 250)
		a[0] = in8(f); /* another vcpu_op */
	put(z, a[2], &info, sizeof(info));
	fz_hypercall(f, di, vcpu, __HYPERVISOR_vcpu_op, a);
}

static void op_raw(struct fz *f)
{
	static const uint64_t special_nr[] = {
		0, 16, 17, 23, 25, 31, 33, 64, 0xFFFFFFFFu,
		(1ull << 32) | __HYPERVISOR_event_channel_op,
		(1ull << 32) | __HYPERVISOR_vcpu_op, UINT64_MAX,
	};
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint64_t a[6] = { 0 }, nr;
	unsigned char bytes[24];
	uint32_t vcpu;
	uint8_t b, n;

	if (!z->d)
		return;
	vcpu = rd_vcpu(f, z);
	b = in8(f);
	nr = b < 100   ? __HYPERVISOR_event_channel_op
	     : b < 180 ? __HYPERVISOR_vcpu_op
		       : special_nr[b % 12];
	b = in8(f);
	a[0] = b < 128 ? b % 16 : b < 192 ? VCPUOP_register_vcpu_info : in64(f);
	if (nr == __HYPERVISOR_vcpu_op) {
		a[1] = rd_tvcpu(f);
		a[2] = rd_addr(f);
	} else {
		a[1] = rd_addr(f);
		a[2] = in8(f);
	}
	for (int i = 3; i < 6; i++)
		a[i] = in8(f) * 0x0101010101010101ull;
	n = in8(f) % 25;
	in_bytes(f, bytes, n);
	put(z, nr == __HYPERVISOR_vcpu_op ? a[2] : a[1], bytes, n);
	if (n == 24 && bytes[0] == 0xA5) {
		/* A NULL argument array. */
		CHECK(evtchn_hypercall(z->d, 0, nr, NULL) == -EINVAL);
		CHECK(evtchn_hypercall(NULL, 0, nr, a) == -EINVAL);
	}
	fz_hypercall(f, di, vcpu, nr, a);
}

static void op_virq(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint32_t vcpu = rd_tvcpu(f), virq = rd_virq(f);
	struct fz_ev e = { 0 };
	unsigned long total = f->total_upcalls;
	int exp = 0, rc;

	if (!z->d)
		return;
	if (virq >= NR_VIRQS)
		exp = -EINVAL;
	else if (!virq_global(virq) && vcpu >= z->nr_vcpus)
		exp = -EINVAL;
	if (exp == 0)
		virq_predict(f, di, vcpu, virq, &e);
	touch(z);
	rc = evtchn_send_virq(z->d, vcpu, virq);
	CHECK(rc == exp);
	virq_check(f, &e, total);
}

static void op_raise(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint32_t port = rd_port(f);
	struct fz_scan *s;
	struct fz_ev e;
	bool usable;
	int rc;

	if (!z->d)
		return;
	s = scan(f, di);
	usable = !st_closed(s, port);
	if (z->fifo) {
		sh_begin(f, z);
		if (usable)
			sim_set_pending(f, port, s->st[port].vcpu);
		touch(z);
		rc = evtchn_port_raise(z->d, port);
		CHECK(rc == (usable ? 0 : -EINVAL));
		sh_check(f);
		return;
	}
	if (usable)
		ev_snap(z, port, s->st[port].vcpu, &e);
	else
		ev_snap(z, port, 0, &e);
	touch(z);
	rc = evtchn_port_raise(z->d, port);
	if (usable) {
		CHECK(rc == 0);
		ev_check_event(&e, false);
	} else {
		CHECK(rc == -EINVAL);
		ev_check_nothing(&e);
	}
}

static void op_layout(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint8_t b = in8(f);
	static const int bad[] = { 2, -1, 0x7FFFFFFF, 1000 };
	int l = b < 120 ? EVTCHN_LAYOUT_64 : b < 240 ? EVTCHN_LAYOUT_32 : bad[b % 4];
	enum evtchn_layout old;
	int rc;

	if (!z->d)
		return;
	old = evtchn_domain_layout(z->d);
	touch(z);
	rc = evtchn_domain_set_layout(z->d, (enum evtchn_layout)l);
	if (l == EVTCHN_LAYOUT_64 || l == EVTCHN_LAYOUT_32) {
		CHECK(rc == 0);
		CHECK((int)evtchn_domain_layout(z->d) == l);
		if ((int)old != l)
			stats.layout_switch++;
#if FZ_HAVE_GUEST
		if (z->g_ok)
			z->g.compat = l == EVTCHN_LAYOUT_32;
#endif
	} else {
		CHECK(rc == -EINVAL);
		CHECK(evtchn_domain_layout(z->d) == old);
	}
}

static void op_pause(struct fz *f)
{
	int di = rd_dom(f);
	bool paused = in8(f) & 1;

	if (!f->dom[di].d)
		return;
	touch(&f->dom[di]);
	CHECK(evtchn_domain_set_paused(f->dom[di].d, paused) == 0);
	f->dom[di].paused = paused;
}

static void op_online(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint32_t vcpu = rd_tvcpu(f);
	bool online = in8(f) & 1;
	int rc;

	if (!z->d)
		return;
	touch(z);
	rc = evtchn_vcpu_set_online(z->d, vcpu, online);
	if (vcpu < z->nr_vcpus) {
		CHECK(rc == 0);
		z->online[vcpu] = online;
	} else {
		CHECK(rc == -ENOENT);
	}
}

static void op_scribble_si(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint8_t mode = in8(f) % 4;
	uint32_t port, v;
	unsigned char *page;

	if (!z->d)
		return;
	touch(z);
	page = si(z);
	switch (mode) {
	case 0: {
		uint32_t off = in16(f) % EVTCHN_PAGE_SIZE;
		uint32_t len = in8(f) % 32 + 1;

		for (uint32_t i = 0; i < len; i++) {
			uint8_t byte = in8(f);

			if (off + i < EVTCHN_PAGE_SIZE)
				page[off + i] = byte;
		}
		break;
	}
	case 1:
	case 2:
		port = rd_port(f);
		v = in8(f) & 1;
		if (port < layout_ports(z))
			bit_put(mode == 1 ? pending_map(z) : mask_map(z), port,
				v);
		break;
	default:
		v = rd_tvcpu(f);
		port = in8(f) % VCPU_INFO_SIZE; /* an offset */
		mode = in8(f);
		if (v < z->nr_vcpus && z->vi[v]) {
			z->vi[v][port] = mode;
			mem_dirty_ptr(z, z->vi[v] + port, 1);
		}
		break;
	}
}

static void op_scribble_mem(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint64_t off = in16(f);
	uint32_t len = in8(f) % 64 + 1;
	unsigned char buf[64];

	in_bytes(f, buf, len);
	if (z->d)
		put(z, off, buf, len);
}

static void op_guest_upcall(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint8_t b = in8(f);
#if FZ_HAVE_GUEST
	uint32_t vcpu;
	unsigned long total = f->total_upcalls;
	struct fz_upcall_ctx c;

	if (!z->d || !z->g_ok)
		return;
	vcpu = b % z->nr_vcpus;
	if (!z->vi[vcpu])
		return;
	c.z = z;
	c.vcpu = vcpu;
	touch(z);
	evtchn_guest_upcall(&z->g, vcpu, fz_guest_event, &c);
	CHECK(f->total_upcalls == total);
	/* FIFO: a vCPU without a control block has nothing to consume. */
	if (!z->g.fifo || z->g.fifo_cb[vcpu])
		CHECK(z->vi[vcpu][0] == 0);
#else
	(void)z;
	(void)b;
#endif
}

static void op_guest_mask(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint32_t port = rd_port(f);
#if FZ_HAVE_GUEST
	/* 2-level: inside the bitmaps; FIFO: any port (no word, nothing). */
	if (z->d && z->g_ok &&
	    (z->g.fifo || port < evtchn_guest_nr_ports(&z->g))) {
		touch(z);
		evtchn_guest_mask(&z->g, port);
	}
#else
	(void)z;
	(void)port;
#endif
}

static void op_guest_unmask(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint8_t b = in8(f);
	uint32_t port = rd_port(f);
#if FZ_HAVE_GUEST
	if (!z->d || !z->g_ok)
		return;
	touch(z);
	if (z->g.fifo) {
		const uint32_t *w = evtchn_guest_fifo_word(&z->g, port);

		/* Linux's clear_masked_cond() spins while BUSY is set on a
		 * masked word: only the hypervisor may hold BUSY, and the
		 * library never leaves it set, so a guest that set it itself
		 * would spin forever. */
		if (w && (__atomic_load_n(w, __ATOMIC_SEQ_CST) &
			  (W_BUSY | W_MASKED | W_PENDING)) ==
				 (W_BUSY | W_MASKED))
			return;
		evtchn_guest_unmask(&z->g, b % z->nr_vcpus, port);
	} else if (port < evtchn_guest_nr_ports(&z->g)) {
		evtchn_guest_unmask(&z->g, b % z->nr_vcpus, port);
	}
#else
	(void)z;
	(void)b;
	(void)port;
#endif
}

static void op_recreate(struct fz *f)
{
	uint8_t b = in8(f), lb = in8(f), mb = in8(f);
	int di = 1 + b % 2;
	unsigned pcfg = (lb >> 1) % 8 < 5 ? 0 : (lb >> 1) % 8 - 4;
	struct fz_dom *z = &f->dom[di];

	if (z->d) {
		/* Xen: peers in other domains become unbound, for the dead
		 * domain (dom_destroy() compares them at once). */
		dom_destroy(f, di);
		check_all(f, true);
		mem_clean(z);
		if (b & 2)
			return;
	}
	mem_clean(z);
	dom_create(f, di, lb & 1, mb, pcfg);
	stats.recreated++;
}

static void op_badcreate(struct fz *f)
{
	struct evtchn_domain_config cfg;
	struct evtchn_domain *d = NULL;
	uint8_t k = in8(f);
	int exp = -EINVAL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.domid = 0; /* taken: domain 0 is always there */
	cfg.nr_vcpus = 1;
	cfg.layout = EVTCHN_LAYOUT_64;
	evtchn_guest_mem_flat(&cfg.mem, f->dom[0].mem, MEM_SIZE);
	switch (k % 7) {
	case 0:
		exp = -EEXIST;
		break;
	case 1:
		cfg.domid = (uint16_t)(DOMID_FIRST_RESERVED + k % 16);
		break;
	case 2:
		cfg.nr_vcpus = 0;
		break;
	case 3:
		cfg.nr_vcpus = EVTCHN_MAX_VCPUS + 1 + k;
		break;
	case 4:
		cfg.layout = (enum evtchn_layout)(2 + k % 3);
		break;
	case 5:
		cfg.mem.flat_base = NULL;
		break;
	default:
		CHECK(evtchn_domain_create(NULL, &cfg, &d) == -EINVAL);
		CHECK(evtchn_domain_create(f->h, NULL, &d) == -EINVAL);
		CHECK(evtchn_domain_create(f->h, &cfg, NULL) == -EINVAL);
		CHECK(evtchn_domain_destroy(NULL) == -EINVAL);
		CHECK(evtchn_host_domain(f->h, DOMID_SELF) == NULL);
		CHECK(evtchn_host_domain(NULL, 0) == NULL);
		exp = -EEXIST;
		break;
	}
	CHECK(evtchn_domain_create(f->h, &cfg, &d) == exp);
	CHECK(evtchn_host_domain(f->h, 0) == f->dom[0].d);
}

/* EVTCHNOP_init_control for vCPU @v (from vCPU @v when it exists), raw or
 * through the reference consumer. */
static long fifo_init_vcpu(struct fz *f, int di, uint32_t v, uint64_t gfn,
			   uint32_t off, bool consumer)
{
	struct fz_dom *z = &f->dom[di];
	struct evtchn_init_control ic;

#if FZ_HAVE_GUEST
	if (consumer && z->g_ok && v < z->nr_vcpus) {
		void *cb = gfn < FZ_MEM_PAGES &&
					   off <= EVTCHN_PAGE_SIZE - FIFO_CB_SIZE
				   ? z->mem + gfn * EVTCHN_PAGE_SIZE + off
				   : NULL;
		long rc = evtchn_guest_fifo_init_vcpu(&z->g, v, cb, gfn, off);

		/* A refused second init_control makes the consumer forget the
		 * control block it has: it has it still. */
		guest_sync_fifo(z);
		return rc;
	}
#else
	(void)consumer;
#endif
	memset(&ic, 0, sizeof(ic));
	ic.control_gfn = gfn;
	ic.offset = off;
	ic.vcpu = v;
	return fz_op_at(z, v < z->nr_vcpus ? v : 0, EVTCHNOP_init_control, &ic,
			sizeof(ic));
}

/* EVTCHNOP_expand_array with @gfn, raw or through the consumer. */
static long fifo_expand(struct fz *f, int di, uint64_t gfn, bool consumer)
{
	struct fz_dom *z = &f->dom[di];
	struct evtchn_expand_array ea;

#if FZ_HAVE_GUEST
	if (consumer && z->g_ok) {
		void *page = gfn < FZ_MEM_PAGES
				     ? z->mem + gfn * EVTCHN_PAGE_SIZE
				     : NULL;
		uint32_t had = z->npages;
		long rc = evtchn_guest_fifo_expand(&z->g, page, gfn);

		/* The consumer stops at 128 pages itself (the 128th page is
		 * added: the model counts it during the call). */
		if (had >= FIFO_MAX_PAGES)
			CHECK(rc == -ENOSPC);
		guest_sync_fifo(z);
		return rc;
	}
#else
	(void)consumer;
#endif
	memset(&ea, 0, sizeof(ea));
	ea.array_gfn = gfn;
	return fz_op_at(z, 0, EVTCHNOP_expand_array, &ea, sizeof(ea));
}

/* bind_ipi until port @target is bound or the ports run out (-ENOSPC),
 * each result checked: the lowest free ports not LINKED, then new buckets.
 * The model follows each bind; the ports are compared after the fill. */
static void fifo_fill(struct fz *f, int di, uint32_t target)
{
	struct fz_dom *z = &f->dom[di];
	struct fz_scan *s = scan(f, di);
	uint32_t lim = port_limit(z), p = 1;
	uint64_t a[6] = { EVTCHNOP_bind_ipi, SCRATCH_GUEST, 0, 0, 0, 0 };

	for (uint32_t i = 0;; i++) {
		struct evtchn_bind_ipi b = { .vcpu = i % z->nr_vcpus };
		long rc;

		/* Below the valid end a free port may still be LINKED; a new
		 * bucket's first port is taken without looking. */
		while (p <= lim && p < s->end &&
		       (!st_closed(s, p) || fifo_linked(z, p)))
			p++;
		memcpy(z->mem + SCRATCH_GUEST, &b, sizeof(b));
		mem_dirty(z, SCRATCH_GUEST, sizeof(b));
		rc = hcall(z, 0, __HYPERVISOR_event_channel_op, a);
		if (p > lim) {
			CHECK(rc == -XEN_ENOSPC);
			break;
		}
		CHECK(rc == 0);
		memcpy(&b, z->mem + SCRATCH_GUEST, sizeof(b));
		CHECK(b.port == p && b.vcpu == i % z->nr_vcpus);
		if (z->fifo)
			pm(z, p)->prio = EVTCHN_FIFO_PRIORITY_DEFAULT;
		guest_bind(z, p, b.vcpu);
		m_reach(f, di, p);
		m_bind(f, di, p, EVTCHNSTAT_ipi, b.vcpu, 0, 0);
		if (p >= PORTS_64)
			stats.fifo_ports_high++;
		stats.ipi++;
		if (p++ >= target)
			break;
	}
}

static void op_fifo(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint8_t b = in8(f), mode = b % 8;

	if (!z->d)
		return;
	if (b == 255) {
		/* Past the 2-level maximum (or up to the FIFO one). */
		uint8_t k = in8(f);

		fifo_fill(f, di, k == 255 && all_ports
					 ? FIFO_MAX_PORT
					 : PORTS_64 + k % 32u * BUCKET);
		return;
	}
	switch (mode) {
	case 0:
	case 1:
	case 2: {
		/* A guest sets FIFO up on some of its vCPUs: events to the
		 * others are dropped. */
		uint8_t m = in8(f), g = in8(f), n = in8(f) % 4, p = in8(f);

		for (uint32_t v = 0; v < z->nr_vcpus; v++)
			if (m >> (v % 8) & 1)
				fifo_init_vcpu(f, di, v, g % FZ_MEM_PAGES,
					       (v % 56) * FIFO_CB_SIZE,
					       mode == 1);
		for (uint8_t i = 0; i < n; i++)
			fifo_expand(f, di, (uint8_t)(p + i) % FZ_MEM_PAGES,
				    mode == 1);
		break;
	}
	case 3: {
		/* Many pages, one guest frame: the 129th is -ENOSPC. */
		uint8_t k = in8(f);
		uint64_t gfn = rd_gfn(f);
		unsigned n = k < 200 ? k % 8 + 1u : FIFO_MAX_PAGES + k % 4u;

		for (unsigned i = 0; i < n; i++)
			fifo_expand(f, di, gfn, false);
		break;
	}
	case 4: {
		uint32_t v = rd_tvcpu(f);
		uint64_t gfn = rd_gfn(f);
		uint32_t off = rd_cboff(f);

		fifo_init_vcpu(f, di, v, gfn, off, false);
		break;
	}
	case 5: {
		struct evtchn_set_priority sp;

		memset(&sp, 0, sizeof(sp));
		sp.port = rd_port(f);
		sp.priority = rd_prio(f);
		fz_op_at(z, 0, EVTCHNOP_set_priority, &sp, sizeof(sp));
		break;
	}
	case 6: {
		uint64_t gfn = rd_gfn(f);

		fifo_expand(f, di, gfn, in8(f) & 1);
		break;
	}
	default: {
		/* Linux's way: every vCPU, control blocks packed from a page,
		 * then the first event-array page. */
		uint8_t g = in8(f), p = in8(f);

		for (uint32_t v = 0; v < z->nr_vcpus; v++)
			fifo_init_vcpu(f, di, v,
				       (g + v / 56u) % FZ_MEM_PAGES,
				       (v % 56) * FIFO_CB_SIZE, true);
		fifo_expand(f, di, p % FZ_MEM_PAGES, true);
		break;
	}
	}
}

/* The guest writes its event words and control blocks. */
static void op_scribble_fifo(struct fz *f)
{
	static const uint32_t bits[4] = { W_PENDING, W_MASKED, W_LINKED,
					  W_BUSY };
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint8_t mode = in8(f) % 4;

	if (!z->d)
		return;
	switch (mode) {
	case 0: {
		uint32_t port = rd_port(f);
		uint8_t op = in8(f) % 10;
		unsigned char *w = fifo_word(z, port);
		uint32_t v = w ? ld32(w) : 0;

		if (op < 4)
			v |= bits[op];
		else if (op < 8)
			v &= ~bits[op - 4];
		else if (op == 8)
			v = (v & ~W_LINK) | (rd_port(f) & W_LINK);
		else
			v = in32(f);
		if (w) {
			st32(w, v);
			mem_dirty_ptr(z, w, 4);
		}
		break;
	}
	case 1: {
		uint32_t v = rd_tvcpu(f);
		uint8_t field = in8(f);
		uint32_t val = field >= 128 ? rd_port(f) : in32(f);
		unsigned char *cb = fifo_cb(z, v);

		if (cb) {
			st32(cb + field % (FIFO_CB_SIZE / 4) * 4, val);
			mem_dirty_ptr(z, cb, FIFO_CB_SIZE);
		}
		break;
	}
	case 2: {
		uint8_t page = in8(f), act = in8(f) % 4;

		if (!z->fifo || !z->npages)
			break;
		for (uint32_t i = 0; i < FIFO_WORDS_PER_PAGE; i++) {
			unsigned char *w = fifo_word(
				z, page % z->npages * FIFO_WORDS_PER_PAGE + i);
			uint32_t v = ld32(w);

			v = act == 0   ? v | W_MASKED
			    : act == 1 ? v & ~W_MASKED
			    : act == 2 ? v & ~(W_LINKED | W_LINK)
				       : 0;
			st32(w, v);
			mem_dirty_ptr(z, w, 4);
		}
		break;
	}
	default: {
		unsigned char *w = fifo_word(z, rd_port(f));

		if (w) {
			st32(w, ld32(w) & ~(W_PENDING | W_LINKED | W_LINK));
			mem_dirty_ptr(z, w, 4);
		}
		break;
	}
	}
}

/* ------------------------------------------------------------------ */
/* PIRQ operations */

/* PIRQ: a PIRQ of domain @di, mostly one it has or may have. */
static uint32_t rd_pirq(struct fz *f, int di)
{
	struct fz_dom *z = &f->dom[di];
	uint8_t b = in8(f);

	if (b < 64) {
		struct fz_scan *s = scan(f, di);
		bool bound[FZ_PIRQ_MAX] = { false };
		uint32_t live[FZ_PIRQ_MAX], n = 0;

		for (uint32_t p = 1; p < s->end; p++)
			if (s->st[p].status == EVTCHNSTAT_pirq &&
			    s->st[p].u.pirq < z->nr_pirqs)
				bound[s->st[p].u.pirq] = true;
		/* b < 32: one mapped; else one with any state */
		for (uint32_t p = 0; p < z->nr_pirqs; p++)
			if (z->emuirq[p] != EMU_UNBOUND ||
			    (b >= 32 && (bound[p] || z->pirq_alloc[p])))
				live[n++] = p;
		if (n)
			return live[b % n];
	}
	if (b < 160)
		return b % z->nr_pirqs;
	if (b < 200)
		return z->nr_pirqs - 1 - b % 16;
	if (b < 240) {
		const uint32_t special[] = { UINT32_MAX,     0xFFFFFFFEu,
					     0,		     z->nr_pirqs,
					     z->nr_pirqs - 1, 255,
					     256,	     0x120,
					     0x7FFFFFFFu,    0x80000000u };

		return special[b % 10];
	}
	return in32(f);
}

/* GSI: a GSI of domain @di, mostly a PCI one or one mapped to a PIRQ. */
static uint32_t rd_gsi(struct fz *f, int di)
{
	const struct fz_dom *z = &f->dom[di];
	uint8_t b = in8(f);

	if (b < 80) {
		uint32_t mapped[FZ_NR_GSIS], n = 0;

		for (uint32_t g = 0; g < FZ_NR_GSIS; g++)
			if (z->gsi_pirq[g] >= 0)
				mapped[n++] = g;
		if (n)
			return mapped[b % n];
	}
	if (b < 140)
		return 16 + b % 8;
	if (b < 220)
		return b % FZ_NR_GSIS;
	if (b < 240)
		return FZ_NR_GSIS + b % 16;
	return in32(f);
}

/* The MSI address Linux programs for @pirq (data vector 0). */
static uint64_t msi_addr(uint32_t pirq)
{
	return ((uint64_t)(pirq & 0xffffff00u) << 32) | 0xfee00000u |
	       (uint64_t)(pirq & 0xff) << 12;
}

/* evtchn_msi_inject() of @addr/@data to @di, checked: Xen 4.17's
 * hvm_inject_msi(). */
static void msi_check(struct fz *f, int di, uint64_t addr, uint32_t data)
{
	struct fz_dom *z = &f->dom[di];
	uint32_t pirq = (uint32_t)((addr >> 32) & 0xffffff00u) |
			(uint32_t)((addr & 0x000ff000u) >> 12);
	uint32_t got = 0xdeadbeef;
	bool vec = data & 0xff, send = false, bound;
	struct fz_ev ev;
	int exp, rc;

	/* The decoding alone. */
	CHECK(evtchn_msi_pirq(addr, data, &got) == (vec ? 1 : 0));
	CHECK(got == (vec ? 0xdeadbeef : pirq));
	CHECK(evtchn_msi_pirq(addr, data, NULL) == (vec ? 1 : 0));

	if (vec) {
		exp = 1; /* an ordinary MSI: the VMM's */
		stats.msi_vector++;
	} else if ((int32_t)pirq <= 0) {
		exp = -ERANGE; /* 4.17's int pirq */
		stats.msi_erange++;
	} else if (m_emuirq(z, pirq) == EMU_MSI) {
		exp = 0;
		send = true;
	} else if (m_emuirq(z, pirq) != EMU_UNBOUND) {
		exp = -EINVAL; /* mapped to a GSI */
		stats.msi_einval++;
	} else {
		/* First use: mapped as IRQ_MSI_EMU, unless another PIRQ holds
		 * that key; then delivered if the PIRQ has an entry. */
		bool refused;

		exp = (int)m_map(z, (int32_t)pirq, EMU_MSI, &refused);
		if (exp)
			stats.msi_einval++; /* beyond nr_pirqs */
		else if (!refused)
			stats.msi_mapped++;
		else if (!m_entry_checked(f, di, pirq))
			exp = -EBUSY;
		if (exp == -EBUSY)
			stats.msi_ebusy++;
		send = exp == 0;
	}
	bound = pirq_expect(f, di, pirq, send, &ev);
	touch(z);
	z->pirq_used = z->lasting = true;
	rc = evtchn_msi_inject(z->d, addr, data);
	if (trace || rc != exp)
		fprintf(stderr, "evtchn fuzz: dom%d msi %#llx/%#x (pirq %u) -> "
				"%d (model %d)\n", di,
			(unsigned long long)addr, data, pirq, rc, exp);
	CHECK(rc == exp);
	pirq_expect_check(f, &ev);
	if (send && bound)
		stats.msi_delivered++;
	else if (send)
		stats.msi_dropped++;
}

/* evtchn_gsi_set() of @gsi to @level on @di, checked: Xen's assert_gsi()
 * for a GSI mapped to a PIRQ, once a rising edge. */
static void gsi_check(struct fz *f, int di, uint32_t gsi, bool level)
{
	struct fz_dom *z = &f->dom[di];
	struct fz_ev ev;
	int32_t p = -1;
	bool edge = false, bound;
	int exp, rc;

	if (gsi >= FZ_NR_GSIS) {
		exp = -EINVAL;
	} else {
		uint64_t bit = 1ull << gsi;

		edge = level && !(z->gsi_level & bit);
		z->gsi_level = level ? z->gsi_level | bit
				     : z->gsi_level & ~bit;
		p = z->gsi_pirq[gsi];
		exp = p >= 0;
		edge = edge && p >= 0;
	}
	bound = pirq_expect(f, di, (uint32_t)p, edge, &ev);
	touch(z);
	z->pirq_used = z->lasting = true;
	rc = evtchn_gsi_set(z->d, gsi, level);
	if (trace || rc != exp)
		fprintf(stderr, "evtchn fuzz: dom%d gsi %u := %d (pirq %d) -> "
				"%d (model %d)\n", di, gsi, level, p, rc, exp);
	CHECK(rc == exp);
	pirq_expect_check(f, &ev);
	if (exp == 1)
		stats.gsi_routed++;
	if (edge && bound)
		stats.gsi_edges++;
	else if (edge)
		stats.gsi_lost++;
}

/* A domid: DOMID_SELF when @b < @self, else DOMID. */
static domid_t rd_self_or(struct fz *f, uint8_t self)
{
	return in8(f) < self ? DOMID_SELF : rd_domid(f);
}

static void op_callback(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint64_t a[6] = { 0 };
	unsigned char arg[16];
	size_t len = sizeof(arg);
	uint32_t vcpu;
	uint8_t mode, b;

	if (!z->d)
		return;
	vcpu = rd_vcpu(f, z);
	mode = in8(f) % 4;
	a[1] = rd_addr(f);
	memset(arg, 0, sizeof(arg));
	switch (mode) {
	case 0:
	case 1: {
		struct xen_hvm_param p;

		memset(&p, 0, sizeof(p));
		p.domid = rd_self_or(f, 192);
		b = in8(f);
		p.index = b < 240 ? HVM_PARAM_CALLBACK_IRQ
				  : b == 255 ? in32(f) : b % 16 + 1u;
		if (mode == 0) {
			b = in8(f);
			if (b < 100)
				p.value = (uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR
						  << 56 |
					  in8(f);
			else if (b < 150)
				p.value = in8(f); /* GSI (0: none) */
			else if (b < 180)
				p.value = (uint64_t)HVM_PARAM_CALLBACK_TYPE_PCI_INTX
						  << 56 |
					  in16(f);
			else if (b < 210)
				p.value = 0;
			else if (b < 230)
				p.value = (uint64_t)(3 + b % 8) << 56 | in8(f);
			else
				p.value = in64(f);
			a[0] = HVMOP_set_param;
		} else {
			p.value = in8(f) * 0x0101010101010101ull;
			a[0] = HVMOP_get_param;
		}
		memcpy(arg, &p, sizeof(p));
		break;
	}
	case 2: {
		struct xen_hvm_evtchn_upcall_vector u;

		memset(&u, 0, sizeof(u));
		u.vcpu = rd_tvcpu(f);
		u.vector = in8(f);
		a[0] = HVMOP_set_evtchn_upcall_vector;
		memcpy(arg, &u, sizeof(u));
		len = sizeof(u);
		break;
	}
	default:
		b = in8(f);
		a[0] = b < 200 ? b % 40u : in64(f);
		in_bytes(f, arg, sizeof(arg));
		break;
	}
	put(z, a[1], arg, len);
	fz_hypercall(f, di, vcpu, __HYPERVISOR_hvm_op, a);
}

/* What Linux does to start a PIRQ: EVTCHNOP_bind_pirq, then
 * PHYSDEVOP_irq_status_query (pirq_query_unmask()), by vCPU 0, checked. */
static void bind_pirq_at(struct fz_dom *z, uint32_t pirq)
{
	struct evtchn_bind_pirq bp;
	struct physdev_irq_status_query q;

	memset(&bp, 0, sizeof(bp));
	bp.pirq = pirq;
	if (fz_op_at(z, 0, EVTCHNOP_bind_pirq, &bp, sizeof(bp)))
		return;
	q.irq = pirq;
	q.flags = 0;
	fz_call_at(z, 0, __HYPERVISOR_physdev_op, PHYSDEVOP_irq_status_query,
		   &q, sizeof(q));
}

/* A level-triggered interrupt on @gsi: high, @n EOIs of @irq (the guest's
 * handler) while it stays high, then low unless @stay. */
static void gsi_level_cycle(struct fz *f, int di, uint32_t gsi, uint32_t irq,
			    unsigned n, bool stay)
{
	struct fz_dom *z = &f->dom[di];

	gsi_check(f, di, gsi, true);
	for (unsigned i = 0; i < n; i++)
		fz_call_at(z, 0, __HYPERVISOR_physdev_op, PHYSDEVOP_eoi, &irq,
			   sizeof(irq));
	if (!stay)
		gsi_check(f, di, gsi, false);
}

static void op_physdev(struct fz *f)
{
	static const int32_t special_index[8] = { -1, 48, 49, 255, INT32_MIN,
						  0x7FFFFFFF, 64, 47 };
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	unsigned char arg[40];
	uint64_t a[6] = { 0 };
	size_t len = 8;
	uint32_t vcpu;
	uint8_t sub, b;

	if (!z->d)
		return;
	vcpu = rd_vcpu(f, z);
	sub = in8(f) % 10;
	a[1] = rd_addr(f);
	memset(arg, 0, sizeof(arg));
	switch (sub) {
	case 0:
	case 1: {
		struct physdev_map_pirq m;
		uint64_t tb;

		memset(&m, 0, sizeof(m));
		m.domid = rd_self_or(f, 200);
		b = in8(f);
		m.type = b < 170   ? MAP_PIRQ_TYPE_GSI
			 : b < 190 ? MAP_PIRQ_TYPE_MSI
			 : b < 205 ? MAP_PIRQ_TYPE_MSI_SEG
			 : b < 220 ? MAP_PIRQ_TYPE_MULTI_MSI
			 : b < 230 ? MAP_PIRQ_TYPE_UNKNOWN
				   : (int)in32(f);
		b = in8(f);
		m.index = b < 120   ? 16 + b % 8
			  : b < 200 ? b % (int)FZ_NR_GSIS
			  : b < 240 ? special_index[b % 8]
				    : (int)in32(f);
		m.pirq = in8(f) < 96 ? -1 : (int)rd_pirq(f, di);
		m.bus = in8(f) * 0x10001;
		m.devfn = in8(f);
		m.entry_nr = in8(f) % 4;
		b = in8(f);
		tb = b < 200 ? 0 : in64(f);
		a[0] = PHYSDEVOP_map_pirq;
		memcpy(arg, &m, 28);
		/* where a 32-bit guest has it, or a 64-bit one */
		memcpy(arg + (is32(z) ? 28 : 32), &tb, 8);
		len = is32(z) ? 36 : 40;
		break;
	}
	case 2: {
		struct physdev_unmap_pirq u;

		u.domid = rd_self_or(f, 200);
		u.pirq = (int)rd_pirq(f, di);
		a[0] = PHYSDEVOP_unmap_pirq;
		memcpy(arg, &u, sizeof(u));
		break;
	}
	case 3: {
		uint32_t irq = rd_pirq(f, di);

		a[0] = PHYSDEVOP_eoi;
		memcpy(arg, &irq, 4);
		len = 4;
		break;
	}
	case 4: {
		struct physdev_irq_status_query q;

		q.irq = rd_pirq(f, di);
		q.flags = in8(f);
		a[0] = PHYSDEVOP_irq_status_query;
		memcpy(arg, &q, sizeof(q));
		break;
	}
	case 5:
	case 6: {
		/* one, or many (up to -ENOSPC) */
		unsigned n = sub == 6 ? in8(f) % 48 + 1u : 1;
		struct physdev_get_free_pirq g;

		b = in8(f);
		g.type = b < 128   ? MAP_PIRQ_TYPE_MSI
			 : b < 192 ? MAP_PIRQ_TYPE_GSI
				   : (int)in32(f);
		g.pirq = in8(f);
		a[0] = PHYSDEVOP_get_free_pirq;
		for (unsigned i = 0; i < n; i++) {
			put(z, a[1], &g, sizeof(g));
			fz_hypercall(f, di, vcpu, __HYPERVISOR_physdev_op, a);
		}
		return;
	}
	case 7: {
		/* Linux: the callback vector at boot, then for a device's
		 * GSI map_pirq(-1) and bind_pirq; an interrupt or two. */
		uint8_t c = in8(f);
		uint32_t gsi = rd_gsi(f, di);
		struct physdev_map_pirq m;

		if (c % 4) {
			struct xen_hvm_param p;

			memset(&p, 0, sizeof(p));
			p.domid = DOMID_SELF;
			p.index = HVM_PARAM_CALLBACK_IRQ;
			p.value = (uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR << 56 |
				  0xf3;
			fz_call_at(z, 0, __HYPERVISOR_hvm_op, HVMOP_set_param,
				   &p, sizeof(p));
		}
		memset(&m, 0, sizeof(m));
		m.domid = DOMID_SELF;
		m.type = MAP_PIRQ_TYPE_GSI;
		m.index = (int)gsi;
		m.pirq = -1;
		if (fz_call_at(z, 0, __HYPERVISOR_physdev_op,
			       PHYSDEVOP_map_pirq, &m, sizeof(m)))
			return;
		if (!(c & 4))
			bind_pirq_at(z, (uint32_t)m.pirq);
		if (c & 8)
			gsi_level_cycle(f, di, gsi, (uint32_t)m.pirq,
					c >> 4 & 3, c & 0x40);
		return;
	}
	case 8: {
		/* Linux: a PIRQ for an MSI, bound, then the device's MSIs. */
		uint8_t c = in8(f);
		struct physdev_get_free_pirq g;

		memset(&g, 0, sizeof(g));
		g.type = MAP_PIRQ_TYPE_MSI;
		if (fz_call_at(z, 0, __HYPERVISOR_physdev_op,
			       PHYSDEVOP_get_free_pirq, &g, sizeof(g)))
			return;
		if (!(c & 1))
			bind_pirq_at(z, g.pirq);
		for (int i = 0; i <= (c >> 1 & 3); i++)
			msi_check(f, di, msi_addr(g.pirq), 0);
		return;
	}
	default:
		b = in8(f);
		a[0] = b < 200 ? b % 40u : in64(f);
		len = in8(f) % 25;
		in_bytes(f, arg, len);
		break;
	}
	put(z, a[1], arg, len);
	fz_hypercall(f, di, vcpu, __HYPERVISOR_physdev_op, a);
}

static void op_msi(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint64_t addr;
	uint32_t data = 0;
	unsigned n = 1;
	uint8_t b;

	if (!z->d)
		return;
	b = in8(f);
	if (b < 160) {
		addr = msi_addr(rd_pirq(f, di));
		switch (b % 8) {
		case 5: /* address bits 32..39 are not the PIRQ's */
			addr |= (uint64_t)in8(f) << 32;
			break;
		case 6: /* nor the data's upper bits */
			data = in16(f) & ~0xffu;
			break;
		case 7: /* a vector: an ordinary MSI (0: still a PIRQ) */
			data = in8(f);
			break;
		default:
			break;
		}
		if (b >= 128)
			n = b % 4 + 2u;
	} else if (b < 240) {
		addr = in64(f);
		data = in8(f) < 200 ? 0 : in32(f);
	} else {
		if (b == 255) {
			CHECK(evtchn_msi_inject(NULL, 0, 0) == -EINVAL);
			CHECK(evtchn_gsi_set(NULL, 16, true) == -EINVAL);
		}
		addr = in64(f);
		data = in32(f);
	}
	for (unsigned i = 0; i < n; i++)
		msi_check(f, di, addr, data);
}

static void op_gsi(struct fz *f)
{
	int di = rd_dom(f);
	struct fz_dom *z = &f->dom[di];
	uint32_t gsi;
	uint8_t b;

	if (!z->d)
		return;
	gsi = rd_gsi(f, di);
	b = in8(f);
	switch (b % 4) {
	case 0:
	case 1:
		gsi_check(f, di, gsi, b % 4);
		break;
	case 2: /* an edge-triggered interrupt */
		gsi_check(f, di, gsi, true);
		gsi_check(f, di, gsi, false);
		break;
	default: {
		/* A level-triggered one the guest EOIs while it stays high. */
		uint32_t irq = gsi < FZ_NR_GSIS && z->gsi_pirq[gsi] >= 0
				       ? (uint32_t)z->gsi_pirq[gsi]
				       : rd_pirq(f, di);

		gsi_level_cycle(f, di, gsi, irq, b / 4u % 4 + 1, !(b & 0x80));
		break;
	}
	}
}

/* ------------------------------------------------------------------ */
/*
 * Inputs in a row.
 *
 * One host and the three domains live from input to input, so an input
 * does not pay for building and tearing down a host, three domains and
 * their memory.  Every input still starts from domains exactly as fresh
 * ones: at its end each domain it reached is either
 *  - destroyed (checked as Xen's domain_kill(): the peers of its channels
 *    left unbound for it) and made again, when it holds state no guest
 *    call can take back: a vcpu_info, FIFO, a PIRQ, a timer, a callback
 *    or upcall vector, the dummy vcpu_info of a vCPU from 32 up, ports
 *    beyond the first bucket (recyclable()); or
 *  - recycled (recycle()): every port the model has bound closed as a
 *    guest closes it, each close predicted and checked like any other;
 *    the table then compared whole (no port bound, the valid ports the
 *    first bucket); when a port was ever allocated, a bind_ipi must get
 *    port 1 again and is closed (allocation starts from the bottom, as in
 *    a fresh domain); shared_info zeroed, the domain unpaused, its vCPUs
 *    offline, as the guest and the VMM can leave them.  What is left is
 *    what a fresh domain has: nothing else of a 2-level domain without
 *    the state above changes under any call the input can make.
 * Guest memory is zeroed where it may not be zero (fz_dirty: the pages
 * the library mapped and the pages the harness wrote).  A domain of
 * another configuration (max_evtchn_port, PIRQs) at the next input is
 * destroyed and made with that one; the layout is set.
 *
 * So each input does the same thing alone and after any other, a crash
 * reproduces with its input alone, and evtchn_fuzz_set_fresh(1) (fresh
 * domains for every input) gives the same results (test_fuzz_replay
 * compares them).
 */

static bool recyclable(struct fz *f, int di)
{
	const struct fz_dom *z = &f->dom[di];

	/* (a vcpu_info, a dummy's upcall_pending, a timer tick, an upcall
	 * vector: z->lasting) */
	if (fresh_only || z->lasting || z->fifo || z->callback_via ||
	    f->scan[di].end != BUCKET)
		return false;
	/* op_recreate() may have made it in another configuration. */
	return z->cfg_max == f->cur->cfg_max[di] &&
	       z->pcfg == (di == 2 ? f->cur->pcfg2 : 0);
}

static void recycle(struct fz *f, int di)
{
	struct fz_dom *z = &f->dom[di];
	struct fz_scan *s = scan(f, di);
	static const unsigned char zero[EVTCHN_PAGE_SIZE];
	/* What the input reached, not what the harness did after it. */
	struct evtchn_fuzz_stats keep = stats;

	for (uint32_t p = 1; p < s->end; p++) {
		struct evtchn_close c = { .port = p };

		if (s->st[p].status != EVTCHNSTAT_closed)
			CHECK(fz_op_at(z, 0, EVTCHNOP_close, &c, sizeof(c)) ==
			      0);
	}
	if (z->hiwater) {
		struct evtchn_bind_ipi b = { .vcpu = 0 };
		struct evtchn_close c = { .port = 1 };

		CHECK(fz_op_at(z, 0, EVTCHNOP_bind_ipi, &b, sizeof(b)) == 0);
		CHECK(b.port == 1);
		CHECK(fz_op_at(z, 0, EVTCHNOP_close, &c, sizeof(c)) == 0);
	}
	fz_flush(f);
	CHECK(s->bound == 0 && s->end == BUCKET);
	verify_dump(f, di); /* nothing bound now */
	if (memcmp(si(z), zero, EVTCHN_PAGE_SIZE))
		memset(si(z), 0, EVTCHN_PAGE_SIZE);
	if (z->paused)
		CHECK(evtchn_domain_set_paused(z->d, false) == 0);
	for (uint32_t v = 0; v < z->nr_vcpus; v++)
		if (z->online[v])
			CHECK(evtchn_vcpu_set_online(z->d, v, false) == 0);
	dom_looks_fresh(f, di);
	stats = keep;
	stats.recycled++;
}

/* The end of an input (see "Inputs in a row"). */
static void teardown(struct fz *f, uint8_t flags)
{
	bool any = false;

	stats_ops = stats;
	for (int di = 0; di < NDOM; di++)
		any |= f->dom[di].d != NULL;
	/* The host refuses while domains live. */
	if (any)
		CHECK(evtchn_host_destroy(f->h) == -EBUSY);
	fz_flush(f);
	/* The whole table of each domain the input reached; the PIRQ table
	 * port by port where there were PIRQs. */
	for (int di = 0; di < NDOM; di++) {
		struct fz_dom *z = &f->dom[di];

		if (z->d && z->touched && !z->verified)
			check_tables(f, di, CHK_WHOLE, z->pirq_used);
	}
	/* Domains go in the order the input says, the tables checked after
	 * each (peers unbound for it); domain 0, which the checks look
	 * through, last. */
	for (int k = 0; k < 2; k++) {
		int di = (flags & 0x10) ? 1 + k : 2 - k;
		struct fz_dom *z = &f->dom[di];

		if (!z->d || recyclable(f, di))
			continue;
		dom_destroy(f, di);
		check_all(f, false);
	}
	for (int di = 0; di < NDOM; di++)
		if (f->dom[di].d && f->dom[di].touched && recyclable(f, di))
			recycle(f, di);
	if (f->dom[0].d && !recyclable(f, 0))
		dom_destroy(f, 0);
	for (int di = 0; di < NDOM; di++)
		mem_clean(&f->dom[di]);
	/* Made again for the next input, in the configuration this one had
	 * (so the allocations of an input and its frees match). */
	for (int di = 0; di < NDOM && !fresh_only; di++) {
		struct fz_dom *z = &f->dom[di];

		if (!z->d)
			dom_create(f, di, f->l32 >> di & 1, f->maxsel[di],
				   di == 2 ? f->pcfg2 : 0);
	}
	for (int di = 0; di < NDOM; di++)
		f->cur->d[di] = f->dom[di].d;
}

/*
 * The host of the input's configuration: the one kept for it, else the
 * one of its set used longest ago, given this configuration: its domains
 * of another configuration (recycled: nothing bound) are destroyed, the
 * others kept.  Its domains become the slots' (dom_create() keeps them).
 */
static void host_select(struct fz *f)
{
	struct fz_host *set, *hs = NULL;
	uint32_t cfg_max[NDOM], hash = f->pcfg2;

	for (int di = 0; di < NDOM; di++) {
		cfg_max[di] = cfg_max_of(f->maxsel[di]);
		hash = hash * 0x9E3779B1u + cfg_max[di];
	}
	set = &f->hosts[(hash ^ hash >> 16) % FZ_SETS * FZ_WAYS];
	for (unsigned w = 0; w < FZ_WAYS && !hs; w++)
		if (set[w].h && !memcmp(set[w].cfg_max, cfg_max, sizeof(cfg_max)) &&
		    set[w].pcfg2 == f->pcfg2)
			hs = &set[w];
	if (!hs) {
		hs = &set[0];
		for (unsigned w = 1; w < FZ_WAYS; w++)
			if (set[w].used < hs->used)
				hs = &set[w];
		if (!hs->h) {
			stats.hosts++;
			CHECK(evtchn_host_create(&hs->h) == 0);
			/* Time stands still: timers are set, checked, never
			 * fire. */
			CHECK(evtchn_host_set_clock(hs->h, fz_clock, NULL) == 0);
		}
		for (int di = 0; di < NDOM; di++)
			if (hs->d[di] &&
			    (hs->cfg_max[di] != cfg_max[di] ||
			     (di == 2 && hs->pcfg2 != f->pcfg2))) {
				CHECK(evtchn_domain_destroy(hs->d[di]) == 0);
				hs->d[di] = NULL;
			}
		memcpy(hs->cfg_max, cfg_max, sizeof(cfg_max));
		hs->pcfg2 = f->pcfg2;
	}
	hs->used = ++f->inputs;
	f->cur = hs;
	f->h = hs->h;
	for (int di = 0; di < NDOM; di++)
		f->dom[di].d = hs->d[di];
}

static struct fz *g_fz;

static struct fz *fz_ctx(void)
{
	struct fz *f = g_fz;

	if (f)
		return f;
	f = g_fz = calloc(1, sizeof(*f));
	CHECK(f);
	for (int i = 0; i < NDOM; i++) {
		f->dom[i].mem = aligned_alloc(EVTCHN_PAGE_SIZE, MEM_SIZE);
		CHECK(f->dom[i].mem);
		memset(f->dom[i].mem, 0, MEM_SIZE);
	}
	if (evtchn_lone_grace)
		evtchn_lone_grace(true);
	if (trace < 0) {
		const char *e = getenv("EVTCHN_FUZZ_TRACE");

		trace = e && *e && *e != '0';
	}
	return f;
}

int evtchn_fuzz_one(const uint8_t *data, size_t size)
{
	struct fz *f = fz_ctx();
	uint8_t flags;

	f->p = data;
	f->n = data ? size : 0;
	f->ops = 0;
	stats.inputs++;
	flags = in8(f);
	for (int i = 0; i < NDOM; i++)
		f->maxsel[i] = in8(f);
	f->l32 = flags & 7;
	f->pcfg2 = (flags >> 5) & 3;
	f->check_always = flags & FZ_HDR_CHECK_ALWAYS;
	host_select(f);
	for (int i = 0; i < NDOM; i++)
		dom_create(f, i, flags >> i & 1, f->maxsel[i],
			   i == 2 ? f->pcfg2 : 0);

	while (f->n && f->ops < MAX_OPS) {
		uint8_t op = in8(f);

		f->ops++;
		stats.ops++;
		if (op < FZ_OP_CALLBACK)
			op_evtchn(f);
		else if (op < FZ_OP_PHYSDEV)
			op_callback(f);
		else if (op < FZ_OP_MSI)
			op_physdev(f);
		else if (op < FZ_OP_GSI)
			op_msi(f);
		else if (op < FZ_OP_CONNECT)
			op_gsi(f);
		else if (op < FZ_OP_REGISTER)
			op_connect(f);
		else if (op < FZ_OP_RAW)
			op_register(f);
		else if (op < FZ_OP_VIRQ)
			op_raw(f);
		else if (op < FZ_OP_RAISE)
			op_virq(f);
		else if (op < FZ_OP_LAYOUT)
			op_raise(f);
		else if (op < FZ_OP_PAUSE)
			op_layout(f);
		else if (op < FZ_OP_ONLINE)
			op_pause(f);
		else if (op < FZ_OP_SCRIBBLE_SI)
			op_online(f);
		else if (op < FZ_OP_SCRIBBLE_MEM)
			op_scribble_si(f);
		else if (op < FZ_OP_GUEST_UPCALL)
			op_scribble_mem(f);
		else if (op < FZ_OP_GUEST_MASK)
			op_guest_upcall(f);
		else if (op < FZ_OP_GUEST_UNMASK)
			op_guest_mask(f);
		else if (op < FZ_OP_RECREATE)
			op_guest_unmask(f);
		else if (op < FZ_OP_CHECK)
			op_recreate(f);
		else if (op < FZ_OP_BADCREATE)
			check_all(f, true);
		else if (op < FZ_OP_FIFO)
			op_badcreate(f);
		else if (op < FZ_OP_SCRIBBLE_FIFO)
			op_fifo(f);
		else
			op_scribble_fifo(f);
		fz_flush(f);
		if (f->check_always || f->ops % FZ_CHECK_EVERY == 0)
			check_all(f, false);
	}
	teardown(f, flags);
	return 0;
}

void evtchn_fuzz_fini(void)
{
	struct fz *f = fz_ctx();

	/* The domains (recycled: nothing bound) and hosts kept. */
	for (unsigned i = 0; i < FZ_HOSTS; i++) {
		struct fz_host *hs = &f->hosts[i];

		if (!hs->h)
			continue;
		for (int di = NDOM - 1; di >= 0; di--)
			if (hs->d[di])
				CHECK(evtchn_domain_destroy(hs->d[di]) == 0);
		CHECK(evtchn_host_destroy(hs->h) == 0);
	}
	for (int di = 0; di < NDOM; di++) {
		struct fz_dom *z = &f->dom[di];

#if FZ_HAVE_GUEST
		if (z->g_ok)
			evtchn_guest_fini(&z->g);
#endif
		free(z->pm);
		free(z->mem);
		free(f->scan[di].st);
		free(f->scan[di].settling);
	}
	free(f->before.st);
	free(f->before.settling);
	free(dump_text.buf);
	dump_text.buf = NULL;
	dump_text.cap = dump_text.len = 0;
	free(f);
	g_fz = NULL; /* fz_ctx() makes a new one if called again */
}
