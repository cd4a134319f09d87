/* SPDX-License-Identifier: MIT */
/*
 * evtchn-vmm: run a guest on KVM with Xen's event channels from libevtchn.
 *
 *   evtchn-vmm --guest IMAGE [--vcpus N] [--timeout SEC]
 *              [--kvm-offload[=CLASS,...]] [--save FILE] [--verbose]
 *   evtchn-vmm --kernel BZIMAGE [--initrd FILE] [--cmdline STR]
 *              [--memory MIB] [--vcpus N] [--timeout SEC]
 *              [--kvm-offload[=CLASS,...]] [--save FILE] [--verbose]
 *   evtchn-vmm --restore FILE [--vcpus N] [--memory MIB] [--timeout SEC]
 *              [--kvm-offload[=CLASS,...]] [--verbose]
 *
 * --kernel boots a Linux bzImage (64-bit boot protocol) with an 8250
 * console on COM1, the in-kernel irqchip and PIT, and an MP table for its
 * vCPUs; it presents Xen and nothing else (docs/vmm.md).  Its domain is
 * always attached to KVM (with no class offloaded unless --kvm-offload
 * says so), so that KVM keeps the pvclock in each vcpu_info.
 *
 * --kvm-offload attaches the domain to KVM (include/evtchn/kvm.h): IPIs,
 * loopback sends, VIRQ_TIMER, routed sends and sends to backend handles
 * are handled by the kernel without an exit, FD_TO_PORT and FD_TO_PIRQ
 * routes are KVM irqfds.  CLASS: ipi, loopback, timer, routes, backend,
 * irqfd (all by default).
 *
 * --save FILE: when the guest writes the checkpoint port (vmm_abi.h), stop
 * it, write the machine and libevtchn's image to FILE and exit with 75;
 * --restore FILE goes on from there in a new process (the same --vcpus).
 *
 * The guest's serial console goes to standard output; at the end the VMM
 * prints how many exits of each kind reached it, and exits with the
 * guest's verdict (what it wrote to the exit port; 0 = passed), or 64 and
 * up for a failure of its own: 66 when --timeout passes first, after
 * printing what each vCPU was doing (registers, run state, pending
 * events, the code at its RIP, its stack, its timers) and libevtchn's
 * port table.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"
#include "vmm_abi.h"

static const char *const exit_names[EXIT_KINDS] = {
	[EXIT_IO_SERIAL] = "io serial",
	[EXIT_IO_CLOCK] = "io clock",
	[EXIT_IO_OTHER] = "io other",
	[EXIT_XEN_EVTCHN_SEND] = "xen evtchn send",
	[EXIT_XEN_EVTCHN_OTHER] = "xen evtchn other",
	[EXIT_XEN_TIMER] = "xen timer",
	[EXIT_XEN_POLL] = "xen poll",
	[EXIT_XEN_OTHER] = "xen other",
	[EXIT_INTR] = "signal",
	[EXIT_OTHER] = "other",
};

/* The same kinds, as keys of the "load exits:" line. */
static const char *const load_names[EXIT_KINDS] = {
	[EXIT_IO_SERIAL] = "io_serial",
	[EXIT_IO_CLOCK] = "io_clock",
	[EXIT_IO_OTHER] = "io_other",
	[EXIT_XEN_EVTCHN_SEND] = "send",
	[EXIT_XEN_EVTCHN_OTHER] = "evtchn_other",
	[EXIT_XEN_TIMER] = "timer",
	[EXIT_XEN_POLL] = "poll",
	[EXIT_XEN_OTHER] = "xen_other",
	[EXIT_INTR] = "signal",
	[EXIT_OTHER] = "other",
};

static void usage(FILE *f)
{
	fprintf(f, "usage: evtchn-vmm --guest IMAGE | --kernel BZIMAGE "
		   "[--initrd FILE] [--cmdline STR] | --restore FILE\n"
		   "                  [--vcpus N] [--memory MIB] "
		   "[--timeout SEC]\n"
		   "                  [--kvm-offload[=ipi,loopback,timer,"
		   "routes,backend,irqfd]] [--save FILE] [--verbose]\n");
}

