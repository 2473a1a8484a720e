#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/connlog.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "instance.h"

void
cx_instance_clean_up(struct cx_instance *inst)
{
	if (inst == NULL)
		return;
	free(inst->instance_id);
	free(inst->state);
	free(inst->ping_status);
	free(inst->az);
	cJSON_Delete(inst->tags);
	memset(inst, 0, sizeof(*inst));
}

static int
is_temporary(int r)
{
	return r == CX_ERR_THROTTLED || r == CX_ERR_AWS_SERVER ||
	    r == CX_ERR_NETWORK || r == CX_ERR_TIMEOUT;
}

/* What we are waiting for, for progress lines and the deadline message. */
enum phase {
	PH_NONE,
	PH_STOPPING,	/* waiting for stopping -> stopped */
	PH_PENDING,	/* waiting for pending -> running */
	PH_SSM,		/* waiting for PingStatus Online */
	PH_OTHER	/* an EC2 state we do not know */
};

struct machine {
	const struct cx_instance_opts *o;
	const struct cx_instance_ops *ops;
	struct cx_instance *inst;
	uint64_t t0, deadline, interval, poll_max, last_progress;
	enum phase phase;
	int ok_calls;	/* successful AWS calls so far */
	int last_temp;	/* last temporary error, or 0 */
	/* for the connect log: the first answer, the StartInstances call */
	uint64_t t_described, t_start0, t_start1;
};

static unsigned long
elapsed_s(const struct machine *m)
{
	return (unsigned long)((m->ops->now_ms(m->ops->arg) - m->t0) / 1000);
}

static void
progress(struct machine *m, enum phase ph)
{
	const char *id = m->inst->instance_id;
	uint64_t now = m->ops->now_ms(m->ops->arg);

	if (ph == m->phase && now - m->last_progress < m->o->progress_ms)
		return;
	m->phase = ph;
	m->last_progress = now;
	switch (ph) {
	case PH_STOPPING:
		cx_info("Waiting for instance %s to stop (was stopping)... "
		    "%lus", id, elapsed_s(m));
		break;
	case PH_PENDING:
		cx_info("Waiting for instance %s to be running (%s)... %lus",
		    id, m->inst->state, elapsed_s(m));
		break;
	case PH_SSM:
		cx_info("Waiting for SSM connectivity... %lus (%s)",
		    elapsed_s(m), m->inst->ping_status ?
		    m->inst->ping_status : "not registered yet");
		break;
	case PH_OTHER:
		cx_info("Waiting for instance %s (state '%s')... %lus", id,
		    m->inst->state, elapsed_s(m));
		break;
	case PH_NONE:
		break;
	}
}

/*
 * A call failed: a temporary error after at least one call went through
 * is remembered and retried at the next poll (1); anything else ends the
 * run (0).
 */
static int
retry_later(struct machine *m, int r)
{
	if (r != 0 && is_temporary(r) && m->ok_calls > 0 &&
	    m->o->mode != CX_INSTANCE_STATUS) {
		cx_debug(1, "temporary failure, will poll again: %s",
		    cx_strerror(r));
		m->last_temp = r;
		return 1;
	}
	return 0;
}

/* Sleeps until the next poll; CX_ERR_DEADLINE (logged) when time is up. */
static int
pause(struct machine *m)
{
	const struct cx_instance *inst = m->inst;
	uint64_t now = m->ops->now_ms(m->ops->arg), d;

	if (now >= m->deadline) {
		unsigned long s = (unsigned long)((now - m->t0) / 1000);

		if (m->last_temp != 0) {
			cx_error("gave up on '%s' after %lus: %s",
			    inst->instance_id, s, cx_strerror(m->last_temp));
			return m->last_temp;
		}
		if (m->phase == PH_SSM)
			cx_error("gave up after %lus: the SSM agent of '%s' "
			    "is not online (%s); --timeout waits longer", s,
			    inst->instance_id, inst->ping_status ?
			    inst->ping_status : "not registered");
		else
			cx_error("gave up after %lus: instance '%s' is still "
			    "'%s'; --timeout waits longer", s,
			    inst->instance_id,
			    inst->state ? inst->state : "unknown");
		return CX_ERR_DEADLINE;
	}
	d = m->interval;
	if (d > m->deadline - now)
		d = m->deadline - now;
	m->ops->sleep_ms(m->ops->arg, d);
	m->interval += m->interval / 2;
	if (m->interval > m->poll_max)
		m->interval = m->poll_max;
	return 0;
}

