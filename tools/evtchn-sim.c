/* SPDX-License-Identifier: MIT */
/*
 * evtchn-sim: a simulated Xen guest on libevtchn, as a VMM would run one.
 *
 * The guest (domain 1) has N vCPU threads running the reference consumer
 * (guest/) in guest memory.  Each vCPU gets VIRQ_TIMER ticks from its
 * periodic timer (the library's timer thread) and an IPI port that the
 * other vCPUs send IPIs to.  Netfront/netback-style rings connect
 * the guest to a backend in another process over interdomain channels
 * whose domain-0 ends a backend handle holds: routes turn the guest's
 * sends into eventfd writes and the backend's eventfd writes into events.
 * An assigned PCI device in the backend process raises MSIs that the guest
 * programmed to PIRQs (--msi): a route takes each vector's eventfd to its
 * PIRQ's port.  After --duration the run drains, checks that no event was
 * lost and prints a summary (see evtchn-sim(1)).
 *
 * Files: tools/sim/guest.c (vCPU threads), tools/sim/backend.c (the
 * backend process), tools/sim/report.c (checks, progress, summary).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/physdev.h>
#include <xen/vcpu.h>

#include "evtchn/backend.h"
#include "evtchn/evtchn.h"
#include "evtchn/route.h"
#include "evtchn_guest.h"
#include "sim/sim.h"

#define NS 1000000000ull
#define READY_TIMEOUT_NS (10 * NS)
#define QUIT_TIMEOUT_NS (5 * NS)
#define DRAIN_POLL_NS 10000000ull
#define DOM0_PAGES 4u
/* The guest's PIRQs: MSI PIRQs come from the top (511 down), so their
 * MSI addresses use the high half (PIRQ & 0xffffff00) as well. */
#define GUEST_PIRQS 512u
/* The MSI data the guest programs: vector 0 ("the PIRQ is in the
 * address"), edge, assert. */
#define PIRQ_MSI_DATA 0x4300u

/* exit status */
#define EXIT_FAILED 1  /* a check failed, or the library refused */
#define EXIT_USAGE 2
#define EXIT_BACKEND 3 /* the backend process died or failed */

volatile sig_atomic_t sim_got_dump, sim_got_stop;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		sim_got_dump = 1;
	else
		sim_got_stop = 1;
}

/* ---- options ---- */

enum { OPT_INJECT = 256, OPT_DIE, OPT_DRAIN, OPT_TIMER, OPT_MSI, OPT_CHAOS,
       OPT_SENDS, OPT_SEED, OPT_LATE, OPT_LEAK };

static const struct option long_opts[] = {
	{ "vcpus", required_argument, NULL, 'c' },
	{ "ports", required_argument, NULL, 'p' },
	{ "duration", required_argument, NULL, 'd' },
	{ "abi", required_argument, NULL, 'a' },
	{ "interval", required_argument, NULL, 'i' },
	{ "timer-period", required_argument, NULL, OPT_TIMER },
	{ "msi", required_argument, NULL, OPT_MSI },
	{ "dump", no_argument, NULL, 'D' },
	{ "chaos", no_argument, NULL, OPT_CHAOS },
	{ "sends", required_argument, NULL, OPT_SENDS },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "help", no_argument, NULL, 'h' },
	/* test hooks, not in --help (see evtchn-sim(1)) */
	{ "inject-loss", optional_argument, NULL, OPT_INJECT },
	{ "backend-die-after", required_argument, NULL, OPT_DIE },
	{ "drain-timeout", required_argument, NULL, OPT_DRAIN },
	{ "inject-late", no_argument, NULL, OPT_LATE },
	{ "inject-fd-leak", no_argument, NULL, OPT_LEAK },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: evtchn-sim [OPTION]...\n"
		"A simulated Xen guest on libevtchn: vCPU threads with timer ticks\n"
		"and IPIs, netfront-style rings served by a backend process over\n"
		"interdomain channels, and an assigned device in that process\n"
		"whose MSIs reach the guest's PIRQs.  Ends with a summary and a\n"
		"lost-event check.\n"
		"\n"
		"  --vcpus N          guest vCPUs, 1 to %u (default 2)\n"
		"  --ports N          interdomain channels (one ring each), 1 to %u\n"
		"                     (default: one a vCPU)\n"
		"  --duration SEC     how long the workload runs (default 5)\n"
		"  --abi 2l|fifo      the guest's event channel ABI (default 2l)\n"
		"  --timer-period MS  VIRQ_TIMER period, 1 to 1000 (default 10)\n"
		"  --msi N            MSI vectors of the assigned device, each on a\n"
		"                     PIRQ, 0 to %u (default 1; 0: no device)\n"
		"  --interval SEC     progress report interval (default 0.5 on a\n"
		"                     terminal, else 1)\n"
		"  --dump             print the guest's port table at the end\n"
		"  --help             this text\n"
		"\n"
		"Chaos mode (see evtchn-sim(1)):\n"
		"  --chaos            while the vCPUs and domain 0's backend thread\n"
		"                     send, a chaos thread closes and rebinds ports,\n"
		"                     unbinds and rebinds backend handles, closes and\n"
		"                     reopens them, moves ports between vCPUs, swaps\n"
		"                     whole route tables and resets the guest\n"
		"                     (switching 2-level/FIFO) and domain 0; checks:\n"
		"                     lost 0, no event on a later binding, no fd\n"
		"                     leaked.  --ports N: channels of each kind\n"
		"                     (default: 2 a vCPU); --msi is not used\n"
		"  --sends N          end the run after N sends (or --duration)\n"
		"  --seed N           the chaos's random seed (default: the clock)\n"
		"\n"
		"SIGUSR1 prints the port table while it runs; SIGINT ends the run\n"
		"early (it still drains and checks).\n"
		"Exit status: 0 all checks passed, 1 a check failed, 2 bad options,\n"
		"3 the backend process died.\n",
		SIM_MAX_VCPUS, SIM_MAX_RINGS, SIM_MAX_MSIS);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("evtchn-sim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'evtchn-sim --help' for more information.\n", stderr);
	exit(EXIT_USAGE);
}

