#include "neuroemu/pending_queue.hpp"

#include <algorithm>

namespace neuroemu {

void PendingQueue::reset(int64_t n_entries, Schedule schedule) {
    const auto n = static_cast<size_t>(n_entries);
    if (multiplicity_.size() == n) {
        // Only queued entries differ from the empty state: O(queued), not O(entries). Cleared under the old
        // schedule, which knows where its entries are listed.
        clear();
        schedule_ = schedule;
        return;
    }
    schedule_ = schedule;
    multiplicity_.assign(n, 0.0);
    position_.assign(n, -1);
    version_.assign(n, 0);
    queued_.clear();
    heap_.clear();
    size_ = 0;
}

void PendingQueue::push(int32_t entry, double multiplicity, double key) {
    const auto e = static_cast<size_t>(entry);
    const bool was_queued = position_[e] >= 0;
    multiplicity_[e] += multiplicity;
    const bool ranks_by_heap = schedule_ == Schedule::Momentum || schedule_ == Schedule::Fifo;
    if (!was_queued) {
        ++size_;
        if (ranks_by_heap) {
            position_[e] = 0;  // (a flag: the heap finds its entries)
        } else {
            position_[e] = static_cast<int32_t>(queued_.size());
            queued_.push_back(entry);
        }
    }
    // fifo keeps the age of an entry that is already queued; momentum re-ranks by the latest potential.
    if (ranks_by_heap && (!was_queued || schedule_ == Schedule::Momentum)) {
        heap_push(make_item(key, entry, ++version_[e]));
    }
}

// Puts `item` into the hole at `hole`, or higher up where it ranks above its parent.
void PendingQueue::sift_up(size_t hole, const HeapItem& item) {
    while (hole > 0) {
        const size_t parent = (hole - 1) / kArity;
        if (!ranks_lower(heap_[parent], item)) break;
        heap_[hole] = heap_[parent];
        hole = parent;
    }
    heap_[hole] = item;
}

void PendingQueue::heap_push(const HeapItem& item) {
    heap_.push_back(item);
    sift_up(heap_.size() - 1, item);
}

// Removes and returns the top item. The hole left at the top walks down to a leaf, the highest of its four
// children moving up at each level, chosen by a two-round tournament of conditional moves: which child ranks
// highest is a coin toss, and mispredicted branches made std::pop_heap a fifth of the momentum schedule's
// time. The last item then fills the hole and rises to its place, usually no more than a level.
//
// A pop is a chain of dependent loads, one per level: four children per level halve the levels of a binary
// heap, and the 128-bit items compare in two integer instructions. Measured alone (4 pushes and a group of 4
// per step, 300 queued): 250 ns per step against 410 for the binary heap of (double, entry) items.
PendingQueue::HeapItem PendingQueue::heap_pop() {
    const HeapItem top = heap_.front();
    const HeapItem last = heap_.back();
    heap_.pop_back();
    const size_t n = heap_.size();
    if (n == 0) return top;
    HeapItem* heap = heap_.data();
    size_t hole = 0;
    size_t child = 1;
    for (; child + 3 < n; child = kArity * hole + 1) {
        const HeapItem a = heap[child];
        const HeapItem b = heap[child + 1];
        const HeapItem c = heap[child + 2];
        const HeapItem d = heap[child + 3];
        const bool b_wins = ranks_lower(a, b);
        const bool d_wins = ranks_lower(c, d);
        const HeapItem left = b_wins ? b : a;
        const HeapItem right = d_wins ? d : c;
        const bool right_wins = ranks_lower(left, right);
        heap[hole] = right_wins ? right : left;
        hole = right_wins ? child + 2 + d_wins : child + b_wins;
    }
    if (child < n) {  // a last level with fewer than four children
        size_t best = child;
        for (size_t k = child + 1; k < n; ++k) best = ranks_lower(heap[best], heap[k]) ? k : best;
        heap[hole] = heap[best];
        hole = best;
    }
    sift_up(hole, last);
    return top;
}

void PendingQueue::remove_at(size_t position) {
    const int32_t last = queued_.back();
    queued_[position] = last;
    position_[static_cast<size_t>(last)] = static_cast<int32_t>(position);
    queued_.pop_back();
}

// Appends `entry` with its multiplicity to `group` and zeroes the multiplicity; set in place: an Emission built
// on the stack and copied in stalls store forwarding.
void PendingQueue::append(int32_t entry, std::vector<Emission>& group) {
    const auto e = static_cast<size_t>(entry);
    Emission& emitted = group.emplace_back();
    emitted.entry = entry;
    emitted.multiplicity = multiplicity_[e];
    multiplicity_[e] = 0.0;
}

void PendingQueue::take(int32_t entry, std::vector<Emission>& group) {
    const auto e = static_cast<size_t>(entry);
    append(entry, group);
    if (schedule_ == Schedule::Random) remove_at(static_cast<size_t>(position_[e]));
    position_[e] = -1;
    --size_;
}

// Calls visit(entry) once for each queued entry: the random schedule lists them; the heap holds one item of
// each at its current version, beside stale ones.
template <typename Visit>
void PendingQueue::for_each_queued(Visit visit) const {
    if (schedule_ == Schedule::Random) {
        for (const int32_t entry : queued_) visit(entry);
        return;
    }
    for (const HeapItem item : heap_) {
        const int32_t entry = entry_of(item);
        const auto e = static_cast<size_t>(entry);
        if (position_[e] >= 0 && version_[e] == version_of(item)) visit(entry);
    }
}

void PendingQueue::emit(int64_t group_size, Xoshiro256& rng, std::vector<Emission>& group) {
    group.clear();
    const int64_t n = size_;
    if (group_size <= 0 || group_size >= n) {
        for_each_queued([&](int32_t entry) {
            append(entry, group);
            position_[static_cast<size_t>(entry)] = -1;
        });
        queued_.clear();
        heap_.clear();
        size_ = 0;
    } else if (schedule_ == Schedule::Random) {
        // A partial Fisher-Yates shuffle from the back: each pick is uniform over the entries left.
        for (int64_t picked = 0; picked < group_size; ++picked) {
            const auto remaining = static_cast<uint64_t>(n - picked);
            const auto j = static_cast<size_t>(rng.below(remaining));
            take(queued_[j], group);
        }
    } else {
        while (static_cast<int64_t>(group.size()) < group_size) {
            const HeapItem top = heap_pop();
            const int32_t entry = entry_of(top);
            const auto e = static_cast<size_t>(entry);
            if (position_[e] < 0 || version_[e] != version_of(top)) continue;  // stale
            take(entry, group);
        }
    }
    std::sort(group.begin(), group.end(), [](const Emission& a, const Emission& b) { return a.entry < b.entry; });
}

void PendingQueue::clear() {
    for_each_queued([&](int32_t entry) {
        multiplicity_[static_cast<size_t>(entry)] = 0.0;
        position_[static_cast<size_t>(entry)] = -1;
    });
    queued_.clear();
    heap_.clear();
    size_ = 0;
}

}  // namespace neuroemu
