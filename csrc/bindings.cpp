// pybind11 module tl_fast._native: plain strings in, plain Python objects out (no libtorch).
#include <pybind11/pybind11.h>

#include "core.h"

namespace py = pybind11;

PYBIND11_MODULE(_native, m) {
    m.doc() = "tl_fast native core (tool-call parsing and reward categorization)";
    m.attr("ABI_VERSION") = tl_fast::kAbiVersion;
    m.def("build_info", &tl_fast::build_info, "Compiler and flags the core was built with.");
}
