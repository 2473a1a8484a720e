/*
 * Unit tests for lib/ssh/sshconf: a property test (random ssh_config files from
 * a seeded generator come back byte for byte; edits for a prefix the file
 * does not use only add lines), and small checks of the tokeniser, the
 * connect defaults, the ProxyCommand and the diff.
 *
 * CX_PROP_SEED and CX_PROP_N override the seed (default 1) and the number
 * of random files (default 3000).
 */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "ec2/instance.h"
#include "ssh/sshconf.h"
#include "ssh/sshconf_int.h"

static uint64_t rng_state;

static uint32_t
rnd(uint32_t n)
{
	/* xorshift64*: reproducible from the seed on every platform */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 33) % n;
}

static const char *
pick(const char *const *v, size_t n)
{
	return v[rnd((uint32_t)n)];
}
#define PICK(v) pick((v), sizeof(v) / sizeof((v)[0]))

static const char *const indents[] = { "", "", "  ", "    ", "\t", " \t" };
static const char *const seps[] = { " ", " ", "\t", "=", " = ", "  ", "= " };
static const char *const eols[] = { "\n", "\n", "\n", "\r\n" };
static const char *const kws[] = {
	"Host", "host", "HOST", "Match", "match", "User", "IdentityFile",
	"identityfile", "ProxyCommand", "Include", "HostName", "ControlPath",
	"ControlMaster", "IdentityAgent", "ServerAliveInterval", "ProxyJump"
};
static const char *const words[] = {
	"cloudx-*", "cloudx-dev-*", "cloudx-dev-web", "cloudx-my-env-*",
	"cloudx-my-env-a-b", "cloudX-Prod-*", "*", "github.com", "all",
	"exec", "\"test -f /x\"", "'single q'", "\"a b\"", "a\\ b", "~/.ssh/k",
	"%h", "%p", "connect", "uvx", "cloudx-proxy", "i-0123456789abcdef0",
	"yes", "auto", "/opt/x y/z", "\"\"", "host", "*.corp", "!bad",
	"caf\xc3\xa9", "a=b", "#"
};
static const char *const comments[] = {
	"#", "# comment", "## x", "#  GLOBAL", "# =====", "#\tControlMaster auto",
	"# ControlPath ~/.ssh/control/%r@%h:%p", "# caf\xc3\xa9 \xe2\x9c\x93",
	"#Host cloudx-*", "# Created by cloudX-proxy v0.4.4"
};

static void
gen_line(struct cx_buf *b)
{
	int kind = (int)rnd(10), i, n;

	assert_int_equal(cx_buf_puts(b, PICK(indents)), 0);
	if (kind == 0) {
		/* blank, maybe with blanks */
		if (rnd(2))
			assert_int_equal(cx_buf_puts(b, PICK(indents)), 0);
	} else if (kind <= 2) {
		assert_int_equal(cx_buf_puts(b, PICK(comments)), 0);
	} else {
		assert_int_equal(cx_buf_puts(b, PICK(kws)), 0);
		assert_int_equal(cx_buf_puts(b, PICK(seps)), 0);
		n = (int)rnd(4);
		for (i = 0; i < n; i++) {
			if (i > 0)
				assert_int_equal(cx_buf_puts(b,
				    rnd(3) ? " " : "\t"), 0);
			assert_int_equal(cx_buf_puts(b, PICK(words)), 0);
		}
		if (rnd(6) == 0)
			assert_int_equal(cx_buf_puts(b, " # inline"), 0);
	}
	if (rnd(8) == 0)
		assert_int_equal(cx_buf_puts(b, rnd(2) ? "  " : "\t"), 0);
}

static void
gen_file(struct cx_buf *b)
{
	int n = (int)rnd(40), i;

	for (i = 0; i < n; i++) {
		gen_line(b);
		if (i + 1 < n || rnd(3) != 0)
			assert_int_equal(cx_buf_puts(b, PICK(eols)), 0);
	}
}

static void
seed_rng(void)
{
	const char *s = getenv("CX_PROP_SEED");

	rng_state = 0x9e3779b97f4a7c15ULL ^ (s ? strtoull(s, NULL, 10) : 1);
	if (rng_state == 0)
		rng_state = 1;
}

static int
prop_n(void)
{
	const char *s = getenv("CX_PROP_N");

	return s ? atoi(s) : 3000;	/* test code: atoi is fine here */
}

