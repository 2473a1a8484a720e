#!/usr/bin/env bats
# cloudx-proxy setup: prompts (driven with expect), --yes, --dry-run, the
# AWS profile files, keys, 1Password (a fake op), the ssh config, VS Code.
# The AWS side comes from fake stages beside a copy of the driver (setup
# asks cx-creds --identity and cx-instance status); the real stages against
# moto are in cloudx-proxy-e2e.bats.
load ../helpers/common
load ../helpers/otheruser

ID=i-0123456789abcdef0

setup() {
	common_setup
	BIN="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$BIN"
	cp "$CX_BIN_DIR/cloudx-proxy" "$BIN/"
	ln -s cloudx-proxy "$BIN/cloudX-proxy"
	cp -P "$CX_ROOT"/tests/tools/fake-stages/* "$BIN/"
	export FAKE_LOG="$BATS_TEST_TMPDIR/log"
	export FAKE_TAGS='{"Name":"cloudx-qa-web | alice"}'
}

teardown() {
	other_user_remove
}

drv() {
	cx "$BIN/cloudx-proxy" "$@"
}

profile() {	# profile NAME: a ready AWS profile
	mkdir -p "$HOME/.aws"
	printf '[%s]\naws_access_key_id = AKIAOLD\naws_secret_access_key = old\n' "$1" >>"$HOME/.aws/credentials"
}

tree() {	# every path under HOME with mode, size and mtime
	find "$HOME" -printf '%p %m %s %T@\n' | sort
}

@test "setup --yes: profile, key, tags, three-tier config and Include" {
	profile cloudX
	run -0 --separate-stderr drv setup --yes --no-check --instance "$ID"
	[[ "$stderr" == *"✓ AWS profile 'cloudX' exists and matches cloudX format"* ]]
	[[ "$stderr" == *"✓ Found hostname from Name tag: web"* ]]
	[[ "$stderr" == *"✓ Found environment: qa"* ]]
	[[ "$stderr" == *"○ Enter environment: Using default [qa]"* ]]
	[[ "$stderr" == *"Connect using: ssh cloudx-qa-web"* ]]
	run -0 cat "$HOME/.ssh/cloudX/config"
	assert_line "Host cloudx-*"
	assert_line "Host cloudx-qa-*"
	assert_line "    IdentityFile $HOME/.ssh/cloudX/cloudX"
	assert_line "    ProxyCommand $BIN/cloudx-proxy connect %h %p --os-user %r"
	assert_line "Host cloudx-qa-web"
	assert_line "    HostName $ID"
	run -0 cat "$HOME/.ssh/config"
	assert_output "Include $HOME/.ssh/cloudX/config"
	[ "$(stat -c %a "$HOME/.ssh/cloudX")" = 700 ]
	[ "$(stat -c %a "$HOME/.ssh/cloudX/cloudX")" = 600 ]
	[ "$(stat -c %a "$HOME/.ssh/cloudX/cloudX.pub")" = 644 ]
	[ "$(stat -c %a "$HOME/.ssh/cloudX/config")" = 600 ]
	ssh-keygen -l -f "$HOME/.ssh/cloudX/cloudX.pub" | grep -q ED25519
	# the AWS calls went through the stages, with the profile
	run -0 grep -v ' stdin ' "$FAKE_LOG"
	assert_line "cx-creds --identity --profile cloudX"
	assert_line "cx-instance status $ID --profile cloudX"
	# ssh itself accepts the result
	run -0 ssh -G -F "$HOME/.ssh/config" cloudx-qa-web
	assert_line "hostname $ID"
	assert_line "user ec2-user"
}

@test "setup --yes as cloudX-proxy writes cloudX-* hosts; options reach the ProxyCommand" {
	mkdir -p "$HOME/keys" "$HOME/.aws/aws-envs/prod"
	printf '[dev]\naws_access_key_id = A\naws_secret_access_key = B\n' >"$HOME/.aws/aws-envs/prod/credentials"
	run -0 cx "$BIN/cloudX-proxy" setup --yes --no-check --instance "$ID" \
	    --profile dev --ssh-key mine --ssh-dir "$HOME/keys" --aws-env prod \
	    --hostname box --region us-east-2
	run -0 cat "$HOME/keys/config"
	assert_line "Host cloudX-qa-box"
	assert_line --partial "connect %h %p --os-user %r --profile dev --ssh-key mine --ssh-dir $HOME/keys --aws-env prod --region us-east-2"
	[ -f "$HOME/keys/mine" ]
}

@test "setup --yes: an existing key is used as it is" {
	profile cloudX
	mkdir -p "$HOME/.ssh/cloudX"
	ssh-keygen -q -t ed25519 -N '' -C mine -f "$HOME/.ssh/cloudX/cloudX"
	before=$(cat "$HOME/.ssh/cloudX/cloudX.pub")
	run -0 drv setup --yes --no-check --instance "$ID"
	[ "$(cat "$HOME/.ssh/cloudX/cloudX.pub")" = "$before" ]
	# only the private key: the public half is derived, not a new pair
	rm "$HOME/.ssh/cloudX/cloudX.pub"
	run -0 drv setup --yes --no-check --instance "$ID"
	[ "$(cut -d' ' -f2 "$HOME/.ssh/cloudX/cloudX.pub")" = "$(echo "$before" | cut -d' ' -f2)" ]
}

@test "setup: a missing profile is written from the answers, other profiles kept, 0600" {
	mkdir -m 700 -p "$HOME/.aws"
	printf '# mine\n[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = keep\n' >"$HOME/.aws/credentials"
	printf '[profile other]\nregion = us-west-2\n' >"$HOME/.aws/config"
	AWS_ACCESS_KEY_ID=AKIANEW AWS_SECRET_ACCESS_KEY=newsecret \
	    run -0 --separate-stderr drv setup --yes --no-check --instance "$ID"
	run -0 cat "$HOME/.aws/credentials"
	assert_output "# mine
[other]
aws_access_key_id = AKIAOTHER
aws_secret_access_key = keep

[cloudX]
aws_access_key_id = AKIANEW
aws_secret_access_key = newsecret"
	run -0 cat "$HOME/.aws/config"
	assert_output "[profile other]
region = us-west-2

[profile cloudX]
region = eu-west-1"
	[ "$(stat -c %a "$HOME/.aws/credentials")" = 600 ]
}

@test "setup: an IAM user outside cloudX-{env}-{user} stops with exit 1; roles pass" {
	profile cloudX
	FAKE_ARN=arn:aws:iam::123456789012:user/bob run -1 --separate-stderr \
	    drv setup --yes --no-check --instance "$ID"
	[[ "$stderr" == *"✗ AWS profile exists but doesn't match cloudX-{env}-{user} format"* ]]
	assert_equal "${stderr_lines[-1]}" "cloudx-proxy: IAM user 'bob' does not follow cloudX-{env}-{user}"
	[ ! -e "$HOME/.ssh/cloudX/config" ]
	FAKE_ARN=arn:aws:sts::123456789012:assumed-role/Dev/alice run -0 --separate-stderr \
	    drv setup --yes --no-check --instance "$ID"
	[[ "$stderr" == *"AWS profile uses IAM role/SSO credentials; skipping cloudX user format check"* ]]
}

@test "setup: the IAM user's environment is the default when tags give none" {
	profile cloudX
	FAKE_TAGS='{}' FAKE_ARN=arn:aws:iam::1:user/cloudX-lab-carol \
	    run -0 --separate-stderr drv setup --yes --no-check --instance "$ID"
	[[ "$stderr" == *"Enter environment: Using default [lab]"* ]]
	[[ "$stderr" == *"Enter hostname for the instance: Using default [instance-6789abcdef0]"* || "$stderr" == *"Using default [instance-bcdef0]"* || "$stderr" == *"instance-"* ]]
	grep -q "^Host cloudx-lab-instance-abcdef0$" "$HOME/.ssh/cloudX/config"
}

@test "setup --yes fails naming what is missing (exit 100), writes nothing" {
	profile cloudX
	before=$(tree)
	run -100 --separate-stderr drv setup --yes --no-check
	assert_equal "${stderr_lines[-1]}" "cloudx-proxy: non-interactive mode requires a value for: Enter EC2 instance ID (e.g., i-0123456789abcdef0)"
	rm -rf "$HOME/.ssh"
	FAKE_TAGS='{}' FAKE_ARN=arn:aws:sts::1:assumed-role/R/s run -100 --separate-stderr \
	    drv setup --yes --no-check --instance "$ID"
	assert_equal "${stderr_lines[-1]}" "cloudx-proxy: non-interactive mode requires a value for: Enter environment"
}

@test "setup --dry-run: writes nothing and calls nothing" {
	profile other
	mkdir -p "$HOME/.ssh"
	printf 'Host github.com\n    User git\n' >"$HOME/.ssh/config"
	export AWS_ENDPOINT_URL="http://127.0.0.1:$(free_port)"	# closed
	before=$(tree)
	AWS_ACCESS_KEY_ID=AKIANEW AWS_SECRET_ACCESS_KEY=SECRETVALUE run -0 --separate-stderr \
	    drv setup --dry-run --yes --instance "$ID" --environment dev --hostname web
	[ "$(tree)" = "$before" ]
	[ ! -e "$FAKE_LOG" ]		# no stage ran, so no AWS call
	[[ "$stderr" == *"=== cloudx-proxy Setup (DRY RUN) ==="* ]]
	[[ "$stderr" == *"[DRY RUN] Would write profile 'cloudX'"* ]]
	[[ "$stderr" == *"+Host cloudx-dev-web"* ]]
	[[ "$stderr" == *"+Include $HOME/.ssh/cloudX/config"* ]]
	[[ "$stderr" == *"[DRY RUN] Would run: ssh cloudx-dev-web exit"* ]]
	[[ "$stderr$output" != *SECRETVALUE* ]]
}

@test "setup: interactive prompts in the seed's order, secret not echoed (expect)" {
	command -v expect >/dev/null || skip "expect is not installed"
	cat >"$BATS_TEST_TMPDIR/run.exp" <<EXP
set timeout 20
log_user 1
spawn $BIN/cloudx-proxy setup --no-check
expect "AWS Access Key ID: " { send "AKIATYPED\r" }
expect "AWS Secret Access Key: " { send "typedsecret\r" }
expect "Default region name \\\\\[eu-west-1\\\\\]: " { send "\r" }
expect "Enter EC2 instance ID (e.g., i-0123456789abcdef0): " { send "$ID\r" }
expect "Enter environment \\\\\[qa\\\\\]: " { send "stage\r" }
expect "Enter hostname for the instance \\\\\[web\\\\\]: " { send "\r" }
expect "Create VS Code settings.json with these settings? \\\\\[n\\\\\]: " { send "y\r" }
expect eof
catch wait result
exit [lindex \$result 3]
EXP
	run -0 expect "$BATS_TEST_TMPDIR/run.exp"
	refute_output --partial typedsecret
	grep -q '^aws_secret_access_key = typedsecret$' "$HOME/.aws/credentials"
	[ "$(stat -c %a "$HOME/.aws")" = 700 ]
	[ "$(stat -c %a "$HOME/.aws/credentials")" = 600 ]
	grep -q '^Host cloudx-stage-web$' "$HOME/.ssh/cloudX/config"
	run -0 jq -r '."remote.SSH.configFile", ."remote.SSH.connectTimeout"' "$HOME/.config/Code/User/settings.json"
	assert_output "~/.ssh/cloudX/config
90"
}

@test "setup: VS Code settings are merged keeping comments and other settings" {
	profile cloudX
	mkdir -p "$HOME/.config/Code/User"
	cat >"$HOME/.config/Code/User/settings.json" <<'JSON'
// personal settings
{
    "editor.fontSize": 14, /* large */
    "remote.SSH.connectTimeout": 30,
}
JSON
	run -0 --separate-stderr drv setup --yes --no-check --instance "$ID"
	run -0 cat "$HOME/.config/Code/User/settings.json"
	assert_line "// personal settings"
	assert_line '    "editor.fontSize": 14, /* large */'
	assert_line '    "remote.SSH.connectTimeout": 90,'
	assert_line '    "remote.SSH.configFile": "~/.ssh/cloudX/config",'
	assert_line '        "cloudx-*": "linux"'
	[ -f "$HOME/.config/Code/User/settings.json.bak" ]
	# a second run changes nothing
	cp "$HOME/.config/Code/User/settings.json" "$BATS_TEST_TMPDIR/s1"
	run -0 --separate-stderr drv setup --yes --no-check --instance "$ID"
	[[ "$stderr" == *"VS Code settings already set"* ]]
	cmp "$HOME/.config/Code/User/settings.json" "$BATS_TEST_TMPDIR/s1"
}

