/* SPDX-License-Identifier: MIT */
/*
 * The fuzz entry shared by the libFuzzer target (fuzz_hypercall.c) and the
 * replay test (test_fuzz_replay.c).
 *
 * evtchn_fuzz_one() starts from a host with fresh domains (privileged
 * domain 0 with 1 vCPU, unprivileged domains 1 and 2 with 3 and 40 vCPUs,
 * 16 pages of guest memory each, zero), runs the input as a sequence of
 * hostile operations, checks every result against a model of Xen's
 * answers (2-level and FIFO ABIs), and aborts when the library breaks a
 * rule.  Returns 0.  Deterministic: the same input does the same thing,
 * alone or after any other (hosts and domains are kept from input to
 * input, as fresh ones: "Inputs in a row" in fuzz_core.c).
 *
 * Input format (for hand-made inputs; every byte past the end reads as 0):
 *
 *   header  [flags] [max0] [max1] [max2]
 *     flags bit 0..2: 32-bit shared_info layout for domain 0..2
 *     flags bit 3:    check the whole port table after every operation
 *                     (otherwise every FZ_CHECK_EVERY operations)
 *     flags bit 4:    the teardown destroys domain 1 before domain 2 (the
 *                     domains it destroys: those a recycle cannot make
 *                     fresh again)
 *     flags bit 5..6: domain 2's PIRQ configuration PCFG (0..3)
 *     maxN: < 128 the ABI maximum, else fz_max_ports[(maxN - 128) % 16]
 *   then operations, each [op] [operands...], op in the ranges below.
 *
 * Operand decoders (one byte unless noted):
 *   DOM    b % 3                        a domain index (0, 1, 2)
 *   VCPU   b < 250: b % nr_vcpus, else an invalid calling vCPU
 *   TVCPU  b < 200: b % 4; < 240: 30 + b % 12; else huge values
 *   PORT   b < 100: b % 8; < 200: b % 71; else 63, 64, 127, 128, 1023, 1024, 4095,
 *          4096, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, [u32]
 *   DOMID  b % 10: 0 1 2 SELF SELF 1 2 0 3 / special (b / 10 % 4):
 *          DOMID_IO, 0xFFFF, [u16], 0x7FEF
 *   VIRQ   b < 230: b % 26; else 0xFFFFFFFF, 0x80000000, 24, [u32]
 *   ADDR   m < 192: [u16] (anywhere in the 64 KiB)
 *          < 216: 65536 - [b % 40] (at or straddling the end)
 *          < 232: [b % 15 + 1] * 4096 - [b % 23 + 1] (across a page)
 *          < 240: [b] (near gpa 0)
 *          < 248: [u64] (anything)
 *          else   2^64 - 1 - [b % 32] (wrapping)
 *   PIRQ   (of domain D) b < 32: the (b % n)th PIRQ mapped, < 64: the
 *          (b % n)th PIRQ with some state (bound, allocated or mapped)
 *          (none: as b < 160); < 160:
 *          b % nr_pirqs; < 200: nr_pirqs - 1 - b % 16; < 240: specials
 *          (-1, -2, 0, nr_pirqs, nr_pirqs - 1, 255, 256, 0x120,
 *          0x7FFFFFFF, 0x80000000); else [u32]
 *   GSI    (of domain D) b < 80: the (b % n)th GSI mapped to a PIRQ
 *          (none: as below); < 140: 16 + b % 8; < 220: b % 48;
 *          < 240: 48 + b % 16; else [u32]
 *   PCFG   PIRQs of a domain: 0 Xen's default (nr_pirqs 56, nr_irqs_gsi
 *          24), 1 nr_pirqs 20 with nr_irqs_gsi 16 (no GSI range), 2
 *          nr_pirqs 300 with nr_irqs_gsi 48 (PIRQs above 255), 3 none
 *          (no_pirqs: the PHYSDEVOPs -ENOSYS)
 *   (u16/u32/u64 are little-endian.)
 *
 *   FZ_OP_EVTCHN    DOM VCPU cmd ADDR fill fields...
 *                   cmd b < 240: b % 15, else specials (15, 16, -1...);
 *                   fill < 224: plausible struct for cmd from fields (each
 *                   field one decoder above), else 24 raw bytes
 *   FZ_OP_CALLBACK  DOM VCPU mode ADDR ...: HVMOPs (mode % 4)
 *                   0 set_param d i v: HVM_PARAM_CALLBACK_IRQ (i < 240,
 *                     else index i % 16 + 1, 255: [u32]) of DOMID_SELF
 *                     (d < 192, else DOMID) := v < 100: vector [b]
 *                     (2 << 56); < 150: GSI [b]; < 180: PCI INTx [u16];
 *                     < 210: 0; < 230: type 3..10; else [u64]
 *                   1 get_param d i: the same, read back
 *                   2 set_evtchn_upcall_vector TVCPU vector
 *                   3 op [u64 when op >= 200, else op % 40], 16 bytes
 *   FZ_OP_PHYSDEV   DOM VCPU sub ADDR ...: PHYSDEVOPs (sub % 10)
 *                   0, 1 map_pirq d type index pirq bus devfn entry tb:
 *                     domid SELF (d < 200, else DOMID); type < 170
 *                     GSI, < 190 MSI, < 205 MSI_SEG, < 220 MULTI_MSI,
 *                     < 230 2, else [u32]; index GSI-like (b < 120:
 *                     16 + b % 8, < 200: b % 48, < 240 specials, else
 *                     [u32]); pirq -1 (b < 96), else PIRQ; table_base 0
 *                     (b < 200) or [u64]
 *                   2 unmap_pirq d PIRQ; 3 eoi PIRQ; 4 irq_status_query
 *                     PIRQ flags; 5 get_free_pirq type (b < 128 MSI,
 *                     < 192 GSI, else [u32]) pirq
 *                   6 get_free_pirq k type: k % 48 + 1 times
 *                   7 c GSI: Linux's GSI: callback vector 0xf3 first unless
 *                     c % 4 == 0, map_pirq(GSI, -1), bind_pirq and
 *                     irq_status_query unless c & 4; when c & 8 the GSI
 *                     high, c >> 4 & 3 EOIs, low unless c & 0x40
 *                   8 c: Linux's MSI: get_free_pirq(MSI), bind_pirq and
 *                     irq_status_query unless c & 1, then (c >> 1 & 3) + 1
 *                     MSIs to it
 *                   9 cmd (b < 200: b % 40, else [u64]) n bytes[n % 25]
 *   FZ_OP_MSI       DOM b ...: evtchn_msi_inject(); b < 160: PIRQ as
 *                   Linux's MSI address, data 0 (b % 8: 5 junk in address
 *                   bits 32..39 [b], 6 data [u16] & ~0xff, 7 data vector
 *                   [b]), b >= 128 a burst of b % 4 + 2; < 240: address
 *                   [u64], data 0 (b < 200) or [u32]; 255: NULL domain
 *                   first; else address [u64] data [u32]
 *   FZ_OP_GSI       DOM GSI b: evtchn_gsi_set(); b % 4: 0 low, 1 high,
 *                   2 high then low, 3 high then b / 4 % 4 + 1
 *                   PHYSDEVOP_eoi of its PIRQ (then low when b & 0x80)
 *   FZ_OP_CONNECT   b ADDR ADDR: alloc_unbound in A = b % 3 for
 *                   B = b / 3 % 3 (by domain 0 when b / 9 & 1), then
 *                   bind_interdomain from B; DOMID_SELF when b / 18 & 1
 *   FZ_OP_REGISTER  DOM VCPU TVCPU gfn offset ADDR (VCPUOP_register_vcpu_info)
 *                   gfn b < 220: b % 16; offset b < 96: (b % 64) * 64,
 *                   < 128: 4032 (the last valid offset), see fuzz_core.c
 *   FZ_OP_RAW       DOM VCPU nr cmd args... n bytes[n % 25]
 *   FZ_OP_VIRQ      DOM TVCPU VIRQ              evtchn_send_virq()
 *   FZ_OP_RAISE     DOM PORT                    evtchn_port_raise()
 *   FZ_OP_LAYOUT    DOM l (< 120: 64, < 240: 32, else invalid)
 *   FZ_OP_PAUSE     DOM b&1
 *   FZ_OP_ONLINE    DOM TVCPU b&1
 *   FZ_OP_SCRIBBLE_SI   DOM mode ...   the guest writes its shared_info
 *   FZ_OP_SCRIBBLE_MEM  DOM [u16] len bytes[len % 64 + 1]
 *   FZ_OP_GUEST_UPCALL  DOM b (vCPU b % nr)   reference consumer's handler
 *   FZ_OP_GUEST_MASK    DOM PORT
 *   FZ_OP_GUEST_UNMASK  DOM b PORT
 *   FZ_OP_RECREATE  b layout max: domain 1 + b % 2 destroyed (re-created
 *                   unless b & 2), or created when absent; layout & 1:
 *                   32-bit; (layout >> 1) % 8: 0..4 PCFG 0, 5..7 PCFG 1..3
 *   FZ_OP_CHECK     (the whole port table of each domain the input has
 *                   reached, now, port by port, and every PIRQ)
 *   FZ_OP_BADCREATE b: a bad evtchn_domain_create() that must fail
 *   FZ_OP_FIFO      DOM mode ...   the FIFO ABI; mode 255 k: bind_ipi
 *                   up to port 4096 + (k % 32) * 64 (k 255, when
 *                   evtchn_fuzz_set_all_ports(1) was called: until
 *                   -ENOSPC), else (mode % 8):
 *                   0..2 setup: m g n p: EVTCHNOP_init_control for each
 *                        vCPU v with bit v % 8 of m set (control block in
 *                        gfn g % 16 at offset (v % 56) * 72), then n % 4
 *                        event-array pages at gfns (p + i) % 16; mode 1
 *                        goes through the reference consumer
 *                        (evtchn_guest_fifo_init_vcpu / _expand)
 *                   3 expand k g: EVTCHNOP_expand_array k times with gfn
 *                        GFN(g) (the same page again and again: the
 *                        library does not need distinct pages), so the
 *                        129th is -ENOSPC
 *                   4 TVCPU g o: one init_control, gfn GFN(g), offset
 *                        CBOFF(o)
 *                   5 PORT prio: set_priority (prio b < 200: b % 16, else
 *                        16, 255, 0xFFFFFFFF, [u32])
 *                   6 g c: one expand_array with gfn GFN(g), by the
 *                        consumer when c & 1
 *                   7 g p: the consumer sets up every vCPU (control
 *                        blocks from frame g % 16) and page p % 16
 *                   GFN(b)   b < 224: b % 16, else 16, 17, 0xFFFFF, 2^40,
 *                            2^64-1, [u64]
 *                   CBOFF(b) b < 160: (b % 56) * 72; < 200: (b % 25) * 8;
 *                            else 4024, 4025, 4032, 4, 4096, 0xFFFFFFFF,
 *                            4020, [u32]
 *   FZ_OP_SCRIBBLE_FIFO  DOM mode ...  the guest writes its FIFO state:
 *                   0 PORT op v: event word of PORT: set / clear P, M, L
 *                        or BUSY, LINK = PORT(v), or [u32]
 *                   1 TVCPU field [u32]: control block word field % 18
 *                        (ready, _rsvd, head[0..15]); field >= 128: a
 *                        port-like value PORT instead of [u32]
 *                   2 page act: every word of event-array page page % n:
 *                        mask, unmask, unlink (clear L and LINK), zero
 *                   3 PORT: ack (clear P) then unlink the word
 */
