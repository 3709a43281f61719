// See problem_cache.h. The fingerprint walks exactly what convert.cpp's tools_value / to_value read.
#include "problem_cache.h"

#include <pybind11/pybind11.h>

#include <cstring>

#include "convert.h"

namespace tl_fast::py {

namespace pyb = pybind11;

namespace {

enum Tag : uint8_t { kNone = 1, kTrue, kFalse, kInt, kFloat, kStr, kList, kTuple, kDict, kAbsent, kIgnored };

PyObject* interned(const char* s) {
    PyObject* o = PyUnicode_InternFromString(s);
    if (!o) throw pyb::error_already_set();
    return o;  // kept for the life of the process
}

struct Keys {
    PyObject *name = interned("name"), *function = interned("function"), *parameters = interned("parameters"),
             *required = interned("required"), *properties = interned("properties"), *type = interned("type"),
             *items = interned("items");
};

const Keys& keys() {
    static const Keys k;
    return k;
}

// Tests turn leaf hashing off to make every entry of one shape collide, so the leaf comparison alone tells them
// apart (the case a real hash collision would reach).
bool hash_leaves = true;

// Walks (tools, gold) into tokens and a hash; ok=false when an object is not cacheable (then build directly).
struct Walker {
    std::vector<Token>* out;
    uint64_t h = 0x9E3779B97F4A7C15ull;
    bool ok = true;

    void mix(uint64_t v) {
        h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    }
    void tag(uint8_t t, Py_ssize_t size = 0) {
        if (size > Py_ssize_t(UINT32_MAX)) ok = false;  // not worth a wider token
        out->push_back({nullptr, uint32_t(size), t});
        mix(uint64_t(t) << 56 ^ uint64_t(size));
    }
    void leaf(uint8_t t, PyObject* o, uint64_t hv) {
        out->push_back({o, 0, t});
        mix(uint64_t(t) << 56 ^ (hash_leaves ? hv : 0));
    }
    uint64_t object_hash(PyObject* o) {
        const Py_hash_t hv = PyObject_Hash(o);  // exact str / int: content hashes (cached in a str)
        if (hv == -1) PyErr_Clear(), ok = false;
        return uint64_t(hv);
    }

    // to_value: every node.
    void full(PyObject* o, int depth) {
        if (!ok) return;
        if (depth > 2 * kMaxDepth) return void(ok = false);
        if (o == Py_None) return tag(kNone);
        if (o == Py_True) return tag(kTrue);
        if (o == Py_False) return tag(kFalse);
        if (PyLong_CheckExact(o)) return leaf(kInt, o, object_hash(o));
        if (PyFloat_CheckExact(o)) {
            const double d = PyFloat_AS_DOUBLE(o);
            uint64_t bits;
            std::memcpy(&bits, &d, sizeof bits);
            return leaf(kFloat, o, bits);
        }
        if (PyUnicode_CheckExact(o)) return leaf(kStr, o, object_hash(o));
        if (PyList_CheckExact(o) || PyTuple_CheckExact(o)) {
            const bool list = PyList_CheckExact(o);
            const Py_ssize_t n = list ? PyList_GET_SIZE(o) : PyTuple_GET_SIZE(o);
            tag(list ? kList : kTuple, n);
            for (Py_ssize_t k = 0; k < n && ok; ++k) full(list ? PyList_GET_ITEM(o, k) : PyTuple_GET_ITEM(o, k), depth + 1);
            return;
        }
        if (PyDict_CheckExact(o)) {
            tag(kDict, PyDict_GET_SIZE(o));
            Py_ssize_t pos = 0;
            PyObject *key, *value;
            while (ok && PyDict_Next(o, &pos, &key, &value)) {
                full(key, depth + 1);
                full(value, depth + 1);
            }
            return;
        }
        ok = false;  // subclasses and other types: convert without the cache
    }

    // A value lookup of `d` (an exact dict); absent keys are a token too.
    PyObject* get(PyObject* d, PyObject* key) {
        PyObject* v = PyDict_GetItemWithError(d, key);
        if (!v && PyErr_Occurred()) PyErr_Clear(), ok = false;
        return v;
    }
    // A value schema_value reads only when it is a dict: its token, or kIgnored / kAbsent.
    bool dict_or_mark(PyObject* v) {
        if (!v) return tag(kAbsent), false;
        if (PyDict_CheckExact(v)) return true;
        if (PyDict_Check(v)) return ok = false, false;
        return tag(kIgnored), false;
    }

    // schema_value: name, function (recursively), parameters.required, properties.*.type / items.type.
    void schema(PyObject* tool, int depth) {
        if (!ok) return;
        if (depth > 2 * kMaxDepth) return void(ok = false);
        if (!PyDict_CheckExact(tool)) {
            if (PyDict_Check(tool)) return void(ok = false);
            return full(tool, depth);
        }
        const Keys& k = keys();
        tag(kDict);
        if (PyObject* name = get(tool, k.name)) full(name, depth + 1);
        else tag(kAbsent);
        if (PyObject* fn = get(tool, k.function)) schema(fn, depth + 1);
        else tag(kAbsent);
        PyObject* params = get(tool, k.parameters);
        if (!dict_or_mark(params)) return;
        tag(kDict);
        if (PyObject* req = get(params, k.required)) full(req, depth + 2);
        else tag(kAbsent);
        PyObject* props = get(params, k.properties);
        if (!dict_or_mark(props)) return;
        tag(kDict, PyDict_GET_SIZE(props));
        Py_ssize_t pos = 0;
        PyObject *key, *spec;
        while (ok && PyDict_Next(props, &pos, &key, &spec)) {
            full(key, depth + 3);
            if (!dict_or_mark(spec)) continue;
            tag(kDict);
            if (PyObject* t = get(spec, k.type)) full(t, depth + 4);
            else tag(kAbsent);
            PyObject* items = get(spec, k.items);
            if (!dict_or_mark(items)) continue;
            tag(kDict);
            if (PyObject* t = get(items, k.type)) full(t, depth + 5);
            else tag(kAbsent);
        }
    }

