/*
 * cx_aws_target_init(): where a call for one service goes and how it is
 * signed.  Kept apart from lib/aws/aws.c because it needs the endpoint
 * resolution of the AWS context (cx_aws_ctx_endpoint(), lib/aws/awsctx.c),
 * which programs and tests that build a target by hand do not.
 */
#include <stdlib.h>
#include <string.h>

#include "core/cxerr.h"
#include "aws.h"
#include "creds.h"

struct svc {
	const char *service;		/* service id, as for the endpoint */
	const char *signing_name;	/* SigV4 service name */
	const char *fixed_region;	/* signing region if global */
	int is_unsigned;
};

static const struct svc services[] = {
	{ "ec2", "ec2", NULL, 0 },
	{ "ssm", "ssm", NULL, 0 },
	{ "ec2-instance-connect", "ec2-instance-connect", NULL, 0 },
	{ "sts", "sts", NULL, 0 },
	{ "iam", "iam", "us-east-1", 0 },
	{ "sso", "awsssoportal", NULL, 1 },
	{ "sso-oidc", "sso-oauth", NULL, 1 },
};

int
cx_aws_target_init(struct cx_aws_target *t, struct cx_aws_ctx *ctx,
    const char *service, const char *region)
{
	const struct svc *s = NULL;
	size_t i;
	int r;

	memset(t, 0, sizeof(*t));
	if (ctx == NULL || service == NULL)
		return CX_ERR_INTERNAL;
	for (i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		if (strcmp(services[i].service, service) == 0)
			s = &services[i];
	if (s == NULL)
		return CX_ERR_INTERNAL;
	if (region == NULL)
		region = ctx->region;
	if ((r = cx_aws_ctx_endpoint(ctx, service, region, &t->endpoint)) != 0)
		return r;
	t->region = s->fixed_region ? s->fixed_region : region;
	t->signing_name = s->signing_name;
	t->creds = s->is_unsigned ? NULL : &ctx->creds;
	t->ctx = ctx;
	return 0;
}
