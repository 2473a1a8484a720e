# bash completion for cloudx-proxy / cloudX-proxy
_cloudx_proxy() {
	local cur prev cmd
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=${COMP_WORDS[1]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "connect cp setup list doctor cleanup migrate log login wake stop --help --version" -- "$cur"))
		return
	fi
	case $prev in
	--ssh-config|--ssh-dir|--target-dir|-F)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--profile)
		COMPREPLY=($(compgen -W "$(sed -n 's/^\[\(profile \)\{0,1\}\([^]]*\)\]$/\2/p' ~/.aws/config ~/.aws/credentials 2>/dev/null | sort -u)" -- "$cur")); return ;;
	--aws-env)
		COMPREPLY=($(compgen -W "$(ls ~/.aws/aws-envs 2>/dev/null)" -- "$cur")); return ;;
	--ssh-key|--region|--instance|--hostname|--environment|--ssh-host-prefix|--1password|-j|--jobs|-o|-n|--timeout)
		return ;;
	esac
	local opts
	case $cmd in
	connect) opts="--profile --ssh-key --ssh-config --ssh-dir --region --aws-env --no-wave --dry-run --verbose --help" ;;
	cp)
		case $cur in
		-*) opts="-j --jobs -r --recursive --resume --verify --no-verify -q --quiet -F -o -v --verbose --help" ;;
		*) COMPREPLY=($(compgen -f -- "$cur") $(compgen -W "$(cloudx-proxy list --json 2>/dev/null | sed -n 's/.*"Host":"\([^"]*\)".*/\1:/p')" -- "$cur"))
		   return ;;
		esac ;;
	setup) opts="--profile --ssh-key --ssh-config --ssh-dir --aws-env --region --1password --instance --environment --hostname --ssh-host-prefix --yes --dry-run --no-check --verbose --help" ;;
	list) opts="--ssh-config --environment --detailed --json --dry-run --help" ;;
	doctor) opts="--ssh-config --help $(cloudx-proxy list --json 2>/dev/null | sed -n 's/.*"Host":"\([^"]*\)".*/\1/p')" ;;
	cleanup) opts="--ssh-config --ssh-host-prefix --dry-run --help" ;;
	migrate) opts="--target-dir --dry-run --help" ;;
	log) opts="-n --json --help $(cloudx-proxy list --json 2>/dev/null | sed -n 's/.*"Host":"\([^"]*\)".*/\1/p')" ;;
	login) opts="--profile --aws-env --no-browser --verbose --help" ;;
	wake|stop) opts="--ssh-config --verbose --help $( [ "$cmd" = wake ] && echo --timeout) $(cloudx-proxy list --json 2>/dev/null | sed -n 's/.*"Host":"\([^"]*\)".*/\1/p')" ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _cloudx_proxy cloudx-proxy cloudX-proxy
