// RoIAlign forward for every convention of roialign_cli/conventions.py.
//
// The algorithm is Caffe2's RoIAlignForward: each output bin of a roi takes a regular grid of
// sample points, reads each point by bilinear interpolation and pools the values. Every switch
// of the convention model (coordinates, offsets, end +1, minimum size, box and bin clipping,
// fixed or adaptive sampling per axis, bin grid, corner grid or RoIPool's whole pixels, box
// rounding, avg / max / corner-max, border rule, bilinear or nearest interpolation, fill and
// empty values) and the spatial scale of each
// axis arrive as scalar arguments, so one compiled kernel serves every
// preset. roialign_cli/geometry.py is the specification: the geometry below runs in the same
// precision and the same order of operations, so that floors and adaptive grid sizes agree with
// it exactly (the tests hold this kernel to the reference engine built on it).
//
// Layout and threads. Features are read channels-last, [N, H, W, C]; the engine makes that copy
// on the device (none when the array already is channels-last). A block works on one roi and one
// tile of up to 32 consecutive channels; its lanes run over the channels of the tile and its
// warps over the roi's bins. All lanes of a warp therefore share one roi and (for tiles of 32)
// one bin: the geometry and the bilinear taps are computed once per warp instruction for 32
// channels, not once per channel as in torchvision's one-thread-per-output kernel, and each tap
// is one coalesced read of 32 consecutive channels. Lanes over channels of an NCHW map would
// instead touch one 32-byte sector per lane and tap: 784 sectors (25 KB) per roi and channel for
// 7x7 bins of 2x2 samples. The copy reads and writes the map once, 2 * H * W * itemsize per
// channel (475 KB for a 200x304 float32 level), so it pays for itself from about 20 such rois on
// that level, and from fewer on smaller ones.
// There is no shared memory and no barrier: each thread depends only on its own indices, so a
// serial loop over blocks and threads (the host build of the tests) computes the same result.
//
// Types: T is float, double or __half; half and float compute in float, double in double.
// Build with fused multiply-add contraction off (NVRTC --fmad=false) so that a + b * c rounds
// twice, as it does in NumPy.

// roi_align_backward.cu includes this file when compiled alone; the engine compiles both as one program.
#ifndef ROIALIGN_FORWARD_CU
#define ROIALIGN_FORWARD_CU

#include <cuda_fp16.h>

