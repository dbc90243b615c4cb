#include "envs/episode_host.h"

#include <string>
#include <utility>

namespace rock::envs {
namespace {

using nlohmann::json;

// A JSON integer ≥ 0: parsed ones are unsigned, ones built in C++ from an int are signed.
bool IsNonNegativeInteger(const json& value) {
  return value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
}

// The slot of a request, checked against the host's count: the only field every message has.
StatusOr<uint32_t> SlotOf(const json& message, std::size_t slots) {
  const auto it = message.find("slot");
  if (it == message.end() || !IsNonNegativeInteger(*it)) return InvalidArgument("'slot' must be a non-negative integer");
  const auto slot = it->get<uint64_t>();
  if (slot >= slots) {
    return InvalidArgument("'slot' " + std::to_string(slot) + " is out of range: this sandbox has " +
                           std::to_string(slots) + " slots");
  }
  return static_cast<uint32_t>(slot);
}

// rockd passes info on to clients as text, unparsed (docs/sandbox.md); invalid UTF-8 in it is
// replaced, as in every frame.
std::string InfoText(const json& info) { return info.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

EpisodeHost::EpisodeHost(std::string kind, uint32_t slots, EnvOptions options)
    : kind_(std::move(kind)), options_(std::move(options)), envs_(slots) {}

bool EpisodeHost::Handle(const json& message, const sandbox::Reply& reply) {
  const std::string type = message.value("type", "");
  if (type != "reset" && type != "step" && type != "close") return false;

  json answer;
  StatusOr<json> result = Dispatch(type, message);
  if (result.ok()) {
    answer = std::move(result).value();
  } else {
    answer = {{"type", "env_error"},
              {"request", type},
              {"code", code_name(result.status().code())},
              {"message", result.status().message()}};
  }
  if (const auto it = message.find("slot"); it != message.end()) answer["slot"] = *it;
  if (const auto it = message.find("req"); it != message.end()) answer["req"] = *it;
  reply(answer);
  return true;
}

bool EpisodeHost::Quick(const json& message) const {
  const auto type = message.find("type");
  return kind_ == "alfworld" && type != message.end() && *type == "step";
}

StatusOr<json> EpisodeHost::Dispatch(const std::string& type, const json& message) {
  StatusOr<uint32_t> slot = SlotOf(message, envs_.size());
  if (!slot.ok()) return slot.status();
  if (type == "reset") return Reset(*slot, message);
  if (type == "step") return Step(*slot, message);
  envs_[*slot].reset();  // close: a step after it must not continue the old episode
  return json{{"type", "closed"}};
}

StatusOr<json> EpisodeHost::Reset(uint32_t slot, const json& message) {
  const auto task = message.find("task");
  if (task != message.end() && !task->is_object()) return InvalidArgument("'task' must be an object");
  const auto seed = message.find("seed");
  if (seed != message.end() && !IsNonNegativeInteger(*seed)) return InvalidArgument("'seed' must be a non-negative integer");
  if (!envs_[slot]) {
    StatusOr<std::unique_ptr<Env>> env = MakeEnv(kind_, options_);
    if (!env.ok()) return env.status();
    envs_[slot] = std::move(env).value();
  }
  StatusOr<ResetResult> reset = envs_[slot]->Reset(task == message.end() ? json::object() : *task,
                                                   seed == message.end() ? 0 : seed->get<uint64_t>());
  if (!reset.ok()) return reset.status();
  return json{{"type", "reset_result"}, {"observation", std::move(reset->observation)}, {"info_json", InfoText(reset->info)}};
}

StatusOr<json> EpisodeHost::Step(uint32_t slot, const json& message) {
  const auto action = message.find("action");
  if (action == message.end() || !action->is_string()) return InvalidArgument("'action' must be a string");
  if (!envs_[slot]) return FailedPrecondition("slot " + std::to_string(slot) + " has no episode: reset it first");
  StatusOr<StepResult> step = envs_[slot]->Step(action->get_ref<const std::string&>());
  if (!step.ok()) return step.status();
  return json{{"type", "step_result"},
              {"observation", std::move(step->observation)},
              {"reward", step->reward},
              {"terminated", step->terminated},
              {"truncated", step->truncated},
              {"info_json", InfoText(step->info)}};
}

}  // namespace rock::envs