#ifndef EVTCHN_FUZZ_CORE_H
#define EVTCHN_FUZZ_CORE_H

#include <stddef.h>
#include <stdint.h>

enum {
	FZ_OP_EVTCHN = 0,        /* 0 .. 83 */
	FZ_OP_CALLBACK = 84,     /* 84 .. 86 */
	FZ_OP_PHYSDEV = 87,      /* 87 .. 94 */
	FZ_OP_MSI = 95,          /* 95 .. 97 */
	FZ_OP_GSI = 98,          /* 98 .. 99 */
	FZ_OP_CONNECT = 100,     /* 100 .. 114 */
	FZ_OP_REGISTER = 115,    /* 115 .. 129 */
	FZ_OP_RAW = 130,         /* 130 .. 144 */
	FZ_OP_VIRQ = 145,        /* 145 .. 154 */
	FZ_OP_RAISE = 155,       /* 155 .. 164 */
	FZ_OP_LAYOUT = 165,      /* 165 .. 171 */
	FZ_OP_PAUSE = 172,       /* 172 .. 177 */
	FZ_OP_ONLINE = 178,      /* 178 .. 185 */
	FZ_OP_SCRIBBLE_SI = 186, /* 186 .. 197 */
	FZ_OP_SCRIBBLE_MEM = 198,/* 198 .. 205 */
	FZ_OP_GUEST_UPCALL = 206,/* 206 .. 217 */
	FZ_OP_GUEST_MASK = 218,  /* 218 .. 223 */
	FZ_OP_GUEST_UNMASK = 224,/* 224 .. 231 */
	FZ_OP_RECREATE = 232,    /* 232 .. 235 */
	FZ_OP_CHECK = 236,       /* 236 .. 239 */
	FZ_OP_BADCREATE = 240,   /* 240 .. 243 */
	FZ_OP_FIFO = 244,        /* 244 .. 249 */
	FZ_OP_SCRIBBLE_FIFO = 250, /* 250 .. 255 */
};

