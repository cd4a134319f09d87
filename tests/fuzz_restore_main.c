/* SPDX-License-Identifier: MIT */
/* libFuzzer target: hostile snapshot images (see fuzz_restore.c).  Built
 * with -Dfuzz=true (clang); ./run.sh fuzz-restore runs it. */
#include "fuzz_restore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return evtchn_fuzz_restore_one(data, size);
}
