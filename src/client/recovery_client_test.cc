// The recovery client (include/keyward/recovery.h) against a scripted
// in-process HTTP server, with the real protocol cryptography on both sides:
// link parsing, the whole redemption (Begin, Verify, Complete), a wrong link
// secret or tampered escrow refused by the client itself, pins checked before
// anything is sealed, and the approving admin's link.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "keyward/client.h"
#include "keyward/org.h"
#include "keyward/recovery.h"
#include "protocol/escrow.h"
#include "protocol/grant.h"
#include "protocol/link.h"
#include "protocol/policy.h"
#include "protocol/statement.h"
#include "tests/support/status_assertions.h"

namespace keyward::client {
namespace {

using nlohmann::json;

std::string B64(std::span<const uint8_t> b) { return crypto::Base64UrlEncode(b); }
crypto::Bytes Unb64(const std::string& s) {
  auto b = crypto::Base64UrlDecode(s);
  EXPECT_TRUE(b.has_value()) << s;
  return b ? *b : crypto::Bytes();
}

struct Reply {
  int status = 200;
  std::string body;  // JSON text; empty for 204
};

// A minimal HTTP/1.1 server on 127.0.0.1: one request per connection
// (Connection: close), answered by `handler(method, path, body)`.
class FakeServer {
 public:
  using Handler = std::function<Reply(const std::string&, const std::string&, const json&)>;

  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    url_ = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  const std::string& url() const { return url_; }
  std::vector<std::string> Calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      size_t header_end = std::string::npos;
      size_t length = 0;
      for (;;) {
        ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        if (header_end == std::string::npos) {
          header_end = in.find("\r\n\r\n");
          if (header_end != std::string::npos) {
            std::string lower = in.substr(0, header_end);
            for (char& ch : lower) ch = static_cast<char>(std::tolower(ch));
            size_t cl = lower.find("content-length:");
            if (cl != std::string::npos) length = std::stoul(lower.substr(cl + 15));
          }
        }
        if (header_end != std::string::npos && in.size() >= header_end + 4 + length) break;
      }
      std::string method = in.substr(0, in.find(' '));
      size_t p0 = in.find(' ') + 1;
      std::string path = in.substr(p0, in.find(' ', p0) - p0);
      std::string body_text =
          header_end == std::string::npos ? std::string() : in.substr(header_end + 4, length);
      json body = body_text.empty() ? json() : json::parse(body_text, nullptr, false);
      {
        std::lock_guard<std::mutex> lock(mu_);
        calls_.push_back(method + " " + path);
      }
      Reply r = handler_(method, path, body);
      std::string reason = r.status < 300 ? "OK" : "Error";
      std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason + "\r\n";
      if (r.status != 204) {
        out +=
            "Content-Type: application/json\r\nContent-Length: " + std::to_string(r.body.size()) +
            "\r\n";
      }
      out += "Connection: close\r\n\r\n";
      if (r.status != 204) out += r.body;
      size_t off = 0;
      while (off < out.size()) {
        ssize_t n = ::write(c, out.data() + off, out.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      ::close(c);
    }
  }

  Handler handler_;
  int fd_ = -1;
  std::string url_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> calls_;
};

Reply ErrorReply(int status, const std::string& code) {
  return {status, json{{"error", {{"code", code}, {"message", code}}}}.dump()};
}

constexpr const char* kOrg = "org-1";
constexpr const char* kBob = "bob-account";
constexpr const char* kAdmin = "carol-account";
constexpr const char* kRequest = "req-1";

// One organization, one member escrowed at epoch 1, one recovery admin, the
// server's recovery key: everything both sides of a recovery hold.
class RecoveryClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init().has_value());
    auto policy = protocol::EncodePolicy(protocol::RecoveryPolicy{});
    ASSERT_TRUE(policy.has_value());
    statement_ = {kOrg, 1, signer_.public_key, org_key_.public_key, *policy, 1'700'000'000};
    auto signed_st = protocol::SignOrgStatement(statement_, signer_);
    ASSERT_TRUE(signed_st.has_value());
    signed_ = *signed_st;
    auto escrow =
        protocol::CreateEscrow(uk_, kOrg, kBob, 1, org_key_.public_key, server_key_.public_key);
    ASSERT_TRUE(escrow.has_value());
    escrow_ = std::move(*escrow);
    auto grant = protocol::CreateGrant(admin_key_.public_key, org_key_, kOrg, kAdmin, 1);
    ASSERT_TRUE(grant.has_value());
    grant_ = std::move(*grant);
  }

