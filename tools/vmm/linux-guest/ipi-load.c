/* SPDX-License-Identifier: MIT */
/*
 * A load that makes a guest's CPUs wake each other, and the proof in
 * /proc/interrupts that Xen's event channels carried it: one thread per
 * CPU, pinned, passing a token round the ring with futex waits and wakes,
 * and now and then a page all of them write is taken away (MADV_DONTNEED:
 * a TLB shootdown, a call-function IPI to the others).  A wake of an idle
 * CPU is queued on it with a call-function-single IPI; so that the wakes
 * also make reschedule IPIs, the second half of the load adds a spinning
 * SCHED_IDLE thread on every CPU: a woken thread then preempts it, and
 * the waker tells that CPU with a reschedule IPI.  Afterwards each CPU's
 * timerN, reschedN, callfuncN and callfuncsingleN rows must have grown.
 *
 *   ipi-load [SECONDS [MARK-PORT [idle]]]
 *
 * Prints "ok"/"FAIL" lines per row and CPU and a "load:" line with the
 * IPIs and ticks it saw; exit status: the failures.  With MARK-PORT
 * (evtchn-vmm: 0x511) it writes 1 and 2 there around the load, so that
 * the VMM prints the exits the load made.  "idle": no load, the same
 * marks around SECONDS of sleep (only the rows' report, no checks).
 *
 * On 2 CPUs Linux sends every call-function IPI to the one other CPU as a
 * callfuncsingle (smp_call_function_many_cond() with one target): the
 * callfuncN rows are then not required to grow, and say so.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 64

static const char *const rows[] = { "timer", "resched", "callfunc",
				    "callfuncsingle" };
#define NR_ROWS (sizeof(rows) / sizeof(rows[0]))

static int ncpu;
static _Atomic int token;        /* whose turn */
static _Atomic bool stop, hogs_stop;
static _Atomic unsigned long passes;
static volatile char *shared_page;

static long futex(_Atomic int *addr, int op, int val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static void *ring(void *arg)
{
	int me = (int)(long)arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(me, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (!atomic_load(&stop)) {
		int t = atomic_load(&token);

		if (t % ncpu != me) {
			futex(&token, FUTEX_WAIT, t);
			continue;
		}
		if (shared_page)
			shared_page[me * 64] = 1;
		atomic_fetch_add(&passes, 1);
		atomic_store(&token, t + 1);
		futex(&token, FUTEX_WAKE, ncpu);
	}
	futex(&token, FUTEX_WAKE, ncpu);
	return NULL;
}

/* A spinning thread on CPU @arg that any other thread preempts. */
static void *hog(void *arg)
{
	struct sched_param none = { 0 };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET((int)(long)arg, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &none);
	while (!atomic_load_explicit(&hogs_stop, memory_order_relaxed))
		;
	return NULL;
}

/* Each row's count on each CPU ("<name><cpu>" rows of Xen's per-CPU
 * IRQs: the count in that CPU's column). */
static void read_counts(unsigned long c[NR_ROWS][MAX_CPUS])
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[4096];

	memset(c, 0, sizeof(unsigned long) * NR_ROWS * MAX_CPUS);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *name = strrchr(line, ' ');
		unsigned long col[MAX_CPUS] = { 0 };
		char *p = strchr(line, ':');
		int n = 0;

		if (!p || !name)
			continue;
		name++;
		name[strcspn(name, "\n")] = 0;
		for (p++; n < ncpu; n++) {
			char *end;

			col[n] = strtoul(p, &end, 10);
			if (end == p)
				break;
			p = end;
		}
		for (unsigned r = 0; r < NR_ROWS; r++) {
			size_t l = strlen(rows[r]);
			int cpu;

			if (strncmp(name, rows[r], l) || !name[l] ||
			    strspn(name + l, "0123456789") != strlen(name + l))
				continue;
			cpu = atoi(name + l);
			if (cpu < ncpu)
				c[r][cpu] = col[cpu];
		}
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	static unsigned long before[NR_ROWS][MAX_CPUS], after[NR_ROWS][MAX_CPUS];
	pthread_t t[MAX_CPUS], h[MAX_CPUS];
	bool hogs = false;
	int secs = argc > 1 ? atoi(argv[1]) : 3, failed = 0;
	int mark = argc > 2 ? (int)strtol(argv[2], NULL, 0) : 0;
	bool idle = argc > 3 && !strcmp(argv[3], "idle");
	unsigned long ipis = 0, ticks = 0;
	struct timespec end, half, now;

	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu > MAX_CPUS)
		ncpu = MAX_CPUS;
	if (mark && ioperm((unsigned long)mark, 1, 1))
		mark = 0;
	read_counts(before);
	if (mark)
		outb(1, (unsigned short)mark);
	if (idle) {
		sleep((unsigned)secs);
		if (mark)
			outb(2, (unsigned short)mark);
		read_counts(after);
		for (unsigned r = 0; r < NR_ROWS; r++)
			for (int c = 0; c < ncpu; c++)
				*(r ? &ipis : &ticks) += after[r][c] - before[r][c];
		printf("load: %lu IPIs, %lu timer ticks in %d s (idle)\n", ipis,
		       ticks, secs);
		return 0;
	}
	for (int i = 0; i < ncpu; i++)
		pthread_create(&t[i], NULL, ring, (void *)(long)i);
	clock_gettime(CLOCK_MONOTONIC, &end);
	half = end;
	end.tv_sec += secs;
	half.tv_sec += secs / 2;
	shared_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shared_page == MAP_FAILED)
		shared_page = NULL;
	do {
		/* the page every thread writes, taken away: its TLB
		 * entries on the other CPUs are shot down (they fault a
		 * fresh page in again) */
		usleep(2000);
		if (shared_page)
			madvise((void *)shared_page, 4096, MADV_DONTNEED);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!hogs && (now.tv_sec > half.tv_sec ||
			      (now.tv_sec == half.tv_sec &&
			       now.tv_nsec >= half.tv_nsec))) {
			for (int i = 0; i < ncpu; i++)
				pthread_create(&h[i], NULL, hog, (void *)(long)i);
			hogs = true;
		}
	} while (now.tv_sec < end.tv_sec ||
		 (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	atomic_store(&stop, true);
	atomic_fetch_add(&token, 1);
	futex(&token, FUTEX_WAKE, ncpu);
	for (int i = 0; i < ncpu; i++)
		pthread_join(t[i], NULL);
	atomic_store(&hogs_stop, true);
	for (int i = 0; hogs && i < ncpu; i++)
		pthread_join(h[i], NULL);
	if (mark)
		outb(2, (unsigned short)mark);
	read_counts(after);
	printf("ipi-load: %d CPUs, %lu token passes in %d s\n", ncpu,
	       atomic_load(&passes), secs);
	for (unsigned r = 0; r < NR_ROWS; r++)
		for (int c = 0; c < ncpu; c++) {
			unsigned long d = after[r][c] - before[r][c];

			if (r == 0)
				ticks += d;
			else
				ipis += d;
			if (d)
				printf("ok - /proc/interrupts %s%d grew by %lu\n",
				       rows[r], c, d);
			else if (ncpu == 2 && !strcmp(rows[r], "callfunc"))
				printf("ok - /proc/interrupts %s%d: none on 2 CPUs "
				       "(Linux sends them as callfuncsingle)\n",
				       rows[r], c);
			else
				printf("FAIL - /proc/interrupts %s%d did not grow\n",
				       rows[r], c), failed++;
		}
	printf("load: %lu IPIs, %lu timer ticks in %d s\n", ipis, ticks, secs);
	return failed > 255 ? 255 : failed;
}
