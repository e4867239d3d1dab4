#!/bin/sh
set -e
O=${1:-out}; D=$(dirname "$0")
sh "$D/gen.sh" "$D/cublas12.syms"     libcublas.so.12     libcublas.so.13     CUDA_COMPAT_CUBLAS     1 15 "$O"
sh "$D/gen.sh" "$D/cusolver11.syms"   libcusolver.so.11   libcusolver.so.12   CUDA_COMPAT_CUSOLVER   1 9  "$O"
sh "$D/gen.sh" "$D/cusolverMg11.syms" libcusolverMg.so.11 libcusolverMg.so.12 CUDA_COMPAT_CUSOLVERMG 1 9  "$O"
