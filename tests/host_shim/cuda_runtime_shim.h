// Lets a CUDA kernel file compile as plain C++ for the host tests (g++ -include this file).
// The kernels keep no shared memory and no barriers, so running every thread of every block one
// after the other (see launch.cpp) gives what the device gives.
#pragma once

#include <cmath>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

inline thread_local dim3 blockIdx, threadIdx, blockDim, gridDim;

using std::ceil;
using std::floor;

// Threads run one after the other, so an atomic add is a plain one.
template <typename T> inline T atomicAdd(T* address, T value) {
    const T old = *address;
    *address = old + value;
    return old;
}
