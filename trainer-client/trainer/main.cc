// rock-trainer: see trainer.h and docs/trainer.md.
#include <csignal>
#include <cstdio>
#include <iostream>

#include "trainer-client/trainer/options.h"
#include "trainer-client/trainer/trainer.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  auto options = rock::trainer::ParseOptions(argc, argv);
  if (!options.ok()) {
    if (!options.status().message().empty()) std::fprintf(stderr, "rock-trainer: %s\n", options.status().ToString().c_str());
    return options.status().code() == rock::Code::kAborted ? 0 : 2;
  }
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  auto trainer = rock::trainer::Trainer::Create(std::move(*options));
  if (!trainer.ok()) {
    std::fprintf(stderr, "rock-trainer: %s\n", trainer.status().ToString().c_str());
    return 1;
  }
  const rock::Status status = (*trainer)->Run(g_stop);
  if (!status.ok()) {
    std::fprintf(stderr, "rock-trainer: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
