// Batch normalization (Ioffe & Szegedy, 2015): one statistics set per channel c, over its N * S values.
//
//   training forward:  mean, var (biased) per channel; y = (x - mean) * rstd * gamma[c] + beta[c], rstd =
//                      1 / sqrt(var + eps), computed as y = (x - m) * scale + shift (fold in set_primitives.h)
//   inference forward: the same from the given mean and var
//   training backward: with u = x - mean, per channel (training_gradient in set_primitives.h)
//                      dx = a * dy + b * u + c, a = gamma * rstd, b = -a * rstd^2 * sum(dy * u) / n,
//                      c = -a * sum(dy) / n;  dgamma = rstd * sum(dy * u), dbeta = sum(dy)
//   constant (global) statistics backward: dx = dy * gamma * rstd; dgamma, dbeta as above
//
// Every pass has the same shape: optional per-channel sums over the channel's values, per-channel coefficients
// from the totals (which also writes the statistics or dgamma/dbeta), then an elementwise output from those
// coefficients. A pass (training_forward, inference_forward, backward below) says how to sum a stretch of values,
// how to finish a channel and how to write a stretch of output; run_pass() decides which thread does what, from
// the shape and thread count only, so that results are reproducible for a given thread count.
//
// Channels-first (a channel is N runs of S contiguous values, C * S apart):
//  - by channel (C >= kChannelsPerThread * threads): each thread takes whole channels, summing a channel's runs
//    (in one set of accumulator registers) and then writing its output while they are still in L1/L2 (a channel
//    of N * S floats is read from memory once when it fits there);
//  - by plane (fewer channels, or no sums needed): the sums of every (n, c) plane in parallel, their totals per
//    channel in n order, then every plane's output in parallel.
// Channels-last (rows of C channels, R = N * S rows, C floats apart), vectorized across channels, by row sweeps:
// each thread sums its share of the rows for every channel, the per-thread partials are added in thread order, then
// each thread writes its rows' output. x is read twice (from memory when it does not fit in cache); blocks of
// channels across all rows, which would read x once, measured 1.5 to 4 times slower on this machine (a block's rows
// are C floats apart: strided streams that the prefetchers follow badly, for reads and above all for writes).
// Large outputs are written with streaming stores (set_primitives.h: stream_output), which keeps x in cache for
// its second read and saves the output's read-for-ownership.
// An (N, C, 1) tensor is channels-last in either layout, an (N, 1, S) one channels-first.
#include <algorithm>
#include <cmath>

#include <omp.h>

#include "kernels.h"
#include "scratch.h"
#include "set_primitives.h"

namespace nk {
namespace NK_ISA_NAMESPACE {
namespace {

// By-channel partition threshold: at least this many channels per thread (fewer leave threads idle at the end).
constexpr int64_t kChannelsPerThread = 4;

// By-channel blocks: inputs of at most this many bytes (so that the block is still in L2 for its output), and at
// most kMaxBlockChannels channels (their accumulators live on the stack).
constexpr int64_t kChannelBlockBytes = int64_t{512} << 10;
constexpr int64_t kMaxBlockChannels = 16;

// Two per-channel sums (shifted sums s1, s2; or the gradient's sum(dy), sum(dy * u)), added in a fixed order.
struct sums2 {
    double first, second;
};

// The elementwise output's coefficients of one channel: y = (x - m) * a + b (forward), dx = a * dy + b * (x - m) + c
// (training backward) or dx = dy * a (constant-statistics backward).
struct coefficients {
    float m, a, b, c;
};

// The same coefficients for a range of channels, one array each, indexed by channel.
struct coefficient_arrays {
    float *m, *a, *b, *c;

    void set(int64_t j, coefficients k) {
        m[j] = k.m;
        a[j] = k.a;
        b[j] = k.b;
        c[j] = k.c;
    }
};

// ------------------------------------------------------------------------------------------------ the passes

// Training forward: sums are shifted sums, shifted by the channel's first value (center[c]).
struct training_forward {
    const ncs_problem &p;
    const float *src, *gamma, *beta;
    float *dst, *mean, *var;
    const double *center;  // per channel: the shift k of its shifted sums
    bool stream;           // streaming stores for the output

    static constexpr bool kReadsDy = false;
    bool needs_sums() const { return true; }
    double center_of(int64_t c) const { return src[p.layout == NK_LAYOUT_CHANNELS_FIRST ? c * p.s : c]; }

