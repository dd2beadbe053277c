// Host stand-in for CUDA's cuda_fp16.h: an IEEE binary16 value and its conversions, which round
// to nearest even as the device's and NumPy's do.
#pragma once

struct __half {
    _Float16 value;
};

inline float __half2float(__half h) { return static_cast<float>(h.value); }
inline __half __float2half(float f) { return __half{static_cast<_Float16>(f)}; }
