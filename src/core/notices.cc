#include "core/notices.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace keyward::core::notices {

namespace {

constexpr std::string_view kSignature = "\n-- \nKeyward\n";

mail::Message Make(std::string_view to, std::string subject, std::string body) {
  return mail::Message{std::string(to), std::move(subject),
                       std::move(body) + std::string(kSignature)};
}

}  // namespace

mail::Message VerificationCode(std::string_view to, std::string_view code, int64_t ttl_minutes) {
  return Make(to, "Your Keyward verification code",
              fmt::format("Enter this code to confirm your email address for Keyward:\n"
                          "\n"
                          "{}\n"
                          "\n"
                          "The code works once and expires in {} minutes.\n"
                          "If you did not create a Keyward account, ignore this email.\n",
                          code, ttl_minutes));
}

mail::Message AlreadyRegistered(std::string_view to, std::string_view public_url) {
  return Make(to, "Someone tried to register your email on Keyward",
              fmt::format("Someone tried to create a Keyward account with this email address,\n"
                          "but you already have one. No account was created or changed.\n"
                          "\n"
                          "If it was you, log in at {} instead.\n"
                          "If you forgot your master password, ask your organization for\n"
                          "account recovery. If it was not you, no action is needed.\n",
                          public_url));
}

mail::Message NewDevice(std::string_view to, std::string_view device_name,
                        std::string_view device_type, int64_t when) {
  return Make(
      to, "New device signed in to Keyward",
      fmt::format("A new device signed in to your Keyward account:\n"
                  "\n"
                  "  device: {} ({})\n"
                  "  time:   {}\n"
                  "\n"
                  "If this was you, nothing to do. If not, change your master password\n"
                  "now and remove the device (keyward device list, keyward device remove).\n",
                  device_name, device_type, FormatRfc3339(when)));
}

mail::Message PasswordChanged(std::string_view to, int64_t when) {
  return Make(to, "Your Keyward master password was changed",
              fmt::format("The master password of your Keyward account was changed at {}.\n"
                          "Every other device was signed out.\n"
                          "\n"
                          "If you did not do this, contact your organization's administrator\n"
                          "at once and ask for account recovery.\n",
                          FormatRfc3339(when)));
}

mail::Message TwoFactorEnabled(std::string_view to, int64_t when) {
  return Make(to, "Two-step login is on for your Keyward account",
              fmt::format("Two-step login (authenticator app) was turned on at {}.\n"
                          "Keep your recovery codes somewhere safe: each works once if you\n"
                          "lose the authenticator.\n"
                          "\n"
                          "If you did not do this, change your master password now.\n",
                          FormatRfc3339(when)));
}

mail::Message TwoFactorDisabled(std::string_view to, int64_t when) {
  return Make(to, "Two-step login is off for your Keyward account",
              fmt::format("Two-step login was turned off at {}.\n"
                          "\n"
                          "If you did not do this, change your master password and turn\n"
                          "two-step login back on.\n",
                          FormatRfc3339(when)));
}

mail::Message AccountDeleted(std::string_view to, int64_t when) {
  return Make(to, "Your Keyward account was deleted",
              fmt::format("Your Keyward account and every item in it were deleted for good at {}.\n"
                          "This email address may be used to register again.\n",
                          FormatRfc3339(when)));
}

mail::Message PasswordResetByAdmin(std::string_view to, std::string_view org_name, int64_t when) {
  return Make(to, "Your Keyward master password was reset by an administrator",
              fmt::format("Your master password was reset by an administrator of the\n"
                          "organization \"{}\" at {}, through account recovery.\n"
                          "Every device was signed out. Your administrator will give you a\n"
                          "temporary master password: log in with it, and you will be asked\n"
                          "to choose a new one before anything else. Two-step login, if you\n"
                          "use it, stays on.\n"
                          "\n"
                          "If you did not ask for this, contact your organization at once.\n",
                          org_name, FormatRfc3339(when)));
}

mail::Message TwoFactorResetByAdmin(std::string_view to, std::string_view org_name, int64_t when) {
  return Make(to, "Your Keyward two-step login was reset",
              fmt::format("Your two-step login was reset (turned off) by an administrator of\n"
                          "the organization \"{}\" at {}. Your recovery codes no longer work.\n"
                          "\n"
                          "Turn two-step login back on after you log in (keyward 2fa).\n"
                          "If you did not ask for this, change your master password and\n"
                          "contact your organization at once.\n",
                          org_name, FormatRfc3339(when)));
}

mail::Message OrgInvite(std::string_view to, std::string_view org_name, std::string_view role,
                        std::string_view token, std::string_view signing_fingerprint,
                        int64_t expires_at) {
  return Make(to, fmt::format("You are invited to the organization \"{}\" on Keyward", org_name),
              fmt::format("You are invited to join the organization \"{}\" on Keyward as {}.\n"
                          "\n"
                          "To accept, sign in with this email address and run:\n"
                          "\n"
                          "keyward org join {}\n"
                          "\n"
                          "Before accepting, check that the organization's signing key\n"
                          "fingerprint shown by keyward is exactly:\n"
                          "\n"
                          "  {}\n"
                          "\n"
                          "(ask an administrator of the organization to confirm it in person\n"
                          "or by phone). The invitation works once and expires at {}.\n"
                          "If you did not expect it, ignore this email.\n",
                          org_name, role, token, signing_fingerprint, FormatRfc3339(expires_at)));
}

mail::Message RemovedFromOrg(std::string_view to, std::string_view org_name, int64_t when) {
  return Make(to, "You were removed from a Keyward organization",
              fmt::format("An administrator removed you from the organization \"{}\" at {}.\n"
                          "Your own vault is unchanged; your account recovery enrollment in\n"
                          "this organization was deleted.\n",
                          org_name, FormatRfc3339(when)));
}

mail::Message OrgRoleChanged(std::string_view to, std::string_view org_name, std::string_view role,
                             int64_t when) {
  return Make(to, "Your role in a Keyward organization changed",
              fmt::format("An administrator changed your role in the organization \"{}\"\n"
                          "to {} at {}.\n",
                          org_name, role, FormatRfc3339(when)));
}

void SendBestEffort(mail::Mailer& mailer, const mail::Message& message, std::string_view kind) {
  if (auto s = mailer.Send(message); !s) {
    spdlog::warn("mail: could not send the {} notice ({})", kind, s.error().code());
  }
}

}  // namespace keyward::core::notices
