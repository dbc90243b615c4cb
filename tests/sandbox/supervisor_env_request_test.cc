// The supervisor's env requests against a real alfworld sandbox: answers by request id, an
// env_error as its Status, deadlines, and what a request meets when its sandbox goes away.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sandbox/supervisor.h"

namespace rock::sandbox {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class NullObserver : public SupervisorObserver {
 public:
  void OnTransition(const Transition&) override {}
  void OnReady(const std::string&, std::chrono::microseconds) override {}
};

class SupervisorEnvRequest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: sandboxes use namespaces and cgroups";
    state_dir_ = std::filesystem::temp_directory_path() / fmt::format("rock-env-request-test-{}", getpid());
    SupervisorOptions options;
    options.worker_path = ROCK_ENV_BINARY;
    options.cgroup_parent = cgroup_parent_;
    options.state_dir = state_dir_;
    supervisor_ = std::make_unique<Supervisor>(io_, options, observer_);
    io_thread_ = std::thread([this] { io_.run(); });
    Spec spec;
    spec.id = "env-request";
    spec.env = "alfworld";
    spec.slots = 2;
    spec.limits.memory_bytes = 128ull << 20;
    std::promise<StatusOr<SandboxStatus>> created;
    supervisor_->Create(spec, [&](StatusOr<SandboxStatus> s) { created.set_value(std::move(s)); });
    StatusOr<SandboxStatus> status = created.get_future().get();
    ASSERT_TRUE(status.ok()) << status.status().ToString();
    pid_ = status->pid;
  }

  void TearDown() override {
    if (supervisor_) {
      std::promise<void> stopped;
      supervisor_->StopAll([&] { stopped.set_value(); });
      stopped.get_future().wait();
      supervisor_.reset();
    }
    work_.reset();
    if (io_thread_.joinable()) io_thread_.join();
    std::filesystem::remove_all(state_dir_);
    EXPECT_TRUE(Cgroup::RemoveStale(cgroup_parent_).ok());
  }

  StatusOr<json> Ask(json request, std::chrono::milliseconds timeout = 5s, const std::string& id = "env-request") {
    std::promise<StatusOr<json>> answer;
    supervisor_->EnvRequest(id, std::move(request), timeout, [&](StatusOr<json> a) { answer.set_value(std::move(a)); });
    return answer.get_future().get();
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ = boost::asio::make_work_guard(io_);
  std::thread io_thread_;
  NullObserver observer_;
  std::filesystem::path state_dir_;
  const std::string cgroup_parent_ = fmt::format("rock-env-request-test-{}", getpid());
  std::unique_ptr<Supervisor> supervisor_;
  pid_t pid_ = 0;
};

TEST_F(SupervisorEnvRequest, RepliesComeBackWithoutTypeOrId) {
  StatusOr<json> reset = Ask({{"type", "reset"}, {"slot", 1}, {"task", {{"type", "pick_and_place_simple"}, {"seed", 2}}}});
  ASSERT_TRUE(reset.ok()) << reset.status().ToString();
  EXPECT_EQ((*reset)["slot"], 1);
  EXPECT_FALSE(reset->contains("type"));
  EXPECT_FALSE(reset->contains("req"));
  EXPECT_NE((*reset)["observation"].get<std::string>().find("Your task is to: "), std::string::npos);

  StatusOr<json> step = Ask({{"type", "step"}, {"slot", 1}, {"action", "inventory"}});
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ((*step)["observation"], "You are not carrying anything.");
}

TEST_F(SupervisorEnvRequest, EnvErrorsBecomeTheirStatus) {
  StatusOr<json> out_of_range = Ask({{"type", "step"}, {"slot", 9}, {"action", "look"}});
  EXPECT_EQ(out_of_range.status().code(), Code::kInvalidArgument);
  EXPECT_NE(out_of_range.status().message().find("'slot'"), std::string::npos);
  StatusOr<json> no_episode = Ask({{"type", "step"}, {"slot", 0}, {"action", "look"}});
  EXPECT_EQ(no_episode.status().code(), Code::kFailedPrecondition);
}

TEST_F(SupervisorEnvRequest, UnknownSandboxIsNotFound) {
  EXPECT_EQ(Ask({{"type", "close"}, {"slot", 0}}, 5s, "nope").status().code(), Code::kNotFound);
}

TEST_F(SupervisorEnvRequest, AStoppedWorkerMissesTheDeadline) {
  ASSERT_EQ(kill(pid_, SIGSTOP), 0);
  StatusOr<json> late = Ask({{"type", "close"}, {"slot", 0}}, 100ms);
  EXPECT_EQ(late.status().code(), Code::kDeadlineExceeded) << late.status().ToString();
  kill(pid_, SIGCONT);
}

// One timer serves every request's deadline: a request with a short one, sent after one with a
// long one, still expires on time, and the long one keeps waiting until its own.
TEST_F(SupervisorEnvRequest, EachRequestMissesItsOwnDeadline) {
  ASSERT_EQ(kill(pid_, SIGSTOP), 0);
  std::promise<StatusOr<json>> patient, hurried;
  supervisor_->EnvRequest("env-request", {{"type", "close"}, {"slot", 0}}, 60s,
                          [&](StatusOr<json> a) { patient.set_value(std::move(a)); });
  supervisor_->EnvRequest("env-request", {{"type", "close"}, {"slot", 1}}, 100ms,
                          [&](StatusOr<json> a) { hurried.set_value(std::move(a)); });
  auto hurried_answer = hurried.get_future();
  ASSERT_EQ(hurried_answer.wait_for(10s), std::future_status::ready) << "the short deadline waited for the long one";
  StatusOr<json> late = hurried_answer.get();
  EXPECT_EQ(late.status().code(), Code::kDeadlineExceeded) << late.status().ToString();
  EXPECT_NE(late.status().message().find("did not answer close"), std::string::npos) << late.status().message();
  auto patient_answer = patient.get_future();
  EXPECT_EQ(patient_answer.wait_for(300ms), std::future_status::timeout);
  ASSERT_EQ(kill(pid_, SIGCONT), 0);
  StatusOr<json> answered = patient_answer.get();
  EXPECT_TRUE(answered.ok()) << answered.status().ToString();
}

TEST_F(SupervisorEnvRequest, ACrashAnswersPendingRequestsUnavailable) {
  ASSERT_EQ(kill(pid_, SIGSTOP), 0);  // holds the answer back until the crash
  std::promise<StatusOr<json>> answer;
  supervisor_->EnvRequest("env-request", {{"type", "close"}, {"slot", 0}}, 10s,
                          [&](StatusOr<json> a) { answer.set_value(std::move(a)); });
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(kill(pid_, SIGKILL), 0);
  StatusOr<json> got = answer.get_future().get();
  EXPECT_EQ(got.status().code(), Code::kUnavailable) << got.status().ToString();
}

}  // namespace
}  // namespace rock::sandbox
