// The C ABI: argument checks (a last line of defence behind Java's validation) and dispatch to the kernel
// table of the widest ISA the CPU supports, capped by nk_set_max_isa. No exception leaves an ABI function: each
// runs its kernel inside guarded(), which maps bad_alloc to NK_OUT_OF_MEMORY and anything else to
// NK_RUNTIME_ERROR.
#include <atomic>

#include <omp.h>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <new>

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

// Every dim is non-negative and the element count (and its byte size) fits an int64_t; the count goes to *total.
bool valid_dims(std::initializer_list<int64_t> dims, int64_t *total) {
    int64_t t = 1;
    for (int64_t d : dims) {
        if (d < 0 || __builtin_mul_overflow(t, d, &t)) return false;
    }
    if (t > INT64_MAX / static_cast<int64_t>(sizeof(float))) return false;
    *total = t;
    return true;
}

bool valid_eps(double eps) { return eps > 0 && std::isfinite(eps); }

bool valid_layout(nk_layout_t layout) {
    return layout == NK_LAYOUT_CHANNELS_FIRST || layout == NK_LAYOUT_CHANNELS_LAST;
}

bool all_given(std::initializer_list<const void *> pointers) {
    for (const void *ptr : pointers) {
        if (ptr == nullptr) return false;
    }
    return true;
}

template <class F>
nk_status_t guarded(F run) noexcept {
    try {
        run();
        return NK_SUCCESS;
    } catch (const std::bad_alloc &) {
        return NK_OUT_OF_MEMORY;
    } catch (...) {
        return NK_RUNTIME_ERROR;
    }
}

// The checks every activation entry point (instance, batch, group, layer norm) shares: dims, layout, eps. *empty tells that there is nothing to do.
bool valid_activation(int64_t n, int64_t c, int64_t s, nk_layout_t layout, double eps, bool *empty) {
    int64_t total = 0;
    if (!valid_dims({n, c, s}, &total) || !valid_layout(layout) || !valid_eps(eps)) return false;
    *empty = total == 0;
    return true;
}

nk_status_t instance_norm_backward(const float *src, const float *diff_dst, const float *gamma, const float *mean,
                                   const float *var, float *diff_src, float *diff_gamma, float *diff_beta, int64_t n,
                                   int64_t c, int64_t s, nk_layout_t layout, double eps, bool running_stats) {
    bool empty = false;
    if (!valid_activation(n, c, s, layout, eps, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, diff_dst, mean, var, diff_src})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        const nk::set_statistics stats{mean, var, running_stats ? 0 : c};
        table().instance_norm_backward({n, c, s, layout, eps}, src, diff_dst, gamma, stats, running_stats, diff_src,
                                       diff_gamma, diff_beta);
    });
}

nk_status_t batch_norm_backward(const float *src, const float *diff_dst, const float *gamma, const float *mean,
                                const float *var, float *diff_src, float *diff_gamma, float *diff_beta, int64_t n,
                                int64_t c, int64_t s, nk_layout_t layout, double eps, bool global_stats) {
    bool empty = false;
    if (!valid_activation(n, c, s, layout, eps, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, diff_dst, mean, var, diff_src})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        table().batch_norm_backward({n, c, s, layout, eps}, src, diff_dst, gamma, mean, var, global_stats, diff_src,
                                    diff_gamma, diff_beta);
    });
}

// The checks of the group-norm entry points: an activation's, and groups >= 1 dividing C.
bool valid_group_norm(int64_t n, int64_t c, int64_t s, int64_t groups, nk_layout_t layout, double eps, bool *empty) {
    return valid_activation(n, c, s, layout, eps, empty) && groups >= 1 && c % groups == 0;
}

// The checks of the layer-norm entry points: an activation's, and d >= 1 one of S's divisors, C * S or N * C * S.
bool valid_layer_norm(int64_t n, int64_t c, int64_t s, int64_t d, nk_layout_t layout, double eps, bool *empty) {
    if (!valid_activation(n, c, s, layout, eps, empty) || d < 1) return false;
    return *empty || (s % d == 0) || d == c * s || d == n * c * s;
}