/* Property: parse + render with no edit is the identity. */
static void
test_roundtrip(void **state)
{
	struct cx_buf in, out;
	struct cx_sshconf *m;
	struct cx_sshconf_listing *l;
	int i, n = prop_n();

	(void)state;
	seed_rng();
	for (i = 0; i < n; i++) {
		cx_buf_init(&in, 0);
		cx_buf_init(&out, 0);
		gen_file(&in);
		assert_int_equal(cx_sshconf_parse(in.data ? in.data :
		    (unsigned char *)"", in.len, "cloudx", 0, &m), 0);
		/* a query must not change anything either */
		assert_int_equal(cx_sshconf_list(m, NULL, &l), 0);
		cx_sshconf_listing_free(l);
		assert_int_equal(cx_sshconf_render(m, &out), 0);
		if (out.len != in.len || (in.len > 0 &&
		    memcmp(out.data, in.data, in.len) != 0)) {
			fprintf(stderr, "# round trip failed on file %d:\n%s\n",
			    i, cx_buf_str(&in));
			fail();
		}
		assert_int_equal(cx_sshconf_changed(m), 0);
		cx_sshconf_free(m);
		cx_buf_clean_up(&in);
		cx_buf_clean_up(&out);
	}
}

/* Property on a corpus: every golden file of tests/fixtures/sshconf
 * (run from the top of the tree, as tests/run-all does) round-trips. */
static void
test_corpus_roundtrip(void **state)
{
	glob_t g;
	struct cx_buf in, out;
	struct cx_sshconf *m;
	size_t i;

	(void)state;
	if (glob("tests/fixtures/sshconf/*/*input", 0, NULL, &g) != 0 ||
	    glob("tests/fixtures/sshconf/*/expected", GLOB_APPEND, NULL,
	    &g) != 0) {
		globfree(&g);
		skip();
	}
	assert_true(g.gl_pathc > 20);
	for (i = 0; i < g.gl_pathc; i++) {
		cx_buf_init(&in, 0);
		cx_buf_init(&out, 0);
		assert_int_equal(cx_read_file(g.gl_pathv[i], 1 << 20, &in), 0);
		assert_int_equal(cx_sshconf_parse(in.data, in.len, "cloudx", 0,
		    &m), 0);
		assert_int_equal(cx_sshconf_render(m, &out), 0);
		assert_int_equal(out.len, in.len);
		assert_memory_equal(out.data, in.data, in.len);
		cx_sshconf_free(m);
		cx_buf_clean_up(&in);
		cx_buf_clean_up(&out);
	}
	globfree(&g);
}

/* The lines of s (each with its line end). */
static size_t
split(const char *s, size_t len, const char **starts, size_t *lens,
    size_t max)
{
	size_t i = 0, k, n = 0;

	while (i < len && n < max) {
		for (k = i; k < len && s[k] != '\n'; k++)
			;
		if (k < len)
			k++;
		starts[n] = s + i;
		lens[n++] = k - i;
		i = k;
	}
	return n;
}

/* Property: edits for a prefix the file does not use keep every line of
 * the file, in order (the last one may gain a line end). */
static void
test_edits_only_add(void **state)
{
	static const char *as[512], *bs[1024];
	static size_t al[512], bl[1024];
	struct cx_sshconf_env_opts o = {
		.proxy_path = "/opt/cx/cloudx-proxy", .ssh_dir = "/h/.ssh/cloudX",
		.ssh_key = "k", .home = "/h"
	};
	struct cx_buf in, out;
	struct cx_sshconf *m;
	size_t na, nb, i, j;
	int f, n = prop_n() / 3;

	(void)state;
	seed_rng();
	for (f = 0; f < n; f++) {
		cx_buf_init(&in, 0);
		cx_buf_init(&out, 0);
		gen_file(&in);
		assert_int_equal(cx_sshconf_parse(in.data ? in.data :
		    (unsigned char *)"", in.len, "zz", f % 2 ?
		    CX_SSHCONF_WINDOWS : 0, &m), 0);
		assert_int_equal(cx_sshconf_set_env(m, "dev", &o), 0);
		assert_int_equal(cx_sshconf_set_host(m, "dev", "web",
		    "i-0123456789abcdef0", NULL), 0);
		assert_int_equal(cx_sshconf_set_env(m, "my-env", &o), 0);
		assert_int_equal(cx_sshconf_render(m, &out), 0);
		na = split((const char *)in.data, in.len, as, al, 512);
		nb = split((const char *)out.data, out.len, bs, bl, 1024);
		for (i = 0, j = 0; i < na && j < nb; j++) {
			size_t cl = al[i];

			if (bl[j] >= cl && memcmp(bs[j], as[i], cl) == 0 &&
			    (bl[j] == cl || (i == na - 1 &&
			    as[i][cl - 1] != '\n')))
				i++;
		}
		if (i != na) {
			fprintf(stderr, "# line %zu lost on file %d:\n%s\n"
			    "# became:\n%s\n", i, f, cx_buf_str(&in),
			    cx_buf_str(&out));
			fail();
		}
		/* and the result is stable: the same edits change nothing */
		cx_sshconf_free(m);
		assert_int_equal(cx_sshconf_parse(out.data, out.len, "zz",
		    f % 2 ? CX_SSHCONF_WINDOWS : 0, &m), 0);
		assert_int_equal(cx_sshconf_set_env(m, "dev", &o), 0);
		assert_int_equal(cx_sshconf_set_host(m, "dev", "web",
		    "i-0123456789abcdef0", NULL), 0);
		assert_int_equal(cx_sshconf_set_env(m, "my-env", &o), 0);
		assert_int_equal(cx_sshconf_changed(m), 0);
		cx_sshconf_free(m);
		cx_buf_clean_up(&in);
		cx_buf_clean_up(&out);
	}
}

