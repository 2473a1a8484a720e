#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/connlog.h"
#include "core/cxerr.h"
#include "core/log.h"
#include "core/os.h"
#include "ssm/datachan.h"
#include "ssm/ssmmsg.h"
#include "ssm/ws.h"
#include "relay_loop.h"

#define OUT_HIGH	(64 * 1024)	/* stdout queue: stop reading the ws */
#define WS_HIGH		(64 * 1024)	/* ws send queue: stop producing */
#define WS_IN_LOW	(64 * 1024)	/* ws input buffered, unparsed: read
					 * more only below this, or when the
					 * next frame is incomplete */
#define STDIN_CHUNK	(64 * 1024)
#define WS_FILL_FULL	(64 * 1024)	/* a websocket read this big may have
					 * left more behind */
/*
 * When messages come less than ACK_HOLD_MS apart, their acks are held
 * back that long (or until ACK_HOLD_MAX of them wait, or anything else is
 * sent: they go with it), so that several go in one send.  Far below the
 * agent's shortest resend timeout (its RTT estimate + 10 ms, §10), and the
 * hold only adds to that estimate.  A lone message (typing) is acked at
 * once: holding its ack would cost a wakeup of its own.
 */
#define ACK_HOLD_MS	4
#define ACK_HOLD_MAX	32
/*
 * A download at the agent's pace (it sleeps 1 ms after each read of at
 * most 1 KiB from the port) comes as one full message per millisecond:
 * woken for each, the relay would spend most of its CPU on the wakeups.
 * When two wakeups in a row brought fewer than BATCH_MSGS messages, the
 * last one full (more is coming), the websocket is left unread for a
 * while so that the next wakeup takes several: BATCH_MIN_MS at first,
 * doubling while the stream stays like that, up to BATCH_MAX_MS.  So a
 * burst of a few KiB waits a few ms at most, a long download settles at
 * BATCH_MAX_MS batches; short messages (interactive traffic) never wait,
 * nor does stdin unless it brings only a trickle (typing, SSH window
 * updates: that waits for the batch and goes with its acks), and a stream
 * of more than BATCH_MSGS per wait never waits.  The acks of a batch go in one send, 0 to BATCH_MAX_MS late.
 * The agent's resend timeout (§10) is its RTT estimate plus the larger of
 * 10 ms and four mean deviations; acks late by 0..B ms raise the estimate
 * by about B/2 and the deviation to about B/4, so the timeout stays
 * above B.
 */
#define BATCH_MIN_MS	2
#define BATCH_MAX_MS	48
#define BATCH_MSGS	64
#define PING_MS		60000
#define UPGRADE_MS	45000
#define CLIENT_VERSION	"1.2.0.0"

struct tun {
	const struct cx_tunnel_opts *o;
	const struct cx_tunnel_ops *ops;
	struct cx_tunnel_session *sess;
	int in_fd, out_fd;
	struct cx_ws ws;
	struct cx_ws_conn *conn;
	int ws_live;
	int ws_fatal;		/* the transport said retrying cannot help */
	struct cx_dc dc;
	struct cx_ws_q outq;	/* bytes for stdout */
	char client_id[37];
	int stdin_eof, stdout_dead, finishing, finish_sent;
	uint64_t finish_at, next_ping, next_pace, hs_deadline;
	int ws_starved;		/* the parser wants more input */
	int ws_ready;		/* the socket said readable (or TLS holds
				 * bytes): read it */
	uint64_t now;		/* the clock of this wakeup */
	size_t held_acks;	/* acks queued and not flushed ... */
	size_t held_bytes;	/* ... their bytes in the ws queue ... */
	uint64_t held_since;	/* ... since then */
	uint64_t n_flushes;	/* ws flushes that sent acks (for -v) */
	uint64_t last_batch;	/* when messages last came */
	int frequent;		/* ... less than ACK_HOLD_MS before these */
	size_t batch_msgs;	/* Output messages delivered this wakeup */
	int batch_full;		/* the last of them was a full 1 KiB */
	uint64_t defer_until;	/* leave the websocket unread until then */
	long defer_ms;		/* the last such wait (0: none) */
	int full_reads;		/* reads in a row that ended in a full
				 * message */
	int stdin_small;	/* the last read of stdin brought less than
				 * a message (typing, SSH window updates) */
	int did_read;		/* this wakeup read the websocket */
	uint64_t n_wakeups, n_deferred; /* for -v */
	int stall_resumed;	/* resumed for a stall ... */
	uint64_t stall_progress; /* ... when dc.n_progress was this */
	unsigned char *inbuf;
	int sig_taken;		/* the relay began to finish on a signal */
	int first_out;		/* a byte went to stdout */
};