// The checks both weight-standardization entry points share. *empty tells that there is nothing to do.
bool valid_ws(int64_t o, int64_t k, nk_ws_variant_t variant, double eps, double gamma, const float *gain,
              const float *diff_gain, bool *empty) {
    int64_t total = 0;
    if (!valid_dims({o, k}, &total) || !valid_eps(eps) || !std::isfinite(gamma)) return false;
    if (variant != NK_WS_SEED && variant != NK_WS_BATCH_NORM_STYLE && variant != NK_WS_SCALED) return false;
    if (variant != NK_WS_SCALED && (gain != nullptr || diff_gain != nullptr)) return false;
    *empty = total == 0;
    return *empty || variant != NK_WS_SEED || k >= 2;  // SEED's unbiased std needs K >= 2
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

nk_status_t nk_set_num_threads(int32_t threads) {
    if (threads < 1) return NK_INVALID_ARGUMENTS;
    omp_set_num_threads(threads);
    return NK_SUCCESS;
}

int32_t nk_get_max_threads(void) { return omp_get_max_threads(); }

nk_status_t nk_scale_shift(const float *src, float *dst, int64_t n, float a, float b) {
    if (n < 0 || (n > 0 && (src == nullptr || dst == nullptr))) return NK_INVALID_ARGUMENTS;
    table().scale_shift(src, dst, n, a, b);
    return NK_SUCCESS;
}

nk_status_t nk_transpose_images(const float *src, float *dst, int64_t n, int64_t rows, int64_t cols) {
    int64_t total = 0;
    if (!valid_dims({n, rows, cols}, &total)) return NK_INVALID_ARGUMENTS;
    if (total == 0) return NK_SUCCESS;
    if (!all_given({src, dst})) return NK_INVALID_ARGUMENTS;
    const uintptr_t from = reinterpret_cast<uintptr_t>(src), to = reinterpret_cast<uintptr_t>(dst);
    const uintptr_t bytes = static_cast<uintptr_t>(total) * sizeof(float);
    if (from < to + bytes && to < from + bytes) return NK_INVALID_ARGUMENTS;  // overlapping
    return guarded([&] { table().transpose_images(src, dst, n, rows, cols); });
}

nk_status_t nk_instance_norm_forward_training(const float *src, float *dst, const float *gamma, const float *beta,
                                              float *mean, float *var, int64_t n, int64_t c, int64_t s,
                                              nk_layout_t layout, double eps) {
    bool empty = false;
    if (!valid_activation(n, c, s, layout, eps, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, dst, mean, var})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        table().instance_norm_forward_training({n, c, s, layout, eps}, src, gamma, beta, dst, mean, var);
    });
}

nk_status_t nk_instance_norm_forward_inference(const float *src, float *dst, const float *gamma, const float *beta,
                                               const float *running_mean, const float *running_var, int64_t n,
                                               int64_t c, int64_t s, nk_layout_t layout, double eps) {
    bool empty = false;
    if (!valid_activation(n, c, s, layout, eps, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, dst, running_mean, running_var})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        table().instance_norm_forward_inference({n, c, s, layout, eps}, src, gamma, beta,
                                                {running_mean, running_var, 0}, dst);
    });
}

nk_status_t nk_instance_norm_backward(const float *src, const float *diff_dst, const float *gamma,
                                      const float *mean, const float *var, float *diff_src, float *diff_gamma,
                                      float *diff_beta, int64_t n, int64_t c, int64_t s, nk_layout_t layout,
                                      double eps) {
    return instance_norm_backward(src, diff_dst, gamma, mean, var, diff_src, diff_gamma, diff_beta, n, c, s, layout,
                                  eps, false);
}

nk_status_t nk_instance_norm_backward_running_stats(const float *src, const float *diff_dst, const float *gamma,
                                                    const float *running_mean, const float *running_var,
                                                    float *diff_src, float *diff_gamma, float *diff_beta, int64_t n,
                                                    int64_t c, int64_t s, nk_layout_t layout, double eps) {
    return instance_norm_backward(src, diff_dst, gamma, running_mean, running_var, diff_src, diff_gamma, diff_beta, n,
                                  c, s, layout, eps, true);
}

