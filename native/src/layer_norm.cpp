// Layer normalization (Ba, Kiros & Hinton, 2016): each statistics set is d consecutive values of x in logical
// (N, C, S) order, the trailing dims of the normalized shape; gamma and beta are elementwise over those d positions.
//
//   forward:  mean, var (biased) per set; y = ((x - m) * rstd + delta) * gamma[i] + beta[i], m = mean rounded to
//             float, delta = (m - mean) * rstd (fold with gamma 1 and beta 0), i the position in the set
//   backward: with u = x - mean, g = dy * gamma[i], per set A = sum(g), B = sum(g * u):
//             dx = rstd * gamma[i] * dy + b * u + c, b = -rstd^3 * B / d, c = -rstd * A / d (training_gradient with
//             gamma 1 for b and c); dgamma[i] = sum over sets of dy * u * rstd, dbeta[i] = sum over sets of dy
//
// How memory maps onto sets:
//  - rows: memory in logical order (channels-first; or an (N, C) or (N, 1, S) tensor): a set is a contiguous row.
//    Rows run in parallel, each read once for its sums and again (from L1/L2) for its output. With fewer rows than
//    threads (or parameter gradients of rows too long for per-thread partials), rows are cut into chunks: the
//    sums of every (row, chunk), each row's totals in chunk order, then the output in memory order, each thread a
//    contiguous slice of the tensor (for_each_row_segment; the forward's permuted rows: by chunk). The backward's
//    sums pass goes chunk by chunk across all rows: one thread sums a chunk's dgamma and dbeta in row order, in the
//    same loop as the gradient sums (x and dy read from memory once for both), so the output pass only writes dx.
//    Before, the sums ran in memory order (gamma read once per row) and the output pass added the parameter shares
//    from L2: (8, 256, 56, 56) over (C, H, W), Xeon VM, median ms of alternating runs, before -> after: NCHW
//    9.0-9.6 -> 5.9-6.4 (1 thread), 3.6-4.2 -> 2.95-3.03 (2 threads); NHWC 8.9-9.4 -> 7.9-8.1, 4.1-4.4 -> 3.9-4.0.
//  - permuted rows: channels-last with C normalized (d = C * S, or N * C * S): a set is still a contiguous row, in
//    (s, c) order, and runs as rows do (whole or in chunks); gamma and beta are copied into that order (per call for
//    whole rows and the backward's chunks, per chunk in the forward's) and dgamma, dbeta copied back. Whole rows,
//    (32, 64, 14, 14) over (C, H, W), median us of interleaved runs on a 2-core Zen 5 VM, chunks -> whole: forward
//    132 -> 91 (1 thread), 108 -> 60 (2 threads); backward 221 -> 159 (1 thread), 156 -> 151 (2).
//  - columns: channels-last normalizing trailing spatial dims only (d divides S): an image's S positions are
//    S / d panels of d rows of C channels, and each set is one channel of one panel, vectorized across channels;
//    gamma and beta are per row of the panel. Panels (and channel blocks) run in parallel; for dgamma and dbeta each
//    panel keeps its own per-row sums, added in panel order.
// The partition depends on the shape and the thread count only: results are reproducible for a given thread count.
#include <algorithm>
#include <cmath>

#include <omp.h>

#include "kernels.h"
#include "scratch.h"
#include "set_primitives.h"
#include "transpose.h"

