// A server turned hostile, for live tests: an HTTP/1.1 proxy on 127.0.0.1
// in front of a real keywardd that lets a test rewrite every answer before
// the client sees it, and records every exchange (the request as the client
// sent it, the answer as the client got it). The client under test talks to
// the proxy's URL; start keywardd with --public-url set to it, so that the
// links it makes name the proxy.
//
//   EditingProxy proxy;
//   ServerProcess server(KEYWARDD_PATH, {"--public-url", proxy.url(), ...});
//   proxy.SetUpstream(server.port());
//   proxy.SetEdit([](const ProxyExchange& x, int& status, std::string& body) {
//     if (x.path == "/v1/recovery/redeem/verify") body = AddOrg(body);
//   });
//
// One exchange per connection (answers carry Connection: close), handled in
// order on one thread: enough for the CLI and the client library, which
// send one request at a time. Request bodies with Content-Length only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace keyward::testing {

struct ProxyExchange {
  std::string method;
  std::string path;  // with the query string
  std::string request_body;
  int status = 0;             // as the client got it
  std::string response_body;  // as the client got it
};

class EditingProxy {
 public:
  // Called for each answer from keywardd; may change its status and body.
  using Edit = std::function<void(const ProxyExchange& request, int& status, std::string& body)>;

  // Listens on 127.0.0.1 (a free port) at once; answers 502 until SetUpstream.
  EditingProxy();
  ~EditingProxy();
  EditingProxy(const EditingProxy&) = delete;
  EditingProxy& operator=(const EditingProxy&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void SetUpstream(uint16_t port) { upstream_port_ = port; }
  void SetEdit(Edit edit);
  void ClearEdit() { SetEdit({}); }
  // Every exchange so far, oldest first.
  std::vector<ProxyExchange> Exchanges() const;
  // The exchanges whose path starts with `prefix` (query string included).
  std::vector<ProxyExchange> ExchangesTo(const std::string& prefix) const;

 private:
  void Serve();
  void Handle(int client);

  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<uint16_t> upstream_port_{0};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  Edit edit_;
  std::vector<ProxyExchange> exchanges_;
  std::thread thread_;
};

}  // namespace keyward::testing
