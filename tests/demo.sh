#!/usr/bin/env bash
# make demo: the product's main job, on this machine, with no AWS account.
#
# Starts a local stand-in cloud (moto_server for STS/IAM/EC2, the project's
# SSM stand-in for SSM + EC2 Instance Connect + the data channel, a real
# OpenSSH sshd on 127.0.0.1 standing for the instance), creates a *stopped*
# instance, runs `cloudx-proxy setup --yes` into a throw-away HOME, then a
# real `ssh <host> '...'` through the generated config: the instance starts,
# the key is pushed, the tunnel opens, the remote command answers.  Stops
# everything it started (by PID) and removes its files.
#
# Environment: CX_BIN (build folder, default build), DEMO_KEEP=1 keeps the
# throw-away folder.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/${CX_BIN:-build}"
export PATH="$BIN:$PATH"

bold=$(tput bold 2>/dev/null || true)
norm=$(tput sgr0 2>/dev/null || true)
phase() { printf '\n%s==> %s%s\n' "$bold" "$*" "$norm"; }
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
need ssh-keygen 'apt-get install openssh-client (or: make deps)'
[ -x /usr/sbin/sshd ] || {
	printf 'demo: /usr/sbin/sshd is missing: apt-get install openssh-server (or: make deps)\n' >&2
	missing=1
}
python3 -c 'import boto3' 2>/dev/null ||
    { printf 'demo: python3 cannot import boto3: pip install "moto[server]"\n' >&2; missing=1; }
for p in cloudx-proxy cx-creds cx-instance cx-pushkey cx-tunnel; do
	[ -x "$BIN/$p" ] || { printf 'demo: %s/%s is missing: run make\n' "$BIN" "$p" >&2; missing=1; }
done
[ -f "$ROOT/tests/helpers/standin.bash" ] ||
    { printf 'demo: tests/helpers/standin.bash is missing (the SSM stand-in)\n' >&2; missing=1; }
[ "$missing" = 0 ] || exit 1

# ---- the throw-away world, cleaned up whatever happens ----
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/cloudx-demo.XXXXXX") || die "cannot create a temp folder"
MOTO_PID= STANDIN_PID= SSHD_PID=
SSH_CFG= HOST=
cleanup() {
	set +e
	if [ -n "$HOST" ] && [ -n "$SSH_CFG" ]; then
		ssh -F "$SSH_CFG" -o "ControlPath=$DEMO/home/.ssh/control/%r@%h:%p" \
		    -O exit "$HOST" >/dev/null 2>&1
	fi
	[ -n "${SSHD_PID:-}" ] && sshd_stop
	[ -n "${STANDIN_PID:-}" ] && standin_stop
	if [ -n "$MOTO_PID" ]; then
		kill -TERM "$MOTO_PID" 2>/dev/null
		wait "$MOTO_PID" 2>/dev/null
	fi
	if [ "${DEMO_KEEP:-0}" = 1 ]; then
		echo "demo: kept $DEMO"
	else
		rm -rf "$DEMO"
	fi
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

phase "Starting the local stand-in cloud (moto_server, SSM stand-in, sshd on 127.0.0.1)"
MOTO_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$DEMO/moto.log" 2>&1 </dev/null &
MOTO_PID=$!
export MOTO_URL="http://127.0.0.1:$MOTO_PORT"
export AWS_ENDPOINT_URL="$MOTO_URL"
wait_until 30 curl -sf -o /dev/null "$MOTO_URL/moto-api/" ||
    { cat "$DEMO/moto.log" >&2; die "moto_server did not start"; }
echo "moto_server    $MOTO_URL (pid $MOTO_PID)"

# shellcheck source=helpers/standin.bash
. "$ROOT/tests/helpers/standin.bash"
# shellcheck source=helpers/sshd.bash
. "$ROOT/tests/helpers/sshd.bash"
standin_start || die "the SSM stand-in did not start"
echo "SSM stand-in   $STANDIN_URL (pid $STANDIN_PID)"

# the cloud's own objects, made with the cloud's admin keys
aws_admin() {
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
	    AWS_DEFAULT_REGION=eu-west-1 python3 - "$@"
}
read -r AK SK < <(aws_admin <<'PY'
import boto3
iam = boto3.client("iam", endpoint_url=__import__("os").environ["MOTO_URL"])
u = "cloudX-demo-alice"
iam.create_user(UserName=u)
iam.put_user_policy(UserName=u, PolicyName="all", PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}')
k = iam.create_access_key(UserName=u)["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])
PY
) || die "cannot create the IAM user in moto"
ID=$(aws_admin <<'PY'
import boto3, os
ec2 = boto3.client("ec2", endpoint_url=os.environ["MOTO_URL"])
r = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
    TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "cloudx-demo-box"},
        {"Key": "cloudxuser", "Value": "cloudX-demo-alice"}]}])
i = r["Instances"][0]["InstanceId"]
ec2.stop_instances(InstanceIds=[i])
print(i)
PY
) || die "cannot create the instance in moto"
echo "IAM user       cloudX-demo-alice"
echo "instance       $ID (stopped)"

# The instance's sshd takes only keys pushed with EC2 Instance Connect for
# ec2-user; on this machine it logs in the current user.
SSHD_AUTHKEYS_CMD="$ROOT/tests/tools/authkeys-as-ec2-user"
sshd_start "$ID" || die "sshd did not start"
echo "sshd           127.0.0.1:$SSHD_PORT (pid $SSHD_PID), stands for $ID"

phase "cloudx-proxy setup --yes, into a throw-away HOME"
export HOME="$DEMO/home"
mkdir -p "$HOME"
# the keys a user would type at the prompts; setup writes them to ~/.aws
AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=eu-west-1 \
    cloudx-proxy setup --yes --no-check --instance "$ID" --hostname demo ||
    die "setup failed"
SSH_CFG="$HOME/.ssh/config"
HOST=cloudx-demo-demo

phase "The generated SSH config ($HOME/.ssh/cloudX/config)"
cat "$HOME/.ssh/cloudX/config"

phase "ssh $HOST 'uname -a; echo hello from the instance'"
echo "(OpenSSH reads ~ from the passwd entry, so the demo passes -F and the"
echo " throw-away known_hosts/control paths; a real user just types ssh $HOST)"
ssh -F "$SSH_CFG" -o "User=$SSHD_USER" \
    -o "UserKnownHostsFile=$HOME/.ssh/known_hosts" \
    -o StrictHostKeyChecking=accept-new \
    -o "ControlPath=$HOME/.ssh/control/%r@%h:%p" \
    "$HOST" 'uname -a; echo hello from the instance'
rc=$?
[ "$rc" = 0 ] || die "ssh failed (exit $rc)"

phase "The instance is now $(aws_admin <<PY
import boto3, os
ec2 = boto3.client("ec2", endpoint_url=os.environ["MOTO_URL"])
print(ec2.describe_instances(InstanceIds=["$ID"])["Reservations"][0]["Instances"][0]["State"]["Name"])
PY
); cloudx-proxy list:"
cloudx-proxy list

phase "Done in $((SECONDS - start)) s; stopping everything"
exit 0
