#include "core.h"

namespace tl_fast {

std::string build_info() {
    std::string info = "tl_fast native core, C++" + std::to_string(__cplusplus / 100 % 100);
#if defined(__clang__)
    info += ", clang " __clang_version__;
#elif defined(__GNUC__)
    info += ", gcc " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__);
#endif
#if defined(__SANITIZE_ADDRESS__)
    info += ", asan";
#endif
    return info;
}

}  // namespace tl_fast
