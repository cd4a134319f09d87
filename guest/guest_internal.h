/* SPDX-License-Identifier: MIT */
/* Between the 2-level and FIFO halves of the reference consumer. */
#ifndef EVTCHN_GUEST_INTERNAL_H
#define EVTCHN_GUEST_INTERNAL_H

#include "evtchn_guest.h"

unsigned guest_fifo_upcall(struct evtchn_guest *g, uint32_t vcpu,
			   evtchn_guest_event_cb cb, void *opaque);
void guest_fifo_mask(struct evtchn_guest *g, uint32_t port);
void guest_fifo_unmask(struct evtchn_guest *g, uint32_t vcpu, uint32_t port);
/* @bit of @port's event word; @absent when its page is missing. */
bool guest_fifo_test(const struct evtchn_guest *g, uint32_t port,
		     uint32_t bit, bool absent);

#endif
