// keyward device list | remove | trust | untrust | pair-show | pair | request |
// request-status | request-finish
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "cli/member_paths.h"
#include "cli/org_session.h"
#include "cli/qr.h"
#include "cli/sso_signin.h"
#include "common/try.h"
#include "keyward/device_request.h"
#include "keyward/pairing.h"

namespace keyward::cli {
namespace {

Status List(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto devices, c.ListDevices());
  if (ctx.json()) {
    client::Json arr = client::Json::array();
    for (const auto& d : devices) {
      client::Json j = client::Json::object();
      j["id"] = client::Str(d.id);
      j["name"] = client::Str(d.name);
      j["type"] = client::Str(d.type);
      j["first_seen"] = client::Str(d.first_seen);
      j["last_seen"] = client::Str(d.last_seen);
      j["active"] = d.active;
      j["current"] = d.current;
      j["trusted"] = d.trusted;
      arr.push_back(std::move(j));
    }
    client::Json j = client::Json::object();
    j["devices"] = std::move(arr);
    ctx.OutJson(j);
    return {};
  }
  size_t w_id = 2, w_name = 4;
  for (const auto& d : devices) {
    w_id = std::max(w_id, d.id.size());
    w_name = std::max(w_name, d.name.size());
  }
  ctx.Out(fmt::format("  {:<{}}  {:<{}}  {:<7}  {:<8}  {}", "ID", w_id, "NAME", w_name, "TYPE",
                      "STATE", "LAST SEEN"));
  for (const auto& d : devices) {
    ctx.Out(fmt::format("{} {:<{}}  {:<{}}  {:<7}  {:<8}  {}", d.current ? '*' : ' ', d.id, w_id,
                        d.name, w_name, d.type,
                        !d.active   ? "removed"
                        : d.trusted ? "trusted"
                                    : "active",
                        d.last_seen));
  }
  return {};
}

Status Remove(Context& ctx, const std::string& id) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_TRY(c.RemoveDevice(id));
  if (id == profile.device_id) {
    // This device's own session has just ended, and it is trusted no more.
    profile.token.clear();
    profile.protected_vault_key.clear();
    profile.trusted_device_secret.clear();
    KW_TRY(ctx.SaveProfile(profile));
  }
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("removed");
    j["id"] = client::Str(id);
    ctx.OutJson(j);
  } else {
    ctx.Out(fmt::format("Removed device {}; its sessions have ended.", id));
  }
  return {};
}

// This device becomes a trusted device (docs/sso.md "Trusted devices"): a
// fresh secret wraps the vault key, the server keeps the wrapped copy and
// the signing key, the profile keeps the secret.
Status Trust(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto uk, ctx.VaultKey(c, profile));
  KW_ASSIGN_OR_RETURN(profile.trusted_device_secret,
                      c.TrustThisDevice(profile.account_id, profile.device_id, uk));
  KW_TRY(ctx.SaveProfile(profile));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("trusted");
    j["id"] = client::Str(profile.device_id);
    ctx.OutJson(j);
  } else {
    ctx.Out(fmt::format(
        "This device ({}) is now trusted: 'keyward login --email {} --sso ORG --trusted-device' "
        "logs in here without the master password.",
        profile.device_id, profile.email));
  }
  return {};
}

// Drops a device's wrapped vault key (this one by default).
Status Untrust(Context& ctx, const std::string& id_flag) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  const std::string id = id_flag.empty() ? profile.device_id : id_flag;
  KW_TRY(c.UntrustDevice(id));
  if (id == profile.device_id) {
    profile.trusted_device_secret.clear();
    KW_TRY(ctx.SaveProfile(profile));
  }
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("untrusted");
    j["id"] = client::Str(id);
    ctx.OutJson(j);
  } else {
    ctx.Out(fmt::format("Device {} is no longer trusted; its copy of the vault key is gone.", id));
  }
  return {};
}

// How often both devices ask the server during a pairing, and how long the
// new device waits past the code's lifetime for the signed-in one's answer.
constexpr auto kPairingPoll = std::chrono::milliseconds(500);
constexpr int64_t kPairingGrace = 30;

