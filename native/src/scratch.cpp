// The per-thread scratch buffer of scratch.h (compiled once, not per ISA: all variants share a thread's buffer).
#include "scratch.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace nk {
namespace {

struct thread_buffer {
    void *memory = nullptr;
    size_t capacity = 0;
    ~thread_buffer() { std::free(memory); }
};

thread_local thread_buffer buffer;

}  // namespace

void *thread_scratch(size_t bytes) {
    if (bytes <= buffer.capacity && buffer.memory != nullptr) return buffer.memory;
    // grow by at least half again, so that a slowly growing sequence of requests reallocates rarely
    size_t capacity = bytes > buffer.capacity + buffer.capacity / 2 ? bytes : buffer.capacity + buffer.capacity / 2;
    capacity = (capacity + 63) / 64 * 64;
    void *memory = std::aligned_alloc(64, capacity == 0 ? 64 : capacity);
    if (memory == nullptr) throw std::bad_alloc();
    std::free(buffer.memory);
    buffer.memory = memory;
    buffer.capacity = capacity;
    return memory;
}

bool scratch_guard_enabled() {
    static const bool enabled = [] {
        const char *v = std::getenv("NORMKIT_SCRATCH_GUARD");
        return v != nullptr && v[0] == '1';
    }();
    return enabled;
}

const char *guard_page() {
    static const struct page {
        char bytes[kPageBytes];
        page() { std::memset(bytes, kGuardByte, sizeof bytes); }
    } pattern;
    return pattern.bytes;
}

void scratch_overrun(int array, size_t bytes) {
    std::fprintf(stderr, "normkit: a kernel wrote past scratch array %d (%zu bytes) of its plan\n", array, bytes);
    std::fflush(stderr);
    std::abort();
}

}  // namespace nk
