#!/bin/sh
# native-test/cudasim/build.sh [OUT_DIR]      (Maven profile "cudasim" runs it at process-test-classes)
# Builds the CUDA simulator for GPU-less test runs, incrementally (only what is older than its sources):
#   OUT/ptx/<name>.ptx           nvcc -ptx -arch=compute_90 of kernels/*.cu and testkernels/*.cu
#                                (no nvcc: the committed ptx-cache/<name>.ptx, or src/main/resources/**/<name>.ptx)
#   OUT/libkernels_sim.so        kernels/*.cu compiled by g++ against include/cudasim.h + the fiber engine
#   OUT/libtestkernels_sim.so    testkernels/*.cu (the simulator's self-test kernels), same way
#   OUT/libcuda.so.1             stand-in driver (implemented subset + NOT_SUPPORTED stubs for JCuda's other imports)
#   OUT/libcublas.so.12 OUT/libcusolver.so.11 OUT/libcusolverMg.so.11
#                                stand-in cuBLAS/cuSOLVER on host memory (+ stubs for JCublas2/JCusolver's other imports)
#   OUT/cuda13/                  the same stand-ins as a CUDA-13-only installation: libcublas.so.13, libcusolver.so.12,
#                                libcusolverMg.so.12, with links to libcuda.so.1 and the kernels libraries; JCuda reaches
#                                them only through the CUDA 13 compatibility shims (scripts/device-check --simulator)
#   OUT/compat/                  those shims (native/cuda13-compat/build.sh), for the tests that run the simulator as a
#                                CUDA-13-only installation
# Needs sh, g++ >= 12, nm; nvcc (13.x) only to (re)make PTX. CXX, NVCC, CUDASIM_JOBS override the defaults.
# --update-ptx-cache: also copy freshly made testkernels PTX into ptx-cache/ (commit them afterwards).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
update_cache=0
if [ "${1:-}" = "--update-ptx-cache" ]; then update_cache=1; shift; fi
out=${1:-$root/target/cudasim}
mkdir -p "$out/ptx" "$out/obj" "$out/tmp"
out=$(cd "$out" && pwd)
CXX=${CXX:-g++}
if [ -z "${NVCC:-}" ]; then
  NVCC=$(command -v nvcc 2>/dev/null || true)
  [ -n "$NVCC" ] || for c in /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc; do [ -x "$c" ] && NVCC=$c && break; done
fi
NVCC=${NVCC:-/nonexistent/nvcc}
INC="-I$here/include -I$root/kernels"
CXXFLAGS="-std=c++20 -g -fPIC -fvisibility=hidden -Wall -Wno-unknown-pragmas -Wno-unused-parameter -Wno-unused-function $INC"
HDRS="$here/include/cudasim.h $here/include/cudasim_abi.h"
[ -f "$root/kernels/common.cuh" ] && HDRS="$HDRS $root/kernels/common.cuh"
t0=$(date +%s)

# uptodate OUT DEP... : OUT exists and is newer than every DEP
uptodate() {
  o=$1; shift
  [ -f "$o" ] || return 1
  for d in "$@"; do [ -e "$d" ] || continue; [ "$o" -nt "$d" ] || return 1; done
  return 0
}
pids=""
bg() { "$@" & pids="$pids $!"; }
join() { rc=0; for p in $pids; do wait "$p" || rc=1; done; pids=""; [ $rc -eq 0 ] || { echo "cudasim: build failed" >&2; exit 1; }; }

