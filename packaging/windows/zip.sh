#!/bin/sh
# packaging/windows/zip.sh B VERSION [PROGRAM...]: packs
# dist/cloudx-proxy-VERSION-windows-x86_64.zip from `make windows`'s
# build folder B: the programs (B/PROGRAM.exe, stripped; statically
# linked, so no DLL goes with them), every man page as HTML
# (mandoc -Thtml) and README-windows.txt (CRLF).  Written under a temp name
# and renamed.  Prints the zip's path.
set -eu
b=$1 version=$2
shift 2
name=cloudx-proxy-$version-windows-x86_64
mkdir -p dist
stage=$(mktemp -d "dist/.$name.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/man"
for p in "$@"; do
	x86_64-w64-mingw32-strip -o "$stage/$name/$p.exe" "$b/$p.exe"
done
for m in man/*.1; do
	[ -f "$m" ] || continue
	mandoc -Thtml -Ostyle=man.css "$m" >"$stage/$name/man/$(basename "$m").html"
done
# a plain style sheet the pages name
printf 'body { font-family: sans-serif; max-width: 50em; margin: 2em; }\npre { background: #f4f4f4; padding: 0.5em; }\n' >"$stage/$name/man/man.css"
sed "s/@VERSION@/$version/; s/\$/\r/" "$(dirname "$0")/README-windows.txt" >"$stage/$name/README-windows.txt"
(cd "$stage" && zip -qr9X "$name.zip" "$name")
mv "$stage/$name.zip" "dist/$name.zip"
echo "dist/$name.zip"
