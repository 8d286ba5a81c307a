// Building blocks of the normalization kernels, compiled into each ISA variant: they live in nk::<isa>:: so that
// the variants never share (and the linker never merges) an inline definition compiled for another ISA.
//
// Two shapes of data:
//  - a run: n contiguous floats (an NCHW (n, c) plane, a weight filter), vectorized along the run;
//  - a channel block: `rows` rows of `w` consecutive channels, rows `stride` floats apart (one image of an NHWC
//    tensor), vectorized across the channels in chunks of 16 (one cache line) with one accumulator per channel;
//    channels beyond the last whole chunk run scalar.
//
// Sums accumulate in double, in several independent accumulator vectors (GCC vector extensions: one register of the
// ISA each, so they stay in registers across runs and rows; no fast-math): for float inputs a set's sums then carry
// only double rounding, whatever its size, and NaN/Inf propagate. A run's last partial vector is padded with values
// that add exactly zero (the shift k itself, or dy = 0), so no scalar tail follows the vector loop. The order of
// the additions is fixed for a given ISA: results are reproducible.
// Statistics use shifted sums, shifted by one of the set's own values k: with s1 = sum(x - k) and
// s2 = sum((x - k)^2), M2 = s2 - s1^2 / n loses at most about (mean - k)^2 / var <= n units of double rounding,
// i.e. nothing visible in float, and a set is read once for its statistics (the second read, to normalize, hits
// L1/L2 for any set that fits there).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <immintrin.h>
#include <omp.h>
#include <unistd.h>

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
constexpr int64_t kGroupRows = 4;

// Rows ahead of the current one whose cache line a block sum prefetches. A block's rows are C floats apart and each
// is read one cache line at a time, in short strided streams that the hardware prefetchers do not run ahead of:
// summing a (25088, 256) channels-last block from DRAM took 2.4 ms (10.6 GB/s) without software prefetch and
// 1.2-1.3 ms (19-21 GB/s) with a prefetch 8 to 32 rows ahead (one Zen 4 core; a contiguous run sums at 28 GB/s).
constexpr int64_t kPrefetchRows = 8 * kGroupRows;

// Asks for the cache line at row r + kPrefetchRows (clamped to the last row) of a block, offset j in each row, into
// L2 (T1), not L1: at C = 256 the lines asked for but not yet read are 32 KB per input, as much as L1 holds, so
// lines brought into L1 were evicted before their turn. (8, 256, 56, 56) channels-last on a 2-core Zen 4 VM, one
// process alternating the builds in blocks of 5 calls (tools/bench/ab_kernels.c), median time T1 / T0: forward
// training of group norm 0.68 (1 thread) and 0.75 (2 threads), instance norm 0.53-0.67 and 0.85-1.02, batch norm
// 0.71-0.80 and 0.81-1.07; backward of group norm 0.83-0.88 and 0.60, instance norm 0.92 and 0.55-0.74, batch norm
// 0.81-0.95 and 0.94-0.98. The seed's (32, 64, 14, 14), whose blocks are in L2 or L3: 0.93-1.02.
inline void prefetch_row_ahead(const float *x, int64_t stride, int64_t r, int64_t rows, int64_t j) {
    const int64_t ahead = std::min(rows - 1, r + kPrefetchRows);
    _mm_prefetch(reinterpret_cast<const char *>(x + ahead * stride + j), _MM_HINT_T1);
}

// Below these many elements a kernel runs on the calling thread. A second thread that is still spinning for work
// (normkit's default OpenMP setting, see NativeRuntime: GOMP_SPINCOUNT=10000, about 0.2 ms) joins a region in under a
// microsecond; one that has gone to sleep takes 45-75 us to wake on these VMs. From the threshold, two warm threads
// win (1.2-1.8x at 2^16, 2-2.8x at 2^18; the seed's (32, 64, 14, 14) is 401,408 values). A call near the threshold
// that comes after more than ~0.2 ms without parallel work pays the wake-up once: several times its 1-thread time at
// 2^16 (a 6-20 us call then takes tens of us). PyTorch's elementwise kernels, too, split from 2 x 32768 values (its
// grain size).
// Measured on a 2-core Xeon VM (AVX-512), (8, 64, S) NCHW, median us with 1 / 2 warm threads:
//   elements   BN inference   BN training   GN forward    GN backward
//   32768        3.2 / 3.5      8.3 / 5.6     9.3 / 6.1    14.9 / 9.7
//   65536        6.1 / 4.9     14.3 / 8.3    12.8 / 8.0    21.3 / 13.0
//   131072      11.5 / 7.6     25.6 / 14.2   22.0 / 13.6   35.7 / 20.0
//   262144      36.9 / 13.1    61.2 / 25.9   53.0 / 21.6   91.9 / 35.8
// and layer norm over (128, 768) (98,304 values), forward 18.7 / 10.9, backward 41.1 / 24.4 (PyTorch on 2 threads:
// 20-24 and 45-53). Measured earlier on a 2-core Zen 5 VM, (8, 64, S), 1 / 2 warm threads (NHWC alike or better
// for 2):
//   elements   BN inference   BN training   BN backward   GN forward    GN backward   IN forward
//   65536        4.0 / 2.6      9.1 / 5.5     14 / 9.3      11 / 7.1      14 / 7.9      11 / 8.3
//   262144        23 / 14        43 / 34       49 / 35       34 / 25       40 / 28       35 / 25
//   1048576      100 / 100      159 / 120     188 / 121     147 / 117     165 / 128     136 / 105
//   4194304      436 / 445      841 / 535    1446 / 1211    721 / 651    1129 / 765     727 / 520
// (BN inference: (32, 64, 196) 30.5 / 15.6, (8, 64, 1024) 46 / 27; NHWC 129 / 80 at 2^20.) With sleeping threads
// (OMP_WAIT_POLICY=PASSIVE) every region and barrier pays the wake-up: 2 threads were slower than 1 up to 2^20
// elements and beyond (BN backward 2^20: 213 / 388).
constexpr int64_t kParallelThreshold = int64_t{1} << 16;
constexpr int64_t kElementwiseParallelThreshold = int64_t{1} << 16;

