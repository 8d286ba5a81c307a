// The streaming probe y = a * x + b: one read and one write per element, nothing else. Benchmarks time it over
// the same number of bytes as a normalization pass to know what the memory system allows.
#include "kernels.h"

#include <omp.h>

namespace nk {
namespace NK_ISA_NAMESPACE {

void scale_shift(const float *src, float *dst, int64_t n, float a, float b) {
    // Static schedule over contiguous chunks: each thread streams one range.
#pragma omp parallel for simd schedule(static) if (n > (int64_t{1} << 15))
    for (int64_t i = 0; i < n; ++i) dst[i] = a * src[i] + b;
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
