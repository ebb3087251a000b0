#include "cli/org_session.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <fmt/format.h>

#include "common/try.h"

namespace keyward::cli {
namespace {

client::MemberKeys ThrowawayKeys(const std::string& account_id) {
  return client::MemberKeys{account_id, crypto::GenerateBoxKeyPair()};
}

}  // namespace

OrgSession::OrgSession(client::Profile profile, client::Client client)
    : profile_(std::move(profile)),
      client_(std::move(client)),
      vault_key_(crypto::VaultKey::Random()) {
  org_.emplace(client_, vault_key_, ThrowawayKeys(profile_.account_id));
}

Result<std::unique_ptr<OrgSession>> OrgSession::Open(Context& ctx, bool with_keys) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  std::unique_ptr<OrgSession> s(new OrgSession(std::move(profile), std::move(c)));
  if (with_keys) {
    KW_TRY(s->UnlockKeys(ctx));
  }
  return s;
}

Status OrgSession::UnlockKeys(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto uk, ctx.VaultKey(client_, profile_));
  KW_ASSIGN_OR_RETURN(auto account, client_.GetAccount());
  return UseKeys(std::move(uk), account);
}

Status OrgSession::UseKeys(crypto::VaultKey vault_key, const client::Account& account) {
  KW_ASSIGN_OR_RETURN(auto keys, client::UnwrapMemberKeys(vault_key, account.id, account.public_key,
                                                          account.wrapped_private_key));
  org_.reset();  // it refers to vault_key_
  vault_key_ = std::move(vault_key);
  org_.emplace(client_, vault_key_, std::move(keys));
  return {};
}

Result<crypto::AuthKey> OrgSession::RecheckPassword(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto password, ctx.prompt().Password("Master password: "));
  KW_ASSIGN_OR_RETURN(auto unlocked, client_.UnlockWithPassword(password));
  KW_TRY(UseKeys(std::move(unlocked.vault_key), unlocked.account));
  return std::move(unlocked.keys.auth);
}

Result<client::Org> OrgSession::ResolveOrg(std::string_view flag) {
  KW_ASSIGN_OR_RETURN(auto orgs, org_->List());
  if (!flag.empty()) {
    for (auto& o : orgs) {
      if (o.id == flag) return std::move(o);
    }
    std::vector<const client::Org*> named;
    for (const auto& o : orgs) {
      if (Lower(o.name) == Lower(flag)) named.push_back(&o);
    }
    if (named.size() == 1) return *named.front();
    if (named.size() > 1) {
      return Fail(Error::InvalidArgument(
          "cli.ambiguous_org",
          fmt::format("several of your organizations are named '{}'; give its id with --org "
                      "(see 'keyward org list')",
                      flag)));
    }
    return Fail(Error::NotFound(
        "org.not_found",
        fmt::format("you are not a member of an organization '{}' (see 'keyward org list')",
                    flag)));
  }
  if (orgs.size() == 1) return std::move(orgs.front());
  if (orgs.empty()) {
    return Fail(Error::NotFound("org.none",
                                "you are not a member of any organization; create one with "
                                "'keyward org create NAME' or join with 'keyward org join TOKEN'"));
  }
  std::string names;
  for (const auto& o : orgs) {
    if (!names.empty()) names += ", ";
    names += fmt::format("{} ({})", o.name, o.id);
  }
  return Fail(Error::InvalidArgument(
      "cli.usage", fmt::format("you belong to {} organizations: choose one with --org ID_OR_NAME "
                               "(one of {})",
                               orgs.size(), names)));
}

Result<client::VerifiedOrg> OrgSession::VerifyPinned(Context& ctx, const client::Org& org) {
  auto pin = profile_.org_pins.find(org.id);
  if (pin == profile_.org_pins.end()) {
    return Fail(Error::Conflict(
        "org.not_pinned",
        fmt::format("this device has not pinned the signing key of '{}'; compare its fingerprint "
                    "with an owner, then run 'keyward org trust {} --fingerprint FP'",
                    org.name, org.id)));
  }
  KW_ASSIGN_OR_RETURN(auto verified, org_->Verify(org.id, pin->second));
  if (verified.next_pin.version != pin->second.version ||
      verified.next_pin.signing_public_key != pin->second.signing_public_key) {
    pin->second = verified.next_pin;
    KW_TRY(ctx.SaveProfile(profile_));
  }
  return verified;
}

Result<client::VerifiedOrg> OrgSession::ResolveVerified(Context& ctx, std::string_view flag) {
  KW_ASSIGN_OR_RETURN(auto org, ResolveOrg(flag));
  return VerifyPinned(ctx, org);
}

Result<client::OrgMember> OrgSession::Member(std::string_view org_id,
                                             std::string_view id_or_email) {
  return org_->FindMember(org_id, id_or_email);
}

Result<std::vector<client::EscrowForOrg>> FreshEscrowsFor(client::Client& client,
                                                          const crypto::VaultKey& vault_key,
                                                          const client::Account& account,
                                                          const client::Profile& profile) {
  KW_ASSIGN_OR_RETURN(auto keys, client::UnwrapMemberKeys(vault_key, account.id, account.public_key,
                                                          account.wrapped_private_key));
  client::OrgClient org(client, vault_key, std::move(keys));
  return org.FreshEscrows(profile.org_pins);
}

