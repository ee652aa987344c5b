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
        next_seq_ = 0;
    }
    bool empty() const { return heap_.empty(); }
    std::size_t size() const { return heap_.size(); }

    // Schedules `payload` at `time`; returns its sequence number.
    uint64_t push(int64_t time, const Payload& payload) {
        const uint64_t seq = next_seq_++;
        heap_.push_back(Entry{time, seq, payload});
        std::push_heap(heap_.begin(), heap_.end(), Later{});
        return seq;
    }

    // The earliest entry by (time, seq). Precondition: !empty().
    const Entry& top() const { return heap_.front(); }

    Entry pop() {
        std::pop_heap(heap_.begin(), heap_.end(), Later{});
        Entry e = heap_.back();
        heap_.pop_back();
        return e;
    }

private:
    struct Later {  // a function object, so that the heap inlines the comparison
        bool operator()(const Entry& a, const Entry& b) const {
            return a.time > b.time || (a.time == b.time && a.seq > b.seq);
        }
    };
    std::vector<Entry> heap_;
    uint64_t next_seq_ = 0;
};

}  // namespace neuroemu
