// Reading one bin of input frames, of any element type, into its events: the step and the timed engine
// share it, and with it the check of every value and the message that names a bad one.
#pragma once

#include <cstdint>

#include "kernels.hpp"
#include "neuroemu/run_config.hpp"

namespace neuroemu {

// Writes the non-zero values of frame[0..n) and their channels in ascending order and returns how many;
// throws InputError naming `bin` and the channel of the first value that is not a finite event count >= 0.
// channels and values need room for n entries.
int64_t scan_frame(const kernels::Table& kernels, Frames frame, int64_t n, int64_t bin, int32_t* channels,
                   double* values);

}  // namespace neuroemu
