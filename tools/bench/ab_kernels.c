/* A/B timing of two or more builds of libnormkit.so in one process, through the C ABI.
 *
 * On these shared VMs the memory bandwidth drifts by up to 2x within minutes, so two builds timed in separate runs
 * cannot be compared. This loads each build (dlopen, RTLD_LOCAL | RTLD_DEEPBIND: every copy keeps its own symbols)
 * and calls them in alternation, in blocks of 5 calls, on the same tensors; it prints each build's median, quartiles
 * and median relative to the first build.
 *
 *   gcc -O2 -I native/include tools/bench/ab_kernels.c -o /tmp/ab_kernels -ldl
 *   /tmp/ab_kernels OP LAYOUT THREADS BLOCKS N C S DIR...
 *
 * OP: layer-norm-forward | layer-norm-backward (over (C, S)), group-norm-forward | group-norm-backward (32 groups),
 * batch-norm-forward | batch-norm-backward, instance-norm-forward | instance-norm-backward (training passes);
 * LAYOUT: nchw | nhwc; DIR: a directory holding a libnormkit.so (copy target/native-build/libnormkit.so of each
 * build there). libdnnl.so.3 must be on LD_LIBRARY_PATH (the preset's, e.g. under ~/.javacpp/cache). Example, the
 * DRAM shape:
 *   /tmp/ab_kernels layer-norm-backward nchw 1 16 8 256 3136 /tmp/old /tmp/new
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "normkit/normkit.h"

typedef nk_status_t (*ln_fwd)(const float *, float *, const float *, const float *, float *, float *, int64_t,
                              int64_t, int64_t, int64_t, nk_layout_t, double);
typedef nk_status_t (*ln_bwd)(const float *, const float *, const float *, const float *, const float *, float *,
                              float *, float *, int64_t, int64_t, int64_t, int64_t, nk_layout_t, double);
typedef nk_status_t (*cs_fwd)(const float *, float *, const float *, const float *, float *, float *, int64_t,
                              int64_t, int64_t, nk_layout_t, double);
typedef nk_status_t (*cs_bwd)(const float *, const float *, const float *, const float *, const float *, float *,
                              float *, float *, int64_t, int64_t, int64_t, nk_layout_t, double);
typedef nk_status_t (*set_threads)(int32_t);

enum { kMaxBuilds = 8, kPerBlock = 5, kGroups = 32 };

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void *allocate(int64_t floats, float value_step) {
    float *p = aligned_alloc(64, (size_t)((floats * 4 + 63) / 64 * 64));
    if (p == NULL) exit(2);
    for (int64_t i = 0; i < floats; ++i) p[i] = (float)(i % 97) * value_step - 0.4f;
    return p;
}

int main(int argc, char **argv) {
    if (argc < 9) {
        fprintf(stderr, "usage: %s OP nchw|nhwc THREADS BLOCKS N C S DIR...\n", argv[0]);
        return 2;
    }
    const char *op = argv[1];
    const nk_layout_t layout = strcmp(argv[2], "nhwc") == 0 ? NK_LAYOUT_CHANNELS_LAST : NK_LAYOUT_CHANNELS_FIRST;
    const int threads = atoi(argv[3]), blocks = atoi(argv[4]);
    const int64_t n = atoll(argv[5]), c = atoll(argv[6]), s = atoll(argv[7]), count = n * c * s, d = c * s;
    const int builds = argc - 8 > kMaxBuilds ? kMaxBuilds : argc - 8;
    const int backward = strstr(op, "backward") != NULL;
    const int per_position = strncmp(op, "layer-norm", 10) == 0;  /* parameters per normalized position */
    const int64_t params = per_position ? d : c, stats = n * c;  /* enough for every op's statistics */
    const char *symbol = strcmp(op, "layer-norm-forward") == 0        ? "nk_layer_norm_forward"
                         : strcmp(op, "layer-norm-backward") == 0     ? "nk_layer_norm_backward"
                         : strcmp(op, "group-norm-forward") == 0      ? "nk_group_norm_forward"
                         : strcmp(op, "group-norm-backward") == 0     ? "nk_group_norm_backward"
                         : strcmp(op, "batch-norm-forward") == 0      ? "nk_batch_norm_forward_training"
                         : strcmp(op, "batch-norm-backward") == 0     ? "nk_batch_norm_backward"
                         : strcmp(op, "instance-norm-forward") == 0   ? "nk_instance_norm_forward_training"
                         : strcmp(op, "instance-norm-backward") == 0  ? "nk_instance_norm_backward"
                                                                      : NULL;
    if (symbol == NULL) {
        fprintf(stderr, "unknown op %s\n", op);
        return 2;
    }
    float *x = allocate(count, 0.01f), *dy = allocate(count, 0.011f), *out = allocate(count, 0.0f);
    float *gamma = allocate(params, 0.001f), *beta = allocate(params, 0.0f), *dgamma = allocate(params, 0.0f);
    float *dbeta = allocate(params, 0.0f), *mean = allocate(stats, 0.0f), *var = allocate(stats, 0.0f);
    for (int64_t i = 0; i < params; ++i) gamma[i] += 1.0f;
    for (int64_t i = 0; i < stats; ++i) mean[i] = 0.5f, var[i] = 1.0f;  /* the backward's saved statistics */
    void *fn[kMaxBuilds];
    for (int k = 0; k < builds; ++k) {
        char path[4096];
        snprintf(path, sizeof path, "%s/libnormkit.so", argv[8 + k]);
        void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
        if (lib == NULL || (fn[k] = dlsym(lib, symbol)) == NULL) {
            fprintf(stderr, "%s: %s\n", path, dlerror());
            return 2;
        }
        ((set_threads)dlsym(lib, "nk_set_num_threads"))(threads);
    }
    double *times = malloc(sizeof(double) * (size_t)(builds * blocks * kPerBlock));
    int taken[kMaxBuilds] = {0};
    for (int block = 0; block < blocks + 2; ++block) {  /* the first two blocks warm up */
        for (int k = 0; k < builds; ++k) {
            for (int r = 0; r < kPerBlock; ++r) {
                const double t0 = now_ms();
                nk_status_t status;
                if (per_position) {
                    status = backward ? ((ln_bwd)fn[k])(x, dy, gamma, mean, var, out, dgamma, dbeta, n, c, s, d,
                                                        layout, 1e-5)
                                      : ((ln_fwd)fn[k])(x, out, gamma, beta, mean, var, n, c, s, d, layout, 1e-5);
                } else if (strncmp(op, "group-norm", 10) == 0) {
                    status = backward ? ((ln_bwd)fn[k])(x, dy, gamma, mean, var, out, dgamma, dbeta, n, c, s,
                                                        kGroups, layout, 1e-5)
                                      : ((ln_fwd)fn[k])(x, out, gamma, beta, mean, var, n, c, s, kGroups, layout,
                                                        1e-5);
                } else {
                    status = backward ? ((cs_bwd)fn[k])(x, dy, gamma, mean, var, out, dgamma, dbeta, n, c, s,
                                                        layout, 1e-5)
                                      : ((cs_fwd)fn[k])(x, out, gamma, beta, mean, var, n, c, s, layout, 1e-5);
                }
                const double elapsed = now_ms() - t0;
                if (status != NK_SUCCESS) {
                    fprintf(stderr, "%s returned %d\n", symbol, (int)status);
                    return 2;
                }
                if (block >= 2) times[k * blocks * kPerBlock + taken[k]++] = elapsed;
            }
        }
    }
    double first = 0;
    for (int k = 0; k < builds; ++k) {
        double *t = times + k * blocks * kPerBlock;
        const int m = taken[k];
        qsort(t, (size_t)m, sizeof(double), by_value);
        if (k == 0) first = t[m / 2];
        printf("%-24s %s %s %d thread(s): median %.3f ms, quartiles %.3f-%.3f, / first %.3f\n", argv[8 + k], op,
               argv[2], threads, t[m / 2], t[m / 4], t[3 * m / 4], t[m / 2] / first);
    }
    return 0;
}
