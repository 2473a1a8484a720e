# Processes a test starts, for bats and plain bash (common.bash, sshd.bash
# and standin.bash source it; so can tests/demo.sh through them).

# free_port: prints a TCP port that is free on 127.0.0.1 right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# stop_pid PID [WHO]: stops a process we started (TERM, then KILL after
# 5 s, saying so on stderr when WHO is given), and reaps it.
stop_pid() {
	local pid=$1 who=${2:-} i
	[ -n "$pid" ] || return 0
	if kill -TERM "$pid" 2>/dev/null; then
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "$pid" 2>/dev/null; then
			[ -z "$who" ] ||
			    echo "$who: $pid ignored SIGTERM, killing" >&2
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null || true
	return 0
}
