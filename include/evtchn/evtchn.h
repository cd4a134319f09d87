/* SPDX-License-Identifier: MIT */
/*
 * libevtchn: the hypervisor side of Xen event channels for any VMM.
 *
 * Conventions (the whole API):
 *  - Calls return 0 (or a non-negative result) on success and a negative
 *    errno value on failure.  Values a guest sees are Xen's (<xen/errno.h>,
 *    which match Linux x86 errno numbers).
 *  - Objects are opaque and named evtchn_<object>_<verb>.
 *  - Callbacks end in _cb, take the object first and a void *opaque last.
 *  - The library never prints and never exits the process.
 *
 * Threads: every call documents who may make it.  "Any thread" means any
 * thread of the process, concurrently with any other call on other objects
 * and with the hypercall entry on the same domain.
 */
#ifndef EVTCHN_EVTCHN_H
#define EVTCHN_EVTCHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the shared library exports; everything else is hidden. */
#define EVTCHN_API __attribute__((visibility("default")))

#define EVTCHN_PAGE_SHIFT 12
#define EVTCHN_PAGE_SIZE (1u << EVTCHN_PAGE_SHIFT)

struct evtchn_host;
struct evtchn_domain;

/*
 * Guest memory, as the VMM supplies it.
 *
 * Either a flat guest-physical region (set with evtchn_guest_mem_flat(): guest
 * physical address 0 is at flat_base, flat_size bytes long) or callbacks:
 *
 * map_cb: return the host address of the 4 KiB guest-physical page @gfn, or
 *   NULL when @gfn is not RAM the guest may use.  The library keeps a mapping
 *   it uses for guest state (vcpu_info pages until the domain is destroyed,
 *   FIFO control blocks and event-array pages until EVTCHNOP_reset or
 *   destroy) and releases it with unmap_cb; mappings used to copy hypercall
 *   arguments, and pages a sub-op refuses, are released at once.  Called on
 *   control paths only (never on the send path).
 * unmap_cb: optional; releases a mapping returned by map_cb.
 * translate_cb: optional; turns a hypercall argument address (a guest
 *   virtual address for the calling vCPU) into a guest-physical address.
 *   Return 0, or -EFAULT when the address is not mapped.  NULL means
 *   hypercall argument addresses are guest-physical (identity).
 * All three are called on the thread of the library call that needs them,
 * under no lock of the library and outside its RCU read-side section: they
 * may take any lock of the VMM's, even one a vCPU thread holds while it is
 * inside any library call.  One exception: the pages of a domain reset by
 * another (a control domain's EVTCHNOP_reset) are unmapped on the
 * resetting thread, and evtchn_domain_destroy() of the reset domain waits
 * for that, so unmap_cb must not wait for a thread inside that destroy.
 */
struct evtchn_guest_mem {
	void *(*map_cb)(struct evtchn_domain *d, uint64_t gfn, bool writable,
			void *opaque);
	void (*unmap_cb)(struct evtchn_domain *d, uint64_t gfn, void *hva,
			 void *opaque);
	int (*translate_cb)(struct evtchn_domain *d, uint32_t vcpu,
			    uint64_t gva, uint64_t *gpa, void *opaque);
	void *opaque;
	void *flat_base;
	uint64_t flat_size;
};

/* Fill @mem for a flat guest-physical region at @base of @size bytes. */
EVTCHN_API void evtchn_guest_mem_flat(struct evtchn_guest_mem *mem, void *base,
			   uint64_t size);

/*
 * Upcall callback: vCPU @vcpu of @d must get the event channel upcall (its
 * vcpu_info.evtchn_upcall_pending went from 0 to 1).  Called from whatever
 * thread raised the event (a vCPU thread, a backend, a timer), possibly
 * several at once for different vCPUs, before the library call that raised
 * it returns, under no lock of the library and outside its RCU read-side
 * section: it may take any lock of the VMM's, even one a vCPU thread holds
 * while it is inside any library call, and may itself call the library.
 * One exception: evtchn_domain_destroy() of @d waits for the callbacks of
 * @d being made, so the callback must not wait for a thread inside that
 * destroy, nor destroy @d itself.  docs/api.md says more.
 */
