#!/usr/bin/env bats
# cx-creds: AWS CLI v2 credential, profile, region and endpoint resolution.
# STS parts run against moto_server with signature checking on; SSO parts
# against the project's stand-in (tests/standin) when it is present.

load ../helpers/common
load ../helpers/moto
load ../helpers/otheruser

ROLE1=arn:aws:iam::123456789012:role/cxrole1
ROLE2=arn:aws:iam::123456789012:role/cxrole2

setup_file() {
	export MOTO_RECORDER_FILEPATH="$BATS_FILE_TMPDIR/moto_recording"
	moto_start
	moto_auth off
	read -r ALICE_AK ALICE_SK < <(moto_user alice)
	export ALICE_AK ALICE_SK
	moto_aws iam create-role --role-name cxrole1 \
	    --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}' >/dev/null
	moto_aws iam create-role --role-name cxrole2 \
	    --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/cxrole1"},"Action":"sts:AssumeRole"}]}' >/dev/null
	moto_aws iam put-role-policy --role-name cxrole1 --policy-name all \
	    --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
	moto_auth on
}

teardown_file() {
	moto_stop
}

teardown() {
	other_user_remove
	[ -z "${OWN_MOTO_PID:-}" ] || stop_pid "$OWN_MOTO_PID"
	[ -z "${AUTH_OFF:-}" ] || moto_auth on
}

setup() {
	common_setup
	# files private, as `aws configure` makes them (a world-readable
	# credentials file draws a warning on stderr)
	umask 077
	mkdir -p "$HOME/.aws"
	CFG="$HOME/.aws/config"
	CRED="$HOME/.aws/credentials"
}

with_moto() {
	export AWS_ENDPOINT_URL="$MOTO_URL"
}

# sts_calls ACTION: how many requests with Action=ACTION moto recorded
sts_calls() {
	curl -sf "$MOTO_URL/moto-api/recorder/download-recording" |
	    python3 -c '
import base64, json, sys
n = 0
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    b = r.get("body") or ""
    if r.get("body_encoded"):
        b = base64.b64decode(b).decode("utf-8", "replace")
    if ("Action=" + sys.argv[1]) in b:
        n += 1
print(n)' "$1"
}

recording_start() {
	curl -sf -X POST "$MOTO_URL/moto-api/recorder/reset-recording" >/dev/null
	curl -sf -X POST "$MOTO_URL/moto-api/recorder/start-recording" >/dev/null
}

recording_body() {
	curl -sf "$MOTO_URL/moto-api/recorder/download-recording" |
	    python3 -c '
import base64, json, sys
for line in sys.stdin:
    line = line.strip()
    if line:
        r = json.loads(line)
        b = r.get("body") or ""
        if r.get("body_encoded"):
            b = base64.b64decode(b).decode("utf-8", "replace")
        print(b)'
}

# a credential_process script printing $1 (JSON) and counting its runs
make_process() {
	local f="$BATS_TEST_TMPDIR/proc-$2.sh"
	cat >"$f" <<SH
#!/bin/sh
echo run >>"$BATS_TEST_TMPDIR/proc-$2.count"
printf '%s\n' "\$*" >"$BATS_TEST_TMPDIR/proc-$2.argv"
cat <<'JSON'
$1
JSON
SH
	chmod +x "$f"
	echo "$f"
}

# ---------------------------------------------------------------- usage

@test "cx-creds: --help prints usage on stdout and exits 0" {
	run -0 --separate-stderr cx cx-creds --help
	assert_output --partial "usage: cx-creds"
	[ -z "$stderr" ]
}

@test "cx-creds: --version" {
	run -0 cx cx-creds --version
	assert_output --regexp '^cx-creds [0-9]+\.[0-9]+'
}

@test "cx-creds: usage errors are one line and exit 100" {
	run -100 --separate-stderr cx cx-creds --bogus
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	assert_equal "$output" ""
	run -100 cx cx-creds extra-arg
	run -100 cx cx-creds --format yaml
	run -100 cx cx-creds --profile
}

# ---------------------------------------------------------------- static keys

@test "cx-creds: environment keys, legacy token name first, default region" {
	export AWS_ACCESS_KEY_ID=AKENV AWS_SECRET_ACCESS_KEY=SKENV
	export AWS_SESSION_TOKEN=TOKNEW AWS_SECURITY_TOKEN=TOKOLD
	run -0 --separate-stderr cx cx-creds </dev/null
	assert_equal "$(jq -r .Version <<<"$output")" 1
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKENV
	assert_equal "$(jq -r .SecretAccessKey <<<"$output")" SKENV
	assert_equal "$(jq -r .SessionToken <<<"$output")" TOKOLD
	assert_equal "$(jq -r .Region <<<"$output")" eu-west-1
	assert_equal "$(jq -r 'has("Profile")' <<<"$output")" false
	assert_equal "$(jq -r 'has("Expiration")' <<<"$output")" false
}

@test "cx-creds: AWS_ACCESS_KEY_ID without a secret is an error, not a fall-through" {
	printf '[default]\naws_access_key_id = AKFILE\naws_secret_access_key = SKFILE\n' >"$CRED"
	export AWS_ACCESS_KEY_ID=AKENV
	run -100 --separate-stderr cx cx-creds
	assert_equal "$stderr" "cx-creds: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
}

