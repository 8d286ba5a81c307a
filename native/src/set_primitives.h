// Building blocks of the normalization kernels, compiled into each ISA variant: they live in nk::<isa>:: so that
// the variants never share (and the linker never merges) an inline definition compiled for another ISA.
//
// Two shapes of data:
//  - a run: n contiguous floats (an NCHW (n, c) plane, a weight filter), vectorized along the run;
//  - a channel block: `rows` rows of `w` consecutive channels, rows `stride` floats apart (one image of an NHWC
//    tensor), vectorized across the channels in chunks of 16 (one cache line) with one accumulator per channel;
//    channels beyond the last whole chunk run scalar.
//
// Sums accumulate in double, in several independent accumulators (auto-vectorized with `omp simd`, no fast-math):
// for float inputs a set's sums then carry only double rounding, whatever its size, and NaN/Inf propagate.
// Statistics use shifted sums, shifted by one of the set's own values k: with s1 = sum(x - k) and
// s2 = sum((x - k)^2), M2 = s2 - s1^2 / n loses at most about (mean - k)^2 / var <= n units of double rounding,
// i.e. nothing visible in float, and a set is read once for its statistics (the second read, to normalize, hits
// L1/L2 for any set that fits there).
#pragma once

#include <algorithm>
#include <cstdint>

#ifndef NK_ISA_NAMESPACE
#error "compile kernel sources through normkit_add_isa_variant, which defines NK_ISA_NAMESPACE"
#endif