std::string FormatTime(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<int64_t> ParseTime(std::string_view text, std::string_view option) {
  auto bad = [&] {
    return Fail(Error::InvalidArgument(
        "cli.usage",
        fmt::format("{} wants an RFC 3339 time such as 2026-11-21T21:20:00Z", option)));
  };
  std::string s(text);
  std::tm tm{};
  const char* rest = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return bad();
  if (*rest == '.') {
    ++rest;
    if (!std::isdigit(static_cast<unsigned char>(*rest))) return bad();
    while (std::isdigit(static_cast<unsigned char>(*rest))) ++rest;
  }
  int64_t offset = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int sign = *rest == '+' ? 1 : -1;
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2 || std::string_view(rest).size() != 6) {
      return bad();
    }
    offset = sign * (hh * 3600 + mm * 60);
    rest += 6;
  } else {
    return bad();
  }
  if (*rest != '\0') return bad();
  return static_cast<int64_t>(::timegm(&tm)) - offset;
}

void PrintTable(Context& ctx, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    ctx.Out(line);
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string RoleText(std::string_view role, std::string_view permissions) {
  if (permissions.empty()) return std::string(role);
  return fmt::format("{} ({})", role, permissions);
}

std::string EnrollmentText(const client::Enrollment& e) {
  if (!e.enrolled()) return "not enrolled";
  return fmt::format("enrolled (epoch {}, key v{})", e.epoch, e.key_version);
}

client::Json EnrollmentJson(const client::Enrollment& e) {
  client::Json j = client::Json::object();
  j["state"] = client::Str(e.state);
  j["epoch"] = e.epoch;
  j["key_version"] = e.key_version;
  return j;
}

client::Json PolicyJson(const protocol::RecoveryPolicy& p) {
  client::Json j = client::Json::object();
  j["enrollment"] = client::Str(protocol::EnrollmentName(p.enrollment));
  j["mode"] = client::Str(protocol::RecoveryModeName(p.mode));
  j["quorum"] = p.quorum;
  j["link_ttl"] = p.link_ttl;
  j["pending_ttl"] = p.pending_ttl;
  client::Json notify = client::Json::array();
  for (const auto& n : p.notify) notify.push_back(client::Str(n));
  j["notify"] = std::move(notify);
  j["pairing_reset"] = client::Str(p.pairing_reset ? "allow" : "deny");
  j["snapshot_keep"] = p.snapshot_keep;
  j["sso"] = client::Str(p.require_sso ? "required" : "optional");
  return j;
}

client::Json OrgJson(const client::Org& o) {
  client::Json j = client::Json::object();
  j["id"] = client::Str(o.id);
  j["name"] = client::Str(o.name);
  j["role"] = client::Str(o.role);
  j["permissions"] = client::Str(o.permissions);
  j["status"] = client::Str(o.status);
  j["key_version"] = o.key_version;
  j["statement_version"] = o.statement_version;
  j["policy"] = PolicyJson(o.policy);
  j["enrollment"] = EnrollmentJson(o.enrollment);
  j["created_at"] = client::Str(o.created_at);
  return j;
}

void PrintPolicy(Context& ctx, const protocol::RecoveryPolicy& p) {
  ctx.Out(fmt::format("enrollment:               {}", protocol::EnrollmentName(p.enrollment)));
  ctx.Out(fmt::format("mode:                     {}", protocol::RecoveryModeName(p.mode)));
  ctx.Out(fmt::format("approvals needed:         {}", p.quorum));
  ctx.Out(fmt::format("link lifetime:            {}", protocol::FormatDuration(p.link_ttl)));
  ctx.Out(fmt::format("pending lifetime:         {}", protocol::FormatDuration(p.pending_ttl)));
  std::string notify;
  for (const auto& n : p.notify) notify += (notify.empty() ? "" : ", ") + n;
  ctx.Out(fmt::format("notify:                   {}",
                      notify.empty() ? "every recovery admin" : notify));
  ctx.Out(fmt::format("pairing reset:            {}",
                      p.pairing_reset ? "allow (a newly paired device may set a new master "
                                        "password without the old one)"
                                      : "deny (setting a new master password needs the old one)"));
  ctx.Out(fmt::format("cloud backups kept per member: {}", p.snapshot_keep));
  ctx.Out(fmt::format("single sign-on:           {}",
                      p.require_sso ? "required (members sign in through the identity provider; "
                                      "owners may still use the master password alone)"
                                    : "optional"));
}

Status ConfirmOrCancel(Context& ctx, std::string_view question, std::string_view nothing_done) {
  KW_ASSIGN_OR_RETURN(auto yes, ctx.prompt().Confirm(question));
  if (!yes) {
    return Fail(
        Error::InvalidArgument("cli.cancelled", fmt::format("cancelled; {}", nothing_done)));
  }
  return {};
}

Result<bool> ConfirmFingerprintOrNo(Context& ctx, std::string_view question,
                                    std::string_view flag_hint) {
  auto yes = ctx.prompt().ConfirmFingerprint(question, flag_hint);
  if (!yes && (yes.error().code() == "cli.fingerprint_unconfirmed" ||
               yes.error().code() == "cli.no_input")) {
    return false;
  }
  return yes;
}

Status ConfirmFingerprintOrCancel(Context& ctx, std::string_view question,
                                  std::string_view nothing_done) {
  KW_ASSIGN_OR_RETURN(auto yes, ctx.prompt().ConfirmFingerprint(question, "--fingerprint FP"));
  if (!yes) {
    return Fail(
        Error::InvalidArgument("cli.cancelled", fmt::format("cancelled; {}", nothing_done)));
  }
  return {};
}

}  // namespace keyward::cli
