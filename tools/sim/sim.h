/* SPDX-License-Identifier: MIT */
/*
 * evtchn-sim: what the guest side (the VMM process) and the backend
 * process share, and the VMM side's private state.
 *
 * Two processes:
 *  - the VMM process embeds libevtchn: a host, the guest (domain 1) whose
 *    vCPU threads run the reference consumer in guest memory, and domain 0,
 *    which holds the backend end of each interdomain channel;
 *  - the backend process (the same binary, exec'd with --backend-child)
 *    maps the guest's ring pages and talks to the guest through eventfds
 *    only: the guest's EVTCHNOP_send on a ring's port writes the ring's
 *    kick eventfd (route PORT_TO_FD), and the backend's write to the ring's
 *    answer eventfd makes the port pending (route FD_TO_PORT).
 * They are connected by a SOCK_SEQPACKET socket that carries the setup and
 * the descriptors (SCM_RIGHTS) and whose end-of-file tells either side that
 * the other is gone.
 */
#ifndef EVTCHN_SIM_H
#define EVTCHN_SIM_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xen/xen.h>
#include <xen/io/ring.h>

#include "evtchn/evtchn.h"
#include "evtchn_guest.h"

#define SIM_MAX_VCPUS 64u
#define SIM_MAX_RINGS 128u
#define SIM_MAX_MSIS 64u
#define SIM_GUEST_DOMID 1
#define SIM_BACKEND_DOMID 0
#define SIM_PAGE 4096u

/* ---- shared by both processes ---- */

/* A netfront/netback-style request and its response, on Xen's shared-ring
 * layout (<xen/io/ring.h>): one page a ring, 128 slots. */
struct sim_req {
	uint32_t id;
	uint32_t pad;
	uint64_t sent_ns; /* CLOCK_MONOTONIC when the guest queued it */
};

struct sim_rsp {
	uint32_t id;
	int32_t status;
	uint64_t sent_ns; /* the request's */
	uint64_t done_ns; /* when the backend answered */
};

DEFINE_RING_TYPES(sim, struct sim_req, struct sim_rsp);

/*
 * The notification accounting of one channel, in a page both processes
 * map after the ring pages.  Each field has one writer.  A sender adds to
 * its *_sent counter before it notifies; the receiver, each time it takes
 * a notification, stores the *_sent value it then reads into *_seen.  When
 * everything is quiet, *_seen == *_sent unless a notification was lost
 * (see "lost" in evtchn-sim(1)).
 */
struct sim_chan {
	_Atomic uint64_t kicks_sent;   /* guest: EVTCHNOP_send on the port */
	_Atomic uint64_t kicks_seen;   /* backend: kicks_sent at a wake-up */
	_Atomic uint64_t kick_wakeups; /* backend: reads of the kick eventfd */
	_Atomic uint64_t answers_sent; /* backend: writes to the answer fd */
	_Atomic uint64_t answers_seen; /* guest: answers_sent at an event */
	_Atomic uint64_t served;       /* backend: requests answered */
	uint64_t pad[2];
};

_Static_assert(sizeof(struct sim_chan) == 64, "one cache line a channel");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
	       "counters shared between processes must be lock-free");

/*
 * The assigned device, in the pages after the channel pages: its control
 * registers and, for each MSI vector, its completion counters (which a
 * device writes to guest memory by DMA) and the guest's event index.
 *
 * For each vector the device posts completions and raises an MSI only
 * when the completions it just posted reach @event (Xen's ring rule,
 * applied to a completion count): one interrupt until the driver took the
 * completions and asked again.  An MSI lost on the way therefore stalls
 * the vector for good.  Its accounting follows struct sim_chan's: the
 * device adds to @sent before it writes the eventfd; the guest, at each
 * event on the PIRQ's port, stores the @sent it then reads into @seen.
 */
struct sim_msi {
	_Atomic uint64_t sent;     /* device: MSIs raised */
	_Atomic uint64_t seen;     /* guest: sent at an event */
	_Atomic uint64_t done;     /* device: completions posted */
	_Atomic uint64_t taken;    /* guest: completions consumed */
	_Atomic uint64_t event;    /* guest: an MSI when done reaches it */
	_Atomic uint32_t enabled;  /* guest: the driver turned it on */
	uint32_t pad0;
	uint64_t pad[2];
};

