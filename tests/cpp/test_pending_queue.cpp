// PendingQueue: ranking of the momentum, fifo and random schedules (docs/semantics.md, "Emission").
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "neuroemu/pending_queue.hpp"
#include "neuroemu/random.hpp"
#include "neuroemu/run_config.hpp"

using neuroemu::Emission;
using neuroemu::PendingQueue;
using neuroemu::Schedule;
using neuroemu::Xoshiro256;

namespace {

std::vector<Emission> emit(PendingQueue& queue, int64_t group_size, Xoshiro256& rng) {
    std::vector<Emission> group;
    queue.emit(group_size, rng, group);
    return group;
}

std::vector<int32_t> entries(const std::vector<Emission>& group) {
    std::vector<int32_t> ids;
    for (const Emission& e : group) ids.push_back(e.entry);
    return ids;
}

bool sorted_by_entry(const std::vector<Emission>& group) {
    return std::is_sorted(group.begin(), group.end(),
                          [](const Emission& a, const Emission& b) { return a.entry < b.entry; });
}

// Emits one entry at a time until the queue is empty; returns the entries in emission order.
std::vector<int32_t> drain_one_by_one(PendingQueue& queue, Xoshiro256& rng) {
    std::vector<int32_t> order;
    while (!queue.empty()) {
        const auto group = emit(queue, 1, rng);
        REQUIRE(group.size() == 1);
        order.push_back(group[0].entry);
    }
    return order;
}

using Ids = std::vector<int32_t>;

}  // namespace

