#!/bin/sh
# packaging/windows/build-deps.sh: OpenSSL, libcurl, cJSON, expat and cmocka
# cross-built as static libraries for Windows (x86_64-w64-mingw32, Debian's
# gcc-mingw-w64-x86-64), from Debian's own source packages (the versions of
# the -dev packages installed here), for `make windows`.
#
# Prints one line on stdout: the prefix holding lib/*.a, include/ and
# lib/pkgconfig/*.pc, cached outside the tree:
#
#   ${CX_CACHE:-$HOME/.cache/cloudx-proxy-build}/mingw64-<key>
#
# (<key> hashes this script, packaging/lib/debsrc.sh, the five source
# versions and the cross compiler's; built under a temp name and renamed
# when complete, so a second run takes no time).
#
# What is built:
#   OpenSSL  mingw64 target, static, the same cut-down set as the musl build
#            (TLS 1.2/1.3 client); no shared library, apps or tests
#   libcurl  HTTP and HTTPS over OpenSSL only (no Schannel), static
#            (CURL_STATICLIB); links ws2_32, crypt32, bcrypt
#   cJSON    the one file, as Debian's libcjson (include/cjson/cJSON.h)
#   expat    the library only (XML_STATIC)
#   cmocka   static, for the unit tests
#
# Needs: gcc-mingw-w64-x86-64, dpkg-dev, make, perl, cmake, and a deb-src
# entry (added as root when apt has none).  Exit 0 with the prefix on
# stdout; 1 with one line on stderr.
set -eu
HOST=x86_64-w64-mingw32
command -v $HOST-gcc >/dev/null 2>&1 || { echo "build-deps: $HOST-gcc is missing: apt-get install gcc-mingw-w64-x86-64 (or: packaging/deps.sh windows)" >&2; exit 1; }
. "$(dirname "$0")/../lib/debsrc.sh"
command -v cmake >/dev/null 2>&1 || die "cmake is missing: apt-get install cmake"

TARGET=mingw64
SRCS="$(srcver libssl-dev) $(srcver libcurl4-openssl-dev) $(srcver libcjson-dev) $(srcver libexpat1-dev) $(srcver libcmocka-dev)"
KEYTEXT="mingw=$(dpkg-query -W -f='${Version}' gcc-mingw-w64-x86-64 2>/dev/null || $HOST-gcc -dumpversion)"
deps_begin

export CC=$HOST-gcc AR=$HOST-ar RANLIB=$HOST-ranlib
export PKG_CONFIG_LIBDIR="$stage/lib/pkgconfig" PKG_CONFIG_PATH=
CF="-O2 -fstack-protector-strong"
# cmake for the cross target
tc=$work/mingw.cmake
cat >"$tc" <<TC
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER $HOST-gcc)
set(CMAKE_RC_COMPILER $HOST-windres)
set(CMAKE_FIND_ROOT_PATH /usr/$HOST $stage)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
TC
t0=$(date +%s)

# ---- OpenSSL ----
if ! done_ openssl; then
d=$(srcdir openssl)
say "openssl: $(basename "$d")"
(cd "$d" && run openssl env -u CC -u AR -u RANLIB ./Configure mingw64 --cross-compile-prefix=$HOST- \
    --prefix="$stage" --libdir=lib \
    no-shared no-tests no-module no-dso no-engine no-legacy \
    no-async no-comp no-zlib no-capieng \
    no-ssl3 no-dtls no-srp no-psk no-gost no-sctp \
    no-idea no-mdc2 no-rc5 no-rc2 no-rc4 no-bf no-cast no-seed no-camellia \
    no-aria no-sm2 no-sm3 no-sm4 no-whirlpool no-md4 no-rmd160 no-siphash \
    no-cms no-ts no-ocsp no-srtp no-ct no-cmp \
    no-filenames $CF)
(cd "$d" && run openssl env -u CC -u AR -u RANLIB make -j"$jobs" build_libs && run openssl env -u CC -u AR -u RANLIB make install_dev)
mark openssl
fi
t1=$(date +%s); say "openssl: $((t1 - t0)) s"

# ---- expat: the library only (CMake, in expat/ in Debian's source) ----
if ! done_ expat; then
d=$(srcdir expat)
say "expat: $(basename "$d")"
[ -f "$d/expat/CMakeLists.txt" ] && d=$d/expat
(cd "$d" && rm -rf cx-win && run expat cmake -S . -B cx-win -DCMAKE_TOOLCHAIN_FILE="$tc" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$CF" \
    -DCMAKE_INSTALL_PREFIX="$stage" -DCMAKE_INSTALL_LIBDIR=lib \
    -DEXPAT_SHARED_LIBS=OFF -DEXPAT_BUILD_TOOLS=OFF -DEXPAT_BUILD_EXAMPLES=OFF \
    -DEXPAT_BUILD_TESTS=OFF -DEXPAT_BUILD_DOCS=OFF -DEXPAT_BUILD_FUZZERS=OFF \
    -DEXPAT_MSVC_STATIC_CRT=OFF &&
    sed -i 's/^#define XML_DTD$/#define XML_DTD 1/; s/^#define XML_NS$/#define XML_NS 1/' \
        cx-win/expat_config.h &&
    run expat cmake --build cx-win -j "$jobs" && run expat cmake --install cx-win)
