/* SPDX-License-Identifier: MIT */
/*
 * Runner main, shared by both back ends:
 *   RUNNER SCENARIO...                 print results
 *   RUNNER --expect DIR SCENARIO...    compare with DIR/<name>.out
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"

int oracle_main(int argc, char **argv, const struct oracle_backend *be);

static char *scenario_name(const char *path)
{
	char *copy = strdup(path), *base = basename(copy), *dot;
	char *name;

	dot = strrchr(base, '.');
	if (dot)
		*dot = 0;
	name = strdup(base);
	free(copy);
	return name;
}

/* Print the first differing line of @got against @want. */
static int compare(const char *name, const char *got, const char *want)
{
	int line = 1;

	while (*got && *want && *got == *want) {
		if (*got == '\n')
			line++;
		got++;
		want++;
	}
	if (!*got && !*want)
		return 0;
	while (line > 1 && got[-1] != '\n') {
		got--;
		want--;
	}
	fprintf(stderr, "%s: line %d differs\n  xen:       %.*s\n  libevtchn: %.*s\n",
		name, line, (int)strcspn(want, "\n"), want,
		(int)strcspn(got, "\n"), got);
	return 1;
}

int oracle_main(int argc, char **argv, const struct oracle_backend *be)
{
	const char *expect = NULL;
	int i = 1, failed = 0, total = 0;

	if (argc > 2 && !strcmp(argv[1], "--expect")) {
		expect = argv[2];
		i = 3;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: %s [--expect DIR] SCENARIO...\n", argv[0]);
		return 2;
	}
	for (; i < argc; i++) {
		char *text = oracle_slurp(argv[i]), *name = scenario_name(argv[i]);
		char *got = NULL, *want = NULL, path[4096];
		size_t gotlen = 0;
		FILE *out = expect ? open_memstream(&got, &gotlen) : stdout;
		int rc;

		total++;
		if (!text || !out) {
			fprintf(stderr, "%s: cannot read\n", argv[i]);
			return 2;
		}
		rc = oracle_run(be, name, text, out);
		if (expect) {
			fclose(out);
			snprintf(path, sizeof(path), "%s/%s.out", expect, name);
			want = oracle_slurp(path);
			if (!want) {
				fprintf(stderr, "%s: no expected output %s\n",
					name, path);
				failed++;
			} else if (rc || compare(name, got, want)) {
				failed++;
			}
			free(got);
			free(want);
		} else if (rc) {
			failed++;
		}
		free(text);
		free(name);
	}
	if (expect)
		printf("%s: %d scenarios, %d differ from Xen\n", be->name, total,
		       failed);
	return failed ? 1 : 0;
}
