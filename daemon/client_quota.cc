#include "daemon/client_quota.h"

#include <algorithm>
#include <utility>

namespace rock {

Status ClientQuota::Acquire(const std::string& client, uint32_t n) {
  std::lock_guard lock(mutex_);
  uint32_t& held = held_[client];
  if (uint64_t{held} + n > max_) {
    const uint32_t had = held;
    if (held == 0) held_.erase(client);
    return Status(Code::kResourceExhausted, "client " + client + " has " + std::to_string(had) + " " + what_ +
                                                " and asked for " + std::to_string(n) + " more; the limit is " +
                                                std::to_string(max_));
  }
  held += n;
  return Status::Ok();
}

void ClientQuota::Release(const std::string& client, uint32_t n) {
  std::lock_guard lock(mutex_);
  const auto it = held_.find(client);
  if (it == held_.end()) return;
  it->second -= std::min(it->second, n);
  // A client that holds nothing costs no memory: the map never grows with clients long gone.
  if (it->second == 0) held_.erase(it);
}

ClientSlot& ClientSlot::operator=(ClientSlot&& other) noexcept {
  if (this != &other) {
    if (quota_) quota_->Release(client_);
    quota_ = std::exchange(other.quota_, nullptr);
    client_ = std::move(other.client_);
  }
  return *this;
}

ClientSlot::~ClientSlot() {
  if (quota_) quota_->Release(client_);
}

}  // namespace rock
