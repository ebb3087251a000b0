#include "tests/support/glewlwyd_server.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

extern char** environ;

namespace keyward::testing {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPython = "/usr/bin/python3";

Error StartError(std::string message) {
  return Error::Internal("test.glewlwyd", std::move(message));
}

// Runs `args` to completion; its stdout.
Result<std::string> Capture(std::vector<std::string> args) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Fail(StartError("pipe failed"));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  pid_t pid;
  const int rc = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return Fail(StartError(std::string("cannot run python3: ") + std::strerror(rc)));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t got = ::read(out[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    text.append(buf, static_cast<size_t>(got));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Fail(StartError("glewlwyd.py login failed (see stderr)"));
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

Result<std::unique_ptr<GlewlwydTestServer>> GlewlwydTestServer::Start(
    std::vector<GlewlwydUser> users, std::vector<std::string> redirect_uris) {
  std::unique_ptr<GlewlwydTestServer> s(new GlewlwydTestServer());
  std::string pattern = (fs::temp_directory_path() / "keyward-glewlwyd-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return Fail(StartError("mkdtemp failed"));
  s->dir_ = pattern;
  std::vector<std::string> args = {kPython, KEYWARD_GLEWLWYD_SCRIPT, "start", "--dir",
                                   (s->dir_ / "idp").string()};
  for (const auto& u : users) {
    args.insert(args.end(), {"--user", u.name + ":" + u.password + ":" + u.email});
  }
  for (const auto& r : redirect_uris) args.insert(args.end(), {"--redirect", r});
  auto process = ScriptProcess::Start(std::move(args), std::chrono::seconds(30), "test.glewlwyd");
  if (!process) return Fail(process.error());
  s->process_ = std::move(*process);
  auto j = nlohmann::json::parse(s->process_->ready_line(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Fail(StartError("unexpected output from glewlwyd.py: " + s->process_->ready_line()));
  }
  s->issuer_ = j.value("issuer", "");
  s->client_id_ = j.value("client_id", "");
  s->client_secret_ = j.value("client_secret", "");
  s->base_ = "http://127.0.0.1:" + std::to_string(j.value("port", 0));
  return s;
}

GlewlwydTestServer::~GlewlwydTestServer() {
  Stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void GlewlwydTestServer::Stop() {
  if (process_) process_->Stop();
}

Result<std::string> GlewlwydTestServer::Login(const std::string& user, const std::string& password,
                                              const std::string& auth_url) const {
  return Capture({kPython, KEYWARD_GLEWLWYD_SCRIPT, "login", "--base", base_, "--user", user,
                  "--password", password, "--auth-url", auth_url});
}

}  // namespace keyward::testing
