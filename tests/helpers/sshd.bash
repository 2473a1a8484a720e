# Bash helpers: a throw-away OpenSSH sshd on 127.0.0.1 that stands for one EC2 instance and
# accepts ONLY keys pushed to the stand-in with EC2 Instance Connect (AuthorizedKeysFile none +
# AuthorizedKeysCommand = tests/standin/authorized-keys).
#
#   load ../helpers/standin ; load ../helpers/sshd
#   standin_start ...                 (first: sshd needs $STANDIN_URL)
#   sshd_start [INSTANCE_ID]          default $SSHD_INSTANCE or i-0123456789abcdef0; exports
#        SSHD_PORT SSHD_PID SSHD_DIR SSHD_LOG SSHD_CONFIG SSHD_HOSTKEY_PUB (path of the public
#        host key file) SSHD_USER (the login user) SSHD_INSTANCE
#     and, when a stand-in runs, maps the instance to this sshd (config `targets`).
#     SSHD_LOGIN_USER=ec2-user sshd_start ...: log in as that real local account, as on an
#        instance (created once, idempotently, when running as root; see below).
#   sshd_known_hosts NAME...          print known_hosts lines for NAME(s) with this host key
#   sshd_stop                         SIGTERM by PID, wait (bounded)
#
# Login user: root when the tests run as root (CI does; sshd then runs in a private mount
# namespace with its own tmpfs /run so that /run/sshd exists without touching the host),
# otherwise the current user (sshd runs unprivileged and can only log that user in).
# With SSHD_LOGIN_USER set (e.g. ec2-user, the user the generated ssh config logs in as) and
# running as root, that account is created if missing (useradd -m, shell /bin/sh, password
# field '*': sshd without PAM refuses a locked '!' account) and is the login user, so that
# `ssh <host>` through the generated config logs in exactly as configured.  Not root: we
# cannot create accounts and an unprivileged sshd can only log its own user in, so SSHD_USER
# stays the current user and the caller must pass `-o User=$SSHD_USER` (keys are then pushed
# for, and served for, that user).

SSHD_HELPERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SSHD_AUTHKEYS_CMD="${SSHD_AUTHKEYS_CMD:-$(cd "$SSHD_HELPERS_DIR/../standin" && pwd)/authorized-keys}"
SSHD_BIN="${SSHD_BIN:-/usr/sbin/sshd}"