TEST_SUITE("pending_queue") {

TEST_CASE("momentum: highest key first, ties by lower entry id") {
    PendingQueue q;
    Xoshiro256 rng(1, 0);
    q.reset(6, Schedule::Momentum);
    CHECK(q.empty());
    q.push(3, 1.0, 2.0);
    q.push(1, 1.0, 5.0);
    q.push(4, 1.0, 5.0);
    q.push(5, 1.0, HUGE_VAL);  // input channels rank with +inf, among themselves by entry id
    q.push(0, 1.0, HUGE_VAL);
    q.push(2, 1.0, -1.0);
    CHECK(q.size() == 6);
    CHECK(drain_one_by_one(q, rng) == Ids{0, 5, 1, 4, 3, 2});
    CHECK(q.empty());
    CHECK(q.size() == 0);
}

TEST_CASE("momentum: a group holds the top F entries, sorted by entry id") {
    PendingQueue q;
    Xoshiro256 rng(1, 0);
    q.reset(8, Schedule::Momentum);
    q.push(5, 1.0, 10.0);
    q.push(1, 1.0, 9.0);
    q.push(3, 1.0, 8.0);
    q.push(7, 1.0, 9.0);
    const auto group = emit(q, 3, rng);
    CHECK(entries(group) == Ids{1, 5, 7});
    CHECK(q.size() == 1);
    CHECK(entries(emit(q, 3, rng)) == Ids{3});
    CHECK(q.empty());
}

TEST_CASE("momentum: an entry pushed again while queued is re-ranked by its new key") {
    PendingQueue q;
    Xoshiro256 rng(1, 0);
    q.reset(4, Schedule::Momentum);

    SUBCASE("down") {
        q.push(0, 1.0, 5.0);
        q.push(1, 1.0, 3.0);
        q.push(0, 1.0, 1.0);
        const auto first = emit(q, 1, rng);
        CHECK(entries(first) == Ids{1});
        const auto second = emit(q, 1, rng);
        REQUIRE(entries(second) == Ids{0});
        CHECK(second[0].multiplicity == 2.0);
    }
    SUBCASE("up") {
        q.push(0, 1.0, 1.0);
        q.push(1, 1.0, 3.0);
        q.push(0, 1.0, 7.0);
        const auto first = emit(q, 1, rng);
        REQUIRE(entries(first) == Ids{0});
        CHECK(first[0].multiplicity == 2.0);
        CHECK(entries(emit(q, 1, rng)) == Ids{1});
        CHECK(q.empty());
    }
}

TEST_CASE("momentum: stale heap items are skipped, also when their entry is queued again") {
    PendingQueue q;
    Xoshiro256 rng(1, 0);
    q.reset(4, Schedule::Momentum);
    q.push(0, 1.0, 1.0);  // leaves a stale item (1.0, entry 0) behind once re-ranked
    q.push(1, 1.0, 3.0);
    q.push(0, 1.0, 4.0);
    const auto first = emit(q, 1, rng);
    REQUIRE(entries(first) == Ids{0});
    CHECK(first[0].multiplicity == 2.0);
    // Entry 0 is queued again with a lower key than its stale item: the stale item must not rank it.
    q.push(0, 1.0, 0.5);
    q.push(2, 1.0, 0.7);
    q.push(3, 1.0, 0.1);
    CHECK(q.size() == 4);
    const auto order = drain_one_by_one(q, rng);
    CHECK(order == Ids{1, 2, 0, 3});
}

TEST_CASE("multiplicities accumulate while queued and are cleared on emission") {
    for (const Schedule schedule : {Schedule::Momentum, Schedule::Fifo, Schedule::Random}) {
        CAPTURE(static_cast<int>(schedule));
        PendingQueue q;
        Xoshiro256 rng(7, 3);
        q.reset(3, schedule);
        q.push(2, 1.0, -0.0);
        q.push(2, 1.0, -0.0);
        q.push(2, 0.5, -0.0);
        CHECK(q.size() == 1);
        auto group = emit(q, 1, rng);
        REQUIRE(group.size() == 1);
        CHECK(group[0].entry == 2);
        CHECK(group[0].multiplicity == 2.5);
        CHECK(q.empty());
        q.push(2, 1.0, -1.0);
        group = emit(q, 0, rng);
        REQUIRE(group.size() == 1);
        CHECK(group[0].multiplicity == 1.0);
        // Also through a partial emission (the heap / Fisher-Yates path rather than "emit all").
        q.push(0, 3.0, -2.0);
        q.push(1, 1.0, -2.0);
        q.push(0, 1.0, -3.0);
        std::vector<Emission> all;
        while (!q.empty()) {
            const auto part = emit(q, 1, rng);
            all.insert(all.end(), part.begin(), part.end());
        }
        std::sort(all.begin(), all.end(), [](const Emission& a, const Emission& b) { return a.entry < b.entry; });
        REQUIRE(entries(all) == Ids{0, 1});
        CHECK(all[0].multiplicity == 4.0);
        CHECK(all[1].multiplicity == 1.0);
    }
}

TEST_CASE("fifo: oldest queue step first, ties by entry id, re-pushed entries keep their age") {
    PendingQueue q;
    Xoshiro256 rng(1, 0);
    q.reset(6, Schedule::Fifo);
    // Step 0: two input channels and neuron entry 4; step 1: entries 3 and 2; step 2: entry 4 again.
    q.push(1, 1.0, -0.0);
    q.push(4, 1.0, -0.0);
    q.push(0, 1.0, -0.0);
    q.push(3, 1.0, -1.0);
    q.push(2, 1.0, -1.0);
    q.push(4, 1.0, -2.0);
    CHECK(q.size() == 5);
    const auto a = emit(q, 2, rng);
    CHECK(entries(a) == Ids{0, 1});
    const auto b = emit(q, 1, rng);
    REQUIRE(entries(b) == Ids{4});
    CHECK(b[0].multiplicity == 2.0);
    CHECK(drain_one_by_one(q, rng) == Ids{2, 3});
}

TEST_CASE("fifo: -0.0 and 0.0 tie; an emitted entry pushed again is young again") {
    PendingQueue q;
    Xoshiro256 rng(1, 0);
    q.reset(4, Schedule::Fifo);
    q.push(3, 1.0, 0.0);
    q.push(1, 1.0, -0.0);
    q.push(2, 1.0, -1.0);
    CHECK(entries(emit(q, 1, rng)) == Ids{1});
    q.push(1, 1.0, -2.0);
    CHECK(drain_one_by_one(q, rng) == Ids{3, 2, 1});
}

TEST_CASE("random: each emission removes exactly min(F, n) distinct queued entries") {
    std::mt19937 gen(12345);
    PendingQueue q;
    Xoshiro256 rng(99, 0);
    const int32_t n_entries = 20;
    q.reset(n_entries, Schedule::Random);
    for (int round = 0; round < 500; ++round) {
        std::set<int32_t> queued;
        const int n_push = std::uniform_int_distribution<int>(1, 30)(gen);
        for (int k = 0; k < n_push; ++k) {
            const auto e = std::uniform_int_distribution<int32_t>(0, n_entries - 1)(gen);
            q.push(e, 1.0, 0.0);
            queued.insert(e);
        }
        REQUIRE(q.size() == static_cast<int64_t>(queued.size()));
        while (!q.empty()) {
            const auto f = std::uniform_int_distribution<int64_t>(1, 8)(gen);
            const auto n = q.size();
            const auto group = emit(q, f, rng);
            REQUIRE(static_cast<int64_t>(group.size()) == std::min(f, n));
            REQUIRE(sorted_by_entry(group));
            for (size_t k = 0; k < group.size(); ++k) {
                if (k > 0) REQUIRE(group[k].entry != group[k - 1].entry);
                REQUIRE(queued.erase(group[k].entry) == 1);
            }
            REQUIRE(q.size() == static_cast<int64_t>(queued.size()));
        }
        REQUIRE(queued.empty());
    }
}

TEST_CASE("random: every entry is picked with about uniform frequency") {
    const int32_t n = 10;
    for (const int64_t f : {int64_t{1}, int64_t{3}, int64_t{7}}) {
        CAPTURE(f);
        PendingQueue q;
        Xoshiro256 rng(2024, 5);
        q.reset(n, Schedule::Random);
        std::vector<int64_t> picked(n, 0);
        const int draws = 20000;
        for (int d = 0; d < draws; ++d) {
            // Always the same push order, so that a bias by queue position would show as a bias by entry.
            for (int32_t k = 0; k < n; ++k) q.push(k, 1.0, 0.0);
            for (const Emission& e : emit(q, f, rng)) ++picked[static_cast<size_t>(e.entry)];
            q.clear();
        }
        // Each entry's count is binomial(draws, f/n). The seed is fixed, so none of this ever flakes; the
        // bounds are loose enough to hold for any decent stream (a changed seed or generator).
        const double p = static_cast<double>(f) / n;
        const double expected = static_cast<double>(draws) * p;
        const double sigma = std::sqrt(static_cast<double>(draws) * p * (1.0 - p));
        double chi2 = 0.0;
        for (const int64_t count : picked) {
            const double d = static_cast<double>(count) - expected;
            chi2 += d * d / expected;
            CHECK(std::abs(d) < 5.0 * sigma);
        }
        // At most chi-square with 9 degrees of freedom (less for f > 1): P(chi2 > 40) < 1e-5.
        CHECK(chi2 < 40.0);
    }
}

TEST_CASE("random: the same seed and sample give the same sequence, another sample another one") {
    auto sequence = [](uint64_t seed, uint64_t sample) {
        PendingQueue q;
        Xoshiro256 rng(seed, sample);
        q.reset(16, Schedule::Random);
        std::vector<int32_t> out;
        for (int round = 0; round < 200; ++round) {
            for (int32_t e = 0; e < 16; e += 1 + round % 3) q.push(e, 1.0, 0.0);
            for (const Emission& e : emit(q, 2, rng)) out.push_back(e.entry);
        }
        return out;
    };
    const auto a = sequence(42, 7);
    CHECK(a == sequence(42, 7));
    CHECK(a != sequence(42, 8));
    CHECK(a != sequence(43, 7));
}

TEST_CASE("group_size 0 or >= the queue length emits everything, sorted by entry id") {
    for (const Schedule schedule : {Schedule::Momentum, Schedule::Fifo, Schedule::Random}) {
        for (const int64_t f : {int64_t{0}, int64_t{5}, int64_t{100}}) {
            CAPTURE(static_cast<int>(schedule));
            CAPTURE(f);
            PendingQueue q;
            Xoshiro256 rng(3, 1);
            q.reset(10, schedule);
            q.push(9, 1.0, -0.0);
            q.push(2, 2.0, -1.0);
            q.push(7, 1.0, 3.0);
            q.push(0, 1.5, HUGE_VAL);
            q.push(4, 1.0, -4.0);
            q.push(2, 1.0, 8.0);
            const auto group = emit(q, f, rng);
            CHECK(entries(group) == Ids{0, 2, 4, 7, 9});
            REQUIRE(group.size() == 5);
            CHECK(group[0].multiplicity == 1.5);
            CHECK(group[1].multiplicity == 3.0);
            CHECK(q.empty());
            // The queue is reusable afterwards and holds no leftovers.
            q.push(4, 1.0, -5.0);
            const auto next = emit(q, 1, rng);
            REQUIRE(entries(next) == Ids{4});
            CHECK(next[0].multiplicity == 1.0);
        }
    }
}

TEST_CASE("clear() empties the queue and forgets multiplicities and heap items") {
    for (const Schedule schedule : {Schedule::Momentum, Schedule::Fifo, Schedule::Random}) {
        CAPTURE(static_cast<int>(schedule));
        PendingQueue q;
        Xoshiro256 rng(3, 1);
        q.reset(5, schedule);
        q.push(1, 2.0, 9.0);
        q.push(3, 1.0, 8.0);
        q.push(1, 1.0, 9.5);
        q.clear();
        CHECK(q.empty());
        CHECK(q.size() == 0);
        q.push(1, 1.0, 0.0);
        q.push(2, 1.0, 1.0);
        if (schedule == Schedule::Random) {
            auto group = emit(q, 0, rng);
            REQUIRE(entries(group) == Ids{1, 2});
            CHECK(group[0].multiplicity == 1.0);
        } else {
            // Both rank by descending key: 2 (key 1) before 1 (key 0); nothing from before clear() remains.
            q.push(4, 1.0, 0.5);
            CHECK(drain_one_by_one(q, rng) == Ids{2, 4, 1});
        }
    }
}

TEST_CASE("reset() to another schedule forgets what was queued under the old one") {
    const Schedule schedules[] = {Schedule::Momentum, Schedule::Fifo, Schedule::Random};
    for (const Schedule before : schedules) {
        for (const Schedule after : schedules) {
            CAPTURE(static_cast<int>(before));
            CAPTURE(static_cast<int>(after));
            PendingQueue q;
            Xoshiro256 rng(3, 1);
            q.reset(6, before);
            q.push(4, 2.0, 1.0);
            q.push(1, 1.0, 3.0);
            q.push(4, 1.0, 2.0);
            q.reset(6, after);
            CHECK(q.empty());
            q.push(1, 1.0, 0.5);
            const auto group = emit(q, 0, rng);
            REQUIRE(entries(group) == Ids{1});
            CHECK(group[0].multiplicity == 1.0);  // nothing left over from before the reset
            q.push(4, 1.0, 0.5);
            const auto next = emit(q, 1, rng);
            REQUIRE(entries(next) == Ids{4});
            CHECK(next[0].multiplicity == 1.0);
            CHECK(q.empty());
        }
    }
}

TEST_CASE("stateful: random operations against a brute-force reference ranker") {
    struct Reference {
        std::vector<bool> queued;
        std::vector<double> multiplicity;
        std::vector<double> key;
        Schedule schedule;

        void push(int32_t e, double m, double k) {
            const auto i = static_cast<size_t>(e);
            if (!queued[i] || schedule == Schedule::Momentum) key[i] = k;
            queued[i] = true;
            multiplicity[i] += m;
        }
        int64_t size() const { return std::count(queued.begin(), queued.end(), true); }
        // The deterministic ranking: descending key, ties by ascending entry id.
        std::vector<int32_t> ranked() const {
            std::vector<int32_t> ids;
            for (size_t i = 0; i < queued.size(); ++i) {
                if (queued[i]) ids.push_back(static_cast<int32_t>(i));
            }
            std::stable_sort(ids.begin(), ids.end(), [this](int32_t a, int32_t b) {
                return key[static_cast<size_t>(a)] > key[static_cast<size_t>(b)];
            });
            return ids;
        }
        Emission take(int32_t e) {
            const auto i = static_cast<size_t>(e);
            const Emission out{e, multiplicity[i]};
            queued[i] = false;
            multiplicity[i] = 0.0;
            return out;
        }
        void clear() {
            std::fill(queued.begin(), queued.end(), false);
            std::fill(multiplicity.begin(), multiplicity.end(), 0.0);
        }
    };

    // A small queue that often empties, and one that grows to hundreds of entries (a deep heap, with stale
    // items of re-ranked entries far down) before a rare clear.
    struct Mix {
        int32_t n_entries;
        int ops;
        int push_per_mille;
        int emit_per_mille;  // the rest clears
        std::vector<int64_t> group_sizes;
    };
    const Mix mixes[] = {{12, 6000, 600, 370, {0, 1, 1, 2, 3, 5, 12}}, {700, 10000, 850, 149, {1, 2, 3, 4, 5}}};
    for (const Mix& mix : mixes)
    for (const Schedule schedule : {Schedule::Momentum, Schedule::Fifo, Schedule::Random}) {
        CAPTURE(static_cast<int>(schedule));
        CAPTURE(mix.n_entries);
        std::mt19937 gen(20240611u + static_cast<unsigned>(schedule));
        const int32_t n_entries = mix.n_entries;
        int64_t largest = 0;
        PendingQueue q;
        Xoshiro256 rng(5, 0);
        q.reset(n_entries, schedule);
        Reference ref{std::vector<bool>(n_entries, false), std::vector<double>(n_entries, 0.0),
                      std::vector<double>(n_entries, 0.0), schedule};
        // Keys of both signs and every magnitude (the heap orders their bit patterns, not the doubles).
        const double keys[] = {-1e300, -3.0, -2.0, -1.0, -4.9e-324, -0.0, 0.0, 4.9e-324, 0.5, 1.0, 2.0, 1e300, HUGE_VAL};
        constexpr size_t kKeys = sizeof keys / sizeof keys[0];
        const double multiplicities[] = {1.0, 0.5, 2.0, 3.25};
        int64_t emitted = 0;
        for (int op = 0; op < mix.ops; ++op) {
            CAPTURE(op);
            const int kind = std::uniform_int_distribution<int>(0, 999)(gen);
            if (kind < mix.push_per_mille) {
                const auto e = std::uniform_int_distribution<int32_t>(0, n_entries - 1)(gen);
                const double m = multiplicities[std::uniform_int_distribution<size_t>(0, 3)(gen)];
                const double k = keys[std::uniform_int_distribution<size_t>(0, kKeys - 1)(gen)];
                q.push(e, m, k);
                ref.push(e, m, k);
            } else if (kind < mix.push_per_mille + mix.emit_per_mille) {
                const int64_t f = mix.group_sizes[std::uniform_int_distribution<size_t>(0, mix.group_sizes.size() - 1)(gen)];
                const int64_t n = ref.size();
                const auto group = emit(q, f, rng);
                REQUIRE(sorted_by_entry(group));
                const int64_t want = (f == 0 || f >= n) ? n : f;
                REQUIRE(static_cast<int64_t>(group.size()) == want);
                std::vector<Emission> expected;
                if (schedule == Schedule::Random) {
                    for (const Emission& e : group) {
                        REQUIRE(ref.queued[static_cast<size_t>(e.entry)]);
                        expected.push_back(ref.take(e.entry));
                    }
                } else {
                    const auto ranked = ref.ranked();
                    for (int64_t k = 0; k < want; ++k) expected.push_back(ref.take(ranked[static_cast<size_t>(k)]));
                    std::sort(expected.begin(), expected.end(),
                              [](const Emission& a, const Emission& b) { return a.entry < b.entry; });
                }
                for (size_t k = 0; k < group.size(); ++k) {
                    REQUIRE(group[k].entry == expected[k].entry);
                    REQUIRE(group[k].multiplicity == expected[k].multiplicity);
                }
                emitted += static_cast<int64_t>(group.size());
            } else {
                q.clear();
                ref.clear();
            }
            REQUIRE(q.size() == ref.size());
            REQUIRE(q.empty() == (ref.size() == 0));
            largest = std::max(largest, q.size());
        }
        CHECK(emitted > 1000);
        if (mix.n_entries > 256) CHECK(largest > 256);  // (the deep case did happen)
    }
}

}  // TEST_SUITE
