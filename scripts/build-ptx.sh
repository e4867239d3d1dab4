#!/bin/sh
# build-ptx.sh - compiles every kernels/*.cu to PTX for the CUDA backend and checks it with ptxas.
#
#   scripts/build-ptx.sh [OUT_DIR]          (default: target/classes/org/rfim4j/kernels)
#
# Environment:
#   RFIM4J_SKIP_PTX=true   skip (Maven: -Drfim4j.skipPtx=true); the jar then carries no kernels and the CUDA
#                          backend fails at start-up with a message saying so.
#   NVCC                   the nvcc to use (default: nvcc on PATH, then /usr/local/cuda*/bin/nvcc)
#   RFIM4J_PTX_ARCH        virtual architecture (default compute_90: Hopper; PTX JIT-compiles forward)
#   RFIM4J_SASS_ARCH       ptxas check target (default sm_90)
#
# nvcc 13.0 supports compute_75 .. compute_121 (nvcc --list-gpu-arch); compute_90 PTX from nvcc 13 has
# .version 9.0 and needs a CUDA 13.0 driver (580+); the backend checks this at load time.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/target/classes/org/rfim4j/kernels}
ARCH=${RFIM4J_PTX_ARCH:-compute_90}
SASS=${RFIM4J_SASS_ARCH:-sm_90}

if [ "${RFIM4J_SKIP_PTX:-false}" = "true" ]; then
  echo "[build-ptx] skipped (rfim4j.skipPtx=true): the CUDA backend will have no kernels"
  exit 0
fi

find_nvcc() {
  if [ -n "${NVCC:-}" ]; then
    if [ -x "$NVCC" ] || command -v "$NVCC" >/dev/null 2>&1; then echo "$NVCC"; return 0; fi
    echo "[build-ptx] NVCC=$NVCC is not an executable" >&2
    return 1
  fi
  if command -v nvcc >/dev/null 2>&1; then command -v nvcc; return 0; fi
  for c in /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc; do
    if [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}
if ! NVCC_BIN=$(find_nvcc); then
  echo "[build-ptx] ERROR: nvcc not found (looked at \$NVCC, PATH, /usr/local/cuda/bin, /usr/local/cuda-*/bin)." >&2
  echo "[build-ptx] Install the CUDA compiler (e.g. apt package cuda-nvcc-13-0), set NVCC=/path/to/nvcc," >&2
  echo "[build-ptx] or build without GPU kernels: mvn -Drfim4j.skipPtx=true ..." >&2
  exit 2
fi
PTXAS_BIN=$(dirname "$NVCC_BIN")/ptxas
if [ ! -x "$PTXAS_BIN" ]; then
  # /usr/local/bin/nvcc may be a wrapper script; fall back to PATH, then the toolkit dirs.
  PTXAS_BIN=$(command -v ptxas || ls /usr/local/cuda/bin/ptxas /usr/local/cuda-*/bin/ptxas 2>/dev/null | head -1 || true)
fi
if [ -z "$PTXAS_BIN" ] || [ ! -x "$PTXAS_BIN" ]; then
  echo "[build-ptx] ERROR: ptxas not found next to $NVCC_BIN nor on PATH" >&2
  exit 2
fi

mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
for cu in "$ROOT"/kernels/*.cu; do
  name=$(basename "$cu" .cu)
  ptx="$OUT/$name.ptx"
  # Rebuild only when a source or header is newer than the PTX.
  if [ -f "$ptx" ] && [ -z "$(find "$ROOT/kernels" -newer "$ptx" \( -name '*.cu' -o -name '*.cuh' \) 2>/dev/null | head -1)" ] \
     && [ "$ptx" -nt "$0" ]; then
    n=$((n + 1))
    continue
  fi
  "$NVCC_BIN" -ptx -arch="$ARCH" -std=c++17 -O3 -lineinfo -I"$ROOT/kernels" -o "$TMP/$name.ptx" "$cu"
  "$PTXAS_BIN" -arch="$SASS" -o "$TMP/$name.cubin" "$TMP/$name.ptx"
  if grep -q '\.entry _Z' "$TMP/$name.ptx"; then
    echo "[build-ptx] ERROR: $cu has a C++-mangled kernel; declare kernels extern \"C\"" >&2
    exit 3
  fi
  mv "$TMP/$name.ptx" "$ptx"
  n=$((n + 1))
done
ls "$OUT"/*.ptx | sed 's|.*/||' > "$OUT/index.txt"
echo "[build-ptx] $n PTX files in $OUT ($ARCH, ptxas $SASS ok; $("$NVCC_BIN" --version | tail -1))"
