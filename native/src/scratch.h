// Working memory for kernels that need more than the stack: one grow-only buffer per calling thread, reused by all
// its later calls, so that once warm a kernel call allocates nothing (and a long loop of calls keeps RSS flat).
// The buffer of a thread is freed when the thread ends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace nk {

// At least `bytes` bytes, 64-byte aligned, owned by the calling thread and valid until its next call. Only the
// thread that entered the C ABI calls it (never an OpenMP worker); the memory may be shared with the workers.
// Throws std::bad_alloc.
void *thread_scratch(size_t bytes);

constexpr int64_t kPageBytes = 4096;

// The stride, in elements of T, between the OpenMP threads' slices of one scratch array of `count` elements per
// thread: `count` rounded up to whole 64-byte cache lines, plus one page, so that no two threads' slices share a
// line or a page.
// - Sharing a line is the obvious hazard: a group-norm backward over (32, 64, 14, 14) in 32 groups, whose
//   per-thread slices were 48 bytes, did not run faster on 2 threads than on 1.
// - Sharing a page is the less obvious one. The hardware prefetchers work within a page, so a thread sweeping its
//   own slice pulls the neighbouring slice into its core's cache, and the owner of that slice then pays to
//   invalidate the copy on every write. With slices one line apart, group norm channels-last over (32, 64, 14, 14)
//   on 2 threads took 61-65 us forward and 80-81 us backward; with a page between them, 46 us and 65-66 us (one
//   Zen 5 VM, separate processes).
// The gap is a whole page rather than a rounding up to a page boundary, so that the offsets within a page of the
// scratch arrays, which decide how their stores alias the tensors' loads (4K aliasing), stay as they were.
template <class T>
constexpr int64_t thread_stride(int64_t count) {
    const int64_t size = static_cast<int64_t>(sizeof(T));
    return ((count * size + 63) / 64 * 64 + kPageBytes) / size;
}

// Whether scratch plans guard their arrays: the environment variable NORMKIT_SCRATCH_GUARD=1, read once (the test
// suite sets it). Results need not show a kernel writing past one of its scratch arrays: with the buffer reused and
// grown, the stray writes land in slack or in an array written again later. A batch-norm partial array sized for
// one thread's slice, written by two threads a page apart, passed every test and crashed only a C harness.
bool scratch_guard_enabled();

// Reports a guard found overwritten (which array of the plan, its size) on stderr and aborts: the memory after the
// array is already corrupt, so there is nothing safe to return to.
[[noreturn]] void scratch_overrun(int array, size_t bytes);

// The byte a guard page is filled with, and a page of it to compare guards with.
constexpr int kGuardByte = 0xa5;
const char *guard_page();

// Carves typed arrays out of one thread_scratch() buffer: plan every array with add<T>(count), then get<T>(offset).
// With scratch_guard_enabled(), each array is followed by a guard page, filled when allocated and checked when the
// plan goes out of scope.
class scratch_plan {
public:
    scratch_plan() : guarded_(scratch_guard_enabled()) {}
    ~scratch_plan() {
        if (base_ != nullptr) check_guards();
    }
    scratch_plan(const scratch_plan &) = delete;
    scratch_plan &operator=(const scratch_plan &) = delete;

    template <class T>
    size_t add(int64_t count) {
        const size_t offset = bytes_;
        bytes_ += (static_cast<size_t>(count) * sizeof(T) + 63) / 64 * 64;
        if (guarded_ && arrays_ < kMaxGuarded) {
            guards_[arrays_++] = {bytes_, bytes_ - offset};
            bytes_ += kPageBytes;
        }
        return offset;
    }

    // An array of `threads` slices of `count` T each, thread_stride<T>(count) apart, with one page before the first
    // slice: the page that thread_stride() leaves between slices, also between the first slice and the array planned
    // before it. Without it, batch norm channels-last over (8, 256, 56, 56) on 2 threads kept its per-channel
    // centers, read by both threads in the sums, on the page of thread 0's partial sums, written by it on every
    // block: thread 1's prefetches of the centers pulled in thread 0's lines, and thread 0's sums took 735 us
    // against thread 1's 508 (forward 1823-1858 us in all; with the page, 1599-1656, and thread 0's sums 500 us).
    template <class T>
    size_t add_thread_slices(int64_t count, int64_t threads) {
        if (count > 0 && threads > 0) bytes_ += kPageBytes;
        return add<T>(count > 0 ? thread_stride<T>(count) * threads : 0);
    }

    // Allocates (or reuses) the buffer; call after the last add().
    void allocate() {
        base_ = static_cast<char *>(thread_scratch(bytes_));
        for (int i = 0; i < arrays_; ++i) std::memset(base_ + guards_[i].offset, kGuardByte, kPageBytes);
    }

    template <class T>
    T *get(size_t offset) const {
        return reinterpret_cast<T *>(base_ + offset);
    }

private:
    static constexpr int kMaxGuarded = 16;
    struct guard {
        size_t offset, array_bytes;
    };

    void check_guards() const {
        for (int i = 0; i < arrays_; ++i) {
            if (std::memcmp(base_ + guards_[i].offset, guard_page(), kPageBytes) != 0) {
                scratch_overrun(i, guards_[i].array_bytes);
            }
        }
    }

    bool guarded_;
    int arrays_ = 0;
    guard guards_[kMaxGuarded];
    size_t bytes_ = 0;
    char *base_ = nullptr;
};

}  // namespace nk
