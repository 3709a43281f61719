#include "check.h"
#include "core.h"

TEST(build_info_names_the_core) {
    const std::string info = tl_fast::build_info();
    CHECK(info.rfind("tl_fast native core", 0) == 0);
}
