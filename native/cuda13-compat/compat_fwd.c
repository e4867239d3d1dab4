/* Generic forwarding runtime for generated shims (x86-64 SysV). The generated assembly defines one
 * exported trampoline per symbol: `mov $i,%r11d; jmp *compat_table+8*i(%rip)`. A constructor fills
 * compat_table from the real library (dlopen RTLD_LOCAL + dlsym); symbols the real library lacks, or all
 * of them if it cannot be opened, point at compat_missing, which logs the name and returns an error
 * status instead of killing the process. Compile with -DNSYMS=... -DENV_VAR=... -DREAL_SONAME=...
 * -DSTATUS_NO_LIB=... -DSTATUS_NO_SYM=... and link with the generated .S file. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
__asm__(".symver dlerror,dlerror@GLIBC_2.2.5");
__asm__(".symver dladdr,dladdr@GLIBC_2.2.5");

extern const char *const compat_names[];            /* from the generated file */
void *compat_table[NSYMS] __attribute__((visibility("hidden")));
static int compat_lib_ok;

int compat_missing_report(int idx) __attribute__((visibility("hidden")));
int compat_missing_report(int idx) {
  fprintf(stderr, "[cuda-compat] %s called but %s\n", compat_names[idx],
          compat_lib_ok ? "it does not exist in " REAL_SONAME : REAL_SONAME " could not be loaded");
  return compat_lib_ok ? STATUS_NO_SYM : STATUS_NO_LIB;
}
/* entry for unresolved slots: idx arrives in %r11 (set by the trampoline) */
__asm__(".text\n.type compat_missing,@function\ncompat_missing:\n\tmovl %r11d, %edi\n\tjmp compat_missing_report\n.size compat_missing, .-compat_missing\n");
extern char compat_missing[];

static void *open_real(void) {
  void *h = NULL; const char *p = getenv(ENV_VAR);
  if (p && *p && !(h = dlopen(p, RTLD_NOW | RTLD_LOCAL))) fprintf(stderr, "[cuda-compat] %s=%s: %s\n", ENV_VAR, p, dlerror());
  if (!h) { Dl_info di; /* next to this shim */
    if (dladdr((void *)&open_real, &di) && di.dli_fname && strchr(di.dli_fname, '/')) {
      char buf[4096]; size_t d = (size_t)(strrchr(di.dli_fname, '/') - di.dli_fname);
      if (d + sizeof REAL_SONAME + 1 < sizeof buf) { memcpy(buf, di.dli_fname, d); buf[d] = '/'; strcpy(buf + d + 1, REAL_SONAME); h = dlopen(buf, RTLD_NOW | RTLD_LOCAL); } } }
  if (!h && !(h = dlopen(REAL_SONAME, RTLD_NOW | RTLD_LOCAL)) && getenv("CUDA_COMPAT_VERBOSE"))
    fprintf(stderr, "[cuda-compat] cannot load %s: %s\n", REAL_SONAME, dlerror());
  return h;
}
__attribute__((constructor)) static void compat_init(void) {
  void *h = open_real(); int missing = 0; const char *v = getenv("CUDA_COMPAT_VERBOSE");
  compat_lib_ok = h != NULL;
  for (int i = 0; i < NSYMS; i++) {
    void *f = h ? dlsym(h, compat_names[i]) : NULL;
    if (!f) { missing++; if (h && v && atoi(v) >= 2) fprintf(stderr, "[cuda-compat] %s: no %s\n", REAL_SONAME, compat_names[i]); }
    compat_table[i] = f ? f : (void *)compat_missing;
  }
  if (v)
    fprintf(stderr, "[cuda-compat] %s: %d of %d symbols forwarded, %d missing\n", REAL_SONAME, NSYMS - missing, NSYMS, missing);
}
