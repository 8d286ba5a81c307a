// Winograd convolution F(2x2, 3x3) (Lavin & Gray, 2016): 3x3 kernels, stride 1, dilation 1, one group. Each 2x2
// tile of the output comes from a 4x4 tile d of the (zero-padded) input, the tiles 2 apart:
//
//   Y = A^T [ sum over input channels of (G g G^T) .* (B^T d B) ] A
//
//   B^T = | 1  0 -1  0 |    G = | 1    0    0   |    A^T = | 1  1  1  0 |
//         | 0  1  1  0 |        | 1/2  1/2  1/2 |          | 0  1 -1 -1 |
//         | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
//         | 0  1  0 -1 |        | 0    0    1   |
//
// The sum over channels is, for each of the 16 positions k of the 4x4 transforms, a matrix product
// M_k (tiles x O) = V_k (tiles x C) U_k (C x O), V = B^T d B, U = G g G^T, run on oneDNN's sgemm: 16 * 2 * C * O
// multiply-adds per four outputs where the direct convolution makes 4 * 2 * 9 * C * O, 2.25 times fewer.
//   forward:          y from x with U of the weight w (O, C, 3, 3), padding p, plus the bias;
//   backward data:    dx is the forward of dy with the kernel rotated by 180 degrees and C, O swapped (U of
//                     w[o][c][2 - i][2 - j]), padding 2 - p;
//   backward weights: dU_k (C x O) = sum over tiles of V_k^T dM_k, dM = A dY A^T per 2x2 tile dY of dy (the adjoint
//                     of the output transform), then dw = G^T dU G (the adjoint of the weight transform); dbias is
//                     the sum of dy per channel.
// Activations are worked on channels-last, vectorized across channels; channels-first ones are transposed into and
// out of scratch. The tiles are split evenly over the threads, each of which runs its share in equal blocks of up to
// kTileBlock (their V and M stay in L2 around the product) and calls sgemm on its own (inside a parallel region
// oneDNN's sgemm is sequential). The blocks, and backward weights' sum of the threads' dU in thread order, depend on
// the thread count only: results are reproducible for a given thread count.
#include <dnnl.h>

#include <algorithm>
#include <cstring>

#include <omp.h>

#include "kernels.h"
#include "scratch.h"
#include "set_primitives.h"