typedef void (*evtchn_upcall_cb)(struct evtchn_domain *d, uint32_t vcpu,
				 void *opaque);

/*
 * How an upcall reaches the guest (HVM): what the guest chose with
 * HVM_PARAM_CALLBACK_IRQ or HVMOP_set_evtchn_upcall_vector.
 */
enum evtchn_upcall_method {
	EVTCHN_UPCALL_VCPU_VECTOR = 1, /* per-vCPU vector: inject @vector
					* (edge, through the local APIC) */
	EVTCHN_UPCALL_VECTOR = 2,      /* global callback vector: inject
					* @vector while upcall_pending is set */
	EVTCHN_UPCALL_GSI = 3,         /* set GSI @gsi to @level */
	EVTCHN_UPCALL_PCI_INTX = 4,    /* set INTx @pci_intx of PCI device
					* @pci_dev to @level */
};

struct evtchn_irq {
	enum evtchn_upcall_method method;
	uint32_t vcpu;
	uint8_t vector;
	uint32_t gsi;
	uint8_t pci_dev, pci_intx;
	bool level;
};

/*
 * The interrupt callback: @d must raise (or, for a line, set to @level)
 * what @irq says.  Same context and rules as evtchn_upcall_cb.  When a
 * domain has it, it replaces upcall_cb and follows Xen: no callback
 * configured means no interrupt; with GSI or INTx only vCPU 0's upcall
 * raises the line.
 */
typedef void (*evtchn_irq_cb)(struct evtchn_domain *d,
			      const struct evtchn_irq *irq, void *opaque);

/* Shared_info layout; Xen latches it from the guest's mode. */
enum evtchn_layout {
	EVTCHN_LAYOUT_64 = 0, /* 64-bit guest: 64-bit words, 4096 2L ports */
	EVTCHN_LAYOUT_32 = 1, /* 32-bit guest: 32-bit words, 1024 2L ports */
};

struct evtchn_domain_config {
	uint16_t domid;           /* below DOMID_FIRST_RESERVED (0x7FF0) */
	uint32_t nr_vcpus;        /* 1 .. EVTCHN_MAX_VCPUS */
	/*
	 * Highest port number the domain may allocate (Xen's max_evtchn_port;
	 * the toolstack's max_event_channels).  0 means the ABI maximum.
	 */
	uint32_t max_evtchn_port;
	enum evtchn_layout layout;
	/*
	 * What Xen's default (dummy XSM) policy gives a control domain:
	 * status of other domains' ports, alloc_unbound on another domain's
	 * behalf, reset of another (paused) domain.
	 */
	bool privileged;
	struct evtchn_guest_mem mem;
	evtchn_upcall_cb upcall_cb; /* may be NULL */
	void *opaque;               /* passed to upcall_cb and irq_cb */
	evtchn_irq_cb irq_cb;       /* may be NULL; replaces upcall_cb */
	uint32_t nr_gsis;           /* GSIs of the guest; 0: 48 (Xen's) */
	/*
	 * PIRQs (HVM).  nr_pirqs: how many (0: Xen 4.17's default for a
	 * guest, nr_irqs_gsi + 32); at most 32768.  nr_irqs_gsi: Xen's host
	 * GSI count, where allocation of GSI PIRQs (upwards from 16) ends and
	 * that of MSI PIRQs (downwards from nr_pirqs - 1) stops (0: 24, one
	 * IOAPIC); 16 .. nr_pirqs.  no_pirqs: the guest was built without
	 * Xen's XEN_X86_EMU_USE_PIRQ (Xen 4.19's default): the PHYSDEVOPs
	 * answer -ENOSYS.
	 */
	uint32_t nr_pirqs;
	uint32_t nr_irqs_gsi;
	bool no_pirqs;
};

#define EVTCHN_MAX_VCPUS 4096

/*
 * Hosts.  A host owns domains looked up by domid.  Any thread.
 * evtchn_host_destroy() refuses with -EBUSY while domains are alive.
 */
EVTCHN_API int evtchn_host_create(struct evtchn_host **out);
EVTCHN_API int evtchn_host_destroy(struct evtchn_host *h);

