// pybind11 module tl_fast._native: plain strings in, plain Python objects out (no libtorch).
//
// Python side: tl_fast/reward/parse.py and tl_fast/reward/categorize.py wrap these functions; the
// pure-Python twin (tl_fast/reward/_py_*.py) implements the same contract.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <utility>

#include "bfcl.h"
#include "categorize.h"
#include "core.h"
#include "toolcall.h"

namespace py = pybind11;
using tl_fast::Value;

namespace {

Value to_value(py::handle h, int depth = 0) {
    if (depth > 2 * tl_fast::kMaxDepth) throw py::value_error("value nested deeper than the limit");
    if (h.is_none()) return Value::none();
    if (PyBool_Check(h.ptr())) return Value::boolean(h.ptr() == Py_True);
    if (PyLong_Check(h.ptr())) {
        int overflow = 0;
        const long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
        if (overflow) throw py::value_error("integer outside the 64-bit range");
        return Value::integer(v);
    }
    if (PyFloat_Check(h.ptr())) return Value::real(PyFloat_AS_DOUBLE(h.ptr()));
    if (PyUnicode_Check(h.ptr())) return Value::str(h.cast<std::string>());
    if (PyList_Check(h.ptr()) || PyTuple_Check(h.ptr())) {
        Value out;
        out.kind = PyList_Check(h.ptr()) ? Value::Kind::List : Value::Kind::Tuple;
        for (py::handle item : h) out.items.push_back(to_value(item, depth + 1));
        return out;
    }
    if (PyDict_Check(h.ptr())) {
        Value out;
        out.kind = Value::Kind::Dict;
        for (auto item : py::reinterpret_borrow<py::dict>(h)) {
            out.keys.push_back(to_value(item.first, depth + 1));
            out.items.push_back(to_value(item.second, depth + 1));
        }
        return out;
    }
    throw py::type_error("unsupported value of type " + std::string(Py_TYPE(h.ptr())->tp_name));
}

// The parts of a tool schema the categorizer reads (name, parameters.properties.*.type / items.type,
// required), without descriptions: converting whole RoTBench-sized schemas dominated a batch.
Value schema_value(py::handle tool) {
    if (!PyDict_Check(tool.ptr())) return to_value(tool);
    auto pick = [](py::handle d, const char* key) -> py::handle {
        return PyDict_Check(d.ptr()) ? py::handle(PyDict_GetItemString(d.ptr(), key)) : py::handle();
    };
    Value out;
    out.kind = Value::Kind::Dict;
    if (py::handle name = pick(tool, "name")) out.set(Value::str("name"), to_value(name));
    if (py::handle fn = pick(tool, "function")) out.set(Value::str("function"), schema_value(fn));
    py::handle params = pick(tool, "parameters");
    if (!params || !PyDict_Check(params.ptr())) return out;
    Value p;
    p.kind = Value::Kind::Dict;
    if (py::handle req = pick(params, "required")) p.set(Value::str("required"), to_value(req));
    py::handle props = pick(params, "properties");
    if (props && PyDict_Check(props.ptr())) {
        Value ps;
        ps.kind = Value::Kind::Dict;
        for (auto item : py::reinterpret_borrow<py::dict>(props)) {
            Value spec;
            spec.kind = Value::Kind::Dict;
            if (py::handle t = pick(item.second, "type")) spec.set(Value::str("type"), to_value(t));
            if (py::handle items = pick(item.second, "items"); items && PyDict_Check(items.ptr())) {
                Value it;
                it.kind = Value::Kind::Dict;
                if (py::handle t = pick(items, "type")) it.set(Value::str("type"), to_value(t));
                spec.set(Value::str("items"), std::move(it));
            }
            ps.keys.push_back(to_value(item.first));
            ps.items.push_back(std::move(spec));
        }
        p.set(Value::str("properties"), std::move(ps));
    }
    out.set(Value::str("parameters"), std::move(p));
    return out;
}

Value tools_value(py::handle tools) {
    if (!PyList_Check(tools.ptr()) && !PyTuple_Check(tools.ptr())) return to_value(tools);
    Value out;
    out.kind = Value::Kind::List;
    for (py::handle t : tools) out.items.push_back(schema_value(t));
    return out;
}

py::object from_value(const Value& v) {
    switch (v.kind) {
        case Value::Kind::None: return py::none();
        case Value::Kind::Bool: return py::bool_(v.b);
        case Value::Kind::Int: return py::int_(v.i);
        case Value::Kind::Float: return py::float_(v.f);
        case Value::Kind::Str: return py::str(v.s);
        case Value::Kind::List: {
            py::list out(v.items.size());
            for (size_t k = 0; k < v.items.size(); ++k) out[k] = from_value(v.items[k]);
            return std::move(out);
        }
        case Value::Kind::Tuple: {
            py::tuple out(v.items.size());
            for (size_t k = 0; k < v.items.size(); ++k) out[k] = from_value(v.items[k]);
            return std::move(out);
        }
        case Value::Kind::Dict: {
            py::dict out;
            for (size_t k = 0; k < v.keys.size(); ++k) out[from_value(v.keys[k])] = from_value(v.items[k]);
            return std::move(out);
        }
    }
    return py::none();
}

// UTF-8 of a str; a str with lone surrogates gives bytes that fail UTF-8 validation downstream.
std::string utf8(py::handle s) {
    Py_ssize_t n = 0;
    const char* data = PyUnicode_AsUTF8AndSize(s.ptr(), &n);
    if (data) return std::string(data, size_t(n));
    PyErr_Clear();
    return std::string("\xff", 1);
}

py::object parse(py::str text, const std::string& format) {
    tl_fast::Format fmt;
    if (!tl_fast::format_from_name(format, &fmt))
        throw py::value_error("unknown format '" + format +
                              "'; expected auto, python, json, openai, tool_call, hermes, llama, mistral or react");
    const std::string bytes = utf8(text);
    const tl_fast::ParseResult r = tl_fast::parse_tool_calls(bytes, fmt);
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
    if (!tl_fast::bfcl_decode(utf8(text), &calls)) return py::none();
    py::list out;
    for (const auto& c : calls) {
        py::dict args;
        for (const auto& [name, value] : c.args) args[py::str(name)] = from_value(value);
        py::dict item;
        item[py::str(c.name)] = std::move(args);
        out.append(item);
    }
    return std::move(out);
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

// Problems for a batch; identical (tools, gold) object pairs are built once.
struct ProblemSet {
    std::vector<std::shared_ptr<const tl_fast::Problem>> unique;
    std::vector<const tl_fast::Problem*> items;
};

std::shared_ptr<ProblemSet> make_problems(py::list tools_list, py::list golds, const std::string& protocol,
                                          const std::string& bfcl_category, const std::string& string_match) {
    if (tools_list.size() != golds.size())
        throw py::value_error("got " + std::to_string(tools_list.size()) + " tool lists but " +
                              std::to_string(golds.size()) + " golds");
    const tl_fast::Protocol proto = protocol_from(protocol);
    const tl_fast::StringMatch match = match_from(string_match);
    auto set = std::make_shared<ProblemSet>();
    std::map<std::pair<PyObject*, PyObject*>, const tl_fast::Problem*> seen;
    for (size_t k = 0; k < tools_list.size(); ++k) {
        const auto key = std::make_pair(tools_list[k].ptr(), golds[k].ptr());
        auto it = seen.find(key);
        if (it == seen.end()) {
            auto problem = std::make_shared<tl_fast::Problem>();
            std::string error;
            if (!tl_fast::build_problem(tools_value(tools_list[k]), to_value(golds[k]), proto, bfcl_category, match,
                                        problem.get(), &error))
                throw py::value_error("item " + std::to_string(k) + ": " + error);
            it = seen.emplace(key, problem.get()).first;
            set->unique.push_back(std::move(problem));
        }
        set->items.push_back(it->second);
    }
    return set;
}

tl_fast::RewardTable table_from(const std::vector<double>& values) {
    tl_fast::RewardTable table;
    if (values.size() != table.size())
        throw py::value_error("reward table needs " + std::to_string(table.size()) + " values");
    for (size_t k = 0; k < table.size(); ++k) table[k] = values[k];
    return table;
}

// -> (unique verdicts as (correct, category, reward, error_type | None), index of each item's verdict)
py::tuple categorize_set(py::list predictions, const ProblemSet& set, const std::vector<double>& rewards,
                         int num_threads) {
    if (predictions.size() != set.items.size())
        throw py::value_error("got " + std::to_string(predictions.size()) + " predictions for " +
                              std::to_string(set.items.size()) + " problems");
    const tl_fast::RewardTable table = table_from(rewards);
    // Views into each str's UTF-8 (CPython keeps it with the object), not copies: `predictions` holds the
    // strs, so the views outlive the GIL-free section.
    std::vector<std::string_view> texts;
    texts.reserve(predictions.size());
    for (py::handle p : predictions) {
        if (!PyUnicode_Check(p.ptr())) throw py::type_error("predictions must be str");
        Py_ssize_t n = 0;
        const char* data = PyUnicode_AsUTF8AndSize(p.ptr(), &n);
        if (data == nullptr) {  // lone surrogates: bytes that fail UTF-8 validation, as utf8() gives
            PyErr_Clear();
            data = "\xff", n = 1;
        }
        texts.emplace_back(data, size_t(n));
    }
    std::vector<tl_fast::Verdict> verdicts;
    {
        py::gil_scoped_release release;
        verdicts = tl_fast::categorize_many(texts, set.items, table, num_threads);
    }
    // A batch has few distinct verdicts: a linear scan over them beats a map keyed on strings.
    std::vector<size_t> firsts;  // index of the first verdict of each distinct kind
    py::list unique;
    py::list which(verdicts.size());
    for (size_t k = 0; k < verdicts.size(); ++k) {
        const auto& v = verdicts[k];
        size_t u = 0;
        for (; u < firsts.size(); ++u) {
            const auto& f = verdicts[firsts[u]];
            // the reward is the table's value for the category
            if (f.category == v.category && f.correct == v.correct && f.error_type == v.error_type) break;
        }
        if (u == firsts.size()) {
            firsts.push_back(k);
            unique.append(py::make_tuple(v.correct, int(v.category), v.reward,
                                         v.error_type.empty() ? py::object(py::none()) : py::str(v.error_type)));
        }
        which[k] = py::int_(u);
    }
    return py::make_tuple(unique, which);
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
    m.def("bfcl_standardize", [](const std::string& s) { return tl_fast::bfcl_standardize(s); });

    py::class_<ProblemSet, std::shared_ptr<ProblemSet>>(m, "ProblemSet")
        .def(py::init(&make_problems), py::arg("tools_list"), py::arg("golds"), py::arg("protocol"),
             py::arg("bfcl_category"), py::arg("string_match"))
        .def("__len__", [](const ProblemSet& s) { return s.items.size(); })
        .def_property_readonly("num_unique", [](const ProblemSet& s) { return s.unique.size(); });
    m.def("categorize_set", &categorize_set, py::arg("predictions"), py::arg("problems"), py::arg("rewards"),
          py::arg("num_threads") = 0);
}
