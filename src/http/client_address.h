// The client's address behind a reverse proxy. Rate limits and device
// records key on the client's IP; behind nginx every connection comes from
// the proxy, so keywardd takes the address from X-Forwarded-For — but only
// when the connection comes from a proxy the operator listed
// (trusted_proxies), since anyone else could write that header.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace keyward::http {

// Trusted proxies: exact addresses ("127.0.0.1", "::1") or CIDR blocks
// ("10.0.0.0/8", "fd00::/8"). Parse errors name the bad entry.
class ProxyList {
 public:
  // Comma- or space-separated entries; "" gives an empty list.
  static bool Parse(std::string_view text, ProxyList* out, std::string* bad_entry);
  bool empty() const { return entries_.empty(); }
  bool Contains(std::string_view address) const;

 private:
  struct Entry {
    std::vector<unsigned char> bytes;  // 4 or 16
    int prefix = 0;
  };
  std::vector<Entry> entries_;
};

// `peer` when it is not a trusted proxy or there is no valid forwarded
// address; otherwise the right-most X-Forwarded-For entry that is not itself
// a trusted proxy (what the nearest untrusted hop said), when it parses as an
// IP address. An IPv4-mapped IPv6 peer counts as its IPv4 address.
std::string ClientAddress(std::string_view peer, std::string_view forwarded_for,
                          const ProxyList& trusted);

}  // namespace keyward::http
