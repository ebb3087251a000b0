// The default Mailer: one .eml file per message in an outbox directory.
//
// Each message is written to a dot-prefixed temporary file in the same
// directory, fsynced, renamed to its final name and the directory fsynced, so
// a reader that lists *.eml sees either nothing or the whole message, even
// across a crash. Names start with a UTC timestamp (microseconds) so a plain
// sort lists messages in the order they were written; a random suffix keeps
// concurrent writers (threads or several processes) apart. No state is shared
// between calls, which makes Send safe to call from any number of threads.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/try.h"
#include "mail/mailer.h"
#include "mail/message_format.h"

namespace keyward::mail {
namespace {

constexpr mode_t kDirMode = 0700;
constexpr mode_t kFileMode = 0600;

Error WriteFailed(std::string_view step, int err) {
  return Error::Unavailable("mail.send_failed",
                            fmt::format("mail outbox: {} failed: {}", step, std::strerror(err)));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now so that a close error (deferred write-back) is reported.
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status EnsureDirectory(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), kDirMode) == 0 || errno == EEXIST) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return Fail(WriteFailed("stat directory", errno));
    if (!S_ISDIR(st.st_mode)) return Fail(WriteFailed("open directory", ENOTDIR));
    return {};
  }
  if (errno != ENOENT) return Fail(WriteFailed("create directory", errno));
  std::error_code ec;
  std::filesystem::create_directories(dir.parent_path(), ec);
  if (ec) return Fail(WriteFailed("create directory", ec.value()));
  if (::mkdir(dir.c_str(), kDirMode) != 0 && errno != EEXIST) {
    return Fail(WriteFailed("create directory", errno));
  }
  return {};
}

// "20261121T211400.123456Z-0123456789abcdef"
std::string NewFileStem() {
  auto now = std::chrono::system_clock::now();
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}.{:06}Z-{}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros % 1'000'000,
                     RandomHex(8));
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(WriteFailed("write", errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status WriteFileDurably(const std::filesystem::path& tmp, std::string_view data) {
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, kFileMode));
  if (fd.get() < 0) return Fail(WriteFailed("create file", errno));
  // The umask may only have taken bits away; make the mode exact.
  if (::fchmod(fd.get(), kFileMode) != 0) return Fail(WriteFailed("chmod", errno));
  KW_TRY(WriteAll(fd.get(), data));
  if (::fsync(fd.get()) != 0) return Fail(WriteFailed("fsync", errno));
  if (fd.Close() != 0) return Fail(WriteFailed("close", errno));
  return {};
}

Status SyncDirectory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Fail(WriteFailed("open directory", errno));
  if (::fsync(fd.get()) != 0) return Fail(WriteFailed("fsync directory", errno));
  return {};
}

class OutboxMailer final : public Mailer {
 public:
  OutboxMailer(std::filesystem::path dir, std::string from)
      : dir_(std::move(dir)), from_(std::move(from)) {
    // Best effort here; Send reports the error if the directory is still missing.
    (void)EnsureDirectory(dir_);
  }

  Status Send(const Message& message) override {
    FormatOptions options;
    options.from = from_;
    options.date_unix = clock_.NowUnix();
    KW_ASSIGN_OR_RETURN(auto formatted, FormatMessage(message, options));
    KW_TRY(EnsureDirectory(dir_));

    std::string stem = NewFileStem();
    std::filesystem::path tmp = dir_ / fmt::format(".{}.eml.tmp", stem);
    std::filesystem::path final_path = dir_ / fmt::format("{}.eml", stem);
    if (auto ok = WriteFileDurably(tmp, formatted.data); !ok) {
      ::unlink(tmp.c_str());
      return ok;
    }
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return Fail(WriteFailed("rename", err));
    }
    return SyncDirectory(dir_);
  }

 private:
  const std::filesystem::path dir_;
  const std::string from_;
  const SystemClock clock_;
};

}  // namespace

std::unique_ptr<Mailer> MakeOutboxMailer(std::filesystem::path dir, std::string from) {
  return std::make_unique<OutboxMailer>(std::move(dir), std::move(from));
}

}  // namespace keyward::mail