@test "cx-creds: credentials file beats config file, keys merged key by key" {
	printf '[profile dev]\nregion = ap-south-1\naws_access_key_id = AKCONF\naws_secret_access_key = SKCONF\n' >"$CFG"
	printf '[dev]\naws_access_key_id = AKCRED\naws_secret_access_key = SKCRED\naws_session_token = TCRED\n' >"$CRED"
	run -0 cx cx-creds --profile dev
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKCRED
	assert_equal "$(jq -r .SessionToken <<<"$output")" TCRED
	assert_equal "$(jq -r .Region <<<"$output")" ap-south-1
	assert_equal "$(jq -r .Profile <<<"$output")" dev
	# without the credentials file, the config file's static keys are used
	rm "$CRED"
	run -0 cx cx-creds --profile dev
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKCONF
}

@test "cx-creds: --profile switches environment keys off, AWS_PROFILE does not" {
	printf '[dev]\naws_access_key_id = AKCRED\naws_secret_access_key = SKCRED\n' >"$CRED"
	export AWS_ACCESS_KEY_ID=AKENV AWS_SECRET_ACCESS_KEY=SKENV
	run -0 cx cx-creds --profile dev
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKCRED
	AWS_PROFILE=dev run -0 cx cx-creds
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKENV
	assert_equal "$(jq -r .Profile <<<"$output")" dev
}

@test "cx-creds: profile selection --profile > AWS_PROFILE > AWS_DEFAULT_PROFILE > default" {
	printf '[default]\naws_access_key_id = AK0\naws_secret_access_key = S\n[a]\naws_access_key_id = AKA\naws_secret_access_key = S\n[b]\naws_access_key_id = AKB\naws_secret_access_key = S\n[c]\naws_access_key_id = AKC\naws_secret_access_key = S\n' >"$CRED"
	run -0 cx cx-creds
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AK0
	AWS_DEFAULT_PROFILE=c run -0 cx cx-creds
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKC
	AWS_DEFAULT_PROFILE=c AWS_PROFILE=b run -0 cx cx-creds
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKB
	AWS_DEFAULT_PROFILE=c AWS_PROFILE=b run -0 cx cx-creds --profile a
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKA
}

@test "cx-creds: a missing profile is one line and exit 100" {
	run -100 --separate-stderr cx cx-creds --profile nope
	assert_equal "$stderr" "cx-creds: the config profile (nope) could not be found"
	AWS_PROFILE=nope run -100 cx cx-creds
}

@test "cx-creds: the later of [default] and [profile default] wins as a whole" {
	printf '[default]\nregion = us-east-2\naws_access_key_id = AK1\naws_secret_access_key = S1\n[profile default]\nregion = us-west-2\naws_access_key_id = AK2\naws_secret_access_key = S2\n' >"$CFG"
	run -0 cx cx-creds
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AK2
	assert_equal "$(jq -r .Region <<<"$output")" us-west-2
}

@test "cx-creds: quoted profile names in section headers" {
	printf '[profile "my dev"]\naws_access_key_id = AKQ\naws_secret_access_key = S\n' >"$CFG"
	run -0 cx cx-creds --profile "my dev"
	assert_equal "$(jq -r .Profile <<<"$output")" "my dev"
}

@test "cx-creds: --aws-env reads ~/.aws/aws-envs/E/ and says so" {
	mkdir -p "$HOME/.aws/aws-envs/prod"
	printf '[x]\naws_access_key_id = AKMAIN\naws_secret_access_key = S\n' >"$CRED"
	printf '[profile x]\nregion = sa-east-1\n' >"$HOME/.aws/aws-envs/prod/config"
	printf '[x]\naws_access_key_id = AKPROD\naws_secret_access_key = S\n' >"$HOME/.aws/aws-envs/prod/credentials"
	run -0 cx cx-creds --aws-env prod --profile x
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKPROD
	assert_equal "$(jq -r .Region <<<"$output")" sa-east-1
	assert_equal "$(jq -r .AwsEnv <<<"$output")" prod
	run -100 cx cx-creds --aws-env ../etc --profile x
	run -100 cx cx-creds --aws-env other --profile x
}

@test "cx-creds: region chain --region > AWS_REGION > AWS_DEFAULT_REGION > profile > eu-west-1" {
	printf '[profile r]\nregion = ca-central-1\n' >"$CFG"
	printf '[r]\naws_access_key_id = AK\naws_secret_access_key = S\n' >"$CRED"
	run -0 cx cx-creds --profile r
	assert_equal "$(jq -r .Region <<<"$output")" ca-central-1
	AWS_DEFAULT_REGION=us-west-1 run -0 cx cx-creds --profile r
	assert_equal "$(jq -r .Region <<<"$output")" us-west-1
	AWS_DEFAULT_REGION=us-west-1 AWS_REGION=eu-north-1 run -0 cx cx-creds --profile r
	assert_equal "$(jq -r .Region <<<"$output")" eu-north-1
	AWS_REGION=eu-north-1 run -0 cx cx-creds --profile r --region af-south-1
	assert_equal "$(jq -r .Region <<<"$output")" af-south-1
	run -100 cx cx-creds --profile r --region 'bad/region'
}

