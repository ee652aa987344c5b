// The engine's innermost loops over contiguous neurons and input channels, compiled once per instruction
// set (kernels.inc) and chosen at run time for the CPU at hand, so that one build (a wheel, a pip install
// from source) runs on any x86-64 and still uses the wide vector units where they exist. Every kernel does
// exactly the scalar arithmetic in the same order per element, so results never depend on the choice.
#pragma once

#include <cstdint>

namespace neuroemu::kernels {

struct FrameScan {
    int64_t nonzero = 0;         // entries written
    int64_t first_invalid = -1;  // the first value that is not a finite count >= 0; -1 when all are
};

struct Table {
    const char* name;
    // target[k] += multiplicity * weights[k] for k < n: a dense fan-out row.
    void (*add_scaled)(double* target, const double* weights, double multiplicity, int64_t n);
    // The same with float weights, each widened exactly to double first.
    void (*add_scaled_f32)(double* target, const float* weights, double multiplicity, int64_t n);
    // Several float rows onto the same n targets: target[k] += multiplicity[r] * rows[r][k] for r = 0, 1, ...
    // in turn, each target summing exactly as row-by-row add_scaled_f32 calls would.
    void (*add_rows_f32)(double* target, const float* const* rows, const double* multiplicity, int64_t n_rows,
                         int64_t n);
    // Checks neurons 0..n-1 that received current (docs/semantics.md): each one not refractory in `bin`
    // takes u = v + current; v becomes u; it fires where u > threshold. current is consumed (set to 0); a
    // refractory neuron's current is discarded. Every neuron must be caught up to `bin`. Returns the number
    // of neurons updated (not refractory); `fired` (room for n entries; those past the fired ones are scratch)
    // receives the k of each neuron that fired, ascending, and `n_fired` their number.
    int64_t (*check_range)(double* current, double* v, const double* threshold, const int32_t* refractory_bin,
                           int32_t bin, int64_t n, int32_t* fired, int64_t* n_fired);
    // Checks neurons 0..n-1 of which only those with received[k] != 0 received current (the others hold
    // current 0.0), as one check per neuron would: a received neuron as in check_range; one that received
    // nothing keeps its v, fires where v > threshold, and counts as updated where it fires or, with
    // bias_rule, has a bias. Refractory neurons are skipped. Consumes current, clears received. `fired` and
    // `n_fired` as in check_range.
    int64_t (*check_masked)(double* current, double* v, const double* threshold, const double* bias, bool bias_rule,
                            const int32_t* refractory_bin, int32_t bin, int64_t n, uint8_t* received,
                            int32_t* fired, int64_t* n_fired);
    // Brings neurons 0..n-1 up to `bin`: each gets the leak (and bias) of every bin after leaked_to[k], one
    // bin at a time (v = v * beta, or v * beta + bias where bias != 0), as catch_up does; `lag` must be
    // bin - min(leaked_to). Sets leaked_to to bin.
    void (*leak_range)(double* v, int32_t* leaked_to, const double* beta, const double* bias, int32_t bin,
                       int32_t lag, int64_t n);
    // The smallest of a[0..n-1] (INT32_MAX when n == 0).
    int32_t (*min_i32)(const int32_t* a, int64_t n);
    // Writes the non-zero values of x[0..n-1] and their indices in ascending order and checks every value.
    // indices and values must have room for n entries: those past the returned count may be overwritten.
    FrameScan (*scan_nonzero)(const double* x, int64_t n, int32_t* indices, double* values);
    FrameScan (*scan_nonzero_f32)(const float* x, int64_t n, int32_t* indices, double* values);
    FrameScan (*scan_nonzero_u8)(const uint8_t* x, int64_t n, int32_t* indices, double* values);  // all valid
};

// The table the engine uses, chosen on first use: the widest this CPU runs, unless the environment variable
// NEUROEMU_KERNELS names another one it runs ("baseline", "avx2", "avx512").
const Table& table();

// Every table this build holds that the CPU can run, narrowest first (for the tests: they must all agree).
int available_tables(const Table** out, int capacity);

}  // namespace neuroemu::kernels
