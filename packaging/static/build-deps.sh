#!/bin/sh
# packaging/static/build-deps.sh: OpenSSL, libcurl, cJSON and expat built as
# static libraries for musl (Debian's musl-tools: musl-gcc), from Debian's own
# source packages (the same upstream versions and Debian patches as the
# -dev packages installed here), for `make static`.
#
# Prints one line on stdout: the prefix holding lib/*.a, include/ and
# lib/pkgconfig/*.pc.  The prefix is cached outside the tree:
#
#   ${CX_CACHE:-$HOME/.cache/cloudx-proxy-build}/musl-<key>
#
# where <key> hashes this script, packaging/lib/debsrc.sh, the four source
# versions and musl's; a
# change to any of them builds a new prefix (old ones stay until removed by
# hand).  A prefix appears only when complete (built under a temp name, then
# renamed), so an interrupted build leaves no half cache behind.
#
# What is built (the programs need only this):
#   OpenSSL  no shared library, no tests, docs, apps, engines, legacy
#            ciphers or protocols (TLS 1.2/1.3 client, SHA-2, HMAC, the
#            X.509 verification they need); OPENSSLDIR=/etc/ssl so the
#            system's CA certificates are found on Debian, Alpine, Arch
#   libcurl  HTTP and HTTPS with OpenSSL only: no other protocol, no zlib,
#            brotli, zstd, nghttp2, libidn2, libpsl, libssh; CA bundle
#            /etc/ssl/certs/ca-certificates.crt, CA path /etc/ssl/certs
#   cJSON    the one file, as Debian's libcjson (include/cjson/cJSON.h)
#   expat    the library only
#
# Needs: musl-tools, dpkg-dev (apt-get source, dpkg-source), make, perl
# (OpenSSL's Configure), and a deb-src entry: as root, one is added in
# /etc/apt/sources.list.d/cloudx-proxy-src.sources when apt has none.
# Progress goes to stderr (each library's log in the build folder, shown on
# failure).  Exit 0 with the prefix on stdout; 1 with one line on stderr.
#
# Environment: CX_CACHE (cache folder), JOBS (make -j, default 2),
# CX_DEPS_WORK (a persistent build folder).
set -eu
command -v musl-gcc >/dev/null 2>&1 || { echo "build-deps: musl-gcc is missing: apt-get install musl-tools (or: make deps)" >&2; exit 1; }
# fetching, the cache key, the temp+rename and the logs: shared with
# packaging/windows/build-deps.sh
. "$(dirname "$0")/../lib/debsrc.sh"

# The source package and version of each library: those of the -dev package
# installed here (or, when the archive no longer has it, the newest version
# it has: said on stderr and in the prefix's .complete file).
TARGET=musl
SRCS="$(srcver libssl-dev) $(srcver libcurl4-openssl-dev) $(srcver libcjson-dev) $(srcver libexpat1-dev)"
MUSL=$(dpkg-query -W -f='${Version}' musl-tools 2>/dev/null || musl-gcc -dumpversion)
KEYTEXT="musl=$MUSL"
deps_begin

export CC=musl-gcc AR=ar RANLIB=ranlib
export PKG_CONFIG_LIBDIR="$stage/lib/pkgconfig" PKG_CONFIG_PATH=
# musl-gcc leaves /usr/include out; OpenSSL needs a few kernel headers
# (linux/mman.h, asm/...): the system's, searched after musl's own
kinc=$work/kernel-include
mkdir -p "$kinc"
for h in linux asm-generic; do ln -sfn "/usr/include/$h" "$kinc/$h"; done
ln -sfn "/usr/include/$(gcc -dumpmachine)/asm" "$kinc/asm"
CF="-O2 -fPIE -fstack-protector-strong -idirafter $kinc"
t0=$(date +%s)


# ---- OpenSSL ----
if ! done_ openssl; then
d=$(srcdir openssl)
say "openssl: $(basename "$d")"
(cd "$d" && run openssl ./Configure linux-x86_64 \
    --prefix="$stage" --libdir=lib --openssldir=/etc/ssl \
    no-shared no-tests no-module no-dso no-engine no-legacy \
    no-afalgeng no-devcryptoeng no-ktls no-async no-comp no-zlib \
    no-ssl3 no-dtls no-srp no-psk no-gost no-sctp \
    no-idea no-mdc2 no-rc5 no-rc2 no-rc4 no-bf no-cast no-seed no-camellia \
    no-aria no-sm2 no-sm3 no-sm4 no-whirlpool no-md4 no-rmd160 no-siphash \
    no-cms no-ts no-ocsp no-srtp no-ct no-cmp \
    no-filenames \
    -D_GNU_SOURCE $CF)
