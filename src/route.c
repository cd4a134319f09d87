/* SPDX-License-Identifier: MIT */
/*
 * Routes (include/evtchn/route.h).  A domain's table is immutable once
 * published: senders find it under RCU and binary-search the sending
 * entries; a replacement publishes a new table and frees the old one (and
 * closes its descriptors) after a grace period, so senders never wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "evtchn/route.h"
#include "internal.h"
#include "park.h"
#include "rcu.h"

struct route_table {
	unsigned nsend, nirq;
	struct evtchn_route *send; /* PORT_TO_*, sorted by port */
	struct evtchn_route *irq;  /* FD_TO_PORT; fd: the library's dup */
	struct evtchn_route e[];
};

struct route_state {
	_Atomic(struct route_table *) table; /* written under d->lock */
	int epfd;                            /* -1 until needed */
	int thread_epfd, stop_efd;           /* the I/O thread's */
	pthread_t thread;
	bool running;
};

static struct route_table *table_of(struct evtchn_domain *d)
{
	/* pairs with the release stores in routes_state() and
	 * routes_publish() */
	struct route_state *rs = atomic_load_explicit(&d->routes,
						      memory_order_acquire);

	return rs ? atomic_load_explicit(&rs->table, memory_order_acquire)
		  : NULL;
}

/* Read an eventfd's count without waiting, whatever O_NONBLOCK says now
 * (RWF_NOWAIT: eventfds take it since Linux 5.12; older kernels fall back
 * to read(), non-blocking as the route was checked). */
static ssize_t fd_read_nowait(int fd, uint64_t *count)
{
	struct iovec iov = { .iov_base = count, .iov_len = sizeof(*count) };
	ssize_t n = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);

	if (n < 0 && errno == EOPNOTSUPP)
		n = read(fd, count, sizeof(*count));
	return n;
}

/* The sending entry of @port in @t (sorted by port), or NULL. */
static const struct evtchn_route *send_entry(const struct route_table *t,
					     uint32_t port)
{
	unsigned lo = 0, hi = t ? t->nsend : 0;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct evtchn_route *r = &t->send[mid];

		if (r->port == port)
			return r;
		if (r->port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Whether a sending route takes @port's sends (domain lock held: the
 * table cannot be replaced meanwhile). */
bool route_sends(struct evtchn_domain *d, uint32_t port)
{
	return send_entry(table_of(d), port) != NULL;
}

const struct evtchn_route *route_send_entry(struct evtchn_domain *d,
					    uint32_t port)
{
	return send_entry(table_of(d), port);
}

unsigned route_irqs(struct evtchn_domain *d, const struct evtchn_route **out)
{
	const struct route_table *t = table_of(d);

	*out = t ? t->irq : NULL;
	return t ? t->nirq : 0;
}

void route_irq_watch(struct evtchn_domain *d, int fd, bool watch)
{
	struct route_state *rs = atomic_load(&d->routes);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (rs && rs->epfd >= 0)
		(void)epoll_ctl(rs->epfd, watch ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
				fd, &ev);
}

void route_targets(struct evtchn_domain *d, uint32_t target,
		   void (*fn)(struct evtchn_domain *d, uint32_t port))
{
	const struct route_table *t = table_of(d);

	for (unsigned i = 0; t && i < t->nsend; i++)
		if (t->send[i].kind == EVTCHN_ROUTE_PORT_TO_PORT &&
		    t->send[i].target_port == target)
			fn(d, t->send[i].port);
}

/* --- send path (RCU held) ------------------------------------------- */

bool route_send(struct evtchn_domain *d, uint32_t port)
{
	const struct evtchn_route *r = send_entry(table_of(d), port);

	if (!r)
		return false;
	PARK_POINT("route:send", port);
	if (r->kind == EVTCHN_ROUTE_PORT_TO_FD) {
		uint64_t one = 1;

		(void)!write(r->fd, &one, sizeof(one));
	} else if (port_is_valid(d, r->target_port) &&
		   bind_usable(port_bind(port_get(d, r->target_port)))) {
		struct evtchn_port *p = port_get(d, r->target_port);

		deliver_port(d,
			     atomic_load_explicit(&p->notify_vcpu,
						  memory_order_acquire),
			     r->target_port);
	}
	return true;
}

/* --- validation ------------------------------------------------------ */

static int check_eventfd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -EBADF;
	link[n] = 0;
	return strcmp(link, "anon_inode:[eventfd]") ? -EINVAL : 0;
}

/* An eventfd the library reads or writes inside an RCU read-side section:
 * it must never block there (EFD_NONBLOCK).  The flag belongs to the file
 * description, which the VMM shares and could change later: reads ask for
 * no wait on each call as well (fd_read_nowait()); a write of 1 blocks only
 * at a count of 2^64 - 2, which a sender of ones never reaches. */
