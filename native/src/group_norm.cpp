// Group normalization (Wu & He, 2018): the C channels split into G groups of Cg = C / G consecutive channels; one
// statistics set per (n, g) over its Cg * S values, n_set = Cg * S; per-channel gamma and beta.
//
//   forward:  mean, var (biased) per set; y = (x - mean) * rstd * gamma[c] + beta[c], computed per channel as
//             (x - m) * scale_c + shift_c (fold in set_primitives.h)
//   backward: per channel of a set, sum_dy_c = sum(dy) and sum_dy_u_c = sum(dy * (x - mean)); per set
//             A = sum_c gamma_c * sum_dy_c, B = sum_c gamma_c * sum_dy_u_c (the sums of g = dy * gamma and g * u):
//             dx = gamma_c * rstd * dy + b * (x - mean) + c,  b = -rstd^3 * B / n_set, c = -rstd * A / n_set
//             (training_gradient with gamma 1 for b and c); dgamma[c] = sum over n of rstd * sum_dy_u_c,
//             dbeta[c] = sum over n of sum_dy_c, the per-(n, c) shares added in n order.
//
// Work items, in parallel:
//  - channels-first: a set is one run of Cg * S contiguous values (its channels' runs of S one after the other);
//    an item is up to kSetsPerGroup consecutive sets, each read once for the sums and again (from L1/L2) for the
//    output;
//  - channels-last: an image is S rows of C channels; an item is one image (or, with fewer images than threads, a
//    block of whole groups of it) across its S rows, vectorized across channels; the second read hits L2 when the
//    image fits there, and it goes from the last row back, so that a part of an image up to twice L2 still does
//    (after_sums_order; a bigger one goes first to last, where the prefetchers run best). On several
//    threads, an image too big for that (split_images) is split instead: each thread sums its share of the image's
//    rows, the threads' partial sums are added in thread order, and each writes its share's output from its L2.
// (N, C, 1) runs as channels-last, (N, C, S) with C = 1 as channels-first: same memory either way.
#include <algorithm>
#include <cmath>

#include <omp.h>

#include "kernels.h"
#include "scratch.h"
#include "set_primitives.h"