(cd "$d" && run openssl make -j"$jobs" build_libs && run openssl make install_dev)
touch "$stage/.done-openssl"
fi
t1=$(date +%s); say "openssl: $((t1 - t0)) s"

# ---- expat: the library only (Debian's source has it in expat/, no
# configure script: CMake) ----
if ! done_ expat; then
d=$(srcdir expat)
say "expat: $(basename "$d")"
[ -f "$d/expat/CMakeLists.txt" ] && d=$d/expat
(cd "$d" && run expat cmake -S . -B cx-build -DCMAKE_C_COMPILER=musl-gcc \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$CF" \
    -DCMAKE_INSTALL_PREFIX="$stage" -DCMAKE_INSTALL_LIBDIR=lib \
    -DEXPAT_SHARED_LIBS=OFF -DEXPAT_BUILD_TOOLS=OFF -DEXPAT_BUILD_EXAMPLES=OFF \
    -DEXPAT_BUILD_TESTS=OFF -DEXPAT_BUILD_DOCS=OFF -DEXPAT_BUILD_FUZZERS=OFF &&
    # Debian's patches test "#if XML_DTD == 1", as its autotools build
    # defines it; CMake's config header defines it empty
    sed -i 's/^#define XML_DTD$/#define XML_DTD 1/; s/^#define XML_NS$/#define XML_NS 1/' \
        cx-build/expat_config.h &&
    run expat cmake --build cx-build -j "$jobs" && run expat cmake --install cx-build)
touch "$stage/.done-expat"
fi
t2=$(date +%s); say "expat: $((t2 - t1)) s"

# ---- cJSON: one file, installed as Debian's libcjson ----
if ! done_ cjson; then
d=$(srcdir cjson)
say "cjson: $(basename "$d")"
mkdir -p "$stage/include/cjson"
(cd "$d" && run cjson musl-gcc $CF -std=c89 -c cJSON.c -o cJSON.o &&
    run cjson ar rcs "$stage/lib/libcjson.a" cJSON.o)
cp "$d/cJSON.h" "$stage/include/cjson/cJSON.h"
cjv=$(sed -n 's/^#define CJSON_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' "$d/cJSON.h" | paste -sd.)
cat >"$stage/lib/pkgconfig/libcjson.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libcjson
Version: $cjv
Description: Ultralightweight JSON parser in ANSI C (static, musl)
Libs: -L\${libdir} -lcjson
Libs.private: -lm
Cflags: -I\${includedir} -I\${includedir}/cjson
EOF
touch "$stage/.done-cjson"
fi
t3=$(date +%s); say "cjson: $((t3 - t2)) s"

# ---- libcurl: HTTP(S) over OpenSSL, nothing else ----
if ! done_ curl; then
d=$(srcdir curl)
say "curl: $(basename "$d")"
[ -x "$d/configure" ] || (cd "$d" && run curl autoreconf -fi)
(cd "$d" && run curl ./configure --prefix="$stage" --disable-shared --enable-static \
    --with-openssl="$stage" --enable-http --disable-ftp --disable-file \
    --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
    --disable-telnet --disable-tftp --disable-pop3 --disable-imap \
    --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
    --disable-manual --disable-ntlm --disable-ntlm-wb --disable-kerberos-auth \
    --disable-negotiate-auth --disable-aws --disable-alt-svc --disable-hsts \
    --disable-doh --disable-netrc --disable-unix-sockets --disable-websockets \
    --without-zlib --without-brotli --without-zstd --without-nghttp2 \
    --without-nghttp3 --without-ngtcp2 --without-libidn2 --without-libpsl \
    --without-librtmp --without-libssh2 --without-libssh --without-libgsasl \
    --without-gssapi --without-hyper \
    --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt \
    --with-ca-path=/etc/ssl/certs \
    CFLAGS="$CF" && run curl make -j"$jobs" -C lib && run curl make -C lib install &&
    run curl make -C include install && run curl make install-pkgconfigDATA)
touch "$stage/.done-curl"
fi
t4=$(date +%s); say "curl: $((t4 - t3)) s"

say "all four: $((t4 - t0)) s"
deps_finish $((t4 - t0))
