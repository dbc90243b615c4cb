#include "balancer/pool.h"

#include <algorithm>
#include <utility>

namespace rock::balancer {

Pool::Pool(std::string env, PoolConfig config) : env_(std::move(env)), config_(std::move(config)) {}

void Pool::Reconfigure(PoolConfig config) {
  if (config.sandbox != config_.sandbox) ++revision_;
  config_ = std::move(config);
}

void Pool::Add(const std::string& sandbox_id) {
  Member member;
  member.revision = revision_;
  member.slots.resize(config_.sandbox.slots);
  member.idle_since = std::chrono::steady_clock::now();
  members_.emplace(sandbox_id, std::move(member));
}

bool Pool::Contains(const std::string& sandbox_id) const { return members_.contains(sandbox_id); }

std::vector<std::string> Pool::Empty(Member& member) {
  std::vector<std::string> held;
  for (std::string& episode : member.slots) {
    if (!episode.empty()) held.push_back(std::exchange(episode, {}));
  }
  member.busy = 0;
  member.idle_since = std::chrono::steady_clock::now();
  return held;
}

std::vector<std::string> Pool::SetHealth(const std::string& sandbox_id, SandboxHealth health) {
  const auto it = members_.find(sandbox_id);
  if (it == members_.end()) return {};
  it->second.health = health;
  // A sandbox that became ready again is a fresh process: nothing it held survived.
  return Empty(it->second);
}

std::vector<std::string> Pool::Remove(const std::string& sandbox_id) {
  const auto it = members_.find(sandbox_id);
  if (it == members_.end()) return {};
  std::vector<std::string> held = Empty(it->second);
  members_.erase(it);
  return held;
}

std::optional<Placement> Pool::Take(const std::string& episode_id) {
  Member* best = nullptr;
  const std::string* best_id = nullptr;
  for (auto& [id, member] : members_) {
    if (member.health != SandboxHealth::kReady || member.revision != revision_) continue;
    if (member.busy >= member.slots.size()) continue;
    if (best == nullptr || member.busy < best->busy) {
      best = &member;
      best_id = &id;
    }
  }
  if (best == nullptr) return std::nullopt;
  const auto free = std::find(best->slots.begin(), best->slots.end(), std::string());
  *free = episode_id;
  ++best->busy;
  return Placement{*best_id, static_cast<uint32_t>(free - best->slots.begin())};
}

void Pool::Free(const Placement& placement, const std::string& episode_id) {
  const auto it = members_.find(placement.sandbox_id);
  if (it == members_.end() || placement.slot >= it->second.slots.size()) return;
  Member& member = it->second;
  if (member.slots[placement.slot] != episode_id) return;
  member.slots[placement.slot].clear();
  if (--member.busy == 0) member.idle_since = std::chrono::steady_clock::now();
}

template <typename Keep>
uint32_t Pool::CountCurrent(Keep keep) const {
  return static_cast<uint32_t>(std::count_if(members_.begin(), members_.end(), [&](const auto& entry) {
    return entry.second.revision == revision_ && keep(entry.second.health);
  }));
}

uint32_t Pool::Healthy() const {
  return CountCurrent([](SandboxHealth h) { return h != SandboxHealth::kQuarantined; });
}

uint32_t Pool::Needed(uint32_t queued) const {
  uint64_t busy = queued;
  for (const auto& [id, member] : members_) {
    if (member.revision == revision_) busy += member.busy;
  }
  const uint64_t slots = std::max<uint32_t>(config_.sandbox.slots, 1);
  const uint64_t needed = (busy + slots - 1) / slots;
  return static_cast<uint32_t>(std::clamp<uint64_t>(needed, config_.min, config_.max));
}

uint32_t Pool::ToCreate(uint32_t queued) const {
  const uint32_t healthy = Healthy();
  const uint32_t quarantined = CountCurrent([](SandboxHealth h) { return h == SandboxHealth::kQuarantined; });
  // Quarantined sandboxes count against max: a crash-looping env must not make the pool spawn
  // sandboxes without end.
  const uint32_t room = config_.max > healthy + quarantined ? config_.max - healthy - quarantined : 0;
  const uint32_t needed = Needed(queued);
  return needed > healthy ? std::min(needed - healthy, room) : 0;
}

std::optional<std::string> Pool::ToRetire(std::chrono::steady_clock::time_point now, uint32_t queued) const {
  for (const auto& [id, member] : members_) {
    if (member.revision != revision_ && member.busy == 0) return id;
  }
  if (Healthy() <= Needed(queued)) return std::nullopt;
  for (const auto& [id, member] : members_) {
    if (member.health == SandboxHealth::kReady && member.busy == 0 && now - member.idle_since >= config_.idle_timeout) {
      return id;
    }
  }
  return std::nullopt;
}

bool Pool::AtMinimum() const {
  return CountCurrent([](SandboxHealth h) { return h == SandboxHealth::kReady; }) >= config_.min;
}

PoolView Pool::View() const {
  PoolView view;
  view.env = env_;
  view.config = config_;
  for (const auto& [id, member] : members_) {
    if (member.revision != revision_) ++view.draining;
    switch (member.health) {
      case SandboxHealth::kStarting: ++view.starting; break;
      case SandboxHealth::kReady:
        ++view.ready;
        view.slots_total += static_cast<uint32_t>(member.slots.size());
        break;
      case SandboxHealth::kDown: ++view.down; break;
      case SandboxHealth::kQuarantined: ++view.quarantined; break;
    }
    view.slots_busy += member.busy;
  }
  return view;
}

}  // namespace rock::balancer
