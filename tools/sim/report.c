/* SPDX-License-Identifier: MIT */
/* evtchn-sim: latency histogram, the checks, progress and the summary. */
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"

/* Bucket of @v: exact below 16, then 16 a power of two. */
static unsigned hist_bucket(uint64_t v)
{
	unsigned msb;

	if (v < SIM_HIST_SUB)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	return (msb - 3) * SIM_HIST_SUB + (unsigned)((v >> (msb - 4)) & 15);
}

/* The largest value of bucket @b. */
static uint64_t hist_upper(unsigned b)
{
	unsigned msb, sub;

	if (b < SIM_HIST_SUB)
		return b;
	msb = b / SIM_HIST_SUB + 3;
	sub = b % SIM_HIST_SUB;
	return ((uint64_t)(SIM_HIST_SUB + sub) << (msb - 4)) +
	       (1ull << (msb - 4)) - 1;
}

void sim_hist_add(struct sim_hist *h, uint64_t v)
{
	h->b[hist_bucket(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

void sim_hist_merge(struct sim_hist *into, const struct sim_hist *h)
{
	for (unsigned i = 0; i < SIM_HIST_BUCKETS; i++)
		into->b[i] += h->b[i];
	into->n += h->n;
	into->sum += h->sum;
	if (h->max > into->max)
		into->max = h->max;
}

uint64_t sim_hist_pct(const struct sim_hist *h, double p)
{
	uint64_t rank = (uint64_t)(p * (double)h->n + 0.999999), seen = 0;

	if (!h->n)
		return 0;
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < SIM_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			return hist_upper(i) < h->max ? hist_upper(i) : h->max;
	}
	return h->max;
}

static uint64_t ld(_Atomic uint64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

static uint64_t diff(uint64_t sent, uint64_t seen)
{
	return sent > seen ? sent - seen : 0;
}

void sim_totals(struct sim *s, struct sim_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t i = 0; i < s->o.vcpus; i++) {
		t->events += ld(&s->vcpu[i].events);
		t->ipis += ld(&s->vcpu[i].ipis);
		t->ticks += ld(&s->vcpu[i].ticks);
	}
	for (uint32_t i = 0; i < s->o.rings; i++)
		t->responses += ld(&s->ring[i].responses);
}

bool sim_check(struct sim *s, struct sim_check *c)
{
	uint32_t n = s->o.vcpus;

	memset(c, 0, sizeof(*c));
	for (uint32_t p = 0; p < s->nr_ports; p++)
		if (s->port[p].kind == SIM_PORT_IPI)
			c->lost_ipi += diff(atomic_load(&s->port[p].sent),
					    atomic_load(&s->port[p].seen));
	for (uint32_t i = 0; i < s->o.rings; i++) {
		struct sim_ring *r = &s->ring[i];

		c->lost_kick += diff(atomic_load(&r->chan->kicks_sent),
				     atomic_load(&r->chan->kicks_seen));
		c->lost_answer += diff(atomic_load(&r->chan->answers_sent),
				       atomic_load(&r->chan->answers_seen));
		c->unanswered += diff(ld(&r->requests), ld(&r->responses));
		c->bad += ld(&r->bad);
	}
	for (uint32_t i = 0; i < n * n; i++)
		c->untaken += atomic_load(&s->mailbox[i]) != 0;
	for (uint32_t i = 0; i < n; i++)
		c->no_tick += !atomic_load(&s->vcpu[i].final_tick);
	for (uint32_t i = 0; i < s->o.msis; i++) {
		struct sim_msi *m = s->msi[i].sh;

		c->lost_msi += diff(atomic_load(&m->sent),
				    atomic_load(&m->seen));
		c->untaken_msi += diff(atomic_load(&m->done),
				       atomic_load(&m->taken));
	}
	c->dev_running = s->dev && !atomic_load(&s->dev->stopped);
	c->lost = c->lost_ipi + c->lost_kick + c->lost_answer + c->no_tick +
		  c->lost_msi;
	return !c->lost && !c->unanswered && !c->untaken && !c->bad &&
	       !c->untaken_msi && !c->dev_running;
}

void sim_progress(bool tty, double elapsed, const struct sim_totals *now,
		  const struct sim_totals *prev, double dt)
{
	if (dt <= 0)
		return;
	printf(tty ? "\r\033[K%6.1f s  events %.0f/s  ring round trips "
		     "%.0f/s  IPIs %.0f/s  timer ticks %.0f/s"
		   : "%6.1f s: events %.0f/s, ring round trips %.0f/s, IPIs "
		     "%.0f/s, timer ticks %.0f/s\n",
	       elapsed, (double)(now->events - prev->events) / dt,
	       (double)(now->responses - prev->responses) / dt,
	       (double)(now->ipis - prev->ipis) / dt,
	       (double)(now->ticks - prev->ticks) / dt);
	fflush(stdout);
}

/* The numbers of a row: sent, delivered, coalesced, lost (sent < 0: the
 * sender is the library's timer thread, which the guest cannot count). */
static void nums(int64_t sent, uint64_t delivered, uint64_t lost)
{
	if (sent < 0) {
		printf(" %12s %12llu %11s %6llu\n", "-",
		       (unsigned long long)delivered, "-",
		       (unsigned long long)lost);
		return;
	}
	printf(" %12lld %12llu %11llu %6llu\n", (long long)sent,
	       (unsigned long long)delivered,
	       (unsigned long long)diff((uint64_t)sent, delivered + lost),
	       (unsigned long long)lost);
}

static void row(const char *label, int64_t sent, uint64_t delivered,
		uint64_t lost)
{
	printf("%-22s", label);
	nums(sent, delivered, lost);
}

struct kind_sum {
	uint64_t sent, delivered, lost;
};

static void add(struct kind_sum *k, uint64_t sent, uint64_t delivered,
		uint64_t lost)
{
	k->sent += sent;
	k->delivered += delivered;
	k->lost += lost;
}

static void summary_events(struct sim *s)
{
	struct kind_sum ipi = { 0 }, kick = { 0 }, answer = { 0 },
			timer = { 0 }, msi = { 0 }, all;

	for (uint32_t p = 0; p < s->nr_ports; p++) {
		struct sim_port *sp = &s->port[p];

		if (sp->kind == SIM_PORT_IPI)
			add(&ipi, ld(&sp->sent), ld(&sp->delivered),
			    diff(ld(&sp->sent), ld(&sp->seen)));
		else if (sp->kind == SIM_PORT_TIMER)
			add(&timer, 0, ld(&sp->delivered),
			    !atomic_load(&s->vcpu[sp->vcpu].final_tick));
		else if (sp->kind == SIM_PORT_PIRQ)
			add(&msi, ld(&s->msi[sp->ring].sh->sent),
			    ld(&sp->delivered),
			    diff(ld(&s->msi[sp->ring].sh->sent),
				 ld(&s->msi[sp->ring].sh->seen)));
	}
	for (uint32_t i = 0; i < s->o.rings; i++) {
		struct sim_chan *c = s->ring[i].chan;

		add(&kick, ld(&c->kicks_sent), ld(&c->kick_wakeups),
		    diff(ld(&c->kicks_sent), ld(&c->kicks_seen)));
		add(&answer, ld(&c->answers_sent),
		    ld(&s->port[s->ring[i].port].delivered),
		    diff(ld(&c->answers_sent), ld(&c->answers_seen)));
	}
	all = ipi;
	add(&all, kick.sent, kick.delivered, kick.lost);
	add(&all, answer.sent, answer.delivered, answer.lost);
	add(&all, msi.sent, msi.delivered, msi.lost);
	printf("\n%-22s %12s %12s %11s %6s\n", "events", "sent", "delivered",
	       "coalesced", "lost");
	row("  IPI", (int64_t)ipi.sent, ipi.delivered, ipi.lost);
	row("  ring kick (to dom0)", (int64_t)kick.sent, kick.delivered,
	    kick.lost);
	row("  ring answer", (int64_t)answer.sent, answer.delivered,
	    answer.lost);
	if (s->o.msis)
		row("  MSI (device to PIRQ)", (int64_t)msi.sent, msi.delivered,
		    msi.lost);
	row("  VIRQ_TIMER", -1, timer.delivered, timer.lost);
	row("  all but timer", (int64_t)all.sent, all.delivered, all.lost);
}

static void summary_ports(struct sim *s)
{
	char label[64];

	printf("\n%6s  %-25s %4s %12s %12s %11s %6s\n", "port", "binding",
	       "vCPU", "sent", "delivered", "coalesced", "lost");
	for (uint32_t p = 0; p < s->nr_ports; p++) {
		struct sim_port *sp = &s->port[p];
		struct sim_chan *c;
		struct sim_msi *m;

		switch (sp->kind) {
		case SIM_PORT_TIMER:
			printf("%6u  %-25s %4u", p, "virq TIMER", sp->vcpu);
			nums(-1, ld(&sp->delivered),
			     !atomic_load(&s->vcpu[sp->vcpu].final_tick));
			break;
		case SIM_PORT_IPI:
			printf("%6u  %-25s %4u", p, "ipi", sp->vcpu);
			nums((int64_t)ld(&sp->sent), ld(&sp->delivered),
			     diff(ld(&sp->sent), ld(&sp->seen)));
			break;
		case SIM_PORT_RING:
			c = s->ring[sp->ring].chan;
			snprintf(label, sizeof(label), "ring %u kick to d0:%u",
				 sp->ring, sp->remote_port);
			printf("%6u  %-25.25s %4u", p, label, sp->vcpu);
			nums((int64_t)ld(&c->kicks_sent), ld(&c->kick_wakeups),
			     diff(ld(&c->kicks_sent), ld(&c->kicks_seen)));
			snprintf(label, sizeof(label), "ring %u answer",
				 sp->ring);
			printf("%6u  %-25.25s %4u", p, label, sp->vcpu);
			nums((int64_t)ld(&c->answers_sent), ld(&sp->delivered),
			     diff(ld(&c->answers_sent), ld(&c->answers_seen)));
			break;
		case SIM_PORT_PIRQ:
			m = s->msi[sp->ring].sh;
			snprintf(label, sizeof(label), "pirq %u msi (vector %u)",
				 s->msi[sp->ring].pirq, sp->ring);
			printf("%6u  %-25.25s %4u", p, label, sp->vcpu);
			nums((int64_t)ld(&m->sent), ld(&sp->delivered),
			     diff(ld(&m->sent), ld(&m->seen)));
			break;
		default:
			break;
		}
	}
}

static void summary_rings(struct sim *s)
{
	struct sim_hist *h = calloc(1, sizeof(*h));

	printf("\n%4s %6s %4s %12s %12s %10s %10s\n", "ring", "port", "vCPU",
	       "requests", "responses", "kicks", "answers");
	for (uint32_t i = 0; i < s->o.rings; i++) {
		struct sim_ring *r = &s->ring[i];

		printf("%4u %6u %4u %12llu %12llu %10llu %10llu\n", i, r->port,
		       r->vcpu, (unsigned long long)ld(&r->requests),
		       (unsigned long long)ld(&r->responses),
		       (unsigned long long)ld(&r->chan->kicks_sent),
		       (unsigned long long)ld(&r->chan->answers_sent));
	}
	if (!h)
		return;
	for (uint32_t i = 0; i < s->o.vcpus; i++)
		sim_hist_merge(h, &s->vcpu[i].lat);
	printf("\nround trip (request queued to response consumed), %llu "
	       "samples:\n  p50 %.1f us  p90 %.1f us  p99 %.1f us  max %.1f "
	       "us  mean %.1f us\n",
	       (unsigned long long)h->n, sim_hist_pct(h, 0.50) / 1e3,
	       sim_hist_pct(h, 0.90) / 1e3, sim_hist_pct(h, 0.99) / 1e3,
	       (double)h->max / 1e3,
	       h->n ? (double)h->sum / (double)h->n / 1e3 : 0.0);
	free(h);
}

/* What irq_status_query answered at a vector's first event. */
static const char *msi_status(const struct sim_msi_vec *m)
{
	static char buf[64];

	if (!m->queried)
		return "-";
	if (!m->status_rc)
		return m->needs_eoi ? "needs_eoi" : "no flags";
	snprintf(buf, sizeof(buf), "error %ld (%s)", m->status_rc,
		 evtchn_strerror((int)m->status_rc));
	return buf;
}

static void summary_msis(struct sim *s)
{
	if (!s->o.msis)
		return;
	printf("\n%4s %6s %6s %4s %12s %12s %10s %10s  %s\n", "msi", "pirq",
	       "port", "vCPU", "completions", "taken", "MSIs", "EOIs",
	       "status at first event");
	for (uint32_t i = 0; i < s->o.msis; i++) {
		struct sim_msi_vec *m = &s->msi[i];

		printf("%4u %6u %6u %4u %12llu %12llu %10llu %10llu  %s\n", i,
		       m->pirq, m->port, m->vcpu,
		       (unsigned long long)ld(&m->sh->done),
		       (unsigned long long)ld(&m->sh->taken),
		       (unsigned long long)ld(&m->sh->sent),
		       (unsigned long long)ld(&m->eois), msi_status(m));
	}
}

void sim_summary(struct sim *s, const struct sim_check *c)
{
	uint64_t ipis = 0, stray = 0;

	printf("\nevtchn-sim: %u vCPU%s, %u ring%s, %s ABI: ran %.2f s, "
	       "drained in %.2f s\n",
	       s->o.vcpus, s->o.vcpus == 1 ? "" : "s", s->o.rings,
	       s->o.rings == 1 ? "" : "s", s->o.fifo ? "FIFO" : "2-level",
	       (double)(s->t_drain - s->t_run) / 1e9,
	       (double)(s->t_end - s->t_drain) / 1e9);
	summary_events(s);
	summary_ports(s);
	summary_rings(s);
	summary_msis(s);
	for (uint32_t i = 0; i < s->o.vcpus; i++) {
		ipis += ld(&s->vcpu[i].ipis_sent);
		stray += ld(&s->vcpu[i].stray);
	}
	printf("\nIPIs: %llu sent, mailbox entries never taken: %llu\n",
	       (unsigned long long)ipis, (unsigned long long)c->untaken);
	if (stray)
		printf("events on ports the guest did not bind: %llu\n",
		       (unsigned long long)stray);
	if (c->bad)
		printf("ring protocol errors: %llu\n",
		       (unsigned long long)c->bad);
	printf("unanswered requests: %llu\n",
	       (unsigned long long)c->unanswered);
	if (s->o.msis)
		printf("device completions not taken: %llu\n",
		       (unsigned long long)c->untaken_msi);
	if (c->dev_running)
		printf("the device did not stop\n");
	printf("lost: %llu\n", (unsigned long long)c->lost);
	if (c->lost)
		printf("  IPIs %llu, ring kicks %llu, ring answers %llu, final "
		       "timer ticks %llu, MSIs %llu\n",
		       (unsigned long long)c->lost_ipi,
		       (unsigned long long)c->lost_kick,
		       (unsigned long long)c->lost_answer,
		       (unsigned long long)c->no_tick,
		       (unsigned long long)c->lost_msi);
}
