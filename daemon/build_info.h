// Facts about this build, fixed at compile time, reported by /api/v1/info and --version.
#pragma once

#include <string_view>

namespace rock::build_info {

std::string_view Version();
std::string_view GitRevision();  // "unknown" outside a git checkout
std::string_view BuildType();
std::string_view Compiler();
bool CudaEnabled();
bool SanitizersEnabled();

}  // namespace rock::build_info
