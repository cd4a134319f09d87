/* SPDX-License-Identifier: MIT */
/*
 * The fuzzers' committed corpora (tests/corpus/), replayed in the ordinary
 * suite: every input of tests/corpus/hypercall/ through the hypercall fuzz
 * core (fuzz_core.c, the Xen model and its checks) and every input of
 * tests/corpus/restore/ through the snapshot fuzz core (fuzz_restore.c),
 * in name order, in one process as libFuzzer runs them.  What the
 * campaigns found stays found without clang: an input that broke the
 * library once aborts here if it breaks it again.
 *
 * EVTCHN_FUZZ_CORPUS names the corpus directory (meson sets it).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fuzz_core.h"
#include "fuzz_restore.h"

static int regular(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Read @path whole into *@buf; its size. */
static size_t slurp(const char *path, uint8_t **buf)
{
	FILE *fp = fopen(path, "rb");
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	/* (one byte more: malloc(0) may be NULL) */
	*buf = malloc((size_t)n + 1);
	assert_non_null(*buf);
	assert_int_equal(fread(*buf, 1, (size_t)n, fp), (size_t)n);
	assert_int_equal(fclose(fp), 0);
	return (size_t)n;
}

/* Every file of $EVTCHN_FUZZ_CORPUS/@sub through @one; how many. */
static unsigned replay(const char *sub,
		       int (*one)(const uint8_t *data, size_t size))
{
	const char *root = getenv("EVTCHN_FUZZ_CORPUS");
	struct dirent **names;
	char dir[4096], path[4096 + 256];
	int n;

	assert_non_null(root);
	snprintf(dir, sizeof(dir), "%s/%s", root, sub);
	n = scandir(dir, &names, regular, alphasort);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		uint8_t *buf;
		size_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		len = slurp(path, &buf);
		assert_int_equal(one(buf, len), 0);
		free(buf);
		free(names[i]);
	}
	free(names);
	return (unsigned)n;
}

static void hypercall_corpus(void **state)
{
	unsigned n;

	(void)state;
	n = replay("hypercall", evtchn_fuzz_one);
	evtchn_fuzz_fini();
	print_message("hypercall corpus: %u inputs\n", n);
}

static void restore_corpus(void **state)
{
	unsigned long acc, ref;
	unsigned n;

	(void)state;
	n = replay("restore", evtchn_fuzz_restore_one);
	evtchn_fuzz_restore_counts(&acc, &ref);
	print_message("restore corpus: %u images, %lu accepted, %lu "
		      "refused\n", n, acc, ref);
	assert_true(acc > 0 && ref > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hypercall_corpus),
		cmocka_unit_test(restore_corpus),
	};

	return cmocka_run_group_tests_name("fuzz-corpus", tests, NULL, NULL);
}
