/* SPDX-License-Identifier: MIT */
/*
 * The echo device: what a guest's event channels meet outside the guest,
 * on eventfds, as a backend or an assigned device would.
 *
 *   - a backend: a handle of domain 0 (<evtchn/backend.h>) that answers
 *     every notification on its ports with one of its own;
 *   - a doorbell/interrupt pair of routes (<evtchn/route.h>): the guest's
 *     sends on a port signal an eventfd (PORT_TO_FD), and each signal is
 *     answered on a second eventfd that raises another port (FD_TO_PORT);
 *   - the same with the answer an MSI to a PIRQ (FD_TO_PIRQ), as an
 *     assigned device's completion interrupt.
 *
 * The guest sets it up through VMM_PORT_DEVICE (vmm_abi.h); a thread of
 * the VMM answers, never a vCPU: with the KVM back end neither direction
 * leaves the kernel on the guest's side.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evtchn/backend.h"
#include "evtchn/route.h"
#include "vmm.h"
#include "vmm_abi.h"

#define MAX_PAIRS 8

/* A doorbell eventfd and the eventfd that answers it. */
struct echo_pair {
	int bell, answer;
};

struct vmm_device {
	struct vmm *vm;
	struct evtchn_domain *dom0;
	struct evtchn_backend *be;
	int epfd, stop_fd;
	pthread_t thread;
	pthread_mutex_t lock;      /* routes and pairs (guest requests) */
	struct evtchn_route routes[2 * MAX_PAIRS];
	struct echo_pair pair[MAX_PAIRS];
	unsigned nr_pairs;
	_Atomic unsigned long echoes;
};

static int efd(void)
{
	return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

/* Every answer for @bell's signals. */
static void echo(struct vmm_device *dev, int bell, int answer)
{
	uint64_t n;

	if (read(bell, &n, sizeof(n)) != sizeof(n))
		return;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t one = 1;

		(void)!write(answer, &one, sizeof(one));
		atomic_fetch_add(&dev->echoes, 1);
	}
}

/* The backend's ports: each reported one is answered and unmasked. */
static void backend_echo(struct vmm_device *dev)
{
	int port;

	while ((port = evtchn_backend_pending(dev->be)) >= 0) {
		(void)evtchn_backend_notify(dev->be, (uint32_t)port);
		(void)evtchn_backend_unmask(dev->be, (uint32_t)port);
		atomic_fetch_add(&dev->echoes, 1);
	}
}

static void *device_thread(void *arg)
{
	struct vmm_device *dev = arg;

	for (;;) {
		struct epoll_event ev[8];
		int n = epoll_wait(dev->epfd, ev, 8, -1);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == dev->stop_fd)
				return NULL;
			if (fd == evtchn_backend_fd(dev->be)) {
				backend_echo(dev);
				continue;
			}
			pthread_mutex_lock(&dev->lock);
			for (unsigned k = 0; k < dev->nr_pairs; k++)
				if (dev->pair[k].bell == fd)
					echo(dev, fd, dev->pair[k].answer);
			pthread_mutex_unlock(&dev->lock);
		}
	}
}

