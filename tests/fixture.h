/* SPDX-License-Identifier: MIT */
/* The common cmocka fixture: a host with a privileged domain 0 (1 vCPU)
 * and unprivileged guests 1 (4 vCPUs) and 2 (2 vCPUs), 64-bit layout. */
#ifndef EVTCHN_TEST_FIXTURE_H
#define EVTCHN_TEST_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "harness.h"

struct fx {
	struct evtchn_host *h;
	struct th_domain dom0, d1, d2;
};

static inline int fx_setup_layout(void **state, enum evtchn_layout layout)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct th_domain_opts o0 = { .domid = 0, .nr_vcpus = 1,
				     .privileged = true, .layout = layout };
	struct th_domain_opts o1 = { .domid = 1, .nr_vcpus = 4,
				     .layout = layout };
	struct th_domain_opts o2 = { .domid = 2, .nr_vcpus = 2,
				     .layout = layout };

	if (!f || evtchn_host_create(&f->h) ||
	    th_domain_create(f->h, &f->dom0, &o0) ||
	    th_domain_create(f->h, &f->d1, &o1) ||
	    th_domain_create(f->h, &f->d2, &o2))
		return -1;
	*state = f;
	return 0;
}

static inline int fx_setup(void **state)
{
	return fx_setup_layout(state, EVTCHN_LAYOUT_64);
}

static inline int fx_setup32(void **state)
{
	return fx_setup_layout(state, EVTCHN_LAYOUT_32);
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;

	th_domain_destroy(&f->d2);
	th_domain_destroy(&f->d1);
	th_domain_destroy(&f->dom0);
	assert_int_equal(evtchn_host_destroy(f->h), 0);
	free(f);
	return 0;
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
#define FX_TEST32(fn) \
	cmocka_unit_test_setup_teardown(fn, fx_setup32, fx_teardown)

#endif
