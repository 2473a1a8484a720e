#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/aws.h"
#include "aws/xml.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "core/stage.h"
#include "instance_aws.h"

#define EC2_API_VERSION	"2016-11-15"

static int
is_temporary(int r)
{
	return r == CX_ERR_THROTTLED || r == CX_ERR_AWS_SERVER ||
	    r == CX_ERR_NETWORK || r == CX_ERR_TIMEOUT;
}

/* Logs a failed call: definite errors as one error line, temporary ones
 * (which the state machine may retry) at debug level. */
static void
log_call_error(const char *what, int r, const struct cx_aws_error *err)
{
	if (is_temporary(r)) {
		if (cx_log_verbosity() >= 1)
			cx_debug(1, "%s: %s%s%s", what, cx_strerror(r),
			    err->code ? ": " : "", err->code ? err->code : "");
		return;
	}
	cx_aws_log_error(what, r, err);
}

int
cx_instance_aws_describe_query(const char *id, struct cx_query *q)
{
	cx_query_init(q, "DescribeInstances", EC2_API_VERSION);
	return cx_query_add(q, "InstanceId.1", id);
}

int
cx_instance_aws_describe_answer(const struct cx_xml *x,
    struct cx_instance *inst)
{
	const struct cx_xml_node *it, *tag;
	const char *state, *az, *k, *v;
	cJSON *tags = NULL;
	int r;

	if ((it = cx_xml_find(x->root,
	    "reservationSet/item/instancesSet/item")) == NULL)
		return CX_ERR_NOTFOUND;
	if ((state = cx_xml_text(it, "instanceState/name")) == NULL)
		return CX_ERR_PROTOCOL;
	az = cx_xml_text(it, "placement/availabilityZone");
	if ((tags = cJSON_CreateObject()) == NULL)
		return CX_ERR_NOMEM;
	for (tag = cx_xml_find(it, "tagSet/item"); tag != NULL;
	    tag = cx_xml_next(tag)) {
		k = cx_xml_text(tag, "key");
		v = cx_xml_text(tag, "value");
		if (k == NULL)
			continue;
		if ((r = cx_json_set_str(tags, k, v ? v : "")) != 0)
			goto out;
	}
	free(inst->state);
	free(inst->az);
	inst->az = NULL;
	if ((inst->state = strdup(state)) == NULL ||
	    (az != NULL && *az != '\0' && (inst->az = strdup(az)) == NULL)) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	cJSON_Delete(inst->tags);
	inst->tags = tags;
	tags = NULL;	/* transferred */
	r = 0;
 out:
	cJSON_Delete(tags);
	return r;
}

static int
ec2_describe(void *arg, struct cx_instance *inst)
{
	struct cx_instance_aws *a = arg;
	struct cx_query q;
	struct cx_aws_error err;
	struct cx_xml *x = NULL;
	char what[160];
	int r;

	memset(&err, 0, sizeof(err));
	if ((r = cx_instance_aws_describe_query(inst->instance_id, &q)) != 0)
		goto out;
	r = cx_aws_query(&a->ec2, &q, &x, &err);
	if (r == 0)
		r = cx_instance_aws_describe_answer(x, inst);
	if (r == CX_ERR_NOTFOUND) {
		cx_error("instance '%s' not found in region '%s'",
		    inst->instance_id, a->ctx->region);
		goto out;
	}
	if (r == CX_ERR_PROTOCOL && err.code == NULL && x != NULL) {
		cx_error("DescribeInstances answer for '%s' has no state",
		    inst->instance_id);
		goto out;
	}
	if (r != 0 && x == NULL) {
		snprintf(what, sizeof(what), "cannot describe instance '%s' "
		    "in region '%s'", inst->instance_id, a->ctx->region);
		log_call_error(what, r, &err);
		goto out;
	}
	if (r != 0)
		goto out;
	cx_debug(1, "instance '%s' is %s", inst->instance_id, inst->state);
 out:
	cx_xml_free(x);
	cx_query_clean_up(&q);
	cx_aws_error_clean_up(&err);
	return r;
}

