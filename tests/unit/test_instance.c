/*
 * lib/ec2/instance: the EC2/SSM state machine driven by scripted fake AWS
 * answers and a fake clock (no sleeping, no AWS).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cxerr.h"
#include "ec2/instance.h"

#define MAXSTEPS 64

/* A script: the EC2 state per DescribeInstances call (the last one
 * repeats), the PingStatus per DescribeInstanceInformation call ("-" for
 * not registered), and errors to return at given calls. */
struct fake {
	const char *states[MAXSTEPS];
	const char *pings[MAXSTEPS];
	int describe_err[MAXSTEPS];
	int ping_err[MAXSTEPS];
	int start_err;
	const char *after_start;	/* state once started */
	int ndescribe, nping, nstart;
	uint64_t now;
	uint64_t slept[MAXSTEPS * 4];
	int nsleep;
};

static const char *
pick(const char *const *v, int i)
{
	int last = 0;

	while (last + 1 < MAXSTEPS && v[last + 1] != NULL)
		last++;
	return v[i <= last ? i : last];
}

static int
f_describe(void *arg, struct cx_instance *inst)
{
	struct fake *f = arg;
	int i = f->ndescribe++;
	const char *st;

	f->now += 10;	/* calls take time too */
	if (i < MAXSTEPS && f->describe_err[i] != 0)
		return f->describe_err[i];
	st = pick(f->states, i);
	if (f->nstart > 0 && f->after_start != NULL &&
	    strcmp(st, "stopped") == 0)
		st = f->after_start;
	free(inst->state);
	inst->state = strdup(st);
	free(inst->az);
	inst->az = strdup("eu-west-1a");
	cJSON_Delete(inst->tags);
	inst->tags = cJSON_CreateObject();
	cJSON_AddStringToObject(inst->tags, "Name", "cloudx-dev-box");
	return 0;
}

static int
f_start(void *arg, const char *id, char **ns)
{
	struct fake *f = arg;

	(void)id;
	f->nstart++;
	if (f->start_err != 0)
		return f->start_err;
	*ns = strdup("pending");
	return 0;
}

static int
f_ping(void *arg, const char *id, char **ping)
{
	struct fake *f = arg;
	int i = f->nping++;
	const char *p;

	(void)id;
	*ping = NULL;
	if (i < MAXSTEPS && f->ping_err[i] != 0)
		return f->ping_err[i];
	p = pick(f->pings, i);
	if (p != NULL && strcmp(p, "-") != 0)
		*ping = strdup(p);
	return 0;
}

static uint64_t
f_now(void *arg)
{
	return ((struct fake *)arg)->now;
}

static void
f_sleep(void *arg, uint64_t ms)
{
	struct fake *f = arg;

	f->slept[f->nsleep++] = ms;
	f->now += ms;
}

static int
run(struct fake *f, enum cx_instance_mode mode, uint64_t timeout_ms,
    struct cx_instance *inst)
{
	struct cx_instance_ops ops = { f, f_describe, f_start, f_ping, f_now,
		f_sleep };
	struct cx_instance_opts o = { mode, timeout_ms, 1000, 0, "eu-west-1" };

	memset(inst, 0, sizeof(*inst));
	f->now = 1000000;
	return cx_instance_run(&o, &ops, "i-0123456789abcdef0", inst);
}

static void
test_running_online(void **state)
{
	struct fake f = { .states = { "running" }, .pings = { "Online" } };
	struct cx_instance inst;

	(void)state;
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 0, &inst), 0);
	assert_string_equal(inst.state, "running");
	assert_string_equal(inst.ping_status, "Online");
	assert_string_equal(inst.az, "eu-west-1a");
	assert_false(inst.started);
	assert_int_equal(f.nstart, 0);
	assert_int_equal(f.nsleep, 0);
	cx_instance_clean_up(&inst);
}