@test "setup: VS Code Insiders' settings are merged too where it is installed; VSCodium, not installed, is left alone" {
	profile cloudX
	mkdir -p "$HOME/.config/Code - Insiders/User"
	printf '{\n    "editor.fontSize": 12\n}\n' >"$HOME/.config/Code - Insiders/User/settings.json"
	run -0 --separate-stderr drv setup --yes --no-check --instance "$ID"
	run -0 jq -r '."editor.fontSize", ."remote.SSH.configFile"' "$HOME/.config/Code - Insiders/User/settings.json"
	assert_output "12
~/.ssh/cloudX/config"
	[[ "$stderr" == *"Updated $HOME/.config/Code - Insiders/User/settings.json"* ]]
	# VS Code's own: not there, and --yes does not create it; VSCodium
	# (no folder) not even offered
	[ ! -e "$HOME/.config/Code/User/settings.json" ]
	[ ! -e "$HOME/.config/VSCodium" ]
	# an installed Insiders without a settings.json yet is offered (the
	# default, no, under --yes)
	rm "$HOME/.config/Code - Insiders/User/settings.json"
	run -0 --separate-stderr drv setup --yes --no-check --instance "$ID"
	[ "$(grep -c 'Create VS Code settings.json with these settings' <<<"$stderr")" = 2 ]
}

