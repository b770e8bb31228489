/* cpu.c — CPU feature detection (once) and the ZS_ISA override. */
#include "zs_internal.h"
#include <stdatomic.h>
#include <stdio.h>

static atomic_int cpu_isa = -1;

zs_isa zs_isa_cpu(void) {
    int v = atomic_load(&cpu_isa);
    if (v >= 0) return (zs_isa)v;
    v = ZS_ISA_SCALAR;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    /* exactly the features the ISA files are compiled for (Makefile
     * AVX2_FLAGS / AVX512_FLAGS): a VM that hides one gets the lower set.
     * (Names clang 14's __builtin_cpu_supports knows: the fuzz, TSan and
     * ASan builds use clang.) */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("popcnt"))
        v = ZS_ISA_AVX2;
    if (v == ZS_ISA_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        v = ZS_ISA_AVX512;
#endif
    atomic_store(&cpu_isa, v);
    return (zs_isa)v;
}

static atomic_int cpu_vnni = -1;

int zs_cpu_avx512_vnni(void) {
    int v = atomic_load(&cpu_vnni);
    if (v >= 0) return v;
    v = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    v = zs_isa_cpu() == ZS_ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
#endif
    atomic_store(&cpu_vnni, v);
    return v;
}

zs_isa zs_isa_active(void) {
    zs_isa cpu = zs_isa_cpu();
    const char *e = getenv("ZS_ISA");
    if (!e || !*e) return cpu;
    zs_isa want = cpu;
    if (!strcmp(e, "scalar")) want = ZS_ISA_SCALAR;
    else if (!strcmp(e, "avx2")) want = ZS_ISA_AVX2;
    else if (!strcmp(e, "avx512")) want = ZS_ISA_AVX512;
    return want < cpu ? want : cpu;
}

const char *zs_isa_name(zs_isa isa) {
    switch (isa) {
    case ZS_ISA_SCALAR: return "scalar";
    case ZS_ISA_AVX2: return "avx2";
    case ZS_ISA_AVX512: return "avx512";
    }
    return "?";
}
