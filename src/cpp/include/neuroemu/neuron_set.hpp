// A set of neuron indices, cleared in O(members): one bit per neuron (a million neurons in 128 KiB, so the
// membership test of a scattered delivery stays in cache, unlike a per-neuron stamp) and the members in
// insertion order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace neuroemu {

class NeuronSet {
public:
    void resize(std::size_t n) {
        bits_.assign(n / 64 + 1, 0);
        members_.clear();
    }
    // Adds `neuron`; false if it was already a member.
    bool insert(int32_t neuron) {
        uint64_t& word = bits_[static_cast<std::size_t>(neuron) >> 6];
        const uint64_t bit = uint64_t{1} << (static_cast<uint32_t>(neuron) & 63u);
        if (word & bit) return false;
        word |= bit;
        members_.push_back(neuron);
        return true;
    }
    bool contains(int32_t neuron) const {
        return (bits_[static_cast<std::size_t>(neuron) >> 6] >> (static_cast<uint32_t>(neuron) & 63u)) & 1u;
    }
    void clear() {
        for (const int32_t neuron : members_) bits_[static_cast<std::size_t>(neuron) >> 6] = 0;
        members_.clear();
    }
    // Removes the members in [first, last): one pass over the members.
    void erase_range(int32_t first, int32_t last) {
        std::size_t kept = 0;
        for (const int32_t neuron : members_) {
            if (neuron >= first && neuron < last) {
                bits_[static_cast<std::size_t>(neuron) >> 6] &= ~(uint64_t{1} << (static_cast<uint32_t>(neuron) & 63u));
            } else {
                members_[kept++] = neuron;
            }
        }
        members_.resize(kept);
    }
    const std::vector<int32_t>& members() const { return members_; }

private:
    std::vector<uint64_t> bits_;
    std::vector<int32_t> members_;
};

}  // namespace neuroemu