@test "setup --1password: creates the key in the chosen vault, exports only the public key" {
	profile cloudX
	export PATH="$CX_ROOT/tests/tools/op:$PATH" OP_LOG="$BATS_TEST_TMPDIR/op.log" OP_STATE="$BATS_TEST_TMPDIR/op"
	mkdir -p "$HOME/.1password"
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$HOME/.1password/agent.sock"
	run -0 --separate-stderr drv setup --yes --no-check --instance "$ID" --1password Work
	run -0 cat "$OP_LOG"
	assert_line "op --version"
	assert_line "op account list"
	assert_line "op item list --categories SSH\\ Key --format=json"
	assert_line "op vault list --format=json"
	assert_line "op item create --category=ssh-key --title=cloudX\\ SSH\\ Key\\ -\\ cloudX --vault=vwork0000000000000000000002 --ssh-generate-key=ed25519 --format=json"
	[ ! -e "$HOME/.ssh/cloudX/cloudX" ]
	[ "$(cat "$HOME/.ssh/cloudX/cloudX.pub")" = "$(jq -r '.[0].public_key' "$OP_STATE/items.json")" ]
	run -0 cat "$HOME/.ssh/cloudX/config"
	assert_line --partial "IdentityAgent"
	assert_line --partial "IdentityFile $HOME/.ssh/cloudX/cloudX.pub"
	# a second run finds the key in any vault and does not create another
	: >"$OP_LOG"
	run -0 drv setup --yes --no-check --instance "$ID" --1password
	run -1 grep -c 'item create' "$OP_LOG"
	assert_output 0
	run -0 grep -c 'item get' "$OP_LOG"
	assert_output 1
}

