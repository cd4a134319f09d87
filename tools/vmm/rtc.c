/* SPDX-License-Identifier: MIT */
/*
 * The CMOS real-time clock at ports 0x70 (index) and 0x71 (data), as much
 * as Linux's rtc-cmos driver and its boot-time read of the wall clock
 * need: the time and date of the host's clock in BCD, 24-hour mode, no
 * update ever in progress (register A's UIP bit clear), the battery good
 * (register D).  Register B keeps what the guest writes, but no alarm,
 * periodic or update interrupt is ever raised; the rest of the CMOS reads
 * 0.  Without it every read answers 0xff: "update in progress" for ever,
 * and Linux polls for it thousands of times, each read an exit.
 */
#include <time.h>

#include "vmm.h"

#define RTC_INDEX 0x70
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_D 0x0d
#define REG_A_DEFAULT 0x26 /* 32.768 kHz base, 1024 Hz rate, UIP clear */
#define REG_D_VALID 0x80   /* battery and RAM good */
#define REG_CENTURY 0x32

static uint8_t bcd(int v)
{
	return (uint8_t)((v / 10) << 4 | v % 10);
}

static uint8_t rtc_read(struct vmm *vm, uint8_t reg)
{
	time_t now = time(NULL);
	struct tm tm;

	switch (reg) {
	case REG_A:
		return REG_A_DEFAULT;
	case REG_B:
		return atomic_load(&vm->rtc_b);
	case REG_D:
		return REG_D_VALID;
	}
	if (!gmtime_r(&now, &tm))
		return 0;
	switch (reg) {
	case 0x00:
		return bcd(tm.tm_sec > 59 ? 59 : tm.tm_sec);
	case 0x02:
		return bcd(tm.tm_min);
	case 0x04:
		return bcd(tm.tm_hour);
	case 0x06:
		return bcd(tm.tm_wday + 1);
	case 0x07:
		return bcd(tm.tm_mday);
	case 0x08:
		return bcd(tm.tm_mon + 1);
	case 0x09:
		return bcd(tm.tm_year % 100);
	case REG_CENTURY:
		return bcd(19 + tm.tm_year / 100);
	default:
		return 0;
	}
}

void vmm_rtc_io(struct vmm *vm, uint16_t port, bool out, uint8_t *data)
{
	if (port == RTC_INDEX) {
		/* bit 7 masks NMIs: there are none */
		if (out)
			atomic_store(&vm->rtc_index, *data & 0x7f);
		else
			*data = 0xff;
		return;
	}
	if (!out)
		*data = rtc_read(vm, atomic_load(&vm->rtc_index));
	else if (atomic_load(&vm->rtc_index) == REG_B)
		atomic_store(&vm->rtc_b, *data);
}
