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
        int64_t time;             // integer picoseconds
        uint64_t seq;             // push order; unique within one run
        const Payload* payload;   // valid until the next push or pop
    };

    void clear() {
        heap_.clear();
        payloads_.clear();
        free_slots_.clear();
        held_ = kNoSlot;
        next_seq_ = 0;
    }
    bool empty() const { return heap_.empty(); }
    std::size_t size() const { return heap_.size(); }
    // The time of the earliest entry; INT64_MAX when empty.
    int64_t next_time() const { return heap_.empty() ? INT64_MAX : heap_.front().time; }

    // Schedules an entry at `time` and returns its payload, to be filled in place before the next push (and its
    // sequence number in *seq). A payload built elsewhere and copied in is read back in wide loads over the
    // narrow stores that built it, which stalls the CPU's store forwarding: that copy took half the time of the
    // timed engine's input sends.
    Payload& schedule(int64_t time, uint64_t* seq = nullptr) {
        const uint64_t s = next_seq_++;
        if (seq) *seq = s;
        uint32_t slot;
        if (free_slots_.empty()) {
            slot = static_cast<uint32_t>(payloads_.size());
            payloads_.emplace_back();
        } else {
            slot = free_slots_.back();
            free_slots_.pop_back();
        }
        sift_up(Key{time, s, slot});
        return payloads_[slot];
    }

    // Schedules a copy of `payload` at `time`; returns its sequence number.
    uint64_t push(int64_t time, const Payload& payload) {
        uint64_t seq;
        schedule(time, &seq) = payload;
        return seq;
    }

    // Removes and returns the earliest entry by (time, seq); its payload stays in place (its slot is reused only
    // after the next pop). Precondition: !empty().
    Entry pop() {
        if (held_ != kNoSlot) free_slots_.push_back(held_);
        std::pop_heap(heap_.begin(), heap_.end(), Later{});
        const Key key = heap_.back();
        heap_.pop_back();
        held_ = key.slot;
        return Entry{key.time, key.seq, &payloads_[key.slot]};
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
    // std::push_heap, with the new key kept in registers: std::push_heap reads it back from the heap's end, in
    // wide loads over the narrow stores that just put it there (a store-forwarding stall per push).
    void sift_up(const Key key) {
        std::size_t hole = heap_.size();
        heap_.emplace_back();
        while (hole > 0) {
            const std::size_t parent = (hole - 1) / 2;
            if (!Later{}(heap_[parent], key)) break;
            heap_[hole] = heap_[parent];
            hole = parent;
        }
        heap_[hole] = key;
    }

    std::vector<Key> heap_;
    std::vector<Payload> payloads_;
    std::vector<uint32_t> free_slots_;
    static constexpr uint32_t kNoSlot = UINT32_MAX;
    uint32_t held_ = kNoSlot;  // the slot of the entry popped last
    uint64_t next_seq_ = 0;
};

}  // namespace neuroemu