@test "cx-creds: stage input: other keys pass through, Profile and Region are used, flags win" {
	printf '[a]\naws_access_key_id = AKA\naws_secret_access_key = S\n[b]\naws_access_key_id = AKB\naws_secret_access_key = S\n' >"$CRED"
	run -0 --separate-stderr cx cx-creds <<<'{"Profile":"a","Region":"us-east-1","Instance":{"Id":"i-1"},"AccessKeyId":"OLD"}'
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKA
	assert_equal "$(jq -r .Region <<<"$output")" us-east-1
	assert_equal "$(jq -c .Instance <<<"$output")" '{"Id":"i-1"}'
	run -0 cx cx-creds --profile b --region eu-west-3 <<<'{"Profile":"a","Region":"us-east-1"}'
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKB
	assert_equal "$(jq -r .Region <<<"$output")" eu-west-3
	run -100 cx cx-creds <<<'{"a":1} junk'
	run -100 cx cx-creds <<<'[1]'
}

@test "cx-creds: --format env prints shell assignments" {
	export AWS_ACCESS_KEY_ID=AKENV AWS_SECRET_ACCESS_KEY="S'K" AWS_SESSION_TOKEN=T
	run -0 cx cx-creds --format env --region us-east-1
	assert_line "export AWS_ACCESS_KEY_ID='AKENV'"
	assert_line "export AWS_SECRET_ACCESS_KEY='S'\\''K'"
	assert_line "export AWS_SESSION_TOKEN='T'"
	assert_line "export AWS_REGION='us-east-1'"
	eval "$output"
	assert_equal "$AWS_SECRET_ACCESS_KEY" "S'K"
}

@test "cx-creds: nothing found is 'unable to locate credentials' and exit 3" {
	printf '[profile empty]\nregion = us-east-1\n' >"$CFG"
	run -3 --separate-stderr cx cx-creds --profile empty
	assert_equal "$stderr" "cx-creds: unable to locate credentials for profile 'empty'; configure them with: aws configure --profile empty"
}

# ---------------------------------------------------------------- endpoints

@test "cx-creds: endpoint chain: service variable > AWS_ENDPOINT_URL > services section > profile endpoint_url > default" {
	printf '[profile e]\nservices = loc\nendpoint_url = http://profile:1\n[services loc]\nec2 =\n  endpoint_url = http://svc-ec2:2\n[profile plain]\n[profile broken]\nservices = missing\n' >"$CFG"
	export AWS_ACCESS_KEY_ID=AK AWS_SECRET_ACCESS_KEY=SK
	run -0 cx cx-creds --profile plain --print-endpoint ssm --region us-east-2
	assert_output https://ssm.us-east-2.amazonaws.com
	run -0 cx cx-creds --profile plain --print-endpoint iam
	assert_output https://iam.amazonaws.com
	run -0 cx cx-creds --profile e --print-endpoint sts
	assert_output http://profile:1
	run -0 cx cx-creds --profile e --print-endpoint ec2
	assert_output http://svc-ec2:2
	AWS_ENDPOINT_URL=http://global:3 run -0 cx cx-creds --profile e --print-endpoint ec2
	assert_output http://global:3
	AWS_ENDPOINT_URL=http://global:3 AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT=http://eic:4 \
	    run -0 cx cx-creds --profile e --print-endpoint ec2-instance-connect
	assert_output http://eic:4
	AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true AWS_ENDPOINT_URL=http://global:3 \
	    run -0 cx cx-creds --profile e --print-endpoint ec2 --region eu-west-2
	assert_output https://ec2.eu-west-2.amazonaws.com
	run -100 --separate-stderr cx cx-creds --profile broken --print-endpoint ec2
	assert_equal "$stderr" "cx-creds: profile 'broken' names services 'missing', but there is no [services missing] section"
}

# ---------------------------------------------------------------- malformed files

@test "cx-creds: a duplicate key is one line naming file and line, exit 100" {
	printf '[profile a]\nregion = x\nregion = y\n' >"$CFG"
	run -100 --separate-stderr cx cx-creds
	assert_equal "$stderr" "cx-creds: malformed AWS config file '$CFG' line 3: duplicate key 'region' in section 'profile a'"
}

@test "cx-creds: a line without delimiter, a duplicate section, an unreadable file: exit 100" {
	printf '[a]\naws_access_key_id AK\n' >"$CRED"
	run -100 --separate-stderr cx cx-creds
	assert_equal "$stderr" "cx-creds: malformed AWS config file '$CRED' line 2: no '=' or ':' in line"
	printf '[a]\n[b]\n[a]\n' >"$CRED"
	run -100 --separate-stderr cx cx-creds
	assert_output ""
	assert_equal "$stderr" "cx-creds: malformed AWS config file '$CRED' line 3: duplicate section 'a' (first at line 1)"
	rm "$CRED"
	mkdir "$CRED"
	run -100 --separate-stderr cx cx-creds
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	assert_equal "$stderr" "cx-creds: cannot read '$CRED': Is a directory"
}