namespace nk {
namespace NK_ISA_NAMESPACE {
namespace {

struct shape {
    int64_t n, c, s, groups, cg;
    bool channels_first;
    double eps;
    int64_t set_size() const { return cg * s; }
};

shape shape_of(const group_norm_problem &p) {
    const ncs_problem &x = p.x;
    const bool channels_first = x.c == 1 || (x.layout == NK_LAYOUT_CHANNELS_FIRST && x.s > 1);
    return {x.n, x.c, x.s, p.groups, x.c / p.groups, channels_first, x.eps};
}

// Groups per channels-last block: whole rows (all groups), so that both passes read and write memory contiguously
// (blocks of a few groups, which would keep a big image's block in L2 for the second read, measured up to 2.5
// times slower: their rows are C floats apart); fewer when there are fewer images than threads.
int64_t groups_per_block(const shape &p, int64_t threads) {
    int64_t gpb = p.groups;
    const int64_t per_image = (threads + p.n - 1) / p.n;  // blocks each image should give to keep threads busy
    if (per_image > 1) gpb = std::max<int64_t>(1, std::min(gpb, (p.groups + per_image - 1) / per_image));
    return gpb;
}

// Calls item(n, g0, gb) for every block of gb groups g0 .. g0 + gb - 1 of image n, in parallel; with `stream`, each
// thread fences its streaming stores at the end.
template <class Item>
void for_each_block(const shape &p, int64_t gpb, int64_t threads, bool stream, Item item) {
    const int64_t blocks = (p.groups + gpb - 1) / gpb;
    parallel_for(p.n * blocks, threads, stream, [&](int64_t i) {
        const int64_t n = i / blocks, g0 = i % blocks * gpb;
        item(n, g0, std::min(gpb, p.groups - g0));
    });
}

// The parameter of channel c, or `fallback` without parameters.
inline double param(const float *v, int64_t c, double fallback) { return v ? v[c] : fallback; }

// A split image's totals (for_each_split_image): out[j] = the sum over threads i < nt of part[i * stride + j], for
// j < count, added in thread order.
void add_thread_partials(const double *part, int64_t stride, int64_t nt, int64_t count, double *out) {
    for (int64_t j = 0; j < count; ++j) {
        double total = 0;
        for (int64_t i = 0; i < nt; ++i) total += part[i * stride + j];
        out[j] = total;
    }
}

}  // namespace

void group_norm_forward(const group_norm_problem &problem, const float *src, const float *gamma, const float *beta,
                        float *dst, float *mean, float *var) {
    const shape p = shape_of(problem);
    const int64_t threads = threads_for(p.n * p.c * p.s), n_set = p.set_size();
    // A set's statistics from its sums shifted by k; writes them and returns (mean, rstd).
    // (`record` false: a split image's thread other than the first, which computes the same statistics)
    auto finish = [&](int64_t n, int64_t g, double k, shifted_sums sums, double *rstd, bool record) {
        const moments m = moments_from(k, sums, n_set);
        const double v = m.m2 / static_cast<double>(n_set);
        if (record) {
            mean[n * p.groups + g] = static_cast<float>(m.mean);
            var[n * p.groups + g] = static_cast<float>(v);
        }
        *rstd = rstd_of(v, p.eps);
        return m.mean;
    };
    // Channels-last: a block of w channels from x (w = gb * Cg, whole groups) gets its shifts k (each group's first
    // value) and zeroed sums.
    auto start_block = [&](const float *x, int64_t w, double *k, double *s1, double *s2) {
        for (int64_t j = 0; j < w; ++j) {
            k[j] = x[j / p.cg * p.cg];
            s1[j] = s2[j] = 0;
        }
    };
    // ... and, from its channels' sums, the statistics of its gb groups from g0 of image n and its coefficients m, a,
    // b.
    auto block_coefficients = [&](int64_t n, int64_t g0, int64_t gb, const double *k, const double *s1,
                                  const double *s2, float *m, float *a, float *b, bool record) {
        const int64_t c0 = g0 * p.cg;
        for (int64_t gi = 0; gi < gb; ++gi) {
            shifted_sums total{0, 0};
            for (int64_t j = gi * p.cg; j < (gi + 1) * p.cg; ++j) {
                total.s1 += s1[j];
                total.s2 += s2[j];
            }
            double rstd;
            const double mu = finish(n, g0 + gi, k[gi * p.cg], total, &rstd, record);
            for (int64_t j = gi * p.cg; j < (gi + 1) * p.cg; ++j) {
                const affine f = fold(mu, rstd, param(gamma, c0 + j, 1), param(beta, c0 + j, 0));
                m[j] = f.m;
                a[j] = f.a;
                b[j] = f.b;
            }
        }
    };
    const bool stream = stream_output(p.n * p.c * p.s, p.channels_first ? p.s : p.c);
    if (p.channels_first) {
        for_each_set_group(p.n * p.groups, n_set, threads, stream, [&](int64_t first, int64_t count) {
            shifted_sums sums[kSetsPerGroup];
            double mu[kSetsPerGroup], rstd[kSetsPerGroup];
            for (int64_t i = 0; i < count; ++i) {
                const float *x = src + (first + i) * n_set;
                sums[i] = run_shifted_sums(x, n_set, x[0]);
            }
            for (int64_t i = 0; i < count; ++i) {
                const int64_t set = first + i;
                mu[i] = finish(set / p.groups, set % p.groups, src[set * n_set], sums[i], &rstd[i], true);
            }
            for (int64_t i = 0; i < count; ++i) {
                const int64_t set = first + i, g = set % p.groups;
                for (int64_t j = 0; j < p.cg; ++j) {
                    const int64_t c = g * p.cg + j, o = set * n_set + j * p.s;
                    run_affine(src + o, dst + o, p.s, fold(mu[i], rstd[i], param(gamma, c, 1), param(beta, c, 0)),
                               stream);
                }
            }
        });
        return;
    }
    if (split_images(p.s * p.c, 1, threads)) {
        // Per thread: shifts, totals and partial sums of all C channels (7 C doubles), coefficients m, a, b.
        const int64_t dn = 7 * p.c, fn = 3 * p.c, ds = thread_stride<double>(dn), fs = thread_stride<float>(fn);
        scratch_plan plan;
        const size_t doubles = plan.add_thread_slices<double>(dn, threads);
        const size_t floats = plan.add_thread_slices<float>(fn, threads);
        plan.allocate();
        double *base = plan.get<double>(doubles);
        // thread t's shifts (C), totals s1, s2 (2 C), then its partials of each slot (s1, then s2)
        auto partials_of = [&](int64_t t, int64_t slot) { return base + ds * t + p.c * (3 + 2 * slot); };
        for_each_split_image(
            p.n, p.s, threads, stream,
            [&](int64_t n, int64_t slot, int64_t t, int64_t r0, int64_t r1) {
                const float *x = src + n * p.s * p.c;
                double *s1 = partials_of(t, slot), *s2 = s1 + p.c;
                start_block(x, p.c, base + ds * t, s1, s2);
                block_shifted_sums(x + r0 * p.c, p.c, r1 - r0, p.c, base + ds * t, s1, s2);
            },
            [&](int64_t n, int64_t slot, int64_t nt, int64_t t, int64_t r0, int64_t r1) {
                const double *k = base + ds * t;
                double *s1 = base + ds * t + p.c;
                float *m = plan.get<float>(floats) + fs * t, *a = m + p.c, *b = a + p.c;
                add_thread_partials(partials_of(0, slot), ds, nt, 2 * p.c, s1);
                block_coefficients(n, 0, p.groups, k, s1, s1 + p.c, m, a, b, t == 0);
                block_affine(src + (n * p.s + r0) * p.c, dst + (n * p.s + r0) * p.c, p.c, r1 - r0, p.c, m, a, b,
                             stream, after_sums_order(r1 - r0, p.c, 1));
            });
        return;
    }
    const int64_t gpb = groups_per_block(p, threads);
    // Per block: shifts, sums and coefficients of up to gpb * Cg channels.
    const int64_t width = gpb * p.cg, ds = thread_stride<double>(3 * width), fs = thread_stride<float>(3 * width);
    scratch_plan plan;
    const size_t doubles = plan.add_thread_slices<double>(3 * width, threads);
    const size_t floats = plan.add_thread_slices<float>(3 * width, threads);
    plan.allocate();
    for_each_block(p, gpb, threads, stream, [&](int64_t n, int64_t g0, int64_t gb) {
        const int64_t t = omp_get_thread_num(), w = gb * p.cg, c0 = g0 * p.cg;
        double *k = plan.get<double>(doubles) + ds * t, *s1 = k + width, *s2 = s1 + width;
        float *m = plan.get<float>(floats) + fs * t, *a = m + width, *b = a + width;
        const float *x = src + n * p.s * p.c + c0;
        start_block(x, w, k, s1, s2);
        block_shifted_sums(x, p.c, p.s, w, k, s1, s2);
        block_coefficients(n, g0, gb, k, s1, s2, m, a, b, true);
        block_affine(x, dst + n * p.s * p.c + c0, p.c, p.s, w, m, a, b, stream, after_sums_order(p.s, w, 1));
    });
}

void group_norm_backward(const group_norm_problem &problem, const float *src, const float *diff_dst,
                         const float *gamma, const float *mean, const float *var, float *diff_src, float *diff_gamma,
                         float *diff_beta) {
    const shape p = shape_of(problem);
    const int64_t threads = threads_for(p.n * p.c * p.s), n_set = p.set_size();
    const bool want_params = diff_gamma != nullptr || diff_beta != nullptr;
    scratch_plan plan;
    // per (n, c): sum(dy * u) and sum(dy), for dgamma and dbeta
    const size_t partial = plan.add<double>(want_params ? 2 * p.n * p.c : 0);
    // per thread: a block's (or a channels-first group of sets') means and sums, and its coefficients
    const int64_t sets = p.n * p.groups;
    const bool split = !p.channels_first && split_images(p.s * p.c, 2, threads);
    const int64_t gpb = p.channels_first ? sets_per_group(sets, n_set, threads) : groups_per_block(p, threads);
    const int64_t width = split ? p.c : gpb * p.cg;
    // per thread: means, sum_dy, sum_dy_u of a block; split images: also partial sum_dy, sum_dy_u in two slots
    const int64_t dn = (split ? 7 : 3) * width, fn = 4 * width;
    const int64_t ds = thread_stride<double>(dn), fs = thread_stride<float>(fn);
    const size_t doubles = plan.add_thread_slices<double>(dn, threads);
    const size_t floats = plan.add_thread_slices<float>(p.channels_first ? 0 : fn, threads);
    plan.allocate();
    double *shares = plan.get<double>(partial);
    // Coefficients of the set (n, g) from its channels' sums (sum_dy[j], sum_dy_u[j] for its Cg channels from
    // channel c0 = g * Cg): the shared b, c and mean; keeps the per-channel shares for dgamma and dbeta.
    // (`record` false: a split image's thread other than the first, which computes the same coefficients)
    auto set_gradient = [&](int64_t n, int64_t g, const double *sum_dy, const double *sum_dy_u, double *rstd_out,
                            bool record) {
        const double mu = mean[n * p.groups + g], rstd = rstd_of(var[n * p.groups + g], p.eps);
        double total_g = 0, total_gu = 0;
        for (int64_t j = 0; j < p.cg; ++j) {
            const int64_t c = g * p.cg + j;
            const double gamma_c = param(gamma, c, 1);
            total_g += gamma_c * sum_dy[j];
            total_gu += gamma_c * sum_dy_u[j];
            if (want_params && record) {
                shares[2 * (n * p.c + c)] = rstd * sum_dy_u[j];
                shares[2 * (n * p.c + c) + 1] = sum_dy[j];
            }
        }
        *rstd_out = n_set == 1 ? 0.0 : rstd;  // a set of one value has dx = 0 (see training_gradient)
        return training_gradient(1.0, mu, rstd, total_g, total_gu, n_set);
    };
    // Channels-last: a block of w channels (whole groups from g0) of image n gets its means and zeroed sums ...
    auto start_block = [&](int64_t n, int64_t g0, int64_t w, double *mu, double *sum_dy, double *sum_dy_u) {
        for (int64_t j = 0; j < w; ++j) {
            mu[j] = mean[n * p.groups + g0 + j / p.cg];
            sum_dy[j] = sum_dy_u[j] = 0;
        }
    };
    // ... and, from its channels' sums, the coefficients a, b, c, m of its gb groups.
    auto block_coefficients = [&](int64_t n, int64_t g0, int64_t gb, const double *sum_dy, const double *sum_dy_u,
                                  float *a, float *b, float *c, float *m, bool record) {
        const int64_t c0 = g0 * p.cg;
        for (int64_t gi = 0; gi < gb; ++gi) {
            const int64_t j0 = gi * p.cg;
            double rstd;
            const gradient_affine k = set_gradient(n, g0 + gi, sum_dy + j0, sum_dy_u + j0, &rstd, record);
            for (int64_t j = j0; j < j0 + p.cg; ++j) {
                a[j] = static_cast<float>(param(gamma, c0 + j, 1) * rstd);
                b[j] = k.b;
                c[j] = k.c;
                m[j] = k.m;
            }
        }
    };
    const bool stream = stream_output(p.n * p.c * p.s, p.channels_first ? p.s : p.c);
    if (p.channels_first) {
        // Each step for a group of sets before the next (for_each_set_group), as in the forward pass. Over
        // (32, 64, 14, 14) in 32 groups, separate processes: 2 threads 72-75 -> 67-70 us; 1 thread unchanged within
        // the noise of two builds (104-108 against 107-111 us, and the other way round in a first comparison).
        for_each_set_group(sets, n_set, threads, stream, [&](int64_t first, int64_t count) {
            double *sum_dy = plan.get<double>(doubles) + ds * omp_get_thread_num(), *sum_dy_u = sum_dy + width;
            gradient_affine k[kSetsPerGroup];
            double rstd[kSetsPerGroup];
            for (int64_t i = 0; i < count; ++i) {
                for (int64_t j = 0; j < p.cg; ++j) {
                    const int64_t o = (first + i) * n_set + j * p.s;
                    const gradient_sums sums = run_gradient_sums(src + o, diff_dst + o, p.s, mean[first + i]);
                    sum_dy[i * p.cg + j] = sums.dy;
                    sum_dy_u[i * p.cg + j] = sums.dy_u;
                }
            }
            for (int64_t i = 0; i < count; ++i) {
                const int64_t set = first + i;
                k[i] = set_gradient(set / p.groups, set % p.groups, sum_dy + i * p.cg, sum_dy_u + i * p.cg, &rstd[i],
                                    true);
            }
            for (int64_t i = 0; i < count; ++i) {
                const int64_t set = first + i, g = set % p.groups;
                for (int64_t j = 0; j < p.cg; ++j) {
                    const int64_t o = set * n_set + j * p.s;
                    const float a = static_cast<float>(param(gamma, g * p.cg + j, 1) * rstd[i]);
                    run_gradient_affine(diff_dst + o, src + o, diff_src + o, p.s, {a, k[i].b, k[i].c, k[i].m}, stream);
                }
            }
        });
    } else if (split) {
        double *base = plan.get<double>(doubles);
        // thread t's means (C), totals sum_dy, sum_dy_u (2 C), then its partials of each slot (sum_dy, then sum_dy_u)
        auto partials_of = [&](int64_t t, int64_t slot) { return base + ds * t + p.c * (3 + 2 * slot); };
        for_each_split_image(
            p.n, p.s, threads, stream,
            [&](int64_t n, int64_t slot, int64_t t, int64_t r0, int64_t r1) {
                const int64_t offset = (n * p.s + r0) * p.c;
                double *mu = base + ds * t, *sum_dy = partials_of(t, slot), *sum_dy_u = sum_dy + p.c;
                start_block(n, 0, p.c, mu, sum_dy, sum_dy_u);
                block_gradient_sums(src + offset, diff_dst + offset, p.c, r1 - r0, p.c, mu, sum_dy, sum_dy_u);
            },
            [&](int64_t n, int64_t slot, int64_t nt, int64_t t, int64_t r0, int64_t r1) {
                const int64_t offset = (n * p.s + r0) * p.c;
                double *sum_dy = base + ds * t + p.c;
                float *a = plan.get<float>(floats) + fs * t, *b = a + p.c, *c = b + p.c, *m = c + p.c;
                add_thread_partials(partials_of(0, slot), ds, nt, 2 * p.c, sum_dy);
                block_coefficients(n, 0, p.groups, sum_dy, sum_dy + p.c, a, b, c, m, t == 0);
                block_gradient_affine(diff_dst + offset, src + offset, diff_src + offset, p.c, r1 - r0, p.c, a, b, c,
                                      m, stream, after_sums_order(r1 - r0, p.c, 2));
            });
    } else {
        for_each_block(p, gpb, threads, stream, [&](int64_t n, int64_t g0, int64_t gb) {
            const int64_t t = omp_get_thread_num(), w = gb * p.cg, c0 = g0 * p.cg;
            double *mu = plan.get<double>(doubles) + ds * t, *sum_dy = mu + width, *sum_dy_u = sum_dy + width;
            float *a = plan.get<float>(floats) + fs * t, *b = a + width, *c = b + width, *m = c + width;
            const int64_t offset = n * p.s * p.c + c0;
            start_block(n, g0, w, mu, sum_dy, sum_dy_u);
            block_gradient_sums(src + offset, diff_dst + offset, p.c, p.s, w, mu, sum_dy, sum_dy_u);
            block_coefficients(n, g0, gb, sum_dy, sum_dy_u, a, b, c, m, true);
            block_gradient_affine(diff_dst + offset, src + offset, diff_src + offset, p.c, p.s, w, a, b, c, m, stream,
                                  after_sums_order(p.s, w, 2));
        });
    }
    if (!want_params) return;
    for (int64_t c = 0; c < p.c; ++c) {
        double dg = 0, db = 0;
        for (int64_t n = 0; n < p.n; ++n) {
            dg += shares[2 * (n * p.c + c)];
            db += shares[2 * (n * p.c + c) + 1];
        }
        if (diff_gamma) diff_gamma[c] = static_cast<float>(dg);
        if (diff_beta) diff_beta[c] = static_cast<float>(db);
    }
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
