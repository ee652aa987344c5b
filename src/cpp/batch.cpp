#include "neuroemu/batch.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <string>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "neuroemu/engine.hpp"
#include "neuroemu/errors.hpp"
#include "neuroemu/worker_threads.hpp"

namespace neuroemu {

SampleCounters BatchCounters::sample(int64_t b, int64_t bins, int64_t n_neurons, int64_t n_populations,
                                     int64_t n_outputs) const {
    SampleCounters s;
    if (spike_counts) s.spike_counts = spike_counts + b * bins * n_neurons;
    s.population_spikes = population_spikes + b * bins * n_populations;
    s.output_counts = output_counts + b * bins * n_outputs;
    s.forward_steps = forward_steps + b * bins;
    s.synops = synops + b * bins;
    s.neuron_updates = neuron_updates + b * bins;
    s.spikes_to_output = spikes_to_output + b * bins * n_outputs;
    s.steps_to_output = steps_to_output + b * bins * n_outputs;
    if (events) s.events = &(*events)[static_cast<size_t>(b)];
    if (emissions) s.emissions = &(*emissions)[static_cast<size_t>(b)];
    return s;
}

namespace {

// What the workers of one run share, owned jointly: a kept thread that wakes up only after the run has ended
// finds no sample left and touches nothing but this.
struct ParallelRun {
    ParallelRun(int64_t n_samples, int64_t n_workers, std::function<bool()> poll)
        : samples(n_samples), workers(n_workers), interrupt(std::move(poll)) {}

    // Claims the next run of samples, [first, *end), or returns first >= samples when none is left. Runs
    // shrink with the samples left (guided scheduling): neighbouring samples write neighbouring counters, and
    // two threads taking turns at them shared cache lines (mlp sync at 2 threads: 7.7-9.1 us per inference
    // with runs of one sample, 7.0-8.7 with runs of 8); the last runs are single samples, which keeps the
    // threads finishing together.
    int64_t claim(int64_t* end) {
        int64_t first = next.load();
        for (;;) {
            if (first >= samples) return first;
            const int64_t size = std::clamp<int64_t>((samples - first) / (4 * workers), 1, kLongestRun);
            if (next.compare_exchange_weak(first, first + size)) {
                *end = first + size;
                return first;
            }
        }
    }

    static constexpr int64_t kLongestRun = 16;
    const int64_t samples;
    const int64_t workers;
    std::atomic<int64_t> next{0};    // the first sample not yet claimed
    std::atomic<int64_t> active{0};  // workers that may still use the caller's objects
    Interrupt interrupt;             // polls on the calling thread only
    std::mutex mutex;
    std::condition_variable finished;
    std::exception_ptr first_error;
};

// Runs the samples this worker claims, making its SampleWorker with the first. The SampleWorker (and the engine
// it holds) is gone when this returns.
void run_claims(ParallelRun& run, const std::function<SampleWorker()>& make_worker) {
    SampleWorker worker;
    int64_t end = 0;
    for (int64_t first = run.claim(&end); first < run.samples; first = run.claim(&end)) {
        if (!worker) worker = make_worker();
        for (int64_t b = first; b < end; ++b) {
            if (run.interrupt.requested()) return;  // (requested with an error kept, or by poll)
            worker(b, &run.interrupt);
        }
    }
}

// One worker's part. It counts itself active before it claims samples, so the caller, which takes samples
// too, waits for every claim made before its own last try.
void take_samples(ParallelRun& run, const std::function<SampleWorker()>& make_worker) {
    run.active.fetch_add(1);
    try {
        run_claims(run, make_worker);
    } catch (...) {
        const std::lock_guard<std::mutex> lock(run.mutex);
        if (!run.first_error) run.first_error = std::current_exception();
        run.interrupt.request();
    }
    // Under the mutex: the caller returns as soon as it sees no worker active.
    const std::lock_guard<std::mutex> lock(run.mutex);
    if (run.active.fetch_sub(1) == 1) run.finished.notify_all();
}

}  // namespace

void run_parallel(int64_t samples, int32_t threads, const std::function<SampleWorker()>& make_worker,
                  const std::function<bool()>& poll) {
    if (threads < 1) throw ConfigError("threads must be >= 1");
    if (samples <= 0) return;
    const int64_t workers = std::min<int64_t>(threads, samples);
    auto run = std::make_shared<ParallelRun>(samples, workers, poll);

    // The calling thread is one of the workers: it starts at once, while the kept threads it asks to help may
    // take 50-90 us to wake up, and it takes every sample left when they come late or not at all.
    for (int64_t helper = 1; helper < workers; ++helper) {
        try {
            run_on_kept_thread([run, &make_worker] { take_samples(*run, make_worker); });
        } catch (...) {
            break;  // no thread for the rest (out of resources): the caller and those started do the work
        }
    }
    take_samples(*run, make_worker);
    // The caller stops when the samples run out, or at an error or a stop: no claim may follow, since a worker
    // with a claim uses the caller's objects, and one that wakes up late must find none left.
    run->next.store(samples);

    // What other workers still run is less than a sample each: wait for it awake first (waking up costs more).
    if (!spin_until([&run] { return run->active.load() == 0; }, kStayAwake)) {
        std::unique_lock<std::mutex> lock(run->mutex);
        while (run->active.load() > 0) {
            run->finished.wait_for(lock, Interrupt::kPollEvery);
            lock.unlock();
            run->interrupt.requested();  // polls (Ctrl-C): a long sample on another thread stops too
            lock.lock();
        }
    }
    if (run->interrupt.requested_by_poll()) throw Cancelled();
    if (run->first_error) std::rethrow_exception(run->first_error);
}

void run_batch(const Network& network, const RunConfig& config, const BatchInput& input, uint64_t first_index,
               const BatchCounters& out, int32_t threads, const std::function<bool()>& poll) {
    validate(config);
    if (threads < 1) throw ConfigError("threads must be >= 1");
    if (input.samples <= 0) return;
    const int64_t frame_size = input.bins * network.n_inputs();
    auto make_worker = [&]() -> SampleWorker {
        auto lease = std::make_shared<EngineLease>(network);
        return [&, lease](int64_t b, Interrupt* interrupt) {
            lease->engine().run(config, input.frames.advanced(b * frame_size), input.bins, first_index + static_cast<uint64_t>(b),
                        out.sample(b, input.bins, network.n_neurons(), network.n_populations(), network.n_outputs()),
                        interrupt);
        };
    };
    run_parallel(input.samples, threads, make_worker, poll);
}

}  // namespace neuroemu
