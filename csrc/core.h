// tl_fast native core: plain C++17, no libtorch, no Python. bindings.cpp exposes it as tl_fast._native.
#pragma once

#include <string>

namespace tl_fast {

// Bumped whenever the binding's Python-visible behaviour changes; the Python side checks it on import.
constexpr int kAbiVersion = 5;

std::string build_info();

}  // namespace tl_fast
