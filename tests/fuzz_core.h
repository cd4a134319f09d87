/* SPDX-License-Identifier: MIT */
/*
 * The fuzz entry shared by the libFuzzer target (fuzz_hypercall.c) and the
 * replay test (test_fuzz_replay.c).
 *
 * evtchn_fuzz_one() builds a host (privileged domain 0 with 1 vCPU,
 * unprivileged domains 1 and 2 with 3 and 40 vCPUs, 16 pages of flat guest
 * memory each), runs the input as a sequence of hostile operations, checks
 * every result against a model of Xen's answers (2-level and FIFO ABIs),
 * and aborts when the library breaks a rule.  Returns 0.  Deterministic:
 * the same input does the same thing.
 *
 * Input format (for hand-made inputs; every byte past the end reads as 0):
 *
 *   header  [flags] [max0] [max1] [max2]
 *     flags bit 0..2: 32-bit shared_info layout for domain 0..2
 *     flags bit 3:    check the whole port table after every operation
 *                     (otherwise every FZ_CHECK_EVERY operations)
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
 *   (u16/u32/u64 are little-endian.)
 *
 *   FZ_OP_EVTCHN    DOM VCPU cmd ADDR fill fields...
 *                   cmd b < 240: b % 15, else specials (15, 16, -1...);
 *                   fill < 224: plausible struct for cmd from fields (each
 *                   field one decoder above), else 24 raw bytes
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
 *                   unless b & 2), or created when absent
 *   FZ_OP_CHECK     (the whole port table, now)
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
	FZ_OP_EVTCHN = 0,        /* 0 .. 99 */
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

/* Run one input.  Returns 0; aborts when an invariant is broken. */
int evtchn_fuzz_one(const uint8_t *data, size_t size);

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
};
const struct evtchn_fuzz_stats *evtchn_fuzz_stats(void);
/* Whether the reference guest consumer is built in. */
int evtchn_fuzz_have_guest(void);

#endif /* EVTCHN_FUZZ_CORE_H */
