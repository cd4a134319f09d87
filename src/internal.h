/* SPDX-License-Identifier: MIT */
/* Private structures of libevtchn.  Not installed. */
#ifndef EVTCHN_INTERNAL_H
#define EVTCHN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Test builds: every allocation can be made to fail (park.h). */
#ifdef EVTCHN_PARK
#include "park.h"
#define calloc(n, size) evtchn_test_calloc(n, size)
#define malloc(size) evtchn_test_malloc(size)
#define aligned_alloc(align, size) evtchn_test_aligned_alloc(align, size)
#endif

#include "evtchn/evtchn.h"
#include "xen_abi.h"

/* Port states: Xen's ECS_* values. */
enum port_state {
	ECS_FREE = 0,
	ECS_RESERVED = 1,
	ECS_UNBOUND = 2,
	ECS_INTERDOMAIN = 3,
	ECS_PIRQ = 4,
	ECS_VIRQ = 5,
	ECS_IPI = 6,
};

/*
 * A port's binding is one 64-bit word, so a lock-free sender reads a
 * consistent (state, peer) pair with one load:
 *   bits  0..7   state (enum port_state)
 *   bit   8      ZOMBIE: freed, but a sender may still hold the old binding;
 *                not allocatable until a grace period has passed
 *   bit   9      SETTLING: unbound because its peer closed; a sender may
 *                still deliver to it under the old channel, so it is not
 *                bound to a new peer before a grace period has passed
 *   bits 16..31  remote domid (UNBOUND, INTERDOMAIN) or virq (VIRQ)
 *   bits 32..63  remote port (INTERDOMAIN), pirq (PIRQ), or the settle
 *                generation (UNBOUND|SETTLING): a new one each time a
 *                channel of the domain's ends, so a bind that waited for
 *                one settle sees whether another came meanwhile
 */
#define BIND_ZOMBIE (1ull << 8)
#define BIND_SETTLING (1ull << 9)

static inline uint64_t bind_make(enum port_state s, uint16_t a, uint32_t b)
{
	return (uint64_t)s | ((uint64_t)a << 16) | ((uint64_t)b << 32);
}
static inline enum port_state bind_state(uint64_t b) { return b & 0xff; }
static inline uint16_t bind_dom(uint64_t b) { return (b >> 16) & 0xffff; }
static inline uint16_t bind_virq(uint64_t b) { return (b >> 16) & 0xffff; }
static inline uint32_t bind_port(uint64_t b) { return b >> 32; }

struct evtchn_port {
	_Atomic uint64_t bind;        /* see bind_make() */
	_Atomic uint32_t notify_vcpu; /* vCPU that receives its events */
	/* FIFO ABI (abi_fifo.c) */
	_Atomic uint8_t priority;     /* 0 highest .. 15 lowest */
	_Atomic uint8_t fifo_pending; /* raised while its array page is missing */
	_Atomic uint16_t fifo_lastq;  /* queue it was last linked on: vcpu<<4|prio */
};
_Static_assert(sizeof(struct evtchn_port) == 16, "16 bytes a port");

/* Storage: buckets of 64 ports (Xen's EVTCHNS_PER_BUCKET), 64 buckets a
 * group, groups allocated on demand up to the FIFO maximum. */
#define BUCKETS_PER_GROUP 64u
#define PORTS_PER_GROUP (EVTCHN_PORTS_PER_BUCKET * BUCKETS_PER_GROUP)
#define STORAGE_MAX_PORTS (1u << 17) /* EVTCHN_FIFO_NR_CHANNELS */
#define NR_GROUPS (STORAGE_MAX_PORTS / PORTS_PER_GROUP)

struct evtchn_bucket {
	struct evtchn_port port[EVTCHN_PORTS_PER_BUCKET];
};

