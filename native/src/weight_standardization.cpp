// Weight standardization (Qiao et al., 2019; SCALED: Brock et al., 2021) of O filters of K contiguous values.
//
// Per filter, with u = w - mean and M2 = sum(u^2):
//   SEED:              sigma = sqrt(M2 / (K - 1)), rstd = 1 / (sigma + eps)
//   BATCH_NORM_STYLE:  rstd = 1 / sqrt(M2 / K + eps)
//   SCALED:            rstd as BATCH_NORM_STYLE; f = gain[o] * gamma / sqrt(K) (f = 1 for the other variants)
//   forward:  wHat = u * rstd * f, computed as (w - m) * scale + (m - mean) * scale, m = mean rounded to float
//   backward: with h = f * dwHat, treating u and M2 as functions of w (sum(u) = 0 makes the mean's share of the
//             std term vanish):
//             dw = rstd * (h - mean(h)) + 2 * sum(h * u) * drstd/dM2 * u
//                = a * dwHat + b * u + c, a = rstd * f, b = 2 * f * sum(dwHat * u) * drstd/dM2,
//                                         c = -a * sum(dwHat) / K
//             drstd/dM2 = -rstd^3 / (2 K)                  (BATCH_NORM_STYLE, SCALED)
//                       = -rstd^2 / (2 sigma (K - 1))      (SEED; 0 when sigma = 0, as PyTorch's std backward)
//             dgain = gamma / sqrt(K) * rstd * sum(dwHat * u)   (SCALED)
// The backward takes mean and rstd from the forward; SEED's sigma is recomputed from w and the mean (1/rstd - eps
// would lose it when sigma is not much larger than eps). Filters run in parallel.
#include <cmath>

#include "kernels.h"
#include "set_primitives.h"

namespace nk {
namespace NK_ISA_NAMESPACE {
namespace {

// f[o]: the SCALED variant's factor gain[o] * gamma / sqrt(K) (gain null: ones); 1 for the other variants.
double filter_factor(const ws_problem &p, const float *gain, int64_t o) {
    if (p.variant != NK_WS_SCALED) return 1;
    return (gain ? gain[o] : 1.0) * p.gamma / std::sqrt(static_cast<double>(p.k));
}

}  // namespace

void ws_forward(const ws_problem &p, const float *src, const float *gain, float *dst, float *mean, float *rstd) {
    const double k = static_cast<double>(p.k);
    parallel_for(p.o, threads_for(p.o * p.k), false, [&](int64_t o) {
        const float *w = src + o * p.k;
        const moments m = moments_from(w[0], run_shifted_sums(w, p.k, w[0]), p.k);
        const double r = p.variant == NK_WS_SEED ? 1 / (std::sqrt(m.m2 / (k - 1)) + p.eps)
                                                 : 1 / std::sqrt(m.m2 / k + p.eps);
        const double scale = r * filter_factor(p, gain, o);
        const float mf = static_cast<float>(m.mean);
        mean[o] = mf;
        rstd[o] = static_cast<float>(r);
        // wHat = (w - mf) * scale + (mf - mean) * scale, the float mean mf taken out first (see set_primitives.h)
        run_affine(w, dst + o * p.k, p.k, {mf, static_cast<float>(scale), static_cast<float>((mf - m.mean) * scale)});
    });
}

void ws_backward(const ws_problem &p, const float *src, const float *diff_dst, const float *gain,
                 const float *mean, const float *rstd, float *diff_src, float *diff_gain) {
    const double k = static_cast<double>(p.k);
    parallel_for(p.o, threads_for(p.o * p.k), false, [&](int64_t o) {
        const float *w = src + o * p.k, *g = diff_dst + o * p.k;
        const double m = mean[o], r = rstd[o], f = filter_factor(p, gain, o);
        const gradient_sums sums = run_gradient_sums_with_squares(w, g, p.k, m);
        double drstd_dm2;
        if (p.variant == NK_WS_SEED) {
            const double sigma = std::sqrt(sums.u2 / (k - 1));
            drstd_dm2 = sigma > 0 ? -r * r / (2 * sigma * (k - 1)) : 0.0;
        } else {
            drstd_dm2 = -r * r * r / (2 * k);
        }
        const double a = r * f, b = 2 * f * sums.dy_u * drstd_dm2;
        run_gradient_affine(g, w, diff_src + o * p.k, p.k,
                            {static_cast<float>(a), static_cast<float>(b), static_cast<float>(-a * sums.dy / k),
                             mean[o]});
        if (diff_gain) diff_gain[o] = static_cast<float>(p.gamma / std::sqrt(k) * r * sums.dy_u);
    });
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