struct sim_dev {
	_Atomic uint32_t stop;     /* guest: stop working (the drain) */
	_Atomic uint32_t stopped;  /* device: stopped; no MSI follows */
	uint32_t pad[14];
};

_Static_assert(sizeof(struct sim_msi) == 64, "one cache line a vector");
_Static_assert(sizeof(struct sim_dev) == 64, "one cache line");

/* Messages on the socket (SOCK_SEQPACKET: one message a record). */
#define SIM_MAGIC 0x314d4953u /* "SIM1" */

/* VMM -> backend, with the guest memory's memfd. */
struct sim_setup_msg {
	uint32_t magic;
	uint32_t nr_rings;
	uint64_t map_offset;   /* bytes: ring pages, channel pages, device */
	uint64_t map_pages;
	uint64_t die_after_ns; /* test hook: the backend kills itself */
	uint32_t nr_msis;      /* the device's MSI vectors, 0 for none */
	uint32_t flags;
};

/* Test hook: the device counts its first MSI of vector 0 but does not
 * raise it. */
#define SIM_SETUP_DROP_MSI 1u

/* VMM -> backend, one a ring, with its kick and answer eventfds. */
struct sim_ring_msg {
	uint32_t magic;
	uint32_t ring;
};

/* VMM -> backend, one a vector, with the vector's eventfd. */
struct sim_msi_msg {
	uint32_t magic;
	uint32_t vector;
};

#define SIM_MSG_READY 'R' /* backend -> VMM: serving */
#define SIM_MSG_QUIT 'Q'  /* VMM -> backend: exit */

/* Pages the channel accounting of @nr_rings takes. */
static inline uint32_t sim_chan_pages(uint32_t nr_rings)
{
	return (nr_rings * sizeof(struct sim_chan) + SIM_PAGE - 1) / SIM_PAGE;
}

/* Pages the device with @nr_msis vectors takes (none without vectors). */
static inline uint32_t sim_dev_pages(uint32_t nr_msis)
{
	if (!nr_msis)
		return 0;
	return (sizeof(struct sim_dev) + nr_msis * sizeof(struct sim_msi) +
		SIM_PAGE - 1) / SIM_PAGE;
}

/* The vector array after the device's registers at @page. */
static inline struct sim_msi *sim_dev_msi(void *page)
{
	return (struct sim_msi *)((struct sim_dev *)page + 1);
}

uint64_t sim_now_ns(void);
/* One message with up to 4 descriptors; -errno on failure. */
int sim_send_msg(int sock, const void *buf, size_t len, const int *fds,
		 unsigned nfds);
/* The next message: its length (0 at end of file) or -errno; @fds gets
 * exactly @nfds descriptors or the call fails with -EPROTO. */
long sim_recv_msg(int sock, void *buf, size_t len, int *fds, unsigned nfds);

/* The backend process's main loop on socket @sock; returns its exit
 * status. */
int sim_backend_main(int sock);

/* ---- the VMM process ---- */

enum sim_phase {
	SIM_RUN,   /* the workload runs */
	SIM_DRAIN, /* no new work; everything in flight must complete */
	SIM_STOP,  /* vCPU threads leave */
};

struct sim_opts {
	uint32_t vcpus;
	uint32_t rings;        /* --ports: interdomain channels */
	double duration;       /* s */
	double interval;       /* s between progress reports; 0: default */
	bool fifo;
	bool dump;
	uint32_t timer_ms;     /* VIRQ_TIMER period */
	uint32_t msis;         /* MSI vectors of the assigned device */
	/* test hooks */
	/* drop the first kick of ring 0, or the device's first MSI of
	 * vector 0 */
	enum { SIM_LOSS_NONE, SIM_LOSS_KICK, SIM_LOSS_MSI } inject_loss;
	double die_after;      /* the backend kills itself after this (s) */
	double drain_timeout;  /* s */
	/* --chaos (tools/sim/chaos.c): rings is then the number of
	 * channels of each kind */
	bool chaos;
	uint64_t max_sends;    /* --sends: end the run after this many */
	uint64_t seed;         /* --seed */
	bool seed_set;
	/* test hooks of --chaos */
	bool inject_late;      /* an event into a binding no send reached */
	bool inject_fd_leak;   /* one eventfd never closed */
};

enum sim_port_kind { SIM_PORT_NONE, SIM_PORT_TIMER, SIM_PORT_IPI,
		     SIM_PORT_RING, SIM_PORT_PIRQ };