@test "setup --1password: not signed in falls back to a key file (--yes)" {
	profile cloudX
	export PATH="$CX_ROOT/tests/tools/op:$PATH" OP_LOG="$BATS_TEST_TMPDIR/op.log" OP_STATE="$BATS_TEST_TMPDIR/op" OP_SIGNED_IN=0
	run -0 --separate-stderr drv setup --yes --no-check --instance "$ID" --1password
	[[ "$stderr" == *"1Password CLI is not authenticated. Run 'op signin' first."* ]]
	[[ "$stderr" == *"1Password integration not available. Continue with standard SSH key setup?: Using default [Y]"* ]]
	[ -f "$HOME/.ssh/cloudX/cloudX" ]
}

@test "setup: usage errors exit 100 with one line" {
	run -100 --separate-stderr drv setup --instance i-nope
	[[ "$stderr" == "cloudx-proxy: invalid EC2 instance ID format: 'i-nope'"* ]]
	run -100 --separate-stderr drv setup --bogus
	assert_equal "$stderr" "cloudx-proxy: setup: unknown option '--bogus' (see 'cloudx-proxy setup --help')"
	run -0 drv setup --help
	assert_line -n 0 --partial "usage: cloudx-proxy setup"
}

# issue 16 item 2: a value with a line break must not add a section (a
# credential_process) to the AWS files: refused before anything is written
@test "setup: a line break in --region, --profile, AWS_REGION or AWS_ACCESS_KEY_ID is refused, nothing written (exit 100)" {
	local inj=$'\n[profile dev2]\ncredential_process = touch '"$BATS_TEST_TMPDIR/pwned"
	local out
	# each: exit 100, one line naming the value, no AWS file, no section
	check_refused() {
		[ "$status" -eq 100 ] || fail "exit $status: $stderr"
		[[ "$stderr" == *"$1"* ]] || fail "no '$1' in: $stderr"
		[ ! -e "$HOME/.aws/credentials" ] || fail "credentials written: $(cat "$HOME/.aws/credentials")"
		[ ! -e "$HOME/.aws/config" ] || fail "config written: $(cat "$HOME/.aws/config")"
		[ ! -e "$BATS_TEST_TMPDIR/pwned" ]
	}
	run --separate-stderr env AWS_ACCESS_KEY_ID=AKIATEST AWS_SECRET_ACCESS_KEY=s \
	    "$BIN/cloudx-proxy" setup --yes --no-check --instance "$ID" --profile dev \
	    --region "eu-west-1$inj"
	check_refused "invalid region"
	run --separate-stderr env AWS_ACCESS_KEY_ID=AKIATEST AWS_SECRET_ACCESS_KEY=s \
	    "$BIN/cloudx-proxy" setup --yes --no-check --instance "$ID" \
	    --profile $'x]\ncredential_process = touch '"$BATS_TEST_TMPDIR/pwned"$'\n[y'
	check_refused "invalid profile name"
	run --separate-stderr env AWS_ACCESS_KEY_ID=AKIATEST AWS_SECRET_ACCESS_KEY=s \
	    AWS_REGION="eu-west-1$inj" \
	    "$BIN/cloudx-proxy" setup --yes --no-check --instance "$ID" --profile dev
	check_refused "invalid region"
	run --separate-stderr env AWS_ACCESS_KEY_ID="AKIATEST$inj" AWS_SECRET_ACCESS_KEY=s \
	    AWS_REGION=eu-west-1 \
	    "$BIN/cloudx-proxy" setup --yes --no-check --instance "$ID" --profile dev
	check_refused "invalid access key id"
	run --separate-stderr env AWS_ACCESS_KEY_ID=AKIATEST AWS_SECRET_ACCESS_KEY="s$inj" \
	    AWS_REGION=eu-west-1 \
	    "$BIN/cloudx-proxy" setup --yes --no-check --instance "$ID" --profile dev
	check_refused "invalid secret access key"
	[[ "$stderr" != *"s$inj"* ]]
	# the same values, well formed: written (the test is not vacuous)
	run --separate-stderr env AWS_ACCESS_KEY_ID=AKIATEST AWS_SECRET_ACCESS_KEY=s \
	    AWS_REGION=eu-west-1 \
	    "$BIN/cloudx-proxy" setup --yes --no-check --instance "$ID" --profile dev
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	grep -qx 'aws_access_key_id = AKIATEST' "$HOME/.aws/credentials"
	grep -qx 'region = eu-west-1' "$HOME/.aws/config"
	! grep -q credential_process "$HOME/.aws/config"
}