static int
do_start(struct machine *m)
{
	struct cx_instance *inst = m->inst;
	char *ns = NULL;
	int r;

	if (!inst->started)
		cx_info("Starting instance %s (was %s)...", inst->instance_id,
		    inst->state);
	if (m->t_start0 == 0)
		m->t_start0 = m->ops->now_ms(m->ops->arg);
	if ((r = m->ops->start(m->ops->arg, inst->instance_id, &ns)) != 0)
		return r;
	if (m->t_start1 == 0)
		m->t_start1 = m->ops->now_ms(m->ops->arg);
	m->ok_calls++;
	inst->started = 1;
	if (ns != NULL) {
		free(inst->state);
		inst->state = ns;
	}
	return 0;
}

static int
check_ssm(struct machine *m, int *online)
{
	struct cx_instance *inst = m->inst;
	char *ping = NULL;
	int r;

	*online = 0;
	if ((r = m->ops->ping(m->ops->arg, inst->instance_id, &ping)) != 0)
		return r;
	m->ok_calls++;
	free(inst->ping_status);
	inst->ping_status = ping;
	*online = ping != NULL && strcmp(ping, "Online") == 0;
	return 0;
}

/* One look at the instance; *done says whether the mode is satisfied. */
static int
step(struct machine *m, int *done)
{
	struct cx_instance *inst = m->inst;
	const char *st;
	int r, online;

	*done = 0;
	if ((r = m->ops->describe(m->ops->arg, inst)) != 0)
		return r;
	if (m->t_described == 0)
		m->t_described = m->ops->now_ms(m->ops->arg);
	m->ok_calls++;
	st = inst->state ? inst->state : "";
	if (m->o->mode == CX_INSTANCE_STATUS) {
		*done = 1;
		if (strcmp(st, "terminated") == 0)
			return 0;
		return check_ssm(m, &online);
	}
	if (strcmp(st, "terminated") == 0 ||
	    strcmp(st, "shutting-down") == 0) {
		cx_error("instance '%s' is %s; it cannot be started again",
		    inst->instance_id, st);
		return CX_ERR_STATE;
	}
	if (strcmp(st, "stopped") == 0) {
		if (m->o->mode == CX_INSTANCE_WAIT) {
			cx_error("instance '%s' is stopped (cx-instance "
			    "ensure or start starts it)", inst->instance_id);
			return CX_ERR_STATE;
		}
		if ((r = do_start(m)) != 0)
			return r;
		if (m->o->mode == CX_INSTANCE_START)
			*done = 1;
		return 0;
	}
	if (strcmp(st, "stopping") == 0) {
		progress(m, PH_STOPPING);
		return 0;
	}
	if (strcmp(st, "pending") == 0) {
		if (m->o->mode == CX_INSTANCE_START) {
			*done = 1;
			return 0;
		}
		progress(m, PH_PENDING);
		return 0;
	}
	if (strcmp(st, "running") == 0) {
		if (m->o->mode == CX_INSTANCE_START) {
			*done = 1;
			return 0;
		}
		if ((r = check_ssm(m, &online)) != 0)
			return r;
		if (online)
			*done = 1;
		else
			progress(m, PH_SSM);
		return 0;
	}
	progress(m, PH_OTHER);
	return 0;
}

/* The steps' durations for the connect log (nothing without a journal):
 * describe (up to the first answer), start (the StartInstances call), and
 * the wait for the instance and its agent after them. */
static void
log_steps(const struct machine *m, uint64_t end)
{
	uint64_t from;

	if (!cx_connlog_active() || m->t_described == 0)
		return;
	cx_connlog_step("describe", m->t_described - m->t0);
	if (m->t_start1 != 0)
		cx_connlog_step("start", m->t_start1 - m->t_start0);
	from = m->t_start1 != 0 ? m->t_start1 : m->t_described;
	if (end > from)
		cx_connlog_step("wait", end - from);
}

