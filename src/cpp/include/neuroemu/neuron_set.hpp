// A set of neuron indices, cleared in O(members): a byte per neuron and the members in insertion order.
// A byte, not a bit: adding a neuron is then a store of its own byte, where a bit would be a
// read-modify-write of a word shared with 63 neighbours, which chains the neighbouring targets of a
// convolution's row through memory.
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
        flags_.assign(n, 0);
        // Left uninitialised: an engine is made per run_batch call, and its cost must not grow with the
        // neurons that a sample never reaches. + 1: a cursor writes one slot beyond the members.
        members_.reset(new int32_t[n + 1]);
        size_ = 0;
    }
    bool contains(int32_t neuron) const { return flags_[static_cast<std::size_t>(neuron)] != 0; }
    // Adds `neuron`; false if it was already a member.
    bool insert(int32_t neuron) {
        uint8_t& flag = flags_[static_cast<std::size_t>(neuron)];
        if (flag) return false;
        flag = 1;
        members_[size_++] = neuron;
        return true;
    }
    // Adds members without a branch, for the hot loop of a scattered delivery, whose targets repeat
    // unpredictably (a convolution reaches a neuron from several sources). The count lives in the cursor,
    // a local of the loop, so that the stores into the set do not make the compiler reload it.
    class Cursor {
    public:
        void add(int32_t neuron) {
            uint8_t& flag = flags_[static_cast<std::size_t>(neuron)];
            members_[size_] = neuron;
            size_ += flag == 0;
            flag = 1;
        }

    private:
        friend class NeuronSet;
        Cursor(uint8_t* flags, int32_t* members, std::size_t size) : flags_(flags), members_(members), size_(size) {}
        uint8_t* flags_;
        int32_t* members_;
        std::size_t size_;
    };
    Cursor cursor() { return Cursor(flags_.data(), members_.get(), size_); }
    void commit(const Cursor& cursor) { size_ = cursor.size_; }  // the members a cursor added

    void clear() {
        for (std::size_t m = 0; m < size_; ++m) flags_[static_cast<std::size_t>(members_[m])] = 0;
        size_ = 0;
    }
    const int32_t* begin() const { return members_.get(); }
    const int32_t* end() const { return members_.get() + size_; }

private:
    std::vector<uint8_t> flags_;
    std::unique_ptr<int32_t[]> members_;
    std::size_t size_ = 0;
};

}  // namespace neuroemu