/* What the guest bound on a port; written before the vCPUs start. */
struct sim_port {
	enum sim_port_kind kind;
	uint32_t vcpu;                /* where its events arrive */
	uint32_t ring;                /* SIM_PORT_RING: which;
				       * SIM_PORT_PIRQ: the MSI vector */
	uint32_t remote_port;         /* SIM_PORT_RING: domain 0's end */
	_Atomic uint64_t sent;        /* SIM_PORT_IPI: sends, any vCPU */
	_Atomic uint64_t seen;        /* SIM_PORT_IPI: sent at a delivery */
	_Atomic uint64_t delivered;   /* events the handler took */
};

/* The guest's front end of a ring, used by its vCPU only (counters are
 * also read by the main thread). */
struct sim_ring {
	sim_front_ring_t front;
	struct sim_chan *chan;
	uint32_t index, port, vcpu;
	uint32_t next_id;
	_Atomic uint64_t requests;    /* queued */
	_Atomic uint64_t responses;   /* consumed */
	_Atomic uint64_t bad;         /* responses that broke the protocol */
};

/* An MSI vector of the assigned device, as the guest's driver and the
 * VMM's MSI-X emulation see it. */
struct sim_msi_vec {
	struct sim_msi *sh;           /* the device's counters */
	uint32_t index, pirq, port, vcpu;
	uint64_t addr;                /* the MSI the guest programmed */
	uint32_t data;
	int efd;                      /* the VMM's copy of its irqfd, until
				       * the route has its own */
	/* the guest's, on the vector's vCPU (read after the vCPUs end) */
	bool queried;                 /* irq_status_query at the first event */
	bool needs_eoi;
	long status_rc;               /* its return value */
	_Atomic uint64_t eois;        /* PHYSDEVOP_eoi made */
};

/* Round-trip latency: 16 buckets per power of two (within 6.25 %). */
#define SIM_HIST_SUB 16u
#define SIM_HIST_BUCKETS (64u * SIM_HIST_SUB)

struct sim_hist {
	uint64_t n, sum, max;
	uint64_t b[SIM_HIST_BUCKETS];
};

void sim_hist_add(struct sim_hist *h, uint64_t v);
void sim_hist_merge(struct sim_hist *into, const struct sim_hist *h);
/* The value below which a fraction @p of the samples lie (bucket's upper
 * bound, at most the maximum). */
uint64_t sim_hist_pct(const struct sim_hist *h, double p);

struct sim;

struct sim_vcpu {
	struct sim *sim;
	uint32_t id;
	pthread_t thread;
	bool started;
	_Atomic uint32_t upcall;   /* futex: the library raised the upcall */
	_Atomic uint32_t sleeping; /* the thread waits on @upcall */
	uint32_t timer_port, ipi_port;
	uint32_t next_target;      /* of its next IPI */
	bool draining;             /* sends no more; final tick armed */
	_Atomic bool quiet;        /* sends nothing new any more */
	_Atomic bool final_tick;   /* the tick after drain arrived */
	_Atomic uint64_t events;   /* every event its handler took */
	_Atomic uint64_t ticks;
	_Atomic uint64_t ipis;     /* IPI events taken */
	_Atomic uint64_t ipis_sent;
	_Atomic uint64_t stray;    /* events on ports it did not bind */
	struct sim_hist lat;       /* its rings' round trips */
	/* --chaos: odd while a send of this vCPU may be in flight (sseq)
	 * or while its upcall handler runs (hseq); sends made */
	_Atomic uint64_t sseq, hseq, sends;
	uint64_t rng;
} __attribute__((aligned(64)));

struct sim_layout {
	uint64_t arg_gfn;   /* one page a vCPU: hypercall arguments */
	uint64_t vi_gfn;    /* vcpu_info, 64 bytes a vCPU */
	uint64_t cb_gfn;    /* FIFO control blocks, one page a vCPU */
	uint64_t array_gfn; /* FIFO event array */
	uint32_t array_pages;
	uint64_t ring_gfn;  /* one page a ring, then the channel pages, then
			     * the device's */
	uint64_t dev_gfn;
	uint64_t pages;     /* all of guest memory */
};

struct sim_chaos;