struct evtchn_vcpu {
	uint32_t id;
	/* Where this vCPU's vcpu_info lives: in shared_info (vCPUs < 32), a
	 * registered guest page, or the private dummy.  Published with
	 * release (register_vcpu_info), read with acquire by senders. */
	_Atomic(unsigned char *) vcpu_info;
	bool registered;           /* VCPUOP_register_vcpu_info done */
	uint64_t vi_gfn;
	void *vi_page;
	_Atomic bool online;
	/* timer.c: deadlines in system time, under the host's timer lock */
	uint64_t singleshot, period, periodic_next, poll_deadline;
	uint64_t periodic_last;    /* Xen's periodic_last_event */
	/* SCHEDOP_poll: 0 not polling, -1 any port, else the port; senders
	 * clear it and wake the futex on it */
	_Atomic int32_t poll_evtchn;
	_Atomic bool kicked;              /* evtchn_vcpu_kick(): leave poll */
	_Atomic uint8_t upcall_vector;    /* HVMOP_set_evtchn_upcall_vector */
	/* VIRQ -> port; global VIRQs are recorded in vCPU 0's table. */
	_Atomic uint32_t virq_to_evtchn[NR_VIRQS];
	/* upcall.c: the VMM's callback owed for this vCPU (bit 0: on a
	 * thread's list, owed_next its link) and the callbacks being made
	 * (2 each); destroy waits until it is 0. */
	struct evtchn_domain *owner;
	_Atomic uint32_t owed;
	struct evtchn_vcpu *owed_next;
	_Alignas(64) unsigned char dummy_vcpu_info[64];
};

struct evtchn_domain;

/* One ABI (2-level now, FIFO later) behind an ops table. */
struct evtchn_abi_ops {
	const char *name;
	/* Make @port pending at vCPU @v; may raise the upcall.  Send path. */
	void (*set_pending)(struct evtchn_domain *d, struct evtchn_vcpu *v,
			    uint32_t port);
	void (*clear_pending)(struct evtchn_domain *d, uint32_t port);
	/* EVTCHNOP_unmask on a usable port; @v is its notify vCPU. */
	void (*unmask)(struct evtchn_domain *d, struct evtchn_vcpu *v,
		       uint32_t port);
	bool (*is_pending)(struct evtchn_domain *d, uint32_t port);
	bool (*is_masked)(struct evtchn_domain *d, uint32_t port);
	/* Still on a queue: not to be handed out again (FIFO; NULL: never). */
	bool (*is_busy)(struct evtchn_domain *d, uint32_t port);
	/* A port is bound (Xen's evtchn_port_init()); NULL: nothing to do. */
	void (*init_port)(struct evtchn_domain *d, uint32_t port);
	/* EVTCHNOP_set_priority on a usable port; NULL: -ENOSYS. */
	int (*set_priority)(struct evtchn_domain *d, uint32_t port,
			    uint32_t priority);
	/* Highest number of ports this ABI gives the domain now. */
	uint32_t (*max_ports)(const struct evtchn_domain *d);
};

extern const struct evtchn_abi_ops evtchn_abi_2l;
extern const struct evtchn_abi_ops evtchn_abi_fifo;
struct fifo_domain;

struct be_port;
typedef _Atomic(struct be_port *) be_slot_t; /* backend.c */

/* Xen's emulated-IRQ values of a PIRQ (asm/irq.h); a GSI is >= 0. */
#define EMUIRQ_UNBOUND (-1)
#define EMUIRQ_PT (-2)
#define EMUIRQ_MSI_EMU (-3)
#define PIRQ_NR_HVM_GSIS 48 /* NR_HVM_DOMU_IRQS: the vIOAPIC's pins */
#define PIRQ_MAX 32768u

/* One PIRQ of an HVM domain (pirq.c).  Written under the domain lock;
 * port and emuirq are read by senders (GSI and MSI delivery) under RCU. */
struct pirq {
	_Atomic uint32_t port;   /* bound event channel, 0: none */
	_Atomic int32_t emuirq;  /* EMUIRQ_* or the GSI it is mapped to */
	/* Written under the lock; read by MSIs without it. */
	_Atomic bool allocated;  /* PHYSDEVOP_get_free_pirq (PIRQ_ALLOCATED) */
	_Atomic bool entry;      /* Xen's pirq_info() exists without state:
				  * allocated for a map that was refused */
};

#define TEST_CHANGED_MAX 64u