namespace nk {
namespace NK_ISA_NAMESPACE {
namespace {

// Values of a row chunk (and of a backward column chunk, whose dgamma and dbeta sums live on the stack).
constexpr int64_t kRowChunk = 1024;

// Per-thread dgamma/dbeta partials are used up to this many bytes in all (beyond, rows are cut into chunks).
constexpr int64_t kPartialBytes = int64_t{1} << 20;

enum class mapping { rows, permuted_rows, columns };

struct shape {
    mapping map;
    int64_t n, c, s, d;
    int64_t rows;   // sets (rows and permuted rows)
    int64_t outer;  // permuted rows: the (o, c, s) blocks a row holds (N when d = N * C * S, else 1)
    int64_t panel_sets;  // columns: S / d panels per image
    double eps;
};

shape shape_of(const layer_norm_problem &p) {
    const ncs_problem &x = p.x;
    shape q{mapping::rows, x.n, x.c, x.s, p.d, x.n * x.c * x.s / p.d, 1, 1, x.eps};
    if (x.layout == NK_LAYOUT_CHANNELS_FIRST || x.c == 1 || x.s == 1) return q;
    if (p.d == x.c * x.s || p.d == x.n * x.c * x.s) {
        q.map = mapping::permuted_rows;
        q.outer = p.d / (x.c * x.s);
    } else {
        q.map = mapping::columns;
        q.panel_sets = x.s / p.d;
    }
    return q;
}


// The statistics of a set from its sums shifted by k; writes mean[m] and var[m]; returns the normalization's
// coefficients (fold with gamma 1 and beta 0).
affine finish_set(const shape &p, int64_t m, double k, shifted_sums sums, float *mean, float *var) {
    const moments mo = moments_from(k, sums, p.d);
    const double v = mo.m2 / static_cast<double>(p.d);
    mean[m] = static_cast<float>(mo.mean);
    var[m] = static_cast<float>(v);
    return fold(mo.mean, rstd_of(v, p.eps), 1.0, 0.0);
}

// y over values [i0, i0 + len) of a row (gamma, beta: the row's parameters, or null).
inline void row_output(const float *x, float *y, int64_t i0, int64_t len, affine f, const float *gamma,
                       const float *beta, bool stream) {
    if (gamma) {
        run_elementwise_affine(x + i0, y + i0, len, f, gamma + i0, beta + i0, stream);
    } else {
        run_affine(x + i0, y + i0, len, f, stream);
    }
}

// ------------------------------------------------------------------------------------------------------ rows

// A row is processed whole (sums, then output from L1/L2) when its inputs take at most this many bytes and there
// are at least as many rows as threads; otherwise rows are cut into chunks processed column by column.
constexpr int64_t kWholeRowBytes = int64_t{256} << 10;

bool whole_rows(const shape &p, int64_t threads, int64_t inputs, bool want_params) {
    if (p.map == mapping::columns || p.rows < threads) return false;
    if (p.d * inputs * static_cast<int64_t>(sizeof(float)) > kWholeRowBytes) return false;
    return !want_params || 2 * p.d * threads * static_cast<int64_t>(sizeof(double)) <= kPartialBytes;
}

// Chunks of a row, in memory order: kRowChunk values, or for permuted rows whole (s, all C) lines, a multiple of
// 16 of them (so that gathering a chunk's parameters reads whole cache lines of each channel's S values).
struct chunking {
    int64_t length, count;
};

chunking chunks_of(const shape &p) {
    const int64_t lines = (std::max<int64_t>(1, kRowChunk / p.c) + 15) / 16 * 16;
    const int64_t length = p.map == mapping::permuted_rows ? lines * p.c : kRowChunk;
    return {length, (p.d + length - 1) / length};
}

// Permuted rows: the logical offset of channel 0 of each S-position line [first, first + lines) of a chunk (line
// o * S + s holds logical (o * C + c) * S + s for channel c, so its channel-0 offset is o * C * S + s). lines is at
// most kMaxChunkLines.
constexpr int64_t kMaxChunkLines = kRowChunk + 16;

void chunk_line_offsets(const shape &p, int64_t first, int64_t lines, int64_t *offset) {
    int64_t o = first / p.s, s = first % p.s;
    for (int64_t l = 0; l < lines; ++l) {
        offset[l] = o * p.c * p.s + s;
        if (++s == p.s) s = 0, ++o;
    }
}

// Permuted rows: asks for the cache lines that hold a chunk's parameter values in logical order, a few per channel,
// S floats apart: strided accesses that no hardware prefetcher follows, each a cache miss from L3 or DRAM otherwise.
// For reading (`write` false: the next chunk's gamma and beta, asked for as the current chunk is gathered) or for
// writing (the current chunk's dgamma and dbeta, asked for before its output pass). Layer norm over (256, 56, 56) NHWC
// of 8 images, median ms of interleaved runs on a 2-core Zen 5 VM, without -> with: forward 3.7 -> 3.0 (1 thread),
// 2.1 -> 1.7 (2 threads); backward 9.2 -> 8.7.
constexpr int64_t kFloatsPerLine = 64 / sizeof(float);

// (Always inlined: as a function of its own, which only prefetches, GCC finds it free of side effects and drops the
// calls.)
__attribute__((always_inline)) inline void prefetch_parameter_lines(const shape &p, const float *logical, int64_t i0,
                                                                    int64_t length, bool write) {
    if (logical == nullptr || p.map != mapping::permuted_rows || i0 >= p.d) return;
    const int64_t lines = std::min(length, p.d - i0) / p.c;
    int64_t first;
    chunk_line_offsets(p, i0 / p.c, 1, &first);
    for (int64_t c = 0; c < p.c; ++c) {
        const float *channel = logical + first + c * p.s;
        for (int64_t l = 0; l < lines; l += kFloatsPerLine) {
            const char *line = reinterpret_cast<const char *>(channel + l);
            if (write) {
                _mm_prefetch(line, _MM_HINT_ET0);
            } else {
                _mm_prefetch(line, _MM_HINT_T1);
            }
        }
    }
}

// Permuted rows move parameters between logical order (channel c's values S floats apart from channel c - 1's) and
// a chunk's memory order (each line's C channels together) in square blocks of channels x lines (transpose.h).
// Gathering a (256, 56, 56) gamma from L3 on one Zen 5 core: 368 us value by value, 136 us by blocks. Layer norm
// over (8, 256, 56, 56) channels-last, median ms of interleaved runs, before -> after: forward 3.0-3.6 -> 2.7-3.1
// (1 thread), 1.7-2.1 -> 1.4-1.7 (2 threads); backward 8.1-9.4 -> 6.6-7.7 (1), 4.0-5.0 -> 3.3-4.4 (2).
//
// Over a chunk of `lines` lines (channel-0 offsets `offset`), a block of channels at a time (its lines stay in L1):
// block(c0, l0) for each whole block of kTransposeBlock channels from c0 and as many lines from l0 at consecutive
// positions, value(c, l) for channel c of line l everywhere else.
template <class Block, class Value>
void for_each_transpose_block(const shape &p, int64_t lines, const int64_t *offset, Block block, Value value) {
    const int64_t b = kTransposeBlock;
    for (int64_t c0 = 0; c0 < p.c; c0 += b) {
        const int64_t c1 = std::min(p.c, c0 + b);
        for (int64_t l0 = 0; l0 < lines; l0 += b) {
            const int64_t l1 = std::min(lines, l0 + b);
            if (c1 - c0 == b && l1 - l0 == b && offset[l1 - 1] - offset[l0] == b - 1) {
                block(c0, l0);
                continue;
            }
            for (int64_t l = l0; l < l1; ++l) {
                for (int64_t c = c0; c < c1; ++c) value(c, l);
            }
        }
    }
}

// A chunk's parameter values in the memory order of its row: the parameter itself for rows in logical order, or
// for permuted rows a copy gathered into `tile`. Asks for the next chunk's values first.
const float *parameter_tile(const shape &p, const float *logical, int64_t i0, int64_t length, float *tile) {
    if (logical == nullptr || p.map != mapping::permuted_rows) return logical ? logical + i0 : nullptr;
    prefetch_parameter_lines(p, logical, i0 + length, length, false);
    const int64_t lines = length / p.c;
    int64_t offset[kMaxChunkLines];
    chunk_line_offsets(p, i0 / p.c, lines, offset);
    for_each_transpose_block(
        p, lines, offset,
        [&](int64_t c0, int64_t l0) {
            transpose_block(logical + offset[l0] + c0 * p.s, p.s, tile + l0 * p.c + c0, p.c);
        },
        [&](int64_t c, int64_t l) { tile[l * p.c + c] = logical[offset[l] + c * p.s]; });
    return tile;
}

// Writes a chunk's parameter gradient (memory order; T: double sums, or float ones) into the logical-order output.
template <class T>
void store_parameter_tile(const shape &p, const T *tile, int64_t i0, int64_t length, float *logical) {
    if (logical == nullptr) return;
    if (p.map != mapping::permuted_rows) {
        for (int64_t i = 0; i < length; ++i) logical[i0 + i] = static_cast<float>(tile[i]);
        return;
    }
    const int64_t lines = length / p.c;
    int64_t offset[kMaxChunkLines];
    chunk_line_offsets(p, i0 / p.c, lines, offset);
    for_each_transpose_block(
        p, lines, offset,
        [&](int64_t c0, int64_t l0) {
            transpose_block(tile + l0 * p.c + c0, p.c, logical + offset[l0] + c0 * p.s, p.s);
        },
        [&](int64_t c, int64_t l) { logical[offset[l] + c * p.s] = static_cast<float>(tile[l * p.c + c]); });
}

// A whole row's parameter values in the memory order of its rows: the parameter itself, or for permuted rows a copy
// gathered chunk by chunk into `tile` (d floats).
const float *whole_parameter(const shape &p, const float *logical, float *tile) {
    if (logical == nullptr || p.map != mapping::permuted_rows) return logical;
    const chunking ch = chunks_of(p);
    for (int64_t i0 = 0; i0 < p.d; i0 += ch.length) {
        parameter_tile(p, logical, i0, std::min(ch.length, p.d - i0), tile + i0);
    }
    return tile;
}

// The chunked passes over a tensor from kPrefetchBytes (the backward's sums, the forward's permuted output) take the
// rows of a chunk kInterleavedRows at a time and advance them together, kInterleavedPiece values of each row in turn,
// each piece first asking for its row's values kInterleavedAhead further on. A thread's streams (one or two per row)
// then all move forward together. Visiting each row's whole chunk in turn, and asking for the same piece of the next
// row's, had left most of them idle at any time; that prefetch had been a gain over none (over (8, 256, 56, 56) over
// (C, H, W), one Zen 4 core, ms: NCHW forward 2.9 -> 2.6, backward 7.6 -> 6.3; NHWC 5.0 -> 3.8, 11.1 -> 9.4). Rows
// advanced together, same shape, Zen 4 VM, one process alternating the builds in blocks of 5 calls through the C ABI,
// new / old median: backward NCHW 0.75-0.88 (1 thread), 0.87-0.94 (2 threads), NHWC 0.86-0.96 and 0.92-0.99; forward
// NHWC 0.83-0.91 and 0.93 (0.93-1.06 in a shorter run). Pieces of 32 or 64 values, 4 to 16 pieces ahead, were alike
// within the noise; pieces of 128 without prefetching measured 0.86 on 1 thread but 1.30 on 2. Smaller tensors, whose
// rows are still in cache, run each row's chunk as one piece. Within a row the pieces follow each other (a multiple of
// the lanes: the same additions as one run), and each position's dgamma and dbeta still add the rows in row order.
// The lines asked for go into L2 (T1), as prefetch_row_ahead's do: 8 rows of x and dy, 2 KB ahead each, are 32 KB,
// all of L1. T1 / T0 on the Zen 4 VM, same harness: backward NCHW 0.84-1.16 on 1 thread (six runs, four at
// 0.90-1.00), 0.82-1.03 on 2; NHWC 0.85-0.99 and 0.97-0.98; forward NHWC 0.96-1.03; the seed shape 0.99-1.00.
constexpr int64_t kPrefetchBytes = int64_t{8} << 20;
constexpr int64_t kInterleavedRows = 8;
constexpr int64_t kInterleavedPiece = 64;
constexpr int64_t kInterleavedAhead = 8 * kInterleavedPiece;
static_assert(kInterleavedPiece % kLanes == 0, "pieces must split a run where its vector loop would");

// Calls piece(m, o, j0, jn) over the values [i0, i0 + len) of rows m0 .. m0 + kInterleavedRows - 1 (fewer at the end)
// of a chunked pass, o = m * d + i0 + j0 the piece's offset in the tensor: the rows advanced together by pieces of
// kInterleavedPiece values, each after asking for x (and dy, unless null) kInterleavedAhead values further along its
// row; one piece per row for a tensor under kPrefetchBytes.
template <class Piece>
void for_each_interleaved_piece(const shape &p, int64_t m0, int64_t i0, int64_t len, const float *x, const float *dy,
                                Piece piece) {
    const int64_t m1 = std::min(p.rows, m0 + kInterleavedRows);
    const bool prefetch = p.rows * p.d * static_cast<int64_t>(sizeof(float)) >= kPrefetchBytes;
    const int64_t step = prefetch ? kInterleavedPiece : len;
    for (int64_t j0 = 0; j0 < len; j0 += step) {
        const int64_t jn = std::min(step, len - j0);
        for (int64_t m = m0; m < m1; ++m) {
            const int64_t o = m * p.d + i0 + j0;
            if (prefetch) {
                const int64_t end = std::min(o + kInterleavedAhead + jn, (m + 1) * p.d);
                for (int64_t i = o + kInterleavedAhead; i < end; i += kFloatsPerVector) {
                    _mm_prefetch(reinterpret_cast<const char *>(x + i), _MM_HINT_T1);
                    if (dy) _mm_prefetch(reinterpret_cast<const char *>(dy + i), _MM_HINT_T1);
                }
            }
            piece(m, o, j0, jn);
        }
    }
}

// Parameter gradients from per-thread or per-panel partials: out[i] = the sum over k < count of parts[k * stride + i]
// (i < n <= kSumBlock), rounded to float, each sum from 0 in k order (the same bits as one value at a time), but
// vectorized along i: part by part into a block of sums that stays in L1. Value by value, with the loop over k inside,
// it ran scalar and took most of a (1, 768) backward's time: 2.3 us, against 0.2 us without dgamma and dbeta.
constexpr int64_t kSumBlock = 512;

void sum_parts(const double *parts, int64_t stride, int64_t count, int64_t n, float *out) {
    double sums[kSumBlock];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) sums[i] = 0.0;
    for (int64_t k = 0; k < count; ++k) {
        const double *part = parts + k * stride;
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) sums[i] += part[i];
    }
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(sums[i]);
}

// Plans the parameter tiles a pass needs: permuted rows only (rows in logical order read gamma and beta in place).
// Forward: two per thread of a chunk's length for chunks, two of a whole row for whole rows (gamma and beta).
// Backward: two of a whole row for whole rows (gamma, later the dgamma and dbeta sums), one for chunks (gamma,
// gathered chunk by chunk by the sums pass and read whole by the output pass).
size_t add_forward_tiles(scratch_plan &plan, const shape &p, bool chunked, const chunking &ch, int64_t threads) {
    if (p.map != mapping::permuted_rows) return plan.add<float>(0);
    if (chunked) return plan.add_thread_slices<float>(2 * ch.length, threads);
    return plan.add<float>(2 * p.d);
}

size_t add_backward_tiles(scratch_plan &plan, const shape &p, bool chunked) {
    return plan.add<float>(p.map == mapping::permuted_rows ? (chunked ? 1 : 2) * p.d : 0);
}

// Working memory of the passes over rows: the parameter tiles (add_forward_tiles, add_backward_tiles) and, for the
// backward's chunks, two double accumulators per chunk for each thread, thread_stride() apart.
struct chunk_scratch {
    float *tiles;     // forward: 2 * length floats per thread; backward: a whole row's (add_backward_tiles)
    double *params;   // 2 * length doubles per thread
    int64_t length;