# issue 16 item 6: text from a stage's stdin/AWS (a Name tag) reaches the
# terminal only through the sanitiser: no ESC, BEL or C1 byte gets out
@test "setup: a Name tag with ESC ] 0 ; ... BEL and ESC [ 2 J is shown safely, in the status line and in 'invalid host name'" {
	profile cloudX
	export FAKE_TAGS='{"Name":"cloudx-qa-web\u001b]0;OWNED\u0007\u001b[2J\u009b"}'
	run --separate-stderr drv setup --yes --no-check --instance "$ID"
	[ "$status" -eq 100 ] || fail "exit $status: $stderr"
	# the raw bytes appear nowhere
	! printf '%s%s' "$output" "$stderr" | grep -q -P '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' ||
	    fail "control bytes reached the terminal: $(printf '%s' "$stderr" | od -c | head -20)"
	[[ "$stderr" == *"Found hostname from Name tag: web?]0;OWNED??[2J?"* ]] || fail "$stderr"
	[[ "$stderr" == *"invalid host name 'web?]0;OWNED??[2J?'"* ]] || fail "$stderr"
	# nothing was written for that host
	! grep -q OWNED "$HOME/.ssh/cloudX/config" 2>/dev/null
}

@test "list, doctor and the stages show names from files and stdin safely" {
	mkdir -p "$HOME/.ssh/cloudX"
	# a config as setup writes it, then a hostile comment and host added by hand
	run -0 cx cx-sshconf -c "$HOME/.ssh/cloudX/config" -e dev -x /usr/bin/cloudx-proxy \
	    -d "$HOME/.ssh/cloudX" -k cloudX set-env
	run -0 cx cx-sshconf -c "$HOME/.ssh/cloudX/config" -e dev -N box \
	    -i i-0123456789abcdef0 add-host
	sed -i "s/^Host cloudx-dev-box.*/Host cloudx-dev-box$(printf '\033')]0;OWNED$(printf '\007')/" \
	    "$HOME/.ssh/cloudX/config"
	grep -q OWNED "$HOME/.ssh/cloudX/config"
	run --separate-stderr drv list
	! printf '%s%s' "$output" "$stderr" | grep -q -P '[\x00-\x08\x0b-\x1f\x7f]' ||
	    fail "control bytes in list: $(printf '%s' "$output" | od -c | head)"
	[[ "$output" == *"OWNED"* ]] || fail "host not listed: $output"
	# a stage given a hostile instance id on stdin
	run --separate-stderr cx cx-instance status \
	    <<<'{"Instance":{"InstanceId":"i-\u001b[2J\u0007"}}'
	[ "$status" -ne 0 ]
	! printf '%s' "$stderr" | grep -q -P '[\x00-\x08\x0b-\x1f\x7f]' ||
	    fail "control bytes from cx-instance: $(printf '%s' "$stderr" | od -c | head)"
	[[ "$stderr" == *"i-?[2J?"* ]] || fail "$stderr"
	# doctor on that host: its name shown safely
	run --separate-stderr drv doctor "cloudx-dev-box$(printf '\033')]0;OWNED$(printf '\007')"
	! printf '%s%s' "$output" "$stderr" | grep -q -P '[\x00-\x08\x0b-\x1f\x7f]' ||
	    fail "control bytes in doctor: $(printf '%s%s' "$output" "$stderr" | od -c | head -30)"
}

