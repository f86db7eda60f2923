#!/usr/bin/env bash
# Run by `npm pack` (prepack) after the build: a tarball without the compiled BPF objects
# would install fine and then never time the kernel, so refuse to pack one. build-bpf.sh
# skips the objects (exit 0) on machines without clang/bpftool/BTF; packing needs them.
set -euo pipefail
cd "$(dirname "$0")/.."
# One object per bpf/*.bpf.c (a stale object of a removed program would be packed too: the
# build removes objects without a source).
for src in bpf/*.bpf.c; do
  obj="bpf/.output/$(basename "$src" .c).o"
  if [ ! -s "$obj" ]; then
    echo "check-package: $obj is missing; packing needs clang, bpftool and kernel BTF (scripts/setup.sh)" >&2
    exit 1
  fi
done
[ -s dist/src/entry.js ] || { echo "check-package: dist/src/entry.js is missing; run npm run build" >&2; exit 1; }
