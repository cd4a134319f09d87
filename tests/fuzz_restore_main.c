/* SPDX-License-Identifier: MIT */
/* libFuzzer target: hostile snapshot images (see fuzz_restore.c).  Built
 * with -Dfuzz=true (clang); ./run.sh fuzz-restore runs it. */
#include "fuzz_restore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/* As fuzz_hypercall.c: a 32 MB quarantine, warm memory, no allocation
 * stacks, printf's arguments unchecked (ASAN_OPTIONS overrides them). */
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=32:allocator_release_to_os_interval_ms=-1:"
	       "malloc_context_size=0:check_printf=0";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return evtchn_fuzz_restore_one(data, size);
}
