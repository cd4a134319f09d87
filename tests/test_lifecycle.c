/* SPDX-License-Identifier: MIT */
/* Hosts and domains: creation rules, lookup, teardown refusals, and what
 * destroying a domain does to its peers (Xen: their ports become
 * unbound). */
#include <string.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include "evtchn/kvm.h"
#include "fixture.h"

#define F struct fx *f = *state

static void *null_map(struct evtchn_domain *d, uint64_t gfn, bool w,
		      void *opaque)
{
	(void)d;
	(void)gfn;
	(void)w;
	(void)opaque;
	return NULL;
}

static void domain_config_rules(void **state)
{
	F;
	struct evtchn_domain_config cfg = { .domid = 5, .nr_vcpus = 1 };
	struct evtchn_domain *d;

	/* no guest memory */
	assert_int_equal(evtchn_domain_create(f->h, &cfg, &d), -EINVAL);
	cfg.mem.map_cb = null_map;
	cfg.nr_vcpus = 0;
	assert_int_equal(evtchn_domain_create(f->h, &cfg, &d), -EINVAL);
	cfg.nr_vcpus = EVTCHN_MAX_VCPUS + 1;
	assert_int_equal(evtchn_domain_create(f->h, &cfg, &d), -EINVAL);
	cfg.nr_vcpus = 1;
	cfg.domid = DOMID_SELF;
	assert_int_equal(evtchn_domain_create(f->h, &cfg, &d), -EINVAL);
	cfg.domid = 1; /* taken */
	assert_int_equal(evtchn_domain_create(f->h, &cfg, &d), -EEXIST);
	cfg.domid = 5;
	cfg.layout = 2;
	assert_int_equal(evtchn_domain_create(f->h, &cfg, &d), -EINVAL);
	cfg.layout = EVTCHN_LAYOUT_32;
	assert_int_equal(evtchn_domain_create(f->h, &cfg, &d), 0);
	assert_ptr_equal(evtchn_host_domain(f->h, 5), d);
	assert_int_equal(evtchn_domain_id(d), 5);
	assert_int_equal(evtchn_domain_nr_vcpus(d), 1);
	assert_int_equal(evtchn_domain_layout(d), EVTCHN_LAYOUT_32);
	assert_int_equal((uintptr_t)evtchn_domain_shared_info(d) %
				 EVTCHN_PAGE_SIZE, 0);
	assert_int_equal(evtchn_domain_destroy(d), 0);
	assert_null(evtchn_host_domain(f->h, 5));
	assert_null(evtchn_host_domain(f->h, DOMID_SELF));
}

/* Destroying a host with live domains is refused. */
static void host_destroy_refused_while_domains_live(void **state)
{
	F;

	assert_int_equal(evtchn_host_destroy(f->h), -EBUSY);
	assert_int_equal(evtchn_host_create(NULL), -EINVAL);
	assert_int_equal(evtchn_host_destroy(NULL), -EINVAL);
	assert_int_equal(evtchn_domain_destroy(NULL), -EINVAL);
}

/* A destroyed domain's interdomain peers become unbound (reserved for the
 * dead domid); sends on them are dropped; a new domain with the same domid
 * can bind them again. */
static void destroy_unbinds_peers(void **state)
{
	F;
	struct evtchn_status s;
	struct th_domain_opts o = { .domid = 2, .nr_vcpus = 2 };
	long p2 = th_alloc_unbound(&f->d2, DOMID_SELF, 1);
	long p1 = th_bind_interdomain(&f->d1, 2, p2);
	long q1 = th_alloc_unbound(&f->d1, DOMID_SELF, 2);
	long q2 = th_bind_interdomain(&f->d2, 1, q1);

	assert_true(p1 > 0 && q2 > 0);
	th_domain_destroy(&f->d2);
	assert_int_equal(th_status(&f->d1, DOMID_SELF, p1, &s), 0);
	assert_int_equal(s.status, EVTCHNSTAT_unbound);
	assert_int_equal(s.u.unbound.dom, 2);
	assert_int_equal(th_status(&f->d1, DOMID_SELF, q1, &s), 0);
	assert_int_equal(s.status, EVTCHNSTAT_unbound);
	memset(f->d1.g.shared_info + 2048, 0, 512);
	assert_int_equal(th_send(&f->d1, 0, p1), 0);
	assert_false(th_pending(&f->d1, p1));
	assert_int_equal(th_status(&f->d1, 2, 1, NULL), -XEN_ESRCH);

	assert_int_equal(th_domain_create(f->h, &f->d2, &o), 0);
	assert_true(th_bind_interdomain(&f->d2, 1, p1) > 0);
}

