// The C ABI: argument checks (a last line of defence behind Java's validation) and dispatch to the kernel
// table of the widest ISA the CPU supports, capped by nk_set_max_isa.
#include <atomic>

#include "kernel_table.h"
#include "normkit/normkit.h"

namespace {

nk_isa_t detect_cpu_isa() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return NK_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return NK_ISA_AVX2;
    return NK_ISA_SCALAR;
}

const nk_isa_t cpu_isa = detect_cpu_isa();
std::atomic<int> current_isa{static_cast<int>(cpu_isa)};

const nk::kernel_table &table() {
    switch (static_cast<nk_isa_t>(current_isa.load(std::memory_order_relaxed))) {
        case NK_ISA_AVX512: return nk::avx512::kernels();
        case NK_ISA_AVX2: return nk::avx2::kernels();
        default: return nk::scalar::kernels();
    }
}

}  // namespace

extern "C" {

const char *nk_version(void) { return NORMKIT_VERSION; }

const char *nk_status_string(nk_status_t status) {
    switch (status) {
        case NK_SUCCESS: return "success";
        case NK_INVALID_ARGUMENTS: return "invalid arguments";
        case NK_UNSUPPORTED: return "unsupported";
        case NK_OUT_OF_MEMORY: return "out of memory";
        case NK_RUNTIME_ERROR: return "runtime error";
    }
    return "unknown status";
}

nk_isa_t nk_get_isa(void) { return static_cast<nk_isa_t>(current_isa.load()); }

nk_isa_t nk_get_cpu_isa(void) { return cpu_isa; }

nk_status_t nk_set_max_isa(nk_isa_t max_isa, nk_isa_t *effective) {
    if (max_isa < NK_ISA_SCALAR || max_isa > NK_ISA_AVX512) return NK_INVALID_ARGUMENTS;
    nk_isa_t isa = max_isa < cpu_isa ? max_isa : cpu_isa;
    current_isa.store(static_cast<int>(isa));
    if (effective) *effective = isa;
    return NK_SUCCESS;
}

nk_status_t nk_scale_shift(const float *src, float *dst, int64_t n, float a, float b) {
    if (n < 0 || (n > 0 && (src == nullptr || dst == nullptr))) return NK_INVALID_ARGUMENTS;
    table().scale_shift(src, dst, n, a, b);
    return NK_SUCCESS;
}

}  // extern "C"
