// The global queue of pending spikes: one entry per source (input channel or neuron) with its
// multiplicity, ranked by the schedule. Entry ids: input channel c is c, neuron i is n_inputs + i, so that
// ascending entry id is the contract's index order (inputs before neurons).
#pragma once

#include <cstddef>
#include <cstdint>
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

    bool empty() const { return queued_.empty(); }
    int64_t size() const { return static_cast<int64_t>(queued_.size()); }

    // Removes the first `group_size` entries by the schedule (all when group_size is 0 or not smaller than
    // the queue) and writes them to `group` in ascending entry id.
    void emit(int64_t group_size, Xoshiro256& rng, std::vector<Emission>& group);

    void clear();

private:
    struct HeapItem {
        double key;
        int32_t entry;
        uint32_t version;
    };
    // Bitwise, not short-circuit, operators: the result feeds a conditional move, not a branch.
    static bool ranks_lower(const HeapItem& a, const HeapItem& b) {
        return (a.key < b.key) | ((a.key == b.key) & (a.entry > b.entry));
    }
    void sift_up(std::size_t hole, const HeapItem& item);
    void heap_push(const HeapItem& item);
    HeapItem heap_pop();
    void remove_at(std::size_t position);
    void take(int32_t entry, std::vector<Emission>& group);

    Schedule schedule_ = Schedule::Momentum;
    std::vector<double> multiplicity_;
    std::vector<int32_t> position_;   // index into queued_, -1 when not queued
    std::vector<uint32_t> version_;   // invalidates stale heap items (momentum re-ranks on a new spike)
    std::vector<int32_t> queued_;
    std::vector<HeapItem> heap_;  // a binary max-heap by rank: the highest-ranked item first
};

}  // namespace neuroemu