static int watch(struct vmm_device *dev, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(dev->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* A doorbell on guest port @port answered by @answer (FD_TO_PORT or
 * FD_TO_PIRQ, its fd left to fill). */
static int add_pair(struct vmm_device *dev, uint32_t port,
		    struct evtchn_route answer)
{
	struct vmm *vm = dev->vm;
	struct echo_pair p = { .bell = efd(), .answer = efd() };
	unsigned n = 2 * dev->nr_pairs;
	int rc;

	if (dev->nr_pairs == MAX_PAIRS)
		rc = -ENOSPC;
	else if (p.bell < 0 || p.answer < 0)
		rc = -errno;
	else
		rc = 0;
	if (!rc) {
		dev->routes[n] = (struct evtchn_route){
			.kind = EVTCHN_ROUTE_PORT_TO_FD, .port = port,
			.fd = p.bell };
		answer.fd = p.answer;
		dev->routes[n + 1] = answer;
		/* the whole table at once */
		rc = evtchn_routes_set(vm->dom, dev->routes, n + 2);
	}
	if (!rc)
		rc = watch(dev, p.bell);
	if (rc) {
		if (p.bell >= 0)
			close(p.bell);
		if (p.answer >= 0)
			close(p.answer);
		(void)evtchn_routes_set(vm->dom, dev->routes, n);
		return rc;
	}
	dev->pair[dev->nr_pairs++] = p;
	return 0;
}

static void clear_pairs(struct vmm_device *dev)
{
	(void)evtchn_routes_set(dev->vm->dom, NULL, 0);
	for (unsigned k = 0; k < dev->nr_pairs; k++) {
		(void)epoll_ctl(dev->epfd, EPOLL_CTL_DEL, dev->pair[k].bell,
				NULL);
		close(dev->pair[k].bell);
		close(dev->pair[k].answer);
	}
	dev->nr_pairs = 0;
}

/* Domain 0 here is the VMM itself: no guest memory behind it. */
static void *no_memory(struct evtchn_domain *d, uint64_t gfn, bool writable,
		       void *opaque)
{
	(void)d;
	(void)gfn;
	(void)writable;
	(void)opaque;
	return NULL;
}

int vmm_device_start(struct vmm *vm)
{
	struct evtchn_domain_config dc = { .domid = 0, .nr_vcpus = 1,
					   .privileged = true,
					   .mem = { .map_cb = no_memory } };
	struct vmm_device *dev = calloc(1, sizeof(*dev));
	int rc;

	if (!dev)
		return -ENOMEM;
	dev->vm = vm;
	pthread_mutex_init(&dev->lock, NULL);
	dev->epfd = epoll_create1(EPOLL_CLOEXEC);
	dev->stop_fd = efd();
	rc = dev->epfd < 0 || dev->stop_fd < 0 ? -errno : 0;
	if (!rc)
		rc = evtchn_domain_create(vm->host, &dc, &dev->dom0);
	if (!rc)
		rc = evtchn_backend_open(dev->dom0, 0, &dev->be);
	if (!rc)
		rc = watch(dev, evtchn_backend_fd(dev->be));
	if (!rc)
		rc = watch(dev, dev->stop_fd);
	if (!rc)
		rc = evtchn_routes_thread_start(vm->dom);
	if (!rc)
		rc = -pthread_create(&dev->thread, NULL, device_thread, dev);
	if (rc) {
		fprintf(stderr, "evtchn-vmm: echo device: %s\n",
			evtchn_strerror(rc));
		return rc;
	}
	vm->dev = dev;
	return 0;
}

void vmm_device_stop(struct vmm *vm)
{
	struct vmm_device *dev = vm->dev;
	uint64_t one = 1;

	if (!dev)
		return;
	(void)!write(dev->stop_fd, &one, sizeof(one));
	pthread_join(dev->thread, NULL);
	(void)evtchn_routes_thread_stop(vm->dom);
	clear_pairs(dev);
	evtchn_backend_close(dev->be);
	evtchn_domain_destroy(dev->dom0);
	close(dev->epfd);
	close(dev->stop_fd);
	free(dev);
	vm->dev = NULL;
}

unsigned long vmm_device_echoes(struct vmm *vm)
{
	return vm->dev ? atomic_load(&vm->dev->echoes) : 0;
}

/* A request the guest wrote at @gpa (VMM_PORT_DEVICE). */
void vmm_device_request(struct vmm *vm, uint64_t gpa)
{
	struct vmm_dev_req *rq;
	struct vmm_device *dev = vm->dev;
	int rc;

	if (!dev || gpa > vm->ram_size - sizeof(*rq) || gpa % 8)
		return;
	rq = (struct vmm_dev_req *)(vm->ram + gpa);
	pthread_mutex_lock(&dev->lock);
	switch (rq->op) {
	case VMM_DEV_BACKEND:
		rc = evtchn_backend_bind_unbound(dev->be,
						 evtchn_domain_id(vm->dom));
		break;
	case VMM_DEV_ROUTE_ECHO:
		rc = add_pair(dev, rq->port,
			      (struct evtchn_route){
				      .kind = EVTCHN_ROUTE_FD_TO_PORT,
				      .port = rq->port2, .vcpu = rq->vcpu });
		break;
	case VMM_DEV_MSI_ECHO:
		rc = add_pair(dev, rq->port,
			      (struct evtchn_route){
				      .kind = EVTCHN_ROUTE_FD_TO_PIRQ,
				      .pirq = rq->pirq });
		break;
	case VMM_DEV_CLEAR:
		clear_pairs(dev);
		rc = 0;
		break;
	default:
		rc = -EINVAL;
		break;
	}
	pthread_mutex_unlock(&dev->lock);
	rq->result = rc;
}
