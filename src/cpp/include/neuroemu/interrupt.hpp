// How a running batch is asked to stop (Ctrl-C, or another sample's error). The engines check it once per bin
// and every 4096 steps or events inside one, and then throw Cancelled.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

namespace neuroemu {

class Interrupt {
public:
    Interrupt() = default;
    // requested() also calls `poll` (at most every 50 ms): for a run on the caller's own thread, which is
    // where poll must run (it checks Python's signals). True from poll requests the stop.
    explicit Interrupt(std::function<bool()> poll) : poll_(std::move(poll)), next_poll_(Clock::now() + kPollEvery) {}
    Interrupt(const Interrupt&) = delete;
    Interrupt& operator=(const Interrupt&) = delete;

    bool requested() {
        if (stop_.load(std::memory_order_relaxed)) return true;
        if (poll_) {
            const Clock::time_point now = Clock::now();
            if (now >= next_poll_) {
                next_poll_ = now + kPollEvery;
                if (poll_()) request();
            }
        }
        return stop_.load(std::memory_order_relaxed);
    }
    void request() { stop_.store(true); }

    static constexpr std::chrono::milliseconds kPollEvery{50};

private:
    using Clock = std::chrono::steady_clock;
    std::atomic<bool> stop_{false};
    std::function<bool()> poll_;
    Clock::time_point next_poll_{};
};

}  // namespace neuroemu
