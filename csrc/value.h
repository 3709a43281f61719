// A dynamically typed value with Python's data model (None, bool, int, float, str, list, tuple, dict):
// the arguments of a parsed tool call and the acceptable values of a gold call.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tl_fast {

struct Value {
    enum class Kind : uint8_t { None, Bool, Int, Float, Str, List, Tuple, Dict };

    Kind kind = Kind::None;
    bool b = false;
    int64_t i = 0;
    double f = 0.0;
    std::string s;
    std::vector<Value> items;  // List / Tuple elements; Dict values
    std::vector<Value> keys;   // Dict keys (parallel to items, insertion order)

    static Value none() { return {}; }
    static Value boolean(bool v) {
        Value out;
        out.kind = Kind::Bool;
        out.b = v;
        return out;
    }
    static Value integer(int64_t v) {
        Value out;
        out.kind = Kind::Int;
        out.i = v;
        return out;
    }
    static Value real(double v) {
        Value out;
        out.kind = Kind::Float;
        out.f = v;
        return out;
    }
    static Value str(std::string v) {
        Value out;
        out.kind = Kind::Str;
        out.s = std::move(v);
        return out;
    }
    static Value seq(Kind kind, std::vector<Value> elements) {
        Value out;
        out.kind = kind;
        out.items = std::move(elements);
        return out;
    }

    bool is_number() const { return kind == Kind::Bool || kind == Kind::Int || kind == Kind::Float; }
    bool is_seq() const { return kind == Kind::List || kind == Kind::Tuple; }
    double as_double() const { return kind == Kind::Float ? f : kind == Kind::Int ? double(i) : double(b); }
    // Dict lookup by string key (tool schemas and JSON objects); nullptr when absent.
    const Value* get(const std::string& key) const;
    void set(Value key, Value value);
};

// Python's `==`: True == 1 == 1.0, list != tuple, dicts compare as mappings.
bool py_equal(const Value& a, const Value& b);

// Python's hash() would succeed: no list or dict, also not inside a tuple.
bool py_hashable(const Value& v);

// Python's `repr(v)` for the values a tool call can hold (used to mirror `ast.unparse`).
std::string py_repr(const Value& v);

}  // namespace tl_fast
