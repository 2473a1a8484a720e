/*
 * The AWS shared config and credentials files, as the AWS CLI v2 reads
 * them: file locations, profile selection, the key-by-key merge of the two
 * files, [sso-session X] and [services X] sections, and the settings that
 * come from them (region, endpoints, CA bundle, retries).
 *
 * Files: $AWS_CONFIG_FILE (default ~/.aws/config) and
 * $AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials), with $VAR and
 * ~ expanded; with an AWS environment E (--aws-env E) both come from
 * ~/.aws/aws-envs/E/ instead.  A missing file is an empty one.
 *
 * Implemented in lib/aws/awscfg.c.
 */
#ifndef CX_AWSCFG_H
#define CX_AWSCFG_H

#include "ini.h"

#define CX_AWSCFG_DEFAULT_REGION	"eu-west-1"	/* as the seed tool */
#define CX_AWSCFG_DEFAULT_ATTEMPTS	3

struct cx_awscfg {
	char *config_path;
	char *creds_path;
	struct cx_ini *config;		/* NULL if the file does not exist */
	struct cx_ini *creds;		/* NULL if the file does not exist */
	char *aws_env;			/* or NULL */
	char *profile;			/* the selected profile name */
	int profile_from_arg;		/* chosen with --profile: environment
					 * keys are then not used */
	int profile_exists;		/* in either file */
};

/*
 * Loads both files and selects the profile: profile_arg (--profile) >
 * AWS_PROFILE > AWS_DEFAULT_PROFILE > "default".  A named profile other
 * than "default" that is in neither file is an error.  With aws_env, also
 * exports AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE (as the Python
 * tool did) so that child processes such as credential_process see the
 * same files.  On success *out is owned by the caller (cx_awscfg_free).
 * Errors (one line logged): CX_ERR_USAGE (bad aws_env name),
 * CX_ERR_CONFIG (malformed or unreadable file, unknown profile),
 * CX_ERR_TOOBIG, CX_ERR_NOMEM.
 */
int cx_awscfg_load(const char *aws_env, const char *profile_arg,
    struct cx_awscfg **out);
void cx_awscfg_free(struct cx_awscfg *c);

/* 1 if profile has a section in either file. */
int cx_awscfg_has_profile(const struct cx_awscfg *c, const char *profile);
/* The config-file section of profile ([profile X]; for "default" the
 * later of [default] and [profile default]), or NULL. */
const struct cx_ini_section *cx_awscfg_config_section(
    const struct cx_awscfg *c, const char *profile);
/* The credentials-file section [X], or NULL. */
const struct cx_ini_section *cx_awscfg_creds_section(
    const struct cx_awscfg *c, const char *profile);

/* Value of key for profile, the credentials file winning (borrowed, may
 * be NULL). */
const char *cx_awscfg_get(const struct cx_awscfg *c, const char *profile,
    const char *key);
/* Value of key in the config file's profile only. */
const char *cx_awscfg_get_config(const struct cx_awscfg *c,
    const char *profile, const char *key);
/* Value of key in the credentials file's profile only. */
const char *cx_awscfg_get_creds(const struct cx_awscfg *c,
    const char *profile, const char *key);
/* [sso-session name] and [services name] of the config file, or NULL. */
const struct cx_ini_section *cx_awscfg_sso_session(
    const struct cx_awscfg *c, const char *name);
const struct cx_ini_section *cx_awscfg_services(const struct cx_awscfg *c,
    const char *name);

/*
 * The region: region_arg (--region) > AWS_REGION > AWS_DEFAULT_REGION >
 * the profile's region > CX_AWSCFG_DEFAULT_REGION.  *out is malloc'd.
 * A region that is not [a-z0-9-]+ is CX_ERR_CONFIG (logged).
 */
int cx_awscfg_region(const struct cx_awscfg *c, const char *region_arg,
    char **out);
/* 1 if region is a plausible region name ([a-z0-9-]+, at most 32). */
int cx_aws_region_valid(const char *region);

/*
 * The endpoint URL of service ("ec2", "ssm", "ec2-instance-connect",
 * "sts", "iam", "sso", "sso-oidc", or any other service id): unless
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (else the profile's
 * ignore_configured_endpoint_urls) is true, AWS_ENDPOINT_URL_<SERVICE>
 * (upper case, '-' and ' ' as '_') > AWS_ENDPOINT_URL > the profile's
 * [services X] sub-section <service>.endpoint_url > the profile's
 * endpoint_url; else the public AWS endpoint for region (IAM: the global
 * one; SSO: portal.sso.<region>; SSO OIDC: oidc.<region>).  c may be NULL
 * (environment and defaults only).  *out is malloc'd, without a trailing
 * '/'.  Errors: CX_ERR_CONFIG (missing [services] section, bad region;
 * logged), CX_ERR_NOMEM.
 */
int cx_awscfg_endpoint(const struct cx_awscfg *c, const char *service,
    const char *region, char **out);
/* The SigV4 signing region of service in region ("us-east-1" for IAM). */
const char *cx_aws_signing_region(const char *service, const char *region);

/* CA bundle: AWS_CA_BUNDLE > the profile's ca_bundle (~ expanded); *out
 * NULL when neither is set (use the system default).  An empty value is
 * CX_ERR_CONFIG (logged). */
int cx_awscfg_ca_bundle(const struct cx_awscfg *c, char **out);
/* Total attempts: AWS_MAX_ATTEMPTS > max_attempts > 3.  Invalid values
 * (not 1..20) are CX_ERR_CONFIG (logged). */
int cx_awscfg_max_attempts(const struct cx_awscfg *c, int *out);
/* AWS_RETRY_MODE > retry_mode > "standard" (borrowed). */
const char *cx_awscfg_retry_mode(const struct cx_awscfg *c);

/* 1 if v is "true" (any case), as botocore's ensure_boolean. */
int cx_aws_bool(const char *v);

/* Expands $VAR, ${VAR} and a leading ~ in path; *out is malloc'd. */
int cx_awscfg_expand_path(const char *path, char **out);

#endif