static long
opt_ms(long v, long def)
{
	return v > 0 ? v : def;
}

static size_t
q_live(const struct cx_ws_q *q)
{
	return q->len - q->off;
}

/* datachan -> websocket; acks are counted so that they can be held */
static int
cb_send(void *ctx, const void *frame, size_t n)
{
	struct tun *t = ctx;
	size_t before;
	int r;

	if (!t->ws_live)
		return 0;	/* sequenced messages stay in the window */
	before = cx_ws_pending(&t->ws);
	if ((r = cx_ws_send(&t->ws, CX_WS_OP_BINARY, frame, n)) != 0)
		return r;
	if (n > 4 + sizeof(CX_SSM_ACK) - 1 &&
	    memcmp((const unsigned char *)frame + 4, CX_SSM_ACK,
	    sizeof(CX_SSM_ACK) - 1) == 0) {
		if (t->held_acks++ == 0)
			t->held_since = t->now;
		t->held_bytes += cx_ws_pending(&t->ws) - before;
	}
	return 0;
}

/* datachan -> stdout queue */
static int
cb_deliver(void *ctx, const void *p, size_t n)
{
	struct tun *t = ctx;
	struct cx_ws_q *q = &t->outq;
	unsigned char *d;
	size_t live = q_live(q), nc;

	t->batch_msgs++;
	t->batch_full = n == CX_SSMMSG_CHUNK;
	if (t->stdout_dead)
		return 0;
	if (q->cap - q->len < n) {
		if (q->off > 0) {
			memmove(q->data, q->data + q->off, live);
			q->off = 0;
			q->len = live;
		}
		if (q->cap - q->len < n) {
			nc = q->cap ? q->cap : 64 * 1024;
			while (nc - live < n)
				nc *= 2;
			if ((d = realloc(q->data, nc)) == NULL)
				return CX_ERR_NOMEM;
			q->data = d;
			q->cap = nc;
		}
	}
	memcpy(q->data + q->len, p, n);
	q->len += n;
	return 0;
}

static void
drop_ws(struct tun *t)
{
	if (t->ws_live || t->conn != NULL)
		cx_ws_clean_up(&t->ws);
	t->ws_live = 0;
	t->held_acks = t->held_bytes = 0;
	t->defer_until = 0;
	t->defer_ms = 0;
	t->full_reads = 0;
	cx_dc_disconnected(&t->dc);
	cx_ws_conn_free(t->conn);
	t->conn = NULL;
}

/* Waits (at most until deadline) for fd to be ready for ev. */
static int
wait_fd(int fd, short ev, uint64_t deadline)
{
	struct cx_os_pfd p = { fd, (ev & POLLIN ? CX_OS_IN : 0) |
	    (ev & POLLOUT ? CX_OS_OUT : 0), 0 };
	uint64_t now = cx_now_ms();

	if (now >= deadline)
		return CX_ERR_TIMEOUT;
	if (cx_os_poll(&p, 1, (int)(deadline - now)) < 0)
		return CX_ERR_IO;
	return 0;
}

/* Waits for the websocket's socket (reading, and writing when frames are
 * queued); not at all while TLS holds decrypted bytes.  While connecting
 * (cancellable) a signal ends the wait: CX_ERR_CANCELLED. */
static int
wait_ws(struct tun *t, uint64_t deadline, int cancellable)
{
	int fd, r;
	short ev;

	if (cx_ws_conn_pending(t->conn))
		return 0;
	fd = cx_ws_conn_fd(t->conn);
	ev = cx_ws_conn_events(t->conn, cx_ws_pending(&t->ws) ?
	    POLLIN | POLLOUT : POLLIN);
	if (!cancellable)
		return wait_fd(fd, ev, deadline);
	r = cx_wait_fd(fd, ev, deadline);
	return r == CX_ERR_IO ? CX_ERR_NETWORK : r;
}