struct evtchn_domain {
	struct evtchn_host *host;
	uint16_t domid;
	uint32_t nr_vcpus;
	bool privileged;
	uint32_t max_evtchn_port;
	struct evtchn_guest_mem mem;
	evtchn_upcall_cb upcall_cb;
	evtchn_irq_cb irq_cb;
	void *opaque;
	uint32_t nr_gsis;
	_Atomic uint64_t callback_via;    /* HVM_PARAM_CALLBACK_IRQ */
	/* GSI/INTx callback (upcall.c), under line_lock (a spinlock: it is
	 * taken on vCPU 0's upcall): whether the line should be up, what the
	 * VMM was last told, and whether a thread is telling it */
	bool line_want, line_told, line_telling;
	uint64_t line_told_via;
	_Atomic int line_lock;

	/* PIRQs (pirq.c) */
	bool has_pirq;                    /* Xen's XEN_X86_EMU_USE_PIRQ */
	uint32_t nr_pirqs, nr_irqs_gsi;
	struct pirq *pirq;                /* [nr_pirqs] */
	_Atomic int32_t gsi_pirq[PIRQ_NR_HVM_GSIS]; /* emuirq -> pirq, -1 */
	_Atomic int32_t msi_emu_pirq;     /* the IRQ_MSI_EMU key: -1 or the
					   * one pirq it names (written
					   * under lock) */
	_Atomic uint64_t gsi_level;       /* lines high (evtchn_gsi_set) */

	/* Xen's event_lock: every control operation on this domain. */
	pthread_mutex_t lock;
	bool dying;                       /* under lock */
	/* Under the host's xlock: operations of another domain that still
	 * use this one after they dropped xlock (a reset unmapping its FIFO
	 * pages).  destroy waits until there are none. */
	unsigned xrefs;
	_Atomic bool paused;
	_Atomic int layout;               /* enum evtchn_layout */
	/* The ABI and its state; switched under lock, read by senders
	 * (domain_abi()).  FIFO state is freed a grace period after the
	 * switch back to 2-level. */
	_Atomic(const struct evtchn_abi_ops *) abi;
	_Atomic(struct fifo_domain *) fifo;

	/* Ports [0, valid_ports) have storage.  Bucket pointers are written
	 * under lock before valid_ports is raised with release; readers load
	 * valid_ports with acquire (port_is_valid) before touching them. */
	_Atomic uint32_t valid_ports;
#ifdef EVTCHN_PARK
	/* Test builds: the ports port_changed() saw since
	 * evtchn_test_changed() last looked, the first TEST_CHANGED_MAX. */
	_Atomic uint32_t test_changed[TEST_CHANGED_MAX];
	_Atomic uint32_t test_nchanged;
#endif
	uint32_t settle_gen;              /* under lock: see BIND_SETTLING */
	uint32_t free_hint;                /* under lock: no free port below
					    * but the kept LINKED ones */
	uint64_t *linked;                 /* under lock: see linked_add() */
	size_t nr_linked;
	uint32_t linked_lo, linked_hi;    /* words that may be set */
	struct evtchn_bucket **group[NR_GROUPS];

	/* Ports owned by backend handles (backend.c): groups of
	 * PORTS_PER_GROUP pointers, allocated under lock, entries published
	 * with release and read under RCU by senders. */
	_Atomic(be_slot_t *) be_owner[NR_GROUPS];
	unsigned nr_handles;              /* under lock */
	/* route.c: set under lock, read by senders (acquire) */
	_Atomic(struct route_state *) routes;
	struct evtchn_domain *timer_next; /* host's timer list */
	_Atomic unsigned nr_polling;      /* vCPUs in SCHEDOP_poll */
	pthread_mutex_t route_mutex;      /* serialises route replacements */

	struct evtchn_kvm *kvm;           /* kvm.c: under lock; NULL: none */
	/* the same for senders (RCU): freed a grace period after it is
	 * cleared */
	_Atomic(struct evtchn_kvm *) kvm_send;
	unsigned char *shared_info;       /* page owned by the library */
	struct evtchn_vcpu *vcpu;         /* [nr_vcpus] */
};

