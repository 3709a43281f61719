#include "convert.h"

#include "toolcall.h"

namespace tl_fast::py {

namespace pyb = pybind11;

Value to_value(PyObject* o, int depth) {
    if (depth > 2 * kMaxDepth) throw pyb::value_error("value nested deeper than the limit");
    if (o == Py_None) return Value::none();
    if (PyBool_Check(o)) return Value::boolean(o == Py_True);
    if (PyLong_Check(o)) {
        int overflow = 0;
        const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow) throw pyb::value_error("integer outside the 64-bit range");
        if (v == -1 && PyErr_Occurred()) throw pyb::error_already_set();
        return Value::integer(v);
    }
    if (PyFloat_Check(o)) return Value::real(PyFloat_AS_DOUBLE(o));
    if (PyUnicode_Check(o)) {
        Py_ssize_t n = 0;
        const char* data = PyUnicode_AsUTF8AndSize(o, &n);
        if (!data) throw pyb::error_already_set();
        return Value::str(std::string(data, size_t(n)));
    }
    if (PyList_Check(o) || PyTuple_Check(o)) {
        const bool list = PyList_Check(o);
        Value out;
        out.kind = list ? Value::Kind::List : Value::Kind::Tuple;
        const Py_ssize_t n = list ? PyList_GET_SIZE(o) : PyTuple_GET_SIZE(o);
        out.items.reserve(size_t(n));
        for (Py_ssize_t k = 0; k < n; ++k)
            out.items.push_back(to_value(list ? PyList_GET_ITEM(o, k) : PyTuple_GET_ITEM(o, k), depth + 1));
        return out;
    }
    if (PyDict_Check(o)) {
        Value out;
        out.kind = Value::Kind::Dict;
        out.keys.reserve(size_t(PyDict_GET_SIZE(o)));
        out.items.reserve(size_t(PyDict_GET_SIZE(o)));
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(o, &pos, &key, &value)) {
            out.keys.push_back(to_value(key, depth + 1));
            out.items.push_back(to_value(value, depth + 1));
        }
        return out;
    }
    throw pyb::type_error("unsupported value of type " + std::string(Py_TYPE(o)->tp_name));
}

namespace {

PyObject* pick(PyObject* d, const char* key) { return PyDict_Check(d) ? PyDict_GetItemString(d, key) : nullptr; }

}  // namespace

Value schema_value(PyObject* tool) {
    if (!PyDict_Check(tool)) return to_value(tool);
    Value out;
    out.kind = Value::Kind::Dict;
    if (PyObject* name = pick(tool, "name")) out.set(Value::str("name"), to_value(name));
    if (PyObject* fn = pick(tool, "function")) out.set(Value::str("function"), schema_value(fn));
    PyObject* params = pick(tool, "parameters");
    if (!params || !PyDict_Check(params)) return out;
    Value p;
    p.kind = Value::Kind::Dict;
    if (PyObject* req = pick(params, "required")) p.set(Value::str("required"), to_value(req));
    PyObject* props = pick(params, "properties");
    if (props && PyDict_Check(props)) {
        Value ps;
        ps.kind = Value::Kind::Dict;
        Py_ssize_t pos = 0;
        PyObject *key, *spec_obj;
        while (PyDict_Next(props, &pos, &key, &spec_obj)) {
            Value spec;
            spec.kind = Value::Kind::Dict;
            if (PyObject* t = pick(spec_obj, "type")) spec.set(Value::str("type"), to_value(t));
            if (PyObject* items = pick(spec_obj, "items"); items && PyDict_Check(items)) {
                Value it;
                it.kind = Value::Kind::Dict;
                if (PyObject* t = pick(items, "type")) it.set(Value::str("type"), to_value(t));
                spec.set(Value::str("items"), std::move(it));
            }
            ps.keys.push_back(to_value(key));
            ps.items.push_back(std::move(spec));
        }
        p.set(Value::str("properties"), std::move(ps));
    }
    out.set(Value::str("parameters"), std::move(p));
    return out;
}

Value tools_value(PyObject* tools) {
    if (!PyList_Check(tools) && !PyTuple_Check(tools)) return to_value(tools);
    const bool list = PyList_Check(tools);
    const Py_ssize_t n = list ? PyList_GET_SIZE(tools) : PyTuple_GET_SIZE(tools);
    Value out;
    out.kind = Value::Kind::List;
    out.items.reserve(size_t(n));
    for (Py_ssize_t k = 0; k < n; ++k) out.items.push_back(schema_value(list ? PyList_GET_ITEM(tools, k) : PyTuple_GET_ITEM(tools, k)));
    return out;
}

pyb::object from_value(const Value& v) {
    switch (v.kind) {
        case Value::Kind::None: return pyb::none();
        case Value::Kind::Bool: return pyb::bool_(v.b);
        case Value::Kind::Int: return pyb::int_(v.i);
        case Value::Kind::Float: return pyb::float_(v.f);
        case Value::Kind::Str: return pyb::str(v.s);
        case Value::Kind::List: {
            pyb::list out(v.items.size());
            for (size_t k = 0; k < v.items.size(); ++k) out[k] = from_value(v.items[k]);
            return std::move(out);
        }
        case Value::Kind::Tuple: {
            pyb::tuple out(v.items.size());
            for (size_t k = 0; k < v.items.size(); ++k) out[k] = from_value(v.items[k]);
            return std::move(out);
        }
        case Value::Kind::Dict: {
            pyb::dict out;
            for (size_t k = 0; k < v.keys.size(); ++k) out[from_value(v.keys[k])] = from_value(v.items[k]);
            return std::move(out);
        }
    }
    return pyb::none();
}

std::string_view utf8_view(PyObject* s) {
    Py_ssize_t n = 0;
    const char* data = PyUnicode_AsUTF8AndSize(s, &n);
    if (data) return {data, size_t(n)};
    PyErr_Clear();
    return {"\xff", 1};
}

}  // namespace tl_fast::py
