// pybind11 module tl_fast._native: plain strings in, plain Python objects out (no libtorch).
//
// Python side: tl_fast/reward/parse.py and tl_fast/reward/categorize.py wrap these functions; the
// pure-Python twin (tl_fast/reward/_py_*.py) implements the same contract.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>

#include "bfcl.h"
#include "categorize.h"
#include "core.h"
#include "match_stats.h"
#include "python/convert.h"
#include "python/problem_cache.h"
#include "toolcall.h"
#include "parallel.h"

namespace py = pybind11;
using tl_fast::Value;
using tl_fast::py::from_value;
using tl_fast::py::utf8_view;

namespace {

py::object parse(py::str text, const std::string& format) {
    tl_fast::Format fmt;
    if (!tl_fast::format_from_name(format, &fmt))
        throw py::value_error("unknown format '" + format +
                              "'; expected auto, python, json, openai, tool_call, hermes, llama, mistral or react");
    if (PyUnicode_GET_LENGTH(text.ptr()) > Py_ssize_t(tl_fast::kMaxInputBytes))  // no UTF-8 copy of a huge text
        return py::make_tuple(false, 0, "input longer than the limit");
    const tl_fast::ParseResult r = tl_fast::parse_tool_calls(utf8_view(text.ptr()), fmt);
    if (!r.ok) return py::make_tuple(false, r.error.offset, r.error.reason);
    py::list calls;
    for (const auto& c : r.calls) {
        py::dict args;
        for (const auto& [name, value] : c.arguments) args[py::str(name)] = from_value(value);
        py::list positional;
        for (const auto& value : c.positional) positional.append(from_value(value));
        calls.append(py::make_tuple(c.name, args, positional, py::make_tuple(c.begin, c.end)));
    }
    return py::make_tuple(true, calls, py::none());
}

py::object bfcl_decode(py::str text) {
    std::vector<tl_fast::BfclCall> calls;
    if (PyUnicode_GET_LENGTH(text.ptr()) > Py_ssize_t(tl_fast::kMaxInputBytes)) return py::none();
    if (!tl_fast::bfcl_decode(utf8_view(text.ptr()), &calls)) return py::none();
    py::list out;
    for (const auto& c : calls) {
        py::dict args;
        for (const auto& [name, value] : c.arguments) args[py::str(name)] = from_value(value);
        py::dict item;
        item[py::str(c.name)] = std::move(args);
        out.append(item);
    }
    return std::move(out);
}

// (status, [{name: {param: value}}], message): status "calls", "failed" or "wrong_format".
py::tuple decoded_to_python(const tl_fast::BfclDecoded& d) {
    using S = tl_fast::BfclDecoded::Status;
    py::list out;
    for (const auto& c : d.calls) {
        py::dict args;
        for (const auto& [name, value] : c.arguments) args[py::str(name)] = from_value(value);
        py::dict item;
        item[py::str(c.name)] = std::move(args);
        out.append(item);
    }
    const char* status = d.status == S::Calls ? "calls" : d.status == S::Failed ? "failed" : "wrong_format";
    return py::make_tuple(status, out, d.message);
}

tl_fast::BfclMode bfcl_mode_from(const std::string& name) {
    if (name == "prompt") return tl_fast::BfclMode::Prompt;
    if (name == "fc") return tl_fast::BfclMode::FC;
    throw py::value_error("unknown bfcl_mode '" + name + "'; expected 'prompt' or 'fc'");
}

tl_fast::Protocol protocol_from(const std::string& name) {
    if (name == "tl") return tl_fast::Protocol::TL;
    if (name == "bfcl") return tl_fast::Protocol::BFCL;
    throw py::value_error("unknown protocol '" + name + "'; expected 'tl' or 'bfcl'");
}

tl_fast::StringMatch match_from(const std::string& name) {
    if (name == "exact") return tl_fast::StringMatch::Exact;
    if (name == "normalize") return tl_fast::StringMatch::Normalize;
    throw py::value_error("unknown string_match '" + name + "'; expected 'exact' or 'normalize'");
}

tl_fast::py::Options options_from(const std::string& protocol, const std::string& bfcl_category,
                                  const std::string& string_match, const std::string& bfcl_mode,
                                  bool underscore_to_dot) {
    return {protocol_from(protocol), bfcl_category, match_from(string_match),
            tl_fast::BfclOptions{bfcl_mode_from(bfcl_mode), underscore_to_dot}};
}

// The problems of a batch: each (tools, gold) pair once per object pair, through the content-checked cache.
struct Problems {
    explicit Problems(tl_fast::py::Options o) : options(std::move(o)) {}
    tl_fast::py::Options options;
    std::vector<std::shared_ptr<const tl_fast::Problem>> unique;
    struct PairHash {
        size_t operator()(const std::pair<PyObject*, PyObject*>& p) const {
            return std::hash<PyObject*>()(p.first) * 31 + std::hash<PyObject*>()(p.second);
        }
    };
    std::pair<PyObject*, PyObject*> last{nullptr, nullptr};  // consecutive items often share them (G samples)
    const tl_fast::Problem* last_problem = nullptr;
    std::unordered_map<std::pair<PyObject*, PyObject*>, const tl_fast::Problem*, PairHash> seen;

