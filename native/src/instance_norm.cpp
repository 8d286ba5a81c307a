// Instance normalization: one statistics set per (n, c) over the S spatial positions (Ulyanov et al., 2016).
//
//   forward:  mean, var (biased) per set; y = (x - mean) * rstd * gamma[c] + beta[c], rstd = 1 / sqrt(var + eps),
//             computed as y = (x - m) * scale + shift, m = mean rounded to float, scale = gamma * rstd,
//             shift = beta + (m - mean) * scale
//   backward: with xhat = (x - mean) * rstd, g = dy * gamma, per set of S values
//             dx = rstd / S * (S * g - sum(g) - xhat * sum(g * xhat))
//                = a * dy + b * (x - mean) + c, a = gamma * rstd, b = -a * rstd^2 * sum(dy * (x - mean)) / S,
//                                               c = -a * sum(dy) / S
//             dgamma[c] = sum over n of rstd * sum(dy * (x - mean)), dbeta[c] = sum over n of sum(dy)
//   constant (running) statistics: y as above; dx = dy * gamma * rstd.
//
// Work items (run in parallel): NCHW, up to kSetsPerGroup (n, c) planes of S contiguous values each; NHWC, whole
// rows of channels of one image across its S positions, vectorized across the channels. Either way an item reads its
// sets once for the statistics and once more to write y or dx, the second read hitting L1/L2 when the item fits
// there. NHWC images too big for that on several threads are split by rows between the threads instead, by the
// group-norm kernel (split_by_rows).
#include <algorithm>
#include <cmath>

#include <omp.h>

#include "kernels.h"
#include "scratch.h"
#include "set_primitives.h"