    using lanes = shifted_lanes;
    void add(lanes &a, int64_t c, int64_t offset) const { a.add(src + offset, p.s, center[c]); }
    static sums2 total(const lanes &a) {
        const shifted_sums s = a.sums();
        return {s.s1, s.s2};
    }
    void block_sums(int64_t offset, int64_t rows, int64_t c0, int64_t w, double *s1, double *s2) const {
        block_shifted_sums(src + offset, p.c, rows, w, center + c0, s1, s2);
    }
    coefficients finish(int64_t c, sums2 t) const {
        const moments m = moments_from(center[c], {t.first, t.second}, p.n * p.s);
        const double v = m.m2 / static_cast<double>(p.n * p.s);
        mean[c] = static_cast<float>(m.mean);
        var[c] = static_cast<float>(v);
        const affine f = fold(m.mean, rstd_of(v, p.eps), gamma ? gamma[c] : 1.0, beta ? beta[c] : 0.0);
        return {f.m, f.a, f.b, 0.0f};
    }
    void run_output(int64_t offset, coefficients k) const {
        run_affine(src + offset, dst + offset, p.s, {k.m, k.a, k.b}, stream);
    }
    void block_output(int64_t offset, int64_t rows, int64_t w, coefficient_arrays k) const {
        block_affine(src + offset, dst + offset, p.c, rows, w, k.m, k.a, k.b, stream);
    }
};

// Inference forward: no sums; the coefficients come from the given statistics.
struct inference_forward {
    const ncs_problem &p;
    const float *src, *gamma, *beta, *mean, *var;
    float *dst;
    const double *center;  // unused
    bool stream;

    static constexpr bool kReadsDy = false;
    bool needs_sums() const { return false; }
    double center_of(int64_t) const { return 0; }
    using lanes = shifted_lanes;
    void add(lanes &, int64_t, int64_t) const {}
    static sums2 total(const lanes &) { return {0, 0}; }
    void block_sums(int64_t, int64_t, int64_t, int64_t, double *, double *) const {}
    coefficients finish(int64_t c, sums2) const {
        const affine f = fold(mean[c], rstd_of(var[c], p.eps), gamma ? gamma[c] : 1.0, beta ? beta[c] : 0.0);
        return {f.m, f.a, f.b, 0.0f};
    }
    void run_output(int64_t offset, coefficients k) const {
        run_affine(src + offset, dst + offset, p.s, {k.m, k.a, k.b}, stream);
    }
    void block_output(int64_t offset, int64_t rows, int64_t w, coefficient_arrays k) const {
        block_affine(src + offset, dst + offset, p.c, rows, w, k.m, k.a, k.b, stream);
    }
};

// Backward with batch statistics (training) or constant ones: sums are sum(dy) and sum(dy * (x - mean)).
struct backward {
    const ncs_problem &p;
    const float *src, *diff_dst, *gamma, *mean, *var;
    bool constant_stats;
    float *diff_src, *diff_gamma, *diff_beta;
    const double *center;  // per channel: mean[c]
    bool stream;

    static constexpr bool kReadsDy = true;
    bool needs_sums() const { return !constant_stats || diff_gamma != nullptr || diff_beta != nullptr; }
    double center_of(int64_t c) const { return mean[c]; }

