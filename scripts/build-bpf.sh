#!/usr/bin/env bash
# Builds bpf/*.bpf.c into bpf/.output/lsptap.bpf.o and lsptap-profile.bpf.o against a vmlinux.h generated from this
# machine's kernel BTF. Kernel timing is optional: when clang, bpftool or BTF is missing this
# says so and exits 0, and lsptap runs without it (one warn line at run time).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bpf/.output
BTF=${LSPTAP_BTF:-/sys/kernel/btf/vmlinux}
for tool in clang bpftool; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-bpf: $tool not found; kernel timing not built (run scripts/setup.sh)" >&2
    exit 0
  fi
done
if [ ! -r "$BTF" ]; then
  echo "build-bpf: no kernel BTF at $BTF; kernel timing not built (needs CONFIG_DEBUG_INFO_BTF)" >&2
  exit 0
fi
case "$(uname -m)" in
  x86_64) ARCH=x86 ;;
  aarch64) ARCH=arm64 ;;
  *) echo "build-bpf: architecture $(uname -m) not supported; kernel timing not built" >&2; exit 0 ;;
esac
mkdir -p "$OUT"
# vmlinux.h only changes with the kernel; regenerate when BTF is newer.
if [ ! -s "$OUT/vmlinux.h" ] || [ "$BTF" -nt "$OUT/vmlinux.h" ]; then
  bpftool btf dump file "$BTF" format c > "$OUT/vmlinux.h.tmp"
  mv "$OUT/vmlinux.h.tmp" "$OUT/vmlinux.h"
fi
# Each bpf/*.bpf.c compiles into bpf/.output/parts/, and the parts link into two objects:
# bpf/.output/lsptap.bpf.o, kernel timing alone (every part but the profiler's), loaded with
# --profile-hz 0, and bpf/.output/lsptap-profile.bpf.o, the same with the profiler linked in
# (profile.bpf.c shares the tree's maps and calls tree_idle_split), loaded when profiling
# is on. A session loads one of them: libbpf parses the kernel's 5.5 MB BTF once per object
# it loads, and two objects cost a session 13 ms more CPU.
PARTS="$OUT/parts"
mkdir -p "$PARTS"
# Objects of an earlier layout (io.bpf.o, tree.bpf.o, sched.bpf.o) would still be packed by
# `files`, and parts whose source is gone would still be linked: remove them.
for obj in "$OUT"/*.bpf.o; do
  [ -e "$obj" ] || continue
  case "$(basename "$obj")" in lsptap.bpf.o|lsptap-profile.bpf.o) ;; *) rm -f "$obj" ;; esac
done
for obj in "$PARTS"/*.bpf.o; do
  [ -e "$obj" ] || continue
  [ -e "bpf/$(basename "$obj" .o).c" ] || rm -f "$obj"
done
for src in bpf/*.bpf.c; do
  name=$(basename "$src" .c)
  obj="$PARTS/$name.o"
  # Up to date when newer than its source, every header (tree.bpf.c includes io.h too) and vmlinux.h.
  fresh=1
  for dep in "$src" bpf/*.h "$OUT/vmlinux.h"; do [ "$obj" -nt "$dep" ] || fresh=0; done
  if [ -s "$obj" ] && [ "$fresh" = 1 ]; then continue; fi
  # -mcpu=v3: BPF atomics; -g: BTF for CO-RE and for the layout test.
  clang -O2 -g -target bpf -mcpu=v3 "-D__TARGET_ARCH_$ARCH" -I"$OUT" -Ibpf -c "$src" -o "$obj.tmp"
  mv "$obj.tmp" "$obj"
done
# link FINAL PARTS...: one object and its light skeleton, a loader program that relocates
# and loads the object in the kernel, so lsptap does not parse the kernel's BTF at every
# start (src/probes/light-loader.ts).
link() {
  local final=$1 name
  shift
  name=$(basename "$final" .bpf.o)
  local fresh=1
  for dep in "$@"; do [ "$final" -nt "$dep" ] || fresh=0; done
  # Which parts went in, so an object of another layout (all parts in one) is linked again.
  local parts="$OUT/parts/$name.linked"
  [ "$(cat "$parts" 2>/dev/null)" = "$*" ] || fresh=0
  if [ ! -s "$final" ] || [ "$fresh" = 0 ]; then
    bpftool gen object "$final.tmp" "$@"
    # The DWARF from -g is not needed at run time (CO-RE and the layout test read .BTF, which
    # stays): dropping it took the scheduler object from 662 kB to 41 kB in the npm tarball.
    if command -v llvm-strip >/dev/null 2>&1; then llvm-strip -g "$final.tmp"; fi
    mv "$final.tmp" "$final"
    echo "$*" > "$parts"
  fi
  local loader="$OUT/$name.loader.json"
  if [ ! -s "$loader" ] || [ "$final" -nt "$loader" ]; then
    bpftool gen skeleton -L "$final" name "${name//-/_}" > "$OUT/$name.lskel.h.tmp"
    node scripts/extract-lskel.js "$OUT/$name.lskel.h.tmp" "$loader.tmp"
    rm -f "$OUT/$name.lskel.h.tmp"
    mv "$loader.tmp" "$loader"
  fi
}
timing=()
for obj in "$PARTS"/*.bpf.o; do [ "$(basename "$obj")" = profile.bpf.o ] || timing+=("$obj"); done
link "$OUT/lsptap.bpf.o" "${timing[@]}"
link "$OUT/lsptap-profile.bpf.o" "$PARTS"/*.bpf.o
