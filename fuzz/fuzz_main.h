/*
 * fuzz_main.h — the libFuzzer entry point of a target, in one place.
 * A target defines `int zs_fuzz_NAME(const uint8_t *, size_t)` (the replay
 * tests include the target with ZS_FUZZ_NO_MAIN and call it directly) and
 * ends with
 *     #ifndef ZS_FUZZ_NO_MAIN
 *     ZS_FUZZ_MAIN(zs_fuzz_NAME)
 *     #endif
 * Targets that build networks from the input first add
 * ZS_FUZZ_ASAN_NULL_ON_HUGE: an allocation the input makes huge returns
 * NULL (the library must report ZS_ENOMEM) instead of aborting the run.
 */
#ifndef ZS_FUZZ_MAIN_H
#define ZS_FUZZ_MAIN_H
#include <stddef.h>
#include <stdint.h>

#define ZS_FUZZ_MAIN(fn)                                                  \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);         \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {        \
        fn(data, size);                                                   \
        return 0;                                                         \
    }

#define ZS_FUZZ_ASAN_NULL_ON_HUGE                                         \
    const char *__asan_default_options(void);                             \
    const char *__asan_default_options(void) {                            \
        return "allocator_may_return_null=1:max_allocation_size_mb=256"; \
    }

#endif
