// Makes the Env of an env kind (envs/env_kinds.h); each call is a fresh, independent Env.
#pragma once

#include <memory>
#include <string_view>

#include "common/status.h"
#include "envs/env.h"

namespace rock::envs {

// InvalidArgument for "shell" (no episodes) and unknown kinds.
StatusOr<std::unique_ptr<Env>> MakeEnv(std::string_view kind);

}  // namespace rock::envs
