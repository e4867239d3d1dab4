#!/bin/sh
# gen.sh SYMS_FILE SHIM_SONAME REAL_SONAME ENV_VAR STATUS_NO_LIB STATUS_NO_SYM OUTDIR
# Generates a forwarding shim: assembly trampolines + version script, then builds OUTDIR/SHIM_SONAME.
set -e
syms=$1 soname=$2 real=$3 env=$4 nolib=$5 nosym=$6 out=$7
mkdir -p "$out"; base=$out/${soname%%.so*}
n=$(grep -c . "$syms")
awk '
  BEGIN { print "\t.text" }
  NF { printf "\t.globl %s\n\t.type %s,@function\n%s:\n\tmovl $%d, %%r11d\n\tjmp *compat_table+%d(%%rip)\n\t.size %s, .-%s\n", $1,$1,$1,i,8*i,$1,$1; i++ }
  END { print "\t.section .note.GNU-stack,\"\",@progbits" }' "$syms" > "$base.tramp.S"
{ echo "const char *const compat_names[] = {"; awk 'NF{printf "  \"%s\",\n", $1}' "$syms"; echo "};"; } > "$base.names.c"
{ echo "$soname {"; echo "  global:"; awk 'NF{printf "    %s;\n", $1}' "$syms"; echo "  local: *;"; echo "};"; } > "$base.map"
gcc -O2 -fPIC -shared -Wall -DNSYMS=$n "-DENV_VAR=\"$env\"" "-DREAL_SONAME=\"$real\"" -DSTATUS_NO_LIB=$nolib -DSTATUS_NO_SYM=$nosym \
    -Wl,-soname,"$soname" -Wl,--version-script="$base.map" -Wl,-z,noexecstack \
    -o "$out/$soname" "$(dirname "$0")/compat_fwd.c" "$base.names.c" "$base.tramp.S" -Wl,--no-as-needed -l:libdl.so.2
echo "built $out/$soname ($n symbols -> $real)"
