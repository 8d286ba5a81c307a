// The streaming probe y = a * x + b: one read and one write per element, nothing else. Benchmarks time it over
// the same number of bytes as a normalization pass to know what the memory system allows.
#include "kernels.h"
#include "set_primitives.h"

#include <omp.h>

namespace nk {
namespace NK_ISA_NAMESPACE {

void scale_shift(const float *src, float *dst, int64_t n, float a, float b) {
    // Each thread streams one contiguous range; small calls stay on the calling thread (parallel_region).
    parallel_region(n > (int64_t{1} << 15) ? omp_get_max_threads() : 1, [&] {
        int64_t begin, end;
        split(n, omp_get_num_threads(), omp_get_thread_num(), &begin, &end);
#pragma omp simd
        for (int64_t i = begin; i < end; ++i) dst[i] = a * src[i] + b;
    });
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