struct evtchn_host {
	/* Held for anything that spans two domains or looks up another
	 * domain for a control operation (bind_interdomain, close of a
	 * cross-domain channel, reset, destroy, status/alloc_unbound of another
	 * domain).  Taken before any domain lock.  Rule: a thread holds at most
	 * one domain lock unless it holds xlock, so two domain locks are never
	 * taken in opposite orders. */
	pthread_mutex_t xlock;
	pthread_cond_t xref_cond;         /* a domain's xrefs fell to 0 */
	unsigned nr_domains;              /* under xlock */
	/* timer.c */
	pthread_mutex_t timer_lock;
	pthread_cond_t timer_cond;
	evtchn_clock_cb clock_cb;
	void *clock_opaque;
	struct evtchn_domain *timer_domains;
	uint64_t collected_at;            /* latest time a collection used */
	bool timer_running;
	pthread_t timer_tid;
	struct debug_server *debug;       /* debug.c */
	/* Published with rcu_assign semantics (release), read under RCU. */
	_Atomic(struct evtchn_domain *) *domains; /* [DOMID_FIRST_RESERVED] */
};

/* port.c */
static inline bool port_is_valid(struct evtchn_domain *d, uint32_t port)
{
	/* pairs with the release store in port_alloc_bucket() */
	return port < atomic_load_explicit(&d->valid_ports,
					   memory_order_acquire);
}

static inline struct evtchn_port *port_get(struct evtchn_domain *d,
					   uint32_t port)
{
	struct evtchn_bucket **g = d->group[port / PORTS_PER_GROUP];

	return &g[(port / EVTCHN_PORTS_PER_BUCKET) % BUCKETS_PER_GROUP]
			->port[port % EVTCHN_PORTS_PER_BUCKET];
}

static inline uint64_t port_bind(struct evtchn_port *p)
{
	/* pairs with the release stores in port_set_bind() */
	return atomic_load_explicit(&p->bind, memory_order_acquire);
}

/* A port that can carry events: state above RESERVED (Xen's
 * evtchn_usable(); there are no Xen-consumed ports here). */
static inline bool bind_usable(uint64_t b)
{
	return !(b & BIND_ZOMBIE) && bind_state(b) > ECS_RESERVED;
}

int port_alloc_bucket(struct evtchn_domain *d, uint32_t port);
int port_get_free(struct evtchn_domain *d);
/* The only writers of a port's binding and notify vCPU (lock held). */
void port_set_bind(struct evtchn_domain *d, uint32_t port, uint64_t bind);
void port_set_notify(struct evtchn_domain *d, uint32_t port, uint32_t vcpu);
void port_free_begin(struct evtchn_domain *d, uint32_t port);
void port_free_finish(struct evtchn_domain *d, uint32_t port);
void port_table_destroy(struct evtchn_domain *d);
bool virq_is_global(uint32_t virq);

/* host.c */
void domain_lock(struct evtchn_domain *d);
void domain_unlock(struct evtchn_domain *d);
void domain_assert_locked(struct evtchn_domain *d);
struct evtchn_domain *host_domain_rcu(struct evtchn_host *h, uint16_t domid);
void domain_lock_pair(struct evtchn_domain *a, struct evtchn_domain *b);
void domain_unlock_pair(struct evtchn_domain *a, struct evtchn_domain *b);
/* Drop a reference taken (xrefs++) under xlock; takes xlock. */
void domain_unref(struct evtchn_domain *d);

/*
 * No VMM callback runs while this thread holds a lock of the library, or
 * inside its RCU read side: a callback that takes a lock of the VMM's,
 * which a vCPU thread holds while it calls into the library, would
 * deadlock, and so would one whose lock is held across a call that waits
 * for a grace period.  The upcall and irq callbacks of a send are made
 * when the sender's outermost read-side section ends (upcall.c); the
 * memory (map, unmap) and clock callbacks are made outside it.  Test
 * builds count the locks a thread holds and its read-side depth
 * (evtchn_rcu_depth: include rcu.h), and trap at a callback made under
 * either.
 */
#ifdef EVTCHN_PARK
extern __thread int evtchn_locks_held;
#define LOCK_NOTE(n) (evtchn_locks_held += (n))
#define ASSERT_NO_LOCK_HELD()                                               \
	do {                                                                \
		if (evtchn_locks_held)                                      \
			__builtin_trap();                                   \
	} while (0)
#define ASSERT_NO_LOCK_NOR_READER()                                         \
	do {                                                                \
		if (evtchn_locks_held || evtchn_rcu_depth)                  \
			__builtin_trap();                                   \
	} while (0)