static int
ec2_start(void *arg, const char *id, char **new_state)
{
	struct cx_instance_aws *a = arg;
	struct cx_query q;
	struct cx_aws_error err;
	struct cx_xml *x = NULL;
	const char *st;
	char what[160];
	int r;

	*new_state = NULL;
	memset(&err, 0, sizeof(err));
	cx_query_init(&q, "StartInstances", EC2_API_VERSION);
	if ((r = cx_query_add(&q, "InstanceId.1", id)) != 0)
		goto out;
	r = cx_aws_query(&a->ec2, &q, &x, &err);
	if (r != 0 && err.code != NULL &&
	    strcmp(err.code, "IncorrectInstanceState") == 0) {
		/* it moved since we looked (e.g. to stopping): look again */
		cx_debug(1, "StartInstances '%s': %s", id, err.code);
		r = 0;
		goto out;
	}
	if (r != 0) {
		snprintf(what, sizeof(what), "cannot start instance '%s'", id);
		log_call_error(what, r, &err);
		goto out;
	}
	st = cx_xml_text(x->root, "instancesSet/item/currentState/name");
	if (st != NULL && (*new_state = strdup(st)) == NULL)
		r = CX_ERR_NOMEM;
 out:
	cx_xml_free(x);
	cx_query_clean_up(&q);
	cx_aws_error_clean_up(&err);
	return r;
}

int
cx_instance_aws_stop(struct cx_instance_aws *a, const char *id,
    char **prev_state, char **new_state)
{
	struct cx_query q;
	struct cx_aws_error err;
	struct cx_xml *x = NULL;
	const char *st;
	char what[160];
	int r;

	*prev_state = *new_state = NULL;
	memset(&err, 0, sizeof(err));
	cx_query_init(&q, "StopInstances", EC2_API_VERSION);
	if ((r = cx_query_add(&q, "InstanceId.1", id)) != 0)
		goto out;
	r = cx_aws_query(&a->ec2, &q, &x, &err);
	if (r == CX_ERR_NOTFOUND) {
		cx_error("instance '%s' not found in region '%s'", id,
		    a->ctx->region);
		goto out;
	}
	if (r != 0) {
		snprintf(what, sizeof(what), "cannot stop instance '%s'", id);
		cx_aws_log_error(what, r, &err);
		goto out;
	}
	st = cx_xml_text(x->root, "instancesSet/item/previousState/name");
	if (st != NULL && (*prev_state = strdup(st)) == NULL) {
		r = CX_ERR_NOMEM;
		goto out;
	}
	st = cx_xml_text(x->root, "instancesSet/item/currentState/name");
	if (st != NULL && (*new_state = strdup(st)) == NULL)
		r = CX_ERR_NOMEM;
 out:
	cx_xml_free(x);
	cx_query_clean_up(&q);
	cx_aws_error_clean_up(&err);
	return r;
}

int
cx_instance_aws_ping_body(const char *id, cJSON **out)
{
	cJSON *body = NULL, *filters, *f, *vals;

	*out = NULL;
	if ((body = cJSON_CreateObject()) == NULL ||
	    (filters = cJSON_AddArrayToObject(body, "Filters")) == NULL ||
	    (f = cJSON_CreateObject()) == NULL)
		goto fail;
	cJSON_AddItemToArray(filters, f);
	if (cJSON_AddStringToObject(f, "Key", "InstanceIds") == NULL ||
	    (vals = cJSON_AddArrayToObject(f, "Values")) == NULL)
		goto fail;
	cJSON_AddItemToArray(vals, cJSON_CreateString(id));
	if (cJSON_GetArraySize(vals) != 1)
		goto fail;
	*out = body;
	return 0;
 fail:
	cJSON_Delete(body);
	return CX_ERR_NOMEM;
}

