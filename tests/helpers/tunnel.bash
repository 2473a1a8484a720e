# The tunnel's end-to-end tests (cx-tunnel.bats, cx-tunnel-transport.bats):
# `load ../helpers/tunnel` after common, standin and sshd.

# tunnel_setup_file KEY_COMMENT [INSTANCE...]: for setup_file.  A stand-in
# that knows the keys $AK:$SK and the running instances $IID and INSTANCE...,
# a loopback sshd for $IID, the context $CTX (those keys, eu-west-1, $IID),
# the client key $KEY (comment KEY_COMMENT; not pushed) and $KH.  D is
# $BATS_FILE_TMPDIR.
tunnel_setup_file() {
	local comment=$1 insts
	shift
	export HOME="$BATS_FILE_TMPDIR/home"
	mkdir -p "$HOME"
	export NO_PROXY=127.0.0.1,localhost
	unset AWS_ENDPOINT_URL AWS_PROFILE AWS_ACCESS_KEY_ID \
	    AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
	insts=$(jq -cn '[$ARGS.positional[] | {(.): {state: "running"}}] | add' \
	    --args "$IID" "$@")
	standin_start --keys "$AK:$SK" --set "{\"static_instances\":$insts,\
\"key_ttl\":3600,\"pace_ms\":0}"
	sshd_start "$IID"
	D="$BATS_FILE_TMPDIR"
	export CTX="$D/ctx.json" KEY="$D/id" KH="$D/known_hosts"
	jq -n --arg ak "$AK" --arg sk "$SK" --arg iid "$IID" \
	    '{Version:1,AccessKeyId:$ak,SecretAccessKey:$sk,
	      Region:"eu-west-1",Instance:{InstanceId:$iid}}' >"$CTX"
	chmod 600 "$CTX"
	ssh-keygen -q -t ed25519 -N '' -C "$comment" -f "$KEY"
	sshd_known_hosts "$IID" >"$KH"
}

# tunnel_setup [CONFIG]: for setup.  A fresh stand-in state (sessions,
# keys, faults; then CONFIG, if given) whose $IID is the sshd, the key
# pushed for it, T the test's folder, $PIDF and an empty $ERRF.
tunnel_setup() {
	common_setup
	export AWS_ENDPOINT_URL_SSM="$STANDIN_URL"
	export AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT="$STANDIN_URL"
	standin_reset
	[ -z "${1:-}" ] || standin_config "$1"
	standin_config "{\"targets\":{\"$IID\":\"127.0.0.1:$SSHD_PORT\"},\"sshd_instance\":\"$IID\"}"
	cx-pushkey -k "$KEY.pub" -u "$SSHD_USER" <"$CTX" >/dev/null
	T="$BATS_TEST_TMPDIR"
	PIDF="$T/tunnel.pid"
	ERRF="$T/tunnel.err"
	: >"$ERRF"
}

# ssh and scp through cx-tunnel use $KEY (the client key), $KH (known_hosts), $SSHD_USER and $IID
# (sshd.bash), the context $TCTX (else $CTX), cx-tunnel's options $TOPTS,
# and write the tunnel's PID to $PIDF and its stderr to $ERRF.

# the ProxyCommand: cx-tunnel (under $CX_WRAP) with the context
tunnel_proxy_command() {
	echo "sh -c 'echo \$\$ >$PIDF; exec ${CX_WRAP:-} cx-tunnel ${TOPTS:-} --context ${TCTX:-$CTX} %h %p 2>>$ERRF'"
}

# tssh ARGS...: ssh through cx-tunnel to $IID as $SSHD_USER
tssh() {
	ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i "$KEY" \
	    -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes \
	    -o ProxyCommand="$(tunnel_proxy_command)" \
	    -l "$SSHD_USER" "$IID" "$@"
}

# tscp ARGS...: scp through cx-tunnel
tscp() {
	scp -q -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i "$KEY" \
	    -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes \
	    -o ProxyCommand="$(tunnel_proxy_command)" "$@"
}

# tunnel_gone: the tunnel process ssh started is gone (ssh does not wait
# for it)
tunnel_gone() {
	local pid
	pid=$(cat "$PIDF")
	[[ -n "$pid" ]] || return 1
	wait_until 10 bash -c "! kill -0 $pid"
}
