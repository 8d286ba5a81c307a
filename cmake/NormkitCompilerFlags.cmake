# Compiler flags for normkit's kernels.
#
# Every kernel source is compiled once per instruction set (see normkit_add_isa_variant); the library picks the
# widest variant the CPU supports at run time (native/src/dispatch.cpp). The flags here keep IEEE semantics:
# vectorized reductions come from `#pragma omp simd reduction`, not from -ffast-math, so NaN and infinities
# propagate as in PyTorch and results are reproducible for a given ISA and thread count.

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
set(CMAKE_CXX_VISIBILITY_PRESET hidden)
set(CMAKE_VISIBILITY_INLINES_HIDDEN ON)

set(NORMKIT_COMMON_FLAGS -O3 -fopenmp -fno-math-errno -fno-trapping-math -Wall -Wextra -Wno-unused-parameter)

# name -> compile flags of one ISA variant
set(NORMKIT_ISA_scalar_FLAGS -march=x86-64 -mtune=generic)
set(NORMKIT_ISA_avx2_FLAGS -march=haswell -mtune=generic)
set(NORMKIT_ISA_avx512_FLAGS -march=skylake-avx512 -mprefer-vector-width=512 -mtune=generic)

# normkit_add_isa_variant(<target> <isa> <sources...>): an object library of <sources> compiled for <isa>,
# with NK_ISA_NAMESPACE=<isa> so that each variant's symbols live in their own namespace.
function(normkit_add_isa_variant target isa)
  add_library(${target} OBJECT ${ARGN})
  target_compile_options(${target} PRIVATE ${NORMKIT_COMMON_FLAGS} ${NORMKIT_ISA_${isa}_FLAGS})
  target_compile_definitions(${target} PRIVATE NK_ISA_NAMESPACE=${isa})
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include ${CMAKE_CURRENT_SOURCE_DIR}/src)
endfunction()
