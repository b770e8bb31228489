/*
 * registry.c — the kernel table: one zs_kernels per ISA, filled from
 * ZS_KERNEL_LIST, and the listing behind `zeroskip info --kernels`.
 * Read-only static data: thread-safe.
 */
#include "kernels.h"

#define K_SCALAR_(name, type, desc) .name = zs_##name##__scalar,
#define K_AVX2_(name, type, desc) .name = zs_##name##__avx2,
#define K_AVX512_(name, type, desc) .name = zs_##name##__avx512,

static const zs_kernels table[3] = {
    {.isa = ZS_ISA_SCALAR, ZS_KERNEL_LIST(K_SCALAR_) ZS_KERNEL_LIST_SCALAR(K_SCALAR_)},
    {.isa = ZS_ISA_AVX2, ZS_KERNEL_LIST(K_AVX2_) ZS_KERNEL_LIST_SCALAR(K_SCALAR_)},
    {.isa = ZS_ISA_AVX512, ZS_KERNEL_LIST(K_AVX512_) ZS_KERNEL_LIST_SCALAR(K_SCALAR_)},
};

const zs_kernels *zs_kernels_get(zs_isa isa) {
    zs_isa cpu = zs_isa_cpu();
    if ((int)isa > (int)cpu) isa = cpu;
    if ((int)isa < 0) isa = ZS_ISA_SCALAR;
    return &table[isa];
}

const zs_kernels *zs_kernels_active(void) { return zs_kernels_get(zs_isa_active()); }

void zs_kernels_list(FILE *f) {
    zs_isa act = zs_isa_active(), cpu = zs_isa_cpu();
    fprintf(f, "kernel ISA: %s (CPU supports up to %s; ZS_ISA=scalar|avx2|avx512 lowers it)\n",
            zs_isa_name(act), zs_isa_name(cpu));
    fprintf(f, "%-18s %-32s %s\n", "family", "in use", "what");
    char fn[96];
#define L_(name, type, desc, isa)                                                                  \
    snprintf(fn, sizeof fn, "zs_%s__%s", #name, zs_isa_name(isa));                              \
    fprintf(f, "%-18s %-32s %s\n", #name, fn, desc);
#define LI_(name, type, desc) L_(name, type, desc, act)
#define LS_(name, type, desc) L_(name, type, desc, ZS_ISA_SCALAR)
    ZS_KERNEL_LIST(LI_)
    ZS_KERNEL_LIST_SCALAR(LS_)
#undef LI_
#undef LS_
#undef L_
}
