# The EC2 state-rewriting proxy (tests/tools/ec2-state-proxy.py) in front of
# moto: moto's EC2 has no pending/stopping phase, so the cx-instance tests
# script one.  ec2proxy_start after moto_start; exports EC2PROXY_URL,
# EC2PROXY_PID and AWS_ENDPOINT_URL_EC2.

ec2proxy_start() {
	local port
	port=$(free_port)
	export EC2PROXY_URL="http://127.0.0.1:$port"
	export AWS_ENDPOINT_URL_EC2="$EC2PROXY_URL"
	server_start EC2PROXY_PID "${BATS_FILE_TMPDIR:-/tmp}/ec2proxy.log" \
	    "$EC2PROXY_URL/proxy/log" 20 \
	    python3 "$CX_ROOT/tests/tools/ec2-state-proxy.py" \
	    --listen-port "$port" --upstream "$MOTO_URL"
}

ec2proxy_stop() {
	stop_pid "${EC2PROXY_PID:-}"
	EC2PROXY_PID=
}

# ec2proxy_script ID STATE...: the next DescribeInstances answers about ID
# say STATE, one per call.
ec2proxy_script() {
	local id=$1; shift
	curl -sf -X POST -d "$(jq -cn --arg id "$id" '{($id): $ARGS.positional}' \
	    --args "$@")" "$EC2PROXY_URL/proxy/script" >/dev/null
}

ec2proxy_reset() {
	curl -sf -X POST "$EC2PROXY_URL/proxy/reset" >/dev/null
}

# ec2proxy_actions: the EC2 actions seen, one per line, with the state
# the proxy reported ("DescribeInstances:stopping", "StartInstances").
ec2proxy_actions() {
	curl -sf "$EC2PROXY_URL/proxy/log" |
	    jq -r '.[] | .action + (if .state then ":" + .state else "" end)'
}

# ec2proxy_hold ACTION...: such calls wait for ec2proxy_release once arrived;
# ec2proxy_held prints the ones waiting, one per line.
ec2proxy_hold() {
	curl -sf -X POST -d "$(jq -cn '{actions: $ARGS.positional}' --args "$@")" \
	    "$EC2PROXY_URL/proxy/hold" >/dev/null
}

ec2proxy_held() {
	curl -sf "$EC2PROXY_URL/proxy/held" | jq -r '.[]'
}

ec2proxy_release() {
	curl -sf -X POST "$EC2PROXY_URL/proxy/release" >/dev/null
}