static void
test_stopped_is_started(void **state)
{
	struct fake f = {
		.states = { "stopped", "pending", "pending", "running" },
		.pings = { "-", "ConnectionLost", "Online" },
	};
	struct cx_instance inst;
	cJSON *j;

	(void)state;
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 0, &inst), 0);
	assert_int_equal(f.nstart, 1);
	assert_true(inst.started);
	assert_string_equal(inst.state, "running");
	assert_string_equal(inst.ping_status, "Online");
	assert_int_equal(f.nping, 3);
	/* backoff: 1000, 1500, 2250, ... */
	assert_true(f.nsleep >= 3);
	assert_int_equal(f.slept[0], 1000);
	assert_int_equal(f.slept[1], 1500);
	assert_int_equal(f.slept[2], 2250);
	assert_true(inst.waited_ms >= 1000 + 1500 + 2250);
	assert_int_equal(cx_instance_to_json(&inst, &j), 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "Started")));
	assert_string_equal(cJSON_GetObjectItem(j, "PingStatus")->valuestring,
	    "Online");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j,
	    "Tags"), "Name")->valuestring, "cloudx-dev-box");
	assert_true(cJSON_GetObjectItem(j, "WaitedSeconds")->valuedouble >
	    4.0);
	cJSON_Delete(j);
	cx_instance_clean_up(&inst);
}

static void
test_stopping_waited_then_started(void **state)
{
	struct fake f = {
		.states = { "stopping", "stopping", "stopped", "running" },
		.pings = { "Online" },
	};
	struct cx_instance inst;

	(void)state;
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 0, &inst), 0);
	assert_int_equal(f.nstart, 1);
	/* it did not start while stopping */
	assert_int_equal(f.ndescribe, 4);
	assert_true(inst.started);
	cx_instance_clean_up(&inst);
}

static void
test_start_mode(void **state)
{
	struct fake f = { .states = { "stopping", "stopped" } };
	struct cx_instance inst;

	(void)state;
	assert_int_equal(run(&f, CX_INSTANCE_START, 0, &inst), 0);
	assert_int_equal(f.nstart, 1);
	assert_int_equal(f.nping, 0);
	assert_string_equal(inst.state, "pending");
	cx_instance_clean_up(&inst);

	memset(&f, 0, sizeof(f));
	f.states[0] = "running";
	assert_int_equal(run(&f, CX_INSTANCE_START, 0, &inst), 0);
	assert_int_equal(f.nstart, 0);
	assert_false(inst.started);
	cx_instance_clean_up(&inst);
}

static void
test_terminated(void **state)
{
	struct fake f = { .states = { "terminated" } };
	struct cx_instance inst;

	(void)state;
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 0, &inst),
	    CX_ERR_STATE);
	assert_int_equal(f.nstart, 0);
	cx_instance_clean_up(&inst);
	memset(&f, 0, sizeof(f));
	f.states[0] = "shutting-down";
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 0, &inst),
	    CX_ERR_STATE);
	cx_instance_clean_up(&inst);
}

static void
test_wait_does_not_start(void **state)
{
	struct fake f = { .states = { "stopped" } };
	struct cx_instance inst;

	(void)state;
	assert_int_equal(run(&f, CX_INSTANCE_WAIT, 0, &inst), CX_ERR_STATE);
	assert_int_equal(f.nstart, 0);
	cx_instance_clean_up(&inst);
}

static void
test_deadline(void **state)
{
	struct fake f = { .states = { "running" }, .pings = { "-" } };
	struct cx_instance inst;
	int i;
	uint64_t total = 0;

	(void)state;
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 30000, &inst),
	    CX_ERR_DEADLINE);
	/* never sleeps past the deadline, intervals capped at 5 * poll */
	for (i = 0; i < f.nsleep; i++) {
		assert_true(f.slept[i] <= 5000);
		total += f.slept[i];
	}
	assert_true(total <= 30000);
	assert_true(inst.waited_ms >= 30000);
	assert_true(inst.waited_ms < 31000);
	assert_null(inst.ping_status);
	cx_instance_clean_up(&inst);
}

static void
test_denied_is_not_offline(void **state)
{
	struct fake f = { .states = { "running" },
		.ping_err = { CX_ERR_DENIED } };
	struct cx_instance inst;

	(void)state;
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 0, &inst),
	    CX_ERR_DENIED);
	/* the seed would have called StartInstances here */
	assert_int_equal(f.nstart, 0);
	assert_int_equal(f.nsleep, 0);
	cx_instance_clean_up(&inst);
}