/* Many create/bind/destroy cycles: nothing leaks (LeakSanitizer). */
static void create_destroy_cycles(void **state)
{
	F;

	for (int i = 0; i < 50; i++) {
		struct th_domain t;
		struct th_domain_opts o = { .domid = 100 + i % 3,
					    .nr_vcpus = 3 };
		long p;

		assert_int_equal(th_domain_create(f->h, &t, &o), 0);
		for (int j = 0; j < 70; j++)
			assert_true(th_bind_ipi(&t, j % 3) > 0);
		p = th_alloc_unbound(&t, DOMID_SELF, 1);
		assert_true(th_bind_interdomain(&f->d1, o.domid, p) > 0);
		th_domain_destroy(&t);
	}
}

/* evtchn_domain_dump(): one line a port in use, Xen 'e'-key style. */
static void dump_lists_ports(void **state)
{
	F;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	long p = th_alloc_unbound(&f->d1, DOMID_SELF, DOMID_SELF);
	long l = th_bind_interdomain(&f->d1, DOMID_SELF, p);
	long v = th_bind_virq(&f->d1, VIRQ_TIMER, 2);

	assert_non_null(out);
	assert_int_equal(evtchn_domain_dump(f->d1.d, out), 4);
	fclose(out);
	assert_non_null(strstr(buf, "domain 1 (2-level ABI, 64-bit layout"));
	assert_non_null(strstr(buf, "reserved"));
	assert_non_null(strstr(buf, "[1/0] interdomain"));
	assert_non_null(strstr(buf, "virq 0"));
	assert_non_null(strstr(buf, " vcpu 2"));
	assert_int_equal(evtchn_domain_dump(NULL, stdout), -EINVAL);
	free(buf);
	(void)l;
	(void)v;
}

/* The KVM back end on something that is not a KVM VM: a clear error, and
 * the domain keeps working in userspace.  (The back end itself runs on a
 * real KVM in scripts/kvm.sh.) */
static void attach_kvm_refused_without_kvm(void **state)
{
	F;
	int efd = eventfd(0, EFD_NONBLOCK);
	int fds[4] = { efd, efd, efd, efd };
	struct evtchn_kvm_config cfg = { .vm_fd = efd, .nr_vcpus = 4,
					 .vcpu_fds = fds,
					 .offload = EVTCHN_KVM_ALL };
	long p;

	assert_int_equal(evtchn_domain_attach_kvm(f->d1.d, &cfg), -ENOTTY);
	cfg.vm_fd = -1;
	assert_int_equal(evtchn_domain_attach_kvm(f->d1.d, &cfg), -EBADF);
	cfg.nr_vcpus = 3;
	assert_int_equal(evtchn_domain_attach_kvm(f->d1.d, &cfg), -EINVAL);
	cfg.nr_vcpus = 4;
	cfg.offload = 1u << 7;
	assert_int_equal(evtchn_domain_attach_kvm(f->d1.d, &cfg), -EINVAL);
	assert_int_equal(evtchn_domain_attach_kvm(NULL, &cfg), -EINVAL);
	/* irqfd GSIs: at most EVTCHN_KVM_MAX_IRQFDS, inside KVM's table;
	 * base routes need a table */
	cfg.offload = EVTCHN_KVM_ALL;
	cfg.nr_gsis = EVTCHN_KVM_MAX_IRQFDS + 1;
	assert_int_equal(evtchn_domain_attach_kvm(f->d1.d, &cfg), -EINVAL);
	cfg.nr_gsis = 16;
	cfg.gsi_base = 4090;
	assert_int_equal(evtchn_domain_attach_kvm(f->d1.d, &cfg), -EINVAL);
	cfg.gsi_base = 24;
	cfg.nr_base_routes = 3;
	assert_int_equal(evtchn_domain_attach_kvm(f->d1.d, &cfg), -EINVAL);
	assert_int_equal(evtchn_domain_detach_kvm(f->d1.d), -ENOENT);
	{
		struct evtchn_kvm_stats st;

		assert_int_equal(evtchn_kvm_stats(f->d1.d, &st), -ENOENT);
		assert_int_equal(evtchn_kvm_stats(f->d1.d, NULL), -EINVAL);
	}
	assert_int_equal(evtchn_kvm_vcpu_sync(f->d1.d, 0), 0);
	assert_int_equal(evtchn_kvm_vcpu_sync(f->d1.d, 4), -EINVAL);
	p = th_bind_ipi(&f->d1, 1);
	assert_int_equal(th_send(&f->d1, 0, p), 0);
	assert_true(th_pending(&f->d1, p));
	close(efd);
}

static void strerror_names_errors(void **state)
{
	(void)state;
	assert_string_equal(evtchn_strerror(0), "Success");
	assert_string_equal(evtchn_strerror(-XEN_EINVAL), "Invalid argument");
	assert_string_equal(evtchn_strerror(-XEN_ESRCH), "No such process");
	assert_non_null(evtchn_strerror(-99999));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(domain_config_rules),
		FX_TEST(host_destroy_refused_while_domains_live),
		FX_TEST(destroy_unbinds_peers),
		FX_TEST(create_destroy_cycles),
		FX_TEST(dump_lists_ports),
		FX_TEST(attach_kvm_refused_without_kvm),
		cmocka_unit_test(strerror_names_errors),
	};

	return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