// The positive integer in the environment variable `name`, or `fallback` when it is unset or not positive. The
// tuning overrides below read it once, into a function-local static.
inline int64_t positive_env(const char *name, int64_t fallback) {
    const char *v = std::getenv(name);
    const long long parsed = v ? std::atoll(v) : 0;
    return parsed > 0 ? static_cast<int64_t>(parsed) : fallback;
}

// The environment variable NORMKIT_PARALLEL_THRESHOLD (elements), read once, replaces both thresholds (0: unset): the
// test suite sets it low so that its modest shapes run every multi-threaded partition.
inline int64_t parallel_threshold_override() {
    static const int64_t value = positive_env("NORMKIT_PARALLEL_THRESHOLD", 0);
    return value;
}

// The OpenMP threads a kernel over `elements` values uses: the caller's setting, or 1 below the threshold of its
// kind of pass (`sums`: the pass reduces over sets; otherwise it is elementwise).
inline int64_t threads_for(int64_t elements, bool sums = true) {
    const int64_t forced = parallel_threshold_override();
    const int64_t threshold = forced > 0 ? forced : sums ? kParallelThreshold : kElementwiseParallelThreshold;
    return elements >= threshold ? omp_get_max_threads() : 1;
}

// [begin, end) of part t of `count` items split into `parts` contiguous parts.
inline void split(int64_t count, int64_t parts, int64_t t, int64_t *begin, int64_t *end) {
    const int64_t base = count / parts, extra = count % parts;
    *begin = t * base + std::min(t, extra);
    *end = *begin + base + (t < extra ? 1 : 0);
}

// One vector register of doubles, and the floats that widen into it (the scalar baseline gets SSE2 pairs).
typedef double dvec __attribute__((vector_size(kDoublesPerVector * sizeof(double))));
typedef float fhalf __attribute__((vector_size(kDoublesPerVector * sizeof(float))));

// Independent accumulator vectors per sum of a run.
constexpr int64_t kUnroll = kLanes / kDoublesPerVector;

// kDoublesPerVector floats at p, widened to doubles (one conversion instruction; GCC 12 splits its generic
// __builtin_convertvector into halves and re-inserts them).
inline dvec widen(const float *p) {
#if defined(__AVX512F__)
    return reinterpret_cast<dvec>(_mm512_maskz_cvtps_pd(static_cast<__mmask8>(0xff), _mm256_loadu_ps(p)));
#elif defined(__AVX__)
    return reinterpret_cast<dvec>(_mm256_cvtps_pd(_mm_loadu_ps(p)));
#else
    fhalf h;
    std::memcpy(&h, p, sizeof h);
    return __builtin_convertvector(h, dvec);
#endif
}

// The first `count` (< kDoublesPerVector) floats at p, then zeros, widened: a run's last, partial vector. Masked
// loads read nothing past p[count - 1] (and, unlike a copy through the stack, cause no store-forwarding stall).
inline dvec widen_partial(const float *p, int64_t count) {
#if defined(__AVX512F__)
    return reinterpret_cast<dvec>(
        _mm512_maskz_cvtps_pd(static_cast<__mmask8>(0xff), _mm256_maskz_loadu_ps(static_cast<__mmask8>((1u << count) - 1), p)));
#elif defined(__AVX__)
    const __m128i lanes = _mm_setr_epi32(0, 1, 2, 3);
    return reinterpret_cast<dvec>(
        _mm256_cvtps_pd(_mm_maskload_ps(p, _mm_cmpgt_epi32(_mm_set1_epi32(static_cast<int>(count)), lanes))));
#else
    float v[kDoublesPerVector] = {};
    for (int64_t j = 0; j < count; ++j) v[j] = p[j];
    return widen(v);
#endif
}

inline dvec splat(double v) { return dvec{} + v; }

// 1 in the first `count` lanes, 0 in the others: zeroes the pad of a partial vector exactly.
inline dvec live_lanes(int64_t count) {
    dvec v = {};
    for (int64_t j = 0; j < kDoublesPerVector; ++j) v[j] = j < count ? 1.0 : 0.0;
    return v;
}

