/* SPDX-License-Identifier: MIT */

#include <string.h>

#include "evtchn/evtchn.h"

const char *evtchn_strerror(int err)
{
	const char *s;

	if (err >= 0)
		return "Success";
	/* Xen's errno values are Linux's; glibc names them (thread-safe). */
	s = strerrordesc_np(-err);
	return s ? s : "Unknown error";
}
