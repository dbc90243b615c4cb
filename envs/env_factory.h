// Makes the Env of an env kind (envs/env_kinds.h); each call is a fresh, independent Env.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "envs/env.h"

namespace rock::envs {

struct EnvOptions {
  // The kind's data (ALFWorld: what ALFWORLD_DATA names, json_2.1.x/ inside); empty: none.
  std::string data_dir;
};

// InvalidArgument for "shell" (no episodes) and unknown kinds.
StatusOr<std::unique_ptr<Env>> MakeEnv(std::string_view kind, const EnvOptions& options);

}  // namespace rock::envs
