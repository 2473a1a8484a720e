#!/usr/bin/env bash
# make demo: the product's main job, on this machine, with no AWS account.
#
# Starts a local stand-in cloud (moto_server for STS/IAM/EC2, the project's
# SSM stand-in for SSM + EC2 Instance Connect + the data channel, a real
# OpenSSH sshd on 127.0.0.1 standing for the instance), creates a *stopped*
# instance, runs `cloudx-proxy setup --yes` into a throw-away HOME, then the
# real `ssh <host> '...'` through the generated config: the instance starts,
# the key is pushed, the tunnel opens, the remote command answers.  Then scp
# and a second ssh over the same ControlMaster.  Stops everything it started
# (by PID), checks that nothing is left, and removes its files.
#
# As root, the sshd logs in the real local account ec2-user (created once if
# missing, as tests/helpers/sshd.bash does), exactly as the generated config
# says.  Not root: the current user (an unprivileged sshd can log in no one
# else), with ssh -o User=<you>.
#
# Environment: CX_BIN (build folder, default build; an absolute path such as
# /usr/bin runs installed programs: tests/packaging/deb.sh), DEMO_KEEP=1 keeps the
# throw-away folder.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
case ${CX_BIN:-build} in
/*) BIN=$CX_BIN ;;
*) BIN="$ROOT/${CX_BIN:-build}" ;;
esac

bold=$(tput bold 2>/dev/null || true)
norm=$(tput sgr0 2>/dev/null || true)
NPHASE=6
phase() { printf '\n%s==> [%s/%s] %s%s\n' "$bold" "$1" "$NPHASE" "$2" "$norm"; }
say() { printf '    %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# ---- what is needed, and how to get it ----
missing=0
need() {	# need COMMAND HOW-TO-INSTALL
	command -v "$1" >/dev/null 2>&1 && return 0
	printf 'demo: %s is missing: %s\n' "$1" "$2" >&2
	missing=1
}
need moto_server 'pip install "moto[server]"'
need python3 'apt-get install python3 (or: make deps)'
need curl 'apt-get install curl (or: make deps)'
need jq 'apt-get install jq (or: make deps)'
need ssh 'apt-get install openssh-client (or: make deps)'
need scp 'apt-get install openssh-client (or: make deps)'
need ssh-keygen 'apt-get install openssh-client (or: make deps)'
need script 'apt-get install bsdutils (or: make deps)'
[ -x /usr/sbin/sshd ] || {
	printf 'demo: /usr/sbin/sshd is missing: apt-get install openssh-server (or: make deps)\n' >&2
	missing=1
}
if [ "$(id -u)" = 0 ]; then
	need useradd 'apt-get install passwd (or: make deps)'
	need unshare 'apt-get install util-linux (or: make deps)'
fi
python3 -c 'import boto3' 2>/dev/null ||
    { printf 'demo: python3 cannot import boto3: pip install "moto[server]"\n' >&2; missing=1; }
for p in cloudx-proxy cx-creds cx-instance cx-pushkey cx-tunnel; do
	[ -x "$BIN/$p" ] || { printf 'demo: %s/%s is missing: run make\n' "$BIN" "$p" >&2; missing=1; }
done
[ "$missing" = 0 ] || exit 1

# ---- the throw-away world, cleaned up whatever happens ----
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/cloudx-demo.XXXXXX") || die "cannot create a temp folder"
# only our programs go first on PATH: BIN may be /usr/bin, whose python3 may
# not be the one that has moto
mkdir "$DEMO/bin"
for p in "$BIN"/cloudx-proxy "$BIN"/cloudX-proxy "$BIN"/cx-*; do
	[ -x "$p" ] && ln -s "$p" "$DEMO/bin/"
done
export PATH="$DEMO/bin:$PATH"
MOTO_PID= STANDIN_PID= SSHD_PID=
HOST=cloudx-demo-demo
STARTED=()	# every PID we started, checked at the end
SSH_OPTS=()
cleanup() {
	local rc=$? p left=
	set +e
	if [ -f "$DEMO/home/.ssh/config" ]; then
		ssh "${SSH_OPTS[@]}" -O exit "$HOST" >/dev/null 2>&1
		wait_until 10 sh -c "! pgrep -f '^ssh: $DEMO/'"
	fi
	[ -n "${SSHD_PID:-}" ] && sshd_stop
	[ -n "${STANDIN_PID:-}" ] && standin_stop
	if [ -n "$MOTO_PID" ]; then
		kill -TERM "$MOTO_PID" 2>/dev/null
		wait "$MOTO_PID" 2>/dev/null
	fi
	# nothing we started, and nothing run with the demo's HOME, is left
	for p in "${STARTED[@]}"; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
	for p in $(pgrep -f "$BIN/(cloudx-proxy|cx-)|^ssh |^scp " 2>/dev/null); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "HOME=$DEMO/home" &&
		    left="$left $p"
	done
	# an ssh master's title ("ssh: <ControlPath> [mux]") hides its environ
	for p in $(pgrep -f "^ssh: $DEMO/" 2>/dev/null); do left="$left $p"; done
	if [ -n "$left" ]; then
		echo "demo: still running:$left" >&2
		rc=1
	elif [ "${#STARTED[@]}" -gt 0 ]; then
		echo "Stopped moto_server, the SSM stand-in and sshd (PIDs ${STARTED[*]}); nothing left running."
	fi
	if [ "${DEMO_KEEP:-0}" = 1 ]; then
		echo "demo: kept $DEMO"
	else
		rm -rf "$DEMO"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_until() {	# wait_until SECONDS CMD...
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

start=$SECONDS
export TMPDIR="$DEMO"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
    AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION AWS_CONFIG_FILE \
    AWS_SHARED_CREDENTIALS_FILE HTTPS_PROXY https_proxy HTTP_PROXY http_proxy \
    ALL_PROXY all_proxy
export AWS_EC2_METADATA_DISABLED=true NO_PROXY=127.0.0.1,localhost

phase 1 "A local stand-in cloud on 127.0.0.1: moto_server, the SSM stand-in, an sshd as the instance"
MOTO_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$DEMO/moto.log" 2>&1 </dev/null &
MOTO_PID=$!
STARTED+=("$MOTO_PID")
export MOTO_URL="http://127.0.0.1:$MOTO_PORT"
export AWS_ENDPOINT_URL="$MOTO_URL"
wait_until 30 curl -sf -o /dev/null "$MOTO_URL/moto-api/" ||
    { cat "$DEMO/moto.log" >&2; die "moto_server did not start"; }
say "moto_server    $MOTO_URL (pid $MOTO_PID): STS, IAM, EC2"

# shellcheck source=helpers/standin.bash
. "$ROOT/tests/helpers/standin.bash"
# shellcheck source=helpers/sshd.bash
. "$ROOT/tests/helpers/sshd.bash"
standin_start || die "the SSM stand-in did not start"
STARTED+=("$STANDIN_PID")
say "SSM stand-in   $STANDIN_URL (pid $STANDIN_PID): SSM, EC2 Instance Connect, the data channel"

# the cloud's own objects, made with the cloud's admin keys
aws_admin() {
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
	    AWS_DEFAULT_REGION=eu-west-1 python3 - "$@"
}
read -r AK SK ID < <(aws_admin <<'PY'
import boto3, os
u = os.environ["MOTO_URL"]
iam = boto3.client("iam", endpoint_url=u)
n = "cloudX-demo-alice"
iam.create_user(UserName=n)
iam.put_user_policy(UserName=n, PolicyName="all", PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}')
k = iam.create_access_key(UserName=n)["AccessKey"]
ec2 = boto3.client("ec2", endpoint_url=u)
r = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
    TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "cloudx-demo-box"},
        {"Key": "cloudxuser", "Value": n}]}])
i = r["Instances"][0]["InstanceId"]
ec2.stop_instances(InstanceIds=[i])
print(k["AccessKeyId"], k["SecretAccessKey"], i)
PY
) || die "cannot create the IAM user and the instance in moto"
[ -n "${ID:-}" ] || die "cannot create the IAM user and the instance in moto"
say "IAM user       cloudX-demo-alice (access key ${AK:0:8}...)"
say "instance       $ID, stopped"
instance_state() {
	aws_admin "$ID" <<'PY'
import boto3, os, sys
ec2 = boto3.client("ec2", endpoint_url=os.environ["MOTO_URL"])
print(ec2.describe_instances(InstanceIds=[sys.argv[1]])["Reservations"][0]["Instances"][0]["State"]["Name"])
PY
}

# The instance's sshd takes only keys pushed with EC2 Instance Connect for the
# login user (AuthorizedKeysFile none + an AuthorizedKeysCommand that reads the
# stand-in's key store).
if [ "$(id -u)" = 0 ] && ! getent passwd ec2-user >/dev/null; then
	say "(creating the local account ec2-user, as on an Amazon Linux instance)"
fi
SSHD_LOGIN_USER=ec2-user sshd_start "$ID" || die "sshd did not start"
STARTED+=("$SSHD_PID")
say "sshd           127.0.0.1:$SSHD_PORT (pid $SSHD_PID) stands for $ID; login user $SSHD_USER"

phase 2 "cloudx-proxy setup --yes, into a throw-away HOME ($DEMO/home)"
export HOME="$DEMO/home"
mkdir -p "$HOME"
# the keys a user would type at the prompts; setup writes them to ~/.aws
AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 \
    cloudx-proxy setup --yes --no-check --instance "$ID" --hostname demo 2>&1 | sed 's/^/    /'
[ "${PIPESTATUS[0]}" = 0 ] || die "setup failed"
# the sshd's host key, under the name ssh checks through a ProxyCommand
# (the HostName, i.e. the instance id)
sshd_known_hosts "$ID" >"$HOME/.ssh/known_hosts"

phase 3 "The generated SSH config ($HOME/.ssh/cloudX/config)"
sed 's/^/    /' "$HOME/.ssh/cloudX/config"

# OpenSSH reads ~ from the passwd entry, not $HOME: -F and this HOME's
# known_hosts and control socket; everything else as configured.
SSH_OPTS=(-F "$HOME/.ssh/config" -o "UserKnownHostsFile=$HOME/.ssh/known_hosts"
    -o "ControlPath=$HOME/.ssh/control/%r@%h:%p")
[ "$SSHD_USER" = ec2-user ] || SSH_OPTS+=(-o "User=$SSHD_USER")
sessions() { standin_state | jq '.sessions | length'; }

phase 4 "ssh $HOST 'echo ...; uname -sr': start the instance, push the key, open the tunnel, run"
say "(a real user types: ssh $HOST; the demo adds -F and throw-away paths, see above)"
say "instance state before: $(instance_state)"
echo
# From a terminal (script(1) gives ssh one), as a user sees it: with
# ControlPersist ssh silences a ProxyCommand's stderr, so cloudx-proxy shows
# its progress on the terminal.
script -qefc "$(printf '%q ' ssh "${SSH_OPTS[@]}" "$HOST" \
    'echo "hello from $(hostname) as $(id -un) in $PWD"; uname -sr')" /dev/null </dev/null |
    tr -d '\r' | sed 's/^/    | /'
[ "${PIPESTATUS[0]}" = 0 ] || die "ssh failed"
echo
say "instance state after:  $(instance_state)"
standin_state | jq -r --arg k "$ID/$SSHD_USER" '.keys[$k][0] |
    "key pushed for \($k | split("/")[1]) with EC2 Instance Connect: \(.key | split(" ")[0:2] | join(" ") | .[0:40])..., valid \(.expires_in | floor) s more"' |
    sed 's/^/    /'
standin_session | jq -r '"SSM session \(.SessionId): \(.stats.in_bytes) bytes up, \(.stats.out_bytes) bytes down over the data channel"' |
    sed 's/^/    /'

phase 5 "scp both ways and another ssh, over one ControlMaster (ControlMaster auto, ControlPersist 4h)"
head -c 65536 /dev/urandom >"$DEMO/payload"
ssh "${SSH_OPTS[@]}" -o BatchMode=yes "$HOST" true || die "ssh failed"
n=$(sessions)
scp -q "${SSH_OPTS[@]}" "$DEMO/payload" "$HOST:demo-payload" || die "scp to the instance failed"
scp -q "${SSH_OPTS[@]}" "$HOST:demo-payload" "$DEMO/payload.back" || die "scp from the instance failed"
cmp -s "$DEMO/payload" "$DEMO/payload.back" || die "the file came back different"
say "scp: 64 KiB to the instance and back, identical"
say "remote: $(ssh "${SSH_OPTS[@]}" "$HOST" 'ls -l demo-payload; rm demo-payload')"
say "SSM sessions: $n before the scp and ssh, $(sessions) after (the master carried them)"
say "master: $(ssh "${SSH_OPTS[@]}" -O check "$HOST" 2>&1)"

phase 6 "Stopping: ssh -O exit, then the stand-in cloud"
ssh "${SSH_OPTS[@]}" -O exit "$HOST" 2>&1 | sed 's/^/    /'
standin_wait_for '[.sessions[] | select(.status != "ended")] | length == 0' 10 >/dev/null &&
    say "every SSM session ended"
say "done in $((SECONDS - start)) s"
exit 0
