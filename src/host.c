/* SPDX-License-Identifier: MIT */
/* Hosts, domains and vCPUs: creation, lookup, locking, destruction. */
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "rcu.h"

int evtchn_host_create(struct evtchn_host **out)
{
	struct evtchn_host *h;

	if (!out)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->domains = calloc(DOMID_FIRST_RESERVED, sizeof(*h->domains));
	if (!h->domains) {
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_init(&h->xlock, NULL);
	pthread_cond_init(&h->xref_cond, NULL);
	pthread_mutex_init(&h->timer_lock, NULL);
	{
		/* The timer thread waits for deadlines on the monotonic
		 * clock (timer.c). */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h->timer_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	*out = h;
	return 0;
}

int evtchn_host_destroy(struct evtchn_host *h)
{
	if (!h)
		return -EINVAL;
	lib_lock(&h->xlock);
	if (h->nr_domains) {
		lib_unlock(&h->xlock);
		return -EBUSY;
	}
	lib_unlock(&h->xlock);
	evtchn_host_debug_stop(h);
	if (h->timer_running)
		evtchn_host_timers_stop(h);
	pthread_mutex_destroy(&h->xlock);
	pthread_cond_destroy(&h->xref_cond);
	pthread_mutex_destroy(&h->timer_lock);
	pthread_cond_destroy(&h->timer_cond);
	free(h->domains);
	free(h);
	return 0;
}

/* Under RCU (senders) or xlock (control paths). */
struct evtchn_domain *host_domain_rcu(struct evtchn_host *h, uint16_t domid)
{
	if (domid >= DOMID_FIRST_RESERVED)
		return NULL;
	/* pairs with the release store in evtchn_domain_create() */
	return atomic_load_explicit(&h->domains[domid], memory_order_acquire);
}

struct evtchn_domain *evtchn_host_domain(struct evtchn_host *h,
					 uint16_t domid)
{
	return h ? host_domain_rcu(h, domid) : NULL;
}

void domain_lock(struct evtchn_domain *d)
{
	lib_lock(&d->lock);
}

void domain_unlock(struct evtchn_domain *d)
{
	lib_unlock(&d->lock);
}

void domain_assert_locked(struct evtchn_domain *d)
{
#ifndef NDEBUG
	/* An error-checking mutex would say EDEADLK; a trylock that
	 * succeeds means nobody held it. */
	if (pthread_mutex_trylock(&d->lock) == 0) {
		lib_unlock(&d->lock);
		__builtin_trap();
	}
#else
	(void)d;
#endif
}

/* Two domain locks, lower domid first.  Caller holds the host's xlock
 * (see struct evtchn_host), or a == b. */
void domain_lock_pair(struct evtchn_domain *a, struct evtchn_domain *b)
{
	if (a == b) {
		domain_lock(a);
	} else if (a->domid < b->domid) {
		domain_lock(a);
		domain_lock(b);
	} else {
		domain_lock(b);
		domain_lock(a);
	}
}

void domain_unlock_pair(struct evtchn_domain *a, struct evtchn_domain *b)
{
	domain_unlock(a);
	if (a != b)
		domain_unlock(b);
}

void domain_unref(struct evtchn_domain *d)
{
	struct evtchn_host *h = d->host;

	lib_lock(&h->xlock);
	if (--d->xrefs == 0)
		pthread_cond_broadcast(&h->xref_cond);
	lib_unlock(&h->xlock);
}

static int domain_config_check(const struct evtchn_domain_config *cfg)
{
	if (cfg->domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > EVTCHN_MAX_VCPUS)
		return -EINVAL;
	if (cfg->layout != EVTCHN_LAYOUT_64 && cfg->layout != EVTCHN_LAYOUT_32)
		return -EINVAL;
	if (!cfg->mem.map_cb && !cfg->mem.flat_base)
		return -EINVAL;
	return 0;
}

static void domain_free(struct evtchn_domain *d)
{
	kvm_destroy(d);
	for (uint32_t i = 0; d->vcpu && i < d->nr_vcpus; i++)
		if (d->vcpu[i].registered)
			guest_unmap_gfn(d, d->vcpu[i].vi_gfn,
					d->vcpu[i].vi_page);
	fifo_free(d, atomic_load(&d->fifo));
	backend_table_destroy(d);
	port_table_destroy(d);
	pirq_domain_free(d);
	free(d->vcpu);
	free(d->shared_info);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->route_mutex);
	free(d);
}

int evtchn_domain_create(struct evtchn_host *h,
			 const struct evtchn_domain_config *cfg,
			 struct evtchn_domain **out)
{
	struct evtchn_domain *d;
	int rc;

	if (!h || !cfg || !out)
		return -EINVAL;
	rc = domain_config_check(cfg);
	if (rc)
		return rc;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->route_mutex, NULL);
	d->host = h;
	d->domid = cfg->domid;
	d->nr_vcpus = cfg->nr_vcpus;
	d->privileged = cfg->privileged;
	d->max_evtchn_port = cfg->max_evtchn_port ? cfg->max_evtchn_port
						  : STORAGE_MAX_PORTS - 1;
	d->mem = cfg->mem;
	d->upcall_cb = cfg->upcall_cb;
	d->irq_cb = cfg->irq_cb;
	d->opaque = cfg->opaque;
	d->nr_gsis = cfg->nr_gsis ? cfg->nr_gsis : 48;
	rc = pirq_domain_init(d, cfg);
	if (rc)
		goto fail;
	atomic_init(&d->abi, &evtchn_abi_2l);
	atomic_init(&d->layout, cfg->layout);
	/* Zeroed as soon as they exist: domain_free() reads the vCPUs of a
	 * creation that failed half-way. */
	d->shared_info = aligned_alloc(EVTCHN_PAGE_SIZE, EVTCHN_PAGE_SIZE);
	if (d->shared_info)
		memset(d->shared_info, 0, EVTCHN_PAGE_SIZE);
	d->vcpu = aligned_alloc(_Alignof(struct evtchn_vcpu),
				cfg->nr_vcpus * sizeof(*d->vcpu));
	if (d->vcpu)
		memset(d->vcpu, 0, cfg->nr_vcpus * sizeof(*d->vcpu));
	if (!d->shared_info || !d->vcpu) {
		rc = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < d->nr_vcpus; i++) {
		d->vcpu[i].id = i;
		d->vcpu[i].owner = d;
		vcpu_info_reset(d, &d->vcpu[i]);
	}

	/* Port 0 exists from the start and is reserved (bucket 0 valid). */
	domain_lock(d);
	rc = port_alloc_bucket(d, 0);
	if (rc == 0)
		port_set_bind(d, 0, bind_make(ECS_RESERVED, 0, 0));
	d->free_hint = 1;
	domain_unlock(d);
	if (rc) {
		rc = -ENOMEM;
		goto fail;
	}

	lib_lock(&h->xlock);
	if (host_domain_rcu(h, d->domid)) {
		lib_unlock(&h->xlock);
		rc = -EEXIST;
		goto fail;
	}
	/* pairs with the acquire load in host_domain_rcu() */
	atomic_store_explicit(&h->domains[d->domid], d, memory_order_release);
	h->nr_domains++;
	lib_unlock(&h->xlock);
	timers_add_domain(h, d);
	*out = d;
	return 0;
fail:
	domain_free(d);
	return rc;
}

