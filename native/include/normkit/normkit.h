/*
 * normkit's own kernels: the C ABI.
 *
 * Conventions (after oneDNN's C API):
 *  - every function returns an nk_status_t; NK_SUCCESS is 0;
 *  - tensors are float32 and passed as `src` / `dst` (and `diff_src`, `diff_dst` for gradients) with their
 *    logical dims as int64_t; the memory layout is named by nk_layout_t;
 *  - the Java side validates every argument before calling; the checks done here again are a last line of
 *    defence and answer NK_INVALID_ARGUMENTS rather than read out of bounds;
 *  - kernels run on the OpenMP runtime shared with oneDNN (the dnnl preset's libgomp.so.1).
 */
#ifndef NORMKIT_NORMKIT_H
#define NORMKIT_NORMKIT_H

#include <stdint.h>

#if defined(_WIN32)
#define NK_API __declspec(dllexport)
#else
#define NK_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nk_status {
    NK_SUCCESS = 0,
    NK_INVALID_ARGUMENTS = 1,
    NK_UNSUPPORTED = 2,
    NK_OUT_OF_MEMORY = 3,
    NK_RUNTIME_ERROR = 4
} nk_status_t;

/* Instruction sets the kernels are compiled for; the widest one the CPU supports is used. */
typedef enum nk_isa {
    NK_ISA_SCALAR = 0, /* x86-64 baseline (SSE2) */
    NK_ISA_AVX2 = 1,   /* AVX2 + FMA */
    NK_ISA_AVX512 = 2  /* AVX-512 F/BW/DQ/VL, 512-bit vectors */
} nk_isa_t;

/* Memory layout of a tensor of logical shape (N, C, *spatial). */
typedef enum nk_layout {
    NK_LAYOUT_CHANNELS_FIRST = 0, /* NCHW, NCDHW, NCL: contiguous in logical order */
    NK_LAYOUT_CHANNELS_LAST = 1   /* NHWC, NDHWC, NLC */
} nk_layout_t;

/* The library's version, e.g. "0.1.0". */
NK_API const char *nk_version(void);

/* A short English description of a status code. */
NK_API const char *nk_status_string(nk_status_t status);

/* The ISA the kernels currently run with. */
NK_API nk_isa_t nk_get_isa(void);

/* Caps the ISA (to exercise every code path on one machine); the effective ISA is the smaller of `max_isa` and
 * what the CPU supports, and is returned in *effective. */
NK_API nk_status_t nk_set_max_isa(nk_isa_t max_isa, nk_isa_t *effective);

/* The ISA the CPU supports best, whatever the cap. */
NK_API nk_isa_t nk_get_cpu_isa(void);

/* Sets how many OpenMP threads the parallel regions started from the calling thread use, oneDNN's and ours alike
 * (omp_set_num_threads: the setting belongs to the calling thread). threads >= 1. */
NK_API nk_status_t nk_set_num_threads(int32_t threads);

/* The number of OpenMP threads a parallel region started from the calling thread would use (omp_get_max_threads). */
NK_API int32_t nk_get_max_threads(void);

/* Streaming probe: dst[i] = a * src[i] + b for i < n. The memory-bandwidth yardstick of the benchmarks. */
NK_API nk_status_t nk_scale_shift(const float *src, float *dst, int64_t n, float a, float b);

/* Layout change of activations: each of n images, a rows x cols matrix at src, is written transposed at dst
 * (dst[k][j][i] = src[k][i][j]). An (N, C, S) tensor goes from channels-first to channels-last with rows = C and
 * cols = S, and back with rows = S and cols = C. src and dst must not overlap. */
NK_API nk_status_t nk_transpose_images(const float *src, float *dst, int64_t n, int64_t rows, int64_t cols);