static uint32_t parse_uint(const char *opt, const char *arg, uint32_t lo,
			   uint32_t hi)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || v < lo || v > hi)
		bad_usage("%s wants a whole number from %u to %u, not '%s'",
			  opt, lo, hi, arg);
	return (uint32_t)v;
}

static double parse_secs(const char *opt, const char *arg, double lo,
			 double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (end == arg || *end || errno || !isfinite(v) || v < lo || v > hi)
		bad_usage("%s wants seconds from %g to %g, not '%s'", opt, lo,
			  hi, arg);
	return v;
}

/* What getopt_long() refused in @arg: say why. */
static void __attribute__((noreturn)) bad_option(const char *arg)
{
	size_t len = strcspn(arg, "=");
	const struct option *match = NULL;
	unsigned n = 0;

	if (arg[0] == '-' && arg[1] == '-') {
		for (const struct option *o = long_opts; o->name; o++) {
			if (strncmp(o->name, arg + 2, len - 2))
				continue;
			if (strlen(o->name) == len - 2) {
				match = o, n = 1;
				break;
			}
			match = o, n++;
		}
		if (n > 1)
			bad_usage("option '%.*s' is ambiguous", (int)len, arg);
		if (n == 1 && arg[len] == '=' && match->has_arg == no_argument)
			bad_usage("option '--%s' takes no value", match->name);
	}
	bad_usage("unknown option '%s'", arg);
}

static uint64_t parse_u64(const char *opt, const char *arg, uint64_t lo)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || v < lo)
		bad_usage("%s wants a whole number from %llu, not '%s'", opt,
			  (unsigned long long)lo, arg);
	return v;
}