  // The approving admin's pin of the organization (statement 1).
  protocol::OrgPin AdminPin() {
    auto pin = protocol::PinOnFirstUse(kOrg, signer_.public_key);
    EXPECT_TRUE(pin.has_value());
    auto v = protocol::VerifyOrgStatement(signed_, *pin, 1'700'000'000);
    EXPECT_TRUE(v.has_value());
    return v->next_pin;
  }

  // The organization as the approving admin's client verified it.
  VerifiedOrg AdminsView() {
    VerifiedOrg org;
    org.org.id = kOrg;
    org.org.key_version = 1;
    org.statement = statement_;
    org.next_pin = AdminPin();
    return org;
  }

  // The link an approving admin makes, with its T and LA, anchored to the
  // admin's pin.
  void MakeLink(const std::string& public_url) {
    const protocol::OrgPin pin = AdminPin();
    MakeLinkAnchoredTo(public_url, &pin);
  }
  // The same with another anchor, or none (a link made before anchors).
  void MakeLinkAnchoredTo(const std::string& public_url, const protocol::OrgPin* anchor) {
    auto a = protocol::OpenAdminShare(org_key_, escrow_.admin_share, kOrg, kBob, 1);
    ASSERT_TRUE(a.has_value());
    auto link = protocol::CreateLink(*a, kRequest, kBob, 1, anchor);
    ASSERT_TRUE(link.has_value());
    auto text = protocol::BuildLinkText(public_url, kRequest, link->link_secret);
    ASSERT_TRUE(text.has_value());
    link_text_ = std::move(*text);
    token_ = B64(link->token.span());
    link_share_ = link->linked_admin_share;
  }

  json ServerInfo(const std::string& url) {
    return {{"version", "test"},
            {"kdf_minimum", {{"ops", 1}, {"mem", 8192}}},
            {"public_url", url},
            {"recovery_public_key", B64(server_key_.public_key)},
            {"recovery_fingerprint", crypto::Fingerprint(server_key_.public_key)}};
  }

  json VerifyAnswer() {
    auto u = protocol::OpenServerShare(server_key_, escrow_.server_share, kOrg, kBob, 1);
    EXPECT_TRUE(u.has_value());
    return {
        {"account_id", kBob},
        {"email", "bob@example.com"},
        {"epoch", 1},
        {"wrapped_vault_key",
         B64(wrapped_override_.empty() ? escrow_.wrapped_vault_key : wrapped_override_)},
        {"link_share", B64(link_share_)},
        {"server_part", B64(u->span())},
        {"ticket", "ticket-1"},
        {"ticket_expires_at", "2030-01-01T00:00:00Z"},
        {"kdf_minimum", {{"ops", 1}, {"mem", 8192}}},
        {"orgs",
         json::array({{{"org_id", kOrg},
                       {"name", "Acme"},
                       {"last_epoch", 1},
                       {"key_version", 1},
                       {"recovery_public_key", B64(org_key_.public_key)},
                       {"statements", json::array({{{"version", 1},
                                                    {"statement", B64(signed_.statement)},
                                                    {"signature", B64(signed_.signature)}}})}}})}};
  }

