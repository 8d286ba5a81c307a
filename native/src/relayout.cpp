// Activations from one memory layout to the other: each image of an (N, C, S) tensor is a C x S matrix in
// channels-first order and an S x C one in channels-last order, so either change is a transpose per image
// (transpose.h), in parallel over images and blocks of 16 rows. The convolution runs channels-first activations
// through oneDNN's channels-last kernels this way (DnnlConvolution).
#include <algorithm>

#include "kernels.h"
#include "set_primitives.h"
#include "transpose.h"

namespace nk {
namespace NK_ISA_NAMESPACE {

void transpose_images(const float *src, float *dst, int64_t n, int64_t rows, int64_t cols) {
    const int64_t blocks = (rows + kTransposeBlock - 1) / kTransposeBlock, image = rows * cols;
    parallel_for(n * blocks, threads_for(n * image, false), false, [&](int64_t item) {
        const int64_t k = item / blocks, i0 = item % blocks * kTransposeBlock;
        transpose_rows(src + k * image, dst + k * image, rows, cols, i0, std::min(rows, i0 + kTransposeBlock));
    });
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