namespace nk {
namespace NK_ISA_NAMESPACE {

#if defined(__AVX512F__)
constexpr int64_t kDoublesPerVector = 8;
#elif defined(__AVX__)
constexpr int64_t kDoublesPerVector = 4;
#else
constexpr int64_t kDoublesPerVector = 2;
#endif

// Lanes of a run's double accumulators: four independent vectors hide the latency of the adds.
constexpr int64_t kLanes = 4 * kDoublesPerVector;

// The most channels of one NHWC block (its per-channel accumulators live on the stack: 40 KiB at most).
constexpr int64_t kMaxChannelBlock = 1024;

// Channels of a block handled together (one 64-byte cache line of floats); their accumulators stay in registers
// for kGroupRows rows at a time.
constexpr int64_t kChunk = 16;
constexpr int64_t kGroupRows = 8;

// Below this many elements a kernel runs on the calling thread: an OpenMP fork costs more than the work.
constexpr int64_t kParallelThreshold = int64_t{1} << 14;

// The sum of the lanes, as a tree of halvings (log2(L) dependent adds rather than L; L is a power of two).
template <int64_t L>
inline double lane_total(double (&lanes)[L]) {
    static_assert((L & (L - 1)) == 0, "lanes must be a power of two");
    for (int64_t half = L / 2; half > 0; half /= 2) {
#pragma omp simd
        for (int64_t j = 0; j < half; ++j) lanes[j] += lanes[j + half];
    }
    return lanes[0];
}

// ------------------------------------------------------------------------------------------------- statistics

// sum(x - k) and sum((x - k)^2) over a set.
struct shifted_sums {
    double s1, s2;
};

// mean and M2 = sum((x - mean)^2) of a set of n values.
struct moments {
    double mean, m2;
};

inline moments moments_from(double k, shifted_sums s, int64_t n) {
    const double d = s.s1 / static_cast<double>(n);
    double m2 = s.s2 - s.s1 * d;
    if (m2 < 0) m2 = 0;  // rounding in a (nearly) constant set; NaN stays NaN, as NaN < 0 is false
    return {k + d, m2};
}

// Shifted sums of a run.  Scalar form: for i < n: d = x[i] - k; s1 += d; s2 += d * d.
inline shifted_sums run_shifted_sums(const float *x, int64_t n, double k) {
    double a1[kLanes] = {}, a2[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
#pragma omp simd
        for (int64_t j = 0; j < kLanes; ++j) {
            const double d = static_cast<double>(x[i + j]) - k;
            a1[j] += d;
            a2[j] += d * d;
        }
    }
    for (int64_t j = 0; i + j < n; ++j) {
        const double d = static_cast<double>(x[i + j]) - k;
        a1[j] += d;
        a2[j] += d * d;
    }
    return {lane_total(a1), lane_total(a2)};
}

// Adds the shifted sums of each channel j < w of a block, shifted by k[j], to s1[j], s2[j].
// Scalar form: for r < rows, j < w: d = x[r * stride + j] - k[j]; s1[j] += d; s2[j] += d * d.
inline void block_shifted_sums(const float *x, int64_t stride, int64_t rows, int64_t w, const double *k, double *s1,
                               double *s2) {
    const int64_t wv = w / kChunk * kChunk;
    for (int64_t r0 = 0; r0 < rows; r0 += kGroupRows) {
        const int64_t r1 = std::min(rows, r0 + kGroupRows);
        for (int64_t j0 = 0; j0 < wv; j0 += kChunk) {
            double a1[kChunk], a2[kChunk], kk[kChunk];
            for (int64_t j = 0; j < kChunk; ++j) {
                a1[j] = s1[j0 + j];
                a2[j] = s2[j0 + j];
                kk[j] = k[j0 + j];
            }
            for (int64_t r = r0; r < r1; ++r) {
                const float *row = x + r * stride + j0;
#pragma omp simd
                for (int64_t j = 0; j < kChunk; ++j) {
                    const double d = static_cast<double>(row[j]) - kk[j];
                    a1[j] += d;
                    a2[j] += d * d;
                }
            }
            for (int64_t j = 0; j < kChunk; ++j) {
                s1[j0 + j] = a1[j];
                s2[j0 + j] = a2[j];
            }
        }
        for (int64_t r = r0; r < r1; ++r) {
            for (int64_t j = wv; j < w; ++j) {
                const double d = static_cast<double>(x[r * stride + j]) - k[j];
                s1[j] += d;
                s2[j] += d * d;
            }
        }
    }
}

// ------------------------------------------------------------------------------------------ gradient sums

// With u = x - mean: sum(dy), sum(dy * u) and sum(u^2) over a set.
struct gradient_sums {
    double dy, dy_u, u2;
};

// Gradient sums of a run.  Scalar form: for i < n: u = x[i] - mean; sdy += dy[i]; sdyu += dy[i] * u; su2 += u * u.
inline gradient_sums run_gradient_sums(const float *x, const float *dy, int64_t n, double mean) {
    double a0[kLanes] = {}, a1[kLanes] = {}, a2[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
#pragma omp simd
        for (int64_t j = 0; j < kLanes; ++j) {
            const double u = static_cast<double>(x[i + j]) - mean, g = dy[i + j];
            a0[j] += g;
            a1[j] += g * u;
            a2[j] += u * u;
        }
    }
    for (int64_t j = 0; i + j < n; ++j) {
        const double u = static_cast<double>(x[i + j]) - mean, g = dy[i + j];
        a0[j] += g;
        a1[j] += g * u;
        a2[j] += u * u;
    }
    return {lane_total(a0), lane_total(a1), lane_total(a2)};
}

// Adds sum(dy) and sum(dy * (x - mean[j])) of each channel j < w of a block to sum_dy[j], sum_dy_u[j].
// Scalar form: for r < rows, j < w: i = r * stride + j; sum_dy[j] += dy[i]; sum_dy_u[j] += dy[i] * (x[i] - mean[j]).
inline void block_gradient_sums(const float *x, const float *dy, int64_t stride, int64_t rows, int64_t w,
                                const double *mean, double *sum_dy, double *sum_dy_u) {
    const int64_t wv = w / kChunk * kChunk;
    for (int64_t r0 = 0; r0 < rows; r0 += kGroupRows) {
        const int64_t r1 = std::min(rows, r0 + kGroupRows);
        for (int64_t j0 = 0; j0 < wv; j0 += kChunk) {
            double a0[kChunk], a1[kChunk], m[kChunk];
            for (int64_t j = 0; j < kChunk; ++j) {
                a0[j] = sum_dy[j0 + j];
                a1[j] = sum_dy_u[j0 + j];
                m[j] = mean[j0 + j];
            }
            for (int64_t r = r0; r < r1; ++r) {
                const float *xr = x + r * stride + j0, *dyr = dy + r * stride + j0;
#pragma omp simd
                for (int64_t j = 0; j < kChunk; ++j) {
                    const double g = dyr[j];
                    a0[j] += g;
                    a1[j] += g * (static_cast<double>(xr[j]) - m[j]);
                }
            }
            for (int64_t j = 0; j < kChunk; ++j) {
                sum_dy[j0 + j] = a0[j];
                sum_dy_u[j0 + j] = a1[j];
            }
        }
        for (int64_t r = r0; r < r1; ++r) {
            for (int64_t j = wv; j < w; ++j) {
                const double g = dy[r * stride + j];
                sum_dy[j] += g;
                sum_dy_u[j] += g * (static_cast<double>(x[r * stride + j]) - mean[j]);
            }
        }
    }
}

// ------------------------------------------------------------------------------------------- elementwise

// Coefficients of an output that is affine in x: y = (x - m) * a + b. Subtracting m (a float close to the set's
// mean) first keeps the rounding error relative to |y| rather than to |x| * |a|, which for a set with |mean| >> std
// is far larger (x * a + (b - m * a) cancels); the rest of the exact mean goes into b.
struct affine {
    float m, a, b;
};

// y = (x - m) * a + b over a run.
inline void run_affine(const float *x, float *y, int64_t n, affine k) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - k.m) * k.a + k.b;
}

