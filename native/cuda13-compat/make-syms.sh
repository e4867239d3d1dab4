#!/bin/sh
set -e
R=${1:-$HOME/.m2/repository}/org/jcuda
t=$(mktemp -d)
unzip -q -j -o "$R/jcublas-natives/12.6.0/jcublas-natives-12.6.0-linux-x86_64.jar" 'lib/libJCublas2-*' -d "$t"
unzip -q -j -o "$R/jcusolver-natives/11.7.0/jcusolver-natives-11.7.0-linux-x86_64.jar" 'lib/libJCusolver-*' -d "$t"
und() { nm -D --undefined-only "$1" | awk -v v="@$2" '{ n = $2; i = index(n, v); if (i && i + length(v) - 1 == length(n)) print substr(n, 1, i - 1) }' | sort -u; }
und "$t"/libJCublas2-*.so libcublas.so.12 > cublas12.syms
und "$t"/libJCusolver-*.so libcusolver.so.11 > cusolver11.syms
und "$t"/libJCusolver-*.so libcusolverMg.so.11 > cusolverMg11.syms
rm -rf "$t"; wc -l cublas12.syms cusolver11.syms cusolverMg11.syms   # 494 / 463 / 19