# ---- 1. PTX --------------------------------------------------------------------------------------------
make_ptx() {  # CU -> OUT/ptx/NAME.ptx
  cu=$1; base=$(basename "$cu" .cu); ptx="$out/ptx/$base.ptx"
  if [ -x "$NVCC" ]; then
    if ! uptodate "$ptx" "$cu" "$root/kernels/common.cuh" "$NVCC"; then
      # from the repository root with a relative source path, so __FILE__ strings in the PTX (asserts)
      # do not depend on where the checkout lives and the committed ptx-cache compares equal
      (cd "$root" && "$NVCC" -ptx -arch=compute_90 -I"$root/kernels" -o "$ptx.tmp" "${cu#"$root"/}") && mv "$ptx.tmp" "$ptx"
    fi
    return 0
  fi
  for c in "$here/ptx-cache/$base.ptx" $(find "$root/src/main/resources" -name "$base.ptx" 2>/dev/null | head -1); do
    if [ -f "$c" ]; then
      uptodate "$ptx" "$c" || cp "$c" "$ptx"
      if [ "$c" -ot "$cu" ]; then echo "cudasim: WARNING no nvcc; using $c, which is older than $cu" >&2; fi
      return 0
    fi
  done
  echo "cudasim: no nvcc ($NVCC) and no cached PTX for $cu" >&2
  return 1
}
KCU=$(ls "$root"/kernels/*.cu 2>/dev/null || true)
TCU=$(ls "$here"/testkernels/*.cu 2>/dev/null || true)
for p in "$out"/ptx/*.ptx; do  # PTX of a .cu that no longer exists
  [ -f "$p" ] || continue; b=$(basename "$p" .ptx)
  [ -f "$root/kernels/$b.cu" ] || [ -f "$here/testkernels/$b.cu" ] || rm -f "$p" "$out/obj/$b.sim.cpp" "$out/obj/$b.sim.o"
done
for cu in $KCU $TCU; do bg make_ptx "$cu"; done
join
if [ $update_cache -eq 1 ]; then
  for cu in $TCU; do b=$(basename "$cu" .cu); cp "$out/ptx/$b.ptx" "$here/ptx-cache/$b.ptx"; done
  echo "cudasim: ptx-cache updated"
elif [ -x "$NVCC" ]; then
  for cu in $TCU; do b=$(basename "$cu" .cu)
    cmp -s "$out/ptx/$b.ptx" "$here/ptx-cache/$b.ptx" 2>/dev/null ||
      echo "cudasim: note: ptx-cache/$b.ptx differs from fresh nvcc output; run build.sh --update-ptx-cache and commit it" >&2
  done
fi

# ---- 2. host objects (in parallel) ------------------------------------------------------------------------
compile() {  # SRC OBJ [extra flags]
  src=$1 obj=$2; shift 2
  uptodate "$obj" "$src" $HDRS "$here/build.sh" || $CXX $CXXFLAGS "$@" -c "$src" -o "$obj"
}
kernel_obj() {  # CU -> OUT/obj/NAME.sim.o
  cu=$1; base=$(basename "$cu" .cu); gen="$out/obj/$base.sim.cpp"
  if ! uptodate "$gen" "$out/ptx/$base.ptx" "$here/tools/gen_launchers.sh"; then
    sh "$here/tools/gen_launchers.sh" "$cu" "$out/ptx/$base.ptx" "$gen.tmp" && mv "$gen.tmp" "$gen"
  fi
  uptodate "$out/obj/$base.sim.o" "$gen" "$cu" $HDRS || $CXX $CXXFLAGS -O2 -c "$gen" -o "$out/obj/$base.sim.o"
}
bg compile "$here/src/runtime.cpp" "$out/obj/runtime.o" -O2
bg compile "$here/src/driver.cpp" "$out/obj/driver.o" -O0  # not on the hot path; -O0 saves ~30% of its build
bg compile "$here/blas/cublas.cpp" "$out/obj/cublas.o" -O2
bg compile "$here/blas/cusolver.cpp" "$out/obj/cusolver.o" -O2
for cu in $KCU $TCU; do bg kernel_obj "$cu"; done
join

# ---- 3. stubs for every other import of the JCuda JNI libraries ------------------------------------------------
stubs() {  # IMPORTS OBJ-or-none STATUS NAME
  imp=$1 obj=$2 status=$3 name=$4
  if ! uptodate "$out/obj/$name.stubs.o" "$imp" "$obj" "$here/tools/gen_stubs.sh"; then
    sh "$here/tools/gen_stubs.sh" "$imp" "$obj" "$out/obj/$name.stubs.cpp" "$status" "$name"
    $CXX $CXXFLAGS -O0 -g0 -c "$out/obj/$name.stubs.cpp" -o "$out/obj/$name.stubs.o"
  fi
}
bg stubs "$here/jcuda-12.6.0-driver-imports.txt" "$out/obj/driver.o" 801 libcuda.so.1
bg stubs "$here/blas/cublas12.syms" "$out/obj/cublas.o" 15 libcublas.so.12
bg stubs "$here/blas/cusolver11.syms" "$out/obj/cusolver.o" 9 libcusolver.so.11
bg stubs "$here/blas/cusolverMg11.syms" none 9 libcusolverMg.so.11
join

# ---- 4. link ------------------------------------------------------------------------------------------------------
link() {  # OUT SONAME VERSION-NODE-or-none OBJ... (-l... at the end)
  lib=$1 soname=$2 node=$3; shift 3
  deps=""; for a in "$@"; do case $a in -*) ;; *) deps="$deps $a";; esac; done
  # relink also when the object list changed (a kernels/*.cu added or removed)
  echo "$@" > "$out/obj/$lib.inputs.new"
  if cmp -s "$out/obj/$lib.inputs.new" "$out/obj/$lib.inputs" && uptodate "$out/$lib" $deps; then return 0; fi
  mv "$out/obj/$lib.inputs.new" "$out/obj/$lib.inputs"
  vs=""
  if [ "$node" != none ]; then
    imports=$1
    { echo "$node {"; echo "  global:"; awk 'NF{printf "    %s;\n", $1}' "$imports"; echo "  local: *;"; echo "};"; } > "$out/obj/$lib.map"
    vs="-Wl,--version-script=$out/obj/$lib.map"
  fi
  objs=""; for a in "$@"; do case $a in *.syms) ;; *) objs="$objs $a";; esac; done
  $CXX -shared -o "$out/$lib.tmp" -Wl,-soname,"$soname" -Wl,--no-undefined $vs $objs -pthread && mv "$out/$lib.tmp" "$out/$lib"
}
kobjs=""; for cu in $KCU; do kobjs="$kobjs $out/obj/$(basename "$cu" .cu).sim.o"; done
tobjs=""; for cu in $TCU; do tobjs="$tobjs $out/obj/$(basename "$cu" .cu).sim.o"; done
bg link libkernels_sim.so libkernels_sim.so none "$out/obj/runtime.o" $kobjs
bg link libtestkernels_sim.so libtestkernels_sim.so none "$out/obj/runtime.o" $tobjs
bg link libcuda.so.1 libcuda.so.1 none "$out/obj/driver.o" "$out/obj/libcuda.so.1.stubs.o" -ldl
bg link libcublas.so.12 libcublas.so.12 libcublas.so.12 "$here/blas/cublas12.syms" "$out/obj/cublas.o" "$out/obj/libcublas.so.12.stubs.o" -ldl
bg link libcusolver.so.11 libcusolver.so.11 libcusolver.so.11 "$here/blas/cusolver11.syms" "$out/obj/cusolver.o" "$out/obj/libcusolver.so.11.stubs.o" -ldl
bg link libcusolverMg.so.11 libcusolverMg.so.11 libcusolverMg.so.11 "$here/blas/cusolverMg11.syms" "$out/obj/libcusolverMg.so.11.stubs.o"
mkdir -p "$out/cuda13" "$out/obj/cuda13"
bg link cuda13/libcublas.so.13 libcublas.so.13 libcublas.so.13 "$here/blas/cublas12.syms" "$out/obj/cublas.o" "$out/obj/libcublas.so.12.stubs.o" -ldl
bg link cuda13/libcusolver.so.12 libcusolver.so.12 libcusolver.so.12 "$here/blas/cusolver11.syms" "$out/obj/cusolver.o" "$out/obj/libcusolver.so.11.stubs.o" -ldl
bg link cuda13/libcusolverMg.so.12 libcusolverMg.so.12 libcusolverMg.so.12 "$here/blas/cusolverMg11.syms" "$out/obj/libcusolverMg.so.11.stubs.o"
join
for l in libcuda.so.1 libkernels_sim.so libtestkernels_sim.so; do ln -sfn "../$l" "$out/cuda13/$l"; done
compat_src="$root/native/cuda13-compat"
if [ -d "$compat_src" ] && ! uptodate "$out/compat/libcublas.so.12" "$compat_src"/*.sh "$compat_src"/*.c "$compat_src"/*.syms; then
  sh "$compat_src/build.sh" "$out/compat" >/dev/null || { echo "cudasim: building the CUDA 13 shims failed" >&2; exit 1; }
fi
echo "cudasim: built in $(( $(date +%s) - t0 )) s -> $out (kernels: $(echo $KCU | wc -w) project, $(echo $TCU | wc -w) test .cu files; nvcc: $([ -x "$NVCC" ] && echo "$NVCC" || echo 'absent, cached PTX'))"