/*
 * Domains.  Control calls; any thread.  evtchn_domain_create() returns
 * -EEXIST when the domid is taken, -EINVAL for a bad configuration.
 * evtchn_domain_destroy() closes every port (interdomain peers in other
 * domains become unbound, as when Xen destroys a domain), waits until no
 * sender can still see the domain, and frees it.
 */
EVTCHN_API int evtchn_domain_create(struct evtchn_host *h,
			 const struct evtchn_domain_config *cfg,
			 struct evtchn_domain **out);
EVTCHN_API int evtchn_domain_destroy(struct evtchn_domain *d);
EVTCHN_API struct evtchn_domain *evtchn_host_domain(struct evtchn_host *h,
					 uint16_t domid);
EVTCHN_API uint16_t evtchn_domain_id(const struct evtchn_domain *d);
EVTCHN_API uint32_t evtchn_domain_nr_vcpus(const struct evtchn_domain *d);

/*
 * The domain's shared_info page (EVTCHN_PAGE_SIZE bytes, page aligned),
 * owned by the library as Xen owns it.  The VMM maps it into the guest where
 * the guest asks (XENMEM_add_to_physmap, XENMAPSPACE_shared_info).
 */
EVTCHN_API void *evtchn_domain_shared_info(struct evtchn_domain *d);

/* Latch the shared_info layout (Xen: at HVM_PARAM_CALLBACK_IRQ or when the
 * hypercall page is written, from the guest's mode).  Returns 0. */
EVTCHN_API int evtchn_domain_set_layout(struct evtchn_domain *d, enum evtchn_layout l);
EVTCHN_API enum evtchn_layout evtchn_domain_layout(const struct evtchn_domain *d);

/* Paused by its controller: a privileged domain may then reset it. */
EVTCHN_API int evtchn_domain_set_paused(struct evtchn_domain *d, bool paused);

/*
 * Online state of a vCPU (Xen: not VPF_down).  Xen refuses to register the
 * vcpu_info of a vCPU other than the caller while it is online.  vCPUs
 * start offline; a VMM that tracks INIT/SIPI may report it.
 */
EVTCHN_API int evtchn_vcpu_set_online(struct evtchn_domain *d, uint32_t vcpu,
			   bool online);

/*
 * Hypercall entry.  The VMM calls it on every Xen hypercall exit of vCPU
 * @vcpu with the hypercall number and the six argument registers (for a
 * 32-bit guest, the 32-bit registers zero-extended).  Returns Xen's return
 * value.  Handles __HYPERVISOR_event_channel_op, __HYPERVISOR_set_timer_op,
 * __HYPERVISOR_physdev_op's PIRQ sub-ops (map_pirq, unmap_pirq, eoi,
 * irq_status_query, get_free_pirq: -ENOSYS with no_pirqs, as Xen answers;
 * a VMM advertises XENFEAT_hvm_pirqs only when the domain has PIRQs),
 * HVMOP_{set,get}_param for HVM_PARAM_CALLBACK_IRQ and
 * HVMOP_set_evtchn_upcall_vector,
 * SCHEDOP_poll (which blocks the calling thread) and the vcpu_ops
 * register_vcpu_info and {set,stop}_{singleshot,periodic}_timer; any other
 * hypercall, sched_op or vcpu_op returns -ENOSYS and changes nothing, so
 * the VMM can handle it.  Any vCPU thread, all at
 * once; a vCPU's own calls must not overlap.
 */
EVTCHN_API long evtchn_hypercall(struct evtchn_domain *d, uint32_t vcpu, uint64_t nr,
		      const uint64_t args[6]);

/*
 * The calling vCPU's mode.  Xen looks at it on every hypercall
 * (hvm_guest_x86_mode()): a vCPU in 64-bit mode gets the 64-bit handlers,
 * any other mode the compat ones, whatever layout shared_info latched.
 * That decides set_timer_op's deadline (one register, or low and high
 * halves), the layout of SCHEDOP_poll's, VCPUOP_set_singleshot_timer's and
 * PHYSDEVOP_map_pirq's argument, and the order of set_singleshot_timer's
 * checks (compat copies its argument before it refuses another vCPU).
 * evtchn_hypercall() assumes the mode the layout was latched from
 * (EVTCHN_MODE_LAYOUT); a VMM that knows the vCPU's mode at the exit (KVM:
 * EFER.LMA and CS.L) passes it to evtchn_hypercall_mode().
 */