/* Opens the websocket to sess->stream_url and sends OpenDataChannel. */
static int
connect_ws(struct tun *t)
{
	struct cx_ws_conn_opts co = { t->o->ca_bundle, 30000, &t->ws_fatal };
	struct cx_ws_io io;
	char *curl_url = NULL, *host = NULL, *target = NULL, *open = NULL;
	char **hdrs = NULL, rid[37];
	const unsigned char *d;
	size_t nh = 0, l;
	uint64_t deadline = cx_now_ms() + UPGRADE_MS;
	int r, op;

	if ((r = cx_ws_url_split(t->sess->stream_url, &curl_url, &host,
	    &target)) != 0) {
		cx_error("bad StreamUrl from the session");
		goto out;
	}
	cx_debug(1, "connecting the data channel to '%s'", host);
	if ((r = cx_ws_conn_open(curl_url, &co, &t->conn)) != 0)
		goto out;
	cx_ws_conn_io(t->conn, &io);
	cx_ws_init(&t->ws, &io, 0);
	if (t->ops->sign != NULL &&
	    (r = t->ops->sign(t->ops->ctx, host, target, &hdrs, &nh)) != 0)
		goto out;
	if ((r = cx_ws_start(&t->ws, host, target, (const char *const *)hdrs,
	    nh)) != 0)
		goto out;
	for (;;) {
		if ((r = cx_ws_flush(&t->ws)) != 0)
			goto out;
		if ((r = (int)cx_ws_fill(&t->ws)) < 0)
			goto out;
		r = cx_ws_next(&t->ws, &op, &d, &l);
		if (r == CX_WS_OPENED)
			break;
		if (r < 0) {
			if (t->ws.http_status == 401 ||
			    t->ws.http_status == 403) {
				cx_error("the data channel refused the "
				    "connection: HTTP %d", t->ws.http_status);
				r = CX_ERR_DENIED;
			}
			goto out;
		}
		if ((r = wait_ws(t, deadline, 1)) != 0)
			goto out;
	}
	if ((r = cx_uuid4(rid)) != 0 ||
	    (r = cx_ssm_open_json(rid, t->sess->token, t->client_id,
	    CLIENT_VERSION, &open)) != 0)
		goto out;
	if ((r = cx_ws_send(&t->ws, CX_WS_OP_TEXT, open, strlen(open))) != 0 ||
	    (r = cx_ws_send(&t->ws, CX_WS_OP_PING, "keepalive", 9)) != 0)
		goto out;
	/* the queued OpenDataChannel holds the token: wipe it once sent */
	t->ws.secret_end = t->ws.out.len;
	if ((r = cx_ws_flush(&t->ws)) != 0)
		goto out;
	t->ws_live = 1;
	t->next_ping = cx_now_ms() + PING_MS;
	cx_dc_reconnected(&t->dc);
	r = 0;
 out:
	if (r != 0) {
		if (r == CX_WS_NONE || r > 0)
			r = CX_ERR_NETWORK;
		if (t->conn != NULL)
			cx_ws_clean_up(&t->ws);
		cx_ws_conn_free(t->conn);
		t->conn = NULL;
		if (r == CX_ERR_PROTOCOL || r == CX_ERR_TIMEOUT)
			r = CX_ERR_NETWORK;
	}
	cx_freezero_str(open);
	cx_tunnel_free_headers(hdrs, nh);
	free(curl_url);
	free(host);
	free(target);
	return r;
}

static long
jitter_ms(void)
{
	unsigned char b;

	if (cx_random_bytes(&b, 1) != 0)
		b = 50;
	return 100 + b % 100;
}

/* The websocket is gone: ResumeSession and reconnect (§12). */
static int
reconnect(struct tun *t)
{
	uint64_t deadline = cx_now_ms() + (uint64_t)opt_ms(
	    t->o->resume_deadline_ms, 60000);
	long delay = jitter_ms();
	int r, attempt = 0;

	drop_ws(t);
	cx_info("data channel lost, resuming session '%s'",
	    t->sess->session_id ? t->sess->session_id : "");
	for (;;) {
		attempt++;
		r = t->ops->resume != NULL ?
		    t->ops->resume(t->ops->ctx, t->sess) : CX_ERR_SESSION;
		if (r == CX_ERR_CANCELLED)
			return r;	/* a signal: main() says so */
		if (r == CX_ERR_SESSION || r == CX_ERR_DENIED ||
		    r == CX_ERR_LOGIN)
			break;
		if (r == 0 && (r = connect_ws(t)) == 0) {
			cx_info("data channel resumed (attempt %d)", attempt);
			return 0;
		}
		if (r == CX_ERR_CANCELLED)
			return r;
		if (r == CX_ERR_DENIED || t->ws_fatal)
			break;
		cx_debug(1, "resume attempt %d failed: %s", attempt,
		    cx_strerror(r));
		if (cx_now_ms() + (uint64_t)delay >= deadline)
			break;
		if ((r = cx_sleep_ms(delay)) != 0)
			return r;
		delay *= 2;
		if (delay > 5000)
			delay = jitter_ms();
	}
	cx_error("session '%s' lost and not resumable: %s",
	    t->sess->session_id ? t->sess->session_id : "", cx_strerror(r));
	return CX_ERR_SESSION;
}

