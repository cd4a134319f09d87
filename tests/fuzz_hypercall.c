/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: hostile hypercall sequences, hostile VMM calls and a
 * hostile guest memory against libevtchn (see fuzz_core.h for the input
 * format and fuzz_core.c for what is checked).  Build with -Dfuzz=true
 * (clang); ./run.sh fuzz runs it.  EVTCHN_FUZZ_STATS=1: what the inputs
 * reached, on stderr at exit.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__asan_default_options(void);

/* ASan's allocator: a 32 MB quarantine instead of 256 MB, and freed memory
 * kept rather than given back to the kernel every 5 s.  A use after free
 * is still caught for the next few hundred inputs' worth of frees, and
 * the memory an input gets is warm: on this machine a cold page costs
 * more than the rest of a short input.  No stack trace kept for each
 * allocation (a report names the access, not where the block was
 * allocated: run the crash input again with ASAN_OPTIONS=
 * malloc_context_size=30 for that).  The arguments of the library's
 * fprintf calls (evtchn_domain_dump(), read back after every input) are
 * not checked by ASan's interceptor, which took a tenth of the time; the
 * suite's ASan run checks them.  ASAN_OPTIONS overrides these. */
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=32:allocator_release_to_os_interval_ms=-1:"
	       "malloc_context_size=0:check_printf=0";
}

static void print_stats(void)
{
	const struct evtchn_fuzz_stats *s = evtchn_fuzz_stats();

	fprintf(stderr,
		"evtchn fuzz: %lu inputs, %lu ops, %lu hypercalls, %lu table "
		"checks; domains recycled %lu, kept %lu; hosts made %lu; "
		"reached: %lu interdomain, %lu loopback, %lu ipi, %lu virq, "
		"%lu pirq, %lu close, %lu reset, %lu vcpu_info, %lu FIFO "
		"switches, %lu FIFO pages, %lu ports above 4095, %lu MSIs "
		"delivered, %lu GSI edges\n",
		s->inputs, s->ops, s->hypercalls, s->checks, s->recycled,
		s->reused, s->hosts, s->interdomain, s->loopback, s->ipi,
		s->virq, s->pirq, s->closes, s->resets, s->registered,
		s->fifo_switches, s->fifo_pages, s->fifo_ports_high,
		s->msi_delivered, s->gsi_edges);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *e = getenv("EVTCHN_FUZZ_STATS");

	(void)argc;
	(void)argv;
	if (e && *e && *e != '0')
		atexit(print_stats);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return evtchn_fuzz_one(data, size);
}