static void
test_split(void **state)
{
	char **av;
	char *c;
	int ac;
	const char *s = "a \"b c\" 'd e' f\\ g \"h\\\"i\" # rest";

	(void)state;
	assert_int_equal(sc_split(s, strlen(s), &av, &ac, &c), 0);
	assert_int_equal(ac, 5);
	assert_string_equal(av[0], "a");
	assert_string_equal(av[1], "b c");
	assert_string_equal(av[2], "d e");
	assert_string_equal(av[3], "f g");
	assert_string_equal(av[4], "h\"i");
	assert_string_equal(c, "# rest");
	sc_argv_free(av);
	free(c);
}

static void
test_names(void **state)
{
	(void)state;
	assert_true(cx_sshconf_valid_name("my-Env_1.x"));
	assert_false(cx_sshconf_valid_name(""));
	assert_false(cx_sshconf_valid_name("a b"));
	assert_false(cx_sshconf_valid_name("a#b"));
	assert_false(cx_sshconf_valid_name("a\"b"));
	assert_false(cx_sshconf_valid_name("a\nb"));
	assert_false(cx_sshconf_valid_name("a*"));
	assert_true(cx_sshconf_valid_path("/x/my keys/k"));
	assert_false(cx_sshconf_valid_path("/x/\"k"));
	assert_false(cx_sshconf_valid_path("/x/%h"));
	assert_true(cx_instance_id_valid("i-0123abcd"));
	assert_true(cx_instance_id_valid("i-0123456789abcdef0"));
	assert_false(cx_instance_id_valid("i-0123456789abcdef"));
	assert_string_equal(cx_sshconf_prefix_for_argv0("/usr/bin/cloudX-proxy"),
	    "cloudX");
	assert_string_equal(cx_sshconf_prefix_for_argv0("cloudX-proxy.exe"),
	    "cloudx");
	assert_string_equal(cx_sshconf_prefix_for_argv0("cloudx-proxy"),
	    "cloudx");
}

static void
test_proxy_command(void **state)
{
	struct cx_sshconf_env_opts o = {
		.proxy_path = "/opt/my dir/cloudx-proxy",
		.ssh_dir = "/nonexistent-home/.ssh/cloudX", .ssh_key = "cloudX",
		.profile = "cloudX", .home = "/nonexistent-home"
	};
	char *pc;

	(void)state;
	assert_int_equal(cx_sshconf_proxy_command(&o, &pc), 0);
	assert_string_equal(pc,
	    "\"/opt/my dir/cloudx-proxy\" connect %h %p --os-user %r");
	free(pc);
	/* the vscode dir brings the vscode key/profile defaults along */
	o.ssh_dir = "/nonexistent-home/.ssh/vscode";
	o.ssh_key = "vscode";
	o.profile = "vscode";
	o.region = "eu-west-1";
	o.aws_env = "acme";
	assert_int_equal(cx_sshconf_proxy_command(&o, &pc), 0);
	assert_string_equal(pc, "\"/opt/my dir/cloudx-proxy\" connect %h %p "
	    "--os-user %r --ssh-dir /nonexistent-home/.ssh/vscode --aws-env acme "
	    "--region eu-west-1");
	free(pc);
	o.ssh_key = "k";
	o.profile = "p";
	assert_int_equal(cx_sshconf_proxy_command(&o, &pc), 0);
	assert_string_equal(pc, "\"/opt/my dir/cloudx-proxy\" connect %h %p "
	    "--os-user %r --profile p --ssh-key k --ssh-dir /nonexistent-home/.ssh/vscode "
	    "--aws-env acme --region eu-west-1");
	free(pc);
	o.profile = "bad name";
	assert_int_equal(cx_sshconf_proxy_command(&o, &pc), CX_ERR_INPUT);
}

/*
 * A command line split as the Microsoft C runtime splits it (its
 * documented rules: 2n backslashes then '"' give n backslashes and a
 * quote boundary, 2n+1 give n and a literal '"', other backslashes are
 * literal; blanks outside quotes separate), after ssh's "%%" -> "%".
 * Written from the rules, apart from lib/ssh: argv[i] into out[i].
 */
