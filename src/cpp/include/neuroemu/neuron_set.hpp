// A set of neuron indices, cleared in O(members): one bit per neuron (a million neurons in 128 KiB, so the
// membership test of a scattered delivery stays in cache, unlike a per-neuron stamp) and the members in
// insertion order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace neuroemu {

class NeuronSet {
public:
    // Room for neurons 0..n-1, each a member at most once: adding never allocates.
    void resize(std::size_t n) {
        bits_.assign(n / 64 + 1, 0);
        // Left uninitialised: an engine is made per run_batch call, and its cost must not grow with the
        // neurons that a sample never reaches. + 1: a cursor writes one slot beyond the members.
        members_.reset(new int32_t[n + 1]);
        size_ = 0;
    }
    // Adds `neuron`; false if it was already a member.
    bool insert(int32_t neuron) {
        uint64_t& word = bits_[static_cast<std::size_t>(neuron) >> 6];
        const uint64_t bit = uint64_t{1} << (static_cast<uint32_t>(neuron) & 63u);
        if (word & bit) return false;
        word |= bit;
        members_[size_++] = neuron;
        return true;
    }
    // Adds members without a branch, for the hot loop of a scattered delivery, whose targets repeat
    // unpredictably (a convolution reaches a neuron from several sources). The count lives in the cursor,
    // a local of the loop, so that the stores into the set do not make the compiler reload it.
    class Cursor {
    public:
        void add(int32_t neuron) {
            uint64_t& word = bits_[static_cast<std::size_t>(neuron) >> 6];
            const uint64_t bit = uint64_t{1} << (static_cast<uint32_t>(neuron) & 63u);
            members_[size_] = neuron;
            size_ += (word & bit) == 0;
            word |= bit;
        }

    private:
        friend class NeuronSet;
        Cursor(uint64_t* bits, int32_t* members, std::size_t size) : bits_(bits), members_(members), size_(size) {}
        uint64_t* bits_;
        int32_t* members_;
        std::size_t size_;
    };
    Cursor cursor() { return Cursor(bits_.data(), members_.get(), size_); }
    void commit(const Cursor& cursor) { size_ = cursor.size_; }  // the members a cursor added
    bool contains(int32_t neuron) const {
        return (bits_[static_cast<std::size_t>(neuron) >> 6] >> (static_cast<uint32_t>(neuron) & 63u)) & 1u;
    }
    void clear() {
        for (std::size_t m = 0; m < size_; ++m) bits_[static_cast<std::size_t>(members_[m]) >> 6] = 0;
        size_ = 0;
    }
    const int32_t* begin() const { return members_.get(); }
    const int32_t* end() const { return members_.get() + size_; }
    std::size_t size() const { return size_; }

private:
    std::vector<uint64_t> bits_;
    std::unique_ptr<int32_t[]> members_;
    std::size_t size_ = 0;
};

}  // namespace neuroemu