namespace nk {
namespace NK_ISA_NAMESPACE {
namespace {

// Channels per NHWC work item: whole rows of an image (up to kMaxChannelBlock channels), so that both passes read
// and write memory contiguously (strided blocks of rows measured 2-3 times slower, their writes above all); fewer
// when there are fewer images than threads, so that every thread gets an item (whole cache lines of 16 floats).
int64_t channels_per_item(const instance_norm_problem &p) {
    constexpr int64_t line = 16;
    int64_t cb = std::min(p.c, kMaxChannelBlock);
    const int64_t threads = omp_get_max_threads();
    if (p.n < threads) {
        const int64_t per_image = (threads + p.n - 1) / p.n;
        cb = std::min(cb, std::max(line, ((p.c + per_image - 1) / per_image + line - 1) / line * line));
    }
    return cb;
}

// Whether an item's output is written with streaming stores (stream_output: a large output in long runs).
bool streams(const instance_norm_problem &p) {
    return stream_output(p.n * p.c * p.s, p.layout == NK_LAYOUT_CHANNELS_FIRST ? p.s : p.c);
}

// Calls planes(nc0, count) for groups of consecutive (n, c) planes of an NCHW tensor (for_each_set_group in
// set_primitives.h; plane nc = n * C + c at offset nc * S), or block(n, c0, w, offset) for every block of w channels c0
// .. c0 + w - 1 of one image of an NHWC tensor (offset: the memory offset of the block's first value). Items run in
// parallel (threads_for: `sums` tells whether items reduce over their sets); with `stream` (the items write with
// streaming stores), each thread fences its stores at the end.
template <class Planes, class Block>
void for_each_item(const instance_norm_problem &p, bool sums, bool stream, Planes planes, Block block) {
    const int64_t threads = threads_for(p.n * p.c * p.s, sums);
    if (p.layout == NK_LAYOUT_CHANNELS_FIRST) {
        for_each_set_group(p.n * p.c, p.s, threads, stream, planes);
        return;
    }
    const int64_t cb = channels_per_item(p), blocks = (p.c + cb - 1) / cb;
    parallel_for(p.n * blocks, threads, stream, [&](int64_t item) {
        const int64_t n = item / blocks, c0 = item % blocks * cb;
        block(n, c0, std::min(cb, p.c - c0), n * p.s * p.c + c0);
    });
}

// y's coefficients of one set (fold) with channel c's parameters.
affine fold(double mean, double rstd, const float *gamma, const float *beta, int64_t c) {
    return nk::NK_ISA_NAMESPACE::fold(mean, rstd, gamma ? gamma[c] : 1.0, beta ? beta[c] : 0.0);
}

double given_mean(const set_statistics &stats, int64_t n, int64_t c) { return stats.mean[n * stats.n_stride + c]; }

double given_rstd(const set_statistics &stats, int64_t n, int64_t c, double eps) {
    return 1 / std::sqrt(static_cast<double>(stats.var[n * stats.n_stride + c]) + eps);
}

// Whether an NHWC problem's images are split by rows between the threads (split_images in set_primitives.h): then
// the group-norm kernel runs it, as group norm with one channel per group (the same sets and formulas).
bool split_by_rows(const instance_norm_problem &p, int64_t inputs) {
    return p.layout == NK_LAYOUT_CHANNELS_LAST && p.c > 1 && p.s > 1 &&
           split_images(p.s * p.c, inputs, threads_for(p.n * p.c * p.s));
}

}  // namespace

void instance_norm_forward_training(const instance_norm_problem &p, const float *src, const float *gamma,
                                    const float *beta, float *dst, float *mean, float *var) {
    if (split_by_rows(p, 1)) {
        group_norm_forward({p, p.c}, src, gamma, beta, dst, mean, var);
        return;
    }
    const bool stream = streams(p);
    // A set's statistics from its shifted sums (shifted by its first value); writes them, returns y's coefficients.
    auto finish = [&](int64_t n, int64_t c, double k, shifted_sums sums) {
        const moments m = moments_from(k, sums, p.s);
        const double v = m.m2 / static_cast<double>(p.s);
        mean[n * p.c + c] = static_cast<float>(m.mean);
        var[n * p.c + c] = static_cast<float>(v);
        return fold(m.mean, 1 / std::sqrt(v + p.eps), gamma, beta, c);
    };
    for_each_item(
        p, true, stream,
        [&](int64_t nc0, int64_t count) {
            shifted_sums sums[kSetsPerGroup];
            affine f[kSetsPerGroup];
            for (int64_t i = 0; i < count; ++i) {
                const float *x = src + (nc0 + i) * p.s;
                sums[i] = run_shifted_sums(x, p.s, x[0]);
            }
            for (int64_t i = 0; i < count; ++i) {
                const int64_t nc = nc0 + i;
                f[i] = finish(nc / p.c, nc % p.c, src[nc * p.s], sums[i]);
            }
            for (int64_t i = 0; i < count; ++i) {
                const int64_t offset = (nc0 + i) * p.s;
                run_affine(src + offset, dst + offset, p.s, f[i], stream);
            }
        },
        [&](int64_t n, int64_t c0, int64_t w, int64_t offset) {
            const float *x = src + offset;
            // (only the w entries in use are initialized: zeroing whole 1024-channel arrays cost more than the sums
            // of a small image)
            double k[kMaxChannelBlock], s1[kMaxChannelBlock], s2[kMaxChannelBlock];
            float m[kMaxChannelBlock], a[kMaxChannelBlock], b[kMaxChannelBlock];
            for (int64_t j = 0; j < w; ++j) {
                k[j] = x[j];
                s1[j] = s2[j] = 0;
            }
            block_shifted_sums(x, p.c, p.s, w, k, s1, s2);
            for (int64_t j = 0; j < w; ++j) {
                const affine f = finish(n, c0 + j, k[j], {s1[j], s2[j]});
                m[j] = f.m;
                a[j] = f.a;
                b[j] = f.b;
            }
            block_affine(x, dst + offset, p.c, p.s, w, m, a, b, stream, after_sums_order(p.s, w, 1));
        });
}

void instance_norm_forward_inference(const instance_norm_problem &p, const float *src, const float *gamma,
                                     const float *beta, const set_statistics &stats, float *dst) {
    const bool stream = streams(p);
    auto coefficients = [&](int64_t n, int64_t c) {
        return fold(given_mean(stats, n, c), given_rstd(stats, n, c, p.eps), gamma, beta, c);
    };
    for_each_item(
        p, false, stream,
        [&](int64_t nc0, int64_t count) {
            affine f[kSetsPerGroup];
            for (int64_t i = 0; i < count; ++i) f[i] = coefficients((nc0 + i) / p.c, (nc0 + i) % p.c);
            for (int64_t i = 0; i < count; ++i) {
                const int64_t offset = (nc0 + i) * p.s;
                run_affine(src + offset, dst + offset, p.s, f[i], stream);
            }
        },
        [&](int64_t n, int64_t c0, int64_t w, int64_t offset) {
            float m[kMaxChannelBlock], a[kMaxChannelBlock], b[kMaxChannelBlock];
            for (int64_t j = 0; j < w; ++j) {
                const affine f = coefficients(n, c0 + j);
                m[j] = f.m;
                a[j] = f.a;
                b[j] = f.b;
            }
            block_affine(src + offset, dst + offset, p.c, p.s, w, m, a, b, stream);
        });
}

void instance_norm_backward(const instance_norm_problem &p, const float *src, const float *diff_dst,
                            const float *gamma, const set_statistics &stats, bool constant_stats, float *diff_src,
                            float *diff_gamma, float *diff_beta) {
    if (!constant_stats && stats.n_stride == p.c && split_by_rows(p, 2)) {
        group_norm_backward({p, p.c}, src, diff_dst, gamma, stats.mean, stats.var, diff_src, diff_gamma, diff_beta);
        return;
    }
    const bool stream = streams(p);
    const bool want_params = diff_gamma != nullptr || diff_beta != nullptr;
    // per-(n, c) shares of dgamma and dbeta, summed over n in a fixed order at the end
    scratch_plan plan;
    const size_t shares = plan.add<double>(want_params ? 2 * p.n * p.c : 0);
    plan.allocate();
    double *partials = plan.get<double>(shares);
    // The training gradient needs each set's sums; with constant statistics only dgamma/dbeta do.
    const bool need_sums = !constant_stats || want_params;
    // One set's dx = a * dy + b * (x - mean) + c from its sums (b = c = 0 with constant statistics, where dx is
    // computed as (dy - 0) * a + 0 without reading x); keeps its share of dgamma and dbeta in
    // partials[2 * (n * C + c)].
    auto coefficients = [&](int64_t n, int64_t c, double sum_dy, double sum_dy_u) {
        const double mean = given_mean(stats, n, c), rstd = given_rstd(stats, n, c, p.eps);
        if (want_params) {
            partials[2 * (n * p.c + c)] = rstd * sum_dy_u;
            partials[2 * (n * p.c + c) + 1] = sum_dy;
        }
        const double gamma_c = gamma ? gamma[c] : 1.0;
        if (constant_stats) {
            return gradient_affine{static_cast<float>(gamma_c * rstd), 0.0f, 0.0f, static_cast<float>(mean)};
        }
        return training_gradient(gamma_c, mean, rstd, sum_dy, sum_dy_u, p.s);
    };
    for_each_item(
        p, need_sums, stream,
        [&](int64_t nc0, int64_t count) {
            gradient_sums sums[kSetsPerGroup] = {};
            gradient_affine k[kSetsPerGroup];
            for (int64_t i = 0; i < count && need_sums; ++i) {
                const int64_t nc = nc0 + i, offset = nc * p.s;
                const double mean = given_mean(stats, nc / p.c, nc % p.c);
                sums[i] = run_gradient_sums(src + offset, diff_dst + offset, p.s, mean);
            }
            for (int64_t i = 0; i < count; ++i) {
                const int64_t nc = nc0 + i;
                k[i] = coefficients(nc / p.c, nc % p.c, sums[i].dy, sums[i].dy_u);
            }
            for (int64_t i = 0; i < count; ++i) {
                const int64_t offset = (nc0 + i) * p.s;
                if (constant_stats) {
                    run_affine(diff_dst + offset, diff_src + offset, p.s, {0.0f, k[i].a, 0.0f}, stream);
                } else {
                    run_gradient_affine(diff_dst + offset, src + offset, diff_src + offset, p.s, k[i], stream);
                }
            }
        },
        [&](int64_t n, int64_t c0, int64_t w, int64_t offset) {
            const float *x = src + offset, *dy = diff_dst + offset;
            double mean[kMaxChannelBlock], sum_dy[kMaxChannelBlock], sum_dy_u[kMaxChannelBlock];
            float a[kMaxChannelBlock], b[kMaxChannelBlock], c[kMaxChannelBlock], m[kMaxChannelBlock];
            for (int64_t j = 0; j < w; ++j) {
                mean[j] = given_mean(stats, n, c0 + j);
                sum_dy[j] = sum_dy_u[j] = 0;
            }
            if (need_sums) block_gradient_sums(x, dy, p.c, p.s, w, mean, sum_dy, sum_dy_u);
            for (int64_t j = 0; j < w; ++j) {
                const gradient_affine k = coefficients(n, c0 + j, sum_dy[j], sum_dy_u[j]);
                a[j] = k.a;
                b[j] = k.b;
                c[j] = k.c;
                m[j] = 0.0f;
            }
            if (constant_stats) {
                block_affine(dy, diff_src + offset, p.c, p.s, w, m, a, c, stream);  // m, c all zero: dx = dy * a
            } else {
                for (int64_t j = 0; j < w; ++j) m[j] = static_cast<float>(mean[j]);
                block_gradient_affine(dy, x, diff_src + offset, p.c, p.s, w, a, b, c, m, stream,
                                      after_sums_order(p.s, w, 2));
            }
        });
    if (!want_params) return;
    // dgamma[c], dbeta[c]: the per-image shares summed in a fixed order, so results do not depend on the threads.
    for (int64_t c = 0; c < p.c; ++c) {
        double dg = 0, db = 0;
        for (int64_t n = 0; n < p.n; ++n) {
            dg += partials[2 * (n * p.c + c)];
            db += partials[2 * (n * p.c + c) + 1];
        }
        if (diff_gamma) diff_gamma[c] = static_cast<float>(dg);
        if (diff_beta) diff_beta[c] = static_cast<float>(db);
    }
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
