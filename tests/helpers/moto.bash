# moto_server on a free loopback port, for STS, IAM, EC2 and EC2 Instance
# Connect.  Use moto_start in setup_file and moto_stop in teardown_file.
# Exports MOTO_URL, MOTO_PID, AWS_ENDPOINT_URL.

moto_start() {
	local port
	command -v moto_server >/dev/null ||
	    skip "moto_server is not installed (pip install 'moto[server]')"
	port=$(free_port)
	export MOTO_URL="http://127.0.0.1:$port"
	export AWS_ENDPOINT_URL="$MOTO_URL"
	server_start MOTO_PID "${BATS_FILE_TMPDIR:-/tmp}/moto.log" \
	    "$MOTO_URL/moto-api/" 30 moto_server -H 127.0.0.1 -p "$port"
}

moto_stop() {
	stop_pid "${MOTO_PID:-}"
	MOTO_PID=
}

moto_reset() {
	curl -sf -X POST "$MOTO_URL/moto-api/reset" >/dev/null
}

# moto_auth on|off: turns moto's SigV4 and IAM checking on or off.
moto_auth() {
	local v=inf
	[ "$1" = on ] && v=0
	curl -sf -X POST -H 'Content-Type: text/plain' -d "$v" \
	    "$MOTO_URL/moto-api/reset-auth" >/dev/null
}

# moto_aws ARGS...: the aws CLI against moto with throw-away admin keys.
moto_aws() {
	env AWS_ACCESS_KEY_ID="${MOTO_AK:-testing}" \
	    AWS_SECRET_ACCESS_KEY="${MOTO_SK:-testing}" \
	    AWS_DEFAULT_REGION="${MOTO_REGION:-eu-west-1}" \
	    AWS_ENDPOINT_URL="$MOTO_URL" aws "$@"
}

# moto_user NAME: creates an IAM user with an allow-all policy and prints
# "ACCESS_KEY SECRET_KEY".  Call with auth off.
moto_user() {
	local name=$1
	moto_aws iam create-user --user-name "$name" >/dev/null
	moto_aws iam put-user-policy --user-name "$name" --policy-name all \
	    --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}' >/dev/null
	moto_aws iam create-access-key --user-name "$name" \
	    --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text
}

# moto_instance [STATE] [TAGS-JSON]: runs an instance, optionally stops it;
# prints its id.
moto_instance() {
	local state=${1:-running} id
	id=$(moto_aws ec2 run-instances --image-id ami-12345678 --count 1 \
	    --instance-type t3.micro \
	    ${2:+--tag-specifications "ResourceType=instance,Tags=$2"} \
	    --query 'Instances[0].InstanceId' --output text) || return 1
	if [ "$state" = stopped ]; then
		moto_aws ec2 stop-instances --instance-ids "$id" >/dev/null
	elif [ "$state" = terminated ]; then
		moto_aws ec2 terminate-instances --instance-ids "$id" >/dev/null
	fi
	echo "$id"
}

moto_state() {
	moto_aws ec2 describe-instances --instance-ids "$1" \
	    --query 'Reservations[0].Instances[0].State.Name' --output text
}
