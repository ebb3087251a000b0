#include "tests/support/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace keyward::testing {
namespace {

constexpr std::string_view kListeningPrefix = "keywardd listening on ";

int MillisLeft(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Connects to "http://HOST:PORT"; -1 on failure.
int Connect(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  rest = rest.substr(0, rest.find('/'));
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return -1;
  std::string host = rest.substr(0, colon);
  int port = std::atoi(rest.c_str() + colon + 1);
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[') {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &addr.sin6_addr) != 1) {
      return -1;
    }
    int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

}  // namespace

HttpResult HttpRequest(const std::string& url, const std::string& method, const std::string& path,
                       const std::string& body,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       std::chrono::milliseconds timeout) {
  HttpResult result;
  int fd = Connect(url);
  if (fd < 0) return result;
  std::string host = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  std::string request =
      method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n";
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    request += name + ": " + value + "\r\n";
    if (Lower(name) == "content-type") has_type = true;
  }
  if (!body.empty() && !has_type) request += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;

  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string_view out = request;
  while (!out.empty()) {
    ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    out.remove_prefix(static_cast<size_t>(n));
  }
  std::string raw;
  char buffer[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) <= 0) break;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    raw.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);

  size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos || raw.rfind("HTTP/1.", 0) != 0) return result;
  std::istringstream head(raw.substr(0, header_end));
  std::string line;
  std::getline(head, line);
  if (line.size() >= 12) result.status = std::atoi(line.c_str() + 9);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    result.headers[Lower(line.substr(0, colon))] = value;
  }
  result.body = raw.substr(header_end + 4);
  if (auto it = result.headers.find("content-length");
      it != result.headers.end() && method != "HEAD") {
    size_t length = std::stoul(it->second);
    if (result.body.size() > length) result.body.resize(length);
  }
  return result;
}

ServerProcess::ServerProcess(std::filesystem::path binary, std::vector<std::string> args)
    : ServerProcess(Options{std::move(binary), std::move(args), {}}) {}

ServerProcess::ServerProcess(Options options) : options_(std::move(options)) {
  std::string pattern = (std::filesystem::temp_directory_path() / "keywardd-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  temp_dir_ = pattern;
  data_dir_ = temp_dir_ / "data";
  try {
    Spawn("127.0.0.1:0");
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
    throw;
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
  Reap();
  std::error_code ec;
  std::filesystem::remove_all(temp_dir_, ec);
}

void ServerProcess::Reap() {
  if (stdout_drain_.joinable()) stdout_drain_.join();
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

void ServerProcess::Spawn(const std::string& listen) {
  std::vector<std::string> args = {options_.binary.string(), "--listen", listen, "--data",
                                   data_dir_.string()};
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "KEYWARD_", 8) != 0) env.emplace_back(*e);
  }
  for (const auto& [name, value] : options_.env) env.push_back(name + "=" + value);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::string stderr_path = (temp_dir_ / "keywardd.stderr").string();
  int err_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(null_fd, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(err_fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  ::close(err_fd);
  ::close(null_fd);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    throw std::runtime_error("fork failed");
  }
  pid_ = pid;
  exit_status_ = -1;
  stdout_fd_ = pipe_fds[0];

  // Read the first line.
  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  std::string text;
  while (text.find('\n') == std::string::npos) {
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) <= 0) break;
    char buffer[4096];
    ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  std::string first = text.substr(0, text.find('\n'));
  if (text.find('\n') == std::string::npos || first.rfind(kListeningPrefix, 0) != 0) {
    ::kill(pid_, SIGKILL);
    int status = Wait(std::chrono::seconds(10));
    Reap();
    throw std::runtime_error("keywardd did not start (exit " + std::to_string(status) +
                             "); stdout: " + text + "; stderr: " + StderrText());
  }
  url_ = first.substr(kListeningPrefix.size());
  port_ = static_cast<uint16_t>(std::atoi(url_.c_str() + url_.rfind(':') + 1));
  {
    std::lock_guard lock(stdout_->mu);
    stdout_->text = text;
  }
  stdout_drain_ = std::thread([fd = stdout_fd_, capture = stdout_] {
    char buffer[4096];
    while (true) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      std::lock_guard lock(capture->mu);
      capture->text.append(buffer, static_cast<size_t>(n));
    }
  });
}

std::string ServerProcess::StdoutText() const {
  std::lock_guard lock(stdout_->mu);
  return stdout_->text;
}

std::string ServerProcess::StderrText() const { return ReadFile(temp_dir_ / "keywardd.stderr"); }

void ServerProcess::Kill(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

int ServerProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) {
        exit_status_ = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        exit_status_ = 128 + WTERMSIG(status);
      }
      return exit_status_;
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      return exit_status_ = -1;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return exit_status_;
  Kill(SIGTERM);
  int status = Wait();
  if (status == -1 && pid_ > 0) {
    Kill(SIGKILL);
    Wait();
  }
  Reap();
  return status;
}

void ServerProcess::Restart() {
  Stop();
  Reap();
  try {
    Spawn("127.0.0.1:" + std::to_string(port_));
  } catch (const std::runtime_error&) {
    Spawn("127.0.0.1:0");
  }
}

}  // namespace keyward::testing
