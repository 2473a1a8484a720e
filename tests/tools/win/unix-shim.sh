#!/bin/sh
# tests/tools/win/unix-shim.sh STATUS NAME [ARG...]: the Linux side of
# unix-shim.exe (which see): runs NAME with the arguments, then writes its
# exit status to STATUS (renamed into place: the shim never reads half of it).
st=$1
prog=$2
shift 2
"$prog" "$@"
rc=$?
echo "$rc" >"$st.tmp" && mv -f "$st.tmp" "$st"
