/* SPDX-License-Identifier: MIT */
/*
 * The hypercall entry: dispatch, argument copying through guest memory and
 * hostile addresses (Xen 4.17 do_event_channel_op(): unknown cmd -ENOSYS,
 * copy-in fault -EFAULT, copy-out fault after success -EFAULT without
 * rollback).
 */
#include <string.h>

#include "fixture.h"

#define F struct fx *f = *state

static long op_at(struct th_domain *td, int cmd, uint64_t gpa)
{
	return th_hypercall(td, 0, __HYPERVISOR_event_channel_op,
			    (uint64_t)cmd, gpa, 0);
}

/* Hypercalls that are not the library's: -ENOSYS, nothing changed. */
static void foreign_hypercalls_enosys(void **state)
{
	F;
	struct evtchn_status s;

	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_memory_op, 0, 0,
				      0), -ENOSYS);
	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_sched_op, 0, 0,
				      0), -ENOSYS);
	assert_int_equal(th_hypercall(&f->d1, 0, ~0ull, 0, 0, 0), -ENOSYS);
	assert_int_equal(th_hypercall(&f->d1, 0, 16 /* event_channel_op_compat */,
				      0, 0, 0), -ENOSYS);
	assert_int_equal(th_status(&f->d1, DOMID_SELF, 1, &s), 0);
	assert_int_equal(s.status, EVTCHNSTAT_closed);
}

/* Unknown EVTCHNOP: -ENOSYS before the argument is read. */
static void unknown_subop_enosys(void **state)
{
	F;

	assert_int_equal(op_at(&f->d1, 15, 0), -XEN_ENOSYS);
	assert_int_equal(op_at(&f->d1, 100, ~0ull), -XEN_ENOSYS);
	assert_int_equal(op_at(&f->d1, -1, 0), -XEN_ENOSYS);
	/* cmd is an int: the upper half of the register is ignored */
	assert_int_equal(op_at(&f->d1, 0x7fffffff, 0), -XEN_ENOSYS);
}

/* The cmd register is read as a 32-bit int, as Xen's prototype has it. */
static void cmd_upper_bits_ignored(void **state)
{
	F;
	struct evtchn_bind_ipi b = { .vcpu = 1 };
	uint64_t gpa = th_scratch_gpa();

	memcpy(f->d1.mem + gpa, &b, sizeof(b));
	assert_int_equal(th_hypercall(&f->d1, 0, __HYPERVISOR_event_channel_op,
				      0xabcd00000000ull | EVTCHNOP_bind_ipi,
				      gpa, 0), 0);
	memcpy(&b, f->d1.mem + gpa, sizeof(b));
	assert_int_equal(b.port, 1);
}

/* Bad argument addresses: outside guest memory, straddling its end,
 * wrapping around the address space: -EFAULT, nothing changed. */
static void bad_argument_addresses_efault(void **state)
{
	F;
	static const int cmds[] = {
		EVTCHNOP_bind_interdomain, EVTCHNOP_bind_virq,
		EVTCHNOP_bind_pirq, EVTCHNOP_close, EVTCHNOP_send,
		EVTCHNOP_status, EVTCHNOP_alloc_unbound, EVTCHNOP_bind_ipi,
		EVTCHNOP_bind_vcpu, EVTCHNOP_unmask, EVTCHNOP_reset,
		EVTCHNOP_init_control, EVTCHNOP_expand_array,
		EVTCHNOP_set_priority, EVTCHNOP_reset_cont,
	};
	static const uint64_t addrs[] = {
		TH_MEM_SIZE, TH_MEM_SIZE - 1, TH_MEM_SIZE + EVTCHN_PAGE_SIZE,
		1ull << 40, ~0ull - 1, ~0ull,
	};

	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		for (size_t a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++) {
			long rc = op_at(&f->d1, cmds[c], addrs[a]);

			if (rc != -XEN_EFAULT)
				fail_msg("cmd %d at %#llx: %ld", cmds[c],
					 (unsigned long long)addrs[a], rc);
		}
	}
	/* nothing was allocated */
	assert_int_equal(th_bind_ipi(&f->d1, 0), 1);
}

/* An argument that crosses a page boundary inside guest memory works. */
static void argument_across_pages(void **state)
{
	F;
	struct evtchn_status s = { .dom = DOMID_SELF, .port = 0 };
	uint64_t gpa = 20ull * EVTCHN_PAGE_SIZE - 10;

	memcpy(f->d1.mem + gpa, &s, sizeof(s));
	assert_int_equal(op_at(&f->d1, EVTCHNOP_status, gpa), 0);
	/* the last bytes of guest memory are usable too */
	gpa = TH_MEM_SIZE - sizeof(struct evtchn_bind_ipi);
	memset(f->d1.mem + gpa, 0, sizeof(struct evtchn_bind_ipi));
	assert_int_equal(op_at(&f->d1, EVTCHNOP_bind_ipi, gpa), 0);
}