    using lanes = gradient_lanes<false>;
    void add(lanes &a, int64_t c, int64_t offset) const {
        a.add(src + offset, diff_dst + offset, nullptr, p.s, center[c]);
    }
    static sums2 total(const lanes &a) {
        const gradient_sums g = a.sums();
        return {g.dy, g.dy_u};
    }
    void block_sums(int64_t offset, int64_t rows, int64_t c0, int64_t w, double *sum_dy, double *sum_dy_u) const {
        block_gradient_sums(src + offset, diff_dst + offset, p.c, rows, w, center + c0, sum_dy, sum_dy_u);
    }
    coefficients finish(int64_t c, sums2 t) const {
        const double rstd = rstd_of(var[c], p.eps), gamma_c = gamma ? gamma[c] : 1.0;
        if (diff_gamma) diff_gamma[c] = static_cast<float>(rstd * t.second);
        if (diff_beta) diff_beta[c] = static_cast<float>(t.first);
        if (constant_stats) return {0.0f, static_cast<float>(gamma_c * rstd), 0.0f, 0.0f};
        const gradient_affine k = training_gradient(gamma_c, mean[c], rstd, t.first, t.second, p.n * p.s);
        return {k.m, k.a, k.b, k.c};
    }
    void run_output(int64_t offset, coefficients k) const {
        if (constant_stats) {
            run_affine(diff_dst + offset, diff_src + offset, p.s, {0.0f, k.a, 0.0f}, stream);
        } else {
            run_gradient_affine(diff_dst + offset, src + offset, diff_src + offset, p.s, {k.a, k.b, k.c, k.m}, stream);
        }
    }
    void block_output(int64_t offset, int64_t rows, int64_t w, coefficient_arrays k) const {
        if (constant_stats) {  // m, c are zero: dx = (dy - 0) * a + 0
            block_affine(diff_dst + offset, diff_src + offset, p.c, rows, w, k.m, k.a, k.c, stream);
        } else {
            block_gradient_affine(diff_dst + offset, src + offset, diff_src + offset, p.c, rows, w, k.a, k.b, k.c,
                                  k.m, stream);
        }
    }
};

// ------------------------------------------------------------------------------------------ work partitions

// Channels-first, by channel: each thread takes blocks of whole channels (each channel's N runs summed into its own
// accumulators in n order, then the block's output). A block's channels are adjacent, so image n holds the block as
// one contiguous stretch: a block is read as N long streams rather than N short runs per channel (one channel of
// (8, 256, 56, 56): 12.5 KB runs 3.2 MB apart), and is still in L2 for its output.
template <class Pass>
void by_channel(const ncs_problem &p, const Pass &pass, int64_t threads) {
    const int64_t inputs = Pass::kReadsDy ? 2 : 1;
    const int64_t channel_bytes = p.n * p.s * inputs * static_cast<int64_t>(sizeof(float));
    const int64_t width = std::clamp<int64_t>(
        std::min(kChannelBlockBytes / channel_bytes, p.c / (kChannelsPerThread * threads)), 1, kMaxBlockChannels);
    parallel_for((p.c + width - 1) / width, threads, pass.stream, [&](int64_t block) {
        const int64_t c0 = block * width, w = std::min(p.c - c0, width);
        typename Pass::lanes a[kMaxBlockChannels];
        coefficients k[kMaxBlockChannels];
        for (int64_t n = 0; n < p.n; ++n) {
            for (int64_t j = 0; j < w; ++j) pass.add(a[j], c0 + j, (n * p.c + c0 + j) * p.s);
        }
        for (int64_t j = 0; j < w; ++j) k[j] = pass.finish(c0 + j, Pass::total(a[j]));
        for (int64_t n = 0; n < p.n; ++n) {
            for (int64_t j = 0; j < w; ++j) pass.run_output((n * p.c + c0 + j) * p.s, k[j]);
        }
    });
}

// Channels-first, by plane: every plane's sums, then each channel's totals (in n order), then every plane's output.
template <class Pass>
void by_plane(const ncs_problem &p, const Pass &pass, int64_t threads, sums2 *partial, coefficients *k) {
    const int64_t planes = p.n * p.c;
    parallel_region(threads, [&] {
        if (pass.needs_sums()) {
#pragma omp for schedule(static)
            for (int64_t nc = 0; nc < planes; ++nc) {
                typename Pass::lanes a;
                pass.add(a, nc % p.c, nc * p.s);
                partial[nc] = Pass::total(a);
            }
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < p.c; ++c) {
            sums2 t{0, 0};
            if (pass.needs_sums()) {
                for (int64_t n = 0; n < p.n; ++n) {
                    t.first += partial[n * p.c + c].first;
                    t.second += partial[n * p.c + c].second;
                }
            }
            k[c] = pass.finish(c, t);
        }
#pragma omp for schedule(static) nowait
        for (int64_t nc = 0; nc < planes; ++nc) pass.run_output(nc * p.s, k[nc % p.c]);
        if (pass.stream) stream_fence();
    });
}

// Channels-last, row sweeps: per-thread sums over each thread's rows, totals in thread order, then the output.
// partial holds 2 * C doubles per thread, thread_stride(2 * C) apart.
template <class Pass>
void by_row_sweep(const ncs_problem &p, const Pass &pass, int64_t threads, double *partial, coefficient_arrays k) {
    const int64_t rows = p.n * p.s, stride = thread_stride<double>(2 * p.c);
    parallel_region(threads, [&] {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t r0, r1;
        split(rows, nt, t, &r0, &r1);
        if (pass.needs_sums()) {
            double *s1 = partial + stride * t, *s2 = s1 + p.c;
            std::fill(s1, s1 + 2 * p.c, 0.0);
            pass.block_sums(r0 * p.c, r1 - r0, 0, p.c, s1, s2);
#pragma omp barrier
        }
#pragma omp for schedule(static)
        for (int64_t c = 0; c < p.c; ++c) {
            sums2 total{0, 0};
            if (pass.needs_sums()) {
                for (int64_t i = 0; i < nt; ++i) {
                    total.first += partial[stride * i + c];
                    total.second += partial[stride * i + p.c + c];
                }
            }
            k.set(c, pass.finish(c, total));
        }
        pass.block_output(r0 * p.c, r1 - r0, p.c, k);
        if (pass.stream) stream_fence();
    });
}

// The problem with the layout its memory order actually has: (N, 1, S) is channels-first and (N, C, 1)
// channels-last whatever the layout says.
ncs_problem effective(const ncs_problem &p) {
    ncs_problem q = p;
    if (p.c == 1) q.layout = NK_LAYOUT_CHANNELS_FIRST;
    else if (p.s == 1) q.layout = NK_LAYOUT_CHANNELS_LAST;
    return q;
}

// Runs a pass over an effective() problem with the partition chosen for its shape (see the file comment).
template <class Pass>
void run_pass(const ncs_problem &p, Pass pass) {
    enum { BY_CHANNEL, BY_PLANE, BY_ROW_SWEEP } partition;
    const bool sums = pass.needs_sums();
    const int64_t threads = threads_for(p.n * p.c * p.s, sums);
    if (p.layout == NK_LAYOUT_CHANNELS_FIRST) {
        partition = sums && (threads == 1 || p.c >= kChannelsPerThread * threads) ? BY_CHANNEL : BY_PLANE;
    } else {
        partition = BY_ROW_SWEEP;
    }
    scratch_plan plan;
    const size_t centers = plan.add<double>(p.c);
    const size_t partial_sums = plan.add<sums2>(partition == BY_PLANE && sums ? p.n * p.c : 0);
    const size_t partial_doubles =
        plan.add_thread_slices<double>(partition == BY_ROW_SWEEP && sums ? 2 * p.c : 0, threads);
    const size_t coefficient_structs = plan.add<coefficients>(partition == BY_PLANE ? p.c : 0);
    const size_t coefficient_floats = plan.add<float>(partition == BY_ROW_SWEEP ? 4 * p.c : 0);
    plan.allocate();
    double *center = plan.get<double>(centers);
    for (int64_t c = 0; c < p.c; ++c) center[c] = pass.center_of(c);
    pass.center = center;
    pass.stream = stream_output(p.n * p.c * p.s, p.layout == NK_LAYOUT_CHANNELS_FIRST ? p.s : p.c);
    switch (partition) {
        case BY_CHANNEL: by_channel(p, pass, threads); break;
        case BY_PLANE:
            by_plane(p, pass, threads, plan.get<sums2>(partial_sums), plan.get<coefficients>(coefficient_structs));
            break;
        case BY_ROW_SWEEP: {
            float *a = plan.get<float>(coefficient_floats);
            by_row_sweep(p, pass, threads, plan.get<double>(partial_doubles),
                         coefficient_arrays{a, a + p.c, a + 2 * p.c, a + 3 * p.c});
            break;
        }
    }
}

}  // namespace

void batch_norm_forward_training(const batch_norm_problem &p, const float *src, const float *gamma,
                                 const float *beta, float *dst, float *mean, float *var) {
    const ncs_problem q = effective(p);
    run_pass(q, training_forward{q, src, gamma, beta, dst, mean, var, nullptr, false});
}

void batch_norm_forward_inference(const batch_norm_problem &p, const float *src, const float *gamma,
                                  const float *beta, const float *mean, const float *var, float *dst) {
    const ncs_problem q = effective(p);
    run_pass(q, inference_forward{q, src, gamma, beta, mean, var, dst, nullptr, false});
}

void batch_norm_backward(const batch_norm_problem &p, const float *src, const float *diff_dst, const float *gamma,
                         const float *mean, const float *var, bool constant_stats, float *diff_src,
                         float *diff_gamma, float *diff_beta) {
    const ncs_problem q = effective(p);
    run_pass(q, backward{q, src, diff_dst, gamma, mean, var, constant_stats, diff_src, diff_gamma, diff_beta,
                         nullptr, false});
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
