// run_on_kept_thread and run_parallel on it: every job starts at once, every sample runs exactly once.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "neuroemu/batch.hpp"
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
