// A priority queue of timed events with a total order: (time, sequence number). The sequence number is
// assigned at push, so events at the same time come out in the order they were scheduled, whatever the
// heap does inside (the NEST lesson: never let ties depend on heap internals).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace neuroemu {

template <typename Payload>
class EventQueue {
public:
    struct Entry {
        int64_t time;   // integer picoseconds
        uint64_t seq;   // push order; unique within one run
        Payload payload;
    };

    void clear() {
        heap_.clear();
        payloads_.clear();
        free_slots_.clear();
        next_seq_ = 0;
    }
    bool empty() const { return heap_.empty(); }
    // The time of the earliest entry; INT64_MAX when empty.
    int64_t next_time() const { return heap_.empty() ? INT64_MAX : heap_.front().time; }
    std::size_t size() const { return heap_.size(); }

    // Schedules `payload` at `time`; returns its sequence number.
    uint64_t push(int64_t time, const Payload& payload) {
        const uint64_t seq = next_seq_++;
        uint32_t slot;
        if (free_slots_.empty()) {
            slot = static_cast<uint32_t>(payloads_.size());
            payloads_.push_back(payload);
        } else {
            slot = free_slots_.back();
            free_slots_.pop_back();
            payloads_[slot] = payload;
        }
        heap_.push_back(Key{time, seq, slot});
        std::push_heap(heap_.begin(), heap_.end(), Later{});
        return seq;
    }

    // Removes and returns the earliest entry by (time, seq). Precondition: !empty().
    Entry pop() {
        std::pop_heap(heap_.begin(), heap_.end(), Later{});
        const Key key = heap_.back();
        heap_.pop_back();
        free_slots_.push_back(key.slot);
        return Entry{key.time, key.seq, payloads_[key.slot]};
    }

private:
    // The heap orders small keys; the payloads (56 bytes for a spike message) stay in their slots, so that each
    // level of a push or a pop moves 24 bytes instead of the whole entry.
    struct Key {
        int64_t time;
        uint64_t seq;
        uint32_t slot;
    };
    struct Later {  // a function object, so that the heap inlines the comparison
        bool operator()(const Key& a, const Key& b) const {
            return a.time > b.time || (a.time == b.time && a.seq > b.seq);
        }
    };
    std::vector<Key> heap_;
    std::vector<Payload> payloads_;
    std::vector<uint32_t> free_slots_;
    uint64_t next_seq_ = 0;
};

}  // namespace neuroemu