// "123456" -> "123 456", easier to read out and type.
crypto::SecureBytes Spaced(const crypto::SecureBytes& code) {
  crypto::SecureBytes out(code.size() + 1);
  for (size_t i = 0, j = 0; i < code.size(); ++i) {
    if (i == 3) out.data()[j++] = ' ';
    out.data()[j++] = code.data()[i];
  }
  return out;
}

Error PairingError(const Error& e) {
  const std::string& c = e.code();
  if (c == "pair.wrong_code") {
    return Error(e.kind(), c,
                 "the code typed on the new device was wrong; this pairing is closed (one try "
                 "per code): run 'keyward device pair-show' again for a new code");
  }
  if (c == "pair.expired") {
    return Error(e.kind(), c,
                 "the pairing code expired; run 'keyward device pair-show' on the signed-in "
                 "device for a new one");
  }
  if (c == "pair.closed") {
    return Error(e.kind(), c,
                 "the pairing was closed (a wrong code, or the signed-in device said no); start "
                 "again with 'keyward device pair-show'");
  }
  return Explain(e);
}

// On the signed-in device: show a code, wait for the new device's answer,
// ask the user, release the vault key.
Status PairShow(Context& ctx, bool qr) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto uk, ctx.VaultKey(c, profile));
  auto started = client::PairingShower::Start(c, profile.account_id, profile.device_id);
  if (!started) return Fail(PairingError(started.error()));
  client::PairingShower& shower = *started;
  const crypto::SecureBytes shown = Spaced(shower.code());
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("waiting");
    j["id"] = client::Str(shower.id());
    j["code"] = client::Json(client::ToSecretString(shower.code()));
    j["expires_at"] = client::Str(shower.expires_at());
    ctx.OutJson(j);
  } else {
    client::SecretString line = client::ToSecretString("Pairing code: ");
    line.append(shown.view().data(), shown.size());
    ctx.OutSecret(client::ToSecureBytes(line));
    if (qr) {
      KW_ASSIGN_OR_RETURN(auto drawing, RenderQr(shower.code()));
      ctx.OutSecret(drawing);
    }
    ctx.Out(fmt::format("On the new device run: keyward device pair --email {}", profile.email));
    ctx.Out(fmt::format("The code works once, for {} seconds.", shower.expires_in()));
  }
  std::fflush(stdout);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(shower.expires_in() + 1);
  std::optional<client::PairingAnswerInfo> answer;
  while (!answer) {
    if (std::chrono::steady_clock::now() > deadline) {
      (void)shower.Close();
      return Fail(PairingError(Error::Gone("pair.expired", "expired")));
    }
    std::this_thread::sleep_for(kPairingPoll);
    auto polled = shower.Poll();
    if (!polled) return Fail(PairingError(polled.error()));
    answer = std::move(*polled);
  }
  const std::string from =
      answer->remote_address.empty() ? "" : fmt::format(" from {}", answer->remote_address);
  // Said on stdout too, so that whoever answers from a script sees who asks.
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("answered");
    j["device_name"] = client::Str(answer->device_name);
    j["device_type"] = client::Str(answer->device_type);
    j["remote_address"] = client::Str(answer->remote_address);
    ctx.OutJson(j);
  } else {
    ctx.Out(fmt::format("A new device typed the code: '{}' ({}){}.", answer->device_name,
                        answer->device_type, from));
  }
  std::fflush(stdout);
  auto yes = ctx.prompt().Confirm(fmt::format("Pair '{}'{}?", answer->device_name, from));
  if (!yes || !*yes) {
    (void)shower.Close();
    if (!yes) return Fail(yes.error());
    return Fail(Error::PermissionDenied("cli.pairing_declined", "not paired (you said no)"));
  }
  if (auto st = shower.Release(uk); !st) return Fail(PairingError(st.error()));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("released");
    j["device_name"] = client::Str(answer->device_name);
    ctx.OutJson(j);
  } else {
    ctx.Out(
        fmt::format("Paired '{}': it has its own session and this vault.", answer->device_name));
  }
  return {};
}