    // Object identity is a valid key within one batch only: the caller's lists hold the objects and the GIL is
    // held while the problems are looked up. Across batches the cache compares content.
    const tl_fast::Problem* get(PyObject* tools, PyObject* gold, size_t item) {
        const std::pair<PyObject*, PyObject*> key{tools, gold};
        if (key == last) return last_problem;
        auto it = seen.find(key);
        if (it == seen.end()) {
            unique.push_back(tl_fast::py::problem_cache().get(tools, gold, options, item));
            it = seen.emplace(key, unique.back().get()).first;
        }
        last = key;
        return last_problem = it->second;
    }
};

// Problems for `categorize_set`, built once (prepare()).
struct ProblemSet {
    std::vector<std::shared_ptr<const tl_fast::Problem>> unique;
    std::vector<const tl_fast::Problem*> items;
};

std::shared_ptr<ProblemSet> make_problems(py::list tools_list, py::list golds, const std::string& protocol,
                                          const std::string& bfcl_category, const std::string& string_match,
                                          const std::string& bfcl_mode, bool underscore_to_dot) {
    if (tools_list.size() != golds.size())
        throw py::value_error("got " + std::to_string(tools_list.size()) + " tool lists but " +
                              std::to_string(golds.size()) + " golds");
    Problems problems(options_from(protocol, bfcl_category, string_match, bfcl_mode, underscore_to_dot));
    auto set = std::make_shared<ProblemSet>();
    set->items.reserve(tools_list.size());
    for (size_t k = 0; k < tools_list.size(); ++k)
        set->items.push_back(problems.get(PyList_GET_ITEM(tools_list.ptr(), Py_ssize_t(k)),
                                          PyList_GET_ITEM(golds.ptr(), Py_ssize_t(k)), k));
    set->unique = std::move(problems.unique);
    return set;
}

tl_fast::RewardTable table_from(const std::vector<double>& values) {
    tl_fast::RewardTable table;
    if (values.size() != table.size())
        throw py::value_error("reward table needs " + std::to_string(table.size()) + " values");
    for (size_t k = 0; k < table.size(); ++k) table[k] = values[k];
    return table;
}

// Views into each str's UTF-8 (CPython keeps it with the object), not copies: the caller's list holds the strs,
// so the views outlive the GIL-free section.
std::string_view prediction_view(PyObject* p) {
    if (!PyUnicode_Check(p)) throw py::type_error("predictions must be str");
    if (PyUnicode_GET_LENGTH(p) > Py_ssize_t(tl_fast::kMaxInputBytes)) return {"\xff", 1};  // rejected, not copied
    return utf8_view(p);  // lone surrogates: bytes that fail UTF-8 validation
}

// The verdicts as Python objects: make_verdict(correct, category index, reward, error_type | None) once per
// distinct verdict, then one list of references (a batch has few distinct verdicts).
py::list verdict_list(const std::vector<tl_fast::Verdict>& verdicts, const py::function& make_verdict) {
    std::vector<size_t> firsts;  // index of the first verdict of each distinct kind
    std::vector<py::object> objects;
    py::list out(verdicts.size());
    auto same = [](const tl_fast::Verdict& a, const tl_fast::Verdict& b) {  // the reward is the category's
        return a.category == b.category && a.correct == b.correct &&
               (a.error_type == b.error_type || std::strcmp(a.error_type, b.error_type) == 0);
    };
    size_t last = 0;  // neighbours often share a verdict (the samples of one prompt)
    for (size_t k = 0; k < verdicts.size(); ++k) {
        const auto& v = verdicts[k];
        size_t u = last;
        if (u >= firsts.size() || !same(verdicts[firsts[u]], v))
            for (u = 0; u < firsts.size() && !same(verdicts[firsts[u]], v);) ++u;
        last = u;
        if (u == firsts.size()) {
            firsts.push_back(k);
            objects.push_back(make_verdict(v.correct, int(v.category), v.reward,
                                           !*v.error_type ? py::object(py::none()) : py::str(v.error_type)));
        }
        PyList_SET_ITEM(out.ptr(), Py_ssize_t(k), objects[u].inc_ref().ptr());
    }
    return out;
}

py::list categorize_set(py::list predictions, const ProblemSet& set, const std::vector<double>& rewards,
                        int num_threads, const py::function& make_verdict) {
    if (predictions.size() != set.items.size())
        throw py::value_error("got " + std::to_string(predictions.size()) + " predictions for " +
                              std::to_string(set.items.size()) + " problems");
    const tl_fast::RewardTable table = table_from(rewards);
    std::vector<std::string_view> texts;
    texts.reserve(predictions.size());
    for (size_t k = 0; k < predictions.size(); ++k)
        texts.push_back(prediction_view(PyList_GET_ITEM(predictions.ptr(), Py_ssize_t(k))));
    std::vector<tl_fast::Verdict> verdicts;
    {
        py::gil_scoped_release release;
        verdicts = tl_fast::categorize_many(texts, set.items, table, num_threads);
    }
    return verdict_list(verdicts, make_verdict);
}

// categorize_batch without prepare(). This thread (holding the GIL) first groups the items by their (tools, gold)
// object pair, then looks each pair's problem up (a content walk of Python objects, the slow part); the other
// threads already categorize the items of every pair looked up, a chunk at a time. Grouping keeps them busy
// from the first pair on (in item order, a batch that opens with many distinct pairs left them waiting) and
// scores the items of one problem together, while its data is in cache. Verdicts keep the items' order.
py::list categorize_batch(py::list predictions, py::list tools_list, py::list golds, const std::string& protocol,
                          const std::string& bfcl_category, const std::string& string_match,
                          const std::string& bfcl_mode, bool underscore_to_dot, const std::vector<double>& rewards,
                          int num_threads, const py::function& make_verdict) {
    const size_t n = predictions.size();
    if (tools_list.size() != n || golds.size() != n)
        throw py::value_error("got " + std::to_string(n) + " predictions, " + std::to_string(tools_list.size()) +
                              " tool lists and " + std::to_string(golds.size()) + " golds");
    const tl_fast::RewardTable table = table_from(rewards);
    const tl_fast::py::Options options = options_from(protocol, bfcl_category, string_match, bfcl_mode, underscore_to_dot);
    std::vector<std::string_view> texts(n);
    // pair_of[k]: the index of item k's object pair; the pairs in order of first use. Identity is a valid key
    // within one call: the caller's lists hold the objects and the GIL is held while the pairs are read.
    using Pair = std::pair<PyObject*, PyObject*>;
    std::vector<uint32_t> pair_of(n);
    std::vector<Pair> pairs;
    {
        std::unordered_map<Pair, uint32_t, Problems::PairHash> index;
        Pair last{nullptr, nullptr};
        uint32_t last_index = 0;
        for (size_t k = 0; k < n; ++k) {
            texts[k] = prediction_view(PyList_GET_ITEM(predictions.ptr(), Py_ssize_t(k)));
            const Pair key{PyList_GET_ITEM(tools_list.ptr(), Py_ssize_t(k)), PyList_GET_ITEM(golds.ptr(), Py_ssize_t(k))};
            if (k == 0 || key != last) {
                last = key;
                last_index = index.emplace(key, uint32_t(pairs.size())).first->second;
                if (last_index == pairs.size()) pairs.push_back(key);
            }
            pair_of[k] = last_index;
        }
    }
    // order: the items grouped by pair (a counting sort, item order within a pair); pair u's items are
    // order[first[u], first[u + 1]).
    std::vector<size_t> first(pairs.size() + 1, 0), order(n);
    for (size_t k = 0; k < n; ++k) ++first[pair_of[k] + 1];
    for (size_t u = 0; u < pairs.size(); ++u) first[u + 1] += first[u];
    {
        std::vector<size_t> fill(first.begin(), first.end() - 1);
        for (size_t k = 0; k < n; ++k) order[fill[pair_of[k]]++] = k;
    }
    std::vector<std::shared_ptr<const tl_fast::Problem>> problems(pairs.size());
    std::vector<tl_fast::Verdict> verdicts(n);
    constexpr size_t kChunk = 64;
    std::atomic<size_t> ready{0}, next{0};  // positions in `order`
    std::atomic<bool> stop{false};
    auto work = [&] {
        for (size_t start; (start = next.fetch_add(kChunk)) < n;) {
            const size_t end = std::min(n, start + kChunk);
            while (ready.load(std::memory_order_acquire) < end) {
                if (stop.load()) return;
                std::this_thread::yield();
            }
            for (size_t p = start; p < end; ++p) {
                const size_t k = order[p];
                verdicts[k] = tl_fast::categorize(texts[k], *problems[pair_of[k]], table);
            }
        }
    };
    num_threads = tl_fast::worker_count(n, num_threads, kChunk);
    std::vector<std::thread> workers;
    try {
        for (int t = 1; t < num_threads; ++t) workers.emplace_back(work);
        for (size_t u = 0; u < pairs.size(); ++u) {
            problems[u] = tl_fast::py::problem_cache().get(pairs[u].first, pairs[u].second, options, order[first[u]]);
            ready.store(first[u + 1], std::memory_order_release);
        }
    } catch (...) {
        stop = true;
        for (auto& t : workers) t.join();
        throw;
    }
    {
        py::gil_scoped_release release;
        work();
        for (auto& t : workers) t.join();
    }
    return verdict_list(verdicts, make_verdict);
}

}  // namespace

