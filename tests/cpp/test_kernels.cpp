// Every instruction-set variant of the kernels must compute exactly what the scalar definition says.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels.hpp"

using neuroemu::kernels::FrameScan;
using neuroemu::kernels::Table;

namespace {

std::vector<const Table*> tables() {
    const Table* found[8];
    const int n = neuroemu::kernels::available_tables(found, 8);
    return {found, found + n};
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    // memcmp must not see the null data() of empty vectors
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

}  // namespace

TEST_CASE("the chosen table is one of the available ones, the baseline always among them") {
    const auto all = tables();
    REQUIRE(!all.empty());
    CHECK(std::string(all[0]->name) == "baseline");
    bool chosen_listed = false;
    for (const Table* t : all) chosen_listed = chosen_listed || t == &neuroemu::kernels::table();
    CHECK(chosen_listed);
}

TEST_CASE("add_scaled and add_scaled_f32 equal the scalar loop bit for bit, for every length") {
    std::mt19937 gen(3);
    std::normal_distribution<double> normal;
    for (const Table* t : tables()) {
        CAPTURE(t->name);
        for (int64_t n = 0; n < 70; ++n) {
            std::vector<double> target(static_cast<size_t>(n)), w(static_cast<size_t>(n));
            std::vector<float> w32(static_cast<size_t>(n));
            for (int64_t k = 0; k < n; ++k) {
                target[static_cast<size_t>(k)] = normal(gen);
                w[static_cast<size_t>(k)] = normal(gen);
                w32[static_cast<size_t>(k)] = static_cast<float>(normal(gen));
            }
            const double m = 1.0 + std::abs(normal(gen));
            std::vector<double> expected = target, got = target;
            for (size_t k = 0; k < target.size(); ++k) expected[k] += m * w[k];
            t->add_scaled(got.data(), w.data(), m, n);
            CHECK(same_bits(got, expected));
            expected = target;
            got = target;
            for (size_t k = 0; k < target.size(); ++k) expected[k] += m * static_cast<double>(w32[k]);
            t->add_scaled_f32(got.data(), w32.data(), m, n);
            CHECK(same_bits(got, expected));
        }
    }
}

// Random state of n neurons for the check kernels; the checks run in bin 2 (refractory bins 0..3).
struct CheckState {
    std::vector<double> current, v, threshold;
    std::vector<int32_t> refractory;

    CheckState(std::mt19937& gen, std::size_t n) : current(n), v(n), threshold(n), refractory(n) {
        std::normal_distribution<double> normal;
        std::uniform_int_distribution<int32_t> bin_of(0, 3);
        for (std::size_t k = 0; k < n; ++k) {
            current[k] = normal(gen);
            v[k] = k % 11 == 3 ? -0.0 : normal(gen);
            threshold[k] = 0.5 + std::abs(normal(gen));
            refractory[k] = bin_of(gen);
        }
    }

};

// What the scalar rule gives for a CheckState, filled in neuron by neuron by the test.
struct Outcome {
    std::vector<double> v;
    std::vector<uint8_t> fired;
    int64_t updates = 0;
    int64_t fires = 0;

