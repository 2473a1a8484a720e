/*
 * File-safety checks shared by the commands (lib/core/hardening_posix.c;
 * on Windows in os_win.c, judged on the DACL): stale temporary files of an
 * interrupted atomic write, and the permissions of files that hold
 * secrets, judged the way ssh judges a private key.
 */
#ifndef CX_HARDENING_H
#define CX_HARDENING_H

/*
 * Removes the temporary files that cx_write_file_atomic() leaves next to
 * path when its process is killed between creating and renaming one
 * ("<path>.tmp.XXXXXX", regular files owned by us).  Call it only while
 * holding the lock of path (cx_lock), so no live writer's file is taken.
 * Returns the number removed (errors are ignored: a stale file is only
 * clutter).
 */
int cx_tmp_cleanup(const char *path);

/*
 * ssh's rule for a private key: a key file that group or others may read
 * or write is refused ("permissions 0644 for 'K' are too open").  Returns
 * 0 when path is missing or private, else CX_ERR_INPUT after logging one
 * line with the chmod that fixes it.
 */
int cx_check_private_key(const char *path);

/*
 * For a file holding AWS secrets: warns once per path when group or
 * others may read it (the AWS CLI does not refuse, so neither do we).
 * Returns 1 when it warned, else 0.
 */
int cx_warn_if_readable(const char *path);

#endif
