// Index-parallel loops over a batch on plain std::threads (the callers have released the GIL).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace tl_fast {

// Threads worth starting for n items handed out `chunk` at a time: num_threads (<= 0: one per core), but no
// more than there are chunks, and at least one.
inline int worker_count(size_t n, int num_threads, size_t chunk) {
    if (num_threads <= 0) num_threads = int(std::max(1u, std::thread::hardware_concurrency()));
    return int(std::min<size_t>(size_t(num_threads), std::max<size_t>(1, n / chunk)));
}

// body(k) for every k in [0, n), chunks of 64 indices drawn by whichever thread is free; the calling thread
// works too. body must not throw.
template <class Body>
void parallel_for(size_t n, int num_threads, Body&& body) {
    constexpr size_t kChunk = 64;
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (size_t start; (start = next.fetch_add(kChunk)) < n;)
            for (size_t k = start; k < std::min(n, start + kChunk); ++k) body(k);
    };
    std::vector<std::thread> threads;
    for (int t = 1; t < worker_count(n, num_threads, kChunk); ++t) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();
}

}  // namespace tl_fast