/* ---------------------------------------------------------------------------------------- instance norm
 *
 * src, dst, diff_dst and diff_src have logical shape (N, C, *spatial), laid out as `layout`; S is the product of
 * the spatial dims (1-D to 3-D spatial all look the same: (N, C, S)). Per-instance statistics `mean` and `var`
 * have shape (N, C), index n * C + c; running statistics, gamma and beta have shape (C). gamma and beta are
 * optional (NULL means 1 and 0). var is the biased variance; rstd = 1 / sqrt(var + eps). An empty tensor (N, C or
 * S zero) is a no-op. Running-statistics updates are the caller's (normkit does them in Java).
 */

/* Training forward: per (n, c), mean and biased var over S values; dst = (src - mean) * rstd * gamma + beta.
 * Writes dst, mean and var. A NaN in a set makes that set's outputs NaN. */
NK_API nk_status_t nk_instance_norm_forward_training(const float *src, float *dst, const float *gamma,
                                                     const float *beta, float *mean, float *var, int64_t n,
                                                     int64_t c, int64_t s, nk_layout_t layout, double eps);

/* Inference forward from (C) running statistics: dst = (src - running_mean) / sqrt(running_var + eps) * gamma +
 * beta. */
NK_API nk_status_t nk_instance_norm_forward_inference(const float *src, float *dst, const float *gamma,
                                                      const float *beta, const float *running_mean,
                                                      const float *running_var, int64_t n, int64_t c, int64_t s,
                                                      nk_layout_t layout, double eps);

/* Training backward from the (N, C) statistics saved by the forward pass. Per set of S values, with
 * xhat = (src - mean) * rstd and g = diff_dst * gamma:
 *   diff_src = rstd / S * (S * g - sum(g) - xhat * sum(g * xhat)),
 *   diff_gamma[c] = sum over n and S of diff_dst * xhat, diff_beta[c] = sum over n and S of diff_dst.
 * diff_gamma and diff_beta are optional (NULL: not computed). */
NK_API nk_status_t nk_instance_norm_backward(const float *src, const float *diff_dst, const float *gamma,
                                             const float *mean, const float *var, float *diff_src,
                                             float *diff_gamma, float *diff_beta, int64_t n, int64_t c, int64_t s,
                                             nk_layout_t layout, double eps);

/* Backward with constant (C) running statistics (evaluation mode): diff_src = diff_dst * gamma * rstd,
 * diff_gamma[c] = sum of diff_dst * xhat, diff_beta[c] = sum of diff_dst (both optional). */
NK_API nk_status_t nk_instance_norm_backward_running_stats(const float *src, const float *diff_dst,
                                                           const float *gamma, const float *running_mean,
                                                           const float *running_var, float *diff_src,
                                                           float *diff_gamma, float *diff_beta, int64_t n,
                                                           int64_t c, int64_t s, nk_layout_t layout, double eps);

/* ------------------------------------------------------------------------------------------- batch norm
 *
 * src, dst, diff_dst and diff_src have logical shape (N, C, *spatial), laid out as `layout`, seen as (N, C, S).
 * One statistics set per channel c over its N * S values. mean, var, gamma, beta, diff_gamma and diff_beta have
 * shape (C); gamma and beta are optional (NULL means 1 and 0). var is the biased variance; rstd = 1 / sqrt(var +
 * eps). An empty tensor is a no-op. Running statistics are the caller's. Results are reproducible for a given
 * thread count; statistics and parameter gradients accumulate in double.
 */

/* Training forward: per channel, mean and biased var; dst = (src - mean) * rstd * gamma + beta. Writes dst, mean
 * and var. A NaN in a channel makes that channel's outputs NaN. */
NK_API nk_status_t nk_batch_norm_forward_training(const float *src, float *dst, const float *gamma, const float *beta,
                                                  float *mean, float *var, int64_t n, int64_t c, int64_t s,
                                                  nk_layout_t layout, double eps);

/* Inference forward from given (C) statistics: dst = (src - mean) * rstd * gamma + beta. */
NK_API nk_status_t nk_batch_norm_forward_inference(const float *src, float *dst, const float *gamma,
                                                   const float *beta, const float *mean, const float *var, int64_t n,
                                                   int64_t c, int64_t s, nk_layout_t layout, double eps);