# ---------------------------------------------- files and folders we trust

@test "setup: a --ssh-dir another user owns or may write is refused (exit 100, one line), nothing written (issue 16 item 3)" {
	other_user_create
	profile cloudX
	shared="$BATS_TEST_TMPDIR/shared"
	mkdir -p "$shared/cloudX"
	chmod 0777 "$shared" "$shared/cloudX"
	chown -R "$OTHER_USER" "$shared"
	before=$(tree)
	run -100 --separate-stderr drv setup --yes --no-check --instance "$ID" --ssh-dir "$shared/cloudX"
	assert_equal "$(grep -c "^cloudx-proxy: " <<<"$stderr")" 1
	assert_equal "${stderr_lines[-1]}" "cloudx-proxy: not using '$shared/cloudX': it is owned by user '$OTHER_USER' (it must be yours and not writable by group or others)"
	[ -z "$(ls -A "$shared/cloudX")" ]
	[ "$(tree)" = "$before" ]
	[ ! -e "$FAKE_LOG" ]
	# ours, but others may write into it: the same
	chown root "$shared/cloudX"
	chmod 0770 "$shared/cloudX"
	run -100 --separate-stderr drv setup --yes --no-check --instance "$ID" --ssh-dir "$shared/cloudX"
	[[ "${stderr_lines[-1]}" == "cloudx-proxy: not using '$shared/cloudX': it is writable by its group (mode 0770)"* ]]
	[ -z "$(ls -A "$shared/cloudX")" ]
}