static void
begin_finish(struct tun *t, const char *why)
{
	if (t->finishing)
		return;
	cx_debug(1, "%s: ending the session", why);
	t->finishing = 1;
	t->finish_at = cx_now_ms();
}

/* Writes what is queued for stdout; returns 1 if something was written. */
static int
write_stdout(struct tun *t)
{
	struct cx_ws_q *q = &t->outq;
	ssize_t n;
	int again;

	if (q_live(q) == 0 || t->stdout_dead)
		return 0;
	n = cx_os_write(t->out_fd, q->data + q->off, q_live(q), &again);
	if (again)
		return 0;
	if (n < 0) {
		cx_debug(1, "stdout: %s", strerror(errno));
		t->stdout_dead = 1;
		q->off = q->len = 0;
		begin_finish(t, "stdout closed");
		return 0;
	}
	q->off += (size_t)n;
	if (q->off == q->len)
		q->off = q->len = 0;
	if (!t->first_out) {
		/* the connect's record ends at the first byte from the
		 * instance (nothing without a journal) */
		t->first_out = 1;
		cx_connlog_finish(0, 1);
	}
	return 1;
}

/* At the end: gives stdout its remaining bytes (bounded wait). */
static void
drain_stdout(struct tun *t, long ms)
{
	uint64_t deadline = cx_now_ms() + (uint64_t)ms;

	while (q_live(&t->outq) > 0 && !t->stdout_dead) {
		write_stdout(t);
		if (q_live(&t->outq) > 0 &&
		    wait_fd(t->out_fd, POLLOUT, deadline) != 0)
			break;
	}
}

/* Sends a close frame and waits a little for the peer's. */
static void
close_ws(struct tun *t, long ms)
{
	uint64_t deadline = cx_now_ms() + (uint64_t)ms;
	const unsigned char *d;
	size_t l;
	int op, r;

	if (!t->ws_live)
		return;
	if (cx_ws_close(&t->ws, 1000) != 0)
		return;
	for (;;) {
		if (cx_ws_flush(&t->ws) != 0 || cx_ws_fill(&t->ws) < 0)
			break;
		while ((r = cx_ws_next(&t->ws, &op, &d, &l)) == CX_WS_MSG)
			;
		if (r != CX_WS_NONE)
			break;
		if (wait_ws(t, deadline, 0) != 0)
			break;
	}
	drop_ws(t);
}

static int
initial_connect(struct tun *t)
{
	long delay = jitter_ms();
	int r, i;

	/* like the plugin: 5 more tries with the same token */
	for (i = 0; ; i++) {
		if ((r = connect_ws(t)) == 0)
			return 0;
		if (r == CX_ERR_CANCELLED)
			return r;	/* a signal: main() says so */
		if (i == 5 || r == CX_ERR_NOMEM || r == CX_ERR_DENIED ||
		    t->ws_fatal)
			break;
		cx_debug(1, "data channel attempt %d failed: %s; again in "
		    "%ld ms", i + 1, cx_strerror(r), delay);
		if ((r = cx_sleep_ms(delay)) != 0)
			return r;
		delay *= 2;
	}
	cx_error("cannot open the data channel: %s", cx_strerror(r));
	return r;
}

