// docs/api.md "Device pairing", from both devices' side.
#include <fmt/format.h>

#include "client/org_json.h"
#include "client/secret_json.h"
#include "common/try.h"
#include "keyward/pairing.h"

namespace keyward::client {

Result<Account> ParseAccount(const Json& j);  // client.cc

namespace {

namespace pp = protocol::pairing;

constexpr size_t kClaimSize = 32;

using org_json::B64;

Error BadAnswer(std::string_view what) {
  return Error::Unavailable("server.bad_response",
                            fmt::format("the server's pairing answer is malformed ({})", what));
}

std::string PairingPath(std::string_view id, std::string_view action = "") {
  std::string path = "/v1/pairings/" + std::string(id);
  if (!action.empty()) path += "/" + std::string(action);
  return path;
}

}  // namespace

Result<PairingShower> PairingShower::Start(Client& client, std::string account_id,
                                           std::string device_id) {
  pp::PairingIds ids;
  ids.account_id = std::move(account_id);
  ids.sid = crypto::RandomBytes(pp::kSidSize);
  ids.shown_device_id = std::move(device_id);
  ids.joining_device_id = NewItemId();
  crypto::SecureBytes code = crypto::SecureBytes::Copy(crypto::RandomDigits(pp::kCodeDigits));
  const std::string id = crypto::Base64UrlEncode(ids.sid);
  const std::string joining = ids.joining_device_id;
  KW_ASSIGN_OR_RETURN(auto side, pp::ShowingSide::Start(std::move(ids), code));
  Json body = Json::object();
  body["id"] = Str(id);
  body["joining_device_id"] = Str(joining);
  body["ya"] = B64(side.message());
  KW_ASSIGN_OR_RETURN(auto r, client.CallJson("POST", "/v1/pairings", body));
  PairingShower shower(client, std::move(side), std::move(code), id);
  if (auto e = JsonString(r, "expires_at")) shower.expires_at_ = *e;
  if (auto n = JsonInt(r, "expires_in")) shower.expires_in_ = *n;
  return shower;
}

Result<std::optional<PairingAnswerInfo>> PairingShower::Poll() {
  if (checked_) return Fail(Error::Gone("pair.closed", "this pairing was already answered"));
  KW_ASSIGN_OR_RETURN(auto r, client_->CallJson("GET", PairingPath(id_)));
  KW_ASSIGN_OR_RETURN(auto state, JsonString(r, "state"));
  if (state == "waiting") {
    // The server's clock decides expiry; it answers "expired" on the answer.
    return std::optional<PairingAnswerInfo>();
  }
  if (state != "answered") {
    return Fail(Error::Gone("pair.closed", "this pairing was closed; start a new one"));
  }
  KW_ASSIGN_OR_RETURN(auto yb, JsonBase64(r, "yb"));
  KW_ASSIGN_OR_RETURN(auto tb, JsonBase64(r, "tb"));
  if (!r.contains("device") || !r["device"].is_object()) return Fail(BadAnswer("device"));
  PairingAnswerInfo info;
  KW_ASSIGN_OR_RETURN(info.device_name, JsonString(r["device"], "name"));
  KW_ASSIGN_OR_RETURN(info.device_type, JsonString(r["device"], "type"));
  if (auto a = JsonString(r, "remote_address")) info.remote_address = *a;
  checked_ = true;
  auto ok = side_.Check(yb, {info.device_name, info.device_type}, tb);
  if (!ok) {
    (void)Close();  // one try per code: the server closes it for both sides
    return Fail(ok.error());
  }
  return std::optional<PairingAnswerInfo>(std::move(info));
}

Status PairingShower::Release(const crypto::VaultKey& vault_key) {
  KW_ASSIGN_OR_RETURN(auto release, side_.Seal(vault_key));
  Json body = Json::object();
  body["ta"] = B64(release.confirmation);
  body["payload"] = B64(release.payload);
  KW_ASSIGN_OR_RETURN(auto r, client_->CallJson("POST", PairingPath(id_, "release"), body));
  (void)r;
  return {};
}

Status PairingShower::Close() {
  KW_ASSIGN_OR_RETURN(auto r, client_->CallJson("POST", PairingPath(id_, "close")));
  (void)r;
  return {};
}

Result<PairingJoiner> PairingJoiner::Answer(Client& client, std::string_view email,
                                            std::string_view typed_code, pp::JoiningDevice device) {
  KW_ASSIGN_OR_RETURN(auto code, pp::NormalizeCode(typed_code));
  Json lookup = Json::object();
  lookup["email"] = Str(email);
  KW_ASSIGN_OR_RETURN(auto offer, client.CallJson("POST", "/v1/pairings/lookup", lookup));
  pp::PairingIds ids;
  KW_ASSIGN_OR_RETURN(auto id, JsonString(offer, "id"));
  KW_ASSIGN_OR_RETURN(ids.account_id, JsonString(offer, "account_id"));
  KW_ASSIGN_OR_RETURN(ids.shown_device_id, JsonString(offer, "shown_device_id"));
  KW_ASSIGN_OR_RETURN(ids.joining_device_id, JsonString(offer, "joining_device_id"));
  KW_ASSIGN_OR_RETURN(auto ya, JsonBase64(offer, "ya"));
  auto sid = crypto::Base64UrlDecode(id);
  if (!sid || sid->size() != pp::kSidSize) return Fail(BadAnswer("id"));
  ids.sid = std::move(*sid);
  KW_ASSIGN_OR_RETURN(auto side, pp::JoiningSide::Answer(ids, code, device, ya));
  crypto::Bytes claim = crypto::RandomBytes(kClaimSize);
  Json body = Json::object();
  body["yb"] = B64(side.message());
  body["tb"] = B64(side.confirmation());
  Json dev = Json::object();
  dev["name"] = Str(device.name);
  dev["type"] = Str(device.type);
  body["device"] = std::move(dev);
  body["claim"] = B64(claim);
  KW_ASSIGN_OR_RETURN(auto r, client.CallJson("POST", PairingPath(id, "answer"), body));
  (void)r;
  PairingJoiner joiner(client, std::move(side), std::move(ids), std::move(id), std::move(claim));
  if (auto n = JsonInt(offer, "expires_in")) joiner.expires_in_ = *n;
  return joiner;
}

Result<std::optional<PairedSession>> PairingJoiner::Poll() {
  Json body = Json::object();
  body["claim"] = B64(claim_);
  if (!sso_tickets_.empty()) {
    Json tickets = Json::array();
    for (const auto& t : sso_tickets_) tickets.push_back(Str(t));
    body["sso_tickets"] = std::move(tickets);
  }
  KW_ASSIGN_OR_RETURN(auto r, client_->CallJson("POST", PairingPath(id_, "pickup"), body));
  KW_ASSIGN_OR_RETURN(auto state, JsonString(r, "state"));
  if (state == "answered") return std::optional<PairedSession>();
  if (state != "done") return Fail(BadAnswer("state"));
  pp::Release release;
  KW_ASSIGN_OR_RETURN(release.confirmation, JsonBase64(r, "ta"));
  KW_ASSIGN_OR_RETURN(release.payload, JsonBase64(r, "payload"));
  // Ta first: a server that did not relay the signed-in device's answer
  // gets no further than this.
  KW_ASSIGN_OR_RETURN(auto uk, side_.Receive(release));
  PairedSession s{"", "", "", Account{}, std::move(uk)};
  KW_ASSIGN_OR_RETURN(s.token, JsonString(r, "token"));
  if (auto e = JsonString(r, "expires_at")) s.expires_at = *e;
  KW_ASSIGN_OR_RETURN(s.device_id, JsonString(r, "device_id"));
  if (!r.contains("account")) return Fail(BadAnswer("account"));
  KW_ASSIGN_OR_RETURN(s.account, ParseAccount(r["account"]));
  // The session must be the one this pairing was made for.
  if (s.device_id != ids_.joining_device_id || s.account.id != ids_.account_id) {
    return Fail(BadAnswer("another account or device"));
  }
  return std::optional<PairedSession>(std::move(s));
}

}  // namespace keyward::client
