#include "server/key_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "common/try.h"
#include "crypto/crypto.h"

namespace keyward::server {
namespace {

constexpr size_t kKeySize = 32;
static_assert(kKeySize == crypto::ServerSecret::kSize);
constexpr size_t kEncodedSize = 43;  // unpadded base64url of 32 bytes

// One kind of key file: "<header>\n<base64url of 32 bytes>\n".
struct KeyFileKind {
  std::string_view header;  // with its final newline
  std::string_view noun;    // for messages: "server key", "recovery key"
  size_t FileSize() const { return header.size() + kEncodedSize + 1; }
};

constexpr KeyFileKind kServerKeyFile{"keyward-server-key v1\n", "server key"};
constexpr KeyFileKind kRecoveryKeyFile{"keyward-recovery-key v1\n", "recovery key"};

std::string Name(const KeyFileKind& kind, const std::filesystem::path& path) {
  return std::string(kind.noun) + " " + path.string();
}

Error IoError(const KeyFileKind& kind, const std::string& what, const std::filesystem::path& path,
              int err) {
  return Error::Internal("server.key_io",
                         "cannot " + what + " " + Name(kind, path) + ": " + std::strerror(err));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Base64url into secure memory, so the encoded key never sits in a std::string.
crypto::SecureBytes EncodeKey(const KeyFileKind& kind, std::span<const uint8_t> key) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  crypto::SecureBytes out(kind.FileSize());
  uint8_t* p = out.data();
  for (char c : kind.header) *p++ = static_cast<uint8_t>(c);
  size_t i = 0;
  for (; i + 3 <= key.size(); i += 3) {
    uint32_t v = (key[i] << 16) | (key[i + 1] << 8) | key[i + 2];
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
    *p++ = kAlphabet[v & 63];
  }
  if (key.size() - i == 2) {
    uint32_t v = (key[i] << 16) | (key[i + 1] << 8);
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
  } else if (key.size() - i == 1) {
    uint32_t v = key[i] << 16;
    *p++ = kAlphabet[(v >> 18) & 63];
    *p++ = kAlphabet[(v >> 12) & 63];
  }
  *p++ = '\n';
  return out;
}

Status WriteAll(int fd, std::span<const uint8_t> data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(Error::Internal("server.key_io", std::strerror(errno)));
    data = data.subspan(static_cast<size_t>(n));
  }
  return {};
}

Result<crypto::SecureBytes> Read(const KeyFileKind& kind, const std::filesystem::path& path,
                                 int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Fail(IoError(kind, "inspect", path, errno));
  if (!S_ISREG(st.st_mode)) {
    return Fail(
        Error::Internal("server.key_malformed", Name(kind, path) + " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Fail(Error::PermissionDenied("server.key_insecure",
                                        Name(kind, path) + " has mode " + mode +
                                            ", readable by group or others; run: chmod 600 " +
                                            path.string()));
  }
  const size_t file_size = kind.FileSize();
  crypto::SecureBytes content(file_size + 1);
  size_t total = 0;
  while (total < content.size()) {
    ssize_t n = ::read(fd, content.data() + total, content.size() - total);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(IoError(kind, "read", path, errno));
    if (n == 0) break;
    total += static_cast<size_t>(n);
  }
  auto malformed = [&] {
    return Fail(Error::Internal("server.key_malformed",
                                Name(kind, path) + " is malformed (expected \"" +
                                    std::string(kind.header.substr(0, kind.header.size() - 1)) +
                                    "\" and a base64url 32-byte key)"));
  };
  std::string_view text(reinterpret_cast<const char*>(content.data()), total);
  if (total != file_size || !text.starts_with(kind.header) || text.back() != '\n') {
    return malformed();
  }
  auto key = crypto::Base64UrlDecodeSecret(text.substr(kind.header.size(), kEncodedSize));
  if (!key || key->size() != kKeySize) return malformed();
  return std::move(*key);
}

Result<crypto::SecureBytes> Create(const KeyFileKind& kind, const std::filesystem::path& path) {
  KW_TRY(crypto::Init());
  std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  std::string temp = (dir / (path.filename().string() + ".tmp-XXXXXX")).string();
  // mkstemp: O_CREAT | O_EXCL, mode 0600.
  Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) return Fail(IoError(kind, "create", path, errno));
  auto remove_temp = [&] { ::unlink(temp.c_str()); };
  if (::fchmod(fd.get(), 0600) != 0) {
    int err = errno;
    remove_temp();
    return Fail(IoError(kind, "set the mode of", path, err));
  }
  crypto::SecureBytes secret = crypto::SecureBytes::Random(kKeySize);
  crypto::SecureBytes content = EncodeKey(kind, secret.span());
  if (auto status = WriteAll(fd.get(), content.span()); !status) {
    int err = errno;
    remove_temp();
    return Fail(IoError(kind, "write", path, err));
  }
  if (::fsync(fd.get()) != 0) {
    int err = errno;
    remove_temp();
    return Fail(IoError(kind, "sync", path, err));
  }
  ::close(fd.Release());
  // Never replace a key another process created meanwhile: use theirs.
  if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EINVAL || err == ENOSYS) {
      // File system without RENAME_NOREPLACE: link() also refuses to replace.
      if (::link(temp.c_str(), path.c_str()) != 0)
        err = errno;
      else
        err = 0;
    }
    remove_temp();
    if (err == EEXIST) return Fail(Error::Conflict("server.key_exists", "created concurrently"));
    if (err != 0) return Fail(IoError(kind, "install", path, err));
  }
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) ::fsync(dir_fd.get());
  return secret;
}

// Reads the 32 bytes of the key file at path, or creates it with fresh random
// bytes when it does not exist.
Result<crypto::SecureBytes> LoadOrCreate(const KeyFileKind& kind,
                                         const std::filesystem::path& path) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() >= 0) return Read(kind, path, fd.get());
    if (errno == ELOOP) {
      return Fail(
          Error::Internal("server.key_malformed", Name(kind, path) + " is a symbolic link"));
    }
    if (errno != ENOENT) return Fail(IoError(kind, "open", path, errno));
    auto created = Create(kind, path);
    if (created || created.error().code() != "server.key_exists") return created;
  }
  return Fail(Error::Internal("server.key_io", "cannot create " + Name(kind, path)));
}

}  // namespace

Result<crypto::ServerSecret> LoadOrCreateServerKey(const std::filesystem::path& path) {
  KW_ASSIGN_OR_RETURN(auto bytes, LoadOrCreate(kServerKeyFile, path));
  return crypto::ServerSecret(std::move(bytes));
}

Result<crypto::BoxKeyPair> LoadOrCreateRecoveryKey(const std::filesystem::path& path) {
  KW_ASSIGN_OR_RETURN(auto seed, LoadOrCreate(kRecoveryKeyFile, path));
  return crypto::BoxKeyPairFromSeed(seed.span());
}

}  // namespace keyward::server
