#!/bin/sh
# packaging/deb/build.sh BUILD-DIR VERSION: dist/cloudx-proxy_VERSION-1_ARCH.deb
# from the programs in BUILD-DIR (make deb builds them first).
#
#   /usr/bin                                  the programs, stripped, and the
#                                             cloudX-proxy link
#   /usr/share/man/man1                       the man pages, gzipped (and
#                                             cloudX-proxy.1.gz, a link)
#   /usr/share/bash-completion/completions    cloudx-proxy (+ cloudX-proxy)
#   /usr/share/zsh/vendor-completions         _cloudx-proxy
#   /usr/share/doc/cloudx-proxy               copyright, changelog.Debian.gz
#
# Depends: computed by dpkg-shlibdeps from the programs' shared libraries
# (libc, libcurl, OpenSSL, cJSON, expat): nothing the tests use (Python,
# jq, moto) is a dependency.  Built with dpkg-deb --root-owner-group, so no
# fakeroot is needed; the file dates are SOURCE_DATE_EPOCH (default: the
# last commit's date, or VERSION's mtime in a tarball).
# Exit 0 and the .deb's path on stdout; 1 with one line on stderr.
set -eu
b=${1:?usage: packaging/deb/build.sh BUILD-DIR VERSION}
version=${2:?usage: packaging/deb/build.sh BUILD-DIR VERSION}
cd "$(dirname "$0")/../.."
die() { echo "make deb: $*" >&2; exit 1; }
for t in dpkg-deb dpkg-shlibdeps dpkg-architecture; do
	command -v "$t" >/dev/null 2>&1 || die "$t is missing: apt-get install dpkg-dev (or: make deps)"
done
arch=$(dpkg --print-architecture)
pkg=cloudx-proxy
debver=$version-1
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct 2>/dev/null || stat -c %Y VERSION)}"
export SOURCE_DATE_EPOCH
maint="cloudx-proxy maintainers <maintainers@users.noreply.r-seed-d378581f.example>"

mkdir -p dist
w=$(mktemp -d "${TMPDIR:-/tmp}/cx-deb.XXXXXX")
trap 'rm -rf "$w"' EXIT
trap 'exit 1' INT TERM HUP
root=$w/root
umask 022

# the files, as make install lays them out under /usr
make --no-print-directory -s B="$b" install DESTDIR="$root" PREFIX=/usr \
    ZSH_COMPDIR=/usr/share/zsh/vendor-completions >"$w/install.log" 2>&1 ||
    { cat "$w/install.log" >&2; die "make install DESTDIR=... failed"; }
for f in "$root"/usr/bin/*; do
	[ -L "$f" ] && continue
	strip --remove-section=.comment --remove-section=.note --strip-unneeded "$f"
done
gzip -9n "$root"/usr/share/man/man1/*.1
ln -s cloudx-proxy.1.gz "$root/usr/share/man/man1/cloudX-proxy.1.gz"
doc=$root/usr/share/doc/$pkg
install -d "$doc"
install -m 0644 packaging/deb/copyright "$doc/copyright"
{
	printf '%s (%s) unstable; urgency=medium\n\n' "$pkg" "$debver"
	printf '  * Upstream release %s (the git history has the changes).\n\n' "$version"
	printf ' -- %s  %s\n' "$maint" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} >"$doc/changelog.Debian"
gzip -9n "$doc/changelog.Debian"

# Depends: from the ELF programs' NEEDED entries
mkdir -p "$w/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" >"$w/debian/control"
deps=$(cd "$w" && dpkg-shlibdeps -O --warnings=0 $(find root/usr/bin -type f) 2>"$w/shlibdeps.log") ||
    { cat "$w/shlibdeps.log" >&2; die "dpkg-shlibdeps failed"; }
deps=${deps#shlibs:Depends=}
[ -n "$deps" ] || die "dpkg-shlibdeps found no dependency"
rm -rf "$w/debian"

install -d "$root/DEBIAN"
size=$(du -sk --apparent-size "$root/usr" | cut -f1)
sed -e "s|@VERSION@|$debver|" -e "s|@ARCH@|$arch|" -e "s|@DEPENDS@|$deps|" \
    -e "s|@SIZE@|$size|" -e "s|@MAINTAINER@|$maint|" packaging/deb/control.in >"$root/DEBIAN/control"
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

out=dist/${pkg}_${debver}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$out.tmp" >/dev/null ||
    die "dpkg-deb --build failed"
mv "$out.tmp" "$out"
echo "$out"
