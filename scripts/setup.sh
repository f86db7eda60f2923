#!/usr/bin/env bash
# Installs everything lsptap needs on a fresh Debian 12 machine (run as root), then builds.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

# gopls + golang-go: the real server and codebase; clang/llvm/libbpf/bpftool: the eBPF
# program; gcc: the benchmark's splice floor; neovim: a real editor for tests; chromium,
# prometheus: report and metrics tests; jq: the docs/commands.md one-liner; iproute2 (ss): finding the
# editor across a socketpair for kernel timing; libcap2-bin (setcap): its capability test;
# util-linux (Essential on Debian, named so a slimmed image gets it too): setpriv, which ties
# the server's life to lsptap's (--pdeathsig), and chrt for the analysis thread.
# emacs-nox, elpa-eglot, elpa-go-mode: docs/editors.md's Emacs recipe is run by a test; Debian 12
# has Emacs 28.2, where eglot (1.9, built in from Emacs 29) and go-mode come as elpa-* packages.
# strace: a test holds lsptap's writes with it to land a signal in a precise window.
# clangd, python3-pylsp: real servers beyond gopls for the tests and `lsptap demo --server`
# (the npm ones are in test/servers, installed below).
# man-db (with groff-base): a test reads lsptap(1) with man after npm install -g.
# bpftrace: test/kernel-bpftrace.test.ts checks the kernel fields against an independent trace.
PKGS=(gopls golang-go clang llvm libbpf1 libbpf-dev bpftool gcc make neovim chromium prometheus jq iproute2 libcap2-bin util-linux emacs-nox elpa-eglot elpa-go-mode strace clangd python3-pylsp man-db bpftrace)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; run this script as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Classic tracepoints need tracefs; raw_tp/tp_btf do not, but mount it when we can.
if [ "$(id -u)" -eq 0 ] && [ -d /sys/kernel/tracing ] && ! mountpoint -q /sys/kernel/tracing; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || echo "setup: could not mount tracefs (classic tracepoints unavailable)" >&2
fi

npm ci --no-audit --no-fund --loglevel=error
# The servers the tests run (bash-language-server, typescript-language-server with typescript
# 5's tsserver; TypeScript 7's native `tsc --lsp`), each in a package dir of its own: both
# typescripts have a `tsc` bin, and the build's tsc (node_modules/.bin) stays the project's.
npm ci --prefix test/servers --no-audit --no-fund --loglevel=error
npm ci --prefix test/servers/typescript-7 --no-audit --no-fund --loglevel=error
npm run --silent build
