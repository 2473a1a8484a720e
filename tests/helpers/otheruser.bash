# A second local user for the attacks that need one (issue 16: folders and
# files another user controls).  As root, other_user_create makes a
# throw-away system account (no home, no login shell) and sets OTHER_USER;
# other_user_remove (call it from teardown) deletes it.  Not root: the
# test is skipped, as only root can make an account and chown to it.
other_user_create() {
	[ "$(id -u)" = 0 ] || skip "needs root to create a second local user"
	command -v useradd >/dev/null || skip "useradd is not installed"
	OTHER_USER="cxo$$r$RANDOM"
	# another test run may hold the passwd lock for a moment: retry
	wait_until 20 useradd -M -N -r -s /usr/sbin/nologin "$OTHER_USER" || {
		echo "other_user_create: useradd $OTHER_USER failed" >&2
		OTHER_USER=
		return 1
	}
}

other_user_remove() {
	[ -n "${OTHER_USER:-}" ] || return 0
	wait_until 20 userdel "$OTHER_USER" ||
	    echo "other_user_remove: userdel $OTHER_USER failed" >&2
	OTHER_USER=
}

# lock_file PATH: the lock file cx_lock() takes for PATH (lib/core/os.h):
# <state>/cloudx-proxy/locks/<base>.<16 hex of sha256(resolved folder/base)>.lock
lock_file() {
	local dir base hash state
	dir=$(realpath "$(dirname "$1")")
	base=$(basename "$1")
	hash=$(printf '%s' "$dir/$base" | sha256sum | cut -c1-16)
	state=${XDG_STATE_HOME:-$HOME/.local/state}
	printf '%s/cloudx-proxy/locks/%s.%s.lock\n' "$state" "${base:0:64}" "$hash"
}