    float *tile(int64_t t, int64_t which) const {
        return tiles + thread_stride<float>(2 * length) * t + which * length;
    }
    double *param(int64_t t, int64_t which) const {
        return params + thread_stride<double>(2 * length) * t + which * length;
    }
};

// Calls f(m, i0, len) over thread t's share of the tensor in memory order: its contiguous slice of the rows * d
// values (cut at vector boundaries), as runs [i0, i0 + len) of the rows it crosses. The output passes of chunked rows
// in logical order run this way: each row then reads gamma (and beta) again, from L3, but two or three long streams
// per thread move faster than the 16-odd short ones of visiting a chunk of every row in turn. Layer norm over
// (8, 256, 56, 56) NCHW, 2-core Zen 4 VM, one process alternating the two builds in blocks of 5 calls through the
// C ABI, median of the new over the old: backward 0.84-0.90 (1 thread, 10.8-11.9 -> 9.1-10.3 ms), 0.79-0.96
// (2 threads); forward 0.87-0.97 (1 thread), 0.92-0.97 (2 threads). A synthetic output pass on the same VM (two
// reads, a streamed write, gamma per row) took 2.6 ms in memory order and 3.5-5.0 ms in chunks of 256-1024 values,
// with or without prefetching up to 8 visits ahead; chunks of 4096-16384 in the real kernel gained nothing either.
// The backward's permuted rows run this way too, their gamma gathered whole by the sums pass: over (8, 256, 56, 56)
// NHWC, same harness, 0.81 (1 thread, 14.2 -> 11.5 ms) and 0.89 (2 threads). The forward's permuted rows keep their
// chunks (see rows_forward).
template <class F>
void for_each_row_segment(const shape &p, int64_t t, int64_t nt, F f) {
    const int64_t total = p.rows * p.d, vectors = (total + kFloatsPerVector - 1) / kFloatsPerVector;
    int64_t v0, v1;
    split(vectors, nt, t, &v0, &v1);
    const int64_t end = std::min(total, v1 * kFloatsPerVector);
    for (int64_t o = v0 * kFloatsPerVector; o < end;) {
        const int64_t m = o / p.d, i0 = o % p.d, len = std::min(p.d - i0, end - o);
        f(m, i0, len);
        o += len;
    }
}

void rows_forward(const shape &p, int64_t threads, const float *src, const float *gamma, const float *beta,
                  float *dst, float *mean, float *var, shifted_sums *chunk_sums, affine *row_coefficients,
                  const chunk_scratch &scratch) {
    const bool stream = stream_output(p.n * p.c * p.s, p.d);
    if (whole_rows(p, threads, 1, false)) {
        const float *g = whole_parameter(p, gamma, scratch.tiles), *b = whole_parameter(p, beta, scratch.tiles + p.d);
        parallel_for(p.rows, threads, stream, [&](int64_t m) {
            const float *x = src + m * p.d;
            const affine f = finish_set(p, m, x[0], run_shifted_sums(x, p.d, x[0]), mean, var);
            row_output(x, dst + m * p.d, 0, p.d, f, g, b, stream);
        });
        return;
    }
    const chunking ch = chunks_of(p);
    parallel_region(threads, [&] {
        const int64_t t = omp_get_thread_num();
#pragma omp for schedule(static)
        for (int64_t mq = 0; mq < p.rows * ch.count; ++mq) {  // in memory order: one stream per thread
            const int64_t m = mq / ch.count, i0 = mq % ch.count * ch.length, len = std::min(ch.length, p.d - i0);
            const float *x = src + m * p.d;
            chunk_sums[mq] = run_shifted_sums(x + i0, len, x[0]);
        }
#pragma omp for schedule(static)
        for (int64_t m = 0; m < p.rows; ++m) {
            shifted_sums total{0, 0};
            for (int64_t q = 0; q < ch.count; ++q) {
                total.s1 += chunk_sums[m * ch.count + q].s1;
                total.s2 += chunk_sums[m * ch.count + q].s2;
            }
            row_coefficients[m] = finish_set(p, m, src[m * p.d], total, mean, var);
        }
        if (p.map == mapping::rows) {
            for_each_row_segment(p, t, omp_get_num_threads(), [&](int64_t m, int64_t i0, int64_t len) {
                const int64_t o = m * p.d;
                row_output(src + o, dst + o, i0, len, row_coefficients[m], gamma, beta, stream);
            });
            if (stream) stream_fence();
            return;
        }
        // permuted rows: by chunk, a chunk's gamma and beta gathered once for all rows (gathered whole before a
        // memory-order pass, they cost more than they saved: forward over (8, 256, 56, 56) NHWC, Zen 4 VM,
        // whole / by chunk 1.03 on 1 thread, 1.11 on 2)
#pragma omp for schedule(static) nowait
        for (int64_t q = 0; q < ch.count; ++q) {
            const int64_t i0 = q * ch.length, len = std::min(ch.length, p.d - i0);
            const float *g = parameter_tile(p, gamma, i0, len, scratch.tile(t, 0));
            const float *b = parameter_tile(p, beta, i0, len, scratch.tile(t, 1));
            for (int64_t m0 = 0; m0 < p.rows; m0 += kInterleavedRows) {
                auto piece = [&](int64_t m, int64_t o, int64_t j0, int64_t jn) {
                    row_output(src + o, dst + o, 0, jn, row_coefficients[m], g ? g + j0 : nullptr,
                               b ? b + j0 : nullptr, stream);
                };
                for_each_interleaved_piece(p, m0, i0, len, src, nullptr, piece);
            }
        }
        if (stream) stream_fence();
    });
}

// dx over values [i0, i0 + len) of a row.
inline void row_gradient_output(const float *x, const float *dy, float *dx, const float *gamma, int64_t i0,
                                int64_t len, gradient_affine k, bool stream) {
    if (gamma) {
        run_weighted_gradient_affine(dy + i0, x + i0, dx + i0, len, k, gamma + i0, stream);
    } else {
        run_gradient_affine(dy + i0, x + i0, dx + i0, len, k, stream);
    }
}

// What the rows backward needs besides its tensors: statistics, the dgamma/dbeta outputs (logical order), and
// scratch (per-thread partials for whole rows; per-chunk sums, per-row coefficients and tiles for chunks).
struct rows_backward_args {
    const float *mean, *var;
    float *diff_gamma, *diff_beta;
    double *partial;            // whole rows: 2 * d doubles per thread (dgamma, dbeta), thread_stride() apart
    gradient_sums *chunk_sums;  // chunks: rows * chunk count
    gradient_affine *row_coefficients;
    chunk_scratch scratch;
};

void rows_backward(const shape &p, int64_t threads, const float *src, const float *diff_dst, const float *gamma,
                   float *diff_src, const rows_backward_args &r) {
    const bool want_params = r.diff_gamma != nullptr || r.diff_beta != nullptr;
    const bool stream = stream_output(p.n * p.c * p.s, p.d);
    auto coefficients = [&](int64_t m, double sum_g, double sum_g_u) {
        return training_gradient(1.0, r.mean[m], rstd_of(r.var[m], p.eps), sum_g, sum_g_u, p.d);  // a = rstd
    };
    if (whole_rows(p, threads, 2, want_params)) {
        const bool permuted = p.map == mapping::permuted_rows;
        const float *g = whole_parameter(p, gamma, r.scratch.tiles);
        parallel_region(threads, [&] {
            const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            const int64_t stride = thread_stride<double>(2 * p.d);
            double *dg = want_params ? r.partial + stride * t : nullptr, *db = dg ? dg + p.d : nullptr;
            if (dg) std::fill(dg, dg + 2 * p.d, 0.0);
            int64_t m0, m1;
            split(p.rows, nt, t, &m0, &m1);
            for (int64_t m = m0; m < m1; ++m) {
                const float *x = src + m * p.d, *dy = diff_dst + m * p.d;
                const parameter_shares shares{dg, db, rstd_of(r.var[m], p.eps)};
                gradient_lanes<false> lanes;
                lanes.add(x, dy, g, p.d, r.mean[m], dg ? &shares : nullptr);
                const gradient_sums sums = lanes.sums();
                row_gradient_output(x, dy, diff_src + m * p.d, g, 0, p.d, coefficients(m, sums.dy, sums.dy_u), stream);
            }
            if (stream) stream_fence();
            if (want_params) {
#pragma omp barrier
                // dgamma, dbeta: the per-thread partials added in thread order (for permuted rows into the tiles, in
                // memory order, whose gamma copy is no longer read, then stored in logical order chunk by chunk)
                for (int64_t which = 0; which < 2; ++which) {
                    float *out = which == 0 ? r.diff_gamma : r.diff_beta;
                    if (out == nullptr) continue;
                    float *sums = permuted ? r.scratch.tiles + which * p.d : out;
#pragma omp for schedule(static)
                    for (int64_t i0 = 0; i0 < p.d; i0 += kSumBlock) {
                        sum_parts(r.partial + which * p.d + i0, stride, nt, std::min(kSumBlock, p.d - i0), sums + i0);
                    }
                }
                if (permuted) {
                    const chunking ch = chunks_of(p);
#pragma omp for schedule(static)
                    for (int64_t q = 0; q < ch.count; ++q) {
                        const int64_t i0 = q * ch.length, len = std::min(ch.length, p.d - i0);
                        store_parameter_tile(p, r.scratch.tiles + i0, i0, len, r.diff_gamma);
                        store_parameter_tile(p, r.scratch.tiles + p.d + i0, i0, len, r.diff_beta);
                    }
                }
            }
        });
        return;
    }
    const chunking ch = chunks_of(p);
    parallel_region(threads, [&] {
        const int64_t t = omp_get_thread_num();
        // The sums of every (row, chunk), chunk by chunk: a chunk's gamma is read (or gathered) once for all rows,
        // and its dgamma and dbeta are summed over the rows in row order from the pieces just read, still in L1.
        // Tensors from kPrefetchBytes advance a group of rows together (for_each_interleaved_piece).
#pragma omp for schedule(static)
        for (int64_t q = 0; q < ch.count; ++q) {
            const int64_t i0 = q * ch.length, len = std::min(ch.length, p.d - i0);
            // permuted rows: gathered into the whole-row copy, which the output pass then reads in memory order
            float *tile = p.map == mapping::permuted_rows ? r.scratch.tiles + i0 : nullptr;
            const float *g = parameter_tile(p, gamma, i0, len, tile);
            double *dg = r.scratch.param(t, 0), *db = r.scratch.param(t, 1);
            if (want_params) {
                std::fill(dg, dg + len, 0.0);
                std::fill(db, db + len, 0.0);
                prefetch_parameter_lines(p, r.diff_gamma, i0, len, true);
                prefetch_parameter_lines(p, r.diff_beta, i0, len, true);
            }
            for (int64_t m0 = 0; m0 < p.rows; m0 += kInterleavedRows) {
                const int64_t m1 = std::min(p.rows, m0 + kInterleavedRows);
                gradient_lanes<false> sums[kInterleavedRows];
                double rstd[kInterleavedRows];
                for (int64_t m = m0; m < m1; ++m) rstd[m - m0] = rstd_of(r.var[m], p.eps);
                for_each_interleaved_piece(p, m0, i0, len, src, diff_dst, [&](int64_t m, int64_t o, int64_t j0,
                                                                                int64_t jn) {
                    const parameter_shares shares{dg + j0, db + j0, rstd[m - m0]};
                    sums[m - m0].add(src + o, diff_dst + o, g ? g + j0 : nullptr, jn, r.mean[m],
                                     want_params ? &shares : nullptr);
                });
                for (int64_t m = m0; m < m1; ++m) r.chunk_sums[m * ch.count + q] = sums[m - m0].sums();
            }
            if (want_params) {
                store_parameter_tile(p, dg, i0, len, r.diff_gamma);
                store_parameter_tile(p, db, i0, len, r.diff_beta);
            }
        }
#pragma omp for schedule(static)
        for (int64_t m = 0; m < p.rows; ++m) {
            double sum_g = 0, sum_g_u = 0;
            for (int64_t q = 0; q < ch.count; ++q) {
                sum_g += r.chunk_sums[m * ch.count + q].dy;
                sum_g_u += r.chunk_sums[m * ch.count + q].dy_u;
            }
            r.row_coefficients[m] = coefficients(m, sum_g, sum_g_u);
        }
        const float *g = p.map == mapping::permuted_rows && gamma ? r.scratch.tiles : gamma;
        for_each_row_segment(p, t, omp_get_num_threads(), [&](int64_t m, int64_t i0, int64_t len) {
            const int64_t o = m * p.d;
            row_gradient_output(src + o, diff_dst + o, diff_src + o, g, i0, len, r.row_coefficients[m], stream);
        });
        if (stream) stream_fence();
    });
}

// --------------------------------------------------------------------------------------------------- columns

// Channels per column-set block: all of C (whole rows: contiguous reads and writes; narrower blocks of rows C floats
// apart measured slower), split when there are fewer panels than threads.
int64_t columns_block_width(const shape &p, int64_t threads) {
    const int64_t panels = p.n * p.panel_sets;
    if (panels >= threads) return p.c;
    const int64_t per_panel = (threads + panels - 1) / panels;
    return std::min(p.c, std::max(kChunk, ((p.c + per_panel - 1) / per_panel + kChunk - 1) / kChunk * kChunk));
}

// Offset of panel (n, q) and the statistics index of its channel c.
inline int64_t panel_offset(const shape &p, int64_t panel) { return panel * p.d * p.c; }
inline int64_t set_index(const shape &p, int64_t panel, int64_t c) {
    const int64_t n = panel / p.panel_sets, q = panel % p.panel_sets;
    return (n * p.c + c) * p.panel_sets + q;
}

void columns_forward(const shape &p, int64_t threads, const float *src, const float *gamma, const float *beta,
                     float *dst, float *mean, float *var, double *doubles, float *floats, int64_t w) {
    const int64_t blocks = (p.c + w - 1) / w, panels = p.n * p.panel_sets;
    const bool stream = stream_output(p.n * p.c * p.s, p.c);
    parallel_for(panels * blocks, threads, stream, [&](int64_t i) {
        const int64_t panel = i / blocks, c0 = i % blocks * w, wb = std::min(w, p.c - c0), t = omp_get_thread_num();
        double *k = doubles + thread_stride<double>(3 * w) * t, *s1 = k + w, *s2 = s1 + w;
        float *m = floats + thread_stride<float>(3 * w) * t, *a = m + w, *b = a + w;
        const float *x = src + panel_offset(p, panel) + c0;
        for (int64_t j = 0; j < wb; ++j) {
            k[j] = x[j];
            s1[j] = s2[j] = 0;
        }
        block_shifted_sums(x, p.c, p.d, wb, k, s1, s2);
        for (int64_t j = 0; j < wb; ++j) {
            const affine f = finish_set(p, set_index(p, panel, c0 + j), k[j], {s1[j], s2[j]}, mean, var);
            m[j] = f.m;
            a[j] = f.a;
            b[j] = f.b;
        }
        float *y = dst + panel_offset(p, panel) + c0;
        if (gamma) {
            block_row_affine(x, y, p.c, p.d, wb, m, a, b, gamma, beta, stream);
        } else {
            block_affine(x, y, p.c, p.d, wb, m, a, b, stream);
        }
    });
}

void columns_backward(const shape &p, int64_t threads, const float *src, const float *diff_dst, const float *gamma,
                      const float *mean, const float *var, float *diff_src, float *diff_gamma, float *diff_beta,
                      double *doubles, float *floats, double *panel_params, int64_t w) {
    const bool want_params = diff_gamma != nullptr || diff_beta != nullptr;
    const int64_t panels = p.n * p.panel_sets;
    const bool stream = stream_output(p.n * p.c * p.s, p.c);
    parallel_for(panels, threads, stream, [&](int64_t panel) {
        const int64_t t = omp_get_thread_num();
        double *mu = doubles + thread_stride<double>(4 * w) * t, *rstd = mu + w, *sum_g = rstd + w;
        double *sum_g_u = sum_g + w;
        float *a = floats + thread_stride<float>(4 * w) * t, *b = a + w, *c = b + w, *m = c + w;
        double *dg = want_params ? panel_params + 2 * p.d * panel : nullptr, *db = dg ? dg + p.d : nullptr;
        if (dg) std::fill(dg, dg + 2 * p.d, 0.0);
        for (int64_t c0 = 0; c0 < p.c; c0 += w) {
            const int64_t wb = std::min(w, p.c - c0), offset = panel_offset(p, panel) + c0;
            const float *x = src + offset, *dy = diff_dst + offset;
            for (int64_t j = 0; j < wb; ++j) {
                const int64_t set = set_index(p, panel, c0 + j);
                mu[j] = mean[set];
                rstd[j] = rstd_of(var[set], p.eps);
                sum_g[j] = sum_g_u[j] = 0;
            }
            if (gamma) {
                block_weighted_gradient_sums(x, dy, gamma, p.c, p.d, wb, mu, sum_g, sum_g_u);
            } else {
                block_gradient_sums(x, dy, p.c, p.d, wb, mu, sum_g, sum_g_u);
            }
            for (int64_t j = 0; j < wb; ++j) {
                const gradient_affine k = training_gradient(1.0, mu[j], rstd[j], sum_g[j], sum_g_u[j], p.d);
                a[j] = k.a;
                b[j] = k.b;
                c[j] = k.c;
                m[j] = k.m;
            }
            if (gamma) {
                block_row_gradient_affine(dy, x, diff_src + offset, p.c, p.d, wb, a, b, c, m, gamma, stream);
            } else {
                block_gradient_affine(dy, x, diff_src + offset, p.c, p.d, wb, a, b, c, m, stream);
            }
            if (dg) block_row_parameter_gradients(x, dy, p.c, p.d, wb, mu, rstd, dg, db);
        }
    });
    if (!want_params) return;
    for (int64_t i0 = 0; i0 < p.d; i0 += kSumBlock) {
        const int64_t len = std::min(kSumBlock, p.d - i0);
        if (diff_gamma) sum_parts(panel_params + i0, 2 * p.d, panels, len, diff_gamma + i0);
        if (diff_beta) sum_parts(panel_params + p.d + i0, 2 * p.d, panels, len, diff_beta + i0);
    }
}

}  // namespace

