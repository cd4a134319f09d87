/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: hostile hypercall sequences, hostile VMM calls and a
 * hostile guest memory against libevtchn (see fuzz_core.h for the input
 * format and fuzz_core.c for what is checked).  Build with -Dfuzz=true
 * (clang); ./run.sh fuzz runs it.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return evtchn_fuzz_one(data, size);
}
