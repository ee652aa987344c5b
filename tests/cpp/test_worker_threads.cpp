// run_on_kept_thread and run_parallel on it: every job starts at once, every sample runs exactly once, the
// calling thread works too and alone polls.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "neuroemu/batch.hpp"
#include "neuroemu/errors.hpp"
#include "neuroemu/worker_threads.hpp"

using namespace neuroemu;

TEST_CASE("kept threads: jobs submitted together all run at the same time") {
    // Each job waits until all of them have started: kept threads that ran jobs one after another would
    // leave the first job waiting for the others until its deadline.
    for (int round = 0; round < 20; ++round) {
        constexpr int kJobs = 4;
        std::mutex mutex;
        std::condition_variable changed;
        int started = 0;
        int saw_all = 0;
        int done = 0;
        for (int j = 0; j < kJobs; ++j) {
            run_on_kept_thread([&] {
                std::unique_lock<std::mutex> lock(mutex);
                ++started;
                changed.notify_all();
                if (changed.wait_for(lock, std::chrono::seconds(10), [&] { return started == kJobs; })) ++saw_all;
                ++done;
                changed.notify_all();
            });
        }
        std::unique_lock<std::mutex> lock(mutex);
        REQUIRE(changed.wait_for(lock, std::chrono::seconds(30), [&] { return done == kJobs; }));
        CHECK(saw_all == kJobs);
    }
}

TEST_CASE("run_parallel on kept threads: every sample exactly once, call after call, errors rethrown") {
    for (int call = 0; call < 200; ++call) {
        const int32_t threads = 1 + call % 3;
        const int64_t samples = call % 7;
        std::vector<std::atomic<int>> runs(static_cast<size_t>(samples));
        run_parallel(
            samples, threads,
            [&]() -> SampleWorker {
                return [&](int64_t b, Interrupt*) { ++runs[static_cast<size_t>(b)]; };
            },
            nullptr);
        for (const auto& r : runs) CHECK(r.load() == 1);
    }
    auto failing = [](int64_t b, Interrupt*) {
        if (b == 3) throw std::runtime_error("sample 3 failed");
    };
    CHECK_THROWS_WITH_AS(run_parallel(8, 2, [&]() -> SampleWorker { return failing; }, nullptr), "sample 3 failed",
                         std::runtime_error);
    // the kept threads survive a failed run
    std::atomic<int> total{0};
    run_parallel(5, 2, [&]() -> SampleWorker { return [&](int64_t, Interrupt*) { ++total; }; }, nullptr);
    CHECK(total.load() == 5);
}

TEST_CASE("run_parallel: the calling thread takes samples too, and only it polls") {
    const auto caller = std::this_thread::get_id();
    for (int call = 0; call < 20; ++call) {
        // Each of two samples waits until both have started: two workers run them, and one is the caller.
        std::mutex mutex;
        std::condition_variable changed;
        std::vector<std::thread::id> ran_on;
        run_parallel(
            2, 2,
            [&]() -> SampleWorker {
                return [&](int64_t, Interrupt*) {
                    std::unique_lock<std::mutex> lock(mutex);
                    ran_on.push_back(std::this_thread::get_id());
                    changed.notify_all();
                    changed.wait_for(lock, std::chrono::seconds(10), [&] { return ran_on.size() == 2; });
                };
            },
            nullptr);
        REQUIRE(ran_on.size() == 2);
        CHECK((ran_on[0] != ran_on[1]));
        CHECK(std::count(ran_on.begin(), ran_on.end(), caller) == 1);
    }
    // Samples long enough for several polls: each poll runs on the calling thread; the third cancels the run.
    std::atomic<int> polls{0};
    std::atomic<int> polls_elsewhere{0};
    auto poll = [&] {
        if (std::this_thread::get_id() != caller) ++polls_elsewhere;
        return ++polls >= 3;
    };
    CHECK_THROWS_AS(run_parallel(
                        40, 2,
                        [&]() -> SampleWorker {
                            return [&](int64_t, Interrupt* interrupt) {
                                for (int k = 0; k < 40 && !interrupt->requested(); ++k) {
                                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                                }
                                if (interrupt->requested()) throw Cancelled();
                            };
                        },
                        poll),
                    Cancelled);
    CHECK(polls.load() == 3);
    CHECK(polls_elsewhere.load() == 0);
}

TEST_CASE("run_parallel: a run that failed on the calling thread lets no late thread start a sample") {
    // The caller's first sample fails at once, before a kept thread can wake up: the run returns, and a kept
    // thread waking after that must not make a worker (it would use the caller's objects, gone by then).
    std::atomic<bool> returned{false};
    std::atomic<int> made_late{0};
    const std::function<SampleWorker()> make_worker = [&]() -> SampleWorker {
        if (returned.load()) ++made_late;
        return [](int64_t, Interrupt*) { throw std::runtime_error("bad sample"); };
    };
    for (int call = 0; call < 200; ++call) {
        CHECK_THROWS_AS(run_parallel(64, 2, make_worker, nullptr), std::runtime_error);
        returned = true;
        std::this_thread::sleep_for(std::chrono::microseconds(300));
        returned = false;
    }
    CHECK(made_late.load() == 0);
}