@test "setup: a re-run never adopts a config another user swapped in, nor rewrites their ~/.ssh/config or ~/.aws files" {
	other_user_create
	profile cloudX
	shared="$BATS_TEST_TMPDIR/shared"
	mkdir -m 0777 "$shared"
	run -0 drv setup --yes --no-check --instance "$ID" --ssh-dir "$shared/cloudX"
	cfg="$shared/cloudX/config"
	grep -q "^Host cloudx-qa-web" "$cfg"
	# the attack: the other user replaces our config (the folder above is
	# theirs to change) with one that runs their command
	mv "$shared/cloudX" "$shared/old"
	mkdir "$shared/cloudX"
	printf 'Host cloudx-*\n    ProxyCommand touch %s/pwned\n' "$shared" >"$cfg"
	chown -R "$OTHER_USER" "$shared/cloudX"
	chmod 0700 "$shared/cloudX"
	cp "$cfg" "$BATS_TEST_TMPDIR/planted"
	main_before=$(cat "$HOME/.ssh/config")
	run -100 --separate-stderr drv setup --yes --no-check --instance "$ID" --ssh-dir "$shared/cloudX"
	assert_equal "${stderr_lines[-1]}" "cloudx-proxy: not using '$shared/cloudX': it is owned by user '$OTHER_USER' (it must be yours and not writable by group or others)"
	cmp "$cfg" "$BATS_TEST_TMPDIR/planted"
	[ "$(stat -c %U "$cfg")" = "$OTHER_USER" ]
	# a folder of ours holding a config of theirs: not rewritten either
	chown root "$shared/cloudX"
	run -100 --separate-stderr drv setup --yes --no-check --instance "$ID" --ssh-dir "$shared/cloudX"
	assert_equal "${stderr_lines[-1]}" "cloudx-proxy: not using '$cfg': it is owned by user '$OTHER_USER' (it must be yours and not writable by group or others)"
	cmp "$cfg" "$BATS_TEST_TMPDIR/planted"
	[ "$(cat "$HOME/.ssh/config")" = "$main_before" ]
	# the same rule for ~/.ssh/config and the AWS files
	rm -rf "$shared/cloudX"
	for f in .ssh/config .aws/credentials .aws/config; do
		touch "$HOME/$f"
		cp "$HOME/$f" "$BATS_TEST_TMPDIR/before"
		chown "$OTHER_USER" "$HOME/$f"
		run -100 --separate-stderr drv setup --yes --no-check --instance "$ID" --ssh-dir "$shared/cloudX"
		assert_equal "${stderr_lines[-1]}" "cloudx-proxy: not using '$HOME/$f': it is owned by user '$OTHER_USER' (it must be yours and not writable by group or others)"
		cmp "$HOME/$f" "$BATS_TEST_TMPDIR/before"
		[ ! -e "$shared/cloudX" ]
		chown root "$HOME/$f"
	done
	[ ! -e "$shared/pwned" ]
}