static void parse_opts(int argc, char **argv, struct sim_opts *o)
{
	bool ports = false, msi = false;
	int c;

	*o = (struct sim_opts){ .vcpus = 2, .duration = 5, .timer_ms = 10,
				.msis = 1, .drain_timeout = 5 };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->vcpus = parse_uint("--vcpus", optarg, 1,
					      SIM_MAX_VCPUS);
			break;
		case 'p':
			o->rings = parse_uint("--ports", optarg, 1,
					      SIM_MAX_RINGS);
			ports = true;
			break;
		case 'd':
			o->duration = parse_secs("--duration", optarg, 0.1,
						 86400);
			break;
		case 'a':
			if (!strcmp(optarg, "2l") || !strcmp(optarg, "2L"))
				o->fifo = false;
			else if (!strcmp(optarg, "fifo") ||
				 !strcmp(optarg, "FIFO"))
				o->fifo = true;
			else
				bad_usage("--abi wants 2l or fifo, not '%s'",
					  optarg);
			break;
		case 'i':
			o->interval = parse_secs("--interval", optarg, 0.1, 60);
			break;
		case OPT_TIMER:
			o->timer_ms = parse_uint("--timer-period", optarg, 1,
						 1000);
			break;
		case OPT_MSI:
			o->msis = parse_uint("--msi", optarg, 0, SIM_MAX_MSIS);
			msi = true;
			break;
		case OPT_CHAOS:
			o->chaos = true;
			break;
		case OPT_SENDS:
			o->max_sends = parse_u64("--sends", optarg, 1);
			break;
		case OPT_SEED:
			o->seed = parse_u64("--seed", optarg, 0);
			o->seed_set = true;
			break;
		case OPT_LATE:
			o->inject_late = true;
			break;
		case OPT_LEAK:
			o->inject_fd_leak = true;
			break;
		case 'D':
			o->dump = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_INJECT:
			if (!optarg || !strcmp(optarg, "kick"))
				o->inject_loss = SIM_LOSS_KICK;
			else if (!strcmp(optarg, "msi"))
				o->inject_loss = SIM_LOSS_MSI;
			else
				bad_usage("--inject-loss wants kick or msi, not "
					  "'%s'",
					  optarg);
			break;
		case OPT_DIE:
			o->die_after = parse_secs("--backend-die-after", optarg,
						  0.001, 86400);
			break;
		case OPT_DRAIN:
			o->drain_timeout = parse_secs("--drain-timeout", optarg,
						      0.1, 600);
			break;
		case ':':
			bad_usage("option '%s' needs a value",
				  argv[optind - 1]);
		default:
			bad_option(argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	if (o->chaos) {
		/* the control vCPU's vcpu_info shares the page */
		if (o->vcpus > SIM_MAX_VCPUS - 1)
			bad_usage("--chaos takes at most %u vCPUs",
				  SIM_MAX_VCPUS - 1);
		if (msi || o->inject_loss == SIM_LOSS_MSI)
			bad_usage("--chaos has no device: no --msi");
		if (o->die_after)
			bad_usage("--chaos has no backend process: no "
				  "--backend-die-after");
		o->msis = 0;
		if (!ports)
			o->rings = 2 * o->vcpus < SIM_MAX_RINGS
					   ? 2 * o->vcpus
					   : SIM_MAX_RINGS;
		return;
	}
	if (o->max_sends || o->seed_set || o->inject_late ||
	    o->inject_fd_leak)
		bad_usage("--sends, --seed, --inject-late and "
			  "--inject-fd-leak need --chaos");
	if (!ports)
		o->rings = o->vcpus < SIM_MAX_RINGS ? o->vcpus : SIM_MAX_RINGS;
	if (o->inject_loss == SIM_LOSS_MSI && !o->msis)
		bad_usage("--inject-loss=msi needs --msi 1 or more");
}

/* ---- the backend process ---- */

static int backend_child(const char *arg)
{
	char *end;
	long fd = strtol(arg, &end, 10);

	if (*end || fd < 0 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0) {
		fprintf(stderr, "evtchn-sim: --backend-child wants the "
				"socket the simulator passes\n");
		return EXIT_USAGE;
	}
	return sim_backend_main((int)fd);
}

/* fork + exec of this binary in backend mode, before any thread exists;
 * only its end of the socket survives the exec. */
static int spawn_backend(struct sim *s)
{
	char fdarg[16];
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
	pid = fork();
	if (pid < 0) {
		int err = errno;

		close(sv[0]);
		close(sv[1]);
		return -err;
	}
	if (pid == 0) {
		static const char msg[] =
			"evtchn-sim: cannot exec the backend\n";

		if (fcntl(sv[1], F_SETFD, 0) == 0)
			execl("/proc/self/exe", "evtchn-sim", "--backend-child",
			      fdarg, (char *)NULL);
		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
			_exit(127);
		_exit(127);
	}
	close(sv[1]);
	s->sock = sv[0];
	s->backend_pid = pid;
	return 0;
}

static void end_line(struct sim *s)
{
	if (s->line_open) {
		putchar('\n');
		fflush(stdout);
		s->line_open = false;
	}
}

/* Reap the backend (killing it if it does not exit within a while);
 * returns its wait status. */
static int reap_backend(struct sim *s, uint64_t wait_ns)
{
	uint64_t end = sim_now_ns() + wait_ns;
	int st = 0;

	while (waitpid(s->backend_pid, &st, WNOHANG) == 0) {
		if (sim_now_ns() >= end) {
			kill(s->backend_pid, SIGKILL);
			waitpid(s->backend_pid, &st, 0);
			break;
		}
		usleep(10000);
	}
	s->backend_pid = 0;
	return st;
}

static void report_exit(int st, const char *when)
{
	if (WIFSIGNALED(st))
		fprintf(stderr, "evtchn-sim: backend process exited (signal "
				"%d, %s) %s\n",
			WTERMSIG(st), strsignal(WTERMSIG(st)), when);
	else
		fprintf(stderr, "evtchn-sim: backend process exited (status "
				"%d) %s\n",
			WEXITSTATUS(st), when);
}

/* The backend went away before it was told to. */
static int backend_gone(struct sim *s)
{
	char when[64] = "during setup";
	int st;

	if (s->t_run)
		snprintf(when, sizeof(when), "after %.1f s",
			 (double)(sim_now_ns() - s->t_run) / 1e9);
	st = reap_backend(s, 2 * NS);
	end_line(s);
	report_exit(st, when);
	return EXIT_BACKEND;
}

/* Wait up to @ns for a signal or for the backend's socket; the backend
 * says nothing after it is ready, so a readable socket means it is gone.
 * Returns 0, or EXIT_BACKEND. */
static int wait_backend(struct sim *s, uint64_t ns, const sigset_t *mask)
{
	struct pollfd p = { .fd = s->sock, .events = POLLIN };
	struct timespec ts = { .tv_sec = (time_t)(ns / NS),
			       .tv_nsec = (long)(ns % NS) };

	if (ppoll(&p, 1, &ts, mask) > 0)
		return backend_gone(s);
	return 0;
}

static void dump(struct sim *s)
{
	end_line(s);
	evtchn_domain_dump(s->d, stdout);
	fflush(stdout);
}

/* ---- setting up the guest ---- */

int sim_fail_rc(const char *what, long rc)
{
	fprintf(stderr, "evtchn-sim: %s: %s\n", what, evtchn_strerror((int)rc));
	return EXIT_FAILED;
}

#define fail sim_fail_rc

/* --chaos: event-array pages for the 2-level ABI's 4,096 ports, which its
 * bindings never leave (a few hundred ports at most). */
#define CHAOS_ARRAY_PAGES 4u

static void layout(struct sim *s)
{
	struct sim_layout *l = &s->l;
	uint32_t n = s->nvcpu, rings = s->o.chaos ? 0 : s->o.rings;
	uint32_t ports = 2 * n + rings + s->o.msis + 1;

	l->arg_gfn = 1;
	l->vi_gfn = l->arg_gfn + n;
	l->cb_gfn = l->vi_gfn + 1; /* 64 vcpu_info of 64 bytes */
	l->array_gfn = l->cb_gfn + n;
	l->array_pages = s->o.chaos ? CHAOS_ARRAY_PAGES
				    : ports / (SIM_PAGE / 4) + 1;
	l->ring_gfn = l->array_gfn + l->array_pages;
	l->dev_gfn = l->ring_gfn + rings + sim_chan_pages(rings);
	l->pages = l->dev_gfn + sim_dev_pages(s->o.msis);
}

/* Guest memory: a memfd, so the backend can map the ring pages. */
static int guest_memory(struct sim *s)
{
	size_t size = s->l.pages * SIM_PAGE;

	s->memfd = memfd_create("evtchn-sim-guest", MFD_CLOEXEC);
	if (s->memfd < 0)
		return fail("memfd_create", -errno);
	if (ftruncate(s->memfd, (off_t)size))
		return fail("ftruncate", -errno);
	s->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      s->memfd, 0);
	if (s->mem == MAP_FAILED) {
		s->mem = NULL;
		return fail("mmap", -errno);
	}
	return 0;
}