// On the new device: the code, the wait, then a session of its own.
Status Pair(Context& ctx, const std::string& email, const std::string& device_name,
            const SsoOptions& sso) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  profile.token.clear();  // whatever session this profile had is not used here
  client::Client c = ctx.MakeClient(profile);
  // An organization that requires single sign-on: the provider first (its
  // tickets go with the pickup).
  KW_ASSIGN_OR_RETURN(auto tickets, SignInAtProviders(ctx, c, sso));
  KW_ASSIGN_OR_RETURN(auto code, ctx.prompt().Line("Pairing code shown on the signed-in device: "));
  protocol::pairing::JoiningDevice device{device_name.empty() ? HostName() : device_name, "cli"};
  auto answered = client::PairingJoiner::Answer(c, email, code.view(), device);
  if (!answered) return Fail(PairingError(answered.error()));
  answered->set_sso_tickets(std::move(tickets));
  // On a terminal only: a failure stays the one line a script reads.
  if (::isatty(STDERR_FILENO)) ctx.Hint("Waiting for the signed-in device to confirm...");
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(answered->expires_in() + kPairingGrace);
  std::optional<client::PairedSession> session;
  while (!session) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Fail(PairingError(Error::Gone("pair.expired", "expired")));
    }
    std::this_thread::sleep_for(kPairingPoll);
    auto polled = answered->Poll();
    if (!polled) return Fail(PairingError(polled.error()));
    session = std::move(*polled);
  }
  profile.server_url = c.server_url();
  profile.email = session->account.email;
  profile.account_id = session->account.id;
  profile.device_id = session->device_id;
  profile.device_name = device.name;
  profile.token = session->token;
  client::Json extra = client::Json::object();
  extra["status"] = client::Str("paired");
  extra["email"] = client::Str(profile.email);
  extra["account_id"] = client::Str(profile.account_id);
  extra["device_id"] = client::Str(profile.device_id);
  extra["expires_at"] = client::Str(session->expires_at);
  KW_TRY(ctx.StartSession(profile, session->vault_key, std::move(extra)));
  ctx.Hint(fmt::format(
      "Paired as {}. If you forgot your master password, set a new one now: keyward account "
      "password --forgotten",
      profile.email));
  return {};
}

// ---- a new device asks the recovery admins (docs/sso.md) ----

Status OneSsoOrg(const SsoOptions& sso) {
  if (sso.orgs.size() != 1) {
    return Fail(Error::InvalidArgument(
        "cli.usage", "give the organization whose provider you sign in at: --sso ORG (once)"));
  }
  return {};
}

Result<client::PendingDeviceRequest> PendingRequest(const client::Profile& profile) {
  if (!profile.device_request) {
    return Fail(Error::InvalidArgument(
        "cli.no_device_request",
        "this device has no device request; make one with: keyward device request --sso ORG"));
  }
  return *profile.device_request;
}

// On the new device: the provider, then the request; the fingerprint to
// read to the admins.
Status Request(Context& ctx, const std::string& device_name, const SsoOptions& sso) {
  KW_TRY(OneSsoOrg(sso));
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  profile.token.clear();  // a new device: no session here yet
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto tickets, SignInAtProviders(ctx, c, sso));
  client::DeviceIdentity device;
  device.id = profile.device_id.empty() ? client::NewItemId() : profile.device_id;
  device.name = !device_name.empty()           ? device_name
                : !profile.device_name.empty() ? profile.device_name
                                               : HostName();
  KW_ASSIGN_OR_RETURN(auto made,
                      client::MakeDeviceRequest(c, tickets.front(), sso.orgs.front(), device));
  profile.server_url = c.server_url();
  profile.device_id = device.id;
  profile.device_name = device.name;
  profile.protected_vault_key.clear();
  profile.device_request = made.pending;
  KW_TRY(ctx.SaveProfile(profile));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["request_id"] = client::Str(made.pending.request_id);
    j["status"] = client::Str("pending");
    j["org_name"] = client::Str(made.org_name);
    j["expires_at"] = client::Str(made.expires_at);
    j["fingerprint"] = client::Str(made.fingerprint);
    ctx.OutJson(j);
    return {};
  }
  ctx.Out(fmt::format("Device request {} sent to the recovery admins of {} (open until {}).",
                      made.pending.request_id, made.org_name, made.expires_at));
  ctx.Out(fmt::format("This device's fingerprint: {}", made.fingerprint));
  ctx.Out(
      "Read it to the admin who approves (in person or by phone); they approve only with it. "
      "Once approved, run: keyward device request-finish --sso " +
      sso.orgs.front());
  return {};
}

