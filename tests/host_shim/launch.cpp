// Host launcher for kernels/roi_align.cu and roi_align_backward.cu: the files themselves, compiled
// as C++ with cuda_runtime_shim.h, and one extern "C" entry per instantiation (named KERNEL_DTYPE)
// that runs a 1-D grid serially.
// Arguments come as cuLaunchKernel takes them: an array of pointers to each argument's value.

#include <cstddef>
#include <type_traits>
#include <utility>

#include "roi_align.cu"
#include "roi_align_backward.cu"

namespace {

template <typename... A, std::size_t... I>
void call(void (*kernel)(A...), void** args, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_reference_t<A>*>(args[I])...);
}

template <typename... A>
void run_grid(void (*kernel)(A...), unsigned blocks, unsigned threads, void** args) {
    gridDim = dim3{blocks, 1, 1};
    blockDim = dim3{threads, 1, 1};
    for (unsigned b = 0; b < blocks; ++b) {
        for (unsigned t = 0; t < threads; ++t) {
            blockIdx = dim3{b, 0, 0};
            threadIdx = dim3{t, 0, 0};
            call(kernel, args, std::index_sequence_for<A...>{});
        }
    }
}

}  // namespace

#define ROIALIGN_ENTRIES(kernel)                                                        \
    void kernel##_float16(unsigned blocks, unsigned threads, void** args) {             \
        run_grid(&kernel<__half>, blocks, threads, args);                               \
    }                                                                                   \
    void kernel##_float32(unsigned blocks, unsigned threads, void** args) {             \
        run_grid(&kernel<float>, blocks, threads, args);                                \
    }                                                                                   \
    void kernel##_float64(unsigned blocks, unsigned threads, void** args) {             \
        run_grid(&kernel<double>, blocks, threads, args);                               \
    }

extern "C" {
ROIALIGN_ENTRIES(roi_align_forward)
ROIALIGN_ENTRIES(roi_align_select)
ROIALIGN_ENTRIES(roi_align_backward_atomic)
ROIALIGN_ENTRIES(roi_align_backward_ordered)
}