nk_status_t nk_batch_norm_forward_training(const float *src, float *dst, const float *gamma, const float *beta,
                                           float *mean, float *var, int64_t n, int64_t c, int64_t s,
                                           nk_layout_t layout, double eps) {
    bool empty = false;
    if (!valid_activation(n, c, s, layout, eps, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, dst, mean, var})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        table().batch_norm_forward_training({n, c, s, layout, eps}, src, gamma, beta, dst, mean, var);
    });
}

nk_status_t nk_batch_norm_forward_inference(const float *src, float *dst, const float *gamma, const float *beta,
                                            const float *mean, const float *var, int64_t n, int64_t c, int64_t s,
                                            nk_layout_t layout, double eps) {
    bool empty = false;
    if (!valid_activation(n, c, s, layout, eps, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, dst, mean, var})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        table().batch_norm_forward_inference({n, c, s, layout, eps}, src, gamma, beta, mean, var, dst);
    });
}

nk_status_t nk_batch_norm_backward(const float *src, const float *diff_dst, const float *gamma, const float *mean,
                                   const float *var, float *diff_src, float *diff_gamma, float *diff_beta, int64_t n,
                                   int64_t c, int64_t s, nk_layout_t layout, double eps) {
    return batch_norm_backward(src, diff_dst, gamma, mean, var, diff_src, diff_gamma, diff_beta, n, c, s, layout, eps,
                               false);
}

nk_status_t nk_batch_norm_backward_global_stats(const float *src, const float *diff_dst, const float *gamma,
                                                const float *mean, const float *var, float *diff_src,
                                                float *diff_gamma, float *diff_beta, int64_t n, int64_t c, int64_t s,
                                                nk_layout_t layout, double eps) {
    return batch_norm_backward(src, diff_dst, gamma, mean, var, diff_src, diff_gamma, diff_beta, n, c, s, layout, eps,
                               true);
}

nk_status_t nk_group_norm_forward(const float *src, float *dst, const float *gamma, const float *beta, float *mean,
                                  float *var, int64_t n, int64_t c, int64_t s, int64_t groups, nk_layout_t layout,
                                  double eps) {
    bool empty = false;
    if (!valid_group_norm(n, c, s, groups, layout, eps, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, dst, mean, var})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        table().group_norm_forward({{n, c, s, layout, eps}, groups}, src, gamma, beta, dst, mean, var);
    });
}

nk_status_t nk_group_norm_backward(const float *src, const float *diff_dst, const float *gamma, const float *mean,
                                   const float *var, float *diff_src, float *diff_gamma, float *diff_beta, int64_t n,
                                   int64_t c, int64_t s, int64_t groups, nk_layout_t layout, double eps) {
    bool empty = false;
    if (!valid_group_norm(n, c, s, groups, layout, eps, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, diff_dst, mean, var, diff_src})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        table().group_norm_backward({{n, c, s, layout, eps}, groups}, src, diff_dst, gamma, mean, var, diff_src,
                                    diff_gamma, diff_beta);
    });
}

nk_status_t nk_layer_norm_forward(const float *src, float *dst, const float *gamma, const float *beta, float *mean,
                                  float *var, int64_t n, int64_t c, int64_t s, int64_t d, nk_layout_t layout,
                                  double eps) {
    bool empty = false;
    if (!valid_layer_norm(n, c, s, d, layout, eps, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, dst, mean, var}) || (gamma == nullptr) != (beta == nullptr)) return NK_INVALID_ARGUMENTS;
    return guarded([&] { table().layer_norm_forward({{n, c, s, layout, eps}, d}, src, gamma, beta, dst, mean, var); });
}

nk_status_t nk_layer_norm_backward(const float *src, const float *diff_dst, const float *gamma, const float *mean,
                                   const float *var, float *diff_src, float *diff_gamma, float *diff_beta, int64_t n,
                                   int64_t c, int64_t s, int64_t d, nk_layout_t layout, double eps) {
    bool empty = false;
    if (!valid_layer_norm(n, c, s, d, layout, eps, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, diff_dst, mean, var, diff_src})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        table().layer_norm_backward({{n, c, s, layout, eps}, d}, src, diff_dst, gamma, mean, var, diff_src,
                                    diff_gamma, diff_beta);
    });
}