Status RequestStatus(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  KW_ASSIGN_OR_RETURN(auto pending, PendingRequest(profile));
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto st, client::DeviceRequestState(c, pending));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["request_id"] = client::Str(pending.request_id);
    j["status"] = client::Str(st.status);
    j["approvals"] = st.approvals;
    j["quorum"] = st.quorum;
    j["expires_at"] = client::Str(st.expires_at);
    j["decline_reason"] = client::Str(st.decline_reason);
    ctx.OutJson(j);
    return {};
  }
  std::string line = fmt::format("Device request {}: {}", pending.request_id,
                                 client::RequestStatusText(st.status));
  if (st.status == "pending") {
    line +=
        fmt::format(" ({} of {} approvals; open until {})", st.approvals, st.quorum, st.expires_at);
  } else if (st.status == "approved") {
    line += fmt::format(" (finish before {}: keyward device request-finish --sso {})",
                        st.expires_at, pending.org_id);
  } else if (st.status == "declined") {
    line += fmt::format(". Reason: {}", st.decline_reason);
  }
  ctx.Out(line);
  return {};
}

// Once approved: the vault key, checked against the organization's key the
// member confirmed; this device trusted; then a login through the provider.
Status RequestFinish(Context& ctx, const std::string& org_fingerprint, const SsoOptions& sso) {
  KW_TRY(OneSsoOrg(sso));
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  KW_ASSIGN_OR_RETURN(auto pending, PendingRequest(profile));
  if (sso.orgs.front() != pending.org_id) {
    return Fail(Error::InvalidArgument(
        "cli.usage", fmt::format("this device's request is for organization {}: --sso {}",
                                 pending.org_id, pending.org_id)));
  }
  std::optional<std::string> expected;
  if (!org_fingerprint.empty()) {
    expected = NormalizeFingerprint(org_fingerprint);
    if (!expected)
      return Fail(Error::InvalidArgument("cli.usage", "--org-fingerprint: 40 hex digits"));
  }
  client::Client c = ctx.MakeClient(profile);
  const protocol::OrgPin* pin = nullptr;
  if (auto it = profile.org_pins.find(pending.org_id); it != profile.org_pins.end()) {
    pin = &it->second;
  }
  auto confirm = [&](const client::UnvouchedOrg& org) -> Result<bool> {
    if (expected) {
      if (*expected != org.signing_fingerprint) {
        return Fail(Error::PermissionDenied(
            "org.fingerprint_mismatch",
            fmt::format("the organization's signing key fingerprint is {}, not the one given: "
                        "nothing was done",
                        org.signing_fingerprint)));
      }
      return true;
    }
    return ConfirmFingerprintOrNo(
        ctx,
        fmt::format("Organization {} signs with a key of fingerprint {}. Is it the one your "
                    "administrator gave you?",
                    org.name.empty() ? org.org_id : org.name, org.signing_fingerprint),
        "--org-fingerprint FP");
  };
  KW_ASSIGN_OR_RETURN(
      auto done, client::FinishDeviceRequest(c, pending, profile.device_id, "cli", pin, confirm));
  // Kept before the login: a login that fails leaves a trusted device that
  // logs in later with 'keyward login --trusted-device'.
  const client::Profile before = profile;
  profile.server_url = c.server_url();
  profile.email = done.email;
  profile.account_id = done.account_id;
  profile.trusted_device_secret = done.trusted_device_secret;
  profile.org_pins[pending.org_id] = done.pin;
  profile.device_request.reset();
  profile.token.clear();
  KW_TRY(ctx.SaveProfile(profile));
  ctx.Hint(
      fmt::format("This device is now a trusted device of {}; logging in through the "
                  "provider.",
                  done.email));
  KW_ASSIGN_OR_RETURN(auto tickets, SignInAtProviders(ctx, c, sso));
  return TrustedDeviceLogin(ctx, c, profile, before, done.email, tickets);
}

}  // namespace