// ---- ToolRL match statistics (match_stats.h) ----
namespace {

// -> one (parsed, pred_calls, gold_calls, common_names, [(pred, gold_keys, pred_keys, common_keys,
//    matched_values) per gold call]) per prediction; computed on C++ threads with the GIL released.
py::list match_stats_set(py::list predictions, const ProblemSet& set, int num_threads) {
    if (predictions.size() != set.items.size())
        throw py::value_error("got " + std::to_string(predictions.size()) + " predictions for " +
                              std::to_string(set.items.size()) + " problems");
    for (const tl_fast::Problem* p : set.items)
        if (p->protocol != tl_fast::Protocol::TL)
            throw py::value_error("match statistics need protocol 'tl'");
    std::vector<std::string_view> texts;  // views into the strs `predictions` holds (as in categorize_set)
    texts.reserve(predictions.size());
    for (py::handle p : predictions) texts.push_back(prediction_view(p.ptr()));
    std::vector<tl_fast::MatchStats> stats;
    {
        py::gil_scoped_release release;
        stats = tl_fast::match_stats_many(texts, set.items, num_threads);
    }
    py::list out;
    for (const auto& s : stats) {
        py::list calls;
        for (const auto& c : s.gold)
            calls.append(py::make_tuple(c.pred, c.gold_keys, c.pred_keys, c.common_keys, c.matched_values));
        out.append(py::make_tuple(s.parsed, s.pred_calls, s.gold_calls, s.common_names, calls));
    }
    return out;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "tl_fast native core (tool-call parsing and reward categorization)";
    m.attr("ABI_VERSION") = tl_fast::kAbiVersion;
    m.def("build_info", &tl_fast::build_info, "Compiler and flags the core was built with.");
    m.attr("MAX_INPUT_BYTES") = tl_fast::kMaxInputBytes;
    m.attr("MAX_DEPTH") = tl_fast::kMaxDepth;
    m.attr("MAX_CALLS") = tl_fast::kMaxCalls;
    m.attr("UNICODE_VERSION") = tl_fast::unicode_version();

    m.def("parse_tool_calls", &parse, py::arg("text"), py::arg("format") = "auto",
          "(True, [(name, arguments, positional, (begin, end))], None) or (False, offset, reason).");
    m.def("bfcl_decode", &bfcl_decode, py::arg("text"),
          "BFCL's decoded calls [{name: {param: value}}], or None where BFCL's decoder fails.");
    m.def(
        "bfcl_decode_fc", [](py::str text) { return decoded_to_python(tl_fast::bfcl_decode_fc(utf8_view(text.ptr()))); },
        py::arg("text"), "BFCL's FC-mode decode of one result's JSON: (status, calls, is_text_message).");
    m.def("bfcl_standardize", [](const std::string& s) { return tl_fast::bfcl_standardize(s); });

    py::class_<ProblemSet, std::shared_ptr<ProblemSet>>(m, "ProblemSet")
        .def(py::init(&make_problems), py::arg("tools_list"), py::arg("golds"), py::arg("protocol"),
             py::arg("bfcl_category"), py::arg("string_match"), py::arg("bfcl_mode") = "prompt",
             py::arg("underscore_to_dot") = false)
        .def("__len__", [](const ProblemSet& s) { return s.items.size(); })
        .def_property_readonly("num_unique", [](const ProblemSet& s) { return s.unique.size(); });
    m.def("categorize_set", &categorize_set, py::arg("predictions"), py::arg("problems"), py::arg("rewards"),
          py::arg("num_threads"), py::arg("make_verdict"), "Verdicts of predictions[k] against the prepared problems.");
    m.def("match_stats_set", &match_stats_set, py::arg("predictions"), py::arg("problems"),
          py::arg("num_threads") = 0, "ToolRL match statistics per prediction (see csrc/match_stats.h).");
    m.def("categorize_batch", &categorize_batch, py::arg("predictions"), py::arg("tools_list"), py::arg("golds"),
          py::arg("protocol"), py::arg("bfcl_category"), py::arg("string_match"), py::arg("bfcl_mode"),
          py::arg("underscore_to_dot"), py::arg("rewards"), py::arg("num_threads"), py::arg("make_verdict"),
          "categorize_set(prepare(...)) in one pass: problems looked up while other threads categorize.");
    m.def(
        "set_problem_cache_size", [](size_t n) { tl_fast::py::problem_cache().set_capacity(n); }, py::arg("entries"),
        "Most (tools, gold) problems kept between batches (0: no cache).");
    m.def("problem_cache_stats", [] {
        const auto& c = tl_fast::py::problem_cache();
        return py::dict(py::arg("entries") = c.size(), py::arg("hits") = c.hits, py::arg("misses") = c.misses,
                        py::arg("uncacheable") = c.uncacheable);
    });
    m.def("clear_problem_cache", [] { tl_fast::py::problem_cache().clear(); });
    m.def("_problem_cache_hash_leaves", &tl_fast::py::set_hash_leaves, py::arg("on"),
          "Tests only: off, entries of one shape collide and only the leaf comparison tells them apart.");
    // Entries hold Python references: release them while the interpreter still runs.
    py::module_::import("atexit").attr("register")(py::cpp_function([] { tl_fast::py::problem_cache().clear(); }));
}