/* Bad calls from the VMM itself. */
static void bad_vmm_calls(void **state)
{
	F;
	uint64_t args[6] = { 0 };

	assert_int_equal(evtchn_hypercall(f->d1.d, 4, 32, args), -EINVAL);
	assert_int_equal(evtchn_hypercall(f->d1.d, 0, 32, NULL), -EINVAL);
	assert_int_equal(evtchn_hypercall(NULL, 0, 32, args), -EINVAL);
}

/* A guest memory whose page 30 is read-only and whose guest-virtual
 * addresses are guest-physical + 1 MiB. */
struct ro_mem {
	unsigned char *base;
};

static void *ro_map(struct evtchn_domain *d, uint64_t gfn, bool writable,
		    void *opaque)
{
	struct ro_mem *m = opaque;

	(void)d;
	if (gfn >= TH_MEM_PAGES || (gfn == 30 && writable))
		return NULL;
	return m->base + gfn * EVTCHN_PAGE_SIZE;
}

static int ro_translate(struct evtchn_domain *d, uint32_t vcpu, uint64_t gva,
			uint64_t *gpa, void *opaque)
{
	(void)d;
	(void)vcpu;
	(void)opaque;
	if (gva < (1u << 20))
		return -EFAULT;
	*gpa = gva - (1u << 20);
	return 0;
}

/* B47: a copy-out fault after a successful bind returns -EFAULT and the
 * port stays bound (Xen: "Cleaning up here would be a mess!"). */
static void copy_out_fault_keeps_binding(void **state)
{
	F;
	struct evtchn_domain_config cfg = { .domid = 7, .nr_vcpus = 2 };
	struct evtchn_bind_ipi b = { .vcpu = 1 };
	struct evtchn_status s;
	struct evtchn_domain *d;
	struct ro_mem m = { .base = calloc(1, TH_MEM_SIZE) };
	uint64_t args[6] = { EVTCHNOP_bind_ipi,
			     (1u << 20) + 30 * EVTCHN_PAGE_SIZE };

	cfg.mem.map_cb = ro_map;
	cfg.mem.translate_cb = ro_translate;
	cfg.mem.opaque = &m;
	assert_int_equal(evtchn_domain_create(f->h, &cfg, &d), 0);
	memcpy(m.base + 30 * EVTCHN_PAGE_SIZE, &b, sizeof(b));
	assert_int_equal(evtchn_hypercall(d, 0, 32, args), -XEN_EFAULT);
	/* the guest's struct was not written */
	memcpy(&b, m.base + 30 * EVTCHN_PAGE_SIZE, sizeof(b));
	assert_int_equal(b.port, 0);
	/* the port is bound all the same */
	assert_int_equal(th_status(&f->dom0, 7, 1, &s), 0);
	assert_int_equal(s.status, EVTCHNSTAT_ipi);
	assert_int_equal(s.vcpu, 1);
	/* a translation fault is -EFAULT too */
	args[1] = 4096;
	assert_int_equal(evtchn_hypercall(d, 0, 32, args), -XEN_EFAULT);
	/* and a writable page through the translation works */
	args[1] = (1u << 20) + 31 * EVTCHN_PAGE_SIZE;
	memcpy(m.base + 31 * EVTCHN_PAGE_SIZE, &b, sizeof(b));
	assert_int_equal(evtchn_hypercall(d, 0, 32, args), 0);
	memcpy(&b, m.base + 31 * EVTCHN_PAGE_SIZE, sizeof(b));
	assert_int_equal(b.port, 2);
	assert_int_equal(evtchn_domain_destroy(d), 0);
	free(m.base);
}

/* The argument is read once: hypercall results do not depend on the
 * guest changing it afterwards (copy in, act, copy out). */
static void status_copies_whole_struct_back(void **state)
{
	F;
	struct evtchn_status s;
	long p = th_bind_virq(&f->d1, VIRQ_TIMER, 2);

	memset(&s, 0x5a, sizeof(s));
	s.dom = DOMID_SELF;
	s.port = p;
	assert_int_equal(th_op(&f->d1, 0, EVTCHNOP_status, &s, sizeof(s)), 0);
	assert_int_equal(s.status, EVTCHNSTAT_virq);
	assert_int_equal(s.vcpu, 2);
	assert_int_equal(s.u.virq, VIRQ_TIMER);
	assert_int_equal(s.dom, DOMID_SELF);
	assert_int_equal(s.port, p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(foreign_hypercalls_enosys),
		FX_TEST(unknown_subop_enosys),
		FX_TEST(cmd_upper_bits_ignored),
		FX_TEST(bad_argument_addresses_efault),
		FX_TEST(argument_across_pages),
		FX_TEST(bad_vmm_calls),
		FX_TEST(copy_out_fault_keeps_binding),
		FX_TEST(status_copies_whole_struct_back),
	};

	return cmocka_run_group_tests_name("hypercall", tests, NULL, NULL);
}
