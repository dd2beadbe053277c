// RoIAlign backward: the gradient with respect to the features, for every convention.
//
// This file is compiled after roi_align.cu, in one program (roialign_cli/engines/cuda_engine.py
// joins the two sources; the host build includes both): it reads the forward file's geometry
// (axis_geometry, bin_samples, bin_tap, sample_value), so that both passes place every sample
// and tap alike (RoIPool's whole pixels and nearest sampling included), and takes the same scalar arguments as roi_align_forward after its
// pointers.
//
// Average pooling: each output cell sends grad / count x the tap weight of every sample inside
// the map to the sample's four taps. Max pooling: the cell's gradient goes to the taps of the one
// sample its maximum ended on, the first in scan order (y, then x) that was greater than the
// running maximum or the first NaN, as in the forward's nan_max (so of equal values the first
// wins, as in mmcv's and Caffe2's arg-max kernels); corner-max sends it to the selected corner
// only. roi_align_select finds those samples first. Fill values, the max floor and empty bins
// are constants and get no gradient.
//
// Two ways to add the contributions up, into a zeroed channels-last buffer [N, H, W, C] in the
// compute precision (float for half and float, double for double):
// - roi_align_backward_atomic: the forward's layout (a block per roi and channel tile, lanes over
//   channels, warps over bins) with atomicAdd, as Caffe2's RoIAlignGradient does; fast, but the
//   order of the additions, and so the last bits, change from run to run.
// - roi_align_backward_ordered: one thread per image, row and channel owns that row of the
//   buffer and walks every roi, bin and sample in a fixed order, adding the taps that fall on its
//   row; no atomics, the same bits on every run and every device (deterministic=True). It redoes
//   the y geometry per row, so it is slower.
// As in the forward file there is no shared memory and no barrier, so the serial host build
// computes what the device computes (the ordered kernel exactly; the atomic one up to the order
// of its sums).

// Compiled alone, this file brings the forward's geometry in; the engine joins the two sources
// itself (the forward first, which defines ROIALIGN_FORWARD_CU), so nothing is read twice.
#ifndef ROIALIGN_FORWARD_CU
#include "roi_align.cu"
#endif

namespace roialign {

const long long NOT_SELECTED = -1;

// The selection rule of the forward's nan_max: a greater value, or the first NaN.
template <typename C> __device__ inline bool beats(C value, C best) {
    return best == best && (value != value || value > best);
}

// For max pooling, which sample (iy * grid_x + ix) of bin (ph, pw) the maximum ends on, times 4
// plus the selected corner (0..3: y low/high, x low/high) for corner-max; NOT_SELECTED when the
// floor stays, the bin is empty, or the selected sample lies outside the map (a fill value).
template <typename T, typename C>
__device__ long long select_bin(const T* pixels, int height, int width, int channels, const Axis<C>& ay,
                                const Axis<C>& ax, int ph, int pw, int pooled_h, int pooled_w, const Convention& conv) {
    const long long row = (long long)width * channels;
    const C fill = (C)conv.fill_value;
    C best = (C)conv.max_floor;
    long long chosen = NOT_SELECTED;
    const BinSamples sy = bin_samples(ay, ph, pooled_h, height, conv);
    const BinSamples sx = bin_samples(ax, pw, pooled_w, width, conv);
    for (int iy = 0; iy < sy.count; ++iy) {
        const Tap<C> ty = bin_tap(ay, ph, iy, sy.first, pooled_h, height, conv);
        for (int ix = 0; ix < sx.count; ++ix) {
            const Tap<C> tx = bin_tap(ax, pw, ix, sx.first, pooled_w, width, conv);
            const bool inside = ty.inside && tx.inside;
            const C value = inside ? sample_value(pixels, row, channels, ty, tx, conv.pooling) : fill;
            if (!beats(value, best)) continue;
            best = value;
            chosen = NOT_SELECTED;
            if (!inside) continue;
            chosen = (long long)iy * sx.count + ix;
            if (conv.pooling == POOL_CORNER_MAX) {
                const int ys[4] = {ty.low, ty.low, ty.high, ty.high};
                const int xs[4] = {tx.low, tx.high, tx.low, tx.high};
                const C wy[4] = {ty.w_low, ty.w_low, ty.w_high, ty.w_high};
                const C wx[4] = {tx.w_low, tx.w_high, tx.w_low, tx.w_high};
                int corner = 0;
                C largest = C(0);
                for (int t = 0; t < 4; ++t) {
                    const C term = (wy[t] * wx[t]) * to_compute(pixels[ys[t] * row + (long long)xs[t] * channels]);
                    if (t == 0 || beats(term, largest)) {
                        largest = term;
                        corner = t;
                    }
                }
                chosen = chosen * 4 + corner;
            }
        }
    }
    return chosen;
}

// Adds `amount` times each tap weight of a sample to its taps, `corner` alone when it is >= 0.
// `grad` points at the channel in pixel (0, 0) of the roi's image; a row is `row` apart.
template <typename C>
__device__ void add_to_taps(C* grad, long long row, int channels, const Tap<C>& ty, const Tap<C>& tx, C amount,
                            int corner) {
    const int ys[4] = {ty.low, ty.low, ty.high, ty.high};
    const int xs[4] = {tx.low, tx.high, tx.low, tx.high};
    const C wy[4] = {ty.w_low, ty.w_low, ty.w_high, ty.w_high};
    const C wx[4] = {tx.w_low, tx.w_high, tx.w_low, tx.w_high};
    for (int t = 0; t < 4; ++t) {
        if (corner < 0 || corner == t) atomicAdd(grad + ys[t] * row + (long long)xs[t] * channels, (wy[t] * wx[t]) * amount);
    }
}

// The selected sample's grid position and corner from select_bin's code.
struct Selected {
    int iy;
    int ix;
    int corner;  // -1: every corner (bilinear max)
};

__device__ inline Selected decode(long long code, int grid_x, int pooling) {
    Selected s;
    s.corner = pooling == POOL_CORNER_MAX ? (int)(code % 4) : -1;
    const long long sample = pooling == POOL_CORNER_MAX ? code / 4 : code;
    s.iy = (int)(sample / grid_x);
    s.ix = (int)(sample % grid_x);
    return s;
}

}  // namespace roialign