# _sshd_path_safe PATH: 0 if sshd (as root) accepts PATH as AuthorizedKeysCommand: it and
# every folder up to / owned by root and not group/world writable (so not under /tmp).
_sshd_path_safe() {
    local p
    p="$(readlink -f "$1")" || return 1
    while :; do
        [[ "$(stat -c %u "$p")" == 0 ]] || return 1
        (( (8#$(stat -c %a "$p") & 8#022) == 0 )) || return 1
        [[ "$p" == / ]] && return 0
        p="$(dirname "$p")"
    done
}

# free_port, stop_pid
. "$(dirname "${BASH_SOURCE[0]}")/proc.bash"

# _sshd_ensure_user NAME: a real local account NAME that sshd (UsePAM no) accepts; idempotent.
_sshd_ensure_user() {
    local u="$1" pw
    if ! getent passwd "$u" >/dev/null; then
        # a concurrent run may win the race: then the account exists and that is fine
        useradd -m -s /bin/sh "$u" 2>/dev/null || getent passwd "$u" >/dev/null || {
            echo "sshd_start: cannot create the local account '$u' (useradd)" >&2
            return 1
        }
    fi
    pw="$(getent shadow "$u" | cut -d: -f2)"
    if [[ "$pw" == '!'* || -z "$pw" ]]; then
        usermod -p '*' "$u" || return 1
    fi
}

sshd_start() {
    SSHD_INSTANCE="${1:-${SSHD_INSTANCE:-i-0123456789abcdef0}}"
    if [[ -z "${STANDIN_URL:-}" ]]; then
        echo "sshd_start: start the stand-in first (STANDIN_URL is empty)" >&2
        return 1
    fi
    local base="${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}}"
    SSHD_DIR="$(mktemp -d "$base/sshd.XXXXXX")" || return 1
    SSHD_LOG="$SSHD_DIR/sshd.log"
    SSHD_CONFIG="$SSHD_DIR/sshd_config"
    SSHD_USER="$(id -un)"
    if [[ -n "${SSHD_LOGIN_USER:-}" && "$(id -u)" == 0 ]]; then
        _sshd_ensure_user "$SSHD_LOGIN_USER" || return 1
        SSHD_USER="$SSHD_LOGIN_USER"
    fi
    ssh-keygen -q -t ed25519 -N '' -C "standin-sshd" -f "$SSHD_DIR/hostkey" || return 1
    # As root sshd refuses a command under a world-writable folder (a checkout in /tmp): it
    # then gets a copy in its private /run (see below).
    local akc="$SSHD_AUTHKEYS_CMD" akc_copy=
    if [[ "$(id -u)" == 0 ]] && ! _sshd_path_safe "$akc"; then
        akc_copy="$akc"
        akc=/run/cx-sshd/authorized-keys
    fi
    SSHD_HOSTKEY_PUB="$SSHD_DIR/hostkey.pub"
    local attempt
    for attempt in 1 2 3 4 5; do
        SSHD_PORT="$(free_port)"
        cat >"$SSHD_CONFIG" <<CFG
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $SSHD_DIR/hostkey
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile none
AuthorizedKeysCommand $akc $STANDIN_URL %u $SSHD_INSTANCE
AuthorizedKeysCommandUser $(id -un)
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
UseDNS no
LogLevel VERBOSE
CFG
        : >"$SSHD_LOG"
        if [[ "$(id -u)" == 0 ]]; then
            # private /run: sshd as root insists on /run/sshd (privilege separation directory)
            unshare --mount --propagation private sh -c \
                'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd &&
                 if [ -n "$2" ]; then mkdir -m 755 /run/cx-sshd &&
                     cp "$2" /run/cx-sshd/authorized-keys && chmod 755 /run/cx-sshd/authorized-keys; fi &&
                 exec "$0" -D -e -f "$1"' \
                "$SSHD_BIN" "$SSHD_CONFIG" "$akc_copy" </dev/null >"$SSHD_LOG" 2>&1 3>&- &
        else
            "$SSHD_BIN" -D -e -f "$SSHD_CONFIG" </dev/null >"$SSHD_LOG" 2>&1 3>&- &
        fi
        SSHD_PID=$!          # unshare and sh exec: this is sshd itself
        local i
        for ((i = 0; i < 200; i++)); do
            grep -q 'Server listening' "$SSHD_LOG" && break
            kill -0 "$SSHD_PID" 2>/dev/null || break
            sleep 0.02
        done
        if grep -q 'Server listening' "$SSHD_LOG"; then
            break
        fi
        if grep -q 'Address already in use' "$SSHD_LOG"; then
            sshd_stop
            continue
        fi
        echo "sshd_start: sshd did not start:" >&2
        cat "$SSHD_LOG" >&2
        sshd_stop
        return 1
    done
    if ! grep -q 'Server listening' "$SSHD_LOG"; then
        echo "sshd_start: no free port after 5 attempts" >&2
        return 1
    fi
    export SSHD_PORT SSHD_PID SSHD_DIR SSHD_LOG SSHD_CONFIG SSHD_HOSTKEY_PUB SSHD_USER SSHD_INSTANCE
    # the stand-in relays this instance's sessions to this sshd
    if declare -F standin_config >/dev/null && [[ -n "${STANDIN_PID:-}" ]]; then
        standin_config "{\"targets\":{\"$SSHD_INSTANCE\":\"127.0.0.1:$SSHD_PORT\"},\"sshd_instance\":\"$SSHD_INSTANCE\"}"
    fi
}

sshd_known_hosts() {
    local name
    for name in "$@"; do
        printf '%s %s\n' "$name" "$(cut -d' ' -f1,2 "$SSHD_HOSTKEY_PUB")"
    done
}

sshd_stop() {
    stop_pid "${SSHD_PID:-}"
    SSHD_PID=
}