int
cx_instance_aws_ping_answer(int r, const cJSON *ans,
    const struct cx_aws_error *err, char **ping)
{
	const cJSON *list, *first;
	const char *ps;

	*ping = NULL;
	if (r != 0 && err->code != NULL &&
	    strcmp(err->code, "InvalidInstanceId") == 0)
		return 0;	/* SSM does not know it (yet): not registered */
	if (r != 0)
		return r;
	list = cJSON_GetObjectItemCaseSensitive(ans, "InstanceInformationList");
	first = cJSON_IsArray(list) ? cJSON_GetArrayItem(list, 0) : NULL;
	ps = first ? cx_json_str(first, "PingStatus") : NULL;
	if (ps != NULL && (*ping = strdup(ps)) == NULL)
		return CX_ERR_NOMEM;
	return 0;
}

static int
ssm_ping(void *arg, const char *id, char **ping)
{
	struct cx_instance_aws *a = arg;
	struct cx_aws_error err;
	cJSON *body = NULL, *ans = NULL;
	char what[160];
	int r;

	*ping = NULL;
	memset(&err, 0, sizeof(err));
	if ((r = cx_instance_aws_ping_body(id, &body)) != 0)
		goto out;
	r = cx_aws_json(&a->ssm, "AmazonSSM.DescribeInstanceInformation",
	    body, &ans, &err);
	if ((r = cx_instance_aws_ping_answer(r, ans, &err, ping)) != 0) {
		if (r == CX_ERR_NOMEM)
			goto out;
		snprintf(what, sizeof(what), "cannot get the SSM status of "
		    "'%s'", id);
		log_call_error(what, r, &err);
		goto out;
	}
	cx_debug(1, "SSM PingStatus of '%s': %s", id, *ping ? *ping :
	    "(none)");
 out:
	cJSON_Delete(body);
	cx_json_delete_secure(ans);
	cx_aws_error_clean_up(&err);
	return r;
}

static uint64_t
real_now(void *arg)
{
	(void)arg;
	return cx_now_ms();
}

static void
real_sleep(void *arg, uint64_t ms)
{
	struct timespec ts;

	(void)arg;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
cx_instance_aws_init(struct cx_instance_aws *a, struct cx_aws_ctx *ctx,
    struct cx_instance_ops *ops)
{
	int r;

	memset(a, 0, sizeof(*a));
	a->ctx = ctx;
	if ((r = cx_aws_target_init(&a->ec2, ctx, "ec2", NULL)) != 0 ||
	    (r = cx_aws_target_init(&a->ssm, ctx, "ssm", NULL)) != 0) {
		cx_instance_aws_clean_up(a);
		return r;
	}
	ops->arg = a;
	ops->describe = ec2_describe;
	ops->start = ec2_start;
	ops->ping = ssm_ping;
	ops->now_ms = real_now;
	ops->sleep_ms = real_sleep;
	return 0;
}

void
cx_instance_aws_clean_up(struct cx_instance_aws *a)
{
	cx_aws_target_clean_up(&a->ec2);
	cx_aws_target_clean_up(&a->ssm);
	memset(a, 0, sizeof(*a));
}

int
cx_instance_stage(struct cx_aws_ctx *ctx, const struct cx_instance_opts *o,
    const char *id, cJSON *doc)
{
	struct cx_instance_aws a;
	struct cx_instance_ops ops;
	struct cx_instance inst;
	struct cx_instance_opts opts = *o;
	cJSON *j = NULL;
	int r;

	memset(&inst, 0, sizeof(inst));
	memset(&ops, 0, sizeof(ops));
	if (!cx_instance_id_valid(id)) {
		cx_error("invalid EC2 instance id '%s': it must be 'i-' and 8 "
		    "or 17 hexadecimal digits (i-1234567890abcdef0)", id);
		return CX_ERR_USAGE;
	}
	if ((r = cx_instance_aws_init(&a, ctx, &ops)) != 0)
		return r;
	if (opts.region == NULL)
		opts.region = ctx->region;
	r = cx_instance_run(&opts, &ops, id, &inst);
	if (r != 0)
		goto out;
	if ((r = cx_instance_to_json(&inst, &j)) != 0 ||
	    (r = cx_json_set(doc, "Instance", j)) != 0)
		goto out;
 out:
	cx_instance_clean_up(&inst);
	cx_instance_aws_clean_up(&a);
	return r;
}