#else
#define LOCK_NOTE(n) do { } while (0)
#define ASSERT_NO_LOCK_HELD() do { } while (0)
#define ASSERT_NO_LOCK_NOR_READER() do { } while (0)
#endif

static inline void lib_lock(pthread_mutex_t *m)
{
	pthread_mutex_lock(m);
	LOCK_NOTE(1);
}

static inline void lib_unlock(pthread_mutex_t *m)
{
	LOCK_NOTE(-1);
	pthread_mutex_unlock(m);
}

/* A spinlock held for a few atomics (FIFO queues, a GSI/INTx callback
 * line): what the send path may take where Xen takes a spinlock. */
static inline void spin_lock(_Atomic int *l)
{
	while (atomic_exchange_explicit(l, 1, memory_order_acquire))
		while (atomic_load_explicit(l, memory_order_relaxed))
			__builtin_ia32_pause();
	LOCK_NOTE(1);
}

static inline void spin_unlock(_Atomic int *l)
{
	LOCK_NOTE(-1);
	atomic_store_explicit(l, 0, memory_order_release);
}

static inline enum evtchn_layout domain_layout(const struct evtchn_domain *d)
{
	return atomic_load_explicit(&d->layout, memory_order_relaxed);
}

static inline const struct evtchn_abi_ops *domain_abi(struct evtchn_domain *d)
{
	/* pairs with the release stores in abi_fifo.c (switches) */
	return atomic_load_explicit(&d->abi, memory_order_acquire);
}

static inline struct evtchn_vcpu *domain_vcpu(struct evtchn_domain *d,
					      uint32_t id)
{
	return id < d->nr_vcpus ? &d->vcpu[id] : NULL;
}

/* mem.c: guest memory.  Return 0 or -XEN_EFAULT. */
int guest_copy_from(struct evtchn_domain *d, uint32_t vcpu, uint64_t gva,
		    void *buf, size_t len);
int guest_copy_to(struct evtchn_domain *d, uint32_t vcpu, uint64_t gva,
		  const void *buf, size_t len);
void *guest_map_gfn(struct evtchn_domain *d, uint64_t gfn, bool writable);
void guest_unmap_gfn(struct evtchn_domain *d, uint64_t gfn, void *hva);

/* backend.c */
struct be_port;
/* Send path (RCU held): true when a handle owns @port and took the event. */
bool backend_deliver(struct evtchn_domain *d, uint32_t port);
/* A port is being bound (lock held): a handle claiming a port on this
 * thread takes it now, before it is published.  -ENOMEM: the bind must
 * fail. */
int backend_claim(struct evtchn_domain *d, uint32_t port);
/* A port is being freed (lock held): no handle owns it any more. */
void backend_disown(struct evtchn_domain *d, uint32_t port);
/* Record @bp owns @port now (lock or RCU held). */
bool backend_owns(struct evtchn_domain *d, uint32_t port,
		  const struct be_port *bp);
void backend_table_destroy(struct evtchn_domain *d);
/* The KVM back end (RCU held): an eventfd that raises @port of backend
 * domain @d at its handle when signalled, made on first use; -1 when no
 * handle owns the port or none can be made. */
int backend_kernel_fd(struct evtchn_domain *d, uint32_t port);

/* upcall.c */
/* Raise @v's upcall; true when Xen would kick the vCPU (see upcall.c). */
bool upcall_raise(struct evtchn_domain *d, struct evtchn_vcpu *v);
void upcall_wait(struct evtchn_domain *d);
/* An upcall pending on @v is an interrupt waiting for it (SCHEDOP_poll). */
bool upcall_deliverable(struct evtchn_domain *d, struct evtchn_vcpu *v);
long do_hvm_op(struct evtchn_domain *d, uint32_t vcpu, uint64_t op,
	       uint64_t arg);

/* timer.c */
bool timer_period_valid(uint64_t period_ns);
void check_pollers(struct evtchn_domain *d, uint32_t port);
void poll_kick(struct evtchn_vcpu *v);
void timers_add_domain(struct evtchn_host *h, struct evtchn_domain *d);
void timers_remove_domain(struct evtchn_host *h, struct evtchn_domain *d);
/* @compat: the calling vCPU is in 32-bit mode (Xen's compat handlers,
 * chosen on every hypercall). */
