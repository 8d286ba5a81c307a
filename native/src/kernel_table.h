// The per-ISA kernel table. Every kernel source is compiled once per ISA with NK_ISA_NAMESPACE set to that ISA's
// name (scalar, avx2, avx512), so the same code yields nk::scalar::, nk::avx2:: and nk::avx512:: functions;
// dispatch.cpp checks the C ABI's arguments and picks one table at run time.
#pragma once

#include <cstdint>

#include "normkit/normkit.h"

namespace nk {

// An activation as the kernels see it: (N, C, S) laid out as `layout`, S = product of spatial dims.
struct ncs_problem {
    int64_t n, c, s;
    nk_layout_t layout;
    double eps;
};
using instance_norm_problem = ncs_problem;
using batch_norm_problem = ncs_problem;

// Group norm: an activation with `groups` groups of c / groups consecutive channels.
struct group_norm_problem {
    ncs_problem x;
    int64_t groups;
};

// Layer norm: an activation whose statistics sets are `d` consecutive values in logical order (d divides s, or is
// c * s, or n * c * s; see nk_layer_norm_forward).
struct layer_norm_problem {
    ncs_problem x;
    int64_t d;
};

// Statistics given to the kernel (not computed by it): set (n, c) uses mean[n * n_stride + c] and
// var[n * n_stride + c]; n_stride is C for the (N, C) per-instance statistics, 0 for the (C) running statistics.
struct set_statistics {
    const float *mean;
    const float *var;
    int64_t n_stride;
};

// A weight-standardization problem: O filters of K contiguous values.
struct ws_problem {
    int64_t o, k;
    nk_ws_variant_t variant;
    double eps, gamma;
};

// A 3x3 convolution, stride 1, dilation 1, one group: x (n, c, h, w), weight (o, c, 3, 3), y (n, o, h + 2 * pad_h
// - 2, w + 2 * pad_w - 2), activations in `layout`.
struct winograd_problem {
    int64_t n, c, h, w, o, pad_h, pad_w;
    nk_layout_t layout;
};

struct kernel_table {
    const char *isa_name;
    void (*scale_shift)(const float *src, float *dst, int64_t n, float a, float b);
    void (*transpose_images)(const float *src, float *dst, int64_t n, int64_t rows, int64_t cols);

    void (*instance_norm_forward_training)(const instance_norm_problem &p, const float *src, const float *gamma,
                                           const float *beta, float *dst, float *mean, float *var);
    void (*instance_norm_forward_inference)(const instance_norm_problem &p, const float *src, const float *gamma,
                                            const float *beta, const set_statistics &stats, float *dst);
    // With constant_stats, diff_src = diff_dst * gamma * rstd (evaluation mode); otherwise the training gradient.
    // diff_gamma/diff_beta may be null.
    void (*instance_norm_backward)(const instance_norm_problem &p, const float *src, const float *diff_dst,
                                   const float *gamma, const set_statistics &stats, bool constant_stats,
                                   float *diff_src, float *diff_gamma, float *diff_beta);

    void (*batch_norm_forward_training)(const batch_norm_problem &p, const float *src, const float *gamma,
                                        const float *beta, float *dst, float *mean, float *var);
    void (*batch_norm_forward_inference)(const batch_norm_problem &p, const float *src, const float *gamma,
                                         const float *beta, const float *mean, const float *var, float *dst);
    // With constant_stats, diff_src = diff_dst * gamma * rstd (evaluation mode); otherwise the training gradient.
    void (*batch_norm_backward)(const batch_norm_problem &p, const float *src, const float *diff_dst,
                                const float *gamma, const float *mean, const float *var, bool constant_stats,
                                float *diff_src, float *diff_gamma, float *diff_beta);

    void (*group_norm_forward)(const group_norm_problem &p, const float *src, const float *gamma, const float *beta,
                               float *dst, float *mean, float *var);
    void (*group_norm_backward)(const group_norm_problem &p, const float *src, const float *diff_dst,
                                const float *gamma, const float *mean, const float *var, float *diff_src,
                                float *diff_gamma, float *diff_beta);

    void (*layer_norm_forward)(const layer_norm_problem &p, const float *src, const float *gamma, const float *beta,
                               float *dst, float *mean, float *var);
    void (*layer_norm_backward)(const layer_norm_problem &p, const float *src, const float *diff_dst,
                                const float *gamma, const float *mean, const float *var, float *diff_src,
                                float *diff_gamma, float *diff_beta);

    void (*ws_forward)(const ws_problem &p, const float *src, const float *gain, float *dst, float *mean,
                       float *rstd);
    void (*ws_backward)(const ws_problem &p, const float *src, const float *diff_dst, const float *gain,
                        const float *mean, const float *rstd, float *diff_src, float *diff_gain);

    // backward_data: src is dy, dst dx, and bias null (winograd.cpp)
    void (*winograd_forward)(const winograd_problem &p, const float *src, const float *weight, const float *bias,
                             float *dst, bool backward_data);
    void (*winograd_backward_weights)(const winograd_problem &p, const float *src, const float *diff_dst,
                                      float *diff_weight, float *diff_bias);
};

namespace scalar { const kernel_table &kernels(); }
namespace avx2 { const kernel_table &kernels(); }
namespace avx512 { const kernel_table &kernels(); }

}  // namespace nk
