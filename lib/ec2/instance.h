/*
 * Making sure an EC2 instance is running and its SSM agent online.
 *
 * cx_instance_run() walks the EC2 state machine (running -> check SSM;
 * stopped -> StartInstances; pending -> wait; stopping -> wait for
 * stopped, then start; shutting-down/terminated -> error), then polls the
 * SSM PingStatus until it says Online, with backoff under one overall
 * deadline.  The AWS calls, the clock and sleeping are injected through
 * struct cx_instance_ops, so unit tests drive the machine without AWS or
 * real time; lib/ec2/instance_aws.c provides the real ones.
 *
 * Progress goes to stderr (cx_info) in the seed's words, with the elapsed
 * time: "Starting instance i-... (was stopped)...",
 * "Waiting for SSM connectivity... 12s".
 */
#ifndef CX_INSTANCE_H
#define CX_INSTANCE_H

#include "core/valid.h"

#include <stdint.h>

#include <cjson/cJSON.h>

enum cx_instance_mode {
	CX_INSTANCE_STATUS,	/* look once, change nothing */
	CX_INSTANCE_START,	/* start if stopped (waiting out stopping) */
	CX_INSTANCE_WAIT,	/* wait for running + Online, never start */
	CX_INSTANCE_ENSURE	/* start if needed, then wait (connect) */
};

#define CX_INSTANCE_DEFAULT_TIMEOUT_MS	(300 * 1000)
#define CX_INSTANCE_DEFAULT_POLL_MS	1000
#define CX_INSTANCE_PROGRESS_MS		10000	/* repeat a progress line */

/* What we learnt about one instance. */
struct cx_instance {
	char *instance_id;
	char *state;		/* EC2 state name, e.g. "running" */
	char *ping_status;	/* SSM PingStatus; NULL: not registered */
	char *az;		/* availability zone, or NULL */
	cJSON *tags;		/* object {Key: Value}, or NULL */
	int started;		/* we called StartInstances */
	uint64_t waited_ms;	/* time spent in cx_instance_run() */
};

/*
 * The outside world.  Each call returns 0 or a negative CX_ERR_*; a call
 * logs its own definite errors (access denied, not found) as one line, and
 * only debug-logs the temporary ones (CX_ERR_THROTTLED, CX_ERR_AWS_SERVER,
 * CX_ERR_NETWORK, CX_ERR_TIMEOUT), which the machine may retry.
 */
struct cx_instance_ops {
	void *arg;
	/* Replaces inst->state, inst->az and inst->tags. */
	int (*describe)(void *arg, struct cx_instance *inst);
	/* StartInstances; *new_state (malloc'd, may stay NULL) is the state
	 * EC2 reports after the call. */
	int (*start)(void *arg, const char *id, char **new_state);
	/* SSM PingStatus; *ping is malloc'd, or NULL if the instance is not
	 * registered with SSM. */
	int (*ping)(void *arg, const char *id, char **ping);
	uint64_t (*now_ms)(void *arg);
	void (*sleep_ms)(void *arg, uint64_t ms);
};

struct cx_instance_opts {
	enum cx_instance_mode mode;
	uint64_t timeout_ms;	/* overall deadline; 0: the default */
	uint64_t poll_ms;	/* first poll interval; 0: the default.  The
				 * interval grows by half each poll, up to
				 * 5 * poll_ms */
	uint64_t progress_ms;	/* repeat progress lines; 0: the default */
	const char *region;	/* for messages only, may be NULL */
};

/* cx_instance_id_valid() is core/valid.h's. */

/*
 * Runs mode o->mode for instance id.  inst must be zeroed; it is filled
 * as far as the machine got, on success and on error (the caller cleans
 * up).  Returns 0, or (logged) CX_ERR_STATE (terminated, shutting down;
 * stopped under CX_INSTANCE_WAIT), CX_ERR_DEADLINE, CX_ERR_USAGE (bad
 * id), or what an op returned.
 */
int cx_instance_run(const struct cx_instance_opts *o,
    const struct cx_instance_ops *ops, const char *id,
    struct cx_instance *inst);

/* The "Instance" object of the stage document: InstanceId, State,
 * PingStatus, AvailabilityZone, Tags, Started, WaitedSeconds.  *out is
 * owned by the caller.  Returns 0 or CX_ERR_NOMEM. */
int cx_instance_to_json(const struct cx_instance *inst, cJSON **out);

void cx_instance_clean_up(struct cx_instance *inst);

#endif
