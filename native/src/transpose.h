// Square blocks of floats transposed in registers: layer norm's parameter tiles (channels-last rows) and the layout
// change of activations (relayout.cpp). Compiled into each ISA variant, like set_primitives.h.
#pragma once

#include "set_primitives.h"  // the ISA namespace guard, <immintrin.h>, <algorithm>

namespace nk {
namespace NK_ISA_NAMESPACE {

constexpr int64_t kTransposeBlock = 16;

#if defined(__AVX512F__)
// (The zero-masked forms with every lane selected are the plain instructions; GCC 12's unmasked intrinsics pass an
// undefined vector that -Wmaybe-uninitialized reports once inlined.)
constexpr __mmask8 kAll8 = 0xff;
constexpr __mmask16 kAll16 = 0xffff;

inline __m512 load_block_row(const float *p) { return _mm512_loadu_ps(p); }
inline __m512 load_block_row(const double *p) {  // 16 doubles rounded to floats, as static_cast<float> does
    const __m256d low = _mm256_castps_pd(_mm512_maskz_cvtpd_ps(kAll8, _mm512_loadu_pd(p)));
    const __m256d high = _mm256_castps_pd(_mm512_maskz_cvtpd_ps(kAll8, _mm512_loadu_pd(p + 8)));
    const __m512d low_only = _mm512_maskz_insertf64x4(kAll8, _mm512_setzero_pd(), low, 0);
    return _mm512_castpd_ps(_mm512_maskz_insertf64x4(kAll8, low_only, high, 1));
}

// r[i] = row i of a 16 x 16 block -> r[j] = its column j: pairs, then quadruples within 128-bit lanes, then lanes.
inline void transpose_in_registers(__m512 (&r)[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_maskz_unpacklo_ps(kAll16, r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_maskz_unpackhi_ps(kAll16, r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
        r[4 * i] = _mm512_maskz_shuffle_ps(kAll16, t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_maskz_shuffle_ps(kAll16, t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_maskz_shuffle_ps(kAll16, t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_maskz_shuffle_ps(kAll16, t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; ++i) {
        t[i] = _mm512_maskz_shuffle_f32x4(kAll16, r[i], r[4 + i], 0x88);
        t[4 + i] = _mm512_maskz_shuffle_f32x4(kAll16, r[i], r[4 + i], 0xdd);
        t[8 + i] = _mm512_maskz_shuffle_f32x4(kAll16, r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_maskz_shuffle_f32x4(kAll16, r[8 + i], r[12 + i], 0xdd);
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm512_maskz_shuffle_f32x4(kAll16, t[i], t[8 + i], 0x88);
        r[4 + i] = _mm512_maskz_shuffle_f32x4(kAll16, t[4 + i], t[12 + i], 0x88);
        r[8 + i] = _mm512_maskz_shuffle_f32x4(kAll16, t[i], t[8 + i], 0xdd);
        r[12 + i] = _mm512_maskz_shuffle_f32x4(kAll16, t[4 + i], t[12 + i], 0xdd);
    }
}
#endif

// A kTransposeBlock x kTransposeBlock block transposed and rounded to float (T: float or double). AVX-512: 16 row
// loads, 64 in-register shuffles and 16 row stores. Scalar form:
// to[j * to_stride + i] = static_cast<float>(from[i * from_stride + j]).
template <class T>
inline void transpose_block(const T *from, int64_t from_stride, float *to, int64_t to_stride) {
#if defined(__AVX512F__)
    __m512 r[kTransposeBlock];
    for (int64_t i = 0; i < kTransposeBlock; ++i) r[i] = load_block_row(from + i * from_stride);
    transpose_in_registers(r);
    for (int64_t j = 0; j < kTransposeBlock; ++j) _mm512_storeu_ps(to + j * to_stride, r[j]);
#else
    for (int64_t i = 0; i < kTransposeBlock; ++i) {
        for (int64_t j = 0; j < kTransposeBlock; ++j) {
            to[j * to_stride + i] = static_cast<float>(from[i * from_stride + j]);
        }
    }
#endif
}

// Rows [i0, i1) of a rows x cols matrix written transposed: to[j * rows + i] = from[i * cols + j], by whole blocks
// where they fit and value by value at the edges.
inline void transpose_rows(const float *from, float *to, int64_t rows, int64_t cols, int64_t i0, int64_t i1) {
    for (int64_t j0 = 0; j0 < cols; j0 += kTransposeBlock) {
        const int64_t j1 = std::min(cols, j0 + kTransposeBlock);
        if (i1 - i0 == kTransposeBlock && j1 - j0 == kTransposeBlock) {
            transpose_block(from + i0 * cols + j0, cols, to + j0 * rows + i0, rows);
            continue;
        }
        for (int64_t i = i0; i < i1; ++i) {
            for (int64_t j = j0; j < j1; ++j) to[j * rows + i] = from[i * cols + j];
        }
    }
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