long timer_vcpu_op(struct evtchn_domain *d, uint32_t caller, int cmd,
		   struct evtchn_vcpu *v, uint64_t arg, bool compat);
long do_set_timer_op(struct evtchn_domain *d, uint32_t vcpu,
		     uint64_t timeout);
long do_sched_op(struct evtchn_domain *d, uint32_t vcpu, int cmd,
		 uint64_t arg, bool compat, bool irqs_off);

/* route.c */
struct route_state;
/* Send path (RCU held): true when a route took the send on @port. */
bool route_send(struct evtchn_domain *d, uint32_t port);
/* Destruction: no sender may reach @d afterwards but through RCU. */
void routes_destroy(struct evtchn_domain *d);

/* evtchn_op.c: run a sub-op as domain @d itself (arguments in memory of
 * the library, no guest copies). */
long evtchn_op_local(struct evtchn_domain *d, int cmd, void *arg);

/* deliver.c: the send path.  Callers hold the RCU read lock. */
void deliver_port(struct evtchn_domain *d, uint32_t vcpu, uint32_t port);
void vcpu_mark_events_pending(struct evtchn_domain *d, struct evtchn_vcpu *v);
int evtchn_send_locked_rcu(struct evtchn_domain *ld, uint32_t lport);

/* evtchn_op.c */
long do_event_channel_op(struct evtchn_domain *d, uint32_t vcpu, int cmd,
			 uint64_t arg);
int evtchn_close(struct evtchn_domain *d, uint32_t port, bool guest);
/* Unpublish @port only if backend record @owner still owns it (0), else
 * -EINVAL with nothing changed; finish it with evtchn_close_finish() after
 * a grace period. */
int evtchn_close_owned(struct evtchn_domain *d, uint32_t port,
		       const struct be_port *owner);
void evtchn_close_finish(struct evtchn_domain *d, uint32_t port);
void evtchn_close_all(struct evtchn_domain *d);

/* abi_fifo.c: the FIFO sub-ops, domain lock not held. */
long fifo_init_control(struct evtchn_domain *d,
		       struct evtchn_init_control *ic);
long fifo_expand_array(struct evtchn_domain *d, uint64_t gfn);
/* Back to 2-level (reset, destroy); lock held.  Returns the old FIFO
 * state, to be freed with fifo_free() after a grace period. */
struct fifo_domain *fifo_detach(struct evtchn_domain *d);
void fifo_free(struct evtchn_domain *d, struct fifo_domain *fd);

/* pirq.c */
int pirq_domain_init(struct evtchn_domain *d,
		     const struct evtchn_domain_config *cfg);
void pirq_domain_free(struct evtchn_domain *d);
long do_physdev_op(struct evtchn_domain *d, uint32_t vcpu, int cmd,
		   uint64_t arg, bool compat);
/* EVTCHNOP_bind_pirq's checks before a port is taken (lock held). */
int pirq_bind_check(struct evtchn_domain *d, uint32_t pirq);
/* The port of @pirq is now @port (0: unbound).  Lock held. */
void pirq_set_port(struct evtchn_domain *d, uint32_t pirq, uint32_t port);
/* Xen's hvm_inject_msi() for @pirq (the domain lock not held). */
int pirq_inject_msi(struct evtchn_domain *d, uint32_t pirq);
/* " gsi N" / " msi" for the dump; "" when not mapped.  RCU held. */
const char *pirq_describe(struct evtchn_domain *d, uint32_t pirq,
			  char *buf, size_t size);

/* abi_fifo.c, for snapshot.c: the FIFO state that is not in guest
 * memory.  Lock held. */
struct fifo_image_vcpu {
	bool cb_set;
	uint64_t cb_gfn;
	uint32_t cb_offset;
	uint32_t tail[EVTCHN_FIFO_MAX_QUEUES]; /* Xen-private queue tails */
};
/* Fills @v[nr_vcpus] and @gfns[128]; returns the number of event-array
 * pages, or -1 when the domain is on 2-level. */
int fifo_image_save(struct evtchn_domain *d, struct fifo_image_vcpu *v,
		    uint64_t *gfns);
/* Maps what @v and @gfns name into a new FIFO state (lock not held: the
 * VMM's map callback runs), not yet the domain's: -EINVAL when a page is
 * not RAM or an offset is wrong, -ENOMEM; a state not installed is freed
 * with fifo_free(), with no lock held. */
