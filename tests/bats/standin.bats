#!/usr/bin/env bats
# The AWS stand-in (tests/standin/standin.py) against its spec: ssm-data-channel.md §3-§14/§20,
# aws-creds-and-wire.md §3.2/§9, moto-notes.md.  Driven by curl, the aws CLI and a tiny Python
# data-channel client of our own (tests/standin/wsclient.py) -- never the product's C client.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

STANDIN_TEST_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
load ../helpers/standin
load ../helpers/sshd

# moto helpers are someone else's (tests/helpers/moto.bash); until they land, a private fallback.
if [[ -f "$STANDIN_TEST_ROOT/tests/helpers/moto.bash" ]]; then
    [[ -f "$STANDIN_TEST_ROOT/tests/helpers/common.bash" ]] && load ../helpers/common
    load ../helpers/moto
fi
declare -F free_port >/dev/null || free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
declare -F wait_until >/dev/null || wait_until() {
    local limit=$1 end
    shift
    end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [[ $SECONDS -lt $end ]] || return 1
        sleep 0.05
    done
}
declare -F stop_pid >/dev/null || stop_pid() {
    local pid=$1 i
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
declare -F moto_start >/dev/null || moto_start() {
    local port
    port=$(free_port)
    moto_server -H 127.0.0.1 -p "$port" >"${BATS_FILE_TMPDIR:-/tmp}/moto.log" 2>&1 3>&- &
    MOTO_PID=$!
    export MOTO_PID MOTO_URL="http://127.0.0.1:$port"
    wait_until 30 curl -sf -o /dev/null "$MOTO_URL/moto-api/"
}
declare -F moto_stop >/dev/null || moto_stop() {
    stop_pid "${MOTO_PID:-}"
    MOTO_PID=
}

WSCLIENT="$STANDIN_TEST_ROOT/tests/standin/wsclient.py"
ECHO="$STANDIN_TEST_ROOT/tests/standin/echo.py"
IID=i-0123456789abcdef0
REGION=eu-west-1

setup_file() {
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=$REGION
    export AWS_EC2_METADATA_DISABLED=true AWS_MAX_ATTEMPTS=1 NO_PROXY=127.0.0.1,localhost
    unset AWS_PROFILE AWS_SESSION_TOKEN HTTPS_PROXY https_proxy HTTP_PROXY http_proxy
    moto_start
    unset AWS_ENDPOINT_URL
}

teardown_file() {
    moto_stop
}

setup() {
    unset AWS_ENDPOINT_URL
    ECHO_PID=
    R="$BATS_TEST_TMPDIR/report.json"
}

teardown() {
    standin_stop
    sshd_stop
    stop_pid "${ECHO_PID:-}"
    ECHO_PID=
}

# --- helpers -----------------------------------------------------------------------------------

echo_start() {   # echo_start [--close-after N]
    "$STANDIN_PYTHON" "$ECHO" --port-file "$BATS_TEST_TMPDIR/echo.port" "$@" </dev/null \
        >"$BATS_TEST_TMPDIR/echo.log" 2>&1 3>&- &
    ECHO_PID=$!
    wait_until 10 test -s "$BATS_TEST_TMPDIR/echo.port"
    ECHO_PORT=$(cat "$BATS_TEST_TMPDIR/echo.port")
}

# a stand-in relaying instance $IID (static, no moto) to a fresh echo target
standin_echo() {
    echo_start
    standin_start --moto "" --target "127.0.0.1:$ECHO_PORT" \
        --set "{\"static_instances\":{\"$IID\":{\"region\":\"$REGION\"}},\"region\":\"$REGION\"}" "$@"
}

wsrun() {   # wsrun ARGS... -> runs the test client, report in $R
    run "$STANDIN_PYTHON" "$WSCLIENT" run --endpoint "$STANDIN_URL" --target "$IID" \
        --region "$REGION" --report "$R" --timeout 20 "$@"
}

rep() { jq -r "$1" "$R"; }
sess() { standin_state | jq -r ".sessions | to_entries | sort_by(.value.Created) | last | .value | $1"; }

api() {   # api TARGET JSON [curl args] -> $status of curl, body in $output, HTTP code in $BATS_TEST_TMPDIR/code
    run curl -sS --noproxy '*' -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' -D "$BATS_TEST_TMPDIR/hdrs" \
        -H "X-Amz-Target: $1" -H 'Content-Type: application/x-amz-json-1.1' \
        --data-binary "$2" "${@:3}" "$STANDIN_URL/"
    HTTP="$output"
    BODY="$(cat "$BATS_TEST_TMPDIR/body" 2>/dev/null || true)"
    rm -f "$BATS_TEST_TMPDIR/body"
}

ssm() { api "AmazonSSM.$1" "$2" "${@:3}"; }
eic() { api "AWSEC2InstanceConnectService.SendSSHPublicKey" "$1" "${@:2}"; }

moto_q() {   # moto_q REGION QUERY -> EC2 query-protocol call to moto (curl signs it; fast, no CLI)
    curl -sf --noproxy '*' --aws-sigv4 "aws:amz:$1:ec2" --user testing:testing \
        -d "Version=2016-11-15&$2" "$MOTO_URL/"
}

moto_run_instance() {   # moto_run_instance REGION -> instance id
    moto_q "$1" "Action=RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=1&InstanceType=t3.micro" |
        sed -n 's:.*<instanceId>\(i-[0-9a-f]*\)</instanceId>.*:\1:p' | head -n1
}

moto_stop_instance() { moto_q "$1" "Action=StopInstances&InstanceId.1=$2" >/dev/null; }
moto_start_instance() { moto_q "$1" "Action=StartInstances&InstanceId.1=$2" >/dev/null; }

# --- process handling --------------------------------------------------------------------------

@test "wsclient codec reproduces the worked examples of ssm-data-channel.md §6" {
    run "$STANDIN_PYTHON" "$WSCLIENT" selftest
    assert_success
    assert_output "selftest ok"
}

@test "stand-in: port file, loopback only, health, clean exit on SIGTERM" {
    standin_start --moto ""
    [[ "$STANDIN_URL" == http://127.0.0.1:* ]]
    run curl -sf "$STANDIN_URL/standin/health"
    assert_success
    run ss -ltnp "sport = :$STANDIN_PORT"
    assert_output --partial "127.0.0.1:$STANDIN_PORT"
    kill -TERM "$STANDIN_PID"
    rc=0
    wait "$STANDIN_PID" || rc=$?
    [[ $rc == 0 ]]
    STANDIN_PID=
    run grep -c . "$STANDIN_DIR/standin.out"
    assert_output 0          # nothing on stdout: the port went to the port file
    grep -q stopped "$STANDIN_LOG"
}

# --- SSM JSON 1.1 ------------------------------------------------------------------------------

@test "SSM: error shapes for unknown operation, deny_actions, throttle_next, fail_next" {
    standin_start --moto "" --set "{\"static_instances\":{\"$IID\":{}}}"
    ssm Frobnicate '{}'
    [[ "$HTTP" == 400 ]]
    [[ "$(jq -r .__type <<<"$BODY")" == UnknownOperationException ]]
    grep -qi '^x-amzn-requestid: ' "$BATS_TEST_TMPDIR/hdrs"

    standin_config '{"deny_actions":["ssm:DescribeInstanceInformation"]}'
    ssm DescribeInstanceInformation '{}'
    [[ "$HTTP" == 400 ]]
    [[ "$(jq -r .__type <<<"$BODY")" == AccessDeniedException ]]
    [[ "$(jq -r .message <<<"$BODY")" == *"not authorized to perform: ssm:DescribeInstanceInformation"* ]]
    standin_config '{"deny_actions":[],"throttle_next":2}'
    ssm DescribeInstanceInformation '{}'
    [[ "$HTTP" == 400 && "$(jq -r .__type <<<"$BODY")" == ThrottlingException ]]
    ssm DescribeInstanceInformation '{}'
    [[ "$HTTP" == 400 ]]
    ssm DescribeInstanceInformation '{}'
    [[ "$HTTP" == 200 ]]
    standin_config '{"fail_next":1}'
    ssm DescribeInstanceInformation '{}'
    [[ "$HTTP" == 500 && "$(jq -r .__type <<<"$BODY")" == InternalServerError ]]
    ssm DescribeInstanceInformation '{}'
    [[ "$HTTP" == 200 ]]
    [[ "$(standin_state | jq .config.throttle_next)" == 0 ]]
}

@test "SSM: hang_next holds the request then drops the connection" {
    standin_start --moto "" --set '{"hang_next":1,"hang_max_s":1}'
    SECONDS=0
    ssm DescribeInstanceInformation '{}' --max-time 10
    assert_failure 52        # empty reply from server
    [[ $SECONDS -ge 1 && $SECONDS -le 5 ]]
    ssm DescribeInstanceInformation '{}'
    [[ "$HTTP" == 200 ]]
}

@test "SSM: require_sigv4 rejects unsigned and wrongly signed calls, accepts curl and botocore signatures" {
    standin_start --moto "" --require-sigv4 --keys AKIDSTANDIN:secret1 --set "{\"static_instances\":{\"$IID\":{}}}"
    ssm DescribeInstanceInformation '{}'
    [[ "$HTTP" == 403 && "$(jq -r .__type <<<"$BODY")" == MissingAuthenticationTokenException ]]
    ssm DescribeInstanceInformation '{}' --aws-sigv4 "aws:amz:$REGION:ssm" --user AKIDSTANDIN:wrong
    [[ "$HTTP" == 403 && "$(jq -r .__type <<<"$BODY")" == InvalidSignatureException ]]
    ssm DescribeInstanceInformation '{}' --aws-sigv4 "aws:amz:$REGION:ssm" --user AKIDOTHER:secret1
    [[ "$HTTP" == 403 && "$(jq -r .__type <<<"$BODY")" == UnrecognizedClientException ]]
    ssm DescribeInstanceInformation '{}' --aws-sigv4 "aws:amz:$REGION:ssm" --user AKIDSTANDIN:secret1
    [[ "$HTTP" == 200 ]]
    run env AWS_ACCESS_KEY_ID=AKIDSTANDIN AWS_SECRET_ACCESS_KEY=secret1 aws ssm describe-instance-information \
        --endpoint-url "$STANDIN_URL" --output json
    assert_success
    [[ "$(jq -r '.InstanceInformationList[0].PingStatus' <<<"$output")" == Online ]]
    run env AWS_ACCESS_KEY_ID=AKIDSTANDIN AWS_SECRET_ACCESS_KEY=nope aws ssm describe-instance-information \
        --endpoint-url "$STANDIN_URL" --output json
    assert_failure
    assert_output --partial InvalidSignatureException
}

@test "SigV4 verifier agrees with the official v4 test suite (header variants)" {
    # shared/ lies beside the checkout (CI's layout), else the workplace's
    suite=${SIGV4_SUITE:-$CX_ROOT/../shared/testdata/sigv4/v4}
    [[ -d "$suite" ]] || suite=/work/shared/testdata/sigv4/v4
    [[ -d "$suite" ]] || skip "no SigV4 test suite at $suite"
    export STANDIN_TEST_ROOT
    run "$STANDIN_PYTHON" - "$suite" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["STANDIN_TEST_ROOT"] + "/tests/standin")
import standin
suite = sys.argv[1]
ok = bad = 0
for case in sorted(os.listdir(suite)):
    d = os.path.join(suite, case)
    ctx = json.load(open(os.path.join(d, "context.json")))
    if ctx.get("sign_body") or not ctx.get("normalize", True) or ctx["credentials"].get("token"):
        continue
    raw = open(os.path.join(d, "header-signed-request.txt"), "rb").read().decode()
    head, _, body = raw.partition("\n\n")
    lines = head.split("\n")
    method, rest = lines[0].split(" ", 1)
    target = rest.rsplit(" ", 1)[0]
    headers = []
    for l in lines[1:]:
        if l.startswith((" ", "\t")) and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + l.strip()); continue
        k, _, v = l.partition(":")
        headers.append((k, v))
    path, _, query = target.partition("?")
    standin.STATE = standin.State()
    standin.CFG = standin.Config(dict(standin.DEFAULT_CONFIG, keys={ctx["credentials"]["access_key_id"]: ctx["credentials"]["secret_access_key"]}))
    try:
        standin.verify_sigv4(method, path, query, headers, body.encode())
        ok += 1
    except standin.AuthError as e:
        bad += 1; print("FAIL", case, e.code)
print("ok", ok, "bad", bad)
PY
    assert_success
    assert_output --regexp "ok [0-9]+ bad 0"
}

@test "DescribeInstanceInformation follows moto's state, the region and online_delay" {
    iid=$(moto_run_instance "$REGION")
    other=$(moto_run_instance us-east-2)
    standin_start --moto "$MOTO_URL" --online-delay 0.5
    sig=(--aws-sigv4 "aws:amz:$REGION:ssm" --user testing:testing)
    ssm DescribeInstanceInformation "{\"Filters\":[{\"Key\":\"InstanceIds\",\"Values\":[\"$iid\"]}]}" "${sig[@]}"
    [[ "$HTTP" == 200 ]]
    [[ "$(jq -c .InstanceInformationList <<<"$BODY")" == "[]" ]]       # agent not registered yet
    wait_until 5 bash -c "curl -s -H 'X-Amz-Target: AmazonSSM.DescribeInstanceInformation' \
        --aws-sigv4 aws:amz:$REGION:ssm --user testing:testing -d '{\"InstanceInformationFilterList\":[{\"key\":\"InstanceIds\",\"valueSet\":[\"$iid\"]}]}' \
        $STANDIN_URL/ | jq -e '.InstanceInformationList[0].PingStatus == \"Online\"'"
    ssm DescribeInstanceInformation "{\"Filters\":[{\"Key\":\"InstanceIds\",\"Values\":[\"$other\"]}]}" "${sig[@]}"
    [[ "$(jq -c .InstanceInformationList <<<"$BODY")" == "[]" ]]       # other region's backend
    ssm DescribeInstanceInformation '{"Filters":[{"Key":"InstanceIds","Values":["i-00000000000000000"]}]}' "${sig[@]}"
    [[ "$(jq -c .InstanceInformationList <<<"$BODY")" == "[]" ]]
    moto_stop_instance "$REGION" "$iid"
    ssm DescribeInstanceInformation "{\"Filters\":[{\"Key\":\"InstanceIds\",\"Values\":[\"$iid\"]}]}" "${sig[@]}"
    [[ "$(jq -r '.InstanceInformationList[0].PingStatus' <<<"$BODY")" == ConnectionLost ]]
    ssm StartSession "{\"Target\":\"$iid\",\"DocumentName\":\"AWS-StartSSHSession\",\"Parameters\":{\"portNumber\":[\"22\"]}}" "${sig[@]}"
    [[ "$HTTP" == 400 && "$(jq -r .__type <<<"$BODY")" == TargetNotConnected ]]
    [[ "$(jq -r .message <<<"$BODY")" == "$iid is not connected." ]]
    moto_start_instance "$REGION" "$iid"
    ssm DescribeInstanceInformation "{\"Filters\":[{\"Key\":\"InstanceIds\",\"Values\":[\"$iid\"]}]}" "${sig[@]}"
    [[ "$(jq -r '.InstanceInformationList[0].PingStatus' <<<"$BODY")" == ConnectionLost ]]   # agent not back yet
    wait_until 5 bash -c "curl -s -H 'X-Amz-Target: AmazonSSM.DescribeInstanceInformation' \
        --aws-sigv4 aws:amz:$REGION:ssm --user testing:testing -d '{}' $STANDIN_URL/ \
        | jq -e '.InstanceInformationList[] | select(.InstanceId == \"$iid\") | .PingStatus == \"Online\"'"
}

@test "StartSession/ResumeSession/TerminateSession shapes, target_not_connected, one-use tokens" {
    standin_echo --set '{"target_not_connected":1}'
    body="{\"Target\":\"$IID\",\"DocumentName\":\"AWS-StartSSHSession\",\"Parameters\":{\"portNumber\":[\"2222\"]}}"
    ssm StartSession "$body"
    [[ "$HTTP" == 400 && "$(jq -r .__type <<<"$BODY")" == TargetNotConnected ]]
    ssm StartSession '{"Target":"i-0fffffffffffffff0","DocumentName":"AWS-StartSSHSession"}'
    [[ "$HTTP" == 400 && "$(jq -r .__type <<<"$BODY")" == TargetNotConnected ]]
    ssm StartSession "{\"Target\":\"$IID\",\"DocumentName\":\"AWS-StartShell\"}"
    [[ "$HTTP" == 400 && "$(jq -r .__type <<<"$BODY")" == InvalidDocument ]]
    ssm StartSession "$body"
    [[ "$HTTP" == 200 ]]
    sid=$(jq -r .SessionId <<<"$BODY")
    tok1=$(jq -r .TokenValue <<<"$BODY")
    [[ "$(jq -r .StreamUrl <<<"$BODY")" == "ws://127.0.0.1:$STANDIN_PORT/v1/data-channel/$sid?role=publish_subscribe" ]]
    [[ "$(sess .PortNumber)" == 2222 ]]
    ssm ResumeSession "{\"SessionId\":\"$sid\"}"
    [[ "$HTTP" == 200 ]]
    tok2=$(jq -r .TokenValue <<<"$BODY")
    [[ -n "$tok2" && "$tok2" != "$tok1" ]]
    standin_config '{"resume_new_url":true}'
    ssm ResumeSession "{\"SessionId\":\"$sid\"}"
    [[ "$(jq -r .StreamUrl <<<"$BODY")" == *"?role=publish_subscribe&cell-number=1" ]]
    ssm ResumeSession '{"SessionId":"nope"}'
    [[ "$HTTP" == 400 && "$(jq -r .__type <<<"$BODY")" == DoesNotExistException ]]
    ssm TerminateSession "{\"SessionId\":\"$sid\"}"
    [[ "$HTTP" == 200 && "$(jq -r .SessionId <<<"$BODY")" == "$sid" ]]
    ssm ResumeSession "{\"SessionId\":\"$sid\"}"
    [[ "$HTTP" == 200 && "$(jq -r .TokenValue <<<"$BODY")" == null ]]
    [[ "$(sess .terminated_by_api)" == true ]]
}

# --- EC2 Instance Connect + AuthorizedKeysCommand ----------------------------------------------

@test "EIC SendSSHPublicKey validates like the service" {
    iid=$(moto_run_instance "$REGION")
    stopped=$(moto_run_instance "$REGION")
    moto_stop_instance "$REGION" "$stopped"
    standin_start --moto "$MOTO_URL"
    ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/k"
    ssh-keygen -q -t ecdsa -N '' -f "$BATS_TEST_TMPDIR/ec"
    ssh-keygen -q -t rsa -b 1024 -N '' -f "$BATS_TEST_TMPDIR/rsa1k"
    ssh-keygen -q -t rsa -b 2048 -N '' -f "$BATS_TEST_TMPDIR/rsa2k"
    k=$(cat "$BATS_TEST_TMPDIR/k.pub")
    sig=(--aws-sigv4 "aws:amz:$REGION:ec2-instance-connect" --user testing:testing)
    t() { eic "$(jq -nc --arg i "$1" --arg u "$2" --arg k "$3" '{InstanceId:$i,InstanceOSUser:$u,SSHPublicKey:$k} + (if $ARGS.positional[0] then {AvailabilityZone:$ARGS.positional[0]} else {} end)' --args "${@:4}")" "${sig[@]}"; echo "$HTTP $(jq -r .__type <<<"$BODY")"; }
    [[ "$(t i-123 root "$k")" == "400 InvalidArgsException" ]]
    [[ "$(t "$iid" "" "$k")" == "400 InvalidArgsException" ]]
    [[ "$(t "$iid" root "ssh-ed25519 AAAA")" == "400 InvalidArgsException" ]]
    [[ "$(t "$iid" root "$(cat "$BATS_TEST_TMPDIR/ec.pub")")" == "400 InvalidArgsException" ]]
    [[ "$(t "$iid" root "$(cat "$BATS_TEST_TMPDIR/rsa1k.pub")")" == "400 InvalidArgsException" ]]
    [[ "$(t i-0fffffffffffffff0 root "$k")" == "400 EC2InstanceNotFoundException" ]]
    [[ "$(t "$stopped" root "$k")" == "400 EC2InstanceStateInvalidException" ]]
    [[ "$(t "$iid" root "$k" "${REGION}c")" == "400 InvalidArgsException" ]]
    [[ "$(t "$iid" root "$(cat "$BATS_TEST_TMPDIR/rsa2k.pub")")" == "200 null" ]]
    eic "$(jq -nc --arg i "$iid" --arg k "$k" --arg az "${REGION}a" '{InstanceId:$i,InstanceOSUser:"ec2-user",SSHPublicKey:$k,AvailabilityZone:$az}')" "${sig[@]}"
    [[ "$HTTP" == 200 && "$(jq -r .Success <<<"$BODY")" == true && -n "$(jq -r .RequestId <<<"$BODY")" ]]
    run curl -sf "$STANDIN_URL/standin/keys?user=ec2-user&instance=$iid"
    assert_output "$k"
    run curl -sf "$STANDIN_URL/standin/keys?user=root&instance=$iid"
    assert_output --partial "ssh-rsa "
    standin_config '{"deny_actions":["ec2-instance-connect:SendSSHPublicKey"]}'
    [[ "$(t "$iid" root "$k")" == "400 AccessDeniedException" ]]
}

@test "EIC keys reach a real sshd through AuthorizedKeysCommand, only while the TTL runs" {
    standin_start --moto "" --set "{\"static_instances\":{\"$IID\":{}}}" --key-ttl 2
    sshd_start "$IID"
    ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/k"
    sshopts=(-i "$BATS_TEST_TMPDIR/k" -p "$SSHD_PORT" -o BatchMode=yes -o IdentitiesOnly=yes
        -o UserKnownHostsFile="$BATS_TEST_TMPDIR/kh" -o StrictHostKeyChecking=yes -o ConnectTimeout=5)
    sshd_known_hosts "[127.0.0.1]:$SSHD_PORT" >"$BATS_TEST_TMPDIR/kh"
    run ssh "${sshopts[@]}" "$SSHD_USER@127.0.0.1" echo hi
    assert_failure 255                                           # nothing pushed: no key works
    eic "$(jq -nc --arg i "$IID" --arg u "$SSHD_USER" --arg k "$(cat "$BATS_TEST_TMPDIR/k.pub")" \
        '{InstanceId:$i,InstanceOSUser:$u,SSHPublicKey:$k}')"
    [[ "$HTTP" == 200 ]]
    run ssh "${sshopts[@]}" "$SSHD_USER@127.0.0.1" echo hi
    assert_success
    assert_output hi
    run ssh "${sshopts[@]}" "nobody-else@127.0.0.1" echo hi       # pushed for another user only
    assert_failure 255
    wait_until 5 bash -c "[[ -z \"\$(curl -s '$STANDIN_URL/standin/keys?user=$SSHD_USER&instance=$IID')\" ]]"
    run ssh "${sshopts[@]}" "$SSHD_USER@127.0.0.1" echo hi
    assert_failure 255                                           # expired
}

@test "end to end: ssh through wsclient -> stand-in -> sshd, with scp" {
    standin_start --moto "" --set "{\"static_instances\":{\"$IID\":{}}}" --pace-ms 0
    sshd_start "$IID"
    ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/k"
    eic "$(jq -nc --arg i "$IID" --arg u "$SSHD_USER" --arg k "$(cat "$BATS_TEST_TMPDIR/k.pub")" \
        '{InstanceId:$i,InstanceOSUser:$u,SSHPublicKey:$k}')"
    sshd_known_hosts "$IID" >"$BATS_TEST_TMPDIR/kh"
    head -c 1048576 /dev/urandom >"$BATS_TEST_TMPDIR/blob"
    pc="$STANDIN_PYTHON $WSCLIENT run --endpoint $STANDIN_URL --target %h --stdio --report $R"
    opts=(-i "$BATS_TEST_TMPDIR/k" -o BatchMode=yes -o IdentitiesOnly=yes -o "ProxyCommand=$pc"
        -o UserKnownHostsFile="$BATS_TEST_TMPDIR/kh" -o StrictHostKeyChecking=yes)
    run ssh "${opts[@]}" "$SSHD_USER@$IID" 'echo tunnel-ok'
    assert_success
    assert_output tunnel-ok
    run scp -q "${opts[@]}" "$BATS_TEST_TMPDIR/blob" "$SSHD_USER@$IID:$BATS_TEST_TMPDIR/blob.copy"
    assert_success
    cmp "$BATS_TEST_TMPDIR/blob" "$BATS_TEST_TMPDIR/blob.copy"
    [[ "$(standin_state | jq '[.sessions[] | select(.handshake.state == "complete")] | length')" == 2 ]]
}

# --- SSO portal + OIDC -------------------------------------------------------------------------

@test "SSO portal: 200 with epoch-millisecond expiration, 401, 403; OIDC refresh" {
    standin_start --moto "" --set '{"sso_tokens":{"tok-good":{"accounts":{"111122223333":["Admin"]}},"tok-old":{"accounts":{"111122223333":["Admin"]},"expires":1}},"sso_refresh_tokens":{"rt-1":{"client_id":"cid","client_secret":"csec","token":"tok-good"}}}'
    portal() { run curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' -H "x-amz-sso_bearer_token: $1" \
        "$STANDIN_URL/federation/credentials?role_name=$2&account_id=$3"; BODY=$(cat "$BATS_TEST_TMPDIR/body"); }
    portal tok-good Admin 111122223333
    assert_output 200
    now_ms=$(($(date +%s) * 1000))
    exp=$(jq .roleCredentials.expiration <<<"$BODY")
    [[ $exp -gt $((now_ms + 3000000)) && $exp -lt $((now_ms + 4000000)) ]]
    [[ "$(jq -r .roleCredentials.accessKeyId <<<"$BODY")" == ASIA* ]]
    [[ "$(jq -r '.roleCredentials | has("secretAccessKey") and has("sessionToken")' <<<"$BODY")" == true ]]
    portal tok-bad Admin 111122223333
    assert_output 401
    [[ "$BODY" == '{"message": "Session token not found or invalid", "__type": "UnauthorizedException"}' ]]
    portal tok-old Admin 111122223333
    assert_output 401
    portal tok-good ReadOnly 111122223333
    assert_output 403
    [[ "$(jq -r .__type <<<"$BODY")" == ForbiddenException ]]
    run curl -sf -X POST -d '{"grantType":"refresh_token","clientId":"cid","clientSecret":"csec","refreshToken":"rt-1"}' "$STANDIN_URL/token"
    assert_success
    [[ "$(jq -r .tokenType <<<"$output")" == Bearer && "$(jq .expiresIn <<<"$output")" == 3600 ]]
    fresh=$(jq -r .accessToken <<<"$output")
    portal "$fresh" Admin 111122223333
    assert_output 200
    run curl -s -X POST -d '{"grantType":"refresh_token","clientId":"cid","clientSecret":"csec","refreshToken":"rt-x"}' "$STANDIN_URL/token"
    [[ "$(jq -r .error <<<"$output")" == invalid_grant ]]
}

@test "SSO OIDC login: RegisterClient, /authorize (approve/deny), PKCE checked, the device grant's pending/slow_down/denied/expired" {
    standin_start --moto "" --set '{"oidc_device_interval": 1}'
    post() { curl -s -X POST -d "$2" "$STANDIN_URL$1"; }
    reg=$(post /client/register '{"clientName":"t","clientType":"public","grantTypes":["authorization_code","refresh_token"],"redirectUris":["http://127.0.0.1/oauth/callback"],"issuerUrl":"https://x/start"}')
    cid=$(jq -r .clientId <<<"$reg"); csec=$(jq -r .clientSecret <<<"$reg")
    [[ $(jq '.clientSecretExpiresAt > now' <<<"$reg") == true ]]
    verifier=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
    challenge=$(python3 -c 'import base64, hashlib, sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).decode().rstrip("="))' "$verifier")
    redir="http://127.0.0.1:9/oauth/callback"
    authz="$STANDIN_URL/authorize?response_type=code&client_id=$cid&redirect_uri=$(jq -rn --arg u "$redir" '$u|@uri')&state=st1&code_challenge_method=S256&code_challenge=$challenge"
    loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$authz")
    [[ "$loc" == "$redir?code="*"&state=st1" ]]
    code=$(sed 's/.*code=\([^&]*\).*/\1/' <<<"$loc")
    # a wrong verifier is refused (and uses the code up)
    run post /token "{\"grantType\":\"authorization_code\",\"clientId\":\"$cid\",\"clientSecret\":\"$csec\",\"code\":\"$code\",\"redirectUri\":\"$redir\",\"codeVerifier\":\"${verifier}x\"}"
    [[ "$(jq -r .error <<<"$output")" == invalid_grant ]]
    loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$authz")
    code=$(sed 's/.*code=\([^&]*\).*/\1/' <<<"$loc")
    run post /token "{\"grantType\":\"authorization_code\",\"clientId\":\"$cid\",\"clientSecret\":\"$csec\",\"code\":\"$code\",\"redirectUri\":\"$redir\",\"codeVerifier\":\"$verifier\"}"
    tok=$(jq -r .accessToken <<<"$output")
    [[ "$tok" == standin-sso-* && -n "$(jq -r .refreshToken <<<"$output")" ]]
    run curl -s -o /dev/null -w '%{http_code}' -H "x-amz-sso_bearer_token: $tok" \
        "$STANDIN_URL/federation/credentials?role_name=Admin&account_id=111122223333"
    assert_output 200
    # deny: error=access_denied with the state
    standin_config '{"oidc_authorize": "deny"}'
    loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$authz")
    [[ "$loc" == "$redir?error=access_denied&"*"state=st1" ]]
    # the device grant (a device client: no grantTypes)
    reg=$(post /client/register '{"clientName":"d","clientType":"public"}')
    cid=$(jq -r .clientId <<<"$reg"); csec=$(jq -r .clientSecret <<<"$reg")
    dev=$(post /device_authorization "{\"clientId\":\"$cid\",\"clientSecret\":\"$csec\",\"startUrl\":\"https://x/start\"}")
    dc=$(jq -r .deviceCode <<<"$dev")
    poll() { post /token "{\"grantType\":\"urn:ietf:params:oauth:grant-type:device_code\",\"clientId\":\"$cid\",\"clientSecret\":\"$csec\",\"deviceCode\":\"$dc\"}" | jq -r '.error // "token"'; }
    [[ "$(poll)" == authorization_pending ]]
    # polled again at once: slow_down
    [[ "$(poll)" == slow_down ]]
    # a second code, denied at the device page, then polled
    dev=$(post /device_authorization "{\"clientId\":\"$cid\",\"clientSecret\":\"$csec\",\"startUrl\":\"https://x/start\"}")
    dc=$(jq -r .deviceCode <<<"$dev")
    run curl -s -X POST -d "{\"userCode\": \"$(jq -r .userCode <<<"$dev")\", \"decision\": \"deny\"}" "$STANDIN_URL/standin/oidc/decide"
    [[ "$(jq .decided <<<"$output")" == 1 ]]
    [[ "$(poll)" == access_denied ]]
    # a third, approved
    dev=$(post /device_authorization "{\"clientId\":\"$cid\",\"clientSecret\":\"$csec\",\"startUrl\":\"https://x/start\"}")
    dc=$(jq -r .deviceCode <<<"$dev")
    curl -s -X POST -d '{"decision": "approve"}' "$STANDIN_URL/standin/oidc/decide" >/dev/null
    [[ "$(poll)" == token ]]
    # expiry
    standin_config '{"oidc_device_expires_in": 0}'
    dev=$(post /device_authorization "{\"clientId\":\"$cid\",\"clientSecret\":\"$csec\",\"startUrl\":\"https://x/start\"}")
    dc=$(jq -r .deviceCode <<<"$dev")
    [[ "$(poll)" == expired_token ]]
    # a wrong client secret
    run post /device_authorization "{\"clientId\":\"$cid\",\"clientSecret\":\"nope\",\"startUrl\":\"https://x/start\"}"
    [[ "$(jq -r .error <<<"$output")" == invalid_client ]]
    [[ "$(standin_state | jq .oidc.calls.RegisterClient)" == 2 ]]
}

# --- data channel ------------------------------------------------------------------------------

@test "data channel: handshake trace matches §7, then an exact echo" {
    standin_echo
    wsrun --send-bytes 3000 --terminate --close-frame --ping-first
    assert_success
    [[ "$(rep .echo_ok)" == true ]]
    # client's view: rows 3-9 of the §7 table
    run jq -c '[.trace[:7][] | [.dir, (.kind // .type), .seq, .flags, .ptype, .acks]]' "$R"
    assert_output '[["C>S","OpenDataChannel",null,null,null,null],["S>C","output_stream_data",0,1,5,null],["C>S","acknowledge",null,null,null,0],["C>S","input_stream_data",0,null,6,null],["S>C","acknowledge",0,3,0,0],["S>C","output_stream_data",1,0,7,null],["C>S","acknowledge",null,null,null,1]]'
    [[ "$(rep .handshake_request.RequestedClientActions[0].ActionParameters.SessionType)" == Port ]]
    [[ "$(rep .handshake_request.AgentVersion)" == 3.3.987.0 ]]
    [[ "$(rep '.handshake_complete | has("HandshakeTimeToComplete") and .CustomerMessage == ""')" == true ]]
    # stand-in's view
    run sess '[.trace[:6][] | [.dir, .type, .seq, .ptype]] | tostring'
    assert_output '[["C>S","OpenDataChannel",null,null],["S>C","output_stream_data",0,5],["C>S","acknowledge",0,0],["C>S","input_stream_data",0,6],["S>C","output_stream_data",1,7],["C>S","acknowledge",0,0]]'
    [[ "$(sess .stats.in_bytes)" == 3000 && "$(sess .stats.out_bytes)" == 3000 ]]
    [[ "$(sess .terminate_flag)" == true && "$(sess .client_close_frame)" == true ]]
    [[ "$(sess .connects[0].pings)" == 1 && "$(sess .connects[0].client_id)" == "$(rep .client_id)" ]]
    [[ "$(sess .stats.ack_id_mismatch)" == null && "$(sess .stats.digest_errors)" == 0 ]]
}

@test "data channel: 4 MiB echo exact with pace_ms 0, fragmented client frames" {
    standin_echo --pace-ms 0
    wsrun --send-bytes 4194304 --fragment 700 --terminate
    assert_success
    [[ "$(rep .echo_ok)" == true ]]
    [[ "$(sess .stats.out_data_msgs)" -ge 4096 ]]
    [[ "$(sess .connects[0].fragmented_messages)" -gt 4000 ]]
}

@test "data channel: target EOF ends the session with channel_closed (HL 116, empty Output)" {
    echo_start --close-after 2048
    standin_start --moto "" --target "127.0.0.1:$ECHO_PORT" --set "{\"static_instances\":{\"$IID\":{}}}"
    wsrun --send-bytes 4096 --wait-close
    [[ "$(rep .channel_closed.hl)" == 116 && "$(rep .channel_closed.padding)" == space ]]
    [[ "$(rep .channel_closed.output)" == "" && "$(rep .received_bytes)" == 2048 ]]
    [[ "$(rep .channel_closed.json.SessionId)" == "$(sess .SessionId)" ]]
    [[ "$(sess .end_reason)" == "target EOF" && "$(sess .stats.unacked_at_close)" == null ]]
}

@test "client flags: DisconnectToPort closes the target side, which ends the session" {
    standin_echo
    wsrun --send-bytes 2000 --flag 1 --wait-close
    assert_success
    [[ "$(rep .echo_ok)" == true && "$(rep .channel_closed.output)" == "" ]]
    [[ "$(sess '.flags | join(",")')" == DisconnectToPort && "$(sess .stats.disconnect_flag)" == 1 ]]
    [[ "$(sess .end_reason)" == "target EOF" && "$(sess .terminate_flag)" == false ]]
}

@test "switch close_with_error + channel_closed_hl112: MGS variant with an error text" {
    echo_start --close-after 100
    standin_start --moto "" --target "127.0.0.1:$ECHO_PORT" \
        --set "{\"static_instances\":{\"$IID\":{}},\"channel_closed_hl112\":true,\"close_with_error\":\"Session timed out\"}"
    wsrun --send-bytes 200 --wait-close
    [[ "$(rep .channel_closed.hl)" == 112 && "$(rep .channel_closed.padding)" == nul ]]
    [[ "$(rep .channel_closed.ptype)" == 0 && "$(rep .channel_closed.output)" == "Session timed out" ]]
}

@test "switch drop_after_bytes: abrupt drop, resume without a new handshake, exact data" {
    standin_echo --pace-ms 0 --set '{"drop_after_bytes":300000,"resume_new_url":true}'
    wsrun --send-bytes 1000000 --terminate
    assert_success
    [[ "$(rep .echo_ok)" == true && "$(rep .resumes)" == 1 ]]
    [[ "$(rep '.resume_urls[0]')" == *"cell-number=1" ]]
    [[ "$(sess '.connects | length')" == 2 && "$(sess '.connects[0].closed_by')" == drop_after_bytes ]]
    [[ "$(sess '.connects[1].token_kind')" == resume && "$(sess '.connects[1].query')" == *cell-number=1 ]]
    [[ "$(sess '.client_ids | unique | length')" == 1 && "$(sess .stats.drops)" == 1 ]]
    [[ "$(sess '[.trace[] | select(.ptype == 5)] | length')" == 1 ]]       # no second HandshakeRequest
    [[ "$(sess .stats.out_resent_on_reconnect)" -ge 0 ]]
}

@test "switches duplicate_every, reorder_every, unknown_message_every: the client copes, data exact" {
    standin_echo --pace-ms 0 --set '{"duplicate_every":7,"reorder_every":5,"unknown_message_every":11}'
    wsrun --send-bytes 200000 --terminate
    assert_success
    [[ "$(rep .echo_ok)" == true ]]
    [[ "$(rep .dups_received)" -gt 0 && "$(rep .out_of_order_received)" -gt 0 ]]
    [[ "$(rep '.unknown_ignored | length')" -gt 0 && "$(rep '.unknown_ignored[0]')" == future_message_type ]]
    [[ "$(sess .stats.duplicates_sent)" -gt 0 && "$(sess .stats.reordered)" -gt 0 && "$(sess .stats.unknown_sent)" -gt 0 ]]
}

@test "switch corrupt_digest_every: bad digest dropped, good copy retransmitted" {
    standin_echo --pace-ms 0 --set '{"corrupt_digest_every":10}'
    wsrun --send-bytes 50000 --terminate
    assert_success
    [[ "$(rep .echo_ok)" == true && "$(rep .bad_digest_dropped)" -gt 0 ]]
    [[ "$(sess .stats.corrupted_sent)" -gt 0 && "$(sess .stats.out_retransmissions)" -gt 0 ]]
}

@test "switch withhold_acks_ms: client data is neither acked nor processed, then retransmission wins" {
    standin_echo --set '{"withhold_acks_ms":700}'
    wsrun --send-bytes 5000 --terminate
    assert_success
    [[ "$(rep .echo_ok)" == true && "$(rep .retransmissions)" -gt 0 ]]
    [[ "$(sess .stats.withheld)" -gt 0 && "$(sess .stats.in_duplicates)" == 0 ]]
}

@test "switch pause_after_bytes + pause_ms: pause_publication, silence, start_publication" {
    standin_echo --pace-ms 0 --set '{"pause_after_bytes":20000,"pause_ms":500}'
    wsrun --send-bytes 60000 --terminate
    assert_success
    [[ "$(rep .echo_ok)" == true && "$(rep .pauses)" == 1 && "$(rep .starts)" == 1 ]]
    run jq -r '.control_events | join(",")' "$R"
    assert_output "pause_publication,start_publication"
    [[ "$(sess .stats.pauses)" == 1 ]]
}

@test "switch stop_acking_after_bytes: the gateway goes silent" {
    standin_echo --pace-ms 0 --set '{"stop_acking_after_bytes":10240}'
    wsrun --send-bytes 40000 --timeout 1
    assert_failure
    [[ "$(rep .retransmissions)" -gt 0 && "$(rep .received_bytes)" -lt 40000 ]]
    [[ "$(sess .stats.ignored_after_stop_acking)" -gt 0 && "$(sess .stats.in_bytes)" -le 11264 ]]
}

@test "switch pace_ms: 1024-byte chunks paced" {
    standin_echo --set '{"pace_ms":10}'
    SECONDS=0
    wsrun --send-bytes 51200 --terminate
    assert_success
    [[ "$(rep .echo_ok)" == true ]]
    [[ "$(rep .seconds | cut -d. -f1)" -ge 0 ]]
    run jq '.seconds >= 0.45' "$R"
    assert_output true                    # 50 chunks x 10 ms
}

@test "switch giant_frame: one frame announcing a huge length" {
    standin_echo --set '{"giant_frame":true}'
    wsrun --send-bytes 10
    assert_failure
    [[ "$(rep .giant_frame_detected)" == *"1099511627776 bytes announced"* ]]
    [[ "$(sess .stats.giant_frames)" == 1 ]]
}

@test "handshake failures: ActionStatus 2, no response within handshake_timeout, data before handshake" {
    standin_echo --set '{"handshake_timeout":1}'
    wsrun --send-bytes 10 --handshake-status 2
    [[ "$(rep .channel_closed.output)" == "Handshake failed: SessionType status 2: unsupported" ]]
    [[ "$(sess .handshake.state)" == failed ]]
    wsrun --send-bytes 10 --no-handshake-response
    [[ "$(rep .channel_closed.output)" == "Handshake timed out" ]]
    wsrun --send-bytes 10 --data-before-complete
    [[ "$(sess .stats.data_before_handshake)" == 1 ]]
    [[ "$(sess '.errors[0]')" == "HandshakeResponse at client sequence number 1, not 0" ]]
}

@test "websocket rules: unmasked frame, bad header length, bad token are refused" {
    standin_echo
    wsrun --send-bytes 10 --unmasked-after-handshake --no-resume
    [[ "$(sess '.connects[0].protocol_error')" == "client frame not masked" ]]
    [[ "$(rep .server_close_code)" == 1002 ]]
    wsrun --send-bytes 10 --bad-header --no-resume
    [[ "$(sess '.connects[0].protocol_error')" == "bad ClientMessage header length" && "$(sess .stats.bad_header)" == 1 ]]
    wsrun --send-bytes 10 --bad-token --no-resume
    [[ "$(sess '.rejected_connects[0].open_error')" == "invalid or reused token" ]]
    [[ "$(rep .server_close_code)" == 1008 ]]
}

@test "require_ws_sigv4: unsigned upgrade refused with 403, ssmmessages-signed upgrade accepted" {
    standin_echo --keys AKIDWS:wssecret --set '{"require_ws_sigv4":true}'
    wsrun --send-bytes 10 --no-resume
    [[ "$(rep '.upgrade_status[0]')" == "upgrade refused: HTTP 403" ]]
    wsrun --send-bytes 1000 --key AKIDWS:wssecret --sign-ws --terminate
    assert_success
    [[ "$(rep .echo_ok)" == true ]]
    [[ "$(sess '.connects[0].sigv4.service')" == ssmmessages ]]
    [[ "$(sess '.connects[0].headers.Authorization')" == AWS4-HMAC-SHA256* ]]
}

@test "control API: config merge patch, per-session override, log, reset" {
    standin_echo
    standin_config '{"instances":{"i-0123456789abcdef0":{"customer_message":"hello from the agent"}}}'
    wsrun --send-bytes 10 --terminate
    [[ "$(rep .handshake_complete.CustomerMessage)" == "hello from the agent" ]]
    standin_config '{"instances":null,"pace_ms":0}'
    [[ "$(standin_state | jq -c '[.config.instances, .config.pace_ms]')" == '[{},0]' ]]
    run standin_log
    [[ "$(jq '[.[] | select(.op == "StartSession")] | length' <<<"$output")" == 1 ]]
    [[ "$(jq '[.[] | select(.kind == "ws" and .status == 101)] | length' <<<"$output")" == 1 ]]
    standin_reset
    [[ "$(standin_state | jq -c '[(.sessions | length), .config.pace_ms]')" == '[0,1]' ]]
}
