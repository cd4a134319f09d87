/* SPDX-License-Identifier: MIT */
/*
 * evtchn-bench --plot: the samples as data files, a gnuplot script that
 * draws them, and the SVG figures gnuplot makes of it.
 *
 *   latency-send.svg       send + consume of one event, library against
 *                          raw atomics, and the empty timed iteration
 *   latency-roundtrip.svg  guest -> backend -> guest against the raw
 *                          eventfd ping-pong
 *   scaling.svg            aggregate throughput and scaling against the
 *                          number of threads, with the ideal
 *
 * The latency figures are cumulative distributions with a log time axis
 * and a tail-stretched fraction axis (-log10(1 - F): 90%, 99%, 99.9%... are
 * equally spaced), so both the body and the tail show.  The script names
 * its files relative to its own directory, where gnuplot runs.
 */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

struct plot {
	char dir[4096];
	const char *stem; /* file names begin with it */
	FILE *gp;	  /* the script */
	bool failed;
};

static FILE *plot_open(struct plot *p, const char *name)
{
	char path[8192];
	FILE *f;

	if (p->failed) /* said once */
		return NULL;
	snprintf(path, sizeof(path), "%s/%s%s", p->dir, p->stem, name);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "evtchn-bench: %s: %s\n", path,
			strerror(errno));
		p->failed = true;
	}
	return f;
}

