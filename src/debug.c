/* SPDX-License-Identifier: MIT */
/*
 * The debug socket (evtchn_host_debug_start()): a Unix stream socket an
 * operator's evtchn-dump connects to.  One request line per connection:
 *   list          one line per domain
 *   dump DOMID    evtchn_domain_dump() of that domain
 * The answer is built in memory (no client can hold up a grace period or a
 * domain lock) and the whole exchange has one deadline, so a client that
 * trickles, stops reading or never hangs up is dropped after it; stopping
 * the server interrupts an exchange at once.  Only the socket's owner (and
 * root) may connect.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "rcu.h"

#define DEBUG_IO_TIMEOUT_MS 2000

struct debug_server {
	struct evtchn_host *host;
	int lfd, stop_efd;
	pthread_t tid;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until @fd is ready for @events before @deadline; 0, or -1 when the
 * deadline passed, the server is stopping or the client went away. */
static int wait_fd(struct debug_server *s, int fd, short events,
		   int64_t deadline)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = fd, .events = events },
					 { .fd = s->stop_efd, .events = POLLIN } };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return -1;
		n = poll(pfd, 2, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || pfd[1].revents)
			return -1;
		if (pfd[0].revents & (events | POLLHUP | POLLERR))
			return 0;
	}
}

/* One line (without its newline), by the deadline. */
static int read_request(struct debug_server *s, int fd, char *buf,
			size_t size, int64_t deadline)
{
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t n;

		if (wait_fd(s, fd, POLLIN, deadline))
			return -1;
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	return 0;
}

static void write_all(struct debug_server *s, int fd, const char *p,
		      size_t len, int64_t deadline)
{
	while (len) {
		ssize_t n;

		if (wait_fd(s, fd, POLLOUT, deadline))
			return;
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* Only the user the VMM runs as, or root. */
static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void list_domains(struct evtchn_host *h, FILE *out)
{
	for (uint32_t id = 0; id < DOMID_FIRST_RESERVED; id++) {
		struct evtchn_domain *d = host_domain_rcu(h, (uint16_t)id);

		if (d)
			fprintf(out, "domain %u: %u vCPUs, %s ABI, %u ports "
				     "valid\n", d->domid, d->nr_vcpus,
				domain_abi(d)->name,
				atomic_load(&d->valid_ports));
	}
}

/* The answer to @req, in memory.  xlock keeps the domains alive. */
static char *answer(struct evtchn_host *h, const char *req, size_t *len)
{
	char *buf = NULL, *end;
	FILE *out = open_memstream(&buf, len);
	unsigned long domid;

	if (!out)
		return NULL;
	lib_lock(&h->xlock);
	evtchn_rcu_read_lock();
	if (!strcmp(req, "list")) {
		list_domains(h, out);
	} else if (!strncmp(req, "dump ", 5)) {
		errno = 0;
		domid = strtoul(req + 5, &end, 0);
		struct evtchn_domain *d =
			errno || *end || end == req + 5 ||
					domid >= DOMID_FIRST_RESERVED
				? NULL
				: host_domain_rcu(h, (uint16_t)domid);
		if (d)
			evtchn_domain_dump(d, out);
		else
			fprintf(out, "error: no domain %s\n", req + 5);
	} else {
		fprintf(out, "error: unknown request \"%.64s\" (list, dump "
			     "DOMID)\n", req);
	}
	evtchn_rcu_read_unlock();
	lib_unlock(&h->xlock);
	if (fclose(out)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void *debug_thread(void *arg)
{
	struct debug_server *s = arg;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = s->lfd, .events = POLLIN },
					 { .fd = s->stop_efd, .events = POLLIN } };
		char req[128], *ans;
		int64_t deadline;
		size_t len;
		int c;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		c = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			/* Out of descriptors, say: not a busy loop. */
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				poll(&pfd[1], 1, 100);
			continue;
		}
		deadline = now_ms() + DEBUG_IO_TIMEOUT_MS;
		if (peer_allowed(c) &&
		    read_request(s, c, req, sizeof(req), deadline) == 0) {
			ans = answer(s->host, req, &len);
			if (ans)
				write_all(s, c, ans, len, deadline);
			free(ans);
		}
		close(c);
	}
	return NULL;
}

int evtchn_host_debug_start(struct evtchn_host *h, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct debug_server *s;
	int rc;

	if (!h || !path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = h;
	strcpy(s->path, path);
	strcpy(sa.sun_path, path);
	s->stop_efd = eventfd(0, EFD_CLOEXEC);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->stop_efd < 0 || s->lfd < 0) {
		rc = -errno;
		goto fail;
	}
	lib_lock(&h->xlock);
	if (h->debug) {
		rc = -EBUSY;
		goto unlock;
	}
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		goto unlock;
	}
	/* Only the owner may look at the guest's ports: the mode is set
	 * before anyone can connect (nothing listens yet). */
	if (chmod(path, 0600) || listen(s->lfd, 8)) {
		rc = -errno;
		unlink(path);
		goto unlock;
	}
	rc = -pthread_create(&s->tid, NULL, debug_thread, s);
	if (rc) {
		unlink(path);
		goto unlock;
	}
	h->debug = s;
	lib_unlock(&h->xlock);
	return 0;
unlock:
	lib_unlock(&h->xlock);
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->stop_efd >= 0)
		close(s->stop_efd);
	free(s);
	return rc;
}

int evtchn_host_debug_stop(struct evtchn_host *h)
{
	struct debug_server *s;
	uint64_t one = 1;

	if (!h)
		return -EINVAL;
	lib_lock(&h->xlock);
	s = h->debug;
	h->debug = NULL;
	lib_unlock(&h->xlock);
	if (!s)
		return 0;
	/* The thread leaves at once, even in the middle of an exchange
	 * (it answers under xlock, so it is not held here). */
	(void)!write(s->stop_efd, &one, sizeof(one));
	pthread_join(s->tid, NULL);
	unlink(s->path);
	close(s->lfd);
	close(s->stop_efd);
	free(s);
	return 0;
}
