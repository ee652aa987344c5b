// xoshiro256** seeded by splitmix64 (Blackman & Vigna, https://prng.di.unimi.it/): small, fast and
// reproducible on every platform, unlike std:: distributions whose output is implementation-defined.
#pragma once

#include <cstdint>

namespace neuroemu {

inline uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

class Xoshiro256 {
public:
    // One independent stream per (seed, sample index): results never depend on threads or batch splits.
    Xoshiro256(uint64_t seed, uint64_t sample_index) {
        uint64_t sm = seed;
        uint64_t mixed = splitmix64(sm) ^ (sample_index * 0xD1B54A32D192ED03ULL);
        for (auto& word : s_) word = splitmix64(mixed);
    }

    uint64_t next() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform in [0, bound), bound >= 1, without modulo bias (Lemire, ACM TOMACS 2019).
    uint64_t below(uint64_t bound) {
        __uint128_t m = static_cast<__uint128_t>(next()) * bound;
        auto low = static_cast<uint64_t>(m);
        if (low < bound) {
            const uint64_t threshold = (0 - bound) % bound;
            while (low < threshold) {
                m = static_cast<__uint128_t>(next()) * bound;
                low = static_cast<uint64_t>(m);
            }
        }
        return static_cast<uint64_t>(m >> 64);
    }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t s_[4]{};
};

}  // namespace neuroemu
