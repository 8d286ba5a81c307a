// The per-ISA kernel table. Every kernel source is compiled once per ISA with NK_ISA_NAMESPACE set to that ISA's
// name (scalar, avx2, avx512), so the same code yields nk::scalar::, nk::avx2:: and nk::avx512:: functions;
// dispatch.cpp picks one table at run time.
#pragma once

#include <cstdint>

#include "normkit/normkit.h"

namespace nk {

struct kernel_table {
    const char *isa_name;
    void (*scale_shift)(const float *src, float *dst, int64_t n, float a, float b);
};

namespace scalar { const kernel_table &kernels(); }
namespace avx2 { const kernel_table &kernels(); }
namespace avx512 { const kernel_table &kernels(); }

}  // namespace nk