// y = (x - m[j]) * a[j] + b[j] for each channel j < w of a block.
inline void block_affine(const float *x, float *y, int64_t stride, int64_t rows, int64_t w, const float *m,
                         const float *a, const float *b) {
    const int64_t wv = w / kChunk * kChunk;
    for (int64_t r = 0; r < rows; ++r) {
        const float *xr = x + r * stride;
        float *yr = y + r * stride;
        for (int64_t j0 = 0; j0 < wv; j0 += kChunk) {
#pragma omp simd
            for (int64_t j = j0; j < j0 + kChunk; ++j) yr[j] = (xr[j] - m[j]) * a[j] + b[j];
        }
        for (int64_t j = wv; j < w; ++j) yr[j] = (xr[j] - m[j]) * a[j] + b[j];
    }
}

// Coefficients of a gradient that is affine in (dy, x): dx = a * dy + b * (x - m) + c, m the set's saved mean.
struct gradient_affine {
    float a, b, c, m;
};

// dx = a * dy + b * (x - m) + c over a run.
inline void run_gradient_affine(const float *dy, const float *x, float *dx, int64_t n, gradient_affine k) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dx[i] = k.a * dy[i] + k.b * (x[i] - k.m) + k.c;
}

// dx = a[j] * dy + b[j] * (x - m[j]) + c[j] for each channel j < w of a block.
inline void block_gradient_affine(const float *dy, const float *x, float *dx, int64_t stride, int64_t rows, int64_t w,
                                  const float *a, const float *b, const float *c, const float *m) {
    const int64_t wv = w / kChunk * kChunk;
    for (int64_t r = 0; r < rows; ++r) {
        const float *dyr = dy + r * stride, *xr = x + r * stride;
        float *dxr = dx + r * stride;
        for (int64_t j0 = 0; j0 < wv; j0 += kChunk) {
#pragma omp simd
            for (int64_t j = j0; j < j0 + kChunk; ++j) dxr[j] = a[j] * dyr[j] + b[j] * (xr[j] - m[j]) + c[j];
        }
        for (int64_t j = wv; j < w; ++j) dxr[j] = a[j] * dyr[j] + b[j] * (xr[j] - m[j]) + c[j];
    }
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
