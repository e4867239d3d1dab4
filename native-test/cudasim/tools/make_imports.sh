#!/bin/sh
# make_imports.sh [M2_REPO]  - regenerates the import lists the stubs are generated from (once per JCuda version):
#   jcuda-12.6.0-driver-imports.txt (cu* imported by libJCudaDriver), blas/cublas12.syms, blas/cusolver11.syms,
#   blas/cusolverMg11.syms (names imported @libcublas.so.12 / @libcusolver.so.11 / @libcusolverMg.so.11).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
R=${1:-$HOME/.m2/repository}/org/jcuda
t=$(mktemp -d)
unzip -q -j -o "$R/jcuda-natives/12.6.0/jcuda-natives-12.6.0-linux-x86_64.jar" 'lib/libJCudaDriver-*' -d "$t"
unzip -q -j -o "$R/jcublas-natives/12.6.0/jcublas-natives-12.6.0-linux-x86_64.jar" 'lib/libJCublas2-*' -d "$t"
unzip -q -j -o "$R/jcusolver-natives/11.7.0/jcusolver-natives-11.7.0-linux-x86_64.jar" 'lib/libJCusolver-*' -d "$t"
nm -D --undefined-only "$t"/libJCudaDriver-*.so | awk '$2 ~ /^cu/ {print $2}' | sort -u > "$here/jcuda-12.6.0-driver-imports.txt"
und() { nm -D --undefined-only "$1" | awk -v v="@$2" '{ n = $2; i = index(n, v); if (i && i + length(v) - 1 == length(n)) print substr(n, 1, i - 1) }' | sort -u; }
und "$t"/libJCublas2-*.so libcublas.so.12 > "$here/blas/cublas12.syms"
und "$t"/libJCusolver-*.so libcusolver.so.11 > "$here/blas/cusolver11.syms"
und "$t"/libJCusolver-*.so libcusolverMg.so.11 > "$here/blas/cusolverMg11.syms"
rm -rf "$t"
wc -l "$here/jcuda-12.6.0-driver-imports.txt" "$here"/blas/*.syms   # 312 / 494 / 463 / 19
