# ssh and scp through cx-tunnel, for the tunnel's end-to-end tests
# (cx-tunnel.bats, cx-tunnel-transport.bats): `load ../helpers/tunnel`.
# They use $KEY (the client key), $KH (known_hosts), $SSHD_USER and $IID
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
