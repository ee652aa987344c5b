// How a running batch is asked to stop (Ctrl-C, or another sample's error). The engines check it once per bin
// and every 4096 steps or events inside one, and then throw Cancelled.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

namespace neuroemu {

class Interrupt {
public:
    Interrupt() = default;
    // requested() also calls `poll` (at most every 50 ms) when it is called on the thread that made this
    // Interrupt: that is where poll must run (it checks Python's signals). True from poll requests the stop.
    explicit Interrupt(std::function<bool()> poll)
        : poll_(std::move(poll)), owner_(std::this_thread::get_id()), next_poll_(Clock::now() + kPollEvery) {}
    Interrupt(const Interrupt&) = delete;
    Interrupt& operator=(const Interrupt&) = delete;

    bool requested() {
        if (stop_.load(std::memory_order_relaxed)) return true;
        if (poll_ && std::this_thread::get_id() == owner_) {
            const Clock::time_point now = Clock::now();
            if (now >= next_poll_) {
                next_poll_ = now + kPollEvery;
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
    using Clock = std::chrono::steady_clock;
    std::atomic<bool> stop_{false};
    std::function<bool()> poll_;
    std::thread::id owner_{};
    bool by_poll_ = false;  // written and read on the owner's thread only
    Clock::time_point next_poll_{};
};

}  // namespace neuroemu