@test "setup: the credentials are 0600 from creation to rename, whatever the old mode; one warning (issue 16 item 5)" {
	mkdir -m 700 -p "$HOME/.aws"
	printf '[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = keep\n' >"$HOME/.aws/credentials"
	chmod 0644 "$HOME/.aws/credentials"
	SHIM="$BATS_TEST_TMPDIR/killrename.so"
	cc -shared -fPIC -o "$SHIM" "$CX_ROOT/tests/tools/killrename.c" -ldl
	# killed between writing the new secret and the rename: the file left
	# behind holds the secret and must be private
	AWS_ACCESS_KEY_ID=AKIANEW AWS_SECRET_ACCESS_KEY=newsecret LD_PRELOAD="$SHIM" CX_KILL_AT_RENAME=1 \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    run -137 "$BIN/cloudx-proxy" setup --yes --no-check --instance "$ID"
	tmp=$(ls "$HOME"/.aws/credentials.tmp.*)
	grep -q newsecret "$tmp"
	assert_equal "$(stat -c %a "$tmp")" 600
	rm -f "$tmp"
	# a normal run: 0600, and one line says the old file was too open
	AWS_ACCESS_KEY_ID=AKIANEW AWS_SECRET_ACCESS_KEY=newsecret \
	    run -0 --separate-stderr drv setup --yes --no-check --instance "$ID"
	assert_equal "$(stat -c %a "$HOME/.aws/credentials")" 600
	assert_equal "$(grep -c 'warning' <<<"$stderr")" 1
	[[ "$stderr" == *"cloudx-proxy: warning: '$HOME/.aws/credentials' holds secrets but had mode 0644 (open to others): it is now 0600"* ]]
}

@test "setup: AWS unreachable is not 'Invalid AWS credentials': endpoint named, profile kept, exit 111; AWS's refusal is (exit 1)" {
	cp "$CX_BIN_DIR/cx-creds" "$BIN/cx-creds"	# the real one
	port=$(free_port)	# closed
	AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_MAX_ATTEMPTS=1 \
	AWS_ACCESS_KEY_ID=AKIANEW AWS_SECRET_ACCESS_KEY=newsecret \
	    run -111 --separate-stderr drv setup --yes --no-check --instance "$ID"
	[[ "$stderr" == *"cx-creds: cannot get the caller identity: network error (AWS endpoint http://127.0.0.1:$port)"* ]]
	[[ "$stderr" == *"✗ Could not reach AWS to check the credentials (see above); profile 'cloudX' is kept"* ]]
	[[ "$stderr" != *"Invalid AWS credentials"* ]]
	grep -q '^aws_access_key_id = AKIANEW$' "$HOME/.aws/credentials"
	# only a refusal by AWS is a verdict on the keys
	cp "$CX_ROOT/tests/tools/fake-stages/cx-creds" "$BIN/cx-creds"
	FAKE_FAIL_CX_CREDS=1 run -1 --separate-stderr drv setup --yes --no-check --instance "$ID"
	[[ "$stderr" == *"✗ Invalid AWS credentials"* ]]
}

@test "setup leaves no lock file in ~/.aws or ~/.ssh: the locks are in the state folder (issue 11 §3)" {
	AWS_ACCESS_KEY_ID=AKIANEW AWS_SECRET_ACCESS_KEY=newsecret \
	    run -0 drv setup --yes --no-check --instance "$ID"
	[ -z "$(find "$HOME/.aws" "$HOME/.ssh" -name '*.lock')" ]
	for f in .aws/credentials .aws/config .ssh/cloudX/config .ssh/config; do
		[ -f "$(lock_file "$HOME/$f")" ]
	done
	assert_equal "$(stat -c %a "$HOME/.local/state/cloudx-proxy/locks")" 700
	# XDG_STATE_HOME is honoured
	export XDG_STATE_HOME="$BATS_TEST_TMPDIR/state"
	run -0 drv setup --yes --no-check --instance "$ID" --ssh-host-prefix other
	[ -f "$(lock_file "$HOME/.ssh/cloudX/config")" ]
	[ -z "$(find "$HOME/.aws" "$HOME/.ssh" -name '*.lock')" ]
}
