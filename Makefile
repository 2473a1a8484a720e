# cloudx-proxy: SSH to EC2 over SSM, as a toolkit of small C commands.
# GNU make.  `make` builds, `make check` runs every test, `make demo` runs the
# whole user story against the local stand-in cloud.

# the build host's differences (macOS: Homebrew's pkg-config path, ld64)
include packaging/host.mk

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
BASH_COMPDIR ?= $(DATADIR)/bash-completion/completions
ZSH_COMPDIR ?= $(DATADIR)/zsh/site-functions
PKG_CONFIG ?= pkg-config
# `make PORTABLE=1`: strict POSIX (-D_POSIX_C_SOURCE=200809L only) with
# every fallback of the OS layer forced on, whatever this system has, in
# build-portable/ (docs/portability.md)
PORTABLE ?=
# the programs' suffix (.exe for `make windows`)
EXE ?=
# out-of-tree build dir; `make asan` uses build-asan
B ?= $(if $(filter 1,$(PORTABLE)),build-portable,build)

PROGS  = $(notdir $(wildcard cmd/*))
MANS   = $(wildcard man/*.1)
# lib/<module>/*.c: what two or more programs share, archived as libcx.a
MODULES = core aws ssm ssh ec2
# The OS layer by file name: *_posix.c and compat.c for POSIX systems,
# *_win.c for Windows (`make windows` sets WIN=1 for its inner make)
WIN ?=
OSEXCL = $(if $(filter 1,$(WIN)),%_posix.c lib/core/compat.c,%_win.c)
LIBSRC = $(filter-out $(OSEXCL),$(foreach m,$(MODULES),$(wildcard lib/$(m)/*.c)))
LIBOBJ = $(patsubst %.c,$(B)/%.o,$(LIBSRC))
# cmd/<prog>/*.c but main.c: that program's own code, archived per program
# (libcmd.a) so its unit tests can link it too
CMDLIBS = $(foreach p,$(PROGS),$(B)/cmd/$(p)/libcmd.a)
cmdobjs = $(patsubst %.c,$(B)/%.o,$(filter-out cmd/$(1)/main.c,$(wildcard cmd/$(1)/*.c)))
UNITSRC = $(filter-out $(OSEXCL),$(wildcard tests/unit/test_*.c))
UNITS  = $(patsubst %.c,$(B)/%,$(UNITSRC))

# What the goals need is checked before anything is compiled: as root on
# Debian it is installed, otherwise one line says what to run (exit 2).
NODEPS_GOALS = clean lint dist help uninstall static
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
DEPS_MODE := $(if $(filter windows check-windows,$(MAKECMDGOALS)),windows,$(if $(filter check check-% demo,$(MAKECMDGOALS)),$(if $(filter demo,$(MAKECMDGOALS)),demo,check),build))
DEPS_MSG := $(shell PKG_CONFIG='$(PKG_CONFIG)' packaging/deps.sh $(DEPS_MODE))
ifneq ($(DEPS_MSG),)
$(error $(DEPS_MSG))
endif
endif

# _DEFAULT_SOURCE, _GNU_SOURCE: glibc hides pipe2, ppoll, explicit_bzero and
# friends under strict -std=c11; lib/core/probe.sh then finds them and the
# OS layer uses them.  PORTABLE=1 builds as a system without them would.
ifeq ($(PORTABLE),1)
CSTD   = -std=c11 -D_POSIX_C_SOURCE=200809L
else
CSTD   = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE
endif
WARN   = -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wpointer-arith \
         -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef \
         -Wimplicit-fallthrough -Werror=implicit-function-declaration
HARDEN ?= -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS ?= -O2 -g
PKGS   = libcurl openssl libcjson expat
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
# per-target additions after the warnings (`make windows`: see WIN_VARS)
OSFLAGS ?=
ALL_CFLAGS = $(CSTD) $(WARN) $(OSFLAGS) $(HARDEN) -I$(B) -Ilib -Icmd -MMD -MP \
             -DCX_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS ?= -pie -Wl,-z,relro,-z,now
LIBS   = $(PKG_LIBS)
# each program keeps only the shared libraries its own code calls: cx-tunnel,
# which lives as long as the SSH connection, must not load libcurl's 35
ASNEEDED := $(if $(filter Darwin,$(shell uname -s)),-Wl,-dead_strip_dylibs,-Wl,--as-needed)

# `make V=1` shows the full commands
Q = $(if $(V),,@)
all: $(PROGS:%=$(B)/%) $(UNITS)

$(B)/libcx.a: $(LIBOBJ)
	@rm -f $@
	$(if $(V),,@echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^

# the OS layer's feature test (lib/core/probe.sh): HAVE_PIPE2 and the rest
$(B)/config.h: lib/core/probe.sh Makefile
	@mkdir -p $(@D)
	$(if $(V),,@echo "  PROBE   $@")
	$(Q)lib/core/probe.sh $@ '$(CC)' '$(CSTD) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS)' $(if $(filter 1,$(PORTABLE)),1,0)
	$(Q)echo '$(CSTD)' >$(B)/cstd

$(B)/%.o: %.c | $(B)/config.h
	@mkdir -p $(@D)
	$(if $(V),,@echo "  CC      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

define cmdlib
$(B)/cmd/$(1)/libcmd.a: $(call cmdobjs,$(1))
	@mkdir -p $$(@D); rm -f $$@
	$$(if $$(V),,@echo "  AR      $$@")
	$$(Q)$$(AR) rcs $$@ $$^
endef
$(foreach p,$(PROGS),$(eval $(call cmdlib,$(p))))

$(B)/%$(EXE): $(B)/cmd/%/main.o $(B)/cmd/%/libcmd.a $(B)/libcx.a
	$(if $(V),,@echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(ASNEEDED) -o $@ $^ $(LIBS) $(WIN_EXTRA_LIBS)

$(B)/tests/unit/%$(EXE): $(B)/tests/unit/%.o $(CMDLIBS) $(B)/libcx.a
	$(if $(V),,@echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka $(WIN_EXTRA_LIBS)

# The driver answers to both spellings; the name picks the host prefix.
$(B)/cloudX-proxy: $(B)/cloudx-proxy
	ln -sf cloudx-proxy $@

all: $(if $(filter cloudx-proxy,$(PROGS)),$(B)/cloudX-proxy)

asan:
	$(MAKE) B=$(if $(filter 1,$(PORTABLE)),build-portable-asan,build-asan) HARDEN= LDFLAGS="-fsanitize=address,undefined" \
	    CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"

deps:
	@msg=$$(packaging/deps.sh ci) || { echo "$$msg" >&2; exit 2; }

check: all
	@CX_BIN=$(B) tests/run-all

# make check with the long parts on (CX_CHECK_LONG=1: the cp test past
# 4 GiB also hashes the whole file on both ends)
check-long: all
	@CX_BIN=$(B) CX_CHECK_LONG=1 tests/run-all

check-asan: asan
	@CX_BIN=$(if $(filter 1,$(PORTABLE)),build-portable-asan,build-asan) CX_ASAN=1 tests/run-all

check-valgrind: all
	@CX_BIN=$(B) CX_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" tests/run-all

# the tunnel end-to-end tests with cx-tunnel under valgrind (errors, leaks)
check-valgrind-tunnel: all
	@CX_BIN=$(B) tests/valgrind-tunnel

demo: all
	@CX_BIN=$(B) tests/demo.sh

# Fuzzing (libFuzzer, clang): one target per parser, tests/fuzz/fuzz_<x>.c,
# seed corpus in tests/fuzz/corpus/<x>/.  `make fuzz FUZZ_SECONDS=600` for a
# long run; `make fuzz-smoke` (CI) runs each target briefly.
FUZZSRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS = $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZSRC))
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all

fuzz-lib:
	$(MAKE) B=build-fuzz CC=clang HARDEN= LDFLAGS= CFLAGS="$(FUZZ_FLAGS)" \
	    build-fuzz/libcx.a $(PROGS:%=build-fuzz/cmd/%/libcmd.a)

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c fuzz-lib
	clang $(CSTD) -Ilib -Icmd $(PKG_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined \
	    -o $@ $< $(PROGS:%=build-fuzz/cmd/%/libcmd.a) build-fuzz/libcx.a $(LIBS)

fuzz-build: fuzz-lib

fuzz-build: $(FUZZERS)

fuzz: fuzz-build
	@tests/fuzz/run $(FUZZ_SECONDS) $(FUZZERS)

fuzz-smoke: fuzz-build
	@FUZZ_SEED=$${FUZZ_SEED:-1} tests/fuzz/run $${FUZZ_SECONDS:-10} $(FUZZERS)

# banned functions, lib/'s module layering, tracked binaries, man pages
lint:
	@tests/lint.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(PROGS:%=$(B)/%) $(DESTDIR)$(BINDIR)/
	$(if $(filter cloudx-proxy,$(PROGS)),ln -sf cloudx-proxy $(DESTDIR)$(BINDIR)/cloudX-proxy)
	$(if $(MANS),install -m 0644 $(MANS) $(DESTDIR)$(MANDIR)/man1/)
	if [ -d completions ]; then \
	  install -d $(DESTDIR)$(BASH_COMPDIR) $(DESTDIR)$(ZSH_COMPDIR); \
	  install -m 0644 completions/cloudx-proxy.bash $(DESTDIR)$(BASH_COMPDIR)/cloudx-proxy; \
	  ln -sf cloudx-proxy $(DESTDIR)$(BASH_COMPDIR)/cloudX-proxy; \
	  install -m 0644 completions/_cloudx-proxy $(DESTDIR)$(ZSH_COMPDIR)/_cloudx-proxy; \
	fi

uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%) $(DESTDIR)$(BINDIR)/cloudX-proxy
	rm -f $(MANS:man/%=$(DESTDIR)$(MANDIR)/man1/%)
	rm -f $(DESTDIR)$(BASH_COMPDIR)/cloudx-proxy $(DESTDIR)$(BASH_COMPDIR)/cloudX-proxy \
	    $(DESTDIR)$(ZSH_COMPDIR)/_cloudx-proxy

clean:
	rm -rf build build-asan build-*

-include $(shell find $(B) -name '*.d' 2>/dev/null)
.SECONDARY:
.PHONY: all asan deps check check-long check-asan check-valgrind check-valgrind-tunnel demo lint install uninstall clean fuzz fuzz-build fuzz-smoke fuzz-lib

# ---- packages (issue 12): make dist, make deb, make static ----------------
# The host's differences (macOS: Homebrew, ld64) are in packaging/host.mk,
# included at the top.  Packages go to dist/ (ignored by git).

# cmocka through pkg-config too (Homebrew's is not on the default paths)
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs-only-L cmocka 2>/dev/null)
$(B)/tests/unit/%.o: ALL_CFLAGS += $(CMOCKA_CFLAGS)
$(UNITS): LIBS += $(CMOCKA_LIBS)

DIST_NAME = cloudx-proxy-$(VERSION)
# the sources of HEAD (committed work only), with a top folder
# cloudx-proxy-VERSION/; the extracted tarball builds and passes make check
ifneq ($(filter dist,$(MAKECMDGOALS)),)
ifeq ($(shell git rev-parse --verify -q HEAD 2>/dev/null),)
$(error make dist: not a git checkout (the tarball is git archive HEAD))
endif
endif
dist:
	@git diff --quiet HEAD 2>/dev/null || \
	    echo "make dist: uncommitted changes are not in the tarball (git archive HEAD)" >&2
	@mkdir -p dist
	$(Q)git archive --format=tar --prefix=$(DIST_NAME)/ HEAD | gzip -9n >dist/$(DIST_NAME).tar.gz.tmp
	$(Q)mv dist/$(DIST_NAME).tar.gz.tmp dist/$(DIST_NAME).tar.gz
	@echo "dist/$(DIST_NAME).tar.gz"

# dist/cloudx-proxy_VERSION-1_ARCH.deb from this build (packaging/deb/build.sh)
deb: $(PROGS:%=$(B)/%)
	$(Q)packaging/deb/build.sh $(B) $(VERSION)

# Every program linked statically against musl (musl-gcc): OpenSSL, libcurl,
# cJSON and expat built for musl by packaging/static/build-deps.sh (cached
# outside the tree), the programs in build-static/ (no unit tests: cmocka is
# not built for musl).
STATIC_B = build-static
static:
	$(Q)prefix=$$(packaging/static/build-deps.sh) || exit 2; \
	env PKG_CONFIG_LIBDIR="$$prefix/lib/pkgconfig" PKG_CONFIG_PATH= CX_NO_UNIT=1 \
	    $(MAKE) --no-print-directory B=$(STATIC_B) CC=musl-gcc \
	    PKG_CONFIG="pkg-config --static" LDFLAGS=-static \
	    $(PROGS:%=$(STATIC_B)/%) $(if $(filter cloudx-proxy,$(PROGS)),$(STATIC_B)/cloudX-proxy)

.PHONY: dist deb static

# ---- Windows (issue 13): make windows, make check-windows -----------------
# Cross-built with mingw-w64 into build-win/ (WIN=1): the libraries from
# packaging/windows/build-deps.sh (static, cached outside the tree), the OS
# layer's *_win.c files, every program linked statically (no DLL to ship)
# as build-win/*.exe, then dist/cloudx-proxy-VERSION-windows-x86_64.zip.
# `make check-windows` runs the unit tests built for Windows under Wine,
# then tests/windows/*.bats (the .exe files under Wine against moto):
# tests/windows/run, TAP, "N passed, N failed".
WIN_B = build-win
WIN_CC = x86_64-w64-mingw32-gcc
# Every lib/ file but the POSIX side of the OS layer goes into
# build-win/libcx.a; every program builds.
WIN_LIBSRC = $(filter-out %_posix.c lib/core/compat.c,\
    $(foreach m,$(MODULES),$(wildcard lib/$(m)/*.c)))
WIN_PROGS = cx-creds cx-instance cx-pushkey cx-sshconf cx-session cloudx-proxy cx-tunnel
# the unit tests that build for Windows so far (tests/windows/run runs them)
# test tools for Wine, tests/tools/win/*.c (tests/windows/*.bats)
WIN_TOOLS = unix-shim winrun pipe-relay fake-ssh
WIN_UNITS = test_os_win test_awserr test_cli test_datachan test_instance test_sigv4 test_sshver test_ssmmsg test_text test_valid test_xml test_ws
# (on the command line: the rules' prerequisites are expanded as read).
# -Wno-format: to mingw's gcc the format attribute's "printf" is
# Microsoft's, which has no %zu; the POSIX builds check every format, and
# the programs use mingw's C99 printf (__USE_MINGW_ANSI_STDIO).
# lib/core/os_win.h declares the POSIX calls mingw lacks (os_win.c).
WIN_VARS = B=$(WIN_B) WIN=1 EXE=.exe CC=$(WIN_CC) AR=x86_64-w64-mingw32-ar \
    CSTD="-std=c11 -D_POSIX_C_SOURCE=200809L -D__USE_MINGW_ANSI_STDIO=1 -D_WIN32_WINNT=0x0A00 -DWIN32_LEAN_AND_MEAN" \
    OSFLAGS="-include lib/core/os_win.h -Wno-format" \
    LIBSRC="$(WIN_LIBSRC)" PROGS="$(WIN_PROGS)" \
    PKG_CONFIG="pkg-config --static" HARDEN="-fstack-protector-strong" \
    LDFLAGS="-static -municode" ASNEEDED= \
    WIN_EXTRA_LIBS="-lbcrypt -ladvapi32 -lws2_32 -luserenv -lcrypt32 -lssp"
windows:
	$(Q)prefix=$$(packaging/windows/build-deps.sh) || exit 2; \
	env PKG_CONFIG_LIBDIR="$$prefix/lib/pkgconfig" PKG_CONFIG_PATH= \
	    $(MAKE) --no-print-directory $(WIN_VARS) \
	    $(WIN_PROGS:%=$(WIN_B)/%.exe) $(WIN_UNITS:%=$(WIN_B)/tests/unit/%.exe) \
	    $(WIN_TOOLS:%=$(WIN_B)/tests/tools/%.exe)
	$(Q)packaging/windows/zip.sh $(WIN_B) $(VERSION) $(WIN_PROGS)

# the Windows programs the tests under Wine run besides ours
# (tests/tools/win/NAME.c, one file each, Win32 and Winsock only)
$(WIN_B)/tests/tools/%.exe: tests/tools/win/%.c
	@mkdir -p $(@D)
	$(if $(V),,@echo "  CC      $@")
	$(Q)$(WIN_CC) -std=c11 -D_WIN32_WINNT=0x0A00 -DWIN32_LEAN_AND_MEAN \
	    $(WARN) -O2 -static -o $@ $< -lws2_32

check-windows: windows
	@CX_BIN=$(WIN_B) tests/windows/run

.PHONY: windows check-windows