static int
ms_split(const char *cmd, char out[][256], int max)
{
	char line[1024], *d = line, *a;
	const char *s;
	int n = 0, q;
	size_t bs;

	for (s = cmd; *s != '\0'; s++) {
		*d++ = *s;
		if (s[0] == '%' && s[1] == '%')
			s++;
	}
	*d = '\0';
	for (s = line; n < max;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		a = out[n++];
		for (q = 0; *s != '\0' && (q || (*s != ' ' && *s != '\t'));) {
			for (bs = 0; *s == '\\'; s++)
				bs++;
			if (*s == '"') {
				for (; bs >= 2; bs -= 2)
					*a++ = '\\';
				if (bs == 1)
					*a++ = '"';
				else
					q = !q;
				s++;
			} else {
				while (bs-- > 0)
					*a++ = '\\';
				if (*s != '\0' && (q || (*s != ' ' && *s != '\t')))
					*a++ = *s++;
			}
		}
		*a = '\0';
	}
	return n;
}

static void
test_proxy_command_windows(void **state)
{
	struct cx_sshconf_env_opts o = {
		.proxy_path = "C:/Program Files/cloudx proxy/cloudx-proxy.exe",
		.ssh_dir = "C:/Users/Zoë Brien/.ssh/cloudX",
		.ssh_key = "cloudX", .profile = "cloudX",
		.home = "C:/Users/Zoë Brien", .windows = 1
	};
	char *pc, av[16][256];
	int n;

	(void)state;
	/* the program always quoted, with backslashes (Windows OpenSSH
	 * passes a command starting with '"' to CreateProcessW as it is) */
	assert_int_equal(cx_sshconf_proxy_command(&o, &pc), 0);
	assert_string_equal(pc, "\"C:\\Program Files\\cloudx proxy\\"
	    "cloudx-proxy.exe\" connect %h %p --os-user %r");
	free(pc);
	o.proxy_path = "C:/tools/cloudx-proxy.exe";
	assert_int_equal(cx_sshconf_proxy_command(&o, &pc), 0);
	assert_string_equal(pc, "\"C:\\tools\\cloudx-proxy.exe\" connect "
	    "%h %p --os-user %r");
	free(pc);
	/* arguments by the C runtime's rules: a folder with blanks and
	 * letters beyond ASCII; what no path may hold (quotes, '%', '\',
	 * cx_ssh_path_valid) refused before anything is written */
	o.ssh_dir = "C:/Users/Zoë Brien/my keys";
	o.home = "C:/Users/Zoë Brien";
	o.region = "eu-west-1";
	assert_int_equal(cx_sshconf_proxy_command(&o, &pc), 0);
	assert_string_equal(pc, "\"C:\\tools\\cloudx-proxy.exe\" connect "
	    "%h %p --os-user %r --ssh-dir \"C:/Users/Zoë Brien/my keys\" "
	    "--region eu-west-1");
	n = ms_split(pc, av, 16);
	assert_int_equal(n, 10);
	assert_string_equal(av[0], "C:\\tools\\cloudx-proxy.exe");
	assert_string_equal(av[6], "--ssh-dir");
	assert_string_equal(av[7], "C:/Users/Zoë Brien/my keys");
	assert_string_equal(av[9], "eu-west-1");
	free(pc);
	o.ssh_dir = "C:/Users/Zoë Brien/100%";
	assert_int_equal(cx_sshconf_proxy_command(&o, &pc), CX_ERR_INPUT);
	o.ssh_dir = "C:\\Users\\x";
	assert_int_equal(cx_sshconf_proxy_command(&o, &pc), CX_ERR_INPUT);
}

static void
test_diff(void **state)
{
	struct cx_buf d;
	const char *a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
	const char *b = "1\n2\nX\n4\n5\n6\n7\n8\n9\n10\n11\n12\nY";

	(void)state;
	cx_buf_init(&d, 0);
	assert_int_equal(sc_diff((const unsigned char *)a, strlen(a),
	    (const unsigned char *)b, strlen(b), "f", &d), 0);
	assert_string_equal(cx_buf_str(&d),
	    "--- f\n+++ f\n"
	    "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+X\n 4\n 5\n 6\n"
	    "@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+Y\n\\ No newline at end of file\n");
	cx_buf_reset(&d);
	assert_int_equal(sc_diff((const unsigned char *)a, strlen(a),
	    (const unsigned char *)a, strlen(a), "f", &d), 0);
	assert_int_equal(d.len, 0);
	cx_buf_clean_up(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_proxy_command),
		cmocka_unit_test(test_proxy_command_windows),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_corpus_roundtrip),
		cmocka_unit_test(test_edits_only_add),
	};

	cx_log_init("test_sshconf");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