int evtchn_domain_destroy(struct evtchn_domain *d)
{
	struct evtchn_host *h;

	if (!d)
		return -EINVAL;
	h = d->host;
	lib_lock(&h->xlock);
	domain_lock(d);
	if (d->nr_handles) {
		/* Backend handles still act for it: close them first. */
		domain_unlock(d);
		lib_unlock(&h->xlock);
		return -EBUSY;
	}
	d->dying = true;
	domain_unlock(d);
	/* Timers and routes first: they raise events in this domain. */
	timers_remove_domain(h, d);
	routes_destroy(d);
	/* Peers in other domains become unbound, as in Xen. */
	evtchn_close_all(d);
	lib_unlock(&h->xlock);
	/* Senders that saw a channel to this domain finish while its domid
	 * is still taken, so none reaches a new domain given the same domid. */
	evtchn_synchronize_rcu();
	lib_lock(&h->xlock);
	atomic_store_explicit(&h->domains[d->domid], NULL,
			      memory_order_release);
	h->nr_domains--;
	/* Not to be found any more: wait for those that found it. */
	while (d->xrefs)
		pthread_cond_wait(&h->xref_cond, &h->xlock);
	lib_unlock(&h->xlock);
	/* No sender can reach the domain once this returns. */
	evtchn_synchronize_rcu();
	/* The VMM callbacks senders owe it were made as their sections
	 * ended: wait for those still being made. */
	upcall_wait(d);
	domain_free(d);
	return 0;
}

uint16_t evtchn_domain_id(const struct evtchn_domain *d)
{
	return d->domid;
}

uint32_t evtchn_domain_nr_vcpus(const struct evtchn_domain *d)
{
	return d->nr_vcpus;
}

void *evtchn_domain_shared_info(struct evtchn_domain *d)
{
	return d->shared_info;
}

int evtchn_domain_set_layout(struct evtchn_domain *d, enum evtchn_layout l)
{
	if (l != EVTCHN_LAYOUT_64 && l != EVTCHN_LAYOUT_32)
		return -EINVAL;
	domain_lock(d);
	atomic_store_explicit(&d->layout, l, memory_order_relaxed);
	kvm_resync(d);
	domain_unlock(d);
	return 0;
}

enum evtchn_layout evtchn_domain_layout(const struct evtchn_domain *d)
{
	return domain_layout(d);
}

int evtchn_domain_set_paused(struct evtchn_domain *d, bool paused)
{
	atomic_store(&d->paused, paused);
	return 0;
}

int evtchn_vcpu_kick(struct evtchn_domain *d, uint32_t vcpu)
{
	struct evtchn_vcpu *v = d ? domain_vcpu(d, vcpu) : NULL;

	if (!v)
		return -EINVAL;
	/* Latched: a kick just before the vCPU polls is not lost. */
	atomic_store(&v->kicked, true);
	if (atomic_exchange(&v->poll_evtchn, 0) != 0)
		syscall(SYS_futex, &v->poll_evtchn, FUTEX_WAKE_PRIVATE, 1,
			NULL, NULL, 0);
	return 0;
}

int evtchn_vcpu_polling(struct evtchn_domain *d, uint32_t vcpu)
{
	struct evtchn_vcpu *v = d ? domain_vcpu(d, vcpu) : NULL;

	if (!v)
		return -EINVAL;
	return atomic_load(&v->poll_evtchn) != 0;
}

int evtchn_vcpu_set_online(struct evtchn_domain *d, uint32_t vcpu,
			   bool online)
{
	struct evtchn_vcpu *v = domain_vcpu(d, vcpu);

	if (!v)
		return -ENOENT;
	atomic_store(&v->online, online);
	return 0;
}
