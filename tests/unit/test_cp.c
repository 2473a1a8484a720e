/* Unit tests of cloudx-proxy cp's pure pieces (cmd/cloudx-proxy/cp_plan.c):
 * the range arithmetic (sizes 0, 1, unaligned, over 4 GiB and near 2^64),
 * the ranges record, operands, and the quoting of remote commands. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cloudx-proxy/cp.h"
#include "core/buf.h"
#include "core/cxerr.h"

#define MiB (1024ULL * 1024ULL)

/* the ranges cover [0, size) exactly, in order, aligned, none empty */
static void
check_cover(const struct cx_cp_range *g, int n, uint64_t size, uint64_t align)
{
	uint64_t at = 0;
	int i;

	for (i = 0; i < n; i++) {
		assert_int_equal(g[i].off, at);
		assert_true(g[i].off % align == 0);
		assert_true(g[i].end > g[i].off);
		assert_int_equal(g[i].done, 0);
		at = g[i].end;
	}
	assert_int_equal(at, size);
}

static void
test_split(void **state)
{
	struct cx_cp_range g[CX_CP_MAX_RANGES];
	int n;

	(void)state;
	assert_int_equal(cx_cp_split(0, 8, MiB, g, CX_CP_MAX_RANGES, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cx_cp_split(1, 8, MiB, g, CX_CP_MAX_RANGES, &n), 0);
	assert_int_equal(n, 1);
	check_cover(g, n, 1, MiB);
	/* 64 MiB + 12345 over 8: 65 blocks -> 9,8,8,...: all aligned */
	assert_int_equal(cx_cp_split(64 * MiB + 12345, 8, MiB, g,
	    CX_CP_MAX_RANGES, &n), 0);
	assert_int_equal(n, 8);
	check_cover(g, n, 64 * MiB + 12345, MiB);
	assert_int_equal(g[0].end, 9 * MiB);
	assert_int_equal(g[1].end - g[1].off, 8 * MiB);
	/* 3 MiB over 8: only 3 ranges (one block each) */
	assert_int_equal(cx_cp_split(3 * MiB, 8, MiB, g, CX_CP_MAX_RANGES, &n), 0);
	assert_int_equal(n, 3);
	check_cover(g, n, 3 * MiB, MiB);
	/* over 4 GiB: 64-bit offsets */
	assert_int_equal(cx_cp_split(5ULL * 1024 * MiB + 1, 8, MiB, g,
	    CX_CP_MAX_RANGES, &n), 0);
	assert_int_equal(n, 8);
	check_cover(g, n, 5ULL * 1024 * MiB + 1, MiB);
	assert_true(g[7].off > UINT32_MAX);
	/* near the top of uint64_t: no overflow */
	assert_int_equal(cx_cp_split(UINT64_MAX - 5, 32, MiB, g,
	    CX_CP_MAX_RANGES, &n), 0);
	assert_int_equal(n, 32);
	check_cover(g, n, UINT64_MAX - 5, MiB);
	/* -j 1: one range */
	assert_int_equal(cx_cp_split(10 * MiB, 1, MiB, g, CX_CP_MAX_RANGES, &n), 0);
	assert_int_equal(n, 1);
	check_cover(g, n, 10 * MiB, MiB);
	/* max caps n */
	assert_int_equal(cx_cp_split(100 * MiB, 8, MiB, g, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cx_cp_split(10, 0, MiB, g, 2, &n), CX_ERR_INTERNAL);
}

static void
test_record(void **state)
{
	struct cx_cp_record a, b;
	struct cx_buf buf;
	const char *bad[] = {
		"",
		"cloudx-proxy-cp 2\nsize 1\nmtime 0\nranges 0\n",
		"cloudx-proxy-cp 1\nsize 10\nmtime 0\nranges 1\n0 11 0\n",
		"cloudx-proxy-cp 1\nsize 10\nmtime 0\nranges 1\n0 10 11\n",
		"cloudx-proxy-cp 1\nsize 10\nmtime 0\nranges 2\n0 6 0\n5 10 0\n",
		"cloudx-proxy-cp 1\nsize 10\nmtime 0\nranges 2\n0 6 0\n",
		"cloudx-proxy-cp 1\nsize 10\nmtime 0\nranges 1\n0 10 0\nx",
		"cloudx-proxy-cp 1\nsize 99999999999999999999\nmtime 0\nranges 0\n",
		"cloudx-proxy-cp 1\nsize 10\nmtime -1\nranges 0\n",
		"cloudx-proxy-cp 1\nsize 10\nmtime 0\nranges 33\n",
	};
	size_t i;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.size = 5ULL * 1024 * MiB + 3;
	a.mtime = 1600000000;
	assert_int_equal(cx_cp_split(a.size, 8, MiB, a.r, CX_CP_MAX_RANGES,
	    &a.count), 0);
	a.r[3].done = 12345;
	a.r[7].done = a.r[7].end - a.r[7].off;
	cx_buf_init(&buf, 0);
	assert_int_equal(cx_cp_record_format(&a, &buf), 0);
	assert_int_equal(cx_cp_record_parse(cx_buf_str(&buf), buf.len, &b), 0);
	assert_int_equal(b.size, a.size);
	assert_int_equal(b.mtime, a.mtime);
	assert_int_equal(b.count, 8);
	assert_memory_equal(b.r, a.r, sizeof(a.r[0]) * 8);
	cx_buf_clean_up(&buf);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cx_cp_record_parse(bad[i], strlen(bad[i]), &b),
		    CX_ERR_INPUT);
}

static void
test_operand(void **state)
{
	char *h, *p;

	(void)state;
	assert_int_equal(cx_cp_parse_operand("box:a/b", &h, &p), 0);
	assert_string_equal(h, "box");
	assert_string_equal(p, "a/b");
	free(h); free(p);
	assert_int_equal(cx_cp_parse_operand("box:", &h, &p), 0);
	assert_string_equal(p, ".");
	free(h); free(p);
	assert_int_equal(cx_cp_parse_operand("box:~/x", &h, &p), 0);
	assert_string_equal(p, "x");
	free(h); free(p);
	assert_int_equal(cx_cp_parse_operand("./a:b", &h, &p), 0);
	assert_null(h);
	assert_string_equal(p, "./a:b");
	free(p);
	assert_int_equal(cx_cp_parse_operand("/x/a:b", &h, &p), 0);
	assert_null(h);
	free(p);
	assert_int_equal(cx_cp_parse_operand("-oProxyCommand=x:y", &h, &p),
	    CX_ERR_USAGE);
	assert_int_equal(cx_cp_parse_operand("a b:y", &h, &p), CX_ERR_USAGE);
	assert_int_equal(cx_cp_parse_operand("", &h, &p), CX_ERR_USAGE);
	assert_int_equal(cx_cp_basename("a/b/", &p), 0);
	assert_string_equal(p, "b");
	free(p);
	assert_int_equal(cx_cp_basename("c", &p), 0);
	assert_string_equal(p, "c");
	free(p);
}

static void
test_quote(void **state)
{
	struct cx_buf b;
	uint64_t size;
	unsigned mode;
	int64_t mtime;
	int dir;

	(void)state;
	cx_buf_init(&b, 0);
	assert_int_equal(cx_cp_shquote("it's $x\n-", &b), 0);
	assert_string_equal(cx_buf_str(&b), "'it'\\''s $x\n-'");
	cx_buf_reset(&b);
	assert_int_equal(cx_cp_shquote("", &b), 0);
	assert_string_equal(cx_buf_str(&b), "''");
	cx_buf_reset(&b);
	assert_int_equal(cx_cp_cmd_read_range("-a'b", 5ULL * 1024 * MiB,
	    5ULL * 1024 * MiB + 10, &b), 0);
	assert_string_equal(cx_buf_str(&b),
	    "tail -c +5368709121 < '-a'\\''b' | head -c 10");
	cx_buf_reset(&b);
	assert_int_equal(cx_cp_cmd_write_range("-p'", 4096ULL * MiB,
	    4099ULL * MiB + 5, &b), 0);
	assert_non_null(strstr(cx_buf_str(&b), "q='-p'\\'''; "
	    "r=\"$q.ranges\"; o=4294967296; e=4298113029; while "));
	assert_non_null(strstr(cx_buf_str(&b), "dd of=\"$q\" bs=1048576 "
	    "seek=$((o / 1048576)) conv=notrunc"));
	assert_non_null(strstr(cx_buf_str(&b), "read -r x && [ \"$x\" = k ] "
	    "|| exit 1; echo \"$o $((o + n))\" >> \"$r\""));
	cx_buf_reset(&b);
	assert_int_equal(cx_cp_cmd_write_range("p", 3, 5, &b), CX_ERR_INTERNAL);
	assert_int_equal(cx_cp_cmd_write_range("p", MiB, MiB, &b),
	    CX_ERR_INTERNAL);
	cx_buf_clean_up(&b);

	assert_int_equal(cx_cp_parse_stat("5368709121 640 1600000000 regular file",
	    &size, &mode, &mtime, &dir), 0);
	assert_int_equal(size, 5368709121ULL);
	assert_int_equal(mode, 0640);
	assert_int_equal(mtime, 1600000000);
	assert_false(dir);
	assert_int_equal(cx_cp_parse_stat("4096 755 1 directory", &size, &mode,
	    &mtime, &dir), 0);
	assert_true(dir);
	assert_int_equal(cx_cp_parse_stat("0 644 1 regular empty file", &size,
	    &mode, &mtime, &dir), 0);
	assert_int_equal(cx_cp_parse_stat("1 999 1 regular file", &size, &mode,
	    &mtime, &dir), CX_ERR_INPUT);
	assert_int_equal(cx_cp_parse_stat("1 644 1 symbolic link", &size, &mode,
	    &mtime, &dir), CX_ERR_INPUT);
	assert_int_equal(cx_cp_parse_stat("x 644 1 regular file", &size, &mode,
	    &mtime, &dir), CX_ERR_INPUT);
}

/* the steps an upload's record holds, turned into what is missing */
static void
test_upload_missing(void **state)
{
	struct cx_cp_range *m = NULL, *v = NULL;
	uint64_t have, big = 4096ULL * MiB + 3 * MiB + 5;
	int n, k, i;
	const char *rec;

	(void)state;
	/* nothing recorded: the whole file */
	assert_int_equal(cx_cp_upload_missing("", 0, 10, &m, &n, &have), 0);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].off, 0);
	assert_int_equal(m[0].end, 10);
	assert_int_equal(have, 0);
	free(m);
	/* out of order, a hole, the end; a last line cut by a kill */
	rec = "8388608 12582912\n0 4194304\n12582912 13000000\n419";
	assert_int_equal(cx_cp_upload_missing(rec, strlen(rec), 13000000, &m,
	    &n, &have), 0);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].off, 4194304);
	assert_int_equal(m[0].end, 8388608);
	assert_int_equal(have, 4194304 + 4194304 + 417088);
	free(m);
	rec = "0 4194304\n";
	assert_int_equal(cx_cp_upload_missing(rec, strlen(rec), 20000000, &m,
	    &n, &have), 0);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].off, 4194304);
	assert_int_equal(m[0].end, 20000000);
	free(m);
	/* everything there */
	rec = "0 10\n";
	assert_int_equal(cx_cp_upload_missing(rec, strlen(rec), 10, &m, &n,
	    &have), 0);
	assert_int_equal(n, 0);
	assert_null(m);
	assert_int_equal(have, 10);
	/* past 4 GiB: all below it there */
	rec = "0 4294967296\n";
	assert_int_equal(cx_cp_upload_missing(rec, strlen(rec), big, &m, &n,
	    &have), 0);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].off, 4096ULL * MiB);
	assert_int_equal(m[0].end, big);
	/* spread over 4: aligned pieces, in order, covering it exactly */
	assert_int_equal(cx_cp_spread(m, n, 4, &v, &k), 0);
	assert_int_equal(k, 4);
	assert_int_equal(v[0].off, 4096ULL * MiB);
	for (i = 0; i < k; i++) {
		assert_int_equal(v[i].off % MiB, 0);
		assert_true(v[i].end > v[i].off);
		if (i > 0)
			assert_int_equal(v[i].off, v[i - 1].end);
	}
	assert_int_equal(v[k - 1].end, big);
	free(v);
	free(m);
	/* malformed: unaligned start, past size, an end inside a MiB, junk */
	rec = "5 10\n";
	assert_int_equal(cx_cp_upload_missing(rec, strlen(rec), 10, &m, &n,
	    &have), CX_ERR_INPUT);
	rec = "0 11\n";
	assert_int_equal(cx_cp_upload_missing(rec, strlen(rec), 10, &m, &n,
	    &have), CX_ERR_INPUT);
	rec = "0 1048577\n";
	assert_int_equal(cx_cp_upload_missing(rec, strlen(rec), 4 * MiB, &m,
	    &n, &have), CX_ERR_INPUT);
	rec = "0 x\n";
	assert_int_equal(cx_cp_upload_missing(rec, strlen(rec), 10, &m, &n,
	    &have), CX_ERR_INPUT);
	assert_null(m);
	/* spread: two holes over 8 connections, in proportion */
	{
		struct cx_cp_range two[2] = { { 0, 64 * MiB, 0 },
		    { 100 * MiB, 101 * MiB, 0 } };
		assert_int_equal(cx_cp_spread(two, 2, 8, &v, &k), 0);
		assert_int_equal(k, 9);
		assert_int_equal(v[8].off, 100 * MiB);
		assert_int_equal(v[8].end, 101 * MiB);
		free(v);
		assert_int_equal(cx_cp_spread(two, 0, 8, &v, &k), 0);
		assert_int_equal(k, 0);
		assert_null(v);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_operand),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_upload_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