int
cx_instance_run(const struct cx_instance_opts *o,
    const struct cx_instance_ops *ops, const char *id,
    struct cx_instance *inst)
{
	struct cx_instance_opts opts = *o;
	struct machine m;
	int r, done = 0;

	if (!cx_instance_id_valid(id)) {
		cx_error("invalid EC2 instance id '%s': it must be 'i-' and 8 "
		    "or 17 hexadecimal digits (i-1234567890abcdef0)", id);
		return CX_ERR_USAGE;
	}
	if ((inst->instance_id = strdup(id)) == NULL)
		return CX_ERR_NOMEM;
	if (opts.timeout_ms == 0)
		opts.timeout_ms = CX_INSTANCE_DEFAULT_TIMEOUT_MS;
	if (opts.poll_ms == 0)
		opts.poll_ms = CX_INSTANCE_DEFAULT_POLL_MS;
	if (opts.progress_ms == 0)
		opts.progress_ms = CX_INSTANCE_PROGRESS_MS;
	memset(&m, 0, sizeof(m));
	m.o = &opts;
	m.ops = ops;
	m.inst = inst;
	m.t0 = ops->now_ms(ops->arg);
	m.deadline = m.t0 + opts.timeout_ms;
	m.interval = opts.poll_ms;
	m.poll_max = opts.poll_ms * 5;
	for (;;) {
		r = step(&m, &done);
		if (r == 0) {
			m.last_temp = 0;
			if (done)
				break;
		} else if (!retry_later(&m, r)) {
			if (is_temporary(r))
				cx_error("cannot reach AWS about '%s'%s%s%s: "
				    "%s", id, opts.region ? " in region '" : "",
				    opts.region ? opts.region : "",
				    opts.region ? "'" : "", cx_strerror(r));
			break;
		}
		if ((r = pause(&m)) != 0)
			break;
	}
	inst->waited_ms = ops->now_ms(ops->arg) - m.t0;
	log_steps(&m, inst->waited_ms + m.t0);
	if (r == 0 && m.phase != PH_NONE)
		cx_info("Instance %s is %s after %lus", inst->instance_id,
		    opts.mode == CX_INSTANCE_START ? inst->state : "online",
		    elapsed_s(&m));
	return r;
}

int
cx_instance_to_json(const struct cx_instance *inst, cJSON **out)
{
	cJSON *o = NULL, *tags = NULL;
	int r = CX_ERR_NOMEM;

	*out = NULL;
	if ((o = cJSON_CreateObject()) == NULL)
		goto out;
	if (inst->tags != NULL)
		tags = cJSON_Duplicate(inst->tags, 1);
	else
		tags = cJSON_CreateObject();
	if (tags == NULL)
		goto out;
	if (cJSON_AddStringToObject(o, "InstanceId",
	    inst->instance_id ? inst->instance_id : "") == NULL)
		goto out;
	if ((inst->state ? cJSON_AddStringToObject(o, "State", inst->state) :
	    cJSON_AddNullToObject(o, "State")) == NULL)
		goto out;
	if ((inst->ping_status ? cJSON_AddStringToObject(o, "PingStatus",
	    inst->ping_status) : cJSON_AddNullToObject(o, "PingStatus")) ==
	    NULL)
		goto out;
	if ((inst->az ? cJSON_AddStringToObject(o, "AvailabilityZone",
	    inst->az) : cJSON_AddNullToObject(o, "AvailabilityZone")) == NULL)
		goto out;
	if (!cJSON_AddItemToObject(o, "Tags", tags))
		goto out;
	tags = NULL;	/* transferred */
	if (cJSON_AddBoolToObject(o, "Started", inst->started) == NULL ||
	    cJSON_AddNumberToObject(o, "WaitedSeconds",
	    (double)(inst->waited_ms / 100) / 10.0) == NULL)
		goto out;
	*out = o;
	o = NULL;	/* transferred */
	r = 0;
 out:
	cJSON_Delete(tags);
	cJSON_Delete(o);
	return r;
}
