#include "http/client_address.h"

#include <boost/asio/ip/address.hpp>

#include <charconv>

namespace keyward::http {
namespace {

namespace ip = boost::asio::ip;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseAddress(std::string_view text, ip::address* out) {
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(Trim(text)), ec);
  if (ec) return false;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  }
  *out = a;
  return true;
}

std::vector<unsigned char> Bytes(const ip::address& a) {
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return {b.begin(), b.end()};
  }
  auto b = a.to_v6().to_bytes();
  return {b.begin(), b.end()};
}

}  // namespace

bool ProxyList::Parse(std::string_view text, ProxyList* out, std::string* bad_entry) {
  ProxyList list;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find_first_of(", ", i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(i, end - i);
    i = end + 1;
    if (item.empty()) continue;
    std::string_view addr = item;
    int prefix = -1;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      addr = item.substr(0, slash);
      std::string_view p = item.substr(slash + 1);
      auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
      if (ec != std::errc() || ptr != p.data() + p.size() || p.empty()) {
        *bad_entry = std::string(item);
        return false;
      }
    }
    ip::address a;
    if (!ParseAddress(addr, &a)) {
      *bad_entry = std::string(item);
      return false;
    }
    Entry e{Bytes(a), 0};
    int bits = static_cast<int>(e.bytes.size()) * 8;
    if (prefix == -1) prefix = bits;
    if (prefix < 0 || prefix > bits) {
      *bad_entry = std::string(item);
      return false;
    }
    e.prefix = prefix;
    list.entries_.push_back(std::move(e));
  }
  *out = std::move(list);
  return true;
}

bool ProxyList::Contains(std::string_view address) const {
  ip::address a;
  if (!ParseAddress(address, &a)) return false;
  auto bytes = Bytes(a);
  for (const auto& e : entries_) {
    if (e.bytes.size() != bytes.size()) continue;
    int full = e.prefix / 8;
    int rest = e.prefix % 8;
    bool match = std::equal(bytes.begin(), bytes.begin() + full, e.bytes.begin());
    if (match && rest != 0) {
      auto mask = static_cast<unsigned char>(0xff << (8 - rest));
      match = (bytes[full] & mask) == (e.bytes[full] & mask);
    }
    if (match) return true;
  }
  return false;
}

std::string ClientAddress(std::string_view peer, std::string_view forwarded_for,
                          const ProxyList& trusted) {
  if (trusted.empty() || forwarded_for.empty() || !trusted.Contains(peer)) {
    return std::string(peer);
  }
  // Right to left: each trusted hop appended what it saw; the first entry
  // that is not a trusted proxy is the client as seen by our edge.
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    size_t comma = rest.rfind(',');
    std::string_view item = Trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    ip::address a;
    if (!ParseAddress(item, &a)) return std::string(peer);
    std::string text = a.to_string();
    if (!trusted.Contains(text)) return text;
  }
  return std::string(peer);
}

}  // namespace keyward::http