void layer_norm_forward(const layer_norm_problem &problem, const float *src, const float *gamma, const float *beta,
                        float *dst, float *mean, float *var) {
    const shape p = shape_of(problem);
    const int64_t threads = threads_for(p.n * p.c * p.s);
    scratch_plan plan;
    if (p.map == mapping::columns) {
        const int64_t w = columns_block_width(p, threads);
        const size_t doubles = plan.add_thread_slices<double>(3 * w, threads);
        const size_t floats = plan.add_thread_slices<float>(3 * w, threads);
        plan.allocate();
        columns_forward(p, threads, src, gamma, beta, dst, mean, var, plan.get<double>(doubles),
                        plan.get<float>(floats), w);
        return;
    }
    const bool chunked = !whole_rows(p, threads, 1, false);
    const chunking ch = chunks_of(p);
    const size_t sums = plan.add<shifted_sums>(chunked ? p.rows * ch.count : 0);
    const size_t coefficients = plan.add<affine>(chunked ? p.rows : 0);
    const size_t tiles = add_forward_tiles(plan, p, chunked, ch, threads);
    plan.allocate();
    rows_forward(p, threads, src, gamma, beta, dst, mean, var, plan.get<shifted_sums>(sums),
                 plan.get<affine>(coefficients), {plan.get<float>(tiles), nullptr, ch.length});
}