enum evtchn_mode {
	EVTCHN_MODE_LAYOUT = 0, /* 32-bit iff the layout is EVTCHN_LAYOUT_32 */
	EVTCHN_MODE_64 = 1,     /* long mode, 64-bit code segment */
	EVTCHN_MODE_32 = 2,     /* anything else (compat, protected, real) */
	/* ORed in: the vCPU's interrupt flag is clear (RFLAGS.IF = 0), so an
	 * upcall cannot be taken now.  SCHEDOP_poll then blocks although an
	 * upcall is pending, as Xen's local_events_need_delivery() has it;
	 * without it the library takes interrupts to be enabled. */
	EVTCHN_MODE_IRQS_OFF = 0x100,
};

EVTCHN_API long evtchn_hypercall_mode(struct evtchn_domain *d, uint32_t vcpu,
				      enum evtchn_mode mode, uint64_t nr,
				      const uint64_t args[6]);

/*
 * Event sources outside the guest.  Any thread, no lock taken.
 * evtchn_send_virq(): raise VIRQ @virq (Xen: send_guest_vcpu_virq for
 *   per-vCPU VIRQs on @vcpu, send_guest_global_virq otherwise, @vcpu
 *   ignored).  Returns 0 whether or not the VIRQ is bound (Xen drops
 *   unbound VIRQs), -EINVAL for a bad virq or vcpu.
 * evtchn_port_raise(): make port @port of @d pending at its notify vCPU, as
 *   Xen does for an event arriving on it (KVM_XEN_HVM_EVTCHN_SEND).
 *   -EINVAL for an invalid port or one that is not bound.
 */
EVTCHN_API int evtchn_send_virq(struct evtchn_domain *d, uint32_t vcpu, uint32_t virq);
EVTCHN_API int evtchn_port_raise(struct evtchn_domain *d, uint32_t port);

/*
 * PIRQs: interrupts of emulated or assigned devices delivered as events
 * (Xen 4.17's emulated PIRQs of HVM guests).  The guest maps GSIs to PIRQs
 * (PHYSDEVOP_map_pirq), takes PIRQs for MSIs (PHYSDEVOP_get_free_pirq),
 * programs an MSI with data vector 0 and the PIRQ in the address, and binds
 * the PIRQ to a port (EVTCHNOP_bind_pirq); evtchn_hypercall() handles those.
 *
 * evtchn_msi_pirq(): the PIRQ an MSI write names: 0 and
 *   *pirq = ((addr >> 32) & 0xffffff00) | dest id (addr bits 19:12) when
 *   the data vector is 0; 1 when it is an ordinary MSI (the VMM delivers
 *   it as usual).  Pure; any thread.
 * evtchn_msi_inject(): Xen's hvm_inject_msi().  1: an ordinary MSI, not
 *   the library's; 0: the PIRQ's port was made pending, or the event was
 *   dropped because no port is bound (Xen drops it too); -ERANGE: PIRQ 0
 *   (or from 2^31: Xen 4.17's int); -EINVAL: PIRQ beyond nr_pirqs or mapped
 *   to a GSI; -EBUSY: Xen's refusal when another PIRQ holds the emulated
 *   MSI mapping and this one has no state.  Only an MSI that maps its PIRQ
 *   (while no PIRQ holds Xen's one emulated-MSI mapping) takes the domain
 *   lock; every other takes no lock.  Any thread, but not from a callback
 *   of the library nor inside the caller's own urcu_memb read-side
 *   section.
 * evtchn_gsi_set(): the level of GSI @gsi (< 48) changed.  Returns 1 when
 *   the GSI is mapped to a PIRQ: on a rising edge the PIRQ's port was made
 *   pending, and the VMM must not raise the GSI on its IOAPIC (Xen 4.17
 *   still pulses the legacy PIC for GSIs 1-15); 0 when it is not mapped
 *   (the VMM raises it as usual); -EINVAL.  Pass the line's level (all
 *   its sources ORed) each time it changes; a line still high at
 *   PHYSDEVOP_eoi raises the PIRQ again (PCI GSIs, 16 and up).  The
 *   event channel callback's own GSI (irq_cb) is not passed here: Xen never
 *   routes it to a PIRQ.  Any thread, serialised per GSI as the VMM's
 *   IOAPIC serialises it.
 * An assigned device's MSIs can reach the PIRQ without the VMM in the
 * loop: EVTCHN_ROUTE_FD_TO_PIRQ (<evtchn/route.h>).
 */
