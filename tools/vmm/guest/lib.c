/* SPDX-License-Identifier: MIT */
/* What libc would give: memory helpers, a small formatter, the serial
 * console, spinlocks and Xen system time from the VMM's clock port. */
#include "guest.h"

/* String instructions, so that the compiler cannot turn these loops back
 * into calls to themselves. */
void *memset(void *s, int c, size_t n)
{
	void *d = s;

	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return s;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++) {
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	}
	return 0;
}

/* The output of vfmt(): never past @size, always terminated. */
struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void out_char(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_str(struct out *o, const char *s)
{
	if (!s)
		s = "(null)";
	while (*s)
		out_char(o, *s++);
}

static void out_num(struct out *o, uint64_t v, unsigned int base, bool neg,
		    unsigned int width, char pad)
{
	char tmp[24];
	unsigned int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (width > n) {
		out_char(o, pad);
		width--;
	}
	while (n)
		out_char(o, tmp[--n]);
}

/* One conversion of %[0][width][l|ll]{d,i,u,x,s,c}. */
static const char *out_conv(struct out *o, const char *f, va_list *ap)
{
	unsigned int width = 0, longs = 0;
	char pad = ' ';
	int64_t sv;
	uint64_t uv;

	if (*f == '#') {
		out_str(o, "0x");
		f++;
	}
	if (*f == '0')
		pad = '0';
	while (*f >= '0' && *f <= '9')
		width = width * 10 + (unsigned int)(*f++ - '0');
	while (*f == 'l') {
		longs++;
		f++;
	}
	switch (*f) {
	case 'd':
	case 'i':
		sv = longs ? va_arg(*ap, long) : va_arg(*ap, int);
		uv = sv < 0 ? -(uint64_t)sv : (uint64_t)sv;
		out_num(o, uv, 10, sv < 0, width, pad);
		break;
	case 'u':
	case 'x':
		uv = longs ? va_arg(*ap, unsigned long)
			   : va_arg(*ap, unsigned int);
		out_num(o, uv, *f == 'x' ? 16 : 10, false, width, pad);
		break;
	case 's':
		out_str(o, va_arg(*ap, const char *));
		break;
	case 'c':
		out_char(o, (char)va_arg(*ap, int));
		break;
	case '%':
		out_char(o, '%');
		break;
	default:
		out_char(o, '?');
		return *f ? f + 1 : f;
	}
	return f + 1;
}

int vfmt(char *buf, size_t size, const char *f, va_list ap)
{
	struct out o = { .buf = buf, .size = size };
	va_list aq;

	va_copy(aq, ap);
	while (*f) {
		if (*f != '%')
			out_char(&o, *f++);
		else
			f = out_conv(&o, f + 1, &aq);
	}
	va_end(aq);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vfmt(buf, size, f, ap);
	va_end(ap);
	return n;
}

void spin_lock(uint32_t *lock)
{
	while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(lock, __ATOMIC_RELAXED))
			cpu_relax();
	}
}

void spin_unlock(uint32_t *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

/* For the fatal path: the holder may be the code that just faulted. */
bool spin_trylock_bounded(uint32_t *lock, unsigned long tries)
{
	while (tries--) {
		if (!__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
			return true;
		cpu_relax();
	}
	return false;
}

/* One line at a time on the serial port, whichever vCPU prints. */
static uint32_t console_lock;

static void console_write(const char *s)
{
	while (*s)
		outb(VMM_PORT_SERIAL, (uint8_t)*s++);
}

void gprintf(const char *f, ...)
{
	char buf[512];
	uint64_t flags;
	va_list ap;

	va_start(ap, f);
	vfmt(buf, sizeof(buf), f, ap);
	va_end(ap);
	/* Interrupts off: a handler on this vCPU must not find it held. */
	flags = irq_save();
	spin_lock(&console_lock);
	console_write(buf);
	spin_unlock(&console_lock);
	irq_restore(flags);
}

/* Print even if the lock holder never lets go (it may have faulted). */
void console_emergency(const char *s)
{
	bool locked = spin_trylock_bounded(&console_lock, 1000000);

	console_write(s);
	if (locked)
		spin_unlock(&console_lock);
}

/*
 * Xen system time.  The port latches the high half at the low read, so
 * the two reads must not interleave with another reader's: one lock for
 * every vCPU (in case the latch is shared), taken with interrupts off (the
 * upcall handler reads the clock too).
 */
static uint32_t clock_lock;

uint64_t xen_now(void)
{
	uint64_t flags = irq_save();
	uint32_t lo, hi;

	spin_lock(&clock_lock);
	lo = inl(VMM_PORT_CLOCK);
	hi = inl(VMM_PORT_CLOCK);
	spin_unlock(&clock_lock);
	irq_restore(flags);
	return (uint64_t)hi << 32 | lo;
}

/*
 * A bound on a wait: @ns of system time, or a number of polls that takes
 * far longer (each poll reads the clock: two exits to the VMM), in case
 * the clock itself is stuck.
 */
#define NS_PER_POLL_MIN 500

void bound_start(struct bound *b, uint64_t ns)
{
	b->end = xen_now() + ns;
	b->polls_left = ns / NS_PER_POLL_MIN + 1;
}

bool bound_passed(struct bound *b)
{
	return xen_now() > b->end || !b->polls_left--;
}

void delay_ns(uint64_t ns)
{
	struct bound b;

	bound_start(&b, ns);
	while (!bound_passed(&b))
		cpu_relax();
}

/* The clock moves at all (at most ~100000 reads). */
bool clock_advances(void)
{
	uint64_t t0 = xen_now();

	for (unsigned int i = 0; i < 100000; i++) {
		if (xen_now() > t0)
			return true;
		cpu_relax();
	}
	return false;
}