static void
test_errors_pass_through(void **state)
{
	struct fake f = { .describe_err = { CX_ERR_NOTFOUND } };
	struct cx_instance inst;

	(void)state;
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 0, &inst),
	    CX_ERR_NOTFOUND);
	cx_instance_clean_up(&inst);
	/* throttling on the very first call ends the run at once */
	memset(&f, 0, sizeof(f));
	f.describe_err[0] = CX_ERR_THROTTLED;
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 0, &inst),
	    CX_ERR_THROTTLED);
	assert_int_equal(f.nsleep, 0);
	cx_instance_clean_up(&inst);
	memset(&f, 0, sizeof(f));
	f.states[0] = "stopped";
	f.start_err = CX_ERR_DENIED;
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 0, &inst),
	    CX_ERR_DENIED);
	cx_instance_clean_up(&inst);
}

static void
test_throttling_while_waiting(void **state)
{
	struct fake f = { .states = { "running" },
		.pings = { "ConnectionLost", "-", "Online" },
		.ping_err = { 0, CX_ERR_THROTTLED } };
	struct cx_instance inst;

	(void)state;
	/* a throttled poll in the middle of a wait is polled again */
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 0, &inst), 0);
	assert_string_equal(inst.ping_status, "Online");
	cx_instance_clean_up(&inst);
	/* throttled until the deadline: the throttling is the error */
	memset(&f, 0, sizeof(f));
	f.states[0] = "running";
	f.pings[0] = "ConnectionLost";
	for (int i = 1; i < MAXSTEPS; i++)
		f.ping_err[i] = CX_ERR_THROTTLED;
	assert_int_equal(run(&f, CX_INSTANCE_ENSURE, 10000, &inst),
	    CX_ERR_THROTTLED);
	cx_instance_clean_up(&inst);
}

static void
test_status(void **state)
{
	struct fake f = { .states = { "stopped" },
		.pings = { "ConnectionLost" } };
	struct cx_instance inst;

	(void)state;
	assert_int_equal(run(&f, CX_INSTANCE_STATUS, 0, &inst), 0);
	assert_string_equal(inst.state, "stopped");
	assert_string_equal(inst.ping_status, "ConnectionLost");
	assert_int_equal(f.nstart, 0);
	assert_int_equal(f.nsleep, 0);
	cx_instance_clean_up(&inst);
}

static void
test_id_validation(void **state)
{
	struct fake f = { .states = { "running" } };
	struct cx_instance inst;
	struct cx_instance_ops ops = { &f, f_describe, f_start, f_ping, f_now,
		f_sleep };
	struct cx_instance_opts o = { CX_INSTANCE_STATUS, 0, 0, 0, NULL };

	(void)state;
	assert_true(cx_instance_id_valid("i-12345678"));
	assert_true(cx_instance_id_valid("i-0123456789ABCDEF0"));
	assert_false(cx_instance_id_valid("i-1234567"));
	assert_false(cx_instance_id_valid("i-123456789"));
	assert_false(cx_instance_id_valid("i-0123456789abcdefg"));
	assert_false(cx_instance_id_valid("0123456789"));
	assert_false(cx_instance_id_valid(""));
	assert_false(cx_instance_id_valid(NULL));
	memset(&inst, 0, sizeof(inst));
	assert_int_equal(cx_instance_run(&o, &ops, "i-xyz", &inst),
	    CX_ERR_USAGE);
	/* no call was made */
	assert_int_equal(f.ndescribe, 0);
	cx_instance_clean_up(&inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_running_online),
		cmocka_unit_test(test_stopped_is_started),
		cmocka_unit_test(test_stopping_waited_then_started),
		cmocka_unit_test(test_start_mode),
		cmocka_unit_test(test_terminated),
		cmocka_unit_test(test_wait_does_not_start),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_denied_is_not_offline),
		cmocka_unit_test(test_errors_pass_through),
		cmocka_unit_test(test_throttling_while_waiting),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_id_validation),
	};

	return cmocka_run_group_tests_name("instance", tests, NULL, NULL);
}