  // The member's side of docs/api.md, checking the token like the server.
  Reply Member(const std::string& url, const std::string& method, const std::string& path,
               const json& body) {
    if (method == "GET" && path == "/v1/server") return {200, ServerInfo(url).dump()};
    if (path == "/v1/recovery/redeem") {
      if (body.value("token", "") != token_) return ErrorReply(404, "recovery.link_invalid");
      return {202, R"({"status":"code_sent"})"};
    }
    if (path == "/v1/recovery/redeem/verify") {
      if (check_token_ && body.value("token", "") != token_) {
        return ErrorReply(404, "recovery.link_invalid");
      }
      if (body.value("code", "") != "123456") return ErrorReply(400, "recovery.invalid_code");
      return {200, VerifyAnswer().dump()};
    }
    if (path == "/v1/recovery/redeem/complete") {
      completed_ = body;
      return {204, ""};
    }
    return ErrorReply(404, "route.not_found");
  }

  crypto::VaultKey uk_ = crypto::VaultKey::Random();
  crypto::BoxKeyPair org_key_ = crypto::GenerateBoxKeyPair();
  crypto::BoxKeyPair server_key_ = crypto::GenerateBoxKeyPair();
  crypto::BoxKeyPair admin_key_ = crypto::GenerateBoxKeyPair();
  crypto::SignKeyPair signer_ = crypto::GenerateSignKeyPair();
  protocol::OrgStatement statement_;
  protocol::SignedOrgStatement signed_;
  protocol::Escrow escrow_;
  crypto::Bytes grant_;
  crypto::SecureBytes link_text_;
  std::string token_;
  crypto::Bytes link_share_;
  crypto::Bytes wrapped_override_;
  bool check_token_ = true;
  json completed_;
};

TEST(RequestStatusTextTest, TheFiveStatuses) {
  EXPECT_EQ(RequestStatusText("pending"), "Pending");
  EXPECT_EQ(RequestStatusText("approved"), "Approved");
  EXPECT_EQ(RequestStatusText("link_used"), "Link Used");
  EXPECT_EQ(RequestStatusText("expired"), "Expired");
  EXPECT_EQ(RequestStatusText("declined"), "Declined");
}

TEST_F(RecoveryClientTest, ParseChecksTheLinkAndItsServer) {
  MakeLink("https://vault.example.com");
  auto ok = Redemption::Parse(link_text_, "https://vault.example.com");
  ASSERT_OK(ok);
  EXPECT_EQ(ok->request_id(), kRequest);

  // Pasted with a newline, or against a server URL with a trailing '/'.
  std::string pasted(link_text_.view());
  pasted += "\n";
  EXPECT_TRUE(Redemption::Parse(crypto::SecureBytes::Copy(pasted), "https://vault.example.com/"));

  auto other = Redemption::Parse(link_text_, "https://evil.example.com");
  EXPECT_ERROR(other, "recovery.link_other_server");
  // The message names the servers, never the secret in the fragment.
  const std::string fragment(link_text_.view().substr(link_text_.view().find('#') + 1));
  EXPECT_EQ(other.error().message().find(fragment), std::string::npos);

  for (const char* bad : {"", "https://vault.example.com/recover/req-1",
                          "https://vault.example.com/recover/req-1#short",
                          "https://vault.example.com/other/req-1#AAAA", "not a link"}) {
    auto r = Redemption::Parse(crypto::SecureBytes::Copy(std::string_view(bad)),
                               "https://vault.example.com");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), "link.malformed") << bad;
  }
}

