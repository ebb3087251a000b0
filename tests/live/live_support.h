// Helpers for the live end-to-end suites (tests/live): raw HTTP exchanges over
// real sockets, random key material, account setup through the raw /v1 API
// (the server cannot tell real key material from random bytes), and the check
// of the error shape {"error":{"code":"...","message":"..."}}.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/server_process.h"

namespace keyward::live {

using Headers = std::vector<std::pair<std::string, std::string>>;
using testing::HttpResult;

// Whether this build (and so the keywardd it tests, built beside it) runs
// under AddressSanitizer (scripts/sanitize.sh): its quarantine keeps freed
// memory resident, so peak-RSS limits measure ASan, not keywardd.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderAddressSanitizer = true;
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif

// The least KDF the test servers accept (the client's floor: ops 2, 20 MiB).
inline const std::vector<std::string> kTestKdfArgs = {"--min-kdf-ops", "2", "--min-kdf-mem",
                                                      "20971520"};

// Unpadded base64url (RFC 4648 §5).
std::string Base64Url(std::string_view bytes);
std::string RandomBytes(size_t n);
// base64url of n random bytes.
std::string RandomB64(size_t n);
// n characters of [a-z0-9], for unique emails and ids.
std::string RandomToken(size_t n);

// What came back on a raw connection.
struct RawResponse {
  bool connected = false;
  bool answered = false;  // a whole HTTP response head arrived
  bool closed = false;    // the server closed (EOF or reset)
  bool timed_out = false;
  HttpResult http;  // when answered
  std::string raw;  // every byte received
  std::chrono::milliseconds elapsed{0};
};

// Connects to 127.0.0.1:port; -1 on failure. Blocking, close-on-exec.
int ConnectLocal(uint16_t port);

// Sends `request` (any bytes) while reading, so an early answer (413 before
// the body is sent) is seen; stops sending when the server stops reading.
// Reads until the server closes or `timeout`.
RawResponse RawExchange(uint16_t port, std::string_view request,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Parses "HTTP/1.1 ..." response bytes; nullopt when the head is incomplete.
std::optional<HttpResult> ParseResponse(std::string_view raw);

// A request built byte by byte.
struct RawRequest {
  std::string method = "POST";
  std::string path = "/";
  std::string body;
  // nullopt: no Content-Type header at all.
  std::optional<std::string> content_type = "application/json";
  // nullopt: the body's length (sent whenever there is a body or the method is POST/PUT).
  std::optional<std::string> content_length;
  std::optional<std::string> authorization;  // the whole header value
  Headers extra;
  std::string Build(uint16_t port) const;
};

// The error shape of docs/api.md: exactly {"error":{"code","message"}}, both
// non-empty strings, a dotted lower-case code, a JSON content type, and none
// of `forbidden` (bad values, secrets) anywhere in the body.
::testing::AssertionResult IsErrorBody(const HttpResult& r,
                                       const std::vector<std::string>& forbidden = {});

// The error code of an error body ("" when it has none).
std::string ErrorCode(const HttpResult& r);

// The 6-digit code mailed to `email`, read from <data_dir>/outbox/*.eml;
// waits up to `timeout`.
std::optional<std::string> WaitForCode(
    const std::filesystem::path& data_dir, const std::string& email,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Everything a test needs of an account registered through the raw API.
struct LiveAccount {
  std::string id;
  std::string email;
  std::string auth_key;   // base64url, 32 bytes
  std::string device_id;  // the device the sessions are opened from
  std::string token;
};

// A valid registration body for `email` with fresh random key material.
nlohmann::json RegistrationBody(const std::string& email);

// Registers, reads the emailed code, verifies, and logs in. Throws
// std::runtime_error with the failing request and answer.
LiveAccount CreateAccount(const testing::ServerProcess& server, const std::string& email);

// POST /v1/sessions for `account` (device account.device_id); returns the
// token. Throws std::runtime_error on failure.
std::string Login(const std::string& url, const LiveAccount& account);

// A short description of an answer, for failure messages.
std::string Describe(const HttpResult& r);

// Like WaitForCode, but only a message whose file is not in `seen`; the file
// it was found in is added to `seen`. For the second and later codes to one
// address.
std::optional<std::string> WaitForNewCode(
    const std::filesystem::path& data_dir, const std::string& email, std::set<std::string>& seen,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Item writes under SIGKILL (crash_test.cc, crash_recovery_test.cc): what the
// writers sent and what the server acknowledged, across restarts.
struct ItemLedger {
  std::mutex mu;
  std::map<std::string, std::string> sent;  // id -> data (base64url)
  std::set<std::string> acknowledged;       // answered 201 with that item
  std::vector<std::string> unexpected;      // answers that were neither 201 nor "no answer"
};

// One writer: POST /v1/items (ids prefix-0, prefix-1, ...) until `stop`,
// recording what was acknowledged; "no answer" (the server killed) is not a
// failure.
void WriteItems(const std::string& url, const std::string& token, const std::string& prefix,
                const std::atomic<bool>& stop, ItemLedger& ledger);

bool IsBase64Url(const std::string& s);
bool IsRfc3339Utc(const std::string& s);

// VmHWM (peak resident set) of a process in KiB; -1 when unknown.
long PeakRssKib(pid_t pid);

}  // namespace keyward::live