EVTCHN_API int evtchn_msi_pirq(uint64_t addr, uint32_t data, uint32_t *pirq);
EVTCHN_API int evtchn_msi_inject(struct evtchn_domain *d, uint64_t addr,
				 uint32_t data);
EVTCHN_API int evtchn_gsi_set(struct evtchn_domain *d, uint32_t gsi,
			      bool level);

/*
 * Xen system time, timers and SCHEDOP_poll.
 *
 * System time (ns) is the host's clock: CLOCK_MONOTONIC, or @cb, which
 * must advance at the monotonic clock's rate while the timer thread runs.
 * Guest timers (VCPUOP_*_timer, set_timer_op) and poll deadlines fire when
 * the host's timer thread (evtchn_host_timers_start(): one thread for all
 * vCPUs) or evtchn_host_timers_run() (the VMM's own loop, or a test that
 * moves its clock) sees them expired; expiry raises VIRQ_TIMER.
 * evtchn_vcpu_timer_get/set read and restore a vCPU's timers (migration:
 * absolute deadlines in system time); with the KVM back end they read and
 * set the singleshot deadline KVM holds (call them while the vCPU is not
 * in KVM_RUN).  The library calls @cb under no lock of its own and outside
 * its read-side section (it may take any lock of the VMM's); set it before
 * the domains' vCPUs run and the timer thread starts, as @cb and @opaque
 * are read without a lock.  evtchn_vcpu_kick() makes a vCPU
 * that is blocked in SCHEDOP_poll return (to stop or pause it).
 */
typedef uint64_t (*evtchn_clock_cb)(void *opaque);

struct evtchn_vcpu_timer {
	uint64_t singleshot_ns;    /* deadline, 0: none */
	uint64_t period_ns;        /* 0: no periodic timer */
	uint64_t periodic_next_ns; /* its next deadline */
};

EVTCHN_API int evtchn_host_set_clock(struct evtchn_host *h, evtchn_clock_cb cb,
				     void *opaque);
EVTCHN_API uint64_t evtchn_host_now(struct evtchn_host *h);
EVTCHN_API int evtchn_host_timers_start(struct evtchn_host *h);
EVTCHN_API int evtchn_host_timers_stop(struct evtchn_host *h);
EVTCHN_API int evtchn_host_timers_run(struct evtchn_host *h);
EVTCHN_API int evtchn_vcpu_timer_get(struct evtchn_domain *d, uint32_t vcpu,
				     struct evtchn_vcpu_timer *t);
EVTCHN_API int evtchn_vcpu_timer_set(struct evtchn_domain *d, uint32_t vcpu,
				     const struct evtchn_vcpu_timer *t);
EVTCHN_API int evtchn_vcpu_kick(struct evtchn_domain *d, uint32_t vcpu);
/*
 * GSI or PCI INTx callback: the line follows vCPU 0's upcall_pending and
 * drops when the guest clears it.  Call this when the guest may have
 * cleared it (at EOI of the callback interrupt, or after each guest exit
 * of vCPU 0); it calls irq_cb when the level changes.  Any thread.
 */
EVTCHN_API int evtchn_upcall_level_update(struct evtchn_domain *d);

