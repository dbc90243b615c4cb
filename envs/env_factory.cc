#include "envs/env_factory.h"

#include <string>

#include "envs/alfworld/alfworld_env.h"
#include "envs/bandit/bandit_env.h"
#include "envs/env_kinds.h"
#include "envs/sleepy/sleepy_env.h"
#include "envs/swebench/swebench_env.h"

namespace rock::envs {

StatusOr<std::unique_ptr<Env>> MakeEnv(std::string_view kind, const EnvOptions& options) {
  if (kind == "alfworld") return std::unique_ptr<Env>(std::make_unique<alfworld::AlfworldEnv>(options.data_dir));
  if (kind == "bandit") return std::unique_ptr<Env>(std::make_unique<BanditEnv>());
  if (kind == "sleepy") return std::unique_ptr<Env>(std::make_unique<SleepyEnv>());
  if (kind == "swebench") return std::unique_ptr<Env>(std::make_unique<swebench::SwebenchEnv>(options));
  if (kind == kShellKind) return InvalidArgument("env kind 'shell' has no episodes");
  return InvalidArgument("unknown env kind '" + std::string(kind) + "'");
}

}  // namespace rock::envs