static int domains(struct sim *s)
{
	struct evtchn_domain_config cfg = { .domid = SIM_GUEST_DOMID,
					    .nr_vcpus = s->nvcpu,
					    .layout = EVTCHN_LAYOUT_64,
					    .upcall_cb = sim_upcall_cb,
					    .opaque = s,
					    .nr_pirqs = GUEST_PIRQS };
	struct evtchn_domain_config cfg0 = { .domid = SIM_BACKEND_DOMID,
					     .nr_vcpus = 1,
					     .privileged = true };
	int rc;

	rc = evtchn_host_create(&s->host);
	if (rc)
		return fail("evtchn_host_create", rc);
	s->dom0_mem = aligned_alloc(SIM_PAGE, DOM0_PAGES * SIM_PAGE);
	if (!s->dom0_mem)
		return fail("aligned_alloc", -ENOMEM);
	memset(s->dom0_mem, 0, DOM0_PAGES * SIM_PAGE);
	evtchn_guest_mem_flat(&cfg0.mem, s->dom0_mem, DOM0_PAGES * SIM_PAGE);
	rc = evtchn_domain_create(s->host, &cfg0, &s->dom0);
	if (rc)
		return fail("domain 0", rc);
	evtchn_guest_mem_flat(&cfg.mem, s->mem, s->l.pages * SIM_PAGE);
	rc = evtchn_domain_create(s->host, &cfg, &s->d);
	if (rc)
		return fail("the guest domain", rc);
	rc = evtchn_backend_open(s->dom0, 0, &s->bh);
	if (rc)
		return fail("evtchn_backend_open", rc);
	rc = evtchn_guest_init(&s->g, evtchn_domain_shared_info(s->d), false,
			       s->nvcpu, sim_guest_op, s);
	if (rc)
		return fail("evtchn_guest_init", rc);
	return 0;
}

/* As Linux brings up CPUs: the boot vCPU registers every vcpu_info while
 * the others are offline, then they come online. */
static int vcpus(struct sim *s)
{
	for (uint32_t v = 0; v < s->nvcpu; v++) {
		struct vcpu_register_vcpu_info ri = { .mfn = s->l.vi_gfn,
						      .offset = v * 64 };
		long rc = sim_hypercall(s, 0, __HYPERVISOR_vcpu_op,
					VCPUOP_register_vcpu_info, v, &ri,
					sizeof(ri));

		if (rc)
			return fail("VCPUOP_register_vcpu_info", rc);
		evtchn_guest_set_vcpu_info(&s->g, v,
					   s->mem + s->l.vi_gfn * SIM_PAGE +
						   v * 64);
		s->vcpu[v].sim = s;
		s->vcpu[v].id = v;
		s->vcpu[v].next_target = (v + 1) % s->o.vcpus;
	}
	for (uint32_t v = 0; v < s->nvcpu; v++)
		evtchn_vcpu_set_online(s->d, v, true);
	return s->o.fifo ? sim_fifo_init(s) : 0;
}

/* As Linux's FIFO set-up: a zeroed control block for each vCPU, then
 * zeroed event-array pages.  The hypercalls are made on each vCPU's
 * behalf by the caller's thread: no vCPU thread runs them meanwhile. */
int sim_fifo_init(struct sim *s)
{
	for (uint32_t v = 0; v < s->nvcpu; v++) {
		uint64_t gfn = s->l.cb_gfn + v;
		long rc;

		memset(s->mem + gfn * SIM_PAGE, 0, SIM_PAGE);
		rc = evtchn_guest_fifo_init_vcpu(
			&s->g, v, s->mem + gfn * SIM_PAGE, gfn, 0);
		if (rc)
			return fail("EVTCHNOP_init_control", rc);
	}
	for (uint32_t i = 0; i < s->l.array_pages; i++) {
		uint64_t gfn = s->l.array_gfn + i;
		long rc;

		memset(s->mem + gfn * SIM_PAGE, 0, SIM_PAGE);
		rc = evtchn_guest_fifo_expand(&s->g, s->mem + gfn * SIM_PAGE,
					      gfn);
		if (rc)
			return fail("EVTCHNOP_expand_array", rc);
	}
	return 0;
}

static long op(struct sim *s, int cmd, void *arg, size_t len)
{
	return sim_guest_op(s, 0, cmd, arg, len);
}

/* VIRQ_TIMER and an IPI port on every vCPU. */
static int bind_vcpu_ports(struct sim *s)
{
	for (uint32_t v = 0; v < s->o.vcpus; v++) {
		struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = v };
		struct evtchn_bind_ipi bi = { .vcpu = v };
		long rc;

		rc = op(s, EVTCHNOP_bind_virq, &bv, sizeof(bv));
		if (rc)
			return fail("EVTCHNOP_bind_virq", rc);
		rc = op(s, EVTCHNOP_bind_ipi, &bi, sizeof(bi));
		if (rc)
			return fail("EVTCHNOP_bind_ipi", rc);
		s->vcpu[v].timer_port = bv.port;
		s->vcpu[v].ipi_port = bi.port;
		evtchn_guest_bind_port(&s->g, bv.port, v);
		evtchn_guest_bind_port(&s->g, bi.port, v);
	}
	return 0;
}