static int check_irqfd(int fd)
{
	int rc = check_eventfd(fd);

	if (rc)
		return rc;
	return fcntl(fd, F_GETFL) & O_NONBLOCK ? 0 : -EINVAL;
}

static int check_route(struct evtchn_domain *d, const struct evtchn_route *r)
{
	uint32_t max = domain_abi(d)->max_ports(d);

	if (r->kind == EVTCHN_ROUTE_FD_TO_PIRQ)
		return r->pirq == 0 || r->pirq >= d->nr_pirqs
			       ? -EINVAL
			       : check_irqfd(r->fd);
	if (r->port == 0 || r->port >= max)
		return -EINVAL;
	switch (r->kind) {
	case EVTCHN_ROUTE_PORT_TO_FD:
		/* written inside a read-side section: non-blocking too */
		return check_irqfd(r->fd);
	case EVTCHN_ROUTE_PORT_TO_PORT:
		return r->target_port == 0 || r->target_port >= max ? -EINVAL
								    : 0;
	case EVTCHN_ROUTE_FD_TO_PORT:
		if (r->vcpu >= d->nr_vcpus)
			return -EINVAL;
		return check_irqfd(r->fd);
	default:
		return -EINVAL;
	}
}

static bool is_send(const struct evtchn_route *r)
{
	return r->kind == EVTCHN_ROUTE_PORT_TO_FD ||
	       r->kind == EVTCHN_ROUTE_PORT_TO_PORT;
}

/* What an entry is found by: the sending kinds share the source port;
 * FD_TO_PORT has its target port, FD_TO_PIRQ its PIRQ. */
static uint64_t route_key(const struct evtchn_route *r)
{
	if (r->kind == EVTCHN_ROUTE_FD_TO_PIRQ)
		return 2ull << 32 | r->pirq;
	if (r->kind == EVTCHN_ROUTE_FD_TO_PORT)
		return 1ull << 32 | r->port;
	return r->port;
}

static int cmp_key(const void *a, const void *b)
{
	uint64_t x = route_key(a), y = route_key(b);

	return x < y ? -1 : x > y;
}

static void table_free(struct route_table *t)
{
	if (!t)
		return;
	/* The two regions, each as far as it was filled. */
	for (unsigned i = 0; i < t->nsend; i++)
		if (t->send[i].kind != EVTCHN_ROUTE_PORT_TO_PORT)
			close(t->send[i].fd);
	for (unsigned i = 0; i < t->nirq; i++)
		close(t->irq[i].fd);
	free(t);
}

/* A table of @n checked entries with our own descriptors, or an error. */
static int table_build(struct evtchn_domain *d, const struct evtchn_route *r,
		       unsigned n, struct route_table **out)
{
	struct route_table *t;
	unsigned ns = 0, ni = 0;
	int rc;

	for (unsigned i = 0; i < n; i++) {
		rc = check_route(d, &r[i]);
		if (rc)
			return rc;
		is_send(&r[i]) ? ns++ : ni++;
	}
	t = calloc(1, sizeof(*t) + n * sizeof(t->e[0]));
	if (!t)
		return -ENOMEM;
	t->send = t->e;
	t->irq = t->e + ns;
	for (unsigned i = 0; i < n; i++) {
		struct evtchn_route *e = is_send(&r[i]) ? &t->send[t->nsend++]
							: &t->irq[t->nirq++];

		*e = r[i];
		if (e->kind == EVTCHN_ROUTE_PORT_TO_PORT)
			continue;
		e->fd = fcntl(r[i].fd, F_DUPFD_CLOEXEC, 3);
		if (e->fd < 0) {
			rc = -errno;
			/* not ours to close */
			if (is_send(e))
				t->nsend--;
			else
				t->nirq--;
			table_free(t);
			return rc;
		}
	}
	qsort(t->send, t->nsend, sizeof(t->send[0]), cmp_key);
	qsort(t->irq, t->nirq, sizeof(t->irq[0]), cmp_key);
	for (unsigned i = 1; i < t->nsend; i++)
		if (route_key(&t->send[i]) == route_key(&t->send[i - 1]))
			goto dup;
	for (unsigned i = 1; i < t->nirq; i++)
		if (route_key(&t->irq[i]) == route_key(&t->irq[i - 1]))
			goto dup;
	*out = t;
	return 0;
dup:
	table_free(t);
	return -EEXIST;
}

static int routes_state(struct evtchn_domain *d, struct route_state **out)
{
	struct route_state *rs = atomic_load(&d->routes);

	if (!rs) {
		rs = calloc(1, sizeof(*rs));
		if (!rs)
			return -ENOMEM;
		rs->epfd = -1;
		rs->thread_epfd = -1;
		rs->stop_efd = -1;
		/* pairs with the acquire load in table_of() */
		atomic_store_explicit(&d->routes, rs, memory_order_release);
	}
	*out = rs;
	return 0;
}

