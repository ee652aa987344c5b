#include "frame_scan.hpp"

#include <string>

#include "neuroemu/errors.hpp"

namespace neuroemu {

int64_t scan_frame(const kernels::Table& kernels, Frames frame, int64_t n, int64_t bin, int32_t* channels,
                   double* values) {
    kernels::FrameScan scan;
    switch (frame.type) {
        case InputType::Float64:
            scan = kernels.scan_nonzero(static_cast<const double*>(frame.data), n, channels, values);
            break;
        case InputType::Float32:
            scan = kernels.scan_nonzero_f32(static_cast<const float*>(frame.data), n, channels, values);
            break;
        case InputType::UInt8:
            scan = kernels.scan_nonzero_u8(static_cast<const uint8_t*>(frame.data), n, channels, values);
            break;
    }
    if (scan.first_invalid >= 0) {
        const double bad = frame.type == InputType::Float64
                               ? static_cast<const double*>(frame.data)[scan.first_invalid]
                               : static_cast<double>(static_cast<const float*>(frame.data)[scan.first_invalid]);
        throw InputError("input value " + std::to_string(bad) + " at bin " + std::to_string(bin) + ", channel " +
                         std::to_string(scan.first_invalid) + " is not a finite event count >= 0");
    }
    return scan.nonzero;
}

}  // namespace neuroemu