static long
min_timeout(long a, long b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static long
until(uint64_t when, uint64_t now)
{
	return when > now ? (long)(when - now) : 0;
}

/*
 * Whether the queued acks may wait for company: only acks are queued,
 * the session streams, and neither their age nor their number is up.
 */
static int
hold_acks(const struct tun *t)
{
	return t->held_acks > 0 && t->held_acks < ACK_HOLD_MAX &&
	    t->frequent && t->defer_until == 0 &&
	    t->dc.state == CX_DC_STREAMING && !t->finishing &&
	    cx_ws_pending(&t->ws) == t->held_bytes &&
	    t->now + 1 < t->held_since + ACK_HOLD_MS;
}

/* One pass over what can be done without waiting; *lost set when the
 * websocket broke.  Returns 0, 1 (session over) or a negative error. */
static int
step(struct tun *t, uint64_t now, int *lost)
{
	const unsigned char *d;
	size_t l, pend, budget;
	uint64_t sent;
	int op, r, i;

	t->ws_starved = 0;
	while (t->ws_live && q_live(&t->outq) < OUT_HIGH) {
		r = cx_ws_next(&t->ws, &op, &d, &l);
		if (r == CX_WS_NONE) {
			t->ws_starved = 1;
			break;
		}
		if (r == CX_WS_MSG) {
			if ((r = cx_dc_on_message(&t->dc, d, l, now)) < 0)
				return r;
			if (r == 1)
				return 1;
			continue;
		}
		if (r == CX_WS_PEER_CLOSED)
			cx_debug(1, "data channel closed by the peer (%d)",
			    t->ws.close_code);
		else
			cx_debug(1, "data channel: %s", cx_strerror(r));
		*lost = 1;
		return 0;
	}
	if (t->batch_msgs > 0) {
		t->frequent = now < t->last_batch + ACK_HOLD_MS;
		t->last_batch = now;
	}
	/* what a read brought: a paced bulk stream?  Then let the next
	 * messages gather (BATCH_MS) */
	if (t->did_read) {
		t->did_read = 0;
		t->defer_until = 0;
		if (t->batch_msgs > 0)
			t->full_reads = t->batch_full ? t->full_reads + 1 : 0;
		/* not for one full message alone: an SSH key exchange
		 * answer is a little over 1 KiB */
		if (t->batch_msgs > 0 && t->batch_msgs < BATCH_MSGS &&
		    t->batch_full && t->full_reads >= 2 && t->ws_starved &&
		    !t->ws_ready && t->dc.state == CX_DC_STREAMING &&
		    !t->finishing) {
			t->defer_ms = t->defer_ms == 0 ? BATCH_MIN_MS :
			    t->defer_ms * 2;
			if (t->defer_ms > BATCH_MAX_MS)
				t->defer_ms = BATCH_MAX_MS;
			t->defer_until = now + (uint64_t)t->defer_ms;
			t->n_deferred++;
		} else if (t->batch_msgs > 0)
			t->defer_ms = 0;
	} else if (t->defer_until != 0 && now + 1 >= t->defer_until)
		t->defer_until = 0;
	t->batch_msgs = 0;
	if (t->dc.customer_message != NULL) {
		if (t->dc.customer_message[0] != '\0')
			cx_info("%s", t->dc.customer_message);
		free(t->dc.customer_message);
		t->dc.customer_message = NULL;
	}
	if (!t->ws_live)
		return 0;
	if (now >= t->next_ping) {
		if ((r = cx_ws_send(&t->ws, CX_WS_OP_PING, "keepalive", 9)) != 0)
			return r;
		t->next_ping = now + PING_MS;
	}
	/*
	 * New messages up to WS_HIGH queued bytes, then one send for them
	 * and the acks; again while the socket took it all and more waits
	 * (bounded: the loop comes back here anyway).
	 */
	for (i = 0; i < 4; i++) {
		pend = cx_ws_pending(&t->ws);
		sent = t->dc.n_sent;
		if (pend < WS_HIGH) {
			budget = (WS_HIGH - pend) /
			    (CX_SSMMSG_HDR + CX_SSMMSG_CHUNK) + 1;
			if (t->o->pacing_ms > 0)
				budget = now >= t->next_pace ? 1 : 0;
			if ((r = cx_dc_pump(&t->dc, now, budget)) != 0)
				return r;
			if (t->dc.n_sent != sent && t->o->pacing_ms > 0)
				t->next_pace = now + (uint64_t)t->o->pacing_ms;
		}
		if (hold_acks(t))
			return 0;
		if (t->held_acks > 0)
			t->n_flushes++;
		t->held_acks = t->held_bytes = 0;
		if (cx_ws_flush(&t->ws) != 0) {
			*lost = 1;
			return 0;
		}
		if (t->dc.n_sent == sent || cx_ws_pending(&t->ws) > 0 ||
		    t->o->pacing_ms > 0 || t->dc.out_unsent >= t->dc.out_next)
			break;
	}
	return 0;
}

/*
 * Read the websocket only while stdout has room and what is buffered is
 * little or not yet a whole frame: backpressure reaches the gateway
 * through TCP instead of piling up here.
 */
static int
want_input(const struct tun *t)
{
	return q_live(&t->outq) < OUT_HIGH &&
	    (t->ws.in.len - t->ws.in.off < WS_IN_LOW || t->ws_starved);
}

/* want_input(), unless a batch is gathering */
static int
reading(const struct tun *t)
{
	return want_input(t) && (t->defer_until == 0 ||
	    t->now + 1 >= t->defer_until);
}

static uint64_t
stall_ms(const struct tun *t)
{
	return (uint64_t)opt_ms(t->o->stall_ms, 20000);
}

/*
 * Messages in flight and none acked for stall_ms: the connection is dead
 * without saying so (a NAT forgot it, the gateway hung).  Resume the
 * session once; if nothing moves after that either, give up.
 */
static int
check_stall(struct tun *t, uint64_t now)
{
	uint64_t st = cx_dc_stalled_ms(&t->dc, now);

	if (st < stall_ms(t))
		return 0;
	if (t->stall_resumed && t->dc.n_progress == t->stall_progress) {
		cx_error("the data channel stalled: nothing acknowledged for "
		    "%llu s, even after resuming the session",
		    (unsigned long long)(st / 1000));
		return CX_ERR_SESSION;
	}
	cx_warn("nothing acknowledged for %llu s: reconnecting the data "
	    "channel", (unsigned long long)(st / 1000));
	t->stall_resumed = 1;
	t->stall_progress = t->dc.n_progress;
	return reconnect(t);
}

/*
 * Reads the websocket if the last wait said it is readable: one read of
 * everything the socket holds (up to the buffer's room, at least 64 KiB).
 * A read that filled that much may have left more: read again next time
 * round without waiting.  Returns 0, or 1 if the websocket broke.
 */
static int
read_ws(struct tun *t)
{
	long fr;

	if (!t->ws_live || !reading(t))
		return 0;
	/* a batch gathered: read it without asking poll first */
	if (t->defer_until != 0) {
		t->defer_until = 0;
		t->ws_ready = 1;
	}
	if (!t->ws_ready && !cx_ws_conn_pending(t->conn))
		return 0;
	t->ws_ready = 0;
	if ((fr = cx_ws_fill(&t->ws)) < 0)
		return 1;
	t->did_read = fr > 0;
	if (fr >= WS_FILL_FULL)
		t->ws_ready = 1;
	return 0;
}

/* The poll timeout (ms, -1: none) for what the timers and queues need. */
static long
wait_ms(struct tun *t, uint64_t now)
{
	long tmo;

	tmo = cx_dc_timeout_ms(&t->dc, now);
	tmo = min_timeout(tmo, until(t->next_ping, now));
	if (t->o->pacing_ms > 0 && t->dc.out_unsent < t->dc.out_next)
		tmo = min_timeout(tmo, until(t->next_pace, now));
	if (t->dc.state == CX_DC_HANDSHAKE)
		tmo = min_timeout(tmo, until(t->hs_deadline, now));
	if (cx_dc_stalled_ms(&t->dc, now) > 0)
		tmo = min_timeout(tmo, (long)(stall_ms(t) -
		    cx_dc_stalled_ms(&t->dc, now)));
	if (t->finishing)
		tmo = min_timeout(tmo, until(t->finish_at +
		    (uint64_t)opt_ms(t->o->drain_ms, 5000), now));
	if (t->held_acks > 0)
		tmo = min_timeout(tmo, until(t->held_since + ACK_HOLD_MS, now));
	if (t->ws_live && t->defer_until > now)
		tmo = min_timeout(tmo, until(t->defer_until, now));
	/* more to read, or whole frames left unparsed while stdout was full */
	if (t->ws_live && reading(t) && (t->ws_ready ||
	    cx_ws_conn_pending(t->conn)))
		tmo = 0;
	if (t->ws_live && want_input(t) && !t->ws_starved)
		tmo = 0;
	return tmo;
}

/*
 * The loop: one wait (cx_ppoll) per batch, then everything the batch
 * brought: one read of the websocket, every whole message in it parsed
 * and acked, one send of what that produced (acks and data together), one
 * write of what goes to stdout, one read of stdin.
 */
static int
relay(struct tun *t)
{
	struct pollfd pf[4];
	sigset_t none;
	struct timespec ts, *tsp;
	uint64_t now;
	size_t room;
	ssize_t n;
	long tmo;
	int r, lost, ni, si, oi, np, pn, again;

	sigemptyset(&none);
	t->ws_ready = 1;
	for (;;) {
		now = t->now = cx_now_ms();
		cx_dc_clock(&t->dc, cx_wall_ms());
		t->n_wakeups++;
		lost = 0;
		if (t->finishing && !t->finish_sent) {
			t->finish_sent = 1;
			if ((r = cx_dc_finish(&t->dc, now)) != 0)
				return r;
		}
		lost = read_ws(t);
		if (!lost && (r = step(t, now, &lost)) != 0)
			return r;
		if (t->dc.state == CX_DC_DONE)
			return 0;
		if (t->dc.state == CX_DC_HANDSHAKE && now >= t->hs_deadline) {
			cx_error("no handshake from the agent within %ld s",
			    opt_ms(t->o->handshake_ms, 30000) / 1000);
			return CX_ERR_DEADLINE;
		}
		if ((r = check_stall(t, now)) != 0)
			return r;
		if (t->finishing && now >= t->finish_at +
		    (uint64_t)opt_ms(t->o->drain_ms, 5000)) {
			if (cx_dc_unacked(&t->dc) > 0)
				cx_warn("%zu messages were not acknowledged "
				    "before the end", cx_dc_unacked(&t->dc));
			return 0;
		}
		write_stdout(t);
		if (lost) {
			if (t->finishing && t->dc.state != CX_DC_DRAINING &&
			    t->dc.state != CX_DC_TERMINATING)
				return 0;
			if ((r = reconnect(t)) != 0)
				return r;
			t->ws_ready = 1;
			continue;
		}
		np = 0;
		si = oi = ni = -1;
		room = cx_dc_room(&t->dc);
		/* while a batch gathers, a trickle on stdin waits for it (its
		 * data then goes with the batch's acks); a stream does not */
		if (!t->stdin_eof && !t->finishing && room > 0 &&
		    !(t->stdin_small && t->defer_until > now + 1)) {
			pf[np].fd = t->in_fd;
			pf[np].events = POLLIN;
			ni = np++;
		}
		if (q_live(&t->outq) > 0 && !t->stdout_dead) {
			pf[np].fd = t->out_fd;
			pf[np].events = POLLOUT;
			oi = np++;
		}
		pf[np].fd = cx_ws_conn_fd(t->conn);
		pf[np].events = cx_ws_conn_events(t->conn,
		    (reading(t) ? POLLIN : 0) |
		    (cx_ws_pending(&t->ws) > t->held_bytes ? POLLOUT : 0));
		si = np++;
		/* a signal: the self-pipe (os.h), until the finish began */
		if (!t->sig_taken && cx_sig_sock() >= 0) {
			pf[np].fd = cx_sig_sock();
			pf[np].events = POLLIN;
			np++;
		}
		tmo = wait_ms(t, now);
		tsp = NULL;
		if (tmo >= 0) {
			ts.tv_sec = tmo / 1000;
			ts.tv_nsec = (tmo % 1000) * 1000000L;
			tsp = &ts;
		}
		if ((pn = cx_ppoll(pf, (nfds_t)np, tsp, &none)) < 0 &&
		    errno != EINTR)
			return CX_ERR_IO;
		if (!t->sig_taken && cx_sig_pending()) {
			/* the session is up: end it cleanly, as at EOF */
			cx_debug(1, "%s", cx_sig_name(cx_sig_pending()));
			t->sig_taken = 1;
			t->stdin_eof = 1;
			begin_finish(t, "signal");
			continue;
		}
		if (pn <= 0)
			continue;	/* EINTR, or a timer */
		if (pf[si].revents != 0)
			t->ws_ready = 1;
		/* a dead socket: no batch to gather */
		if (pf[si].revents & (POLLERR | POLLHUP | POLLNVAL))
			t->defer_until = 0;
		if (oi >= 0 && (pf[oi].revents & (POLLERR | POLLHUP | POLLNVAL)) &&
		    !(pf[oi].revents & POLLOUT)) {
			t->stdout_dead = 1;
			begin_finish(t, "stdout closed");
		}
		if (ni >= 0 && pf[ni].revents) {
			if (room > STDIN_CHUNK)
				room = STDIN_CHUNK;
			n = cx_os_read(t->in_fd, t->inbuf, room, &again);
			t->stdin_small = n > 0 && n < CX_SSMMSG_CHUNK;
			if (n > 0) {
				/* CreatedDate: now, not before the wait */
				now = t->now = cx_now_ms();
				cx_dc_clock(&t->dc, cx_wall_ms());
				if ((r = cx_dc_write(&t->dc, t->inbuf,
				    (size_t)n, now)) != 0)
					return r;
			} else if (!again) {
				t->stdin_eof = 1;
				begin_finish(t, "end of input");
			}
		}
	}
}

int
cx_tunnel_run(const struct cx_tunnel_opts *o,
    const struct cx_tunnel_ops *ops, struct cx_tunnel_session *sess,
    int in_fd, int out_fd)
{
	struct cx_dc_opts dco = { o->window, 0, CLIENT_VERSION };
	struct cx_dc_cb cb = { cb_send, cb_deliver, NULL };
	struct cx_usage ru;
	struct tun t;
	int r;

	memset(&t, 0, sizeof(t));
	t.o = o;
	t.ops = ops;
	t.sess = sess;
	t.in_fd = in_fd;
	t.out_fd = out_fd;
	cb.ctx = &t;
	if ((t.inbuf = malloc(STDIN_CHUNK)) == NULL)
		return CX_ERR_NOMEM;
	if ((r = cx_dc_init(&t.dc, &dco, &cb)) != 0) {
		free(t.inbuf);
		return r;
	}
	/*
	 * SIGHUP, SIGINT, SIGTERM are taken everywhere (os.h): every wait
	 * while connecting ends on them (CX_ERR_CANCELLED), the relay loop
	 * polls their self-pipe and ends the session cleanly.
	 */
	if ((r = cx_sig_catch()) != 0 || (r = cx_uuid4(t.client_id)) != 0)
		goto out;
	if (sess->token == NULL || sess->stream_url == NULL) {
		if ((r = cx_tunnel_start(ops, sess, o->start_deadline_ms)) != 0)
			goto out;
	}
	cx_debug(1, "session '%s' started", sess->session_id ?
	    sess->session_id : "");
	if ((r = initial_connect(&t)) != 0)
		goto out;
	t.hs_deadline = cx_now_ms() + (uint64_t)opt_ms(o->handshake_ms, 30000);
	r = relay(&t);
	if (r == 1 || t.dc.closed) {
		/* channel_closed */
		drain_stdout(&t, 5000);
		if (t.dc.close_output != NULL && t.dc.close_output[0] != '\0') {
			cx_error("session closed: %s", t.dc.close_output);
			r = CX_ERR_SESSION;
		} else {
			cx_debug(1, "session closed by the service");
			r = 0;
		}
	} else
		drain_stdout(&t, 2000);
	close_ws(&t, 1000);
	if (cx_log_verbosity() >= 1 && cx_usage(0, &ru) == 0) {
		cx_debug(1, "cpu %ld.%06ld s user, %ld.%06ld s system, "
		    "peak rss %ld KiB", (long)(ru.user_us / 1000000),
		    (long)(ru.user_us % 1000000), (long)(ru.sys_us / 1000000),
		    (long)(ru.sys_us % 1000000), ru.maxrss_kib);
		/* cx-session runs (if any): short-lived, not in the above */
		if (cx_usage(1, &ru) == 0 && ru.maxrss_kib > 0)
			cx_debug(1, "helpers: cpu %ld.%06ld s, peak rss %ld KiB",
			    (long)((ru.user_us + ru.sys_us) / 1000000),
			    (long)((ru.user_us + ru.sys_us) % 1000000),
			    ru.maxrss_kib);
	}
	cx_debug(1, "%llu wakeups, %llu of them followed by a batch wait; "
	    "%llu acks in %llu sends", (unsigned long long)t.n_wakeups,
	    (unsigned long long)t.n_deferred,
	    (unsigned long long)t.dc.n_acks_out,
	    (unsigned long long)t.n_flushes);
	cx_debug(1, "sent %llu messages (%llu resent), %llu bytes up, "
	    "%llu down; %llu duplicates, %llu reordered, %llu corrupted, "
	    "%llu unknown", (unsigned long long)t.dc.n_sent,
	    (unsigned long long)t.dc.n_resent,
	    (unsigned long long)t.dc.bytes_up,
	    (unsigned long long)t.dc.bytes_down,
	    (unsigned long long)t.dc.n_dup,
	    (unsigned long long)t.dc.n_reordered,
	    (unsigned long long)t.dc.n_corrupt,
	    (unsigned long long)t.dc.n_unknown);
 out:
	drop_ws(&t);
	cx_dc_clean_up(&t.dc);
	free(t.outq.data);
	free(t.inbuf);
	return r;
}