TEST_F(RecoveryClientTest, RedeemsAndMakesFreshVerifiedEscrows) {
  std::string url;
  FakeServer server([&](const std::string& m, const std::string& p, const json& b) {
    return Member(url, m, p, b);
  });
  url = server.url();
  MakeLink(url);
  Client client(ClientOptions{url, 5000, 30000});

  auto r = Redemption::Parse(link_text_, url);
  ASSERT_OK(r);
  ASSERT_TRUE(r->Begin(client).has_value());
  auto wrong = r->Verify(client, crypto::SecureBytes::Copy(std::string_view("654321")));
  EXPECT_ERROR(wrong, "recovery.invalid_code");
  auto v = r->Verify(client, crypto::SecureBytes::Copy(std::string_view("123456")));
  ASSERT_OK(v);
  EXPECT_EQ(r->email(), "bob@example.com");

  const auto password = crypto::SecureBytes::Copy(std::string_view("bob's new password"));
  auto done = r->Complete(client, password, {});
  ASSERT_OK(done);
  EXPECT_EQ(done->newly_pinned, std::vector<std::string>{kOrg});
  ASSERT_TRUE(done->pins.contains(kOrg));
  EXPECT_EQ(done->pins.at(kOrg).version, 1u);
  EXPECT_EQ(done->pins.at(kOrg).signing_public_key, signer_.public_key);

  // The new password opens the same vault key.
  ASSERT_TRUE(completed_.is_object());
  EXPECT_EQ(completed_["ticket"], "ticket-1");
  crypto::KdfParams kdf{completed_["new_kdf"]["ops"].get<uint64_t>(),
                        completed_["new_kdf"]["mem"].get<uint64_t>()};
  EXPECT_GE(kdf.ops, crypto::kClientFloorKdf.ops);  // the client floor, whatever the server says
  auto keys = DeriveAccountKeys(password, Unb64(completed_["new_salt"]), kdf);
  ASSERT_TRUE(keys.has_value());
  EXPECT_EQ(completed_["new_auth_key"], B64(keys->auth.span()));
  auto uk = UnwrapVaultKey(keys->enc, kBob, Unb64(completed_["new_wrapped_vault_key"]));
  ASSERT_TRUE(uk.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), uk_.span()));

  // One fresh escrow at the next epoch, sealed to the verified pk_org.
  ASSERT_EQ(completed_["escrows"].size(), 1u);
  const json& e = completed_["escrows"][0];
  EXPECT_EQ(e["org_id"], kOrg);
  EXPECT_EQ(e["epoch"], 2);
  EXPECT_EQ(e["key_version"], 1);
  auto a = protocol::OpenAdminShare(org_key_, Unb64(e["admin_share"]), kOrg, kBob, 2);
  ASSERT_TRUE(a.has_value());
  auto u = protocol::OpenServerShare(server_key_, Unb64(e["server_share"]), kOrg, kBob, 2);
  ASSERT_TRUE(u.has_value());
  auto again = protocol::RecoverVaultKey(*a, *u, Unb64(e["wrapped_vault_key"]), kOrg, kBob, 2);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(again->span(), uk_.span()));

  // Nothing secret ever went into a URL.
  for (const auto& call : server.Calls()) {
    EXPECT_EQ(call.find('#'), std::string::npos) << call;
    EXPECT_EQ(call.find(token_), std::string::npos) << call;
  }
}

// A link made before anchors vouches for no organization: on a device with
// no pin, the member is asked (the fingerprint of the first statement's
// signing key); a no sends no escrow, a yes pins and escrows.
TEST_F(RecoveryClientTest, AnUnanchoredOrganizationIsEscrowedOnlyWhenConfirmed) {
  for (bool yes : {false, true}) {
    SCOPED_TRACE(yes);
    completed_ = json();
    std::string url;
    FakeServer server([&](const std::string& m, const std::string& p, const json& b) {
      return Member(url, m, p, b);
    });
    url = server.url();
    MakeLinkAnchoredTo(url, nullptr);
    Client client(ClientOptions{url, 5000, 30000});
    auto r = Redemption::Parse(link_text_, url);
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->Begin(client).has_value());
    ASSERT_TRUE(r->Verify(client, crypto::SecureBytes::Copy(std::string_view("123456"))));
    std::vector<UnvouchedOrg> asked;
    auto done = r->Complete(client, crypto::SecureBytes::Copy(std::string_view("pw")), {},
                            [&](const UnvouchedOrg& o) -> Result<bool> {
                              asked.push_back(o);
                              return yes;
                            });
    ASSERT_OK(done);
    ASSERT_EQ(asked.size(), 1u);
    EXPECT_EQ(asked[0].org_id, kOrg);
    EXPECT_EQ(asked[0].signing_fingerprint, crypto::Fingerprint(signer_.public_key));
    ASSERT_TRUE(completed_.is_object());
    if (yes) {
      EXPECT_EQ(done->newly_pinned, std::vector<std::string>{kOrg});
      ASSERT_EQ(completed_["escrows"].size(), 1u);
      EXPECT_TRUE(done->skipped.empty());
    } else {
      EXPECT_TRUE(done->newly_pinned.empty());
      EXPECT_TRUE(completed_["escrows"].empty()) << completed_.dump();
      ASSERT_EQ(done->skipped.size(), 1u);
      EXPECT_EQ(done->skipped[0].org_id, kOrg);
    }
  }
}