# the static library's users must say so (no dllimport)
sed -i 's/^Cflags: \(.*\)$/Cflags: \1 -DXML_STATIC/' "$stage/lib/pkgconfig/expat.pc"
mark expat
fi
t2=$(date +%s); say "expat: $((t2 - t1)) s"

# ---- cJSON: one file, installed as Debian's libcjson ----
if ! done_ cjson; then
d=$(srcdir cjson)
say "cjson: $(basename "$d")"
mkdir -p "$stage/include/cjson"
(cd "$d" && run cjson $CC $CF -std=c89 -c cJSON.c -o cx-win-cJSON.o &&
    run cjson $AR rcs "$stage/lib/libcjson.a" cx-win-cJSON.o)
cp "$d/cJSON.h" "$stage/include/cjson/cJSON.h"
cjv=$(sed -n 's/^#define CJSON_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' "$d/cJSON.h" | paste -sd.)
cat >"$stage/lib/pkgconfig/libcjson.pc" <<PC
prefix=$stage
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libcjson
Version: $cjv
Description: Ultralightweight JSON parser in ANSI C (static, mingw-w64)
Libs: -L\${libdir} -lcjson
Cflags: -I\${includedir} -I\${includedir}/cjson
PC
mark cjson
fi
t3=$(date +%s); say "cjson: $((t3 - t2)) s"

# ---- libcurl: HTTP(S) over OpenSSL, nothing else ----
if ! done_ curl; then
d=$(srcdir curl)
say "curl: $(basename "$d")"
[ -x "$d/configure" ] || (cd "$d" && run curl autoreconf -fi)
(cd "$d" &&
    run curl ./configure --host=$HOST --prefix="$stage" --disable-shared --enable-static \
    --with-openssl="$stage" --without-schannel --enable-http --disable-ftp --disable-file \
    --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
    --disable-telnet --disable-tftp --disable-pop3 --disable-imap \
    --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
    --disable-manual --disable-ntlm --disable-ntlm-wb --disable-kerberos-auth \
    --disable-negotiate-auth --disable-aws --disable-alt-svc --disable-hsts \
    --disable-doh --disable-netrc --disable-unix-sockets --disable-websockets \
    --without-zlib --without-brotli --without-zstd --without-nghttp2 \
    --without-nghttp3 --without-ngtcp2 --without-libidn2 --without-libpsl \
    --without-librtmp --without-libssh2 --without-libssh --without-libgsasl \
    --without-gssapi --without-hyper --without-ca-bundle --without-ca-path \
    CFLAGS="$CF" && run curl make -j"$jobs" -C lib && run curl make -C lib install &&
    run curl make -C include install && run curl make install-pkgconfigDATA)
grep -q CURL_STATICLIB "$stage/lib/pkgconfig/libcurl.pc" ||
    sed -i 's/^Cflags: \(.*\)$/Cflags: \1 -DCURL_STATICLIB/' "$stage/lib/pkgconfig/libcurl.pc"
mark curl
fi
t4=$(date +%s); say "curl: $((t4 - t3)) s"

# ---- cmocka: static, for the unit tests ----
if ! done_ cmocka; then
d=$(srcdir cmocka)
say "cmocka: $(basename "$d")"
(cd "$d" && rm -rf cx-win && run cmocka cmake -S . -B cx-win -DCMAKE_TOOLCHAIN_FILE="$tc" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$CF" \
    -DCMAKE_INSTALL_PREFIX="$stage" -DCMAKE_INSTALL_LIBDIR=lib \
    -DBUILD_SHARED_LIBS=OFF -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF &&
    run cmocka cmake --build cx-win -j "$jobs" && run cmocka cmake --install cx-win)
# older cmocka installs the static one as libcmocka-static.a
[ -f "$stage/lib/libcmocka.a" ] || [ ! -f "$stage/lib/libcmocka-static.a" ] ||
    cp "$stage/lib/libcmocka-static.a" "$stage/lib/libcmocka.a"
[ -f "$stage/lib/libcmocka.a" ] || die "cmocka: no static library was installed"
mark cmocka
fi
t5=$(date +%s); say "cmocka: $((t5 - t4)) s"

say "all five: $((t5 - t0)) s"
deps_finish $((t5 - t0))
