// The global queue of pending spikes: one entry per source (input channel or neuron) with its
// multiplicity, ranked by the schedule. Entry ids: input channel c is c, neuron i is n_inputs + i, so that
// ascending entry id is the contract's index order (inputs before neurons).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "neuroemu/random.hpp"
#include "neuroemu/run_config.hpp"

namespace neuroemu {

struct Emission {
    int32_t entry;
    double multiplicity;
};

class PendingQueue {
public:
    // Empties the queue for `n_entries` entries; O(queued entries) when the size is unchanged.
    void reset(int64_t n_entries, Schedule schedule);

    // Adds one event of `multiplicity` to `entry`. `key` ranks it: momentum passes the pre-spike
    // potential (+inf for input channels), fifo the negated queue step; random ignores it.
    void push(int32_t entry, double multiplicity, double key);

    bool empty() const { return size_ == 0; }
    int64_t size() const { return size_; }

    // Removes the first `group_size` entries by the schedule (all when group_size is 0 or not smaller than
    // the queue) and writes them to `group` in ascending entry id.
    void emit(int64_t group_size, Xoshiro256& rng, std::vector<Emission>& group);

    void clear();

private:
    // A heap item is one 128-bit number whose unsigned order is the rank: the key's bits, mapped so that
    // they order as the double does (-0.0 first made +0.0, its equal), above the complemented entry (on equal
    // keys the lower entry ranks higher) and the version (which orders only an entry's own stale items).
    __extension__ typedef unsigned __int128 HeapItem;  // (__extension__: a GCC and Clang type, not ISO C++)
    static HeapItem make_item(double key, int32_t entry, uint32_t version) {
        key += 0.0;  // -0.0 + 0.0 is +0.0; every other key is unchanged
        uint64_t bits;
        std::memcpy(&bits, &key, sizeof bits);
        // Negative doubles order backwards as integers (flip all bits); positive ones go above them.
        bits = (bits >> 63) != 0 ? ~bits : bits | (uint64_t{1} << 63);
        const uint64_t low = (uint64_t{~static_cast<uint32_t>(entry)} << 32) | version;
        return (static_cast<HeapItem>(bits) << 64) | low;
    }
    static int32_t entry_of(HeapItem item) {
        return static_cast<int32_t>(~static_cast<uint32_t>(static_cast<uint64_t>(item) >> 32));
    }
    static uint32_t version_of(HeapItem item) { return static_cast<uint32_t>(static_cast<uint64_t>(item)); }
    static bool ranks_lower(HeapItem a, HeapItem b) { return a < b; }
    static constexpr std::size_t kArity = 4;
    void sift_up(std::size_t hole, const HeapItem& item);
    void heap_push(const HeapItem& item);
    HeapItem heap_pop();
    void remove_at(std::size_t position);
    void append(int32_t entry, std::vector<Emission>& group);
    void take(int32_t entry, std::vector<Emission>& group);
    template <typename Visit>
    void for_each_queued(Visit visit) const;

    Schedule schedule_ = Schedule::Momentum;
    std::vector<double> multiplicity_;
    std::vector<int32_t> position_;   // random: index into queued_; -1 when not queued
    int64_t size_ = 0;                // queued entries
    std::vector<uint32_t> version_;   // invalidates stale heap items (momentum re-ranks on a new spike)
    std::vector<int32_t> queued_;     // random only: the queued entries, for a uniform pick
    std::vector<HeapItem> heap_;  // a 4-ary max-heap by rank: the highest-ranked item first
};

}  // namespace neuroemu
