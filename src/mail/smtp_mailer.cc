// The SMTP Mailer: one libcurl easy transfer per message (smtp:// with
// optional required STARTTLS, or smtps:// for implicit TLS). No handle is
// shared between calls, so Send is safe from any thread. Error texts are
// built from curl's fixed descriptions and the SMTP reply code only: curl's
// error buffer may quote server replies, which can echo the recipient.
#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/try.h"
#include "mail/mailer.h"
#include "mail/message_format.h"

namespace keyward::mail {
namespace {

constexpr long kDefaultTimeoutSeconds = 20;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Error ConfigError(std::string message) {
  return Error::Unavailable("mail.invalid_config", std::move(message));
}

Error SendFailed(std::string message) {
  return Error::Unavailable("mail.send_failed", std::move(message));
}

bool IsHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == ':' || c == '_';
}

// The EHLO argument: this machine's name when it looks like a host name.
std::string HeloName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  std::string_view name(buf);
  if (name.empty() || !std::all_of(name.begin(), name.end(),
                                   [](char c) { return IsHostNameChar(c) && c != ':'; })) {
    return "localhost";
  }
  return std::string(name);
}

struct Upload {
  std::string_view data;
};

size_t ReadCallback(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* upload = static_cast<Upload*>(userdata);
  size_t n = std::min(size * nitems, upload->data.size());
  std::memcpy(buffer, upload->data.data(), n);
  upload->data.remove_prefix(n);
  return n;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

Error MapCurlError(CURLcode code, long smtp_status) {
  std::string detail = curl_easy_strerror(code);
  if (smtp_status > 0) detail += fmt::format(" (SMTP {})", smtp_status);
  switch (code) {
    case CURLE_LOGIN_DENIED:
      return SendFailed(fmt::format("SMTP server rejected the login: {}", detail));
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      return SendFailed(fmt::format("could not reach the SMTP server: {}", detail));
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_USE_SSL_FAILED:
      return SendFailed(fmt::format("TLS with the SMTP server failed: {}", detail));
    default:
      return SendFailed(fmt::format("SMTP send failed: {}", detail));
  }
}

class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(SmtpConfig config) : config_(std::move(config)), helo_(HeloName()) {
    GlobalInitOnce();
  }

  Status Send(const Message& message) override {
    KW_TRY(ValidateSmtpConfig(config_));
    FormatOptions options;
    options.from = config_.from;
    options.date_unix = clock_.NowUnix();
    KW_ASSIGN_OR_RETURN(auto formatted, FormatMessage(message, options));

    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return Fail(SendFailed("SMTP send failed: could not create a transfer"));
    CURL* h = curl.get();

    bool implicit_tls = config_.security == SmtpConfig::Security::kTls;
    std::string host = config_.host.find(':') != std::string::npos
                           ? fmt::format("[{}]", config_.host)
                           : config_.host;
    std::string url =
        fmt::format("{}://{}:{}/{}", implicit_tls ? "smtps" : "smtp", host, config_.port, helo_);
    std::string mail_from = fmt::format("<{}>", formatted.envelope_from);
    std::string rcpt = fmt::format("<{}>", formatted.envelope_to);
    std::unique_ptr<curl_slist, SlistDeleter> recipients(curl_slist_append(nullptr, rcpt.c_str()));
    if (!recipients) return Fail(SendFailed("SMTP send failed: out of memory"));
    long timeout = config_.timeout_seconds > 0 ? config_.timeout_seconds : kDefaultTimeoutSeconds;
    Upload upload{formatted.data};

    bool ok = true;
    auto set = [&ok](CURLcode rc) { ok = ok && rc == CURLE_OK; };
    set(curl_easy_setopt(h, CURLOPT_URL, url.c_str()));
    set(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps"));
    set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
    set(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout));
    set(curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout));
    if (config_.security != SmtpConfig::Security::kNone) {
      set(curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL)));
    }
    set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, config_.verify_peer ? 1L : 0L));
    set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, config_.verify_peer ? 2L : 0L));
    if (!config_.ca_file.empty()) set(curl_easy_setopt(h, CURLOPT_CAINFO, config_.ca_file.c_str()));
    if (!config_.username.empty()) {
      set(curl_easy_setopt(h, CURLOPT_USERNAME, config_.username.c_str()));
      set(curl_easy_setopt(h, CURLOPT_PASSWORD, config_.password.c_str()));
    }
    set(curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str()));
    set(curl_easy_setopt(h, CURLOPT_MAIL_RCPT, recipients.get()));
    set(curl_easy_setopt(h, CURLOPT_UPLOAD, 1L));
    set(curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                         static_cast<curl_off_t>(formatted.data.size())));
    set(curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadCallback));
    set(curl_easy_setopt(h, CURLOPT_READDATA, &upload));
    if (!ok) return Fail(SendFailed("SMTP send failed: libcurl rejected an option"));

    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      return Fail(MapCurlError(rc, status));
    }
    return {};
  }

 private:
  const SmtpConfig config_;
  const std::string helo_;
  const SystemClock clock_;
};

}  // namespace

Status ValidateSmtpConfig(const SmtpConfig& config) {
  if (config.host.empty() || !std::all_of(config.host.begin(), config.host.end(), IsHostNameChar)) {
    return Fail(ConfigError("SMTP host is not a host name or IP address"));
  }
  if (config.port < 1 || config.port > 65535) return Fail(ConfigError("SMTP port out of range"));
  if (!config.username.empty() && config.security == SmtpConfig::Security::kNone) {
    return Fail(
        ConfigError("SMTP AUTH needs STARTTLS or TLS; refusing to send a password in clear"));
  }
  if (config.username.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos ||
      config.password.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return Fail(ConfigError("SMTP username or password contains a line break or NUL"));
  }
  if (auto from = ParseMailbox(config.from); !from) {
    return Fail(ConfigError("SMTP from is not a valid mailbox"));
  }
  return {};
}

std::unique_ptr<Mailer> MakeSmtpMailer(SmtpConfig config) {
  return std::make_unique<SmtpMailer>(std::move(config));
}

}  // namespace keyward::mail