struct sim {
	struct sim_opts o;
	struct sim_layout l;
	uint32_t nvcpu;             /* the guest's vCPUs: o.vcpus, and with
				     * --chaos one more, the control vCPU */
	struct evtchn_host *host;
	struct evtchn_domain *d;    /* the guest */
	struct evtchn_domain *dom0; /* the backend's domain */
	struct evtchn_backend *bh;  /* holds domain 0's channel ends */
	unsigned char *dom0_mem;
	struct evtchn_guest g;
	int memfd;
	unsigned char *mem;         /* guest memory, MAP_SHARED on memfd */
	struct sim_vcpu *vcpu;
	struct sim_ring *ring;
	struct sim_dev *dev;        /* the device's registers */
	struct sim_msi_vec *msi;    /* its vectors */
	struct sim_port *port;      /* indexed by port number */
	uint32_t nr_ports;
	_Atomic uint32_t *mailbox;  /* [target * vcpus + sender]: an IPI
				     * the target has not taken yet */
	_Atomic int phase;
	_Atomic int failed;
	pthread_mutex_t fail_lock;
	char fail_msg[256];
	int sock;
	pid_t backend_pid;
	bool routes_running, timers_running;
	uint64_t t_run, t_drain, t_end; /* ns: the run, drain, the end */
	bool line_open;             /* a progress line without newline */
	struct sim_chaos *chaos;    /* --chaos */
};

/* Set by the signal handlers (evtchn-sim.c). */
extern volatile sig_atomic_t sim_got_dump, sim_got_stop;

/* The guest (tools/sim/guest.c). */
long sim_guest_op(void *ctx, uint32_t vcpu, int cmd, void *arg, size_t len);
long sim_hypercall(struct sim *s, uint32_t vcpu, uint64_t nr, uint64_t a0,
		   uint64_t a1, void *arg, size_t len);
long sim_physdev_op(struct sim *s, uint32_t vcpu, int cmd, void *arg,
		    size_t len);
void sim_upcall_cb(struct evtchn_domain *d, uint32_t vcpu, void *opaque);
void *sim_vcpu_main(void *arg);
void sim_wake_all(struct sim *s);
/* Until the vCPU's upcall, at most @ms milliseconds. */
void sim_wait_upcall(struct sim_vcpu *v, unsigned ms);
/* The drain of vCPU @v: it sends nothing more; its periodic timer gives
 * way to one singleshot tick that must still arrive. */
void sim_drain_begin(struct sim_vcpu *v);
long sim_vcpu_op(struct sim *s, uint32_t vcpu, int cmd, void *arg,
		 size_t len);
/* Record the first failure of the run; later ones are dropped. */
void sim_fail(struct sim *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Results (tools/sim/report.c). */
struct sim_totals {
	uint64_t events, responses, ipis, ticks;
};

struct sim_check {
	uint64_t lost;        /* lost_ipi + lost_kick + lost_answer +
			       * no_tick + lost_msi */
	uint64_t lost_ipi;    /* IPIs no delivery followed */
	uint64_t lost_kick;   /* kicks no backend wake-up followed */
	uint64_t lost_answer; /* answers no delivery followed */
	uint64_t unanswered;  /* requests without a consumed response */
	uint64_t untaken;     /* IPI mailbox entries never taken */
	uint64_t no_tick;     /* vCPUs whose final timer tick never came */
	uint64_t lost_msi;    /* MSIs no delivery followed */
	uint64_t untaken_msi; /* device completions never consumed */
	bool dev_running;     /* the device has not stopped yet */
	uint64_t bad;         /* protocol errors */
};

void sim_totals(struct sim *s, struct sim_totals *t);
/* The checks, complete once every vCPU is quiet; true when all pass. */
bool sim_check(struct sim *s, struct sim_check *c);
void sim_progress(bool tty, double elapsed, const struct sim_totals *now,
		  const struct sim_totals *prev, double dt);
void sim_summary(struct sim *s, const struct sim_check *c);

/* Shared set-up (evtchn-sim.c): guest memory, domains 0 and 1, the
 * guest's vCPUs (vcpu_info, online, FIFO with --abi fifo); and the
 * teardown of whatever exists. */
int sim_setup_guest(struct sim *s);
/* EVTCHNOP_init_control on every vCPU, then EVTCHNOP_expand_array with
 * the event-array pages of the layout (zeroed first). */
int sim_fifo_init(struct sim *s);
void sim_teardown(struct sim *s);
int sim_fail_rc(const char *what, long rc);

/* --chaos (tools/sim/chaos.c): the whole run; returns the exit status. */
int sim_chaos_main(struct sim *s, const sigset_t *mask);

#endif