// The anchor inside LA names the organization whose escrow opens: an LA
// anchored to another organization is not what an honest admin made.
TEST_F(RecoveryClientTest, AnAnchorForAnotherOrganizationIsRefused) {
  std::string url;
  FakeServer server([&](const std::string& m, const std::string& p, const json& b) {
    return Member(url, m, p, b);
  });
  url = server.url();
  protocol::OrgPin other = AdminPin();
  other.org_id = "org-2";
  MakeLinkAnchoredTo(url, &other);
  Client client(ClientOptions{url, 5000, 30000});
  auto r = Redemption::Parse(link_text_, url);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->Begin(client).has_value());
  auto v = r->Verify(client, crypto::SecureBytes::Copy(std::string_view("123456")));
  EXPECT_ERROR(v, "crypto.decrypt_failed");
  auto done = r->Complete(client, crypto::SecureBytes::Copy(std::string_view("pw")), {});
  ASSERT_FALSE(done.has_value());
  EXPECT_TRUE(completed_.is_null());
}

TEST_F(RecoveryClientTest, AWrongLinkSecretFailsOnTheClient) {
  std::string url;
  check_token_ = false;  // a server that lets anything through
  FakeServer server([&](const std::string& m, const std::string& p, const json& b) {
    return Member(url, m, p, b);
  });
  url = server.url();
  MakeLink(url);
  Client client(ClientOptions{url, 5000, 30000});

  auto forged = protocol::BuildLinkText(url, kRequest, crypto::GenericKey::Random());
  ASSERT_TRUE(forged.has_value());
  auto r = Redemption::Parse(*forged, url);
  ASSERT_TRUE(r.has_value());
  // The real server refuses its token; this one does not, and the client
  // still cannot open LA.
  auto begin = r->Begin(client);
  EXPECT_ERROR(begin, "recovery.link_invalid");
  auto v = r->Verify(client, crypto::SecureBytes::Copy(std::string_view("123456")));
  EXPECT_ERROR(v, "crypto.decrypt_failed");
  auto done = r->Complete(client, crypto::SecureBytes::Copy(std::string_view("pw")), {});
  ASSERT_FALSE(done.has_value());
  EXPECT_TRUE(completed_.is_null()) << "nothing is sent without the vault key";
}

TEST_F(RecoveryClientTest, ATamperedEscrowFailsOnTheClient) {
  std::string url;
  FakeServer server([&](const std::string& m, const std::string& p, const json& b) {
    return Member(url, m, p, b);
  });
  url = server.url();
  MakeLink(url);
  // W of another member's escrow (same org, same E would be needed to open it).
  auto other =
      protocol::CreateEscrow(uk_, kOrg, "mallory", 1, org_key_.public_key, server_key_.public_key);
  ASSERT_TRUE(other.has_value());
  wrapped_override_ = other->wrapped_vault_key;
  Client client(ClientOptions{url, 5000, 30000});
  auto r = Redemption::Parse(link_text_, url);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->Begin(client).has_value());
  auto v = r->Verify(client, crypto::SecureBytes::Copy(std::string_view("123456")));
  EXPECT_ERROR(v, "crypto.decrypt_failed");
}