void layer_norm_backward(const layer_norm_problem &problem, const float *src, const float *diff_dst,
                         const float *gamma, const float *mean, const float *var, float *diff_src, float *diff_gamma,
                         float *diff_beta) {
    const shape p = shape_of(problem);
    const int64_t threads = threads_for(p.n * p.c * p.s);
    const bool want_params = diff_gamma != nullptr || diff_beta != nullptr;
    scratch_plan plan;
    if (p.map == mapping::columns) {
        const int64_t w = columns_block_width(p, threads);
        const size_t doubles = plan.add_thread_slices<double>(4 * w, threads);
        const size_t floats = plan.add_thread_slices<float>(4 * w, threads);
        const size_t panel_params = plan.add<double>(want_params ? 2 * p.d * p.n * p.panel_sets : 0);
        plan.allocate();
        columns_backward(p, threads, src, diff_dst, gamma, mean, var, diff_src, diff_gamma, diff_beta,
                         plan.get<double>(doubles), plan.get<float>(floats), plan.get<double>(panel_params), w);
        return;
    }
    const bool chunked = !whole_rows(p, threads, 2, want_params);
    const chunking ch = chunks_of(p);
    const size_t partial = plan.add_thread_slices<double>(!chunked && want_params ? 2 * p.d : 0, threads);
    const size_t sums = plan.add<gradient_sums>(chunked ? p.rows * ch.count : 0);
    const size_t coefficients = plan.add<gradient_affine>(chunked ? p.rows : 0);
    const size_t tiles = add_backward_tiles(plan, p, chunked);
    const size_t params = plan.add_thread_slices<double>(chunked && want_params ? 2 * ch.length : 0, threads);
    plan.allocate();
    const rows_backward_args r{mean, var, diff_gamma, diff_beta, plan.get<double>(partial),
                               plan.get<gradient_sums>(sums), plan.get<gradient_affine>(coefficients),
                               {plan.get<float>(tiles), plan.get<double>(params), ch.length}};
    rows_backward(p, threads, src, diff_dst, gamma, diff_src, r);
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