namespace roialign {

// Switch values: the index of each value in the tuples of roialign_cli/conventions.py.
enum Coordinates { ABSOLUTE = 0, RELATIVE_FEATURE = 1, TF_NORMALIZED = 2 };
enum EndPlusOne { END_NONE = 0, END_COORDINATE = 1, END_SIZE = 2 };
enum Grid { GRID_BINS = 0, GRID_CORNERS = 1, GRID_CORNERS_PINNED = 2, GRID_PIXELS = 3, GRID_PIXELS_EXACT = 4 };
enum BoxRounding { ROUND_NONE = 0, ROUND_AFTER_SCALE = 1, ROUND_BEFORE_SCALE = 2, ROUND_AFTER_SCALE_EXACT = 3 };
enum Pooling { POOL_AVG = 0, POOL_MAX = 1, POOL_CORNER_MAX = 2 };
enum Border { BORDER_CAFFE2 = 0, BORDER_CLAMP = 1, BORDER_FILL = 2, BORDER_CAFFE_SSD = 3 };
enum Interpolation { BILINEAR = 0, NEAREST = 1 };
enum SampleStep { STEP_OFFSET_TIMES_BIN = 0, STEP_BIN_OVER_GRID = 1 };

// Larger adaptive grids would take longer than any caller waits; the cap only keeps the
// float-to-int conversion defined for absurd rois.
const int MAX_GRID = 1 << 30;

struct Convention {
    int coordinates;
    int box_rounding;
    double pixel_offset;
    double sample_offset;
    int end_plus_one;
    double min_size;  // -inf: no minimum
    bool clip_box;
    bool clip_bins;
    int grid;
    int pooling;
    double max_floor;  // -inf: no floor
    int border;
    int interpolation;
    double fill_value;
    double empty_value;
    int sample_step;
    bool scale_in_compute_dtype;
};

template <typename T> struct Compute { typedef float type; };
template <> struct Compute<double> { typedef double type; };

__device__ inline float to_compute(float v) { return v; }
__device__ inline double to_compute(double v) { return v; }
__device__ inline float to_compute(__half v) { return __half2float(v); }

template <typename T> __device__ inline T from_compute(typename Compute<T>::type v) { return v; }
template <> __device__ inline __half from_compute<__half>(float v) { return __float2half(v); }

template <typename C> __device__ inline C clamp_to(C v, C lo, C hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// The larger of two values, NaN if either is NaN (numpy.maximum).
template <typename C> __device__ inline C nan_max(C a, C b) {
    if (a != a) return a;
    return (b != b || b > a) ? b : a;
}

// Where one axis of a roi lies in feature pixels, its bin size and its samples per bin. On the
// corner grid (TF) `start` is the first point (the centre for one point) and `bin` the step
// between points, in TensorFlow's order of operations (see roialign_cli/geometry.py).
template <typename C> struct Axis {
    C start;
    C end;
    C bin;
    C size;  // the roi's extent in feature pixels (after +1 and the minimum size)
    int grid;
};

// Whole-pixel bins (RoIPool), with float or exact bin edges.
__device__ inline bool whole_pixels(const Convention& conv) {
    return conv.grid == GRID_PIXELS || conv.grid == GRID_PIXELS_EXACT;
}

template <typename C>
__device__ Axis<C> axis_geometry(double c1, double c2, int length, int pooled, double spatial_scale,
                                 int sampling_ratio, const Convention& conv) {
    const double scale = conv.coordinates == ABSOLUTE           ? spatial_scale
                         : conv.coordinates == RELATIVE_FEATURE ? (double)length
                                                                : (double)(length - 1);  // tf-normalized
    const double end_extra = conv.end_plus_one == END_COORDINATE ? 1.0 : 0.0;
    // Coordinates are rounded to the compute precision first, then scaled in double.
    double a = (double)(C)c1;
    double b = (double)(C)c2;
    if (conv.box_rounding == ROUND_BEFORE_SCALE) {  // round() is half away from zero, as NumPy's is not
        a = round(a);
        b = round(b);
    }
    Axis<C> axis;
    double start = (a + conv.pixel_offset) * scale - conv.sample_offset;
    double end = (b + end_extra + conv.pixel_offset) * scale - conv.sample_offset;
    if (conv.scale_in_compute_dtype) {  // every step rounded to C, the scale too (kernels taking the scale as T)
        const C s = (C)scale, po = (C)conv.pixel_offset, so = (C)conv.sample_offset;
        start = (double)(C)(((C)a + po) * s - so);
        end = (double)(C)((((C)b + (C)end_extra) + po) * s - so);
    }
    const bool exact = conv.box_rounding == ROUND_AFTER_SCALE_EXACT;  // rounded before the product is
    axis.start = (C)(exact ? round(start) : start);
    axis.end = (C)(exact ? round(end) : end);
    if (conv.box_rounding == ROUND_AFTER_SCALE) {
        axis.start = round(axis.start);
        axis.end = round(axis.end);
    }
    if (conv.clip_box) {
        axis.start = axis.start < C(0) ? C(0) : axis.start;
        axis.end = axis.end > C(length - 1) ? C(length - 1) : axis.end;
    }
    C size = axis.end - axis.start;
    if (conv.end_plus_one == END_SIZE) size = size + C(1);
    const C min_size = (C)conv.min_size;
    size = size < min_size ? min_size : size;
    axis.size = size;
    axis.bin = size / C(pooled);
    if (whole_pixels(conv)) {
        axis.grid = 1;  // whole-pixel bins count their pixels in pixel_range
    } else if (conv.grid == GRID_CORNERS || conv.grid == GRID_CORNERS_PINNED) {
        axis.grid = 1;
        if (pooled == 1) {
            const double middle = (double)((C)a + (C)b + (C)end_extra);
            axis.start = (C)((0.5 * middle + conv.pixel_offset) * scale - conv.sample_offset);
            axis.bin = C(0);
        } else {
            const C extent = ((C)b + (C)end_extra) - (C)a;
            axis.bin = (C)((double)extent * scale) / C(pooled - 1);
        }
    } else if (sampling_ratio > 0) {
        axis.grid = sampling_ratio;
    } else {
        // an inverted roi (no minimum size) has a negative bin: no samples
        const C cells = ceil(axis.bin);
        axis.grid = cells > C(0) ? (cells < C(MAX_GRID) ? (int)cells : MAX_GRID) : 0;
    }
    return axis;
}

// Coordinate of sample i of bin p along one axis.
template <typename C>
__device__ C sample_position(const Axis<C>& axis, int p, int i, int pooled, int length, const Convention& conv) {
    if (conv.grid == GRID_CORNERS_PINNED && p == pooled - 1 && pooled > 1) return axis.end;
    if (conv.grid == GRID_CORNERS || conv.grid == GRID_CORNERS_PINNED) return axis.start + C(p) * axis.bin;
    const C offset = C(i) + C(0.5);
    const C samples = C(axis.grid > 1 ? axis.grid : 1);
    if (conv.clip_bins) {
        const C last = C(length - 1);
        const C lo = clamp_to(axis.start + C(p) * axis.bin, C(0), last);
        const C hi = clamp_to(axis.start + (C(p) + C(1)) * axis.bin, C(0), last);
        return lo + (offset * (hi - lo)) / samples;
    }
    if (conv.sample_step == STEP_BIN_OVER_GRID) return (axis.start + C(p) * axis.bin) + (axis.bin / samples) * offset;
    return (axis.start + C(p) * axis.bin) + (offset * axis.bin) / samples;
}

// The whole pixels [lo, hi) of bin p along one axis (RoIPool): from floor(bin start) to
// ceil(bin end), clipped to the map. A rounded (integer) box start is added after the floor and
// ceil, as Caffe's ROIPooling does; a fractional one before (R-FCN). GRID_PIXELS_EXACT takes
// the edges from p * size / P in double (exact for whole-pixel sizes), as OpenVINO's integers do.
template <typename C>
__device__ void pixel_range(const Axis<C>& axis, int p, int pooled, int length, const Convention& conv, int& lo,
                            int& hi) {
    const bool integral = conv.box_rounding == ROUND_AFTER_SCALE || conv.box_rounding == ROUND_AFTER_SCALE_EXACT;
    double first, last;
    if (conv.grid == GRID_PIXELS_EXACT) {
        const double from = (double)p * (double)axis.size / pooled;
        const double to = (double)(p + 1) * (double)axis.size / pooled;
        const double start = (double)axis.start;
        first = integral ? floor(from) + start : floor(from + start);
        last = integral ? ceil(to) + start : ceil(to + start);
    } else {
        const C from = C(p) * axis.bin;
        const C to = C(p + 1) * axis.bin;
        first = (double)(integral ? floor(from) + axis.start : floor(from + axis.start));
        last = (double)(integral ? ceil(to) + axis.start : ceil(to + axis.start));
    }
    lo = (int)clamp_to(first, 0.0, (double)length);
    hi = (int)clamp_to(last, 0.0, (double)length);
    hi = hi < lo ? lo : hi;
}

// The two pixels a sample reads along one axis, their weights, and whether the border rule
// reads the map there at all (else the sample takes the fill value).
template <typename C> struct Tap {
    int low;
    int high;
    C w_low;
    C w_high;
    bool inside;
};

// A whole pixel, read as it is.
template <typename C> __device__ Tap<C> pixel_tap(int index) {
    Tap<C> tap;
    tap.low = index;
    tap.high = index;
    tap.w_low = C(1);
    tap.w_high = C(0);
    tap.inside = true;
    return tap;
}

template <typename C> __device__ Tap<C> axis_tap(C position, int length, int border, int interpolation) {
    const int last = length - 1;
    Tap<C> tap;
    C v;
    if (border == BORDER_CAFFE2) {
        tap.inside = position >= C(-1) && position <= C(length);
        v = position < C(0) ? C(0) : position;
    } else {
        tap.inside = border != BORDER_FILL || (position >= C(0) && position <= C(last));
        v = clamp_to(position, C(0), C(last));
    }
    if (interpolation == NEAREST) {  // TF's roundf: halves upwards (v >= 0); v - floor(v) is exact
        const C low = floor(v);
        const int near = (int)low + (v - low >= C(0.5) ? 1 : 0);
        tap.low = near < last ? near : last;
        tap.high = tap.low;
        tap.w_low = C(1);
        tap.w_high = C(0);
    } else if (border == BORDER_CAFFE_SSD) {
        tap.low = (int)floor(v);
        tap.high = tap.low + 1 < last ? tap.low + 1 : last;
        tap.w_low = C(tap.high) - v;
        tap.w_high = v - C(tap.low);
    } else if (border == BORDER_FILL) {
        tap.low = (int)floor(v);
        tap.high = (int)ceil(v);
        tap.w_high = v - C(tap.low);
        tap.w_low = C(1) - tap.w_high;
    } else if (v >= C(last)) {  // on or past the last pixel (caffe2 leaves v unclamped above)
        tap.low = last;
        tap.high = last;
        tap.w_high = C(0);
        tap.w_low = C(1);
    } else {
        tap.low = (int)floor(v);
        tap.high = tap.low + 1;
        tap.w_high = v - C(tap.low);
        tap.w_low = C(1) - tap.w_high;
    }
    return tap;
}

// One sample of one channel: the sum (avg, max) or the largest (corner-max) of the four
// weighted corner terms. `pixels` points at the channel in pixel (0, 0); a row is `row` apart.
template <typename T, typename C>
__device__ C sample_value(const T* pixels, long long row, int channels, const Tap<C>& ty, const Tap<C>& tx,
                          int pooling) {
    const T* lo = pixels + ty.low * row;
    const T* hi = pixels + ty.high * row;
    const long long x_lo = (long long)tx.low * channels;
    const long long x_hi = (long long)tx.high * channels;
    const C t00 = (ty.w_low * tx.w_low) * to_compute(lo[x_lo]);
    const C t01 = (ty.w_low * tx.w_high) * to_compute(lo[x_hi]);
    const C t10 = (ty.w_high * tx.w_low) * to_compute(hi[x_lo]);
    const C t11 = (ty.w_high * tx.w_high) * to_compute(hi[x_hi]);
    if (pooling == POOL_CORNER_MAX) return nan_max(nan_max(nan_max(t00, t01), t10), t11);
    return ((t00 + t01) + t10) + t11;
}

// The samples of bin p along one axis: `count` of them, the first at pixel `first` for whole-pixel
// bins (RoIPool), the roi's grid otherwise.
struct BinSamples {
    int first;
    int count;
};

template <typename C>
__device__ BinSamples bin_samples(const Axis<C>& axis, int p, int pooled, int length, const Convention& conv) {
    BinSamples samples = {0, axis.grid};
    if (whole_pixels(conv)) {
        int hi;
        pixel_range(axis, p, pooled, length, conv, samples.first, hi);
        samples.count = hi - samples.first;
    }
    return samples;
}

// Sample i of bin p along one axis: a whole pixel from `first`, or an interpolated position.
template <typename C>
__device__ Tap<C> bin_tap(const Axis<C>& axis, int p, int i, int first, int pooled, int length, const Convention& conv) {
    if (whole_pixels(conv)) return pixel_tap<C>(first + i);
    return axis_tap(sample_position(axis, p, i, pooled, length, conv), length, conv.border, conv.interpolation);
}

// The pooled value of bin (ph, pw) of one roi, for one channel.
template <typename T, typename C>
__device__ C pool_bin(const T* pixels, int height, int width, int channels, const Axis<C>& ay, const Axis<C>& ax,
                      int ph, int pw, int pooled_h, int pooled_w, const Convention& conv) {
    const BinSamples sy = bin_samples(ay, ph, pooled_h, height, conv);
    const BinSamples sx = bin_samples(ax, pw, pooled_w, width, conv);
    const long long count = (long long)sy.count * sx.count;
    if (count == 0) return (C)conv.empty_value;
    const long long row = (long long)width * channels;
    const C fill = (C)conv.fill_value;
    C acc = conv.pooling == POOL_AVG ? C(0) : (C)conv.max_floor;
    for (int iy = 0; iy < sy.count; ++iy) {
        const Tap<C> ty = bin_tap(ay, ph, iy, sy.first, pooled_h, height, conv);
        for (int ix = 0; ix < sx.count; ++ix) {
            const Tap<C> tx = bin_tap(ax, pw, ix, sx.first, pooled_w, width, conv);
            const C value = ty.inside && tx.inside ? sample_value(pixels, row, channels, ty, tx, conv.pooling) : fill;
            acc = conv.pooling == POOL_AVG ? acc + value : nan_max(acc, value);
        }
    }
    return conv.pooling == POOL_AVG ? acc / C(count) : acc;
}

// Which roi, channel and bins a thread works on: a block per (roi, tile of channel_tile channels),
// its lanes over the tile's channels and its bin slots over the roi's bins.
struct Slot {
    long long roi;
    int channel;
    int first_bin;
    int bin_step;
    bool active;  // a lane past the last channel, or a slot past the last bin slot, idles
};

__device__ inline Slot thread_slot(int channels, int channel_tile) {
    const int tiles = (channels + channel_tile - 1) / channel_tile;
    Slot slot;
    slot.roi = blockIdx.x / tiles;
    slot.channel = (int)(blockIdx.x % tiles) * channel_tile + (int)threadIdx.x % channel_tile;
    slot.first_bin = (int)threadIdx.x / channel_tile;
    slot.bin_step = (int)blockDim.x / channel_tile;
    slot.active = slot.channel < channels && slot.first_bin < slot.bin_step;
    return slot;
}

}  // namespace roialign

// features [N, H, W, C] channels-last; rois [K, 5] (batch, x1, y1, x2, y2) as double, batch
// indices already checked on the host; output [K, C, PH, PW]. Grid: K x ceil(C / channel_tile)
// blocks, one per (roi, channel tile); a block's threads are channel_tile lanes x bin slots.
template <typename T>
__global__ void roi_align_forward(const T* __restrict__ features, const double* __restrict__ rois,
                                  T* __restrict__ output, int channels, int height, int width, int pooled_h,
                                  int pooled_w, int channel_tile, double spatial_scale_y,
                                  double spatial_scale_x, int coordinates, int box_rounding, double pixel_offset,
                                  double sample_offset, int end_plus_one, double min_size, int clip_box,
                                  int clip_bins, int sampling_ratio_y, int sampling_ratio_x, int grid, int pooling,
                                  double max_floor, int border, int interpolation, double fill_value,
                                  double empty_value, int sample_step, int scale_in_compute_dtype) {
    using namespace roialign;
    typedef typename Compute<T>::type C;
    const Convention conv = {coordinates, box_rounding, pixel_offset,  sample_offset, end_plus_one,
                             min_size,    clip_box != 0, clip_bins != 0, grid,         pooling,
                             max_floor,   border,        interpolation,  fill_value,   empty_value,
                             sample_step, scale_in_compute_dtype != 0};
    const Slot slot = thread_slot(channels, channel_tile);
    if (!slot.active) return;
    const long long k = slot.roi;
    const int c = slot.channel;

    const double* roi = rois + 5 * k;
    const Axis<C> ay = axis_geometry<C>(roi[2], roi[4], height, pooled_h, spatial_scale_y, sampling_ratio_y, conv);
    const Axis<C> ax = axis_geometry<C>(roi[1], roi[3], width, pooled_w, spatial_scale_x, sampling_ratio_x, conv);
    const T* pixels = features + (long long)roi[0] * height * width * channels + c;
    T* out = output + (k * channels + c) * pooled_h * pooled_w;
    for (int bin = slot.first_bin; bin < pooled_h * pooled_w; bin += slot.bin_step) {
        const int ph = bin / pooled_w;
        const int pw = bin % pooled_w;
        out[bin] = from_compute<T>(pool_bin<T, C>(pixels, height, width, channels, ay, ax, ph, pw, pooled_h,
                                                  pooled_w, conv));
    }
}

#endif  // ROIALIGN_FORWARD_CU
