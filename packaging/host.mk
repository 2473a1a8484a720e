# packaging/host.mk: what differs on the build host, included first by the
# Makefile (before PREFIX, PKG_CONFIG and LDFLAGS get their defaults, so a
# value set here wins and a value on the command line wins over both).
#
# macOS (uname -s = Darwin), written for review: no Mac has run it yet
# (README: "macOS").
#  - Homebrew's keg-only formulae (curl, expat and, depending on the
#    version, openssl@3) are not on pkg-config's default path: their
#    lib/pkgconfig folders are put first on PKG_CONFIG_PATH.  The path is
#    passed through `env` inside PKG_CONFIG, because $(shell) does not see
#    exported variables before GNU make 4.4 (and macOS ships make 3.81).
#  - ld64 has no -z relro / -z now and makes PIE executables by default:
#    LDFLAGS is empty (the Makefile's -Wl,-dead_strip_dylibs stays).
#  - PREFIX is Homebrew's prefix, so the man pages land in its share/man.
HOST_OS := $(shell uname -s)
ifeq ($(HOST_OS),Darwin)
BREW := $(shell command -v brew 2>/dev/null)
ifneq ($(BREW),)
BREW_PREFIX := $(shell $(BREW) --prefix)
BREW_FORMULAE = openssl@3 curl cjson expat cmocka
BREW_PC := $(shell for f in $(BREW_FORMULAE); do \
    p=$$($(BREW) --prefix "$$f" 2>/dev/null) && [ -d "$$p/lib/pkgconfig" ] && \
    printf '%s:' "$$p/lib/pkgconfig"; done)
PKG_CONFIG_PATH := $(BREW_PC)$(PKG_CONFIG_PATH)
export PKG_CONFIG_PATH
PKG_CONFIG ?= env PKG_CONFIG_PATH=$(PKG_CONFIG_PATH) pkg-config
PREFIX ?= $(BREW_PREFIX)
endif
LDFLAGS ?=
endif