/* --kvm-offload[=CLASS,...]: what the KVM back end takes (all by
 * default). */
static int parse_offload(const char *s, unsigned *classes)
{
	char buf[64], *tok, *save = NULL;

	*classes = EVTCHN_KVM_ALL;
	if (!s)
		return 0;
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	*classes = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "ipi"))
			*classes |= EVTCHN_KVM_IPI;
		else if (!strcmp(tok, "loopback"))
			*classes |= EVTCHN_KVM_LOOPBACK;
		else if (!strcmp(tok, "timer"))
			*classes |= EVTCHN_KVM_TIMER;
		else if (!strcmp(tok, "routes"))
			*classes |= EVTCHN_KVM_ROUTES;
		else if (!strcmp(tok, "backend"))
			*classes |= EVTCHN_KVM_BACKEND;
		else if (!strcmp(tok, "irqfd"))
			*classes |= EVTCHN_KVM_IRQFD;
		else
			return -1;
	}
	return 0;
}

static void *vcpu_main(void *arg)
{
	vmm_vcpu_run(arg);
	return NULL;
}

static void *watchdog(void *arg)
{
	struct vmm *vm = arg;
	unsigned long sec = vm->timeout;

	for (unsigned long i = 0; i < sec * 10 && !atomic_load(&vm->stop); i++)
		usleep(100000);
	if (!atomic_load(&vm->stop)) {
		fprintf(stderr, "evtchn-vmm: the guest did not finish in %lu s\n",
			sec);
		vmm_stop(vm, VMM_EXIT_TIMEOUT);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The guest's load begins (snapshot) or ends (the exits it made, except
 * the load port's own two). */
void vmm_load_mark(struct vmm *vm, int what)
{
	unsigned long total = 0;

	if (what == VMM_LOAD_START) {
		for (int k = 0; k < EXIT_KINDS; k++)
			vm->load_base[k] = atomic_load(&vm->exits[k]);
		return;
	}
	printf("load exits:");
	for (int k = 0; k < EXIT_KINDS; k++) {
		unsigned long n = atomic_load(&vm->exits[k]) - vm->load_base[k];

		if (k == EXIT_IO_OTHER)
			n -= 1; /* the end mark */
		if (k == EXIT_IO_CLOCK || k == EXIT_IO_SERIAL)
			continue; /* the test's own clock reads and output */
		total += n;
		printf(" %s=%lu", load_names[k], n);
	}
	printf(" total=%lu", total);
	if (vm->offload) {
		struct evtchn_kvm_stats st;

		/* what KVM held at the end of the load */
		if (evtchn_kvm_stats(vm->dom, &st) == 0)
			printf(" kvm_entries=%u kvm_irqfds=%u kvm_timers=%u",
			       st.entries, st.irqfds, st.timers);
	}
	printf("\n");
	fflush(stdout);
}

static void report(struct vmm *vm, double secs)
{
	unsigned long total = 0;

	printf("exits (%.2f s):\n", secs);
	for (int k = 0; k < EXIT_KINDS; k++) {
		unsigned long n = atomic_load(&vm->exits[k]);

		total += n;
		if (n)
			printf("  %-18s %10lu\n", exit_names[k], n);
	}
	printf("  %-18s %10lu\n", "total", total);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "guest", required_argument, NULL, 'g' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "kvm-offload", optional_argument, NULL, 'k' },
		{ "save", required_argument, NULL, 's' },
		{ "restore", required_argument, NULL, 'r' },
		{ "kernel", required_argument, NULL, 'K' },
		{ "initrd", required_argument, NULL, 'I' },
		{ "cmdline", required_argument, NULL, 'C' },
		{ "memory", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct vmm vm = { .nr_vcpus = 2, .status = -1,
				 .ram_size = VMM_RAM_SIZE,
				 .rtc_b = VMM_RTC_REG_B_DEFAULT };
	const char *guest = NULL, *restore = NULL, *kernel = NULL;
	const char *initrd = NULL, *cmdline = "console=ttyS0";
	unsigned long timeout = 60;
	pthread_t wd, vcpus[VMM_MAX_VCPUS];
	double t0;
	int o, rc;

	while ((o = getopt_long(argc, argv, "g:c:t:vks:r:K:I:C:m:h", opts,
				NULL)) != -1) {
		char *end;

		switch (o) {
		case 'g':
			guest = optarg;
			break;
		case 'c':
			vm.nr_vcpus = (uint32_t)strtoul(optarg, &end, 0);
			if (*end || vm.nr_vcpus < 1 ||
			    vm.nr_vcpus > VMM_MAX_VCPUS) {
				fprintf(stderr, "evtchn-vmm: --vcpus: 1 to %d\n",
					VMM_MAX_VCPUS);
				return 64;
			}
			break;
		case 't':
			timeout = strtoul(optarg, &end, 0);
			if (*end || !timeout) {
				usage(stderr);
				return 64;
			}
			break;
		case 'v':
			vm.verbose = true;
			break;
		case 'k':
			vm.offload = true;
			if (parse_offload(optarg, &vm.offload_classes)) {
				usage(stderr);
				return 64;
			}
			break;
		case 's':
			vm.save_path = optarg;
			break;
		case 'r':
			restore = optarg;
			break;
		case 'K':
			kernel = optarg;
			break;
		case 'I':
			initrd = optarg;
			break;
		case 'C':
			cmdline = optarg;
			break;
		case 'm':
			vm.ram_size = strtoull(optarg, &end, 0) << 20;
			if (*end || vm.ram_size < (32ull << 20) ||
			    vm.ram_size > (3ull << 30)) {
				fprintf(stderr, "evtchn-vmm: --memory: 32 to "
						"3072 MiB\n");
				return 64;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (!!guest + !!restore + !!kernel != 1 || optind != argc) {
		usage(stderr);
		return 64;
	}
	pthread_mutex_init(&vm.lock, NULL);
	if (vm.ram_size != VMM_RAM_SIZE && guest) {
		fprintf(stderr, "evtchn-vmm: the test guest needs %llu MiB\n",
			VMM_RAM_SIZE >> 20);
		return 64;
	}
	rc = vmm_kvm_open(&vm);
	if (rc)
		return rc == -ENOENT || rc == -ENOTSUP ? 77 : 65;
	if ((guest && vmm_load_elf(&vm, guest)) ||
	    (kernel && vmm_load_linux(&vm, kernel, initrd, cmdline)) ||
	    vmm_serial_init(&vm) || vmm_xen_setup(&vm) ||
	    vmm_kvm_create_vcpus(&vm) || vmm_device_start(&vm))
		return 65;
	if (restore) {
		rc = vmm_snapshot_restore(&vm, restore);
		if (rc) {
			fprintf(stderr, "evtchn-vmm: --restore %s: %s\n",
				restore, strerror(-rc));
			return 65;
		}
	}
	if (vm.is_linux && !vm.offload) {
		/* the pvclock in vcpu_info is KVM's: attached, nothing
		 * offloaded */
		vm.offload = true;
		vm.offload_classes = 0;
	}
	if (vm.offload) {
		rc = vmm_xen_offload(&vm);
		if (rc)
			return rc == -ENOTSUP ? 77 : 65;
	}
	t0 = now_s();
	vm.timeout = timeout;
	pthread_create(&wd, NULL, watchdog, &vm);
	for (uint32_t i = 0; i < vm.nr_vcpus; i++)
		pthread_create(&vcpus[i], NULL, vcpu_main, &vm.vcpu[i]);
	for (uint32_t i = 0; i < vm.nr_vcpus; i++)
		pthread_join(vcpus[i], NULL);
	atomic_store(&vm.stop, true);
	pthread_join(wd, NULL);
	if (atomic_load(&vm.status) == VMM_EXIT_TIMEOUT)
		vmm_dump_machine(&vm);
	report(&vm, now_s() - t0);
	vmm_device_stop(&vm);
	vmm_xen_teardown(&vm);
	rc = atomic_load(&vm.status);
	return rc < 0 ? 67 : rc;
}