# ---------------------------------------------------------------- credential_process

@test "cx-creds: credential_process: keys, token and expiration; argv as written" {
	local exp p
	exp=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)
	p=$(make_process "{\"Version\": 1, \"AccessKeyId\": \"AKPROC\", \"SecretAccessKey\": \"SKPROC\", \"SessionToken\": \"TPROC\", \"Expiration\": \"$exp\"}" good)
	printf '[profile p]\ncredential_process = %s --flag "two words"\n' "$p" >"$CFG"
	run -0 --separate-stderr cx cx-creds --profile p
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" AKPROC
	assert_equal "$(jq -r .SessionToken <<<"$output")" TPROC
	assert_equal "$(jq -r .Expiration <<<"$output")" "$exp"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/proc-good.argv")" "--flag two words"
}

@test "cx-creds: credential_process failing: its first stderr line, exit 3" {
	printf '#!/bin/sh\necho "token expired, run op signin" >&2\necho second >&2\nexit 4\n' >"$BATS_TEST_TMPDIR/fail.sh"
	chmod +x "$BATS_TEST_TMPDIR/fail.sh"
	printf '[profile p]\ncredential_process = %s\n' "$BATS_TEST_TMPDIR/fail.sh" >"$CFG"
	run -3 --separate-stderr cx cx-creds --profile p
	assert_equal "$stderr" "cx-creds: credential_process of profile 'p' failed (exit 4): token expired, run op signin"
	printf '[profile p]\ncredential_process = /nonexistent/helper\n' >"$CFG"
	run -100 --separate-stderr cx cx-creds --profile p
	assert_equal "$stderr" "cx-creds: cannot run credential_process of profile 'p': '/nonexistent/helper' not found"
}

@test "cx-creds: credential_process printing garbage, Version 2, no secret, expired" {
	local p
	p=$(make_process 'this is not json' garbage)
	printf '[profile p]\ncredential_process = %s\n' "$p" >"$CFG"
	run -100 --separate-stderr cx cx-creds --profile p
	assert_equal "$stderr" "cx-creds: the output of credential_process of profile 'p' is not valid JSON"
	p=$(make_process '{"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "S"}' v2)
	printf '[profile p]\ncredential_process = %s\n' "$p" >"$CFG"
	run -100 --separate-stderr cx cx-creds --profile p
	assert_equal "$stderr" "cx-creds: the output of credential_process of profile 'p' has an unsupported Version, expected 1"
	p=$(make_process '{"Version": 1, "AccessKeyId": "A"}' nosecret)
	printf '[profile p]\ncredential_process = %s\n' "$p" >"$CFG"
	run -100 --separate-stderr cx cx-creds --profile p
	assert_equal "$stderr" "cx-creds: the output of credential_process of profile 'p' has no SecretAccessKey"
	p=$(make_process '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S", "Expiration": "2020-01-01T00:00:00Z"}' expired)
	printf '[profile p]\ncredential_process = %s\n' "$p" >"$CFG"
	run -3 --separate-stderr cx cx-creds --profile p
	assert_equal "$stderr" "cx-creds: credentials from credential_process of profile 'p' expired at 2020-01-01T00:00:00Z"
}

@test "cx-creds: a credential_process that calls itself stops after a few levels" {
	printf '[profile loop]\ncredential_process = %s --profile loop\n' "$(command -v cx-creds)" >"$CFG"
	run --separate-stderr cx cx-creds --profile loop
	[ "$status" -ne 0 ]
	assert_output ""
}

# ---------------------------------------------------------------- STS against moto

@test "cx-creds: --identity against moto with signature checking returns the IAM user's ARN" {
	with_moto
	printf '[src]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ALICE_AK" "$ALICE_SK" >"$CRED"
	run -0 --separate-stderr cx cx-creds --profile src --identity
	assert_equal "$(jq -r .Identity.Arn <<<"$output")" arn:aws:iam::123456789012:user/alice
	assert_equal "$(jq -r .Identity.Account <<<"$output")" 123456789012
	[ -n "$(jq -r .Identity.UserId <<<"$output")" ]
}

@test "cx-creds: --identity with a wrong secret fails with one line and exit 1" {
	with_moto
	printf '[bad]\naws_access_key_id = %s\naws_secret_access_key = WRONGSECRETCANARY\n' "$ALICE_AK" >"$CRED"
	run -1 --separate-stderr cx cx-creds --profile bad --identity -vv
	assert_output ""
	[[ "$stderr" == *"cannot get the caller identity: SignatureDoesNotMatch"* ]]
	[[ "$stderr" != *WRONGSECRETCANARY* ]]
	[ "$(grep -vc ': debug: ' <<<"$stderr")" -eq 1 ]
}