    // tools_value: a list (or tuple) of schemas, else the whole value.
    void tools(PyObject* t) {
        if (PyList_CheckExact(t) || PyTuple_CheckExact(t)) {
            const bool list = PyList_CheckExact(t);
            const Py_ssize_t n = list ? PyList_GET_SIZE(t) : PyTuple_GET_SIZE(t);
            tag(kList, n);
            for (Py_ssize_t k = 0; k < n && ok; ++k) schema(list ? PyList_GET_ITEM(t, k) : PyTuple_GET_ITEM(t, k), 1);
        } else if (PyList_Check(t) || PyTuple_Check(t)) {
            ok = false;
        } else {
            full(t, 0);
        }
    }
};

// The same leaf: one object, or equal converted values (int / float bit patterns / str code points).
bool same_leaf(uint8_t tag, PyObject* a, PyObject* b) {
    if (a == b) return true;
    if (tag == kFloat) return std::memcmp(&PyFloat_AS_DOUBLE(a), &PyFloat_AS_DOUBLE(b), sizeof(double)) == 0;
    if (tag == kStr) return PyUnicode_Compare(a, b) == 0;
    const int eq = PyObject_RichCompareBool(a, b, Py_EQ);  // exact ints: no Python code runs
    if (eq < 0) PyErr_Clear();
    return eq == 1;
}

// Every option build_problem reads, in one string: the key's hash and its comparison both use it.
std::string options_key(const Options& o) {
    std::string key{char('0' + int(o.protocol)), char('0' + int(o.string_match)), char('0' + int(o.bfcl.mode)),
                    char('0' + int(o.bfcl.underscore_to_dot))};
    return key + o.bfcl_category;
}

}  // namespace

std::shared_ptr<const Problem> build(PyObject* tools, PyObject* gold, const Options& options, size_t item) {
    auto problem = std::make_shared<Problem>();
    std::string error;
    if (!build_problem(tools_value(tools), to_value(gold), options.protocol, options.bfcl_category,
                       options.string_match, options.bfcl, problem.get(), &error))
        throw pyb::value_error("item " + std::to_string(item) + ": " + error);
    return problem;
}

std::shared_ptr<const Problem> ProblemCache::get(PyObject* tools, PyObject* gold, const Options& options, size_t item) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (capacity_ == 0) return build(tools, gold, options, item);
    std::vector<Token>& tokens = scratch_;  // reused: a lookup allocates nothing
    tokens.clear();
    Walker w{&tokens};
    w.tools(tools);
    w.full(gold, 0);
    const std::string key = options_key(options);
    w.mix(std::hash<std::string>()(key));
    if (!w.ok) {
        ++uncacheable;
        return build(tools, gold, options, item);
    }
    auto [lo, hi] = index_.equal_range(w.h);
    for (auto it = lo; it != hi; ++it) {
        Entry& e = *it->second;
        if (e.tokens.size() != tokens.size() || e.options_key != key) continue;
        bool same = true;
        for (size_t k = 0; k < tokens.size() && same; ++k) {
            const Token &a = tokens[k], &b = e.tokens[k];
            same = a.tag == b.tag && a.size == b.size && (!a.obj || same_leaf(a.tag, a.obj, b.obj));
        }
        if (!same) continue;
        ++hits;
        entries_.splice(entries_.begin(), entries_, it->second);
        return e.problem;
    }
    ++misses;
    Entry entry{w.h, key, tokens, build(tools, gold, options, item)};
    for (const Token& t : entry.tokens) Py_XINCREF(t.obj);  // the leaves stay alive (and their ids unique)
    entries_.push_front(std::move(entry));
    index_.emplace(w.h, entries_.begin());
    evict_to(capacity_);
    return entries_.front().problem;
}

void ProblemCache::evict_to(size_t capacity) {
    while (entries_.size() > capacity) {
        Entry& e = entries_.back();
        auto [lo, hi] = index_.equal_range(e.hash);
        for (auto it = lo; it != hi; ++it)
            if (&*it->second == &e) {
                index_.erase(it);
                break;
            }
        for (const Token& t : e.tokens) Py_XDECREF(t.obj);
        entries_.pop_back();
    }
}

void ProblemCache::set_capacity(size_t capacity) {
    std::lock_guard<std::mutex> lock(mutex_);
    capacity_ = capacity;
    evict_to(capacity);
}

void ProblemCache::clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    evict_to(0);
    hits = misses = uncacheable = 0;
}

void set_hash_leaves(bool on) { hash_leaves = on; }

ProblemCache& problem_cache() {
    static ProblemCache* cache = new ProblemCache(8192);  // never destroyed: entries hold Python references
    return *cache;
}

}  // namespace tl_fast::py
