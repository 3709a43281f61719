// Built problems for (tools, gold) Python objects seen before: the plain categorize_batch of an RL loop sees the
// same prompts every step, and converting their dicts dominated it. Part of the pybind11 module only (it reads
// Python objects); the core library stays free of Python.
//
// Correct by content, never by identity: an entry holds a fingerprint of everything build_problem reads (the
// schema parts of each tool, the whole gold) with references to its leaf objects; a lookup re-walks the live
// objects and compares each leaf by pointer, else by value. A dict mutated in place, or a freed object whose id()
// is reused by another, gives a different fingerprint and a fresh build. Objects of other types than dict, list,
// tuple, str, int, float, bool and None (subclasses included) are not cached.
#pragma once

#include <Python.h>

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "categorize.h"

namespace tl_fast::py {

struct Options {
    Protocol protocol = Protocol::TL;
    std::string bfcl_category;
    StringMatch string_match = StringMatch::Exact;
    BfclOptions bfcl;
};

// One walked node: a container (tag + size) or a leaf (tag + the object). 16 bytes: an entry's tokens are
// compared on every hit, mostly from memory no longer in cache.
struct Token {
    PyObject* obj = nullptr;
    uint32_t size = 0;
    uint8_t tag = 0;
};

class ProblemCache {
   public:
    explicit ProblemCache(size_t capacity) : capacity_(capacity) {}
    ~ProblemCache() = delete;  // lives until the process ends; clear() runs at interpreter exit

    // The problem of (tools, gold): cached, or built (throws pybind11 errors for malformed input). GIL held.
    std::shared_ptr<const Problem> get(PyObject* tools, PyObject* gold, const Options& options, size_t item);
    void set_capacity(size_t capacity);
    void clear();
    size_t size() const { return entries_.size(); }
    uint64_t hits = 0, misses = 0, uncacheable = 0;

   private:
    struct Entry {
        uint64_t hash = 0;
        std::string options_key;    // every option build_problem reads
        std::vector<Token> tokens;  // owns a reference to each leaf object
        std::shared_ptr<const Problem> problem;
    };
    using Entries = std::list<Entry>;
    size_t capacity_;
    Entries entries_;  // most recently used first
    std::unordered_multimap<uint64_t, Entries::iterator> index_;
    std::mutex mutex_;
    std::vector<Token> scratch_;  // the walk of the lookup in progress (under mutex_)

    void evict_to(size_t capacity);
};

ProblemCache& problem_cache();
void set_hash_leaves(bool on);  // tests only: colliding hashes for entries of one shape

// Builds without the cache (to_value + build_problem).
std::shared_ptr<const Problem> build(PyObject* tools, PyObject* gold, const Options& options, size_t item);

}  // namespace tl_fast::py
