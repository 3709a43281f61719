// Runs every TEST(...) linked into this executable; exit code = number of failed checks (0 = pass).
#include "check.h"

int main() {
    int cases = 0;
    for (const auto& c : tl_fast_test::registry()) {
        const int before = tl_fast_test::failures();
        c.fn();
        ++cases;
        std::cout << (tl_fast_test::failures() == before ? "PASS " : "FAIL ") << c.name << "\n";
    }
    std::cout << cases << " cases, " << tl_fast_test::failures() << " failed checks\n";
    return tl_fast_test::failures() == 0 && cases > 0 ? 0 : 1;
}