#define FZ_HDR_CHECK_ALWAYS 0x08
#define FZ_CHECK_EVERY 16u
#define FZ_MEM_PAGES 16u

/* Run one input.  Returns 0; aborts when an invariant is broken.  The
 * host and the domains live on from input to input (see "Inputs in a
 * row" in fuzz_core.c): each input still starts from fresh domains. */
int evtchn_fuzz_one(const uint8_t *data, size_t size);

/* Fresh domains made for every input, destroyed at its end (off by
 * default): the same results, slower. */
void evtchn_fuzz_set_fresh(int on);

/* Destroy the host and the domains kept between inputs (checked). */
void evtchn_fuzz_fini(void);

/* Let FZ_OP_FIFO's fill bind all 131,071 FIFO ports (off by default).  Not
 * for the libFuzzer target: every table scan is then 131,072 ports, and
 * with a free port left LINKED below them each allocation scans up from it
 * (as Xen's get_free_port() scans from 0), so a fill is quadratic. */
void evtchn_fuzz_set_all_ports(int on);

/* What the inputs run so far reached, summed over evtchn_fuzz_one() calls
 * (tests check that deep states are reached). */
struct evtchn_fuzz_stats {
	unsigned long inputs, ops, hypercalls, ok;
	unsigned long interdomain, loopback, virq, ipi, pirq, unbound, closes;
	unsigned long resets, registered, high_vcpu_registered, layout_switch;
	unsigned long sends_delivered, upcalls, guest_events, recreated;
	unsigned long efault, checks;
	/* FIFO ABI */
	unsigned long fifo_switches, fifo_pages, fifo_enospc, fifo_resets;
	unsigned long fifo_linked, fifo_saved, fifo_raised, fifo_no_cb;
	unsigned long fifo_upcalls, fifo_busy_skips, fifo_guest_events;
	unsigned long set_priority_ok, fifo_ports_high;
	/* PIRQs: PHYSDEVOPs checked; GSI maps made, refused (0, nothing
	 * changed) and exhausted (-EINVAL, -28); unmaps; get_free_pirq and
	 * its -ENOSPC; status queries answered; EOIs answered and those that
	 * raised the PIRQ again; MSIs delivered to a port, dropped (no port),
	 * that mapped their PIRQ, -EBUSY, -ERANGE, -EINVAL, ordinary (1);
	 * GSI changes routed to a PIRQ, rising edges delivered and lost (no
	 * port); vector callbacks set, upcall vectors set and those that
	 * raised a pending upcall; where the library's PIRQ entry rule
	 * differs from Xen's (see fuzz_core.c) */
	unsigned long physdev_ops, pirq_maps, pirq_map_refused, pirq_map_enospc;
	unsigned long pirq_unmaps, pirq_free, pirq_free_enospc, pirq_status_ok;
	unsigned long pirq_eoi_ok, pirq_eoi_raised, msi_delivered, msi_dropped;
	unsigned long msi_mapped, msi_ebusy, msi_erange, msi_einval, msi_vector;
	unsigned long gsi_routed, gsi_edges, gsi_lost;
	unsigned long callback_vectors, upcall_vectors, upcall_vector_raised;
	unsigned long pirq_entry_diff;
	/* Inputs in a row: domains recycled at an input's end, and kept for
	 * the next input (not made again); hosts made. */
	unsigned long recycled, reused, hosts;
};
const struct evtchn_fuzz_stats *evtchn_fuzz_stats(void);
/* The same counts as they were when the last input's operations ended,
 * before the domains were checked whole and left for the next input. */
const struct evtchn_fuzz_stats *evtchn_fuzz_stats_ops(void);
/* Whether the reference guest consumer is built in. */
int evtchn_fuzz_have_guest(void);

#endif /* EVTCHN_FUZZ_CORE_H */
