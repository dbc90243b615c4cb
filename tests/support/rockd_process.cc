#include "tests/support/rockd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace rock::test {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// fork + exec with stdout/stderr to `log_path`; the child gets its own process group so a
// test's Ctrl-C does not reach it twice.
pid_t Spawn(const char* binary, const std::vector<std::string>& args, const EnvList& env, const std::string& log_path) {
  // Everything the child needs is built before fork: only async-signal-safe calls after it.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& [key, value] : env) overridden |= key == name;
    if (!overridden) env_strings.push_back(entry);
  }
  for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary));
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) _exit(126);
  setpgid(0, 0);
  execve(binary, argv.data(), envp.data());
  _exit(127);
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return DecodeWaitStatus(status);
    if (done < 0 || std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "rockd-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << pattern << "): " << std::strerror(errno);
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::unique_ptr<RockdProcess> RockdProcess::Start(RockdOptions options) {
  std::unique_ptr<RockdProcess> rockd(new RockdProcess());
  rockd->dir_ = std::make_unique<TempDir>();
  const std::string& dir = rockd->dir_->path();
  rockd->data_dir_ = options.data_dir.empty() ? dir + "/data" : options.data_dir;
  const std::string port_file = dir + "/port";

  std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--port-file", port_file, "--data-dir",
                                   rockd->data_dir_, "--log-level", options.log_level};
  if (!options.config_json.empty()) {
    const std::string config_path = dir + "/rockd.json";
    std::ofstream(config_path) << options.config_json;
    args.insert(args.end(), {"--config", config_path});
  }
  args.insert(args.end(), options.args.begin(), options.args.end());
  rockd->process_ = ChildProcess::Start(options.binary.empty() ? ROCKD_BINARY : options.binary, args, options.env);

  const bool up = Eventually(
      [&] {
        std::ifstream in(port_file);
        unsigned port = 0;
        if (in >> port) rockd->port_ = static_cast<uint16_t>(port);
        return rockd->port_ != 0 || rockd->WaitExit(std::chrono::milliseconds(0)) != -1;
      },
      std::chrono::seconds(20));
  if (!up || rockd->port_ == 0) {
    ADD_FAILURE() << "rockd did not start; its output:\n" << rockd->Log();
    return nullptr;
  }
  return rockd;
}

// SIGTERM first: a rockd stopped cleanly removes its sandboxes' cgroups from the host, where a
// killed one leaves them for its next start on the same data dir, which a test never makes.
RockdProcess::~RockdProcess() {
  if (process_ && process_->pid() > 0) process_->Stop(SIGTERM, std::chrono::seconds(10));
}

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::string& binary, const std::vector<std::string>& args,
                                                 const EnvList& env) {
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->dir_ = std::make_unique<TempDir>();
  child->log_path_ = child->dir_->path() + "/output";
  child->pid_ = Spawn(binary.c_str(), args, env, child->log_path_);
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0 || WaitFor(pid_, std::chrono::milliseconds(0)) != -1) return;
  kill(pid_, SIGKILL);
  WaitFor(pid_, std::chrono::seconds(10));
}

std::string ChildProcess::Log() const { return ReadFile(log_path_); }

int ChildProcess::Stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;  // already reaped; kill(-1) would signal every process we may
  kill(pid_, signal);
  return WaitExit(timeout);
}

int ChildProcess::WaitExit(std::chrono::milliseconds timeout) {
  const int code = WaitFor(pid_, timeout);
  if (code != -1) pid_ = -1;
  return code;
}

RunResult RunRockd(const std::vector<std::string>& args, const EnvList& env, std::chrono::milliseconds timeout) {
  auto rockd = ChildProcess::Start(ROCKD_BINARY, args, env);
  RunResult result;
  result.exit_code = rockd->WaitExit(timeout);
  if (result.exit_code == -1) rockd->Stop(SIGKILL, std::chrono::seconds(5));
  result.output = rockd->Log();
  return result;
}

std::string SqliteQuery(const std::string& db, const std::string& sql) {
  const std::string command = "sqlite3 '" + db + "' \"" + sql + "\"";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen(" << command << "): " << std::strerror(errno);
    return {};
  }
  std::string out;
  char chunk[256];
  while (fgets(chunk, sizeof(chunk), pipe) != nullptr) out += chunk;
  if (const int rc = pclose(pipe); rc != 0) ADD_FAILURE() << command << " exited with " << rc;
  return out;
}

}  // namespace rock::test