Status PairThisDevice(Context& ctx, const std::string& email, const std::string& device_name) {
  return Pair(ctx, email, device_name, SsoOptions{});
}

void AddDeviceCommands(CLI::App& app, Action* action) {
  auto* device = app.add_subcommand("device", "Devices signed in to the account");
  device->require_subcommand(1);
  device->add_subcommand("list", "List devices (* marks this one)")->callback([=] {
    *action = List;
  });
  auto id = std::make_shared<std::string>();
  auto* remove = device->add_subcommand("remove", "Remove a device and end its sessions");
  remove->add_option("ID", *id, "Device id")->required();
  remove->callback([=] { *action = [=](Context& c) { return Remove(c, *id); }; });

  device
      ->add_subcommand("trust",
                       "Make this device a trusted device: with single sign-on it logs in "
                       "without the master password")
      ->callback([=] { *action = Trust; });
  auto untrust_id = std::make_shared<std::string>();
  auto* untrust = device->add_subcommand(
      "untrust", "Drop a device's copy of the vault key (this device by default)");
  untrust->add_option("ID", *untrust_id, "Device id");
  untrust->callback([=] { *action = [=](Context& c) { return Untrust(c, *untrust_id); }; });

  auto qr = std::make_shared<bool>(false);
  auto* show = device->add_subcommand(
      "pair-show", "Show a 6-digit code to pair a new device with this one (2 minutes, one try)");
  show->add_flag("--qr", *qr, "Also draw the code as a QR code");
  show->callback([=] { *action = [=](Context& c) { return PairShow(c, *qr); }; });

  auto email = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto* pair = device->add_subcommand(
      "pair", "Pair this device with a signed-in one: type the code it shows");
  pair->add_option("--email", *email, "The account's email")->required();
  pair->add_option("--device-name", *name, "This device's name [host name]");
  auto sso = std::make_shared<SsoOptions>();
  AddSsoOptions(pair, *sso);
  pair->callback([=] { *action = [=](Context& c) { return Pair(c, *email, *name, *sso); }; });

  auto request_name = std::make_shared<std::string>();
  auto request_sso = std::make_shared<SsoOptions>();
  auto* request = device->add_subcommand(
      "request",
      "Every trusted device lost: sign in through the provider and ask the organization's "
      "recovery admins to let this device open the vault");
  request->add_option("--device-name", *request_name, "This device's name [host name]");
  AddSsoOptions(request, *request_sso);
  request->callback(
      [=] { *action = [=](Context& c) { return Request(c, *request_name, *request_sso); }; });
  device->add_subcommand("request-status", "The status of this device's request")->callback([=] {
    *action = RequestStatus;
  });
  auto org_fp = std::make_shared<std::string>();
  auto finish_sso = std::make_shared<SsoOptions>();
  auto* finish = device->add_subcommand(
      "request-finish",
      "Once approved: open the vault key on this device, make it trusted and log in");
  finish->add_option("--org-fingerprint", *org_fp,
                     "The organization's signing key fingerprint, from your administrator (asked "
                     "for when omitted and this device has no pin)");
  AddSsoOptions(finish, *finish_sso);
  finish->callback(
      [=] { *action = [=](Context& c) { return RequestFinish(c, *org_fp, *finish_sso); }; });
}

}  // namespace keyward::cli
