/*
 * cx-sshconf: reads and edits the three-tier cloudx-proxy SSH config
 * (lib/ssh/sshconf.h) and prints one JSON document: list, add-host, set-env,
 * remove-host, remove-env, ensure-include, adopt.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "sshconf_cmd.h"

static const char usage_text[] =
"usage: cx-sshconf [-DhjnOoqsVvw] [-A socket] [-a aws-env] [-c config]\n"
"                  [-d ssh-dir] [-e environment] [-i instance-id]\n"
"                  [-k ssh-key] [-m main-config] [-N name] [-P prefix]\n"
"                  [-p profile] [-r region] [-x proxy-command-path]\n"
"                  list | add-host | set-env | remove-host | remove-env |\n"
"                  ensure-include | adopt\n";

static const struct option longopts[] = {
	{ "1password", no_argument, NULL, 'o' },
	{ "aws-env", required_argument, NULL, 'a' },
	{ "config", required_argument, NULL, 'c' },
	{ "detailed", no_argument, NULL, 'D' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "environment", required_argument, NULL, 'e' },
	{ "help", no_argument, NULL, 'h' },
	{ "identity-agent", required_argument, NULL, 'A' },
	{ "instance", required_argument, NULL, 'i' },
	{ "json", no_argument, NULL, 'j' },
	{ "main-config", required_argument, NULL, 'm' },
	{ "name", required_argument, NULL, 'N' },
	{ "no-1password", no_argument, NULL, 'O' },
	{ "prefix", required_argument, NULL, 'P' },
	{ "profile", required_argument, NULL, 'p' },
	{ "proxy-command-path", required_argument, NULL, 'x' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "region", required_argument, NULL, 'r' },
	{ "ssh-dir", required_argument, NULL, 'd' },
	{ "ssh-key", required_argument, NULL, 'k' },
	{ "stdin", no_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "windows", no_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 }
};

static int
parse_args(int argc, char **argv, struct cx_sshconf_req *q, int *use_stdin)
{
	int ch, v = 0;

	while ((ch = getopt_long(argc, argv, "A:a:c:Dd:e:hi:jk:m:N:nOoP:p:qr:sVvwx:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'A': q->identity_agent = optarg; q->env_opts_given = 1; break;
		case 'a': q->aws_env = optarg; q->env_opts_given = 1; break;
		case 'c': q->config = optarg; break;
		case 'D': q->detailed = 1; break;
		case 'd': q->ssh_dir = optarg; q->env_opts_given = 1; break;
		case 'e': q->env = optarg; break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case 'i': q->instance = optarg; break;
		case 'j': q->json = 1; break;
		case 'k': q->ssh_key = optarg; q->env_opts_given = 1; break;
		case 'm': q->main_config = optarg; break;
		case 'N': q->name = optarg; break;
		case 'n': q->dry_run = 1; break;
		case 'o': q->identity_agent = "~/.1password/agent.sock";
			q->env_opts_given = 1; break;
		case 'O': q->identity_agent = ""; q->env_opts_given = 1; break;
		case 'P': q->prefix = optarg; break;
		case 'p': q->profile = optarg; q->env_opts_given = 1; break;
		case 'q': v = -1; break;
		case 'r': q->region = optarg; q->env_opts_given = 1; break;
		case 's': *use_stdin = 1; break;
		case 'V': printf("cx-sshconf %s\n", CX_VERSION); exit(0);
		case 'v': v++; break;
		case 'w': q->windows = 1; break;
		case 'x': q->proxy_path = optarg; q->env_opts_given = 1; break;
		default: return CX_ERR_USAGE;
		}
	}
	cx_log_set_verbosity(v);
	if (optind != argc - 1) {
		cx_error(optind < argc ? "too many arguments" :
		    "missing operation");
		return CX_ERR_USAGE;
	}
	q->op = argv[optind];
	return 0;
}

int
main(int argc, char **argv)
{
	struct cx_sshconf_req q = { 0 };
	struct cx_buf text;
	cJSON *doc = NULL, *it;
	int r, use_stdin = 0;

	cx_os_init(argv[0]);
	cx_buf_init(&text, 0);
	q.argv0 = argv[0];
	if ((r = parse_args(argc, argv, &q, &use_stdin)) != 0) {
		fputs(usage_text, stderr);
		return CX_EXIT_USAGE;
	}
	if (use_stdin)
		r = cx_stage_read(STDIN_FILENO, &doc);
	else if ((doc = cJSON_CreateObject()) == NULL)
		r = CX_ERR_NOMEM;
	/* an instance id from cx-instance upstream */
	if (r == 0 && q.instance == NULL &&
	    (it = cJSON_GetObjectItemCaseSensitive(doc, "Instance")) != NULL)
		q.instance = cx_json_str(it, "InstanceId");
	if (r == 0)
		r = cx_sshconf_run(&q, doc, &text);
	if (r == 0 && strcmp(q.op, "list") == 0 && !q.json) {
		if (fwrite(text.data, 1, text.len, stdout) != text.len ||
		    fflush(stdout) != 0)
			r = CX_ERR_IO;
	} else if (r == 0)
		r = cx_stage_write(doc);
	cx_json_delete_secure(doc);
	cx_buf_clean_up(&text);
	return cx_exit_code(r);
}
