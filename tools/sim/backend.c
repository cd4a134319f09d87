/* SPDX-License-Identifier: MIT */
/*
 * evtchn-sim's backend process: netback's half of each ring.
 *
 * It maps the guest's ring pages (the memfd of guest memory, as a backend
 * maps granted pages), sleeps in epoll on one kick eventfd a ring, and on a
 * kick answers every request on that ring, pushes the responses and writes
 * the ring's answer eventfd when the ring's rsp_event says the guest wants
 * a notification.  A ring is looked at only when its eventfd fires: a lost
 * kick leaves the ring stalled, which is what the lost check must see.
 *
 * It also holds the assigned PCI device: every DEV_TICK_NS (a timerfd in
 * the same epoll) it posts a completion on each MSI vector the guest's
 * driver enabled and raises the vector's MSI, a write to its eventfd,
 * when the completions reach the guest's event index (struct sim_msi).
 * When the guest stops it (the drain), it says so and raises nothing more.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "sim.h"

#define SOCK_KEY UINT32_MAX
#define DEV_KEY (UINT32_MAX - 1)
#define DEV_TICK_NS 250000L /* a completion a vector every 250 us */

struct be_ring {
	sim_back_ring_t back;
	struct sim_chan *chan;
	int kick, answer;
};

/* One MSI vector of the device. */
struct be_msi {
	struct sim_msi *sh;
	int fd;         /* its irqfd */
	bool drop;      /* test hook: count the next MSI, do not raise it */
};

struct backend {
	int sock, ep;
	uint32_t nr_rings, nr_msis;
	unsigned char *map;
	size_t map_size;
	uint64_t die_at;
	struct be_ring *ring;
	struct sim_dev *dev;
	struct be_msi *msi;
	int timer;      /* the device's clock */
};

static int fail(const char *what, int err)
{
	fprintf(stderr, "evtchn-sim backend: %s: %s\n", what, strerror(err));
	return 1;
}

/* Answer everything on @r, notify as the ring asks; repeat until the final
 * check finds the ring empty (netback's RING_FINAL_CHECK_FOR_REQUESTS). */
static int serve(struct be_ring *r)
{
	sim_back_ring_t *b = &r->back;
	sim_sring_t *s = b->sring;
	RING_IDX prod, old, event;
	uint64_t one = 1;
	bool more;

	do {
		/* pairs with the release store of req_prod in guest.c */
		prod = __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE);
		if (prod - b->req_cons > RING_SIZE(b)) {
			fprintf(stderr, "evtchn-sim backend: ring overflow "
					"(req_prod %u, req_cons %u)\n",
				prod, b->req_cons);
			return 4;
		}
		for (; b->req_cons != prod; b->req_cons++) {
			/* request and response share a slot: copy first */
			struct sim_req req = *RING_GET_REQUEST(b, b->req_cons);
			struct sim_rsp *rsp =
				RING_GET_RESPONSE(b, b->rsp_prod_pvt++);

			rsp->id = req.id;
			rsp->status = 0;
			rsp->sent_ns = req.sent_ns;
			rsp->done_ns = sim_now_ns();
			atomic_fetch_add_explicit(&r->chan->served, 1,
						  memory_order_relaxed);
		}
		/* RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: responses before
		 * the index (release, pairs with the acquire load in
		 * guest.c); the index before reading rsp_event (full fence,
		 * pairs with the one in the guest's final check). */
		old = __atomic_load_n(&s->rsp_prod, __ATOMIC_RELAXED);
		__atomic_store_n(&s->rsp_prod, b->rsp_prod_pvt,
				 __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		event = __atomic_load_n(&s->rsp_event, __ATOMIC_RELAXED);
		if ((RING_IDX)(b->rsp_prod_pvt - event) <
		    (RING_IDX)(b->rsp_prod_pvt - old)) {
			/* counted before the notification it stands for */
			atomic_fetch_add(&r->chan->answers_sent, 1);
			if (write(r->answer, &one, sizeof(one)) != sizeof(one))
				return fail("answer eventfd", errno);
		}
		/* RING_FINAL_CHECK_FOR_REQUESTS: arm req_event, then look
		 * again (full fence, pairs with the guest's push). */
		more = __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE) !=
		       b->req_cons;
		if (!more) {
			__atomic_store_n(&s->req_event, b->req_cons + 1,
					 __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			more = __atomic_load_n(&s->req_prod,
					       __ATOMIC_ACQUIRE) != b->req_cons;
		}
	} while (more);
	return 0;
}

static int kicked(struct be_ring *r)
{
	uint64_t v;

	if (read(r->kick, &v, sizeof(v)) != sizeof(v))
		return errno == EAGAIN ? 0 : fail("kick eventfd", errno);
	/* after the read: every kick it consumed is counted by now */
	atomic_fetch_add_explicit(&r->chan->kick_wakeups, 1,
				  memory_order_relaxed);
	atomic_store(&r->chan->kicks_seen, atomic_load(&r->chan->kicks_sent));
	return serve(r);
}

