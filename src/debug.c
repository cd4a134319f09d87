/* SPDX-License-Identifier: MIT */
/*
 * The debug socket (evtchn_host_debug_start()): a Unix stream socket an
 * operator's evtchn-dump connects to.  One request line per connection:
 *   list          one line per domain
 *   dump DOMID    evtchn_domain_dump() of that domain
 * The answer is built in memory (no client can hold up a grace period or a
 * domain lock) and written with a timeout; then the connection closes.
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
#include <unistd.h>

#include "internal.h"
#include "rcu.h"

#define DEBUG_IO_TIMEOUT_MS 2000

struct debug_server {
	int lfd, stop_efd;
	pthread_t tid;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Read one line (without its newline) within the timeout. */
static int read_request(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, DEBUG_IO_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + len, size - 1 - len);
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

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n;

		if (poll(&pfd, 1, DEBUG_IO_TIMEOUT_MS) <= 0)
			return;
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
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
	pthread_mutex_lock(&h->xlock);
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
	pthread_mutex_unlock(&h->xlock);
	if (fclose(out)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void *debug_thread(void *arg)
{
	struct evtchn_host *h = arg;
	struct debug_server *s = h->debug;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = s->lfd, .events = POLLIN },
					 { .fd = s->stop_efd, .events = POLLIN } };
		char req[128], *ans;
		size_t len;
		int c;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		c = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (read_request(c, req, sizeof(req)) == 0) {
			ans = answer(h, req, &len);
			if (ans)
				write_all(c, ans, len);
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
	mode_t old;
	int rc;

	if (!h || !path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	if (h->debug)
		return -EBUSY;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	strcpy(s->path, path);
	strcpy(sa.sun_path, path);
	s->stop_efd = eventfd(0, EFD_CLOEXEC);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->stop_efd < 0 || s->lfd < 0) {
		rc = -errno;
		goto fail;
	}
	/* Only the owner may look at the guest's ports. */
	old = umask(0077);
	rc = bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (rc)
		goto fail;
	if (listen(s->lfd, 8)) {
		rc = -errno;
		unlink(path);
		goto fail;
	}
	h->debug = s;
	rc = -pthread_create(&s->tid, NULL, debug_thread, h);
	if (rc) {
		h->debug = NULL;
		unlink(path);
		goto fail;
	}
	return 0;
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
	s = h->debug;
	if (!s)
		return 0;
	(void)!write(s->stop_efd, &one, sizeof(one));
	pthread_join(s->tid, NULL);
	h->debug = NULL;
	unlink(s->path);
	close(s->lfd);
	close(s->stop_efd);
	free(s);
	return 0;
}
