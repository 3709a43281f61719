// Python objects <-> tl_fast::Value for the pybind11 module (CPython API directly: this runs per tool and per gold
// of every batch).
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "value.h"

namespace tl_fast::py {

// Python value -> Value (None, bool, int in 64 bits, float, str, list, tuple, dict); pybind11 errors otherwise.
Value to_value(PyObject* o, int depth = 0);
// The parts of a tool schema the categorizer reads (name, function, parameters.required, properties.*.type and
// items.type), without descriptions: converting whole schemas dominated a batch. Keep in step with
// problem_cache.cpp's fingerprint, which walks the same parts.
Value schema_value(PyObject* tool);
Value tools_value(PyObject* tools);
pybind11::object from_value(const Value& v);

// UTF-8 of a str; a str with lone surrogates gives bytes that fail UTF-8 validation downstream.
std::string_view utf8_view(PyObject* s);

}  // namespace tl_fast::py