/*
 * Save and restore for live migration the guest does not see.
 * evtchn_domain_save(): an image of @d's event channel state in a buffer
 *   the caller frees with free(): the shared_info page, vcpu_info
 *   registrations, upcall vectors, timers, FIFO control blocks, pages and
 *   queue tails, every bound port, PIRQ mappings.  The rest is in guest
 *   memory, which the VMM migrates.  Take it with the vCPUs stopped and
 *   event sources quiet (backends, routes, devices), after the guest's
 *   memory is final or together with its last copy.
 * evtchn_domain_restore(): on a domain created with the same vCPU count and
 *   PIRQ configuration, with the guest's memory in place and nothing done to
 *   it yet (-EBUSY otherwise): every field is checked first (-EINVAL for a
 *   bad, truncated or foreign image, nothing changed), then the state is
 *   installed, each vCPU whose upcall was pending gets it again, and the
 *   timers run on.  Backend handles and routes are not in the image: the
 *   VMM sets them up again; an interdomain channel to another domain comes
 *   back unbound for that domain, which binds it again with
 *   EVTCHNOP_bind_interdomain (or evtchn_backend_bind_interdomain()) on the
 *   same port.  -EOPNOTSUPP (nothing changed) for an image of a newer
 *   library that holds state this one cannot restore: a newer format, or a
 *   section marked required that this library does not know; sections it
 *   does not know and that are not marked required are skipped.  Any
 *   thread; not from a callback.
 * The image is little-endian and the same on every host; this library
 * writes format EVTCHN_IMAGE_FORMAT and restores every earlier format
 * (docs/snapshot-format.md).
 */
EVTCHN_API int evtchn_domain_save(struct evtchn_domain *d, void **buf,
				  size_t *len);
EVTCHN_API int evtchn_domain_restore(struct evtchn_domain *d, const void *buf,
				     size_t len);

/* The image format this library writes. */
#define EVTCHN_IMAGE_FORMAT 2

/*
 * What an image is, for a VMM to say why a restore refused it.
 * evtchn_image_inspect() reads the structure of the image at @buf (not its
 * values: those only a restore checks) and fills @info.  Returns 0 when
 * this library knows everything the image says a restore needs, -EINVAL for
 * a damaged or foreign image, -EOPNOTSUPP when the image needs what this
 * library lacks (@info says what).  Any thread; touches no domain.
 */
struct evtchn_image_info {
	uint32_t format;           /* the image's format */
	uint32_t nr_sections;      /* its sections (format 2 and later) */
	uint32_t nr_skipped;       /* sections a restore skips: optional ones
				    * this library does not know */
	uint32_t unknown_required; /* the first section type this library does
				    * not know and a restore needs; 0: none */
	uint32_t unknown_flags;    /* header flags this library does not know */
};

EVTCHN_API int evtchn_image_inspect(const void *buf, size_t len,
				    struct evtchn_image_info *info);

/* Whether vCPU @vcpu is in SCHEDOP_poll now (1), or not (0). */
EVTCHN_API int evtchn_vcpu_polling(struct evtchn_domain *d, uint32_t vcpu);

/*
 * The port table of @d in the style of Xen's 'e' debug key, one line a
 * bound port (and port 0): port, [pending/masked], state, notify vCPU and
 * binding; FIFO ports also show their priority and LINKED.  Written to
 * @out (any thread; a consistent view of each port, not of the table).
 * Returns the number of ports listed or a negative errno.
 */
EVTCHN_API int evtchn_domain_dump(struct evtchn_domain *d, FILE *out);

/*
 * The debug socket: evtchn_host_debug_start() listens on a Unix stream
 * socket at @path (created mode 0600; the caller removes a stale file
 * first) and answers, from a thread of its own, one request line per
 * connection: "list" (one line per domain) or "dump DOMID" (what
 * evtchn_domain_dump() writes).  The evtchn-dump(1) command is its client.
 * Answers are built in memory (under the host's lock: a dump of 131,072
 * ports takes some 50 ms, during which cross-domain control operations
 * wait), then written; each exchange has a 2 s deadline, so a stalled
 * client holds up nothing.  Only the VMM's user and root may connect.  -EBUSY when already listening,
 * -EINVAL for a bad path, or the socket's errno.
 * evtchn_host_debug_stop() closes it and removes the file (also done by
 * evtchn_host_destroy()).  Any thread; not from a callback.
 */
EVTCHN_API int evtchn_host_debug_start(struct evtchn_host *h, const char *path);
EVTCHN_API int evtchn_host_debug_stop(struct evtchn_host *h);

/* A short description of a negative errno value returned by the library. */
EVTCHN_API const char *evtchn_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* EVTCHN_EVTCHN_H */
