// Host launcher for kernels/roi_align.cu: the file itself, compiled as C++ with
// cuda_runtime_shim.h, and one extern "C" entry per instantiation that runs a 1-D grid serially.
// Arguments come as cuLaunchKernel takes them: an array of pointers to each argument's value.

#include <cstddef>
#include <type_traits>
#include <utility>

#include "roi_align.cu"

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

extern "C" {
void roi_align_forward_float16(unsigned blocks, unsigned threads, void** args) {
    run_grid(&roi_align_forward<__half>, blocks, threads, args);
}
void roi_align_forward_float32(unsigned blocks, unsigned threads, void** args) {
    run_grid(&roi_align_forward<float>, blocks, threads, args);
}
void roi_align_forward_float64(unsigned blocks, unsigned threads, void** args) {
    run_grid(&roi_align_forward<double>, blocks, threads, args);
}
}