/* Each ring: the guest allocates an unbound port for domain 0, the
 * backend handle binds it (as netback does from xenstore), the guest
 * moves it to the ring's vCPU and initialises the shared ring. */
static int bind_rings(struct sim *s, uint32_t *remote)
{
	sim_sring_t *sr;

	for (uint32_t i = 0; i < s->o.rings; i++) {
		struct evtchn_alloc_unbound au = {
			.dom = DOMID_SELF, .remote_dom = SIM_BACKEND_DOMID };
		struct evtchn_bind_vcpu bv;
		struct sim_ring *r = &s->ring[i];
		long rc;

		rc = op(s, EVTCHNOP_alloc_unbound, &au, sizeof(au));
		if (rc)
			return fail("EVTCHNOP_alloc_unbound", rc);
		rc = evtchn_backend_bind_interdomain(s->bh, SIM_GUEST_DOMID,
						     au.port);
		if (rc < 0)
			return fail("evtchn_backend_bind_interdomain", rc);
		remote[i] = (uint32_t)rc;
		r->index = i;
		r->port = au.port;
		r->vcpu = i % s->o.vcpus;
		bv = (struct evtchn_bind_vcpu){ .port = r->port,
						.vcpu = r->vcpu };
		rc = op(s, EVTCHNOP_bind_vcpu, &bv, sizeof(bv));
		if (rc)
			return fail("EVTCHNOP_bind_vcpu", rc);
		evtchn_guest_bind_port(&s->g, r->port, r->vcpu);
		sr = (sim_sring_t *)(s->mem + (s->l.ring_gfn + i) * SIM_PAGE);
		XEN_FRONT_RING_INIT(&r->front, sr, SIM_PAGE);
		r->chan = (struct sim_chan *)(s->mem + (s->l.ring_gfn +
							s->o.rings) *
							       SIM_PAGE) +
			  i;
	}
	return 0;
}

/* What the handler looks up: port number -> binding. */
static int port_table(struct sim *s, const uint32_t *remote)
{
	uint32_t max = 0;

	for (uint32_t v = 0; v < s->o.vcpus; v++) {
		if (s->vcpu[v].timer_port > max)
			max = s->vcpu[v].timer_port;
		if (s->vcpu[v].ipi_port > max)
			max = s->vcpu[v].ipi_port;
	}
	for (uint32_t i = 0; i < s->o.rings; i++)
		if (s->ring[i].port > max)
			max = s->ring[i].port;
	for (uint32_t i = 0; i < s->o.msis; i++)
		if (s->msi[i].port > max)
			max = s->msi[i].port;
	s->nr_ports = max + 1;
	s->port = calloc(s->nr_ports, sizeof(*s->port));
	if (!s->port)
		return fail("calloc", -ENOMEM);
	for (uint32_t v = 0; v < s->o.vcpus; v++) {
		s->port[s->vcpu[v].timer_port].kind = SIM_PORT_TIMER;
		s->port[s->vcpu[v].timer_port].vcpu = v;
		s->port[s->vcpu[v].ipi_port].kind = SIM_PORT_IPI;
		s->port[s->vcpu[v].ipi_port].vcpu = v;
	}
	for (uint32_t i = 0; i < s->o.rings; i++) {
		struct sim_port *p = &s->port[s->ring[i].port];

		p->kind = SIM_PORT_RING;
		p->vcpu = s->ring[i].vcpu;
		p->ring = i;
		p->remote_port = remote[i];
	}
	for (uint32_t i = 0; i < s->o.msis; i++) {
		struct sim_port *p = &s->port[s->msi[i].port];

		p->kind = SIM_PORT_PIRQ;
		p->vcpu = s->msi[i].vcpu;
		p->ring = i;
	}
	return 0;
}

/* The backend's READY, or its end. */
static int wait_ready(struct sim *s, const sigset_t *mask)
{
	uint64_t end = sim_now_ns() + READY_TIMEOUT_NS, now;
	char ready = 0;

	while ((now = sim_now_ns()) < end) {
		struct pollfd p = { .fd = s->sock, .events = POLLIN };
		struct timespec ts = { .tv_sec = (time_t)((end - now) / NS),
				       .tv_nsec = (long)((end - now) % NS) };
		int n = ppoll(&p, 1, &ts, mask);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1 && sim_recv_msg(s->sock, &ready, 1, NULL, 0) == 1 &&
		    ready == SIM_MSG_READY)
			return 0;
		break;
	}
	return backend_gone(s);
}

/* Routes: the guest's send on a ring's port writes its kick eventfd; the
 * backend's write to its answer eventfd raises the port on the ring's
 * vCPU.  Then the backend gets the memfd and both eventfds of each ring;
 * the library and the backend keep their own copies.  The device gets an
 * eventfd a vector, its irqfd, which the VMM keeps until the guest
 * programs the vector's MSI (msix_write()). */
