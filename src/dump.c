/* SPDX-License-Identifier: MIT */
/* evtchn_domain_dump(): a domain's port table, as Xen's 'e' debug key. */
#include <errno.h>

#include "internal.h"
#include "rcu.h"

static const char *const state_name[] = {
	[ECS_FREE] = "free",		[ECS_RESERVED] = "reserved",
	[ECS_UNBOUND] = "unbound",	[ECS_INTERDOMAIN] = "interdomain",
	[ECS_PIRQ] = "pirq",		[ECS_VIRQ] = "virq",
	[ECS_IPI] = "ipi",
};

int evtchn_domain_dump(struct evtchn_domain *d, FILE *out)
{
	const struct evtchn_abi_ops *abi;
	uint32_t n, listed = 0;

	if (!d || !out)
		return -EINVAL;
	evtchn_rcu_read_lock();
	abi = domain_abi(d);
	n = atomic_load_explicit(&d->valid_ports, memory_order_acquire);
	fprintf(out, "Event channel information for domain %u (%s ABI, %s "
		     "layout, %u vCPUs, %u ports valid):\n",
		d->domid, abi->name,
		domain_layout(d) == EVTCHN_LAYOUT_32 ? "32-bit" : "64-bit",
		d->nr_vcpus, n);
	for (uint32_t port = 0; port < n; port++) {
		struct evtchn_port *p = port_get(d, port);
		uint64_t b = port_bind(p);
		enum port_state st = bind_state(b);

		if (st == ECS_FREE && !(b & BIND_ZOMBIE))
			continue;
		listed++;
		fprintf(out, "  %6u [%d/%d] %-11s vcpu %u", port,
			abi->is_pending(d, port), abi->is_masked(d, port),
			(b & BIND_ZOMBIE) ? "closing" : state_name[st],
			atomic_load(&p->notify_vcpu));
		switch (st) {
		case ECS_UNBOUND:
			fprintf(out, " for dom %u%s", bind_dom(b),
				(b & BIND_SETTLING) ? " (settling)" : "");
			break;
		case ECS_INTERDOMAIN:
			fprintf(out, " dom %u port %u", bind_dom(b),
				bind_port(b));
			break;
		case ECS_VIRQ:
			fprintf(out, " virq %u", bind_virq(b));
			break;
		case ECS_PIRQ: {
			char how[16];

			fprintf(out, " pirq %u%s", bind_port(b),
				pirq_describe(d, bind_port(b), how,
					      sizeof(how)));
			break;
		}
		default:
			break;
		}
		if (abi->is_busy)
			fprintf(out, " prio %u%s", atomic_load(&p->priority),
				abi->is_busy(d, port) ? " linked" : "");
		fputc('\n', out);
	}
	evtchn_rcu_read_unlock();
	return (int)listed;
}