TEST_F(RecoveryClientTest, APinnedDeviceRefusesAnotherSigningKey) {
  std::string url;
  FakeServer server([&](const std::string& m, const std::string& p, const json& b) {
    return Member(url, m, p, b);
  });
  url = server.url();
  MakeLink(url);
  Client client(ClientOptions{url, 5000, 30000});
  auto r = Redemption::Parse(link_text_, url);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->Begin(client).has_value());
  ASSERT_TRUE(r->Verify(client, crypto::SecureBytes::Copy(std::string_view("123456"))));

  // This device pinned the real organization's key; the server swapped it.
  auto pin = protocol::PinOnFirstUse(kOrg, crypto::GenerateSignKeyPair().public_key);
  ASSERT_TRUE(pin.has_value());
  std::map<std::string, protocol::OrgPin> pins{{kOrg, *pin}};
  auto done = r->Complete(client, crypto::SecureBytes::Copy(std::string_view("pw")), pins);
  EXPECT_ERROR(done, "org.signature_invalid");
  EXPECT_TRUE(completed_.is_null()) << "nothing is sealed to an unverified key";

  // The right pin passes, and moves nothing it did not verify.
  auto good = protocol::PinOnFirstUse(kOrg, signer_.public_key);
  ASSERT_TRUE(good.has_value());
  auto ok = r->Complete(client, crypto::SecureBytes::Copy(std::string_view("pw")), {{kOrg, *good}});
  ASSERT_OK(ok);
  EXPECT_TRUE(ok->newly_pinned.empty());
}

// The admin's side: the request's share opened with the caller's grant, the
// link made, and T and LA sent, never L.
TEST_F(RecoveryClientTest, ApproveMakesALinkOnlyWhenTheQuorumIsMet) {
  std::string url;
  int approvals_needed = 1;
  json approved;
  auto request = [&](const std::string& status, bool with_escrow) {
    json r = {{"id", kRequest},
              {"org_id", kOrg},
              {"account_id", kBob},
              {"email", "bob@example.com"},
              {"status", status},
              {"initiated_by", nullptr},
              {"epoch", 1},
              {"device_name", "bob-laptop"},
              {"remote_address", "10.0.0.7"},
              {"created_at", "2026-01-01T00:00:00Z"},
              {"expires_at", "2026-01-08T00:00:00Z"},
              {"quorum", approvals_needed},
              {"approvals", json::array()},
              {"decided_by", nullptr},
              {"decided_at", nullptr},
              {"decline_reason", nullptr},
              {"completed_at", nullptr}};
    if (with_escrow) {
      r["escrow"] = {{"epoch", 1}, {"key_version", 1}, {"admin_share", B64(escrow_.admin_share)}};
    }
    return r;
  };
  FakeServer server([&](const std::string& m, const std::string& p, const json& b) -> Reply {
    const std::string base = std::string("/v1/orgs/") + kOrg;
    if (m == "GET" && p == base + "/recovery/requests/" + kRequest) {
      return {200, request("pending", true).dump()};
    }
    if (m == "GET" && p == base + "/grant?key_version=1") {
      return {200, json{{"key_version", 1}, {"recovery_grant", B64(grant_)}}.dump()};
    }
    if (m == "POST" && p == base + "/recovery/requests/" + kRequest + "/approve") {
      approved = b;
      json r = request(approvals_needed == 1 ? "approved" : "pending", false);
      r["approvals"] = json::array(
          {{{"admin_id", kAdmin}, {"email", "carol@example.com"}, {"at", "2026-01-01T01:00:00Z"}}});
      return {200, r.dump()};
    }
    return ErrorReply(404, "route.not_found");
  });
  url = server.url();
  Client client(ClientOptions{url, 5000, 30000});
  RecoveryAdmin admin(client,
                      MemberKeys{kAdmin, {admin_key_.public_key, admin_key_.secret_key.Clone()}});

  const VerifiedOrg org = AdminsView();

  auto r = admin.Approve(org, kRequest, "https://vault.example.com");
  ASSERT_OK(r);
  ASSERT_TRUE(r->link.has_value());
  EXPECT_EQ(r->request.status, "approved");
  auto parsed = protocol::ParseLinkText(r->link->view());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->public_url, "https://vault.example.com");
  EXPECT_EQ(parsed->request_id, kRequest);
  // The server got T = Sub(L, 1) and LA, which opens to A with L only.
  EXPECT_EQ(approved["token"], B64(protocol::DeriveLinkToken(parsed->link_secret).span()));
  EXPECT_FALSE(approved.dump().contains(B64(parsed->link_secret.span())));
  auto a =
      protocol::OpenLink(parsed->link_secret, Unb64(approved["link_share"]), kRequest, kBob, 1);
  ASSERT_TRUE(a.has_value());
  auto expected_a = protocol::OpenAdminShare(org_key_, escrow_.admin_share, kOrg, kBob, 1);
  ASSERT_TRUE(expected_a.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(a->span(), expected_a->span()));
  // ...and carries the admin's pin of the organization as its anchor.
  auto anchored = protocol::OpenLinkWithAnchor(parsed->link_secret, Unb64(approved["link_share"]),
                                               kRequest, kBob, 1);
  ASSERT_TRUE(anchored.has_value());
  ASSERT_TRUE(anchored->anchor.has_value());
  EXPECT_EQ(anchored->anchor->org_id, kOrg);
  EXPECT_EQ(anchored->anchor->signing_public_key, signer_.public_key);
  EXPECT_EQ(anchored->anchor->statement_digest, org.next_pin.statement_digest);

  // Quorum 2: the approval is recorded, and no link is shown.
  approvals_needed = 2;
  auto first = admin.Approve(org, kRequest, "https://vault.example.com");
  ASSERT_OK(first);
  EXPECT_FALSE(first->link.has_value());
  EXPECT_EQ(first->request.quorum, 2);
  EXPECT_EQ(first->request.approvals.size(), 1u);

  // Another organization key (the server swapped pk_org): the grant check fails.
  VerifiedOrg swapped = org;
  swapped.statement.org_public_key = crypto::GenerateBoxKeyPair().public_key;
  auto refused = admin.Approve(swapped, kRequest, "https://vault.example.com");
  EXPECT_FALSE(refused.has_value());

  // An invalid public URL is refused before anything is approved.
  approved = json();
  auto bad_url = admin.Approve(org, kRequest, "vault.example.com");
  EXPECT_ERROR(bad_url, "link.invalid_public_url");
  EXPECT_TRUE(approved.is_null());
}

