// keywardd's configuration (src/server/config.h): a hostile TOML file, and
// hostile values for one key given as an environment variable and as a
// flag. The file lives in memory (memfd), read by path as keywardd reads it.
// The last input byte picks the key for the environment and flag values.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "server/config.h"

namespace keyward::fuzz {
namespace {

std::string EnvName(std::string_view key) {
  std::string name = "KEYWARD_";
  for (char c : key) name += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return name;
}

std::string FlagName(std::string_view key) {
  std::string name = "--";
  for (char c : key) name += c == '_' ? '-' : c;
  return name;
}

class ConfigFile {
 public:
  ConfigFile() : fd_(memfd_create("keyward-fuzz.toml", 0)) {
    Require(fd_ >= 0, "memfd_create");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  const std::string& Write(std::string_view text) {
    Require(ftruncate(fd_, 0) == 0, "ftruncate");
    Require(pwrite(fd_, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()),
            "pwrite");
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace
}  // namespace keyward::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyward::fuzz;
  using keyward::server::ConfigKeys;
  using keyward::server::ParseServerConfig;
  static ConfigFile* file = new ConfigFile();
  FuzzedDataProvider in(data, size);
  const auto& keys = ConfigKeys();
  const std::string key = keys[in.ConsumeIntegralInRange<size_t>(0, keys.size() - 1)].name;
  const std::string env_value = in.ConsumeRandomLengthString(200);
  const std::string flag_value = in.ConsumeRandomLengthString(200);
  const std::string& path = file->Write(in.ConsumeRemainingBytesAsString());

  RequireCoded(ParseServerConfig({"--config", path}, {}));
  RequireCoded(ParseServerConfig({}, {{EnvName(key), env_value}}));
  RequireCoded(ParseServerConfig({FlagName(key), flag_value}, {}));
  RequireCoded(ParseServerConfig({"--config", path}, {{EnvName(key), env_value}}));
  return 0;
}