    explicit Outcome(const CheckState& s) : v(s.v), fired(s.v.size(), 0) {}
    void update(std::size_t k, double u, double threshold, bool keep_u) {
        ++updates;
        fired[k] = u > threshold;
        fires += fired[k];
        if (keep_u) v[k] = u;
    }
    // A kernel's result (its state afterwards in `s`, the positions it listed in got_fired) against this; the
    // current is consumed in every case.
    void require(const CheckState& s, int64_t got_updates, int64_t got_fires, const std::vector<int32_t>& got_fired) const {
        CHECK(got_updates == updates);
        REQUIRE(got_fires == fires);
        CHECK(same_bits(s.v, v));
        std::vector<int32_t> positions;
        for (size_t k = 0; k < fired.size(); ++k) {
            if (fired[k]) positions.push_back(static_cast<int32_t>(k));
        }
        CHECK(std::vector<int32_t>(got_fired.begin(), got_fired.begin() + got_fires) == positions);
        CHECK(same_bits(s.current, std::vector<double>(s.current.size(), 0.0)));
    }
};

TEST_CASE("add_rows_f32 sums every target in row order, bit for bit as the scalar loop") {
    std::mt19937 gen(5);
    std::normal_distribution<double> normal;
    for (const Table* t : tables()) {
        CAPTURE(t->name);
        for (const int64_t n : {0, 1, 31, 32, 33, 64, 65, 100, 129, 300}) {
            for (const int64_t n_rows : {1, 2, 7}) {
                CAPTURE(n);
                CAPTURE(n_rows);
                const auto size = static_cast<size_t>(n);
                std::vector<std::vector<float>> weights(static_cast<size_t>(n_rows), std::vector<float>(size));
                std::vector<const float*> rows;
                std::vector<double> multiplicity;
                for (auto& row : weights) {
                    // magnitudes 1e-8 .. 1e8: a different summation order would change the rounding
                    for (auto& w : row) w = static_cast<float>(normal(gen) * std::pow(10.0, 8.0 * normal(gen) / 3.0));
                    rows.push_back(row.data());
                    multiplicity.push_back(rows.size() % 3 == 0 ? 1.0 + std::abs(normal(gen)) : 1.0);
                }
                std::vector<double> target(size);
                for (auto& x : target) x = normal(gen);
                std::vector<double> expected = target, got = target;
                for (size_t r = 0; r < rows.size(); ++r) {
                    for (size_t k = 0; k < size; ++k) expected[k] += multiplicity[r] * static_cast<double>(rows[r][k]);
                }
                t->add_rows_f32(got.data(), rows.data(), multiplicity.data(), n_rows, n);
                CHECK(same_bits(got, expected));
            }
        }
    }
}

TEST_CASE("check_range: updates, spikes and consumed current as the scalar rule says") {
    std::mt19937 gen(5);
    for (const Table* t : tables()) {
        CAPTURE(t->name);
        for (int64_t n = 0; n < 80; n += 7) {
            const auto size = static_cast<size_t>(n);
            CheckState s(gen, size);
            const int32_t bin = 2;
            Outcome expected(s);
            for (size_t k = 0; k < size; ++k) {
                if (s.refractory[k] != bin) expected.update(k, s.v[k] + s.current[k], s.threshold[k], true);
            }
            std::vector<int32_t> fired(size, -7);  // exactly n entries: the kernel may write no further
            int64_t fires = -1;
            const int64_t updates = t->check_range(s.current.data(), s.v.data(), s.threshold.data(),
                                                   s.refractory.data(), bin, n, fired.data(), &fires);
            expected.require(s, updates, fires, fired);
        }
    }
}

TEST_CASE("check_masked: as one scalar check per neuron, received or not") {
    std::mt19937 gen(6);
    std::normal_distribution<double> normal;
    std::bernoulli_distribution coin(0.4);
    for (const Table* t : tables()) {
        CAPTURE(t->name);
        for (const bool bias_rule : {false, true}) {
            for (int64_t n = 0; n < 80; n += 7) {
                const auto size = static_cast<size_t>(n);
                CheckState s(gen, size);
                std::vector<double> bias(size, 0.0);
                std::vector<uint8_t> received(size, 0);
                for (size_t k = 0; k < size; ++k) {
                    received[k] = coin(gen);
                    if (!received[k]) s.current[k] = 0.0;  // what the engine holds for a neuron not reached
                    if (coin(gen)) bias[k] = normal(gen);
                }
                const int32_t bin = 2;
                Outcome expected(s);  // the rule of Engine::check, neuron by neuron
                for (size_t k = 0; k < size; ++k) {
                    if (s.refractory[k] == bin) continue;
                    if (!received[k] && !(bias_rule && bias[k] != 0.0) && !(s.v[k] > s.threshold[k])) continue;
                    const double u = received[k] ? s.v[k] + s.current[k] : s.v[k];
                    expected.update(k, u, s.threshold[k], received[k]);
                }
                std::vector<int32_t> fired(size, -7);
                int64_t fires = -1;
                const int64_t updates =
                    t->check_masked(s.current.data(), s.v.data(), s.threshold.data(), bias.data(), bias_rule,
                                    s.refractory.data(), bin, n, received.data(), fired.data(), &fires);
                // (the unreceived keep their v, -0.0 included)
                expected.require(s, updates, fires, fired);
                CHECK(received == std::vector<uint8_t>(size, 0));
            }
        }
    }
}

TEST_CASE("scan_nonzero_u8 finds events at every position of long frames") {
    for (const Table* t : tables()) {
        CAPTURE(t->name);
        for (int64_t n = 0; n < 100; n += 9) {
            for (int64_t at = 0; at < n; ++at) {
                std::vector<uint8_t> x(static_cast<size_t>(n), 0);
                x[static_cast<size_t>(at)] = 3;
                x[static_cast<size_t>(n - 1)] = 255;
                std::vector<int32_t> idx(static_cast<size_t>(n));
                std::vector<double> val(static_cast<size_t>(n));
                const FrameScan scan = t->scan_nonzero_u8(x.data(), n, idx.data(), val.data());
                CHECK(scan.first_invalid == -1);
                if (at == n - 1) {
                    CHECK(scan.nonzero == 1);
                    CHECK(val[0] == 255.0);
                } else {
                    REQUIRE(scan.nonzero == 2);
                    CHECK(idx[0] == at);
                    CHECK(val[0] == 3.0);
                    CHECK(idx[1] == n - 1);
                    CHECK(val[1] == 255.0);
                }
            }
        }
    }
}

TEST_CASE("the frame scans find exactly the events of random frames of every density") {
    std::mt19937 gen(4);
    for (const double density : {0.0, 0.02, 0.07, 0.3, 0.9, 1.0}) {
        std::bernoulli_distribution event(density);
        std::uniform_int_distribution<int> count(1, 255);
        for (const int64_t n : {1, 63, 64, 65, 200, 2312}) {
            const auto size = static_cast<size_t>(n);
            std::vector<uint8_t> x8(size);
            for (auto& b : x8) b = event(gen) ? static_cast<uint8_t>(count(gen)) : 0;
            const std::vector<float> x32(x8.begin(), x8.end());
            const std::vector<double> x64(x8.begin(), x8.end());
            std::vector<int32_t> expected_idx;
            for (int64_t k = 0; k < n; ++k) {
                if (x8[static_cast<size_t>(k)] != 0) expected_idx.push_back(static_cast<int32_t>(k));
            }
            for (const Table* t : tables()) {
                CAPTURE(t->name);
                CAPTURE(density);
                CAPTURE(n);
                for (int kind = 0; kind < 3; ++kind) {
                    CAPTURE(kind);
                    std::vector<int32_t> idx(size, -7);
                    std::vector<double> val(size, -7.0);
                    const FrameScan scan = kind == 0   ? t->scan_nonzero_u8(x8.data(), n, idx.data(), val.data())
                                           : kind == 1 ? t->scan_nonzero_f32(x32.data(), n, idx.data(), val.data())
                                                       : t->scan_nonzero(x64.data(), n, idx.data(), val.data());
                    CHECK(scan.first_invalid == -1);
                    REQUIRE(scan.nonzero == static_cast<int64_t>(expected_idx.size()));
                    for (size_t e = 0; e < expected_idx.size(); ++e) {
                        REQUIRE(idx[e] == expected_idx[e]);
                        REQUIRE(val[e] == x64[static_cast<size_t>(expected_idx[e])]);
                    }
                }
            }
        }
    }
}

TEST_CASE("leak_range applies each owed bin's leak and bias in turn, like a scalar catch-up") {
    std::mt19937 gen(9);
    std::normal_distribution<double> normal;
    std::uniform_int_distribution<int32_t> last_bin(-1, 6);
    for (const Table* t : tables()) {
        CAPTURE(t->name);
        for (int64_t n = 1; n < 40; n += 5) {
            const auto size = static_cast<size_t>(n);
            std::vector<double> v(size), beta(size), bias(size);
            std::vector<int32_t> leaked_to(size);
            for (size_t k = 0; k < size; ++k) {
                v[k] = k % 5 == 0 ? 0.0 : normal(gen);
                beta[k] = k % 7 == 0 ? 1.0 : std::exp(-std::abs(normal(gen)));
                bias[k] = k % 3 == 0 ? normal(gen) : 0.0;
                leaked_to[k] = last_bin(gen);
            }
            const int32_t bin = 6;
            std::vector<double> expected = v;
            for (size_t k = 0; k < size; ++k) {
                for (int32_t done = leaked_to[k]; done < bin; ++done) {
                    expected[k] = bias[k] == 0.0 ? expected[k] * beta[k] : expected[k] * beta[k] + bias[k];
                }
            }
            const int32_t oldest = *std::min_element(leaked_to.begin(), leaked_to.end());
            t->leak_range(v.data(), leaked_to.data(), beta.data(), bias.data(), bin, bin - oldest, n);
            CHECK(same_bits(v, expected));
            CHECK(leaked_to == std::vector<int32_t>(size, bin));
        }
    }
}

TEST_CASE("min_i32 and scan_nonzero, including invalid values at every position") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    for (const Table* t : tables()) {
        CAPTURE(t->name);
        CHECK(t->min_i32(nullptr, 0) == std::numeric_limits<int32_t>::max());
        const std::vector<int32_t> a{5, 3, 9, -1, 4, 8, 2, 7, 6};
        for (size_t n = 1; n <= a.size(); ++n) {
            int32_t least = a[0];
            for (size_t k = 0; k < n; ++k) least = std::min(least, a[k]);
            CHECK(t->min_i32(a.data(), static_cast<int64_t>(n)) == least);
        }
        for (int64_t n = 0; n < 19; ++n) {
            std::vector<double> x(static_cast<size_t>(n), 0.0);
            for (int64_t k = 0; k < n; k += 3) x[static_cast<size_t>(k)] = 1.0 + static_cast<double>(k);
            if (n > 1) x[1] = -0.0;  // a zero, not an event, and valid
            std::vector<int32_t> idx(static_cast<size_t>(n) + 1);
            std::vector<double> val(static_cast<size_t>(n) + 1);
            const FrameScan scan = t->scan_nonzero(x.data(), n, idx.data(), val.data());
            CHECK(scan.first_invalid == -1);
            int64_t expected = 0;
            for (int64_t k = 0; k < n; ++k) {
                if (x[static_cast<size_t>(k)] == 0.0) continue;
                REQUIRE(expected < scan.nonzero);
                CHECK(idx[static_cast<size_t>(expected)] == k);
                CHECK(val[static_cast<size_t>(expected)] == x[static_cast<size_t>(k)]);
                ++expected;
            }
            CHECK(scan.nonzero == expected);
            // float32 and uint8 frames: the same events
            std::vector<float> x32(x.begin(), x.end());
            std::vector<uint8_t> x8(x.begin(), x.end());
            for (const FrameScan other : {t->scan_nonzero_f32(x32.data(), n, idx.data(), val.data()),
                                          t->scan_nonzero_u8(x8.data(), n, idx.data(), val.data())}) {
                CHECK(other.first_invalid == -1);
                CHECK(other.nonzero == expected);
            }
            for (const double bad : {nan, inf, -inf, -1.0, -1e-300}) {
                for (int64_t at = 0; at < n; ++at) {
                    std::vector<double> y = x;
                    y[static_cast<size_t>(at)] = bad;
                    if (at + 2 < n) y[static_cast<size_t>(at + 2)] = nan;  // only the first one is reported
                    CHECK(t->scan_nonzero(y.data(), n, idx.data(), val.data()).first_invalid == at);
                    std::vector<float> y32(y.begin(), y.end());
                    if (bad != -1e-300) {  // -1e-300 rounds to -0.0f, a valid zero
                        CHECK(t->scan_nonzero_f32(y32.data(), n, idx.data(), val.data()).first_invalid == at);
                    }
                }
            }
        }
    }
}