namespace nk {
namespace NK_ISA_NAMESPACE {
namespace {

// Tiles per block. sgemm of (6272 tiles x 256) by (256 x 64), one core: blocks of 128 tiles 19.5 ms, 512 23.3 ms,
// all at once 22.7 ms.
constexpr int64_t kTileBlock = 128;

// An activation (n, h, w, ch) channels-last, and where its tiles lie: input tile (ti, tj) of the pass starts at row
// 2 * ti - pad_h, column 2 * tj - pad_w; output tile (ti, tj) at row 2 * ti, column 2 * tj.
struct tiling {
    int64_t n, ih, iw, ci;  // input
    int64_t oh, ow, co;     // output
    int64_t pad_h, pad_w;
    int64_t th() const { return (oh + 1) / 2; }
    int64_t tw() const { return (ow + 1) / 2; }
    int64_t tiles() const { return n * th() * tw(); }
};

struct tile_position {
    int64_t n, ti, tj;
};

inline tile_position position_of(const tiling &t, int64_t tile) {
    const int64_t per_image = t.th() * t.tw(), r = tile % per_image;
    return {tile / per_image, r / t.tw(), r % t.tw()};
}

// Vectors of kFloatsPerVector channels (or single floats for the channels past the last whole vector), so that each
// transform below is written once, in its scalar form, and runs vectorized across channels.
typedef float fvec __attribute__((vector_size(kFloatsPerVector * sizeof(float))));

template <class T>
inline T load(const float *p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

template <class T>
inline void store(float *p, T v) {
    std::memcpy(p, &v, sizeof v);
}

// Calls body.template at<fvec>(c) for each whole vector of channels c < count, then body.template at<float>(c).
template <class Body>
inline void across_channels(int64_t count, const Body &body) {
    int64_t c = 0;
    for (; c + kFloatsPerVector <= count; c += kFloatsPerVector) body.template at<fvec>(c);
    for (; c < count; ++c) body.template at<float>(c);
}

// V = B^T d B of one 4x4 tile, channels at c: s = B^T d (rows), V = s B (columns); V_k at out + k * block.
struct input_tile {
    const float *const (&d)[4][4];
    float *out;
    int64_t block;

    template <class T>
    void at(int64_t c) const {
        T s[4][4];
        for (int b = 0; b < 4; ++b) {
            const T d0 = load<T>(d[0][b] + c), d1 = load<T>(d[1][b] + c);
            const T d2 = load<T>(d[2][b] + c), d3 = load<T>(d[3][b] + c);
            s[0][b] = d0 - d2;
            s[1][b] = d1 + d2;
            s[2][b] = d2 - d1;
            s[3][b] = d1 - d3;
        }
        for (int a = 0; a < 4; ++a) {
            store<T>(out + (4 * a + 0) * block + c, s[a][0] - s[a][2]);
            store<T>(out + (4 * a + 1) * block + c, s[a][1] + s[a][2]);
            store<T>(out + (4 * a + 2) * block + c, s[a][2] - s[a][1]);
            store<T>(out + (4 * a + 3) * block + c, s[a][1] - s[a][3]);
        }
    }
};

// Y = A^T m A + bias of one tile, channels at o: r = A^T m (rows), Y = r A (columns); m_k at in + k * block.
struct output_tile {
    const float *in;
    int64_t block;
    const float *bias;  // or null
    float *const (&out)[2][2];

    template <class T>
    void at(int64_t o) const {
        T r[2][4];
        for (int b = 0; b < 4; ++b) {
            const T m0 = load<T>(in + (0 + b) * block + o), m1 = load<T>(in + (4 + b) * block + o);
            const T m2 = load<T>(in + (8 + b) * block + o), m3 = load<T>(in + (12 + b) * block + o);
            r[0][b] = m0 + m1 + m2;
            r[1][b] = m1 - m2 - m3;
        }
        const T beta = bias ? load<T>(bias + o) : T{};
        for (int a = 0; a < 2; ++a) {
            store<T>(out[a][0] + o, r[a][0] + r[a][1] + r[a][2] + beta);
            store<T>(out[a][1] + o, r[a][1] - r[a][2] - r[a][3] + beta);
        }
    }
};

// dM = A dY A^T of one 2x2 tile of dy, channels at o (the adjoint of output_tile): r = A dY (rows), dM = r A^T
// (columns); dM_k at out + k * block.
struct output_adjoint_tile {
    const float *const (&g)[2][2];
    float *out;
    int64_t block;

    template <class T>
    void at(int64_t o) const {
        T r[4][2];
        for (int b = 0; b < 2; ++b) {
            const T g0 = load<T>(g[0][b] + o), g1 = load<T>(g[1][b] + o);
            r[0][b] = g0;
            r[1][b] = g0 + g1;
            r[2][b] = g0 - g1;
            r[3][b] = -g1;
        }
        for (int a = 0; a < 4; ++a) {
            store<T>(out + (4 * a + 0) * block + o, r[a][0]);
            store<T>(out + (4 * a + 1) * block + o, r[a][0] + r[a][1]);
            store<T>(out + (4 * a + 2) * block + o, r[a][0] - r[a][1]);
            store<T>(out + (4 * a + 3) * block + o, -r[a][1]);
        }
    }
};

// V (16 x tiles x ci, position-major) of the tiles [t0, t0 + count) of x (channels-last), zeros for padding.
void input_transform(const tiling &t, const float *x, int64_t t0, int64_t count, const float *zeros, float *v) {
    for (int64_t i = 0; i < count; ++i) {
        const tile_position q = position_of(t, t0 + i);
        const float *d[4][4];
        for (int a = 0; a < 4; ++a) {
            const int64_t row = 2 * q.ti - t.pad_h + a;
            for (int b = 0; b < 4; ++b) {
                const int64_t col = 2 * q.tj - t.pad_w + b;
                const bool inside = row >= 0 && row < t.ih && col >= 0 && col < t.iw;
                d[a][b] = inside ? x + ((q.n * t.ih + row) * t.iw + col) * t.ci : zeros;
            }
        }
        across_channels(t.ci, input_tile{d, v + i * t.ci, kTileBlock * t.ci});
    }
}

// y's 2x2 tiles from M (16 x tiles x co) of the tiles [t0, t0 + count), plus the bias; the parts of a tile past the
// output's edge go to `sink`.
void output_transform(const tiling &t, const float *m, const float *bias, int64_t t0, int64_t count, float *sink,
                      float *y) {
    for (int64_t i = 0; i < count; ++i) {
        const tile_position q = position_of(t, t0 + i);
        float *out[2][2];
        for (int a = 0; a < 2; ++a) {
            for (int b = 0; b < 2; ++b) {
                const int64_t row = 2 * q.ti + a, col = 2 * q.tj + b;
                out[a][b] = row < t.oh && col < t.ow ? y + ((q.n * t.oh + row) * t.ow + col) * t.co : sink;
            }
        }
        across_channels(t.co, output_tile{m + i * t.co, kTileBlock * t.co, bias, out});
    }
}

// dM (16 x tiles x co) of dy's 2x2 tiles [t0, t0 + count), zeros past the output's edge.
void output_adjoint(const tiling &t, const float *dy, int64_t t0, int64_t count, const float *zeros, float *dm) {
    for (int64_t i = 0; i < count; ++i) {
        const tile_position q = position_of(t, t0 + i);
        const float *g[2][2];
        for (int a = 0; a < 2; ++a) {
            for (int b = 0; b < 2; ++b) {
                const int64_t row = 2 * q.ti + a, col = 2 * q.tj + b;
                g[a][b] = row < t.oh && col < t.ow ? dy + ((q.n * t.oh + row) * t.ow + col) * t.co : zeros;
            }
        }
        across_channels(t.co, output_adjoint_tile{g, dm + i * t.co, kTileBlock * t.co});
    }
}

// Kernel pairs below which the weight transforms run on the calling thread.
constexpr int64_t kParallelPairs = 4096;

// U_k[p][q] (u: 16 x ci x co) = (G g G^T)_k of the 3x3 kernel g at k: s = G g (rows), U = s G^T (columns).
inline void transform_kernel(const float *k, bool rotated, int64_t p, int64_t q, int64_t ci, int64_t co, float *u) {
    float g[3][3];
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) g[i][j] = rotated ? k[(2 - i) * 3 + (2 - j)] : k[i * 3 + j];
    }
    // halved before they are added (halving is exact, so the bits are those of halving the sum), so that kernels up
    // to FLT_MAX / 2.25 do not overflow in the sum: 7.7e37 had made the whole output infinite
    float s[4][3];
    for (int j = 0; j < 3; ++j) {
        s[0][j] = g[0][j];
        s[1][j] = 0.5f * g[0][j] + 0.5f * g[1][j] + 0.5f * g[2][j];
        s[2][j] = 0.5f * g[0][j] - 0.5f * g[1][j] + 0.5f * g[2][j];
        s[3][j] = g[2][j];
    }
    for (int a = 0; a < 4; ++a) {
        const float h0 = 0.5f * s[a][0], h1 = 0.5f * s[a][1], h2 = 0.5f * s[a][2];
        const float r[4] = {s[a][0], h0 + h1 + h2, h0 - h1 + h2, s[a][2]};
        for (int b = 0; b < 4; ++b) u[((4 * a + b) * ci + p) * co + q] = r[b];
    }
}

// Kernel pairs (p, q) per side of a block of for_each_pair.
constexpr int64_t kPairBlock = 16;

// Calls f(p, q) for every p < ci, q < co, in blocks of kPairBlock x kPairBlock, the blocks of q in parallel (from
// kParallelPairs pairs). A weight (co, ci, 3, 3) or (ci, co, 3, 3) and the 16 planes (ci x co) of U are then both
// touched in short runs; either plain loop order crosses one of them with a large stride, and a 512 x 512 weight
// took 19-30 ms to transform (one core; a TLB miss per pair), against 1 ms for the 16 products that follow.
template <class F>
void for_each_pair(int64_t ci, int64_t co, F f) {
    const int64_t q_blocks = (co + kPairBlock - 1) / kPairBlock;
    parallel_for(q_blocks, ci * co >= kParallelPairs ? omp_get_max_threads() : 1, false, [&](int64_t qb) {
        const int64_t q0 = qb * kPairBlock, q1 = std::min(co, q0 + kPairBlock);
        for (int64_t p0 = 0; p0 < ci; p0 += kPairBlock) {
            const int64_t p1 = std::min(ci, p0 + kPairBlock);
            for (int64_t q = q0; q < q1; ++q) {
                for (int64_t p = p0; p < p1; ++p) f(p, q);
            }
        }
    });
}

// U (16 x ci x co) = G g G^T of each 3x3 kernel g: g = w[q][p] for the forward (w (co, ci, 3, 3)); for backward
// data (w (ci, co, 3, 3), as the forward's (O, C)), g = w[p][q] rotated by 180 degrees.
void weight_transform(const float *w, int64_t ci, int64_t co, bool backward_data, float *u) {
    for_each_pair(ci, co, [&](int64_t p, int64_t q) {
        transform_kernel(w + (backward_data ? p * co + q : q * ci + p) * 9, backward_data, p, q, ci, co, u);
    });
}

// dw (co, ci, 3, 3) = G^T dU G from dU (16 x ci x co), the adjoint of weight_transform (forward form):
// r = G^T dU (rows), dw = r G (columns).
void weight_adjoint(const float *du, int64_t ci, int64_t co, float *dw) {
    for_each_pair(ci, co, [&](int64_t p, int64_t q) {
        float u[4][4];
        for (int k = 0; k < 16; ++k) u[k / 4][k % 4] = du[(k * ci + p) * co + q];
        float r[3][4];
        for (int b = 0; b < 4; ++b) {
            r[0][b] = u[0][b] + 0.5f * (u[1][b] + u[2][b]);
            r[1][b] = 0.5f * (u[1][b] - u[2][b]);
            r[2][b] = 0.5f * (u[1][b] + u[2][b]) + u[3][b];
        }
        float *k = dw + (q * ci + p) * 9;
        for (int i = 0; i < 3; ++i) {
            k[i * 3 + 0] = r[i][0] + 0.5f * (r[i][1] + r[i][2]);
            k[i * 3 + 1] = 0.5f * (r[i][1] - r[i][2]);
            k[i * 3 + 2] = 0.5f * (r[i][1] + r[i][2]) + r[i][3];
        }
    });
}

// A channels-last view of an activation: `a` itself, or (channels-first) its transpose into `buffer`.
const float *channels_last_input(const float *a, int64_t n, int64_t ch, int64_t s, nk_layout_t layout,
                                 float *buffer) {
    if (layout == NK_LAYOUT_CHANNELS_LAST) return a;
    transpose_images(a, buffer, n, ch, s);
    return buffer;
}

// Inside a parallel region: calls block(t0, count) for the calling thread's even share of `tiles`, in equal
// blocks of at most kTileBlock tiles (a share of 784 as seven blocks of 112, not six of 128 and one of 16).
template <class Block>
void for_each_block_of_thread(int64_t tiles, Block block) {
    int64_t begin, end;
    split(tiles, omp_get_num_threads(), omp_get_thread_num(), &begin, &end);
    const int64_t blocks = (end - begin + kTileBlock - 1) / kTileBlock;
    for (int64_t b = 0; b < blocks; ++b) {
        int64_t first, last;
        split(end - begin, blocks, b, &first, &last);
        block(begin + first, last - first);
    }
}

// Floats of one thread's working memory in tiled_convolution.
int64_t tiled_work(const tiling &t) { return 16 * kTileBlock * (t.ci + t.co) + t.ci + t.co; }

// y (channels-last, maybe a scratch buffer) = the convolution of x with U, plus bias, for the tiling t; `work` holds
// tiled_work(t) floats per thread of omp_get_max_threads(), thread_stride() apart.
void tiled_convolution(const tiling &t, const float *x, const float *u, const float *bias, float *y, float *work) {
    const int64_t threads = omp_get_max_threads(), tiles = t.tiles(), per_thread = thread_stride<float>(tiled_work(t));
    parallel_region(threads, [&] {
        const int64_t me = omp_get_thread_num();
        float *v = work + me * per_thread, *m = v + 16 * kTileBlock * t.ci;
        float *zeros = m + 16 * kTileBlock * t.co, *sink = zeros + t.ci;
        std::fill(zeros, zeros + t.ci, 0.0f);
        for_each_block_of_thread(tiles, [&](int64_t t0, int64_t count) {
            input_transform(t, x, t0, count, zeros, v);
            for (int k = 0; k < 16; ++k) {
                dnnl_sgemm('N', 'N', count, t.co, t.ci, 1.0f, v + k * kTileBlock * t.ci, t.ci,
                           u + k * t.ci * t.co, t.co, 0.0f, m + k * kTileBlock * t.co, t.co);
            }
            output_transform(t, m, bias, t0, count, sink, y);
        });
    });
}

}  // namespace

void winograd_forward(const winograd_problem &p, const float *src, const float *weight, const float *bias,
                      float *dst, bool backward_data) {
    // forward: src x (n, c, h, w) -> dst y (n, o, oh, ow); backward data: src dy (n, o, oh, ow) -> dst dx (n, c, h, w)
    const int64_t oh = p.h + 2 * p.pad_h - 2, ow = p.w + 2 * p.pad_w - 2;
    const tiling t = backward_data ? tiling{p.n, oh, ow, p.o, p.h, p.w, p.c, 2 - p.pad_h, 2 - p.pad_w}
                                   : tiling{p.n, p.h, p.w, p.c, oh, ow, p.o, p.pad_h, p.pad_w};
    const bool channels_first = p.layout == NK_LAYOUT_CHANNELS_FIRST;
    const int64_t in_size = t.n * t.ih * t.iw * t.ci, out_size = t.n * t.oh * t.ow * t.co;
    scratch_plan plan;
    const size_t u = plan.add<float>(16 * t.ci * t.co);
    const size_t in = plan.add<float>(channels_first ? in_size : 0);
    const size_t out = plan.add<float>(channels_first ? out_size : 0);
    // one plan: scratch is per thread
    const size_t work = plan.add_thread_slices<float>(tiled_work(t), omp_get_max_threads());
    plan.allocate();
    weight_transform(weight, t.ci, t.co, backward_data, plan.get<float>(u));
    const float *x = channels_last_input(src, t.n, t.ci, t.ih * t.iw, p.layout, plan.get<float>(in));
    float *y = channels_first ? plan.get<float>(out) : dst;
    tiled_convolution(t, x, plan.get<float>(u), backward_data ? nullptr : bias, y, plan.get<float>(work));
    if (channels_first) transpose_images(y, dst, t.n, t.oh * t.ow, t.co);
}

void winograd_backward_weights(const winograd_problem &p, const float *src, const float *diff_dst,
                               float *diff_weight, float *diff_bias) {
    const int64_t oh = p.h + 2 * p.pad_h - 2, ow = p.w + 2 * p.pad_w - 2;
    const tiling t{p.n, p.h, p.w, p.c, oh, ow, p.o, p.pad_h, p.pad_w};
    const bool channels_first = p.layout == NK_LAYOUT_CHANNELS_FIRST;
    const int64_t threads = omp_get_max_threads(), tiles = t.tiles(), du_size = 16 * t.ci * t.co;
    const int64_t per_thread_floats = tiled_work(t) + du_size, per_thread = thread_stride<float>(per_thread_floats);
    scratch_plan plan;
    const size_t in = plan.add<float>(channels_first ? t.n * t.ih * t.iw * t.ci : 0);
    const size_t grad = plan.add<float>(channels_first ? t.n * oh * ow * t.co : 0);
    const size_t work = plan.add_thread_slices<float>(per_thread_floats, threads);
    const size_t bias_sums = plan.add<double>(diff_bias ? t.co : 0);
    plan.allocate();
    const float *x = channels_last_input(src, t.n, t.ci, t.ih * t.iw, p.layout, plan.get<float>(in));
    const float *dy = channels_last_input(diff_dst, t.n, t.co, oh * ow, p.layout, plan.get<float>(grad));
    float *base = plan.get<float>(work);
    int64_t used = 1;
    parallel_region(threads, [&] {
        const int64_t me = omp_get_thread_num();
        float *v = base + me * per_thread, *dm = v + 16 * kTileBlock * t.ci;
        float *zeros = dm + 16 * kTileBlock * t.co, *du = zeros + t.ci + t.co;
        std::fill(zeros, zeros + t.ci + t.co, 0.0f);
        std::fill(du, du + du_size, 0.0f);
        if (me == 0) used = omp_get_num_threads();
        for_each_block_of_thread(tiles, [&](int64_t t0, int64_t count) {
            input_transform(t, x, t0, count, zeros, v);
            output_adjoint(t, dy, t0, count, zeros, dm);
            for (int k = 0; k < 16; ++k) {
                dnnl_sgemm('T', 'N', t.ci, t.co, count, 1.0f, v + k * kTileBlock * t.ci, t.ci,
                           dm + k * kTileBlock * t.co, t.co, 1.0f, du + k * t.ci * t.co, t.co);
            }
        });
    });
    // the threads' dU added in thread order into thread 0's
    float *total = base + 16 * kTileBlock * (t.ci + t.co) + t.ci + t.co;
    for (int64_t me = 1; me < used; ++me) {
        const float *du = total + me * per_thread;
        for (int64_t i = 0; i < du_size; ++i) total[i] += du[i];
    }
    if (diff_weight) weight_adjoint(total, t.ci, t.co, diff_weight);
    if (!diff_bias) return;
    double *sums = plan.get<double>(bias_sums);
    std::fill(sums, sums + t.co, 0.0);
    for (int64_t i = 0; i < t.n * oh * ow; ++i) {
        for (int64_t o = 0; o < t.co; ++o) sums[o] += dy[i * t.co + o];
    }
    for (int64_t o = 0; o < t.co; ++o) diff_bias[o] = static_cast<float>(sums[o]);
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
