/*
 * The real AWS calls behind lib/ec2/instance.h: EC2 DescribeInstances and
 * StartInstances (EC2 query protocol, XML answers) and SSM
 * DescribeInstanceInformation (JSON 1.1), plus the stage glue used by
 * cx-instance.  Implemented in lib/ec2/instance_aws.c.
 */
#ifndef CX_INSTANCE_AWS_H
#define CX_INSTANCE_AWS_H

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "aws/creds.h"
#include "instance.h"

struct cx_instance_aws {
	struct cx_aws_ctx *ctx;		/* borrowed */
	struct cx_aws_target ec2;
	struct cx_aws_target ssm;
};

/*
 * Resolves the EC2 and SSM endpoints of ctx and fills ops with the real
 * calls, the monotonic clock and nanosleep.  a owns the targets
 * (cx_instance_aws_clean_up); ctx must outlive it.
 */
int cx_instance_aws_init(struct cx_instance_aws *a, struct cx_aws_ctx *ctx,
    struct cx_instance_ops *ops);
void cx_instance_aws_clean_up(struct cx_instance_aws *a);

/*
 * EC2 StopInstances for id (cloudx-proxy stop).  *prev_state and
 * *new_state (malloc'd, NULL when the answer lacks them) are the states
 * EC2 reports before and after the call.  Errors are logged (one line):
 * CX_ERR_NOTFOUND, CX_ERR_DENIED, what cx_aws_query() returns.
 */
int cx_instance_aws_stop(struct cx_instance_aws *a, const char *id,
    char **prev_state, char **new_state);

/*
 * The whole stage: runs o->mode for id against AWS and, on success, sets
 * doc["Instance"] (see cx_instance_to_json).  Returns 0 or the error of
 * cx_instance_run() (already logged).
 */
int cx_instance_stage(struct cx_aws_ctx *ctx, const struct cx_instance_opts *o,
    const char *id, cJSON *doc);

/*
 * The calls' requests and answers, for the driver's wave (which makes
 * them with others at once, cx_aws_batch()), nothing logged:
 * DescribeInstances of id into q (cx_query_clean_up() in every case);
 * its answer x into inst->state, az and tags (CX_ERR_NOTFOUND: no such
 * instance, CX_ERR_PROTOCOL: no state); the DescribeInstanceInformation
 * body for id (*out: cJSON_Delete); its result (r, ans and err of the
 * call) as a PingStatus (*ping malloc'd, NULL when SSM does not know the
 * instance), or r.
 */
int cx_instance_aws_describe_query(const char *id, struct cx_query *q);
int cx_instance_aws_describe_answer(const struct cx_xml *x,
    struct cx_instance *inst);
int cx_instance_aws_ping_body(const char *id, cJSON **out);
int cx_instance_aws_ping_answer(int r, const cJSON *ans,
    const struct cx_aws_error *err, char **ping);

#endif