/* Training backward from the batch statistics the forward pass wrote. Per channel, with xhat = (src - mean) * rstd,
 * g = diff_dst * gamma and n = N * S:
 *   diff_src = rstd / n * (n * g - sum(g) - xhat * sum(g * xhat)),
 *   diff_gamma = sum(diff_dst * xhat), diff_beta = sum(diff_dst) (both optional: NULL is not computed). */
NK_API nk_status_t nk_batch_norm_backward(const float *src, const float *diff_dst, const float *gamma,
                                          const float *mean, const float *var, float *diff_src, float *diff_gamma,
                                          float *diff_beta, int64_t n, int64_t c, int64_t s, nk_layout_t layout,
                                          double eps);

/* Backward with constant (global, running) statistics: diff_src = diff_dst * gamma * rstd; diff_gamma and
 * diff_beta (optional) as above. src is read only for diff_gamma. */
NK_API nk_status_t nk_batch_norm_backward_global_stats(const float *src, const float *diff_dst, const float *gamma,
                                                       const float *mean, const float *var, float *diff_src,
                                                       float *diff_gamma, float *diff_beta, int64_t n, int64_t c,
                                                       int64_t s, nk_layout_t layout, double eps);

/* ------------------------------------------------------------------------------------------- group norm
 *
 * As batch norm's tensors, with C split into `groups` groups of C / groups consecutive channels (groups >= 1 divides
 * C). One statistics set per (n, g) over the group's channels and S; mean and var have shape (N, groups), index
 * n * groups + g; gamma, beta, diff_gamma, diff_beta are per channel, shape (C).
 */

/* Forward: writes dst = (src - mean[n, g]) * rstd[n, g] * gamma[c] + beta[c], mean and var (biased). */
NK_API nk_status_t nk_group_norm_forward(const float *src, float *dst, const float *gamma, const float *beta,
                                         float *mean, float *var, int64_t n, int64_t c, int64_t s, int64_t groups,
                                         nk_layout_t layout, double eps);

/* Backward from the forward's statistics: diff_src as batch norm's training backward over each (n, g) set;
 * diff_gamma[c] = sum over N and S of diff_dst * xhat, diff_beta[c] = sum of diff_dst (optional). */
NK_API nk_status_t nk_group_norm_backward(const float *src, const float *diff_dst, const float *gamma,
                                          const float *mean, const float *var, float *diff_src, float *diff_gamma,
                                          float *diff_beta, int64_t n, int64_t c, int64_t s, int64_t groups,
                                          nk_layout_t layout, double eps);

/* ------------------------------------------------------------------------------------------- layer norm
 *
 * As batch norm's tensors; each statistics set is `d` consecutive values of src in logical (N, C, S) order, i.e. the
 * trailing dims of the normalized shape: d divides S (trailing spatial dims), or d = C * S (all but N), or
 * d = N * C * S (everything). mean and var have shape (N * C * S / d), in logical order of the leading dims;
 * gamma, beta, diff_gamma and diff_beta have d values in logical order of the normalized dims (optional).
 */

/* Forward: dst = (src - mean) * rstd * gamma + beta elementwise; writes dst, mean and var (biased). gamma and beta
 * are both given or both NULL. */
NK_API nk_status_t nk_layer_norm_forward(const float *src, float *dst, const float *gamma, const float *beta,
                                         float *mean, float *var, int64_t n, int64_t c, int64_t s, int64_t d,
                                         nk_layout_t layout, double eps);

/* Backward from the forward's statistics: diff_src as batch norm's training backward over each set, with
 * g = diff_dst * gamma elementwise; diff_gamma = sum over the sets of diff_dst * xhat, diff_beta = sum of diff_dst,
 * per normalized position (optional). */