static int connect_backend(struct sim *s, const sigset_t *mask)
{
	uint32_t n = s->o.rings;
	struct evtchn_route *rt = calloc(2 * n, sizeof(*rt));
	int *efd = malloc(2 * n * sizeof(int));
	struct sim_setup_msg m = {
		.magic = SIM_MAGIC, .nr_rings = n,
		.map_offset = s->l.ring_gfn * SIM_PAGE,
		.map_pages = n + sim_chan_pages(n) + sim_dev_pages(s->o.msis),
		.die_after_ns = (uint64_t)(s->o.die_after * 1e9),
		.nr_msis = s->o.msis,
		.flags = s->o.inject_loss == SIM_LOSS_MSI ? SIM_SETUP_DROP_MSI
							  : 0,
	};
	int rc = EXIT_FAILED;
	uint32_t i;

	for (i = 0; efd && i < 2 * n; i++)
		efd[i] = -1;
	if (!rt || !efd) {
		rc = fail("calloc", -ENOMEM);
		goto out;
	}
	for (i = 0; i < n; i++) {
		efd[2 * i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		efd[2 * i + 1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efd[2 * i] < 0 || efd[2 * i + 1] < 0) {
			rc = fail("eventfd", -errno);
			goto out;
		}
		rt[2 * i] = (struct evtchn_route){
			.kind = EVTCHN_ROUTE_PORT_TO_FD,
			.port = s->ring[i].port, .fd = efd[2 * i] };
		rt[2 * i + 1] = (struct evtchn_route){
			.kind = EVTCHN_ROUTE_FD_TO_PORT,
			.port = s->ring[i].port, .fd = efd[2 * i + 1],
			.vcpu = s->ring[i].vcpu };
	}
	for (i = 0; i < s->o.msis; i++) {
		s->msi[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->msi[i].efd < 0) {
			rc = fail("eventfd", -errno);
			goto out;
		}
	}
	rc = evtchn_routes_set(s->d, rt, 2 * n);
	if (rc) {
		rc = fail("evtchn_routes_set", rc);
		goto out;
	}
	rc = sim_send_msg(s->sock, &m, sizeof(m), &s->memfd, 1);
	for (i = 0; i < n && !rc; i++) {
		struct sim_ring_msg rm = { .magic = SIM_MAGIC, .ring = i };

		rc = sim_send_msg(s->sock, &rm, sizeof(rm), &efd[2 * i], 2);
	}
	for (i = 0; i < s->o.msis && !rc; i++) {
		struct sim_msi_msg mm = { .magic = SIM_MAGIC, .vector = i };

		rc = sim_send_msg(s->sock, &mm, sizeof(mm), &s->msi[i].efd, 1);
	}
	rc = rc ? backend_gone(s) : wait_ready(s, mask);
out:
	for (i = 0; efd && i < 2 * n; i++)
		if (efd[i] >= 0)
			close(efd[i]);
	free(efd);
	free(rt);
	return rc;
}

/* The VMM's emulation of the device's MSI-X table: the guest wrote vector
 * @m's address and data.  Data vector 0 names a PIRQ (evtchn_msi_pirq(),
 * in *@pirq): the vector's irqfd gets an FD_TO_PIRQ route, and from then on
 * the device's MSIs reach the PIRQ's port through the library's route
 * thread, without the VMM. */
static int msix_write(struct sim *s, struct sim_msi_vec *m, uint64_t addr,
		      uint32_t data, uint32_t *pirq)
{
	struct evtchn_route r = { .kind = EVTCHN_ROUTE_FD_TO_PIRQ,
				  .fd = m->efd };
	int rc = evtchn_msi_pirq(addr, data, &r.pirq);

	if (rc == 1) {
		fprintf(stderr, "evtchn-sim: MSI vector %u: an ordinary MSI "
				"(data %#x), which needs a local APIC\n",
			m->index, data);
		return EXIT_FAILED;
	}
	if (rc)
		return fail("evtchn_msi_pirq", rc);
	m->addr = addr;
	m->data = data;
	rc = evtchn_route_update(s->d, &r);
	if (rc)
		return fail("evtchn_route_update", rc);
	close(m->efd); /* the route has its own */
	m->efd = -1;
	*pirq = r.pirq;
	return 0;
}

/*
 * The guest's driver of the device, on vCPU 0, as Linux's
 * xen_hvm_setup_msi_irqs() and request_irq() go for each vector: a PIRQ
 * from PHYSDEVOP_get_free_pirq (MAP_PIRQ_TYPE_MSI); the MSI programmed with
 * data vector 0 and the PIRQ in the address (its low byte as destination
 * id, the rest in the high half); the PIRQ bound to a port
 * (EVTCHNOP_bind_pirq) and the port moved to the vector's vCPU (its
 * affinity: EVTCHNOP_bind_vcpu); then the driver turns the vector on in
 * the device.  Vector i belongs to vCPU i mod N.
 */
static int bind_msis(struct sim *s)
{
	for (uint32_t i = 0; i < s->o.msis; i++) {
		struct sim_msi_vec *m = &s->msi[i];
		struct physdev_get_free_pirq gf = { .type = MAP_PIRQ_TYPE_MSI };
		struct evtchn_bind_pirq bp = { .flags = 0 };
		struct evtchn_bind_vcpu bv;
		uint64_t addr;
		uint32_t routed = 0;
		long rc;

		rc = sim_physdev_op(s, 0, PHYSDEVOP_get_free_pirq, &gf,
				    sizeof(gf));
		if (rc)
			return fail("PHYSDEVOP_get_free_pirq", rc);
		m->pirq = gf.pirq;
		addr = ((uint64_t)(m->pirq & 0xffffff00u) << 32) |
		       0xfee00000u | ((m->pirq & 0xffu) << 12);
		rc = msix_write(s, m, addr, PIRQ_MSI_DATA, &routed);
		if (rc)
			return (int)rc;
		if (routed != m->pirq) {
			fprintf(stderr, "evtchn-sim: MSI vector %u: the "
					"address names PIRQ %u, not %u\n",
				i, routed, m->pirq);
			return EXIT_FAILED;
		}
		bp.pirq = m->pirq;
		rc = op(s, EVTCHNOP_bind_pirq, &bp, sizeof(bp));
		if (rc)
			return fail("EVTCHNOP_bind_pirq", rc);
		m->port = bp.port;
		m->vcpu = i % s->o.vcpus;
		bv = (struct evtchn_bind_vcpu){ .port = m->port,
						.vcpu = m->vcpu };
		rc = op(s, EVTCHNOP_bind_vcpu, &bv, sizeof(bv));
		if (rc)
			return fail("EVTCHNOP_bind_vcpu", rc);
		evtchn_guest_bind_port(&s->g, m->port, m->vcpu);
		atomic_store(&m->sh->event, 1);
		atomic_store(&m->sh->enabled, 1);
	}
	return 0;
}

/* What both modes set up: memory, domains 0 and 1, the vCPUs. */
int sim_setup_guest(struct sim *s)
{
	int rc;

	s->nvcpu = s->o.vcpus + (s->o.chaos ? 1 : 0);
	layout(s);
	s->vcpu = aligned_alloc(64, s->nvcpu * sizeof(*s->vcpu));
	s->msi = calloc(s->o.msis ? s->o.msis : 1, sizeof(*s->msi));
	if (!s->vcpu || !s->msi)
		return fail("calloc", -ENOMEM);
	memset(s->vcpu, 0, s->nvcpu * sizeof(*s->vcpu));
	for (uint32_t i = 0; i < s->o.msis; i++) {
		s->msi[i].index = i;
		s->msi[i].efd = -1;
	}
	rc = guest_memory(s);
	if (!rc && s->o.msis) {
		s->dev = (struct sim_dev *)(s->mem + s->l.dev_gfn * SIM_PAGE);
		for (uint32_t i = 0; i < s->o.msis; i++)
			s->msi[i].sh = sim_dev_msi(s->dev) + i;
	}
	if (!rc)
		rc = domains(s);
	if (!rc)
		rc = vcpus(s);
	return rc;
}

static int setup(struct sim *s, const sigset_t *mask)
{
	uint32_t *remote;
	int rc;

	s->ring = calloc(s->o.rings, sizeof(*s->ring));
	s->mailbox = calloc((size_t)s->o.vcpus * s->o.vcpus,
			    sizeof(*s->mailbox));
	remote = calloc(s->o.rings, sizeof(*remote));
	if (!s->ring || !s->mailbox || !remote) {
		free(remote);
		return fail("calloc", -ENOMEM);
	}
	rc = sim_setup_guest(s);
	if (!rc)
		rc = bind_vcpu_ports(s);
	if (!rc)
		rc = bind_rings(s, remote);
	if (!rc)
		rc = connect_backend(s, mask);
	if (!rc)
		rc = bind_msis(s);
	if (!rc)
		rc = port_table(s, remote);
	free(remote);
	return rc;
}

/* ---- running ---- */

static int start(struct sim *s)
{
	int rc = evtchn_routes_thread_start(s->d);

	if (rc)
		return fail("evtchn_routes_thread_start", rc);
	s->routes_running = true;
	rc = evtchn_host_timers_start(s->host);
	if (rc)
		return fail("evtchn_host_timers_start", rc);
	s->timers_running = true;
	s->t_run = sim_now_ns();
	for (uint32_t v = 0; v < s->o.vcpus; v++) {
		rc = pthread_create(&s->vcpu[v].thread, NULL, sim_vcpu_main,
				    &s->vcpu[v]);
		if (rc)
			return fail("pthread_create", -rc);
		s->vcpu[v].started = true;
	}
	return 0;
}

static uint64_t secs_ns(double secs)
{
	return (uint64_t)(secs * 1e9);
}

/* The workload for --duration, with progress every interval. */
static int run(struct sim *s, const sigset_t *mask)
{
	bool tty = isatty(STDOUT_FILENO);
	uint64_t step = secs_ns(s->o.interval ? s->o.interval
					      : (tty ? 0.5 : 1.0));
	uint64_t end = s->t_run + secs_ns(s->o.duration);
	uint64_t next = s->t_run + step, last = s->t_run, now;
	struct sim_totals prev = { 0 }, cur;
	int rc;

	while (!sim_got_stop && !atomic_load(&s->failed)) {
		now = sim_now_ns();
		if (now >= end)
			break;
		if (now >= next) {
			sim_totals(s, &cur);
			sim_progress(tty, (double)(now - s->t_run) / 1e9,
				     &cur, &prev, (double)(now - last) / 1e9);
			s->line_open = tty;
			prev = cur;
			last = now;
			next += step;
			if (next <= now)
				next = now + step;
		}
		rc = wait_backend(s, (next < end ? next : end) - now, mask);
		if (rc)
			return rc;
		if (sim_got_dump) {
			sim_got_dump = 0;
			dump(s);
		}
	}
	end_line(s);
	return 0;
}

/* The vCPUs send nothing new and the device raises nothing more. */
static bool all_quiet(struct sim *s)
{
	for (uint32_t v = 0; v < s->o.vcpus; v++)
		if (!atomic_load(&s->vcpu[v].quiet))
			return false;
	return !s->dev || atomic_load(&s->dev->stopped);
}

/* No new work; wait until everything in flight completed, at most
 * --drain-timeout. */
static int drain(struct sim *s, const sigset_t *mask)
{
	uint64_t deadline, now;
	struct sim_check c;
	int rc;

	s->t_drain = sim_now_ns();
	deadline = s->t_drain + secs_ns(s->o.drain_timeout);
	atomic_store(&s->phase, SIM_DRAIN);
	sim_wake_all(s);
	for (;;) {
		if (all_quiet(s) && sim_check(s, &c))
			break;
		now = sim_now_ns();
		if (now >= deadline)
			break;
		rc = wait_backend(s, deadline - now < DRAIN_POLL_NS
					     ? deadline - now
					     : DRAIN_POLL_NS,
				  mask);
		if (rc)
			return rc;
		if (sim_got_dump) {
			sim_got_dump = 0;
			dump(s);
		}
	}
	s->t_end = sim_now_ns();
	return 0;
}

static void stop_vcpus(struct sim *s)
{
	if (!s->vcpu)
		return;
	atomic_store(&s->phase, SIM_STOP);
	sim_wake_all(s);
	for (uint32_t v = 0; v < s->o.vcpus; v++) {
		if (s->vcpu[v].started)
			pthread_join(s->vcpu[v].thread, NULL);
		s->vcpu[v].started = false;
	}
}

/* Ask the backend to quit; it must exit with status 0. */
static int stop_backend(struct sim *s)
{
	struct pollfd p = { .fd = s->sock, .events = POLLIN };
	char quit = SIM_MSG_QUIT;
	int st;

	if (sim_send_msg(s->sock, &quit, 1, NULL, 0) == 0)
		poll(&p, 1, (int)(QUIT_TIMEOUT_NS / 1000000));
	st = reap_backend(s, QUIT_TIMEOUT_NS);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	report_exit(st, "when told to quit");
	return EXIT_BACKEND;
}

static int report(struct sim *s)
{
	struct sim_check c;
	bool ok = sim_check(s, &c);

	sim_summary(s, &c);
	if (s->o.dump) {
		putchar('\n');
		dump(s);
	}
	if (atomic_load(&s->failed)) {
		fprintf(stderr, "evtchn-sim: %s\n", s->fail_msg);
		ok = false;
	}
	printf("result: %s\n", ok ? "OK" : "FAILED");
	fflush(stdout);
	return ok ? 0 : EXIT_FAILED;
}

void sim_teardown(struct sim *s)
{
	stop_vcpus(s);
	if (s->routes_running)
		evtchn_routes_thread_stop(s->d);
	if (s->timers_running)
		evtchn_host_timers_stop(s->host);
	if (s->backend_pid > 0) {
		kill(s->backend_pid, SIGKILL);
		reap_backend(s, 0);
	}
	if (s->sock >= 0)
		close(s->sock);
	if (s->bh)
		evtchn_backend_close(s->bh);
	if (s->d)
		evtchn_domain_destroy(s->d);
	if (s->dom0)
		evtchn_domain_destroy(s->dom0);
	if (s->host)
		evtchn_host_destroy(s->host);
	evtchn_guest_fini(&s->g);
	if (s->mem)
		munmap(s->mem, s->l.pages * SIM_PAGE);
	if (s->memfd >= 0)
		close(s->memfd);
	free(s->dom0_mem);
	free(s->port);
	for (uint32_t i = 0; s->msi && i < s->o.msis; i++)
		if (s->msi[i].efd >= 0)
			close(s->msi[i].efd);
	free(s->msi);
	free(s->mailbox);
	free(s->ring);
	free(s->vcpu);
	pthread_mutex_destroy(&s->fail_lock);
}

/* Signals: blocked everywhere (the library's threads and the vCPUs
 * inherit the mask) except in the main thread's ppoll(). */
static void signals(sigset_t *unblocked)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_sigmask(SIG_BLOCK, &block, unblocked);
	sigdelset(unblocked, SIGUSR1);
	sigdelset(unblocked, SIGINT);
	sigdelset(unblocked, SIGTERM);
}

int main(int argc, char **argv)
{
	struct sim s = { .memfd = -1, .sock = -1 };
	sigset_t unblocked;
	int rc;

	if (argc == 3 && !strcmp(argv[1], "--backend-child"))
		return backend_child(argv[2]);
	parse_opts(argc, argv, &s.o);
	pthread_mutex_init(&s.fail_lock, NULL);
	if (s.o.chaos) {
		signals(&unblocked);
		return sim_chaos_main(&s, &unblocked);
	}
	rc = spawn_backend(&s);
	if (rc) {
		fprintf(stderr, "evtchn-sim: starting the backend: %s\n",
			strerror(-rc));
		return EXIT_FAILED;
	}
	signals(&unblocked);
	rc = setup(&s, &unblocked);
	if (!rc)
		rc = start(&s);
	if (!rc)
		rc = run(&s, &unblocked);
	if (!rc)
		rc = drain(&s, &unblocked);
	stop_vcpus(&s);
	if (!rc)
		rc = stop_backend(&s);
	if (!rc)
		rc = report(&s);
	sim_teardown(&s);
	return rc;
}