static void plot_close(struct plot *p, FILE *f)
{
	if (f && fclose(f))
		p->failed = true;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

#define BODY_STEPS 200 /* points every 0.5% of the samples */
#define TAIL_STEP 0.01 /* and every 0.01 on the tail axis */

/* @d as points of its distribution: ns, the fraction at or below (the
 * sample's plotting position (i + 1/2) / n) and the tail-stretched
 * fraction, on a grid even in both fractions. */
static void write_dist(struct plot *p, const struct dist *d)
{
	double top = log10(2.0 * (double)d->n);
	size_t cap = BODY_STEPS + 2 + (size_t)(top / TAIL_STEP) + 1, k = 0;
	size_t *idx;
	char name[128];
	FILE *f;

	if (!d->n)
		return;
	idx = malloc(cap * sizeof(*idx));
	if (!idx) {
		p->failed = true;
		return;
	}
	for (size_t j = 0; j <= BODY_STEPS; j++)
		idx[k++] = (size_t)((double)j / BODY_STEPS * (d->n - 1));
	for (double y = TAIL_STEP; y < top && k < cap - 1; y += TAIL_STEP) {
		double want = (double)d->n * (1.0 - pow(10.0, -y)) - 0.5;

		idx[k++] = want >= d->n - 1 ? d->n - 1 : (size_t)ceil(want);
	}
	idx[k++] = d->n - 1;
	qsort(idx, k, sizeof(*idx), cmp_size);

	snprintf(name, sizeof(name), "latency-%s.dat", d->key);
	f = plot_open(p, name);
	if (f) {
		fprintf(f, "# evtchn-bench: %s, %zu samples pooled over the "
			   "runs\n# ns  fraction  -log10(1-fraction)\n",
			d->title, d->n);
		for (size_t j = 0; j < k; j++) {
			double frac = (idx[j] + 0.5) / (double)d->n;

			if (j && idx[j] == idx[j - 1])
				continue;
			fprintf(f, "%u %.7f %.4f\n", d->v[idx[j]], frac,
				-log10(1.0 - frac));
		}
	}
	plot_close(p, f);
	free(idx);
}

static void write_scaling(struct plot *p, const struct scaling *sc, int s)
{
	char name[128];
	FILE *f;

	snprintf(name, sizeof(name), "scaling-%s.dat", scale_info[s].key);
	f = plot_open(p, name);
	if (!f)
		return;
	fprintf(f, "# evtchn-bench: %s, %u events per thread; median (min "
		   "max)\n# threads  Mevents/s min max  scaling min max  "
		   "ideal_Mevents/s\n", scale_info[s].title, sc->events);
	for (unsigned t = 1; t <= sc->max_threads; t++) {
		const struct stat3 *m = &sc->mev_s[s][t - 1];
		const struct stat3 *x = &sc->scaling[s][t - 1];

		fprintf(f, "%u  %.3f %.3f %.3f  %.3f %.3f %.3f  %.3f\n", t,
			m->median, m->min, m->max, x->median, x->min, x->max,
			t * sc->mev_s[s][0].median);
	}
	plot_close(p, f);
}

static const char *const dist_style[D_NR] = {
	[D_TIMER] = "lc rgb '#808080' lw 1.5 dt 3",
	[D_SEND_LIB_2L] = "lc rgb '#1f77b4' lw 2",
	[D_SEND_RAW_2L] = "lc rgb '#1f77b4' lw 2 dt 2",
	[D_SEND_LIB_FIFO] = "lc rgb '#d62728' lw 2",
	[D_SEND_RAW_FIFO] = "lc rgb '#d62728' lw 2 dt 2",
	[D_RT_LIB] = "lc rgb '#1f77b4' lw 2",
	[D_RT_RAW] = "lc rgb '#ff7f0e' lw 2 dt 2",
};

static const char *const scale_style[SC_NR] = {
	[SC_LIB_2L] = "lc rgb '#1f77b4' lw 2 pt 7",
	[SC_LIB_2L_APART] = "lc rgb '#1f77b4' lw 1.5 dt 3 pt 6",
	[SC_RAW_2L] = "lc rgb '#1f77b4' lw 2 dt 2 pt 5",
	[SC_LIB_FIFO] = "lc rgb '#d62728' lw 2 pt 7",
	[SC_LIB_FIFO_APART] = "lc rgb '#d62728' lw 1.5 dt 3 pt 6",
	[SC_RAW_FIFO] = "lc rgb '#d62728' lw 2 dt 2 pt 5",
};

/* The distributions @ids (@n of them) side by side: the whole cumulative
 * distribution, and its tail from 90% up on the stretched axis. */
static void gp_latency(struct plot *p, const char *out, const char *title,
		       const char *xlabel, const struct dist *d,
		       const enum dist_id *ids, int n)
{
	FILE *gp = p->gp;

	fprintf(gp, "\nset output '%s%s'\n", p->stem, out);
	fprintf(gp, "set multiplot layout 1,2 title \"%s\"\n", title);
	fprintf(gp, "set logscale x\nset format x '%%.0s%%c'\n"
		    "set xlabel \"%s\"\n", xlabel);
	/* left: the whole distribution */
	fprintf(gp, "set title 'all samples'\n"
		    "set ylabel 'samples at or below'\n"
		    "set yrange [0:100]\nset ytics auto\n"
		    "set format y '%%g%%%%'\nunset key\nplot ");
	for (int i = 0; i < n; i++)
		fprintf(gp, "%s'%slatency-%s.dat' using 1:($2*100) with lines "
			    "%s", i ? ", \\\n     " : "", p->stem,
			d[ids[i]].key, dist_style[ids[i]]);
	/* right: the tail, with the key in room above its top left, which
	 * a cumulative distribution leaves empty; tic labels are formats,
	 * %%%% is a % sign */
	fprintf(gp, "\nset title 'the tail: 90%% and up'\n"
		    "set ylabel ''\nset yrange [1:*]\nset format y '%%g'\n"
		    "set ytics ('90%%%%' 1, '99%%%%' 2, '99.9%%%%' 3, "
		    "'99.99%%%%' 4, '99.999%%%%' 5, '99.9999%%%%' 6, "
		    "'99.99999%%%%' 7, '99.999999%%%%' 8, "
		    "'99.9999999%%%%' 9)\n"
		    "set offsets 0, 0, graph 0.3, 0\n"
		    "set key top left reverse Left opaque font ',10'\nplot ");
	for (int i = 0; i < n; i++)
		fprintf(gp, "%s'%slatency-%s.dat' using 1:3 with lines %s "
			    "title \"%s\"", i ? ", \\\n     " : "", p->stem,
			d[ids[i]].key, dist_style[ids[i]], d[ids[i]].title);
	fprintf(gp, "\nset offsets 0, 0, 0, 0");
	fprintf(gp, "\nunset multiplot\nunset logscale x\n"
		    "set format x '%%g'\nset format y '%%g'\n"
		    "set ytics auto\n");
}

static void gp_scaling(struct plot *p, const struct scaling *sc)
{
	FILE *gp = p->gp;
	const char *sep = "";

	fprintf(gp, "\nset output '%sscaling.svg'\n", p->stem);
	fprintf(gp, "set multiplot layout 1,2 title \"T threads, each "
		    "sending on its own vCPU's IPI port and consuming, %u "
		    "events each (%u CPUs)\"\n", sc->events, sc->cpus);
	fprintf(gp, "set xrange [0.8:%u.2]\nset xtics 1\n"
		    "set xlabel 'threads (one vCPU each)'\n", sc->max_threads);
	/* left: throughput, with T times the one-thread figure; the key of
	 * the series is the right panel's */
	fprintf(gp, "set title 'aggregate throughput'\n"
		    "set ylabel 'million events/s, all threads'\n"
		    "set yrange [0:*]\nset key top left\nplot ");
	for (int i = 0; i < SC_NR; i++) {
		const char *k = scale_info[i].key;

		fprintf(gp, "%s'%sscaling-%s.dat' using 1:2:3:4 with "
			    "yerrorlines %s notitle", sep, p->stem, k,
			scale_style[i]);
		sep = ", \\\n     ";
		/* the ideal from each one-thread figure (the apart series
		 * start where the others do) */
		if (!scale_info[i].apart)
			fprintf(gp, "%s'%sscaling-%s.dat' using 1:8 with lines "
				    "lc rgb '#808080' dt 4 %s", sep, p->stem,
				k, i ? "notitle" : "title 'T x one thread'");
	}
	/* right: scaling of every series and the ideal, with room above
	 * the ideal for the key */
	fprintf(gp, "\nset title 'scaling: throughput(T) / throughput(1)'\n"
		    "set ylabel 'scaling'\nset yrange [0:%u]\n"
		    "set key top left reverse Left opaque font ',10'\n"
		    "plot x with lines lc rgb '#000000' dt 2 title 'ideal'",
		sc->max_threads + 2);
	for (int s = 0; s < SC_NR; s++)
		fprintf(gp, ", \\\n     '%sscaling-%s.dat' using 1:5:6:7 with "
			    "yerrorlines %s title \"%s\"", p->stem,
			scale_info[s].key, scale_style[s], scale_info[s].title);
	fprintf(gp, "\nunset multiplot\n");
}

static void write_script(struct plot *p, const struct dist *d,
			 const struct scaling *sc)
{
	static const enum dist_id send[] = { D_SEND_LIB_2L, D_SEND_RAW_2L,
					     D_SEND_LIB_FIFO, D_SEND_RAW_FIFO,
					     D_TIMER };
	static const enum dist_id rt[] = { D_RT_LIB, D_RT_RAW };

	p->gp = plot_open(p, "plot.gp");
	if (!p->gp)
		return;
	fprintf(p->gp, "# evtchn-bench figures: run 'gnuplot %splot.gp' in "
		       "this directory.\n", p->stem);
	fprintf(p->gp, "set terminal svg size 1000,460 dynamic noenhanced "
		       "font 'Sans,12' background rgb 'white'\n"
		       "set grid\nset encoding utf8\n");
	gp_latency(p, "latency-send.svg",
		   "send + consume, one event, timed one by one "
		   "(each time includes one clock_gettime)",
		   "ns per event (log scale)", d, send,
		   sizeof(send) / sizeof(send[0]));
	gp_latency(p, "latency-roundtrip.svg",
		   "round trip guest -> backend -> guest, timed one by one",
		   "ns per round trip (log scale)", d, rt,
		   sizeof(rt) / sizeof(rt[0]));
	gp_scaling(p, sc);
	plot_close(p, p->gp);
}

/* gnuplot @script in @dir; 0, or -1 after saying why. */
static int run_gnuplot(const char *dir, const char *script)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("evtchn-bench: fork");
		return -1;
	}
	if (pid == 0) {
		if (chdir(dir))
			_exit(126);
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("evtchn-bench: waitpid");
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		fprintf(stderr, "evtchn-bench: gnuplot not found (Debian: "
				"apt-get install gnuplot-nox); the data files "
				"and %s/%s are written, the figures are not\n",
			dir, script);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "evtchn-bench: gnuplot %s failed in %s\n",
			script, dir);
		return -1;
	}
	return 0;
}

