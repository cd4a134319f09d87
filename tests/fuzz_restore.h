/* SPDX-License-Identifier: MIT */
/* Hostile snapshot images (fuzz_restore.c): one input, checked; aborts on a
 * broken rule.  The counts say how many images were accepted and refused. */
#ifndef EVTCHN_FUZZ_RESTORE_H
#define EVTCHN_FUZZ_RESTORE_H

#include <stddef.h>
#include <stdint.h>

int evtchn_fuzz_restore_one(const uint8_t *data, size_t size);
void evtchn_fuzz_restore_counts(unsigned long *accepted,
				unsigned long *refused);

#endif