/* An MSI on vector @m: counted before the eventfd write it stands for. */
static int raise_msi(struct be_msi *m)
{
	uint64_t one = 1;

	atomic_fetch_add(&m->sh->sent, 1);
	if (m->drop) {
		m->drop = false;
		return 0;
	}
	if (write(m->fd, &one, sizeof(one)) != sizeof(one))
		return fail("MSI eventfd", errno);
	return 0;
}

/* @n ticks of the device's clock passed: @n completions on each enabled
 * vector, and an MSI where they reach the guest's event index.  Stopped:
 * nothing more, ever. */
static int device_tick(struct backend *be)
{
	struct itimerspec off = { { 0, 0 }, { 0, 0 } };
	uint64_t n;

	if (read(be->timer, &n, sizeof(n)) != sizeof(n))
		return errno == EAGAIN ? 0 : fail("timerfd", errno);
	if (atomic_load(&be->dev->stop)) {
		if (timerfd_settime(be->timer, 0, &off, NULL))
			return fail("timerfd_settime", errno);
		/* after every MSI it raised was counted */
		atomic_store(&be->dev->stopped, 1);
		return 0;
	}
	for (uint32_t i = 0; i < be->nr_msis; i++) {
		struct sim_msi *sh = be->msi[i].sh;
		uint64_t old, done, event;

		if (!atomic_load(&sh->enabled))
			continue;
		old = atomic_load_explicit(&sh->done, memory_order_relaxed);
		done = old + n;
		/* the count before reading the event index, seq_cst: pairs
		 * with the guest's store of the index and load of the count
		 * (guest.c on_msi()) */
		atomic_store(&sh->done, done);
		event = atomic_load(&sh->event);
		if (done - event < done - old) {
			int rc = raise_msi(&be->msi[i]);

			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The device: its page and one message a vector, with the vector's
 * eventfd; then its clock starts. */
static int dev_setup(struct backend *be, uint32_t flags)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = DEV_KEY };
	struct itimerspec its = { { 0, DEV_TICK_NS }, { 0, DEV_TICK_NS } };
	int fd;
	long n;

	be->dev = (struct sim_dev *)(be->map +
				     (be->nr_rings +
				      sim_chan_pages(be->nr_rings)) *
					     SIM_PAGE);
	be->msi = calloc(be->nr_msis, sizeof(*be->msi));
	if (!be->msi)
		return fail("calloc", ENOMEM);
	for (uint32_t i = 0; i < be->nr_msis; i++)
		be->msi[i].fd = -1;
	for (uint32_t i = 0; i < be->nr_msis; i++) {
		struct sim_msi_msg mm;

		n = sim_recv_msg(be->sock, &mm, sizeof(mm), &fd, 1);
		if (n != sizeof(mm) || mm.magic != SIM_MAGIC ||
		    mm.vector >= be->nr_msis || be->msi[mm.vector].fd >= 0) {
			if (n == sizeof(mm))
				close(fd);
			return fail("MSI message", n < 0 ? (int)-n : EPROTO);
		}
		be->msi[mm.vector].fd = fd;
		be->msi[mm.vector].sh = sim_dev_msi(be->dev) + mm.vector;
	}
	be->msi[0].drop = flags & SIM_SETUP_DROP_MSI;
	be->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (be->timer < 0)
		return fail("timerfd_create", errno);
	if (timerfd_settime(be->timer, 0, &its, NULL))
		return fail("timerfd_settime", errno);
	if (epoll_ctl(be->ep, EPOLL_CTL_ADD, be->timer, &ev))
		return fail("epoll_ctl", errno);
	return 0;
}

/* The setup message, the memfd, one message a ring, then the device's. */
static int be_setup(struct backend *be)
{
	struct sim_setup_msg m;
	struct epoll_event ev = { .events = EPOLLIN };
	int memfd, fds[2];
	long n;

	n = sim_recv_msg(be->sock, &m, sizeof(m), &memfd, 1);
	if (n != sizeof(m) || m.magic != SIM_MAGIC || !m.nr_rings ||
	    m.nr_rings > SIM_MAX_RINGS || m.nr_msis > SIM_MAX_MSIS ||
	    (m.flags & ~SIM_SETUP_DROP_MSI) ||
	    ((m.flags & SIM_SETUP_DROP_MSI) && !m.nr_msis) ||
	    m.map_pages != m.nr_rings + sim_chan_pages(m.nr_rings) +
				   sim_dev_pages(m.nr_msis)) {
		if (n == sizeof(m))
			close(memfd);
		return fail("setup message", n < 0 ? (int)-n : EPROTO);
	}
	be->nr_rings = m.nr_rings;
	be->nr_msis = m.nr_msis;
	be->map_size = m.map_pages * SIM_PAGE;
	be->die_at = m.die_after_ns ? sim_now_ns() + m.die_after_ns : 0;
	be->map = mmap(NULL, be->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       memfd, (off_t)m.map_offset);
	close(memfd);
	if (be->map == MAP_FAILED) {
		be->map = NULL;
		return fail("mmap of the ring pages", errno);
	}
	be->ring = calloc(be->nr_rings, sizeof(*be->ring));
	if (!be->ring)
		return fail("calloc", ENOMEM);
	for (uint32_t i = 0; i < be->nr_rings; i++)
		be->ring[i].kick = be->ring[i].answer = -1;
	for (uint32_t i = 0; i < be->nr_rings; i++) {
		struct sim_ring_msg rm;
		struct be_ring *r;

		n = sim_recv_msg(be->sock, &rm, sizeof(rm), fds, 2);
		if (n != sizeof(rm) || rm.magic != SIM_MAGIC ||
		    rm.ring >= be->nr_rings || be->ring[rm.ring].kick >= 0) {
			if (n == sizeof(rm)) {
				close(fds[0]);
				close(fds[1]);
			}
			return fail("ring message", n < 0 ? (int)-n : EPROTO);
		}
		r = &be->ring[rm.ring];
		r->kick = fds[0];
		r->answer = fds[1];
		r->chan = (struct sim_chan *)(be->map +
					      be->nr_rings * SIM_PAGE) +
			  rm.ring;
		/* the guest initialised the shared ring: attach only */
		BACK_RING_INIT(&r->back,
			       (sim_sring_t *)(be->map + rm.ring * SIM_PAGE),
			       SIM_PAGE);
		ev.data.u32 = rm.ring;
		if (epoll_ctl(be->ep, EPOLL_CTL_ADD, r->kick, &ev))
			return fail("epoll_ctl", errno);
	}
	if (be->nr_msis) {
		int rc = dev_setup(be, m.flags);

		if (rc)
			return rc;
	}
	ev.data.u32 = SOCK_KEY;
	if (epoll_ctl(be->ep, EPOLL_CTL_ADD, be->sock, &ev))
		return fail("epoll_ctl", errno);
	return 0;
}

/* The VMM said quit (0), or went away (1). */
static int be_control(struct backend *be)
{
	char c;
	long n = sim_recv_msg(be->sock, &c, 1, NULL, 0);

	if (n == 1 && c == SIM_MSG_QUIT)
		return 0;
	return 1;
}

static int be_loop(struct backend *be)
{
	struct epoll_event ev[16];

	for (;;) {
		int timeout = -1, n;

		if (be->die_at) {
			uint64_t now = sim_now_ns();

			if (now >= be->die_at)
				raise(SIGKILL); /* the test hook */
			timeout = (int)((be->die_at - now) / 1000000 + 1);
		}
		n = epoll_wait(be->ep, ev, 16, timeout);
		if (n < 0 && errno != EINTR)
			return fail("epoll_wait", errno);
		for (int i = 0; i < n; i++) {
			int rc;

			if (ev[i].data.u32 == SOCK_KEY)
				return be_control(be);
			if (ev[i].data.u32 == DEV_KEY)
				rc = device_tick(be);
			else
				rc = kicked(&be->ring[ev[i].data.u32]);
			if (rc)
				return rc;
		}
	}
}

static void be_fini(struct backend *be)
{
	for (uint32_t i = 0; be->ring && i < be->nr_rings; i++) {
		if (be->ring[i].kick >= 0)
			close(be->ring[i].kick);
		if (be->ring[i].answer >= 0)
			close(be->ring[i].answer);
	}
	free(be->ring);
	for (uint32_t i = 0; be->msi && i < be->nr_msis; i++)
		if (be->msi[i].fd >= 0)
			close(be->msi[i].fd);
	free(be->msi);
	if (be->timer >= 0)
		close(be->timer);
	if (be->map)
		munmap(be->map, be->map_size);
	if (be->ep >= 0)
		close(be->ep);
	close(be->sock);
}

int sim_backend_main(int sock)
{
	struct backend be = { .sock = sock, .ep = -1, .timer = -1 };
	char ready = SIM_MSG_READY;
	int rc;

	/* Die with the VMM; Ctrl-C and SIGUSR1 are the VMM's to handle. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	be.ep = epoll_create1(EPOLL_CLOEXEC);
	if (be.ep < 0) {
		rc = fail("epoll_create1", errno);
		goto out;
	}
	rc = be_setup(&be);
	if (rc)
		goto out;
	rc = sim_send_msg(sock, &ready, 1, NULL, 0);
	if (rc) {
		rc = fail("ready message", -rc);
		goto out;
	}
	rc = be_loop(&be);
out:
	be_fini(&be);
	return rc;
}
