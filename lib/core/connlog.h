/*
 * The record of every connect (docs/limits.md, "The connect log").
 *
 * One connect runs in several processes: the driver, its stages, then
 * cx-tunnel (exec'd).  They share a journal: a descriptor on an unlinked
 * file (a memfd) that the driver creates and names to its children in
 * $CX_CONNLOG_FD.  Each process appends short lines to it (fields, step
 * durations, and a copy of every cx_error() line); the last process of the
 * connect (the driver when it fails, else cx-tunnel at the first byte from
 * the instance or when it ends before) turns the journal into one JSON line
 * appended to ${XDG_STATE_HOME:-~/.local/state}/cloudx-proxy/connect.log
 * (cx_append_record(): one write under O_APPEND, 0600, folder 0700, the
 * trust rule, rotated to connect.log.1 past 1 MiB).
 *
 * Without a journal (a stage run by hand) every function here does
 * nothing.  Nothing here ever fails the connect: a log that cannot be
 * written costs one warning.  Never pass a secret.
 */
#ifndef CX_CONNLOG_H
#define CX_CONNLOG_H

#include <stdint.h>

#define CX_CONNLOG_ENV		"CX_CONNLOG_FD"
#define CX_CONNLOG_NAME		"connect.log"
#define CX_CONNLOG_ROTATE	(1024 * 1024)	/* bytes before rotation */
#define CX_CONNLOG_MAX_JOURNAL	(64 * 1024)	/* a journal read at most */

/* Takes the journal named by $CX_CONNLOG_FD, if any, and removes the
 * variable from the environment (children of this process do not write
 * to it).  Called by cx_os_init(). */
void cx_connlog_attach(void);
/* The driver: fd (not close-on-exec, offset 0) becomes the journal of this
 * process and is named in $CX_CONNLOG_FD for the children. */
int cx_connlog_start(int fd);
/* Names the journal for the program started next (the exec'd cx-tunnel),
 * as cx_fd_pass_arg does (needed on Windows, where a descriptor's number
 * means nothing to a child); 0 when there is no journal. */
int cx_connlog_handoff(void);
int cx_connlog_active(void);
/* Appends "F key value" (value sanitised, one line). */
void cx_connlog_field(const char *key, const char *val);
/* Appends "S name ms". */
void cx_connlog_step(const char *name, uint64_t ms);
/* Appends "E line" (cx_error() calls it with its sanitised line). */
void cx_connlog_error(const char *line, size_t n);
/*
 * Ends the connect's record: reads the journal, appends the JSON line to
 * the connect log with the outcome of exit status st ("connected" when the
 * first byte came, else "ok" for 0, "stopped" for 128+n, else "failed"
 * with the last error line), closes the journal.  first_byte: 1 when
 * called at the first byte from the instance.
 */
void cx_connlog_finish(int st, int first_byte);
/* The connect log's path; *out malloc'd. */
int cx_connlog_path(char **out);

#endif