// The forward's scalar parameters, in its order, and the convention and per-axis geometry built from them.
#define ROIALIGN_CONVENTION                                                                                           \
    const roialign::Convention conv = {coordinates, box_rounding,  pixel_offset,  sample_offset, end_plus_one,       \
                                       min_size,    clip_box != 0, clip_bins != 0, grid,         pooling,            \
                                       max_floor,   border,        interpolation,  fill_value,   empty_value,        \
                                       sample_step, scale_in_compute_dtype != 0}

#define ROIALIGN_SCALARS                                                                                              \
    int channels, int height, int width, int pooled_h, int pooled_w, int channel_tile, double spatial_scale_y,      \
        double spatial_scale_x, int coordinates, int box_rounding, double pixel_offset, double sample_offset,        \
        int end_plus_one, double min_size, int clip_box, int clip_bins, int sampling_ratio_y, int sampling_ratio_x,  \
        int grid, int pooling, double max_floor, int border, int interpolation, double fill_value, double empty_value, \
        int sample_step, int scale_in_compute_dtype

#define ROIALIGN_AXES(roi)                                                                                            \
    const Axis<C> ay = axis_geometry<C>(roi[2], roi[4], height, pooled_h, spatial_scale_y, sampling_ratio_y, conv);  \
    const Axis<C> ax = axis_geometry<C>(roi[1], roi[3], width, pooled_w, spatial_scale_x, sampling_ratio_x, conv)

// features [N, H, W, C] channels-last; selected [K, C, PH, PW]: select_bin's code per cell. The
// forward's grid and block layout.
template <typename T>
__global__ void roi_align_select(const T* __restrict__ features, const double* __restrict__ rois,
                                 long long* __restrict__ selected, ROIALIGN_SCALARS) {
    using namespace roialign;
    typedef typename Compute<T>::type C;
    ROIALIGN_CONVENTION;
    const Slot slot = thread_slot(channels, channel_tile);
    if (!slot.active) return;
    const long long k = slot.roi;
    const int c = slot.channel;

    const double* roi = rois + 5 * k;
    ROIALIGN_AXES(roi);
    const T* pixels = features + (long long)roi[0] * height * width * channels + c;
    long long* out = selected + (k * channels + c) * pooled_h * pooled_w;
    for (int bin = slot.first_bin; bin < pooled_h * pooled_w; bin += slot.bin_step) {
        out[bin] = select_bin<T, C>(pixels, height, width, channels, ay, ax, bin / pooled_w, bin % pooled_w, pooled_h,
                                    pooled_w, conv);
    }
}

