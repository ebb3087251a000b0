#include "bench/soak/support.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <thread>

#include "crypto/crypto.h"

namespace keyward::bench::soak {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "soak: FAIL: %s\n", what.c_str());
  std::exit(1);
}

std::string B64(std::span<const uint8_t> b) { return crypto::Base64UrlEncode(b); }

std::string RandomB64(size_t n) { return B64(crypto::RandomBytes(n)); }

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Answer Http::Call(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token, const std::string& forwarded_for) {
  Answer a;
  CURL* c = curl_;
  curl_easy_reset(c);
  const std::string url = base_ + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Expect:");
  if (!token.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  if (!forwarded_for.empty()) {
    headers = curl_slist_append(headers, ("X-Forwarded-For: " + forwarded_for).c_str());
  }
  if (method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty() || method == "POST" || method == "PUT") {
      headers = curl_slist_append(headers, "Content-Type: application/json");
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  } else {
    a.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  return a;
}

Http& ThreadHttp(const std::string& base) {
  thread_local std::unique_ptr<Http> http;
  if (!http) http = std::make_unique<Http>(base);
  return *http;
}

Percentiles Summarize(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1,
                      static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
  };
  p.p50 = at(0.5);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}

void Outbox::Scan() {
  std::error_code ec;
  std::vector<fs::path> fresh;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".eml" || name.starts_with(".")) continue;
    if (seen_.insert(name).second) fresh.push_back(entry.path());
  }
  std::sort(fresh.begin(), fresh.end());
  static const std::regex kTo("^to:.*?<?([^<>\\s]+@[^<>\\s]+)>?\\s*$", std::regex::icase);
  static const std::regex kCode("^\\s*([0-9]{6})\\s*$");
  static const std::regex kInvite("keyward org join ([A-Za-z0-9_-]+)");
  for (const fs::path& p : fresh) {
    std::ifstream in(p, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), {}};
    // Quoted-printable soft breaks and '=' back.
    text = std::regex_replace(text, std::regex("=\r?\n"), "");
    text = std::regex_replace(text, std::regex("=3D"), "=");
    std::string to;
    bool in_body = false;
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(pos, end - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      pos = end + 1;
      std::smatch m;
      if (!in_body) {
        if (line.empty()) in_body = true;
        if (to.empty() && std::regex_match(line, m, kTo)) to = m[1].str();
        continue;
      }
      if (to.empty()) break;
      if (std::regex_match(line, m, kCode)) codes_[to].push_back(m[1].str());
      if (std::regex_search(line, m, kInvite)) invites_[to].push_back(m[1].str());
    }
  }
}

}  // namespace keyward::bench::soak