nk_status_t nk_weight_standardization_forward(const float *src, float *dst, float *mean, float *rstd,
                                              const float *gain, int64_t o, int64_t k, nk_ws_variant_t variant,
                                              double eps, double gamma) {
    bool empty = false;
    if (!valid_ws(o, k, variant, eps, gamma, gain, nullptr, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, dst, mean, rstd})) return NK_INVALID_ARGUMENTS;
    return guarded([&] { table().ws_forward({o, k, variant, eps, gamma}, src, gain, dst, mean, rstd); });
}

nk_status_t nk_weight_standardization_backward(const float *src, const float *diff_dst, const float *gain,
                                               const float *mean, const float *rstd, float *diff_src,
                                               float *diff_gain, int64_t o, int64_t k, nk_ws_variant_t variant,
                                               double eps, double gamma) {
    bool empty = false;
    if (!valid_ws(o, k, variant, eps, gamma, gain, diff_gain, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, diff_dst, mean, rstd, diff_src})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        table().ws_backward({o, k, variant, eps, gamma}, src, diff_dst, gain, mean, rstd, diff_src, diff_gain);
    });
}

}  // extern "C"

namespace {

// The checks of the Winograd entry points: dims whose activations and 3x3 weight fit an int64_t, an output of at
// least 1x1, padding in [0, 2] (backward data pads dy by 2 - pad), a layout. *empty: nothing to compute.
bool valid_winograd(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t pad_h, int64_t pad_w,
                    nk_layout_t layout, bool *empty) {
    int64_t total = 0;
    if (!valid_dims({n, c, h, w}, &total) || !valid_dims({n, o, h, w}, &total) || !valid_dims({o, c, 9}, &total) ||
        !valid_layout(layout) || pad_h < 0 || pad_h > 2 || pad_w < 0 || pad_w > 2 || h + 2 * pad_h - 2 < 1 ||
        w + 2 * pad_w - 2 < 1) {
        return false;
    }
    *empty = n == 0 || c == 0 || o == 0;
    return true;
}

}  // namespace

nk_status_t nk_winograd_conv_forward(const float *src, const float *weight, const float *bias, float *dst,
                                     int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t pad_h,
                                     int64_t pad_w, nk_layout_t layout) {
    bool empty = false;
    if (!valid_winograd(n, c, h, w, o, pad_h, pad_w, layout, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, weight, dst})) return NK_INVALID_ARGUMENTS;
    return guarded([&] { table().winograd_forward({n, c, h, w, o, pad_h, pad_w, layout}, src, weight, bias, dst, false); });
}

nk_status_t nk_winograd_conv_backward_data(const float *diff_dst, const float *weight, float *diff_src, int64_t n,
                                           int64_t c, int64_t h, int64_t w, int64_t o, int64_t pad_h, int64_t pad_w,
                                           nk_layout_t layout) {
    bool empty = false;
    if (!valid_winograd(n, c, h, w, o, pad_h, pad_w, layout, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({diff_dst, weight, diff_src})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        table().winograd_forward({n, c, h, w, o, pad_h, pad_w, layout}, diff_dst, weight, nullptr, diff_src, true);
    });
}

nk_status_t nk_winograd_conv_backward_weights(const float *src, const float *diff_dst, float *diff_weight,
                                              float *diff_bias, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o,
                                              int64_t pad_h, int64_t pad_w, nk_layout_t layout) {
    bool empty = false;
    if (!valid_winograd(n, c, h, w, o, pad_h, pad_w, layout, &empty)) return NK_INVALID_ARGUMENTS;
    if (empty) return NK_SUCCESS;
    if (!all_given({src, diff_dst, diff_weight})) return NK_INVALID_ARGUMENTS;
    return guarded([&] {
        table().winograd_backward_weights({n, c, h, w, o, pad_h, pad_w, layout}, src, diff_dst, diff_weight, diff_bias);
    });
}
