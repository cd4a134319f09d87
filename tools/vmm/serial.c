/* SPDX-License-Identifier: MIT */
/*
 * COM1: an 8250/16550A UART at 0x3f8 on IRQ 4, transmit only, as much as
 * Linux's 8250 driver needs to take it for its console and tty: the
 * registers read back what was written (IER's low bits, LCR, MCR, the
 * scratch and divisor latches), LSR always says the transmitter is empty,
 * IIR reports a 16550A with its FIFOs, and the "transmitter empty"
 * interrupt is raised on IRQ 4 while IER asks for it and the driver has
 * not read it from IIR.  Nothing is ever received.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "vmm.h"
#include "vmm_abi.h"

#define IRQ 4
#define IER_THRI 0x02
#define LCR_DLAB 0x80
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_FIFO 0xc0
#define FCR_FIFO 0x01
#define LSR_IDLE 0x60   /* THRE | TEMT */
#define MSR_LINES 0xb0  /* DCD | DSR | CTS */

struct vmm_serial {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thri_pending;  /* "transmitter empty" not yet read from IIR */
	bool irq;           /* what IRQ 4 is */
	char line[512];
	unsigned len;
};

int vmm_serial_init(struct vmm *vm)
{
	struct vmm_serial *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	pthread_mutex_init(&s->lock, NULL);
	s->dll = 12; /* 9600 baud, as after reset */
	vm->serial = s;
	return 0;
}

/* IRQ 4 to what the state says (lock held). */
static void update_irq(struct vmm *vm, struct vmm_serial *s)
{
	bool level = (s->ier & IER_THRI) && s->thri_pending;
	struct kvm_irq_level l = { .irq = IRQ, .level = level };

	if (level == s->irq)
		return;
	s->irq = level;
	(void)ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}

/* A character to the console, a line at a time. */
static void emit(struct vmm_serial *s, char c)
{
	if (c != '\n' && c != '\r' && s->len < sizeof(s->line) - 1)
		s->line[s->len++] = c;
	if (c == '\n') {
		s->line[s->len] = 0;
		printf("%s\n", s->line);
		fflush(stdout);
		s->len = 0;
	}
}

static void write_reg(struct vmm *vm, struct vmm_serial *s, unsigned reg,
		      uint8_t v)
{
	switch (reg) {
	case 0:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
		} else {
			emit(s, (char)v);
			/* sent at once: the transmitter is empty again */
			s->thri_pending = true;
		}
		break;
	case 1:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* enabling the interrupt with the transmitter empty
			 * raises it */
			if ((v & IER_THRI) && !(s->ier & IER_THRI))
				s->thri_pending = true;
			s->ier = v & 0x0f;
		}
		break;
	case 2:
		s->fcr = v;
		break;
	case 3:
		s->lcr = v;
		break;
	case 4:
		s->mcr = v & 0x1f;
		break;
	case 7:
		s->scr = v;
		break;
	default:
		break;
	}
	update_irq(vm, s);
}

static uint8_t read_reg(struct vmm *vm, struct vmm_serial *s, unsigned reg)
{
	uint8_t v = 0;

	switch (reg) {
	case 0:
		v = s->lcr & LCR_DLAB ? s->dll : 0; /* nothing received */
		break;
	case 1:
		v = s->lcr & LCR_DLAB ? s->dlm : s->ier;
		break;
	case 2:
		v = s->fcr & FCR_FIFO ? IIR_FIFO : 0;
		if ((s->ier & IER_THRI) && s->thri_pending) {
			v |= IIR_THRI;
			s->thri_pending = false; /* read: cleared */
		} else {
			v |= IIR_NONE;
		}
		break;
	case 3:
		v = s->lcr;
		break;
	case 4:
		v = s->mcr;
		break;
	case 5:
		v = LSR_IDLE;
		break;
	case 6:
		v = MSR_LINES;
		break;
	case 7:
		v = s->scr;
		break;
	}
	update_irq(vm, s);
	return v;
}

void vmm_serial_io(struct vmm *vm, uint16_t port, bool out, uint8_t *data)
{
	struct vmm_serial *s = vm->serial;

	pthread_mutex_lock(&s->lock);
	if (out)
		write_reg(vm, s, port - VMM_PORT_SERIAL, *data);
	else
		*data = read_reg(vm, s, port - VMM_PORT_SERIAL);
	pthread_mutex_unlock(&s->lock);
}

void vmm_serial_save(struct vmm *vm, unsigned char *st)
{
	struct vmm_serial *s = vm->serial;

	pthread_mutex_lock(&s->lock);
	st[0] = s->ier;
	st[1] = s->lcr;
	st[2] = s->mcr;
	st[3] = s->scr;
	st[4] = s->dll;
	st[5] = s->dlm;
	st[6] = s->fcr;
	st[7] = (uint8_t)(s->thri_pending | s->irq << 1);
	pthread_mutex_unlock(&s->lock);
}

void vmm_serial_restore(struct vmm *vm, const unsigned char *st)
{
	struct vmm_serial *s = vm->serial;

	pthread_mutex_lock(&s->lock);
	s->ier = st[0] & 0x0f;
	s->lcr = st[1];
	s->mcr = st[2] & 0x1f;
	s->scr = st[3];
	s->dll = st[4];
	s->dlm = st[5];
	s->fcr = st[6];
	s->thri_pending = st[7] & 1;
	s->irq = false; /* the irqchip's own state came back with it */
	update_irq(vm, s);
	pthread_mutex_unlock(&s->lock);
}
