/*
 * normkit's own kernels: the C ABI.
 *
 * Conventions (after oneDNN's C API):
 *  - every function returns an nk_status_t; NK_SUCCESS is 0;
 *  - tensors are float32 and passed as `src` / `dst` (and `diff_src`, `diff_dst` for gradients) with their
 *    logical dims as int64_t; the memory layout is named by nk_layout_t;
 *  - the Java side validates every argument before calling; the checks done here again are a last line of
 *    defence and answer NK_INVALID_ARGUMENTS rather than read out of bounds;
 *  - kernels run on the OpenMP runtime shared with oneDNN (the dnnl preset's libgomp.so.1).
 */
#ifndef NORMKIT_NORMKIT_H
#define NORMKIT_NORMKIT_H

#include <stdint.h>

#if defined(_WIN32)
#define NK_API __declspec(dllexport)
#else
#define NK_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nk_status {
    NK_SUCCESS = 0,
    NK_INVALID_ARGUMENTS = 1,
    NK_UNSUPPORTED = 2,
    NK_OUT_OF_MEMORY = 3,
    NK_RUNTIME_ERROR = 4
} nk_status_t;

/* Instruction sets the kernels are compiled for; the widest one the CPU supports is used. */
typedef enum nk_isa {
    NK_ISA_SCALAR = 0, /* x86-64 baseline (SSE2) */
    NK_ISA_AVX2 = 1,   /* AVX2 + FMA */
    NK_ISA_AVX512 = 2  /* AVX-512 F/BW/DQ/VL, 512-bit vectors */
} nk_isa_t;

/* Memory layout of a tensor of logical shape (N, C, *spatial). */
typedef enum nk_layout {
    NK_LAYOUT_CHANNELS_FIRST = 0, /* NCHW, NCDHW, NCL: contiguous in logical order */
    NK_LAYOUT_CHANNELS_LAST = 1   /* NHWC, NDHWC, NLC */
} nk_layout_t;

/* The library's version, e.g. "0.1.0". */
NK_API const char *nk_version(void);

/* A short English description of a status code. */
NK_API const char *nk_status_string(nk_status_t status);

/* The ISA the kernels currently run with. */
NK_API nk_isa_t nk_get_isa(void);

/* Caps the ISA (to exercise every code path on one machine); the effective ISA is the smaller of `max_isa` and
 * what the CPU supports, and is returned in *effective. */
NK_API nk_status_t nk_set_max_isa(nk_isa_t max_isa, nk_isa_t *effective);

/* The ISA the CPU supports best, whatever the cap. */
NK_API nk_isa_t nk_get_cpu_isa(void);

/* Streaming probe: dst[i] = a * src[i] + b for i < n. The memory-bandwidth yardstick of the benchmarks. */
NK_API nk_status_t nk_scale_shift(const float *src, float *dst, int64_t n, float a, float b);

#ifdef __cplusplus
}
#endif

#endif /* NORMKIT_NORMKIT_H */
