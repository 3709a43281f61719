// Minimal test harness for the C++ core: TEST(name) registers a case, CHECK/CHECK_EQ record failures.
#pragma once

#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace tl_fast_test {

struct Case {
    std::string name;
    std::function<void()> fn;
};

inline std::vector<Case>& registry() {
    static std::vector<Case> cases;
    return cases;
}

inline int& failures() {
    static int n = 0;
    return n;
}

struct Register {
    Register(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

}  // namespace tl_fast_test

#define TL_CONCAT_(a, b) a##b
#define TL_CONCAT(a, b) TL_CONCAT_(a, b)
#define TEST(name)                                                                      \
    static void name();                                                                 \
    static tl_fast_test::Register TL_CONCAT(register_, name)(#name, name);              \
    static void name()

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            ++tl_fast_test::failures();                                                 \
            std::cerr << __FILE__ << ":" << __LINE__ << ": CHECK(" #cond ") failed\n";  \
        }                                                                               \
    } while (0)

#define CHECK_EQ(a, b)                                                                  \
    do {                                                                                \
        const auto& va_ = (a);                                                          \
        const auto& vb_ = (b);                                                          \
        if (!(va_ == vb_)) {                                                            \
            ++tl_fast_test::failures();                                                 \
            std::cerr << __FILE__ << ":" << __LINE__ << ": CHECK_EQ(" #a ", " #b ") failed: " \
                      << va_ << " != " << vb_ << "\n";                                  \
        }                                                                               \
    } while (0)