int fifo_image_map(struct evtchn_domain *d, const struct fifo_image_vcpu *v,
		   const uint64_t *gfns, uint32_t npages,
		   struct fifo_domain **out);
/* Make @fd, from fifo_image_map(), the domain's ABI.  Lock held. */
void fifo_image_install(struct evtchn_domain *d, struct fifo_domain *fd);

/* snapshot.c needs these from vcpu_op.c and port.c */
void vcpu_info_restore(struct evtchn_domain *d, struct evtchn_vcpu *v,
		       uint64_t gfn, void *page, uint32_t offset);

/* kvm.c: the KVM back end follows the port table (lock held; nothing
 * when the domain is not attached). */
struct evtchn_kvm;
void kvm_port_changed(struct evtchn_domain *d, uint32_t port);
/* Everything again: the ABI, the callback, the layout or routes changed. */
void kvm_resync(struct evtchn_domain *d);
/* @vcpu's upcall vector changed, on vCPU @caller's thread. */
void kvm_vector_changed(struct evtchn_domain *d, uint32_t caller,
			uint32_t vcpu);
/* @vcpu registered a vcpu_info of its own. */
void kvm_vcpu_info_changed(struct evtchn_domain *d, uint32_t caller,
			   uint32_t vcpu, unsigned char *vi);
void kvm_destroy(struct evtchn_domain *d);
/* Send path (RCU held): let KVM deliver @port to @vcpu, as it would a
 * send of its own (its pollers wake); false: deliver in userspace. */
bool kvm_deliver(struct evtchn_domain *d, uint32_t vcpu, uint32_t port);
/* KVM reads eventfd @fd of a route itself (an irqfd; lock held). */
bool kvm_irqfd_holds(struct evtchn_domain *d, int fd);
/* pirq.c: an MSI to @pirq goes straight to its port now, mapping
 * nothing (lock held). */
bool pirq_msi_direct(struct evtchn_domain *d, uint32_t pirq);
/* A PIRQ's mapping changed (lock held). */
void kvm_pirq_changed(struct evtchn_domain *d);
/* A closed port KVM's timer may still fire on: not to be handed out. */
bool kvm_port_held(struct evtchn_domain *d, uint32_t port);
/* The deadline of @vcpu's singleshot timer when KVM holds it (*deadline
 * unchanged otherwise).  The vCPU must not be in KVM_RUN. */
void kvm_timer_read(struct evtchn_domain *d, uint32_t vcpu,
		    uint64_t *deadline);
/* Set it there instead: true when KVM holds @vcpu's timer. */
bool kvm_timer_write(struct evtchn_domain *d, uint32_t vcpu,
		     uint64_t deadline);

/* timer.c, for kvm.c: @v's singleshot deadline taken from the library's
 * timers (0: none), or given to them. */
uint64_t timer_take_singleshot(struct evtchn_domain *d, uint32_t v);
void timer_give_singleshot(struct evtchn_domain *d, uint32_t v,
			   uint64_t deadline);

/* route.c: a sending route replaces @port's delivery (lock held). */
bool route_sends(struct evtchn_domain *d, uint32_t port);
/* The sending route of @port, or NULL (lock held). */
struct evtchn_route;
const struct evtchn_route *route_send_entry(struct evtchn_domain *d,
					    uint32_t port);
/* The FD_TO_PORT and FD_TO_PIRQ entries (lock held). */
unsigned route_irqs(struct evtchn_domain *d, const struct evtchn_route **out);
/* The library's route epoll set watches @fd, or stops (lock held). */
void route_irq_watch(struct evtchn_domain *d, int fd, bool watch);
/* @fn on every port whose PORT_TO_PORT route targets @target (lock
 * held). */
void route_targets(struct evtchn_domain *d, uint32_t target,
		   void (*fn)(struct evtchn_domain *d, uint32_t port));

/* vcpu_op.c */
long do_vcpu_op(struct evtchn_domain *d, uint32_t vcpu, int cmd,
		uint32_t vcpuid, uint64_t arg, bool compat);
void vcpu_info_reset(struct evtchn_domain *d, struct evtchn_vcpu *v);

#endif /* EVTCHN_INTERNAL_H */
