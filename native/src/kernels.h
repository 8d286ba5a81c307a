// Declarations of the kernels of one ISA variant (inside namespace nk::NK_ISA_NAMESPACE).
#pragma once

#include <cstdint>

#ifndef NK_ISA_NAMESPACE
#error "compile kernel sources through normkit_add_isa_variant, which defines NK_ISA_NAMESPACE"
#endif

namespace nk {
namespace NK_ISA_NAMESPACE {

void scale_shift(const float *src, float *dst, int64_t n, float a, float b);

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