/* Publish @t (lock held) and move the watched descriptors; returns the
 * old table, to free after a grace period. */
static struct route_table *routes_publish(struct evtchn_domain *d,
					  struct route_state *rs,
					  struct route_table *t)
{
	struct route_table *old = atomic_load_explicit(&rs->table,
						       memory_order_relaxed);

	if (rs->epfd >= 0 && t) {
		for (unsigned i = 0; i < t->nirq; i++) {
			struct epoll_event ev = { .events = EPOLLIN,
						  .data.fd = t->irq[i].fd };

			(void)epoll_ctl(rs->epfd, EPOLL_CTL_ADD, t->irq[i].fd,
					&ev);
		}
	}
	/* pairs with the acquire load in table_of() */
	atomic_store_explicit(&rs->table, t, memory_order_release);
	if (rs->epfd >= 0 && old)
		for (unsigned i = 0; i < old->nirq; i++)
			(void)epoll_ctl(rs->epfd, EPOLL_CTL_DEL, old->irq[i].fd,
					NULL);
	(void)d;
	return old;
}

/* Replace the table (route_mutex held). */
static int routes_replace(struct evtchn_domain *d,
			  const struct evtchn_route *routes, unsigned n)
{
	struct route_table *t = NULL, *old;
	struct route_state *rs;
	int rc;

	domain_lock(d);
	rc = routes_state(d, &rs);
	if (!rc && n)
		rc = table_build(d, routes, n, &t);
	if (rc) {
		domain_unlock(d);
		return rc;
	}
	old = routes_publish(d, rs, t);
	kvm_resync(d); /* a sending route keeps its port out of KVM */
	domain_unlock(d);
	PARK_POINT("route:published", 0);
	/* Senders that saw the old table are done before it goes. */
	evtchn_synchronize_rcu();
	table_free(old);
	return 0;
}

int evtchn_routes_set(struct evtchn_domain *d,
		      const struct evtchn_route *routes, unsigned n)
{
	int rc;

	if (!d || (n && !routes))
		return -EINVAL;
	lib_lock(&d->route_mutex);
	rc = routes_replace(d, routes, n);
	lib_unlock(&d->route_mutex);
	return rc;
}

int evtchn_route_update(struct evtchn_domain *d, const struct evtchn_route *r)
{
	struct route_table *cur;
	struct evtchn_route *all;
	unsigned n = 0, have;
	bool deassign, found = false;
	int rc;

	if (!d || !r)
		return -EINVAL;
	deassign = r->kind == EVTCHN_ROUTE_PORT_TO_PORT ? r->target_port == 0
							: r->fd == -1;
	/* The new table is the current one with this key changed; the
	 * route mutex keeps it current and its descriptors open. */
	lib_lock(&d->route_mutex);
	cur = table_of(d);
	have = cur ? cur->nsend + cur->nirq : 0;
	all = calloc(have + 1, sizeof(*all));
	if (!all) {
		lib_unlock(&d->route_mutex);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < have; i++) {
		const struct evtchn_route *e = &cur->e[i];

		if (is_send(e) == is_send(r) && route_key(e) == route_key(r)) {
			found = true;
			continue;
		}
		all[n++] = *e;
	}
	if (deassign && !found) {
		rc = -ENOENT;
	} else {
		if (!deassign)
			all[n++] = *r;
		rc = routes_replace(d, all, n);
	}
	lib_unlock(&d->route_mutex);
	free(all);
	return rc;
}

/* --- FD_TO_PORT ------------------------------------------------------- */

int evtchn_routes_fd(struct evtchn_domain *d)
{
	struct route_state *rs;
	struct route_table *t;
	int rc;

	if (!d)
		return -EINVAL;
	domain_lock(d);
	rc = routes_state(d, &rs);
	if (!rc && rs->epfd < 0) {
		rs->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (rs->epfd < 0) {
			rc = -errno;
		} else if ((t = atomic_load(&rs->table))) {
			for (unsigned i = 0; i < t->nirq; i++) {
				struct epoll_event ev = {
					.events = EPOLLIN,
					.data.fd = t->irq[i].fd
				};

				/* one KVM reads itself (an irqfd) */
				if (kvm_irqfd_holds(d, t->irq[i].fd))
					continue;
				(void)epoll_ctl(rs->epfd, EPOLL_CTL_ADD,
						t->irq[i].fd, &ev);
			}
		}
	}
	if (!rc)
		rc = rs->epfd;
	domain_unlock(d);
	return rc;
}

