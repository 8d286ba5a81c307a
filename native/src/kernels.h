// Declarations of the kernels of one ISA variant (inside namespace nk::NK_ISA_NAMESPACE); the contracts are those
// of the kernel_table members (kernel_table.h) and, behind them, of the C ABI (normkit/normkit.h).
#pragma once

#include <cstdint>

#include "kernel_table.h"

#ifndef NK_ISA_NAMESPACE
#error "compile kernel sources through normkit_add_isa_variant, which defines NK_ISA_NAMESPACE"
#endif

namespace nk {
namespace NK_ISA_NAMESPACE {

void scale_shift(const float *src, float *dst, int64_t n, float a, float b);
void transpose_images(const float *src, float *dst, int64_t n, int64_t rows, int64_t cols);

void instance_norm_forward_training(const instance_norm_problem &p, const float *src, const float *gamma,
                                    const float *beta, float *dst, float *mean, float *var);
void instance_norm_forward_inference(const instance_norm_problem &p, const float *src, const float *gamma,
                                     const float *beta, const set_statistics &stats, float *dst);
void instance_norm_backward(const instance_norm_problem &p, const float *src, const float *diff_dst,
                            const float *gamma, const set_statistics &stats, bool constant_stats, float *diff_src,
                            float *diff_gamma, float *diff_beta);

void batch_norm_forward_training(const batch_norm_problem &p, const float *src, const float *gamma,
                                 const float *beta, float *dst, float *mean, float *var);
void batch_norm_forward_inference(const batch_norm_problem &p, const float *src, const float *gamma,
                                  const float *beta, const float *mean, const float *var, float *dst);
void batch_norm_backward(const batch_norm_problem &p, const float *src, const float *diff_dst, const float *gamma,
                         const float *mean, const float *var, bool constant_stats, float *diff_src,
                         float *diff_gamma, float *diff_beta);

void group_norm_forward(const group_norm_problem &p, const float *src, const float *gamma, const float *beta,
                        float *dst, float *mean, float *var);
void group_norm_backward(const group_norm_problem &p, const float *src, const float *diff_dst, const float *gamma,
                         const float *mean, const float *var, float *diff_src, float *diff_gamma, float *diff_beta);

void layer_norm_forward(const layer_norm_problem &p, const float *src, const float *gamma, const float *beta,
                        float *dst, float *mean, float *var);
void layer_norm_backward(const layer_norm_problem &p, const float *src, const float *diff_dst, const float *gamma,
                         const float *mean, const float *var, float *diff_src, float *diff_gamma, float *diff_beta);

void ws_forward(const ws_problem &p, const float *src, const float *gain, float *dst, float *mean, float *rstd);
void ws_backward(const ws_problem &p, const float *src, const float *diff_dst, const float *gain,
                 const float *mean, const float *rstd, float *diff_src, float *diff_gain);
void winograd_forward(const winograd_problem &p, const float *src, const float *weight, const float *bias,
                      float *dst, bool backward_data);
void winograd_backward_weights(const winograd_problem &p, const float *src, const float *diff_dst,
                               float *diff_weight, float *diff_bias);

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