/* "DIR/" or an existing directory: files in it; else "DIR/stem". */
static int plot_paths(struct plot *p, const char *prefix)
{
	size_t len = strlen(prefix);
	struct stat st;
	char *copy;

	if (!len || len >= sizeof(p->dir)) {
		fprintf(stderr, "evtchn-bench: --plot: bad prefix\n");
		return -1;
	}
	if (prefix[len - 1] == '/' ||
	    (stat(prefix, &st) == 0 && S_ISDIR(st.st_mode))) {
		snprintf(p->dir, sizeof(p->dir), "%s", prefix);
		while (len > 1 && p->dir[len - 1] == '/')
			p->dir[--len] = 0;
		p->stem = "";
		if (mkdir(p->dir, 0777) && errno != EEXIST) {
			fprintf(stderr, "evtchn-bench: %s: %s\n", p->dir,
				strerror(errno));
			return -1;
		}
		return 0;
	}
	copy = strdup(prefix);
	if (!copy)
		return -1;
	snprintf(p->dir, sizeof(p->dir), "%s", dirname(copy));
	free(copy);
	p->stem = strrchr(prefix, '/') ? strrchr(prefix, '/') + 1 : prefix;
	return 0;
}

int plot_write(const char *prefix, const struct dist *d,
	       const struct scaling *sc)
{
	struct plot p = { 0 };
	char script[4200];

	if (plot_paths(&p, prefix))
		return -1;
	for (int i = 0; i < D_NR; i++)
		write_dist(&p, &d[i]);
	for (int s = 0; s < SC_NR; s++)
		write_scaling(&p, sc, s);
	write_script(&p, d, sc);
	if (p.failed)
		return -1;
	snprintf(script, sizeof(script), "%splot.gp", p.stem);
	if (run_gnuplot(p.dir, script))
		return -1;
	fprintf(stderr, "evtchn-bench: figures %s/%slatency-send.svg, "
			"%slatency-roundtrip.svg, %sscaling.svg\n",
		p.dir, p.stem, p.stem, p.stem);
	return 0;
}
