# Homebrew formula for cloudx-proxy, built from the release tarball that
# `make dist` makes (dist/cloudx-proxy-VERSION.tar.gz).
#
# At each release, set url to where the tarball is published and sha256 to
# `shasum -a 256 cloudx-proxy-VERSION.tar.gz`; until the project publishes
# releases, both are placeholders and `brew install --build-from-source
# ./packaging/homebrew/cloudx-proxy.rb` needs them filled in by hand.
#
# Not run on a Mac yet: CI checks only the syntax (ruby -c).  What is known
# to differ on macOS is in packaging/host.mk (Homebrew's pkg-config path,
# ld64's flags, the prefix) and the README's "macOS" section.
class CloudxProxy < Formula
  desc "SSH to EC2 instances through AWS Systems Manager, as small C programs"
  homepage "https://example.invalid/cloudx-proxy"
  url "https://example.invalid/cloudx-proxy/releases/cloudx-proxy-0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"

  # GNU make 4 (macOS ships 3.81) and pkg-config find the libraries;
  # cmocka builds the unit tests that `make` builds with the programs
  depends_on "cmocka" => :build
  depends_on "make" => :build
  depends_on "pkg-config" => :build
  depends_on "cjson"
  depends_on "curl"
  depends_on "expat"
  depends_on "openssl@3"

  def install
    # PREFIX puts the man pages in share/man/man1, the bash completion in
    # share/bash-completion/completions, zsh's in share/zsh/site-functions
    system "gmake", "PREFIX=#{prefix}"
    system "gmake", "install", "PREFIX=#{prefix}"
  end

  test do
    assert_match "cx-creds #{version}", shell_output("#{bin}/cx-creds --version")
    assert_match "setup", shell_output("#{bin}/cloudx-proxy --help")
  end
end