@test "cx-creds: assume role with source_profile, session name and external id; cached" {
	with_moto
	printf '[src]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ALICE_AK" "$ALICE_SK" >"$CRED"
	printf '[profile role]\nrole_arn = %s\nsource_profile = src\nrole_session_name = sess1\nexternal_id = ext-4711\nduration_seconds = 3600\n' "$ROLE1" >"$CFG"
	recording_start
	run -0 --separate-stderr cx cx-creds --profile role --identity
	assert_equal "$(jq -r .Identity.Arn <<<"$output")" arn:aws:sts::123456789012:assumed-role/cxrole1/sess1
	[[ "$(jq -r .AccessKeyId <<<"$output")" == ASIA* ]]
	[ -n "$(jq -r .SessionToken <<<"$output")" ]
	[ -n "$(jq -r .Expiration <<<"$output")" ]
	first=$(jq -r .AccessKeyId <<<"$output")
	recording_body | grep -q 'ExternalId=ext-4711'
	recording_body | grep -q 'RoleSessionName=sess1'
	recording_body | grep -q 'DurationSeconds=3600'
	assert_equal "$(sts_calls AssumeRole)" 1
	# the cache: folder 0700, file 0600
	dir="$HOME/.cache/cloudx-proxy"
	assert_equal "$(stat -c %a "$dir")" 700
	f=$(ls "$dir"/*.json)
	assert_equal "$(stat -c %a "$f")" 600
	# second run: same credentials, no new AssumeRole call
	run -0 cx cx-creds --profile role
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" "$first"
	assert_equal "$(sts_calls AssumeRole)" 1
	# an unreadable cache entry is ignored and replaced
	echo 'garbage' >"$f"
	run -0 cx cx-creds --profile role
	assert_equal "$(sts_calls AssumeRole)" 2
	jq -e .AccessKeyId "$f" >/dev/null
	curl -sf -X POST "$MOTO_URL/moto-api/recorder/stop-recording" >/dev/null
}

@test "cx-creds: cached role credentials work with moto stopped; XDG_CACHE_HOME honoured" {
	export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/xdg"
	# a moto of this test's own, to stop it
	moto_start
	OWN_MOTO_PID=$MOTO_PID
	read -r bob_ak bob_sk < <(moto_user bob)
	moto_aws iam create-role --role-name cxrole1 \
	    --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"sts:AssumeRole"}]}' >/dev/null
	printf '[src]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$bob_ak" "$bob_sk" >"$CRED"
	printf '[profile role]\nrole_arn = %s\nsource_profile = src\nrole_session_name = s2\n' "$ROLE1" >"$CFG"
	run -0 cx cx-creds --profile role
	first=$(jq -r .AccessKeyId <<<"$output")
	ls "$XDG_CACHE_HOME"/cloudx-proxy/*.json
	[ ! -e "$HOME/.cache/cloudx-proxy" ]
	moto_stop
	OWN_MOTO_PID=
	run -0 cx cx-creds --profile role
	assert_equal "$(jq -r .AccessKeyId <<<"$output")" "$first"
	# without the cache the endpoint is really gone: a temporary failure
	rm -rf "$XDG_CACHE_HOME"
	run -111 --separate-stderr cx cx-creds --profile role
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

# role_profile: profile "role" assuming cxrole1 from alice's keys (moto)
role_profile() {
	with_moto
	printf '[src]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ALICE_AK" "$ALICE_SK" >"$CRED"
	printf '[profile role]\nrole_arn = %s\nsource_profile = src\nrole_session_name = s3\n' "$ROLE1" >"$CFG"
}

# plant FILE: an attacker's cache entry (valid for an hour) at FILE
plant() {
	jq -n --arg e "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" \
	    '{Version: 1, AccessKeyId: "ASIAATTACKER", SecretAccessKey: "attacker", SessionToken: "attacker", Expiration: $e}' >"$1"
}

@test "cx-creds: a cache folder or entry another user controls is never used (issue 16 item 1)" {
	other_user_create
	role_profile
	# the entry's name, from a run with a cache of our own
	XDG_CACHE_HOME="$BATS_TEST_TMPDIR/mine" run -0 cx cx-creds --profile role
	name=$(basename "$(ls "$BATS_TEST_TMPDIR"/mine/cloudx-proxy/*.json)")
	# the attack: XDG_CACHE_HOME in a shared folder, where the other user
	# made cloudx-proxy/ and planted an entry of their own
	shared="$BATS_TEST_TMPDIR/shared"
	mkdir -p "$shared/cloudx-proxy"
	plant "$shared/cloudx-proxy/$name"
	chmod 0777 "$shared"
	chown -R "$OTHER_USER" "$shared"
	export XDG_CACHE_HOME="$shared"
	run -0 --separate-stderr cx cx-creds --profile role
	[ "$(jq -r .AccessKeyId <<<"$output")" != ASIAATTACKER ]
	[[ "$(jq -r .AccessKeyId <<<"$output")" == ASIA* ]]
	assert_equal "$stderr" "cx-creds: warning: not using the credential cache folder '$shared/cloudx-proxy': it is owned by user '$OTHER_USER'"
	# nothing of ours went there: no entry, no lock naming the entry
	assert_equal "$(ls -A "$shared/cloudx-proxy")" "$name"
	# a folder of ours that others may write: the same
	chown -R root "$shared"
	chmod 0777 "$shared/cloudx-proxy"
	run -0 --separate-stderr cx cx-creds --profile role
	[ "$(jq -r .AccessKeyId <<<"$output")" != ASIAATTACKER ]
	assert_equal "$stderr" "cx-creds: warning: not using the credential cache folder '$shared/cloudx-proxy': it is writable by others (mode 0777)"
	# a private folder of ours, an entry someone else owns in it
	chmod 0700 "$shared/cloudx-proxy"
	chown "$OTHER_USER" "$shared/cloudx-proxy/$name"
	run -0 --separate-stderr cx cx-creds --profile role
	[ "$(jq -r .AccessKeyId <<<"$output")" != ASIAATTACKER ]
	assert_equal "$stderr" "cx-creds: warning: not using the credential cache entry '$shared/cloudx-proxy/$name': it is owned by user '$OTHER_USER'"
}

@test "cx-creds: a symlink planted where the cache's lock goes is never followed" {
	other_user_create
	role_profile
	XDG_CACHE_HOME="$BATS_TEST_TMPDIR/mine" run -0 cx cx-creds --profile role
	name=$(basename "$(ls "$BATS_TEST_TMPDIR"/mine/cloudx-proxy/*.json)")
	# the attack of the issue: <entry>.lock in the shared cache folder
	# pointing into the user's home
	shared="$BATS_TEST_TMPDIR/shared"
	mkdir -p "$shared/cloudx-proxy"
	ln -s "$HOME/created-by-lock" "$shared/cloudx-proxy/$name.lock"
	chmod 0777 "$shared" "$shared/cloudx-proxy"
	chown -hR "$OTHER_USER" "$shared"
	XDG_CACHE_HOME="$shared" run -0 cx cx-creds --profile role
	[ ! -e "$HOME/created-by-lock" ]
	# our lock folder is checked too: another user's is not used
	state="$BATS_TEST_TMPDIR/state"
	mkdir -p "$state/cloudx-proxy/locks"
	export XDG_CACHE_HOME="$BATS_TEST_TMPDIR/mine"
	rm -f "$XDG_CACHE_HOME"/cloudx-proxy/*.json
	lock=$(XDG_STATE_HOME=$state lock_file "$XDG_CACHE_HOME/cloudx-proxy/$name")
	ln -s "$HOME/created-by-lock" "$lock"
	chown -hR "$OTHER_USER" "$state"
	XDG_STATE_HOME=$state run -0 --separate-stderr cx cx-creds --profile role
	[ ! -e "$HOME/created-by-lock" ]
	[[ "$stderr" == *"the lock folder '$state/cloudx-proxy/locks' is owned by user '$OTHER_USER'"* ]]
	# in a lock folder of ours, a symlink is not followed (O_NOFOLLOW)
	chown -hR root "$state"
	rm -f "$XDG_CACHE_HOME"/cloudx-proxy/*.json
	XDG_STATE_HOME=$state run -0 --separate-stderr cx cx-creds --profile role
	[ ! -e "$HOME/created-by-lock" ]
	[[ "$stderr" == *"cannot open lock file '$lock': a symbolic link"* ]]
}

@test "cx-creds: source credentials from a credential_process run once, thanks to the cache" {
	with_moto
	p=$(make_process "{\"Version\": 1, \"AccessKeyId\": \"$ALICE_AK\", \"SecretAccessKey\": \"$ALICE_SK\"}" src)
	printf '[profile src]\ncredential_process = %s\n[profile role]\nrole_arn = %s\nsource_profile = src\nrole_session_name = viaproc\n' "$p" "$ROLE1" >"$CFG"
	run -0 cx cx-creds --profile role --identity
	assert_equal "$(jq -r .Identity.Arn <<<"$output")" arn:aws:sts::123456789012:assumed-role/cxrole1/viaproc
	run -0 cx cx-creds --profile role
	run -0 cx cx-creds --profile role
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/proc-src.count")" 1
}

@test "cx-creds: chained roles and credential_source = Environment" {
	with_moto
	printf '[src]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ALICE_AK" "$ALICE_SK" >"$CRED"
	printf '[profile r1]\nrole_arn = %s\nsource_profile = src\nrole_session_name = one\n[profile r2]\nrole_arn = %s\nsource_profile = r1\nrole_session_name = two\n[profile envrole]\nrole_arn = %s\ncredential_source = Environment\nrole_session_name = fromenv\n' "$ROLE1" "$ROLE2" "$ROLE1" >"$CFG"
	# moto's auth mode ignores a role's own policies, so an assumed role
	# may not assume another: check this hop with auth off
	AUTH_OFF=1
	moto_auth off
	run -0 --separate-stderr cx cx-creds --profile r2 --identity
	assert_equal "$(jq -r .Identity.Arn <<<"$output")" arn:aws:sts::123456789012:assumed-role/cxrole2/two
	moto_auth on
	AUTH_OFF=
	AWS_ACCESS_KEY_ID=$ALICE_AK AWS_SECRET_ACCESS_KEY=$ALICE_SK run -0 cx cx-creds --profile envrole --identity
	assert_equal "$(jq -r .Identity.Arn <<<"$output")" arn:aws:sts::123456789012:assumed-role/cxrole1/fromenv
	run -3 --separate-stderr cx cx-creds --profile envrole
	assert_equal "$stderr" "cx-creds: profile 'envrole' takes its source credentials from the environment, but AWS_ACCESS_KEY_ID is not set"
}

@test "cx-creds: role configuration errors" {
	printf '[profile both]\nrole_arn = %s\nsource_profile = x\ncredential_source = Environment\n[profile none]\nrole_arn = %s\n[profile gone]\nrole_arn = %s\nsource_profile = nowhere\n[profile l1]\nrole_arn = %s\nsource_profile = l2\n[profile l2]\nrole_arn = %s\nsource_profile = l1\n[profile mfa]\nrole_arn = %s\nsource_profile = s\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n[profile s]\naws_access_key_id = AK\naws_secret_access_key = SK\n' "$ROLE1" "$ROLE1" "$ROLE1" "$ROLE1" "$ROLE1" "$ROLE1" >"$CFG"
	run -100 --separate-stderr cx cx-creds --profile both
	assert_equal "$stderr" "cx-creds: profile 'both' has both source_profile and credential_source"
	run -100 --separate-stderr cx cx-creds --profile none
	assert_equal "$stderr" "cx-creds: profile 'none' has role_arn but neither source_profile nor credential_source"
	run -100 --separate-stderr cx cx-creds --profile gone
	assert_equal "$stderr" "cx-creds: the source_profile (nowhere) of profile 'gone' could not be found"
	run -100 --separate-stderr cx cx-creds --profile l1
	assert_equal "$stderr" "cx-creds: profile 'l2': source_profile 'l1' makes a loop"
	# no terminal to ask the MFA code on (setsid: no controlling tty)
	run -3 --separate-stderr setsid -w cx-creds --profile mfa
	assert_equal "$stderr" "cx-creds: profile 'mfa' needs an MFA code for 'arn:aws:iam::123456789012:mfa/alice', but there is no terminal to ask on"
}

@test "cx-creds: output works as another profile's credential_process for the aws CLI" {
	command -v aws >/dev/null || skip "no aws CLI"
	with_moto
	printf '[src]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ALICE_AK" "$ALICE_SK" >"$CRED"
	printf '[profile src]\nregion = eu-west-1\n[profile viacx]\nregion = eu-west-1\ncredential_process = %s --profile src\n[profile role]\nrole_arn = %s\nsource_profile = src\nrole_session_name = cli\n[profile viarole]\nregion = eu-west-1\ncredential_process = %s --profile role\n' \
	    "$CX_BIN_DIR/cx-creds" "$ROLE1" "$CX_BIN_DIR/cx-creds" >"$CFG"
	run -0 aws sts get-caller-identity --profile viacx --query Arn --output text
	assert_output arn:aws:iam::123456789012:user/alice
	run -0 aws sts get-caller-identity --profile viarole --query Arn --output text
	assert_output arn:aws:sts::123456789012:assumed-role/cxrole1/cli
}

# ---------------------------------------------------------------- secrets

@test "cx-creds: secrets never reach stderr, even at -vv" {
	with_moto
	local p
	p=$(make_process '{"Version": 1, "AccessKeyId": "AKCANARY", "SecretAccessKey": "SECRETCANARY1", "SessionToken": "TOKENCANARY1"}' canary)
	printf '[profile p]\ncredential_process = %s\n[profile f]\naws_access_key_id = AKF\naws_secret_access_key = SECRETCANARY2\naws_session_token = TOKENCANARY2\n' "$p" >"$CFG"
	run -0 --separate-stderr cx cx-creds --profile p -vv
	[[ "$output" == *SECRETCANARY1* ]]
	[[ "$stderr" == *debug* ]]
	[[ "$stderr" != *SECRETCANARY1* && "$stderr" != *TOKENCANARY1* ]]
	run -0 --separate-stderr cx cx-creds --profile f -vv --format env
	[[ "$stderr" != *SECRETCANARY2* && "$stderr" != *TOKENCANARY2* ]]
	AWS_ACCESS_KEY_ID=AKE AWS_SECRET_ACCESS_KEY=SECRETCANARY3 AWS_SESSION_TOKEN=TOKENCANARY3 \
	    run -1 --separate-stderr cx cx-creds -vv --identity
	[[ "$stderr" != *SECRETCANARY3* && "$stderr" != *TOKENCANARY3* ]]
	# the credential_process child got only the user's arguments
	assert_equal "$(cat "$BATS_TEST_TMPDIR/proc-canary.argv")" ""
}

# ---------------------------------------------------------------- SSO

sso_setup() {
	[ -f "$BATS_TEST_DIRNAME/../helpers/standin.bash" ] ||
	    skip "the stand-in (tests/standin) is not in this tree yet"
	load ../helpers/standin
	standin_start
	mkdir -p "$HOME/.aws/sso/cache"
}

# sso_token KEY TOKEN EXPIRES: writes the token cache file for KEY
sso_token() {
	local f
	f="$HOME/.aws/sso/cache/$(printf '%s' "$1" | sha1sum | cut -d' ' -f1).json"
	jq -n --arg t "$2" --arg e "$3" '{startUrl: "https://d-1234.awsapps.com/start", region: "eu-west-1", accessToken: $t, expiresAt: $e}' >"$f"
	echo "$f"
}

@test "cx-creds: SSO (sso-session form) with a valid token gets role credentials" {
	sso_setup
	standin_config '{"sso_tokens": {"tok-good": {"accounts": {"111122223333": ["Admin"]}}}}'
	printf '[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\nregion = eu-west-2\n[sso-session corp]\nsso_start_url = https://d-1234.awsapps.com/start\nsso_region = eu-west-1\n' >"$CFG"
	sso_token corp tok-good "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
	run -0 --separate-stderr cx cx-creds --profile sso
	[ -n "$(jq -r .AccessKeyId <<<"$output")" ]
	[ -n "$(jq -r .SessionToken <<<"$output")" ]
	[ -n "$(jq -r .Expiration <<<"$output")" ]
	assert_equal "$(jq -r .Region <<<"$output")" eu-west-2
	standin_log | jq -e '[.[] | select(.kind == "sso" and .query.role_name == "Admin" and .query.account_id == "111122223333")] | length == 1' >/dev/null
	standin_stop
}

@test "cx-creds: SSO (legacy form) with an expired token: exit 3 and exactly one line" {
	sso_setup
	printf '[profile old]\nsso_start_url = https://d-1234.awsapps.com/start\nsso_region = eu-west-1\nsso_account_id = 111122223333\nsso_role_name = Admin\n' >"$CFG"
	sso_token https://d-1234.awsapps.com/start tok-old "2020-01-01T00:00:00Z"
	run -3 --separate-stderr cx cx-creds --profile old
	assert_output ""
	assert_equal "$stderr" "cx-creds: the SSO session for profile 'old' has expired or is missing; run: cloudx-proxy login --profile old"
	rm -f "$HOME"/.aws/sso/cache/*.json
	run -3 --separate-stderr cx cx-creds --profile old
	assert_equal "$stderr" "cx-creds: the SSO session for profile 'old' has expired or is missing; run: cloudx-proxy login --profile old"
	standin_stop
}

@test "cx-creds: SSO token the portal refuses (401): exit 3 and the login line" {
	sso_setup
	printf '[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n[sso-session corp]\nsso_start_url = https://d-1234.awsapps.com/start\nsso_region = eu-west-1\n' >"$CFG"
	sso_token corp tok-unknown "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
	run -3 --separate-stderr cx cx-creds --profile sso -vv
	assert_output ""
	assert_equal "$(grep -v ': debug: ' <<<"$stderr")" "cx-creds: the SSO session for profile 'sso' has expired or is missing; run: cloudx-proxy login --profile sso"
	[[ "$stderr" != *tok-unknown* ]]
	standin_stop
}

@test "cx-creds: an SSO token cache another user controls is not used: exit 3, one line (issue 16 item 1)" {
	other_user_create
	sso_setup
	standin_config '{"sso_tokens": {"tok-good": {"accounts": {"111122223333": ["Admin"]}}}}'
	printf '[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n[sso-session corp]\nsso_start_url = https://d-1234.awsapps.com/start\nsso_region = eu-west-1\n' >"$CFG"
	f=$(sso_token corp tok-good "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)")
	# a token another user wrote is not our login
	chown "$OTHER_USER" "$f"
	run -3 --separate-stderr cx cx-creds --profile sso
	assert_output ""
	assert_equal "$stderr" "cx-creds: not using the SSO token cache '$f': it is owned by user '$OTHER_USER'"
	# nor one in a folder others may write
	chown root "$f"
	chmod 0777 "$HOME/.aws/sso/cache"
	run -3 --separate-stderr cx cx-creds --profile sso
	assert_equal "$stderr" "cx-creds: not using the SSO token cache '$HOME/.aws/sso/cache': it is writable by others (mode 0777)"
	# ours and private: used
	chmod 0700 "$HOME/.aws/sso/cache"
	run -0 cx cx-creds --profile sso
	standin_stop
}

@test "cx-creds: SSO token about to expire is refreshed through SSO OIDC" {
	sso_setup
	standin_config '{"sso_tokens": {"tok-old": {"accounts": {"111122223333": ["Admin"]}}}, "sso_refresh_tokens": {"rt-1": {"client_id": "cid", "client_secret": "csecret", "token": "tok-old"}}}'
	printf '[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n[sso-session corp]\nsso_start_url = https://d-1234.awsapps.com/start\nsso_region = eu-west-1\n' >"$CFG"
	f=$(sso_token corp tok-old "$(date -u -d '+5 minutes' +%Y-%m-%dT%H:%M:%SZ)")
	jq --arg r "$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)" '. + {clientId: "cid", clientSecret: "csecret", refreshToken: "rt-1", registrationExpiresAt: $r}' "$f" >"$f.new"
	mv "$f.new" "$f"
	run -0 --separate-stderr cx cx-creds --profile sso
	[ -n "$(jq -r .AccessKeyId <<<"$output")" ]
	[[ "$(jq -r .accessToken "$f")" != tok-old ]]
	standin_log | jq -e '[.[] | select(.kind == "oidc" and .status == 200)] | length == 1' >/dev/null
	standin_stop
}