// grad_output [K, C, PH, PW]; selected as roi_align_select wrote it (unread for average
// pooling); grad_features [N, H, W, C] in the compute precision, zeroed. The forward's layout.
template <typename T>
__global__ void roi_align_backward_atomic(const T* __restrict__ grad_output, const double* __restrict__ rois,
                                          const long long* __restrict__ selected,
                                          typename roialign::Compute<T>::type* __restrict__ grad_features,
                                          ROIALIGN_SCALARS) {
    using namespace roialign;
    typedef typename Compute<T>::type C;
    ROIALIGN_CONVENTION;
    const Slot slot = thread_slot(channels, channel_tile);
    if (!slot.active) return;
    const long long k = slot.roi;
    const int c = slot.channel;

    const double* roi = rois + 5 * k;
    ROIALIGN_AXES(roi);
    const long long row = (long long)width * channels;
    C* grad = grad_features + (long long)roi[0] * height * row + c;
    const long long cell = (k * channels + c) * pooled_h * pooled_w;
    for (int bin = slot.first_bin; bin < pooled_h * pooled_w; bin += slot.bin_step) {
        const int ph = bin / pooled_w;
        const int pw = bin % pooled_w;
        const BinSamples sy = bin_samples(ay, ph, pooled_h, height, conv);
        const BinSamples sx = bin_samples(ax, pw, pooled_w, width, conv);
        const C g = to_compute(grad_output[cell + bin]);
        if (conv.pooling != POOL_AVG) {
            if (selected[cell + bin] == NOT_SELECTED) continue;
            const Selected s = decode(selected[cell + bin], sx.count, conv.pooling);
            const Tap<C> ty = bin_tap(ay, ph, s.iy, sy.first, pooled_h, height, conv);
            const Tap<C> tx = bin_tap(ax, pw, s.ix, sx.first, pooled_w, width, conv);
            add_to_taps(grad, row, channels, ty, tx, g, s.corner);
            continue;
        }
        const C share = g / C((long long)sy.count * sx.count);
        for (int iy = 0; iy < sy.count; ++iy) {
            const Tap<C> ty = bin_tap(ay, ph, iy, sy.first, pooled_h, height, conv);
            if (!ty.inside) continue;
            for (int ix = 0; ix < sx.count; ++ix) {
                const Tap<C> tx = bin_tap(ax, pw, ix, sx.first, pooled_w, width, conv);
                if (tx.inside) add_to_taps(grad, row, channels, ty, tx, share, -1);
            }
        }
    }
}

// The same sums in a fixed order: thread (b, y, c) -- c fastest, so that a warp's writes are
// coalesced -- owns row y of channel c of image b and adds, roi by roi, bin by bin and sample by
// sample, the taps that fall on that row. One thread per image, row and channel.
template <typename T>
__global__ void roi_align_backward_ordered(const T* __restrict__ grad_output, const double* __restrict__ rois,
                                           const long long* __restrict__ selected,
                                           typename roialign::Compute<T>::type* __restrict__ grad_features,
                                           int num_rois, int batch_size, ROIALIGN_SCALARS) {
    using namespace roialign;
    typedef typename Compute<T>::type C;
    ROIALIGN_CONVENTION;
    const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (thread >= (long long)batch_size * height * channels) return;
    const int c = (int)(thread % channels);
    const int y = (int)(thread / channels % height);
    const long long b = thread / ((long long)channels * height);
    C* grad = grad_features + (b * height + y) * (long long)width * channels + c;  // pixel (y, 0)

    for (long long k = 0; k < num_rois; ++k) {
        const double* roi = rois + 5 * k;
        if ((long long)roi[0] != b) continue;
        ROIALIGN_AXES(roi);
        const long long cell = (k * channels + c) * pooled_h * pooled_w;
        for (int ph = 0; ph < pooled_h; ++ph) {
            const BinSamples sy = bin_samples(ay, ph, pooled_h, height, conv);
            for (int iy = 0; iy < sy.count; ++iy) {
                const Tap<C> ty = bin_tap(ay, ph, iy, sy.first, pooled_h, height, conv);
                if (!ty.inside || (ty.low != y && ty.high != y)) continue;
                // the y tap and weight of corner t are those of t / 2 (low, high), as in add_to_taps
                const int ys[2] = {ty.low, ty.high};
                const C wy[2] = {ty.w_low, ty.w_high};
                for (int pw = 0; pw < pooled_w; ++pw) {
                    const int bin = ph * pooled_w + pw;
                    const BinSamples sx = bin_samples(ax, pw, pooled_w, width, conv);
                    const C g = to_compute(grad_output[cell + bin]);
                    int first = 0, last = sx.count, corner = -1;
                    C amount = g / C((long long)sy.count * sx.count);
                    if (conv.pooling != POOL_AVG) {
                        if (selected[cell + bin] == NOT_SELECTED) continue;
                        const Selected s = decode(selected[cell + bin], sx.count, conv.pooling);
                        if (s.iy != iy) continue;
                        first = s.ix;
                        last = s.ix + 1;
                        corner = s.corner;
                        amount = g;
                    }
                    for (int ix = first; ix < last; ++ix) {
                        const Tap<C> tx = bin_tap(ax, pw, ix, sx.first, pooled_w, width, conv);
                        if (!tx.inside) continue;
                        const int xs[2] = {tx.low, tx.high};
                        const C wx[2] = {tx.w_low, tx.w_high};
                        for (int t = 0; t < 4; ++t) {
                            if (ys[t / 2] != y || (corner >= 0 && corner != t)) continue;
                            grad[(long long)xs[t % 2] * channels] += (wy[t / 2] * wx[t % 2]) * amount;
                        }
                    }
                }
            }
        }
    }
}

#undef ROIALIGN_CONVENTION
#undef ROIALIGN_SCALARS
#undef ROIALIGN_AXES