int evtchn_routes_dispatch(struct evtchn_domain *d)
{
	struct epoll_event ev[32];
	uint32_t msi[32];
	int n, nmsi = 0, raised = 0, epfd = evtchn_routes_fd(d);

	if (epfd < 0)
		return epfd;
	n = epoll_wait(epfd, ev, 32, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	evtchn_rcu_read_lock();
	for (int i = 0; i < n; i++) {
		struct route_table *t = table_of(d);
		uint64_t count;

		/* Only descriptors of the current table: a removed one's
		 * event is stale (it is closed after a grace period, so the
		 * number still names it here). */
		for (unsigned k = 0; t && k < t->nirq; k++) {
			const struct evtchn_route *r = &t->irq[k];

			if (r->fd != ev[i].data.fd)
				continue;
			if (fd_read_nowait(r->fd, &count) != sizeof(count))
				break;
			if (r->kind == EVTCHN_ROUTE_FD_TO_PIRQ) {
				/* Its first MSI may map the PIRQ, under the
				 * domain lock: after the read-side section. */
				msi[nmsi++] = r->pirq;
			} else if (port_is_valid(d, r->port) &&
				   bind_usable(port_bind(
					   port_get(d, r->port)))) {
				deliver_port(d, r->vcpu, r->port);
				raised++;
			}
			break;
		}
	}
	evtchn_rcu_read_unlock();
	for (int i = 0; i < nmsi; i++)
		if (pirq_inject_msi(d, msi[i]) == 0)
			raised++;
	return raised;
}

static void *routes_thread(void *arg)
{
	struct evtchn_domain *d = arg;
	struct route_state *rs = atomic_load(&d->routes);

	for (;;) {
		struct epoll_event ev[2];
		int n = epoll_wait(rs->thread_epfd, ev, 2, -1);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++)
			if (ev[i].data.fd == rs->stop_efd)
				return NULL;
		(void)evtchn_routes_dispatch(d);
	}
	return NULL;
}

int evtchn_routes_thread_start(struct evtchn_domain *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct route_state *rs;
	int epfd = evtchn_routes_fd(d), rc = 0;

	if (epfd < 0)
		return epfd;
	domain_lock(d);
	rs = atomic_load(&d->routes);
	if (rs->running) {
		rc = -EBUSY;
		goto out;
	}
	/* The thread waits on the routes' epoll descriptor and a stop
	 * eventfd, both in an epoll set of its own. */
	rs->thread_epfd = epoll_create1(EPOLL_CLOEXEC);
	rs->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rs->thread_epfd < 0 || rs->stop_efd < 0)
		goto fail;
	ev.data.fd = rs->epfd;
	if (epoll_ctl(rs->thread_epfd, EPOLL_CTL_ADD, rs->epfd, &ev))
		goto fail;
	ev.data.fd = rs->stop_efd;
	if (epoll_ctl(rs->thread_epfd, EPOLL_CTL_ADD, rs->stop_efd, &ev))
		goto fail;
	rc = -pthread_create(&rs->thread, NULL, routes_thread, d);
	if (rc)
		goto fail_rc;
	rs->running = true;
	goto out;
fail:
	rc = -errno;
fail_rc:
	if (rs->thread_epfd >= 0)
		close(rs->thread_epfd);
	if (rs->stop_efd >= 0)
		close(rs->stop_efd);
	rs->thread_epfd = rs->stop_efd = -1;
out:
	domain_unlock(d);
	return rc;
}

int evtchn_routes_thread_stop(struct evtchn_domain *d)
{
	struct route_state *rs;
	uint64_t one = 1;

	if (!d)
		return -EINVAL;
	domain_lock(d);
	rs = atomic_load(&d->routes);
	if (!rs || !rs->running) {
		domain_unlock(d);
		return -ENOENT;
	}
	rs->running = false;
	domain_unlock(d);
	(void)!write(rs->stop_efd, &one, sizeof(one));
	pthread_join(rs->thread, NULL);
	close(rs->thread_epfd);
	close(rs->stop_efd);
	rs->thread_epfd = rs->stop_efd = -1;
	return 0;
}

/* Domain destruction: stop the thread, unpublish the state, free it all
 * after a grace period. */
void routes_destroy(struct evtchn_domain *d)
{
	struct route_state *rs = atomic_load(&d->routes);
	struct route_table *old;

	if (!rs)
		return;
	if (rs->running)
		evtchn_routes_thread_stop(d);
	lib_lock(&d->route_mutex);
	domain_lock(d);
	old = routes_publish(d, rs, NULL);
	kvm_resync(d); /* KVM's irqfds go while their descriptors are open */
	atomic_store_explicit(&d->routes, NULL, memory_order_release);
	domain_unlock(d);
	lib_unlock(&d->route_mutex);
	/* No sender can hold the state or the table after this. */
	evtchn_synchronize_rcu();
	table_free(old);
	if (rs->epfd >= 0)
		close(rs->epfd);
	free(rs);
}