// Issue 10, item 6: approving one's own request said "your role does not
// allow approving their recovery"; it says what is wrong.
TEST_F(RecoveryClientTest, ApprovingOnesOwnRequestSaysSo) {
  FakeServer server([&](const std::string& m, const std::string& p, const json&) -> Reply {
    if (m == "GET" && p == std::string("/v1/orgs/") + kOrg + "/recovery/requests/" + kRequest) {
      json r = {{"id", kRequest},
                {"org_id", kOrg},
                {"account_id", kAdmin},
                {"email", "carol@example.com"},
                {"status", "pending"},
                {"initiated_by", nullptr},
                {"epoch", 1},
                {"device_name", "carol-laptop"},
                {"remote_address", "10.0.0.7"},
                {"created_at", "2026-01-01T00:00:00Z"},
                {"expires_at", "2026-01-08T00:00:00Z"},
                {"quorum", 1},
                {"approvals", json::array()},
                {"decided_by", nullptr},
                {"decided_at", nullptr},
                {"decline_reason", nullptr},
                {"completed_at", nullptr}};
      return {200, r.dump()};
    }
    return ErrorReply(404, "route.not_found");
  });
  Client client(ClientOptions{server.url(), 5000, 30000});
  RecoveryAdmin admin(client,
                      MemberKeys{kAdmin, {admin_key_.public_key, admin_key_.secret_key.Clone()}});
  const VerifiedOrg org = AdminsView();
  auto r = admin.Approve(org, kRequest, "https://vault.example.com");
  EXPECT_ERROR(r, "org.self_action");
  EXPECT_NE(r.error().message().find("your own recovery request"), std::string::npos)
      << r.error().message();
}

}  // namespace
}  // namespace keyward::client
