#!/usr/bin/env bash
# Run by `npm pack` (prepack) after the build: a tarball without the compiled BPF objects
# would install fine and then never time the kernel, so refuse to pack one. build-bpf.sh
# skips the objects (exit 0) on machines without clang/bpftool/BTF; packing needs them.
set -euo pipefail
cd "$(dirname "$0")/.."
# The one linked object and its light skeleton (build-bpf.sh); the parts are not packed.
for obj in bpf/.output/lsptap.bpf.o bpf/.output/lsptap.loader.json; do
  if [ ! -s "$obj" ]; then
    echo "check-package: $obj is missing; packing needs clang, bpftool and kernel BTF (scripts/setup.sh)" >&2
    exit 1
  fi
done
[ -s dist/src/entry.js ] || { echo "check-package: dist/src/entry.js is missing; run npm run build" >&2; exit 1; }
