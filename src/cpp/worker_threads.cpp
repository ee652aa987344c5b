#include "neuroemu/worker_threads.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include <unistd.h>

namespace neuroemu {

namespace {

struct KeptThreads {
    explicit KeptThreads(pid_t process) : owner(process) {}

    void serve() {
        std::unique_lock<std::mutex> lock(mutex);
        for (;;) {
            ++idle;  // counted idle while awake too: a job queued now needs no new thread
            if (jobs.empty()) {
                lock.unlock();
                spin_until([this] { return queued.load(std::memory_order_relaxed) > 0; }, kStayAwake);
                lock.lock();
                wake.wait(lock, [this] { return !jobs.empty(); });
            }
            --idle;
            std::function<void()> job = std::move(jobs.front());
            jobs.pop_front();
            queued.store(jobs.size(), std::memory_order_relaxed);
            lock.unlock();
            job();
            job = nullptr;  // the job's captures are released before the thread waits again
            lock.lock();
        }
    }

    const pid_t owner;
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::function<void()>> jobs;
    std::atomic<size_t> queued{0};  // jobs.size(), for threads waiting awake without the mutex
    size_t idle = 0;  // threads waiting for a job
};

// The threads of this process. Never freed: the threads wait on it until the process exits. A child of a
// fork finds the parent's (without its threads, perhaps with a mutex held at the fork) and makes its own.
KeptThreads& kept_threads() {
    static std::atomic<KeptThreads*> current{nullptr};
    const pid_t self = getpid();
    KeptThreads* threads = current.load(std::memory_order_acquire);
    while (threads == nullptr || threads->owner != self) {
        auto* fresh = new KeptThreads(self);
        if (current.compare_exchange_strong(threads, fresh, std::memory_order_acq_rel)) return *fresh;
        delete fresh;  // another thread installed one first: `threads` now holds it
    }
    return *threads;
}

}  // namespace

void run_on_kept_thread(std::function<void()> job) {
    KeptThreads& threads = kept_threads();
    std::lock_guard<std::mutex> lock(threads.mutex);
    threads.jobs.push_back(std::move(job));
    threads.queued.store(threads.jobs.size(), std::memory_order_relaxed);
    // Idle threads that were woken but have not yet taken a job still count as idle: one thread per queued job.
    if (threads.idle < threads.jobs.size()) {
        try {
            std::thread([&threads] { threads.serve(); }).detach();
        } catch (...) {
            threads.jobs.pop_back();  // not started: the caller must not wait for it
            threads.queued.store(threads.jobs.size(), std::memory_order_relaxed);
            throw;
        }
    } else {
        threads.wake.notify_one();
    }
}

}  // namespace neuroemu
