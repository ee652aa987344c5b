// How a running batch is asked to stop (Ctrl-C, or another sample's error). The engines check it once per bin
// and every 4096 steps or events inside one, and then throw Cancelled.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#if defined(__linux__)
#include <time.h>
#endif

namespace neuroemu {

class Interrupt {
public:
    Interrupt() = default;
    // requested() also calls `poll` (at most every 50 ms) when it is called on the thread that made this
    // Interrupt: that is where poll must run (it checks Python's signals). True from poll requests the stop.
    explicit Interrupt(std::function<bool()> poll)
        : poll_(std::move(poll)), owner_(std::this_thread::get_id()), next_poll_(now() + kPollEvery) {}
    Interrupt(const Interrupt&) = delete;
    Interrupt& operator=(const Interrupt&) = delete;

    bool requested() {
        if (stop_.load(std::memory_order_relaxed)) return true;
        if (poll_ && std::this_thread::get_id() == owner_) {
            const std::chrono::nanoseconds time = now();
            if (time >= next_poll_) {
                next_poll_ = time + kPollEvery;
                if (poll_()) {
                    by_poll_ = true;
                    request();
                }
            }
        }
        return stop_.load(std::memory_order_relaxed);
    }
    void request() { stop_.store(true); }
    // Whether poll asked for the stop (read on the owner's thread).
    bool requested_by_poll() const { return by_poll_; }

    static constexpr std::chrono::milliseconds kPollEvery{50};

private:
    // A monotonic time. requested() runs once per bin, so a small network's bins pay for the clock: Linux's
    // coarse clock reads in 6 ns instead of 31 (steady_clock, measured here), and its resolution (a few ms)
    // is far finer than the poll period.
    static std::chrono::nanoseconds now() {
#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // cannot fail: a valid clock, a valid pointer
        return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
#else
        return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch());
#endif
    }

    std::atomic<bool> stop_{false};
    std::function<bool()> poll_;
    std::thread::id owner_{};
    bool by_poll_ = false;  // written and read on the owner's thread only
    std::chrono::nanoseconds next_poll_{};
};

}  // namespace neuroemu