inline dvec load_dvec(const double *p) {
    dvec v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline void store_dvec(double *p, dvec v) { std::memcpy(p, &v, sizeof v); }

// The sum of kUnroll accumulator vectors: pairwise across vectors, then across lanes in lane order.
inline double total(const dvec (&acc)[kUnroll]) {
    dvec v = acc[0];
    for (int64_t u = 1; u < kUnroll; ++u) v += acc[u];
    double t = 0;
    for (int64_t j = 0; j < kDoublesPerVector; ++j) t += v[j];
    return t;
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

// Accumulators of shifted sums over one or more runs (e.g. the N runs of a batch-norm channel, added without
// leaving registers). Scalar form: for each value x: d = x - k; s1 += d; s2 += d * d.
struct shifted_lanes {
    dvec s1[kUnroll] = {}, s2[kUnroll] = {};

    // Adds a run of n values.
    void add(const float *x, int64_t n, double k) {
        const dvec kv = splat(k);
        int64_t i = 0;
        for (; i + kLanes <= n; i += kLanes) {
#pragma GCC unroll 8
            for (int64_t u = 0; u < kUnroll; ++u) {
                const dvec d = widen(x + i + u * kDoublesPerVector) - kv;
                s1[u] += d;
                s2[u] += d * d;
            }
        }
        for (; i + kDoublesPerVector <= n; i += kDoublesPerVector) {
            const dvec d = widen(x + i) - kv;
            s1[0] += d;
            s2[0] += d * d;
        }
        if (i < n) {
            const dvec d = (widen_partial(x + i, n - i) - kv) * live_lanes(n - i);
            s1[1] += d;
            s2[1] += d * d;
        }
    }

    shifted_sums sums() const { return {total(s1), total(s2)}; }
};

// Shifted sums of a run, shifted by k (a float value: one of the set's own).
inline shifted_sums run_shifted_sums(const float *x, int64_t n, double k) {
    shifted_lanes a;
    a.add(x, n, k);
    return a.sums();
}

// Vectors of one chunk of kChunk channels.
constexpr int64_t kChunkVectors = kChunk / kDoublesPerVector;

// Rows a block's gradient sums take together: kGroupRows (the accumulators stay in registers for that many rows)
// for a block under kRowByRowBytes; one, every chunk of a row before the next row, for a bigger block, which comes
// from L3 or DRAM: memory is then read in its own order, at the cost of the accumulators' loads and stores
// from L1 at every row. Channels-last (8, 256, 56, 56), 2-core Zen 4 VM, one process alternating the two builds in
// blocks of 5 calls through the C ABI, median time row by row / kGroupRows rows: backward of batch norm 0.76-0.80
// (1 thread), 0.76-0.82 (2 threads); instance norm 0.77-0.78 and 0.98-1.00; group norm 0.76-0.80 and 0.99-1.02. The
// seed shape's blocks (at most 1.6 MB) keep kGroupRows: row by row they took 1.36-1.42 times as long. The forward's
// shifted sums (one input) keep kGroupRows too: row by row measured 0.94-1.12 times as long, group-norm forward
// 1.12 on 1 thread.
constexpr int64_t kRowByRowBytes = int64_t{2} << 20;
inline int64_t block_group_rows(int64_t rows, int64_t stride) {
    return rows * stride * static_cast<int64_t>(sizeof(float)) >= kRowByRowBytes ? 1 : kGroupRows;
}

// Adds the shifted sums of each channel j < w of a block, shifted by k[j], to s1[j], s2[j].
// Scalar form: for r < rows, j < w: d = x[r * stride + j] - k[j]; s1[j] += d; s2[j] += d * d.
inline void block_shifted_sums(const float *x, int64_t stride, int64_t rows, int64_t w, const double *k, double *s1,
                               double *s2) {
    const int64_t wv = w / kChunk * kChunk;
    for (int64_t r0 = 0; r0 < rows; r0 += kGroupRows) {
        const int64_t r1 = std::min(rows, r0 + kGroupRows);
        for (int64_t j0 = 0; j0 < wv; j0 += kChunk) {
            dvec a1[kChunkVectors], a2[kChunkVectors], kk[kChunkVectors];
            for (int64_t v = 0; v < kChunkVectors; ++v) {
                a1[v] = load_dvec(s1 + j0 + v * kDoublesPerVector);
                a2[v] = load_dvec(s2 + j0 + v * kDoublesPerVector);
                kk[v] = load_dvec(k + j0 + v * kDoublesPerVector);
            }
            for (int64_t r = r0; r < r1; ++r) {
                const float *row = x + r * stride + j0;
                prefetch_row_ahead(x, stride, r, rows, j0);
#pragma GCC unroll 8
                for (int64_t v = 0; v < kChunkVectors; ++v) {
                    const dvec d = widen(row + v * kDoublesPerVector) - kk[v];
                    a1[v] += d;
                    a2[v] += d * d;
                }
            }
            for (int64_t v = 0; v < kChunkVectors; ++v) {
                store_dvec(s1 + j0 + v * kDoublesPerVector, a1[v]);
                store_dvec(s2 + j0 + v * kDoublesPerVector, a2[v]);
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

// One value's share of elementwise parameter gradients (layer norm's gamma and beta, summed over the sets):
// dgamma += dy * (x - mean) * rstd, dbeta += dy.
inline void add_parameter_share(float dy, float x, double mean, double rstd, double &dgamma, double &dbeta) {
    const double g = dy;
    dgamma += g * (static_cast<double>(x) - mean) * rstd;
    dbeta += g;
}

// Where a gradient-sums pass over a run also adds the run's shares of elementwise parameter gradients
// (add_parameter_share at each i, with the set's rstd): dgamma[i] and dbeta[i] for the run's values i.
struct parameter_shares {
    double *dgamma, *dbeta;
    double rstd;
};

// Accumulators of gradient sums over one or more runs, with u = x - mean and g = dy (or dy * w with elementwise
// weights w): sum(g), sum(g * u) and, with Squares, sum(u^2). Scalar form: for each value: s0 += g; s1 += g * u;
// s2 += u * u; and with parameter shares, dgamma[i] += dy * u * rstd; dbeta[i] += dy.
template <bool Squares>
struct gradient_lanes {
    dvec s0[kUnroll] = {}, s1[kUnroll] = {}, s2[kUnroll] = {};

    void add_vector(int64_t u, dvec g, dvec d) {
        s0[u] += g;
        s1[u] += g * d;
        if (Squares) s2[u] += d * d;
    }

    // Adds a run of n values (w: elementwise weights, or null). With `shares`, the same pass adds the run's shares
    // of the parameter gradients from the x and dy it has already loaded and widened, where before a second loop
    // (or the output loop) widened them again, a cost of conversions and arithmetic: layer-norm backward, median us
    // of alternating bench runs on a 2-core Xeon VM, shares in the output loop -> here: (128, 768) 40-46 -> 35
    // (1 thread), 24.6-25.3 -> 22.2-23.1 (2 threads); (32, 64, 14, 14) over (C, H, W) 274-275 -> 236-267 (1).
    void add(const float *x, const float *dy, const float *w, int64_t n, double mean,
             const parameter_shares *shares = nullptr) {
        const dvec mv = splat(mean);
        auto vector_at = [&](int64_t u, int64_t o) {
            const dvec dyv = widen(dy + o), d = widen(x + o) - mv;
            add_vector(u, w ? dyv * widen(w + o) : dyv, d);
            if (shares) {
                store_dvec(shares->dgamma + o, load_dvec(shares->dgamma + o) + dyv * d * shares->rstd);
                store_dvec(shares->dbeta + o, load_dvec(shares->dbeta + o) + dyv);
            }
        };
        int64_t i = 0;
        for (; i + kLanes <= n; i += kLanes) {
#pragma GCC unroll 8
            for (int64_t u = 0; u < kUnroll; ++u) vector_at(u, i + u * kDoublesPerVector);
        }
        for (; i + kDoublesPerVector <= n; i += kDoublesPerVector) vector_at(0, i);
        if (i < n) {
            const int64_t rest = n - i;
            dvec g = widen_partial(dy + i, rest);
            if (w) g *= widen_partial(w + i, rest);
            add_vector(1, g, (widen_partial(x + i, rest) - mv) * live_lanes(rest));
            for (int64_t j = i; shares && j < n; ++j) {
                add_parameter_share(dy[j], x[j], mean, shares->rstd, shares->dgamma[j], shares->dbeta[j]);
            }
        }
    }

    gradient_sums sums() const { return {total(s0), total(s1), Squares ? total(s2) : 0.0}; }
};

// Gradient sums of a run, sum(dy) and sum(dy * u) (u2 left 0: the normalizations' backward needs only these two).
// Scalar form: for i < n: u = x[i] - mean; sdy += dy[i]; sdyu += dy[i] * u.
inline gradient_sums run_gradient_sums(const float *x, const float *dy, int64_t n, double mean) {
    gradient_lanes<false> a;
    a.add(x, dy, nullptr, n, mean);
    return a.sums();
}

// As run_gradient_sums, with sum(u^2) too (weight standardization's backward recomputes its std from it).
// Scalar form: for i < n: u = x[i] - mean; sdy += dy[i]; sdyu += dy[i] * u; su2 += u * u.
inline gradient_sums run_gradient_sums_with_squares(const float *x, const float *dy, int64_t n, double mean) {
    gradient_lanes<true> a;
    a.add(x, dy, nullptr, n, mean);
    return a.sums();
}

// Adds sum(g) and sum(g * (x - mean[j])) of each channel j < w of a block to sum_dy[j], sum_dy_u[j], with g = dy
// (Weighted false) or g = dy * row_weight[r] (Weighted: one weight per row, layer norm's gamma over rows).
template <bool Weighted>
inline void block_gradient_sums_of(const float *x, const float *dy, const float *row_weight, int64_t stride,
                                   int64_t rows, int64_t w, const double *mean, double *sum_dy, double *sum_dy_u) {
    const int64_t wv = w / kChunk * kChunk;
    const int64_t group = block_group_rows(rows, stride);
    for (int64_t r0 = 0; r0 < rows; r0 += group) {
        const int64_t r1 = std::min(rows, r0 + group);
        for (int64_t j0 = 0; j0 < wv; j0 += kChunk) {
            dvec a0[kChunkVectors], a1[kChunkVectors], m[kChunkVectors];
            for (int64_t v = 0; v < kChunkVectors; ++v) {
                a0[v] = load_dvec(sum_dy + j0 + v * kDoublesPerVector);
                a1[v] = load_dvec(sum_dy_u + j0 + v * kDoublesPerVector);
                m[v] = load_dvec(mean + j0 + v * kDoublesPerVector);
            }
            for (int64_t r = r0; r < r1; ++r) {
                const float *xr = x + r * stride + j0, *dyr = dy + r * stride + j0;
                prefetch_row_ahead(x, stride, r, rows, j0);
                prefetch_row_ahead(dy, stride, r, rows, j0);
                const dvec wr = splat(Weighted ? row_weight[r] : 1.0);
#pragma GCC unroll 8
                for (int64_t v = 0; v < kChunkVectors; ++v) {
                    const int64_t o = v * kDoublesPerVector;
                    const dvec g = Weighted ? widen(dyr + o) * wr : widen(dyr + o);
                    a0[v] += g;
                    a1[v] += g * (widen(xr + o) - m[v]);
                }
            }
            for (int64_t v = 0; v < kChunkVectors; ++v) {
                store_dvec(sum_dy + j0 + v * kDoublesPerVector, a0[v]);
                store_dvec(sum_dy_u + j0 + v * kDoublesPerVector, a1[v]);
            }
        }
        for (int64_t r = r0; r < r1; ++r) {
            const double wr = Weighted ? row_weight[r] : 1.0;
            for (int64_t j = wv; j < w; ++j) {
                const double g = Weighted ? dy[r * stride + j] * wr : dy[r * stride + j];
                sum_dy[j] += g;
                sum_dy_u[j] += g * (static_cast<double>(x[r * stride + j]) - mean[j]);
            }
        }
    }
}

// Adds sum(dy) and sum(dy * (x - mean[j])) of each channel j < w of a block to sum_dy[j], sum_dy_u[j].
// Scalar form: for r < rows, j < w: i = r * stride + j; sum_dy[j] += dy[i]; sum_dy_u[j] += dy[i] * (x[i] - mean[j]).
inline void block_gradient_sums(const float *x, const float *dy, int64_t stride, int64_t rows, int64_t w,
                                const double *mean, double *sum_dy, double *sum_dy_u) {
    block_gradient_sums_of<false>(x, dy, nullptr, stride, rows, w, mean, sum_dy, sum_dy_u);
}

// As block_gradient_sums with g = dy * row_weight[r]: sum_dy[j] += g; sum_dy_u[j] += g * (x[i] - mean[j]).
inline void block_weighted_gradient_sums(const float *x, const float *dy, const float *row_weight, int64_t stride,
                                         int64_t rows, int64_t w, const double *mean, double *sum_g,
                                         double *sum_g_u) {
    block_gradient_sums_of<true>(x, dy, row_weight, stride, rows, w, mean, sum_g, sum_g_u);
}

// ------------------------------------------------------------------------------------------- elementwise

// ------------------------------------------------------------------------------------------------- outputs

// Floats per vector register of the ISA.
constexpr int64_t kFloatsPerVector = 2 * kDoublesPerVector;

// Outputs of at least stream_threshold_bytes() are written with non-temporal (streaming) stores: they bypass the
// caches, so the output costs no read-for-ownership and does not evict the inputs (which a kernel reads twice), at
// the price of the output not being in cache for the next op. Smaller outputs, which stay in cache for the next op
// (and for the next call), are stored normally. Measured on one Sapphire Rapids core: a 25.7 MB y = a * x + b takes
// 1.76 ms streamed, 2.20 ms stored; with a second read of x before it, 2.79 ms against 3.54 ms. The bound is where
// the two meet on a 2-core Zen 3 VM (AVX2, 32 MiB L3 shared with other guests), y = a * x + b, one core, the two
// alternating in blocks of 5 calls, streamed / stored time: 1 MB 1.63, 2 MB 1.58, 4 MB 1.30, 6 MB 1.02, 8 MB 0.79,
// 12 MB 0.72, 25.7 MB 0.75-0.82. (On Zen 5 VMs the seed's 1.6 MB output took the same time either way, and the
// bound was 1 MiB.) The size of L3 that the OS reports is no guide on these VMs (sysconf: 256 MiB, the host's).
constexpr int64_t kStreamBytes = int64_t{6} << 20;

// The environment variable NORMKIT_STREAM_BYTES, read once, replaces kStreamBytes: the test suite sets it low so that
// its modest shapes run the streaming stores.
inline int64_t stream_threshold_bytes() {
    static const int64_t value = positive_env("NORMKIT_STREAM_BYTES", kStreamBytes);
    return value;
}

// Whether an output of `elements` floats, written in contiguous runs of `run` floats, is streamed: a large output, in
// runs that are long or whole vectors (short misaligned runs, e.g. 196 floats, measured 1.5 times slower streamed:
// each run's head and tail still go through the caches).
inline bool stream_output(int64_t elements, int64_t run) {
    return elements * static_cast<int64_t>(sizeof(float)) >= stream_threshold_bytes() &&
           (run >= 1024 || run % kFloatsPerVector == 0);
}

// Stores kFloatsPerVector floats from v to p (aligned to a vector) with a non-temporal store.
inline void stream_vector(float *p, const float *v) {
#if defined(__AVX512F__)
    _mm512_stream_ps(p, _mm512_loadu_ps(v));
#elif defined(__AVX__)
    _mm256_stream_ps(p, _mm256_loadu_ps(v));
#else
    _mm_stream_ps(p, _mm_loadu_ps(v));
#endif
}

// Orders a thread's non-temporal stores before what follows (call once per thread after its streamed writes).
inline void stream_fence() { _mm_sfence(); }

// Runs body() as one OpenMP parallel region of `threads` threads, or directly on the calling thread when threads is 1.
// Entering a region costs about 1.2 us with libgomp even when an if clause keeps it to one thread (measured on one
// Zen 4 core: a 16-float y = a * x + b took 1.26 us inside `omp parallel for ... if (false)`, 2 ns without; a
// whole small call's time). Called directly, the body's worksharing constructs (omp for, barrier) run orphaned, as a
// team of one, for about 10 ns each.
template <class Body>
inline void parallel_region(int64_t threads, Body body) {
    if (threads <= 1) {
        body();
        return;
    }
#pragma omp parallel num_threads(threads)
    body();
}

// Calls body(i) for i < count on `threads` OpenMP threads (static schedule: each thread a contiguous range); with
// `stream`, each thread fences its streaming stores when done.
template <class Body>
inline void parallel_for(int64_t count, int64_t threads, bool stream, Body body) {
    parallel_region(threads, [&] {
#pragma omp for schedule(static) nowait
        for (int64_t i = 0; i < count; ++i) body(i);
        if (stream) stream_fence();
    });
}

// Channels-last images of more than split_image_bytes() bytes (x, or x and dy), on several threads, are split by
// rows: every thread takes its share of each image's rows, so that the share stays in its core's L2 from the sums to
// the output and the image is read from memory once, instead of an image per thread, which reads it twice when it
// does not fit L2 (and which splits the groups of fewer images than threads: rows of a few channels, C floats apart).
// Xeon VM (2 MB L2 per core), 2 threads, C ABI, median us, image per thread -> split: (8, 256, 56, 56), 3.2 MB images,
// group-norm forward 1195-1198 -> 1089-1169, backward 2068-2175 -> 1888-1921, instance norm 1193-1208 -> 1099-1104
// and 2071-2082 -> 1899-1924; (1, 256, 56, 56) group-norm forward 282-284 -> 135-139, backward 353-359 -> 225-231;
// (8, 96, 56, 56), 1.2 MB, forward the same, backward 674-689 -> 621-629; 512 KB images the same either way. The
// sums of a share are partials that every thread adds in thread order, so the bits depend on the thread count, as
// the other partitions' do.
constexpr int64_t kSplitImageBytes = int64_t{1} << 20;

// The environment variable NORMKIT_SPLIT_IMAGE_BYTES, read once, replaces kSplitImageBytes: the test suite sets it low
// so that its modest images run the split.
inline int64_t split_image_bytes() {
    static const int64_t value = positive_env("NORMKIT_SPLIT_IMAGE_BYTES", kSplitImageBytes);
    return value;
}

// Whether images of `values` floats of each of `inputs` tensors are split by rows on `threads` threads.
inline bool split_images(int64_t values, int64_t inputs, int64_t threads) {
    return threads > 1 && values * inputs * static_cast<int64_t>(sizeof(float)) > split_image_bytes();
}

// For each of `images` images of `rows` rows in turn, on `threads` threads: sums(n, slot, t, r0, r1) over thread t's
// rows [r0, r1), a barrier, then output(n, slot, nt, t, r0, r1), which reads the partials of all nt threads and writes
// thread t's rows. Partials of consecutive images go to alternating slots (0, 1): a thread that starts the next
// image's sums cannot overwrite partials that another thread is still adding up. With `stream`, each thread fences
// its streaming stores at the end.
template <class Sums, class Output>
inline void for_each_split_image(int64_t images, int64_t rows, int64_t threads, bool stream, Sums sums, Output output) {
    parallel_region(threads, [&] {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t r0, r1;
        split(rows, nt, t, &r0, &r1);
        for (int64_t n = 0; n < images; ++n) {
            sums(n, n % 2, t, r0, r1);
#pragma omp barrier
            output(n, n % 2, nt, t, r0, r1);
        }
        if (stream) stream_fence();
    });
}

// Small sets in groups. A set's sums, its coefficients (a chain of dependent reductions, a square root, divisions)
// and its output run one after the other; over a group of consecutive small sets each step runs for all of them
// first, so that the out-of-order core overlaps the coefficient chains of different sets. Every set's arithmetic is
// unchanged (the same bits). (32, 64, 14, 14) on one Zen 5 core: instance-norm forward 75-80 -> 62 us, group-norm
// forward (32 groups) 62-64 -> 53-54 us, group-norm backward on 2 threads 72-75 -> 67-70 us (on 1 no change). Only
// sets up to kSetGroupBytes together are grouped, so that the output pass still reads them from L1, and never so many
// that a thread is left without a group.
constexpr int64_t kSetsPerGroup = 8;
constexpr int64_t kSetGroupBytes = int64_t{16} << 10;

// The number of sets in each group of for_each_set_group (the last may have fewer).
inline int64_t sets_per_group(int64_t total, int64_t set_values, int64_t threads) {
    const int64_t fit = kSetGroupBytes / std::max<int64_t>(1, set_values * static_cast<int64_t>(sizeof(float)));
    return std::max<int64_t>(1, std::min({kSetsPerGroup, fit, (total + threads - 1) / threads}));
}

// Calls group(first, count) for groups of count <= kSetsPerGroup consecutive sets [first, first + count) of `total`
// sets of `set_values` floats each, in parallel on `threads` threads; with `stream`, each thread fences its streaming
// stores at the end.
template <class Group>
inline void for_each_set_group(int64_t total, int64_t set_values, int64_t threads, bool stream, Group group) {
    const int64_t per_group = sets_per_group(total, set_values, threads);
    parallel_for((total + per_group - 1) / per_group, threads, stream, [&](int64_t i) {
        const int64_t first = i * per_group;
        group(first, std::min(per_group, total - first));
    });
}

// out[i] = f(i) for i < n, vectorized; with `stream`, every whole vector-aligned vector goes out with a
// non-temporal store (the caller then calls stream_fence() before its thread's work ends). f computes the same
// expression either way. An `out` that is not float-aligned (which Java refuses, but a C caller may pass) has no
// vector-aligned vectors, and a non-temporal store to it would fault: it is stored normally.
template <class F>
inline void write_run(float *out, int64_t n, bool stream, F f) {
    int64_t i = 0;
    if (stream && reinterpret_cast<uintptr_t>(out) % sizeof(float) == 0) {
        const int64_t offset = static_cast<int64_t>(reinterpret_cast<uintptr_t>(out) / sizeof(float)) % kFloatsPerVector;
        const int64_t head = std::min(n, offset ? kFloatsPerVector - offset : 0);
#pragma omp simd
        for (int64_t j = 0; j < head; ++j) out[j] = f(j);
        for (i = head; i + kFloatsPerVector <= n; i += kFloatsPerVector) {
            float v[kFloatsPerVector];
#pragma omp simd
            for (int64_t j = 0; j < kFloatsPerVector; ++j) v[j] = f(i + j);
            stream_vector(out + i, v);
        }
    }
#pragma omp simd
    for (int64_t j = i; j < n; ++j) out[j] = f(j);
}

// Coefficients of an output that is affine in x: y = (x - m) * a + b. Subtracting m (a float close to the set's
// mean) first keeps the rounding error relative to |y| rather than to |x| * |a|, which for a set with |mean| >> std
// is far larger (x * a + (b - m * a) cancels); the rest of the exact mean goes into b.
struct affine {
    float m, a, b;
};

// Coefficients of a gradient that is affine in (dy, x): dx = a * dy + b * (x - m) + c, m the set's saved mean.
struct gradient_affine {
    float a, b, c, m;
};

// y = (x - mean) * rstd * gamma + beta as (x - m) * scale + shift: scale = gamma * rstd, m = mean rounded to float,
// shift = beta + (m - mean) * scale. gamma_c and beta_c are the set's parameters (1 and 0 without affine).
inline affine fold(double mean, double rstd, double gamma_c, double beta_c) {
    const double scale = gamma_c * rstd;
    const float m = static_cast<float>(mean);
    return {m, static_cast<float>(scale), static_cast<float>(beta_c + (m - mean) * scale)};
}

// 1 / sqrt(var + eps).
inline double rstd_of(double var, double eps) { return 1 / std::sqrt(var + eps); }

// y = (x - m) * a + b over a run.
inline void run_affine(const float *x, float *y, int64_t n, affine k, bool stream = false) {
    write_run(y, n, stream, [&](int64_t i) { return (x[i] - k.m) * k.a + k.b; });
}

// The order in which a block's output pass visits its rows; the results are the same either way. A pass that
// follows the sums pass over the same image (group and instance norm channels-last) goes from the last row back
// when at least half of the block (its inputs' rows) fits in a core's L2 (after_sums_order): the rows read last are
// the likeliest still there. Over (8, 256, 56, 56), a 3.2 MB image per block, on a Xeon VM with 2 MB of L2 per core,
// median ms, first to last -> last to first: group norm forward 2.89-2.97 -> 2.49-2.66 (1 thread), 1.50 -> 1.31-1.35
// (2, 1.6 MB halves of split images); backward 4.64-4.68 -> 4.30 (6.4 MB of x and dy); instance norm alike. On a
// Zen 4 VM with 1 MB of L2 per core, where little of a bigger block is left in L2, going back cost more than it
// saved (one process alternating the builds in blocks of 5 calls, median time first to last / last to first, with
// the L2 prefetch of prefetch_row_ahead): (8, 256, 56, 56) on 1 thread, group norm forward 0.79-0.88 (3.2 MB),
// backward 0.73-0.85 (6.4 MB), instance norm 0.86-0.87 and 0.79-0.82; on 2 threads, backward (3.2 MB halves) group
// norm 0.84-0.92, instance norm 0.88-0.95, but forward (1.6 MB halves) 0.90-1.06; (8, 128, 56, 56) group-norm
// backward on 1 thread (3.2 MB) 0.81-0.83. The seed's (32, 64, 14, 14), 50 KB images: 0.97-1.05. The bound of twice
// L2 keeps the Xeon's measured gains but one: its 1-thread backward (6.4 MB, 3.2 times its L2) now goes first to
// last, 8% slower there when measured with the L1 prefetch of that time (not measured since). Batch norm's blocks
// span the whole batch (25.7 MB), where the reverse order measured slower (forward 2.82-2.98 -> 2.88-3.29 ms).
enum class row_order { first_to_last, last_to_first };

// A core's L2 in bytes, as the OS reports it (sysconf; on these VMs it is the guest's true per-core L2, unlike the
// L3 size), or 1 MiB if it reports none.
inline int64_t l2_cache_bytes() {
    static const int64_t value = [] {
        const long reported = sysconf(_SC_LEVEL2_CACHE_SIZE);
        return reported > 0 ? static_cast<int64_t>(reported) : int64_t{1} << 20;
    }();
    return value;
}

// The row order of an output pass right after a sums pass over the same block: `rows` rows of `width` floats of
// each of `inputs` tensors (x, or x and dy); see row_order.
inline row_order after_sums_order(int64_t rows, int64_t width, int64_t inputs) {
    const int64_t bytes = rows * width * inputs * static_cast<int64_t>(sizeof(float));
    return bytes <= 2 * l2_cache_bytes() ? row_order::last_to_first : row_order::first_to_last;
}

// Row i of `rows` visited i-th in `order`.
inline int64_t row_at(row_order order, int64_t rows, int64_t i) {
    return order == row_order::last_to_first ? rows - 1 - i : i;
}

// y = (x - m[j]) * a[j] + b[j] for each channel j < w of a block.
inline void block_affine(const float *x, float *y, int64_t stride, int64_t rows, int64_t w, const float *m,
                         const float *a, const float *b, bool stream = false,
                         row_order order = row_order::first_to_last) {
    for (int64_t i = 0; i < rows; ++i) {
        const int64_t r = row_at(order, rows, i);
        const float *xr = x + r * stride;
        write_run(y + r * stride, w, stream, [&](int64_t j) { return (xr[j] - m[j]) * a[j] + b[j]; });
    }
}

// The training gradient of a set of n values with mean `mean` and 1 / std `rstd`, for a channel of parameter gamma_c,
// from sum_dy = sum(dy) and sum_dy_u = sum(dy * (x - mean)) over the set: with xhat = (x - mean) * rstd, g = dy * gamma,
//   dx = rstd / n * (n * g - sum(g) - xhat * sum(g * xhat))
//      = a * dy + b * (x - mean) + c,  a = gamma * rstd, b = -a * rstd^2 * sum_dy_u / n, c = -a * sum_dy / n.
// The kernels subtract m = mean rounded to float, so c also carries b * (m - mean): for a set whose std is tiny
// beside |mean|, that rounding is a large part of x - m. A set of one value has dx = 0 exactly (xhat = 0 and
// dy = sum(dy)); the coefficients say so instead of leaving a * dy + c to cancel in float.
inline gradient_affine training_gradient(double gamma_c, double mean, double rstd, double sum_dy, double sum_dy_u,
                                         int64_t n) {
    const float m = static_cast<float>(mean);
    if (n == 1) return {0.0f, 0.0f, 0.0f, m};
    const double a = gamma_c * rstd, count = static_cast<double>(n);
    const double b = -a * rstd * rstd * sum_dy_u / count;
    return {static_cast<float>(a), static_cast<float>(b), static_cast<float>(-a * sum_dy / count + b * (m - mean)), m};
}

// dx = a * dy + b * (x - m) + c over a run.
inline void run_gradient_affine(const float *dy, const float *x, float *dx, int64_t n, gradient_affine k,
                                bool stream = false) {
    write_run(dx, n, stream, [&](int64_t i) { return k.a * dy[i] + k.b * (x[i] - k.m) + k.c; });
}

// dx = a[j] * dy + b[j] * (x - m[j]) + c[j] for each channel j < w of a block.
inline void block_gradient_affine(const float *dy, const float *x, float *dx, int64_t stride, int64_t rows, int64_t w,
                                  const float *a, const float *b, const float *c, const float *m,
                                  bool stream = false, row_order order = row_order::first_to_last) {
    for (int64_t i = 0; i < rows; ++i) {
        const int64_t r = row_at(order, rows, i);
        const float *dyr = dy + r * stride, *xr = x + r * stride;
        write_run(dx + r * stride, w, stream,
                  [&](int64_t j) { return a[j] * dyr[j] + b[j] * (xr[j] - m[j]) + c[j]; });
    }
}

// ---------------------------------------------------------------------- elementwise parameters (layer norm)

// y = ((x - m) * a + b) * gamma[i] + beta[i] over a run: a set's normalization (m, a, b from fold with gamma 1 and
// beta 0) followed by elementwise parameters.
inline void run_elementwise_affine(const float *x, float *y, int64_t n, affine k, const float *gamma,
                                   const float *beta, bool stream) {
    write_run(y, n, stream, [&](int64_t i) { return ((x[i] - k.m) * k.a + k.b) * gamma[i] + beta[i]; });
}

// dx = a * w[i] * dy + b * (x - m) + c over a run (w: elementwise gamma).
inline void run_weighted_gradient_affine(const float *dy, const float *x, float *dx, int64_t n, gradient_affine k,
                                         const float *w, bool stream) {
    write_run(dx, n, stream, [&](int64_t i) { return k.a * w[i] * dy[i] + k.b * (x[i] - k.m) + k.c; });
}

// y = ((x - m[j]) * a[j] + b[j]) * gamma[r] + beta[r] for each channel j < w of a block (parameters per row).
inline void block_row_affine(const float *x, float *y, int64_t stride, int64_t rows, int64_t w, const float *m,
                             const float *a, const float *b, const float *gamma, const float *beta, bool stream) {
    for (int64_t r = 0; r < rows; ++r) {
        const float *xr = x + r * stride;
        const float g = gamma[r], h = beta[r];
        write_run(y + r * stride, w, stream, [&](int64_t j) { return ((xr[j] - m[j]) * a[j] + b[j]) * g + h; });
    }
}

// dx = a[j] * w[r] * dy + b[j] * (x - m[j]) + c[j] for each channel j < w of a block (w: gamma per row).
inline void block_row_gradient_affine(const float *dy, const float *x, float *dx, int64_t stride, int64_t rows,
                                      int64_t width, const float *a, const float *b, const float *c, const float *m,
                                      const float *w, bool stream) {
    for (int64_t r = 0; r < rows; ++r) {
        const float *dyr = dy + r * stride, *xr = x + r * stride;
        const float wr = w[r];
        write_run(dx + r * stride, width, stream,
                  [&](int64_t j) { return a[j] * wr * dyr[j] + b[j] * (xr[j] - m[j]) + c[j]; });
    }
}

// Adds each row's share of per-row parameter gradients over channels j < w of a block:
// dgamma[r] += sum_j dy * (x - mean[j]) * rstd[j], dbeta[r] += sum_j dy.
inline void block_row_parameter_gradients(const float *x, const float *dy, int64_t stride, int64_t rows, int64_t w,
                                          const double *mean, const double *rstd, double *dgamma, double *dbeta) {
    for (int64_t r = 0; r < rows; ++r) {
        const float *xr = x + r * stride, *dyr = dy + r * stride;
        double g = 0, h = 0;
#pragma omp simd reduction(+ : g, h)
        for (int64_t j = 0; j < w; ++j) {
            g += dyr[j] * (static_cast<double>(xr[j]) - mean[j]) * rstd[j];
            h += dyr[j];
        }
        dgamma[r] += g;
        dbeta[r] += h;
    }
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