NK_API nk_status_t nk_layer_norm_backward(const float *src, const float *diff_dst, const float *gamma,
                                          const float *mean, const float *var, float *diff_src, float *diff_gamma,
                                          float *diff_beta, int64_t n, int64_t c, int64_t s, int64_t d,
                                          nk_layout_t layout, double eps);

/* ------------------------------------------------------------------------------- weight standardization
 *
 * A weight of O filters of K contiguous values each, (O, K) in memory (a (O, I, kH, kW) weight in either layout).
 * Per filter o, with mean[o] and the variant's normalizing factor rstd[o]:
 *   SEED:              rstd = 1 / (std_unbiased + eps), std_unbiased = sqrt(sum((w - mean)^2) / (K - 1)); K >= 2
 *   BATCH_NORM_STYLE:  rstd = 1 / sqrt(var_biased + eps)
 *   SCALED:            as BATCH_NORM_STYLE, and dst is scaled by f[o] = gain[o] * gamma / sqrt(K)
 *   dst = (src - mean[o]) * rstd[o] * f[o], f = 1 except for SCALED.
 * gain (shape (O)) is for SCALED only; NULL means ones. An empty weight (O or K zero) is a no-op.
 */
typedef enum nk_ws_variant {
    NK_WS_SEED = 0,
    NK_WS_BATCH_NORM_STYLE = 1,
    NK_WS_SCALED = 2
} nk_ws_variant_t;

/* Forward: writes dst, mean (O) and rstd (O). */
NK_API nk_status_t nk_weight_standardization_forward(const float *src, float *dst, float *mean, float *rstd,
                                                     const float *gain, int64_t o, int64_t k,
                                                     nk_ws_variant_t variant, double eps, double gamma);

/* Backward: diff_src, the gradient with respect to the raw weight, from diff_dst through mean and std, using the
 * forward's saved mean and rstd; for SCALED optionally diff_gain[o] = gamma / sqrt(K) * sum(diff_dst * (src -
 * mean) * rstd) (NULL: not computed). */
NK_API nk_status_t nk_weight_standardization_backward(const float *src, const float *diff_dst, const float *gain,
                                                      const float *mean, const float *rstd, float *diff_src,
                                                      float *diff_gain, int64_t o, int64_t k,
                                                      nk_ws_variant_t variant, double eps, double gamma);

/* ------------------------------------------------------------------------------------- Winograd convolution */

/* A 3x3 convolution, stride 1, dilation 1, one group, by Winograd's F(2x2, 3x3) (its products on oneDNN's sgemm):
 * src x (N, C, H, W), weight (O, C, 3, 3) (OIHW), dst y (N, O, OH, OW) with OH = H + 2 * pad_h - 2,
 * OW = W + 2 * pad_w - 2 (both >= 1), activations in `layout`; bias (O) or NULL. Requires pad_h, pad_w in [0, 2]. */
NK_API nk_status_t nk_winograd_conv_forward(const float *src, const float *weight, const float *bias, float *dst,
                                            int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t pad_h,
                                            int64_t pad_w, nk_layout_t layout);

/* Backward data of the same convolution: diff_src (N, C, H, W) from diff_dst (N, O, OH, OW). */
NK_API nk_status_t nk_winograd_conv_backward_data(const float *diff_dst, const float *weight, float *diff_src,
                                                  int64_t n, int64_t c, int64_t h, int64_t w, int64_t o,
                                                  int64_t pad_h, int64_t pad_w, nk_layout_t layout);

/* Backward weights: diff_weight (O, C, 3, 3) and, unless NULL, diff_bias (O) from src and diff_dst. */
NK_API nk_status_t nk_winograd_conv_backward_weights(const float *src, const float *diff_dst, float *diff_weight,
                                                     float *diff_bias, int64_t n, int64_t c, int64_t h, int64_t w,
                                                     int64_t o, int64_t pad_h, int64_t pad_w, nk_layout_t layout);

#ifdef __cplusplus
}
#endif

#endif /* NORMKIT_NORMKIT_H */
