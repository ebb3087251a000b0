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

// A name someone typed (an organization's), for a body: control characters
// become spaces and double quotes become single ones, so that it can neither
// break a line nor end the quotes it stands in. Subjects never carry one.
std::string Name(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u == 0x7f) {
      out.push_back(' ');
    } else if (u == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out.push_back(' ');  // a C1 control character (U+0080..U+009F)
      ++i;
    } else if (u == '"') {
      out.push_back('\'');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
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

mail::Message DevicePaired(std::string_view to, std::string_view device_name,
                           std::string_view device_type, int64_t when) {
  return Make(to, "A new device was paired with your Keyward account",
              fmt::format("A new device was paired with your Keyward account from one of your\n"
                          "signed-in devices, with its 6-digit code:\n"
                          "\n"
                          "  device: {} ({})\n"
                          "  time:   {}\n"
                          "\n"
                          "If this was you, nothing to do. If not, remove the device now\n"
                          "(keyward device list, keyward device remove) and change your master\n"
                          "password.\n",
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

mail::Message RestartCode(std::string_view to, std::string_view code, int64_t ttl_minutes) {
  return Make(to, "Your code to start over with a new Keyward vault",
              fmt::format("Enter this code to start over with a new, EMPTY vault:\n"
                          "\n"
                          "{}\n"
                          "\n"
                          "Everything in your current vault will be deleted and every device\n"
                          "signed out. Your organizations stay. The code works once and\n"
                          "expires in {} minutes. If you did not ask for this, ignore this\n"
                          "email: nothing changes without the code.\n",
                          code, ttl_minutes));
}

mail::Message AccountRestarted(std::string_view to, int64_t when) {
  return Make(to, "Your Keyward account started over with a new vault",
              fmt::format("Your Keyward account started over at {} with a new master password\n"
                          "and an empty vault. The old vault was deleted, every device was\n"
                          "signed out, and your organizations' recovery setup for you was\n"
                          "reset (enroll again when asked). If this was not you, contact your\n"
                          "administrator at once.\n",
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
                          Name(org_name), FormatRfc3339(when)));
}

mail::Message TwoFactorResetByAdmin(std::string_view to, std::string_view org_name, int64_t when) {
  return Make(to, "Your Keyward two-step login was reset",
              fmt::format("Your two-step login was reset (turned off) by an administrator of\n"
                          "the organization \"{}\" at {}. Your recovery codes no longer work.\n"
                          "\n"
                          "Turn two-step login back on after you log in (keyward 2fa).\n"
                          "If you did not ask for this, change your master password and\n"
                          "contact your organization at once.\n",
                          Name(org_name), FormatRfc3339(when)));
}

mail::Message OrgInvite(std::string_view to, std::string_view org_name, std::string_view role,
                        std::string_view token, std::string_view signing_fingerprint,
                        int64_t expires_at) {
  return Make(to, "You are invited to an organization on Keyward",
              fmt::format("You are invited to join the organization \"{}\" on Keyward as {}.\n"
                          "\n"
                          "To accept, sign in with this email address and run:\n"
                          "\n"
                          "keyward org join {} --fingerprint \"{}\"\n"
                          "\n"
                          "The fingerprint is that of the organization's signing key:\n"
                          "\n"
                          "  {}\n"
                          "\n"
                          "keyward refuses to join if the key has another one. Ask an\n"
                          "administrator of the organization to confirm it in person or by\n"
                          "phone. The invitation works once and expires at {}.\n"
                          "If you did not expect it, ignore this email.\n",
                          Name(org_name), role, token, signing_fingerprint, signing_fingerprint,
                          FormatRfc3339(expires_at)));
}

mail::Message RecoveryModeChanged(std::string_view to, std::string_view org_name,
                                  std::string_view new_mode, int64_t when) {
  const bool admin_reset = new_mode == "admin-reset";
  return Make(
      to, "The account recovery policy of your Keyward organization changed",
      fmt::format("The owners of the organization \"{}\" changed its account recovery\n"
                  "mode to {} at {}.\n"
                  "\n"
                  "Your enrollment keeps the mode it was made under until you enroll\n"
                  "again. To enroll under the new policy, run:\n"
                  "\n"
                  "keyward recovery enroll\n"
                  "\n"
                  "{}",
                  Name(org_name), new_mode, FormatRfc3339(when),
                  admin_reset
                      ? "Under admin-reset, one administrator can reset your master password\n"
                        "and open your vault on their own. If you did not expect this change,\n"
                        "ask your organization before you enroll again.\n"
                      : "Under dual-control, no administrator can open your vault on their\n"
                        "own; this applies to your enrollment at once, and enrolling again\n"
                        "records it with your escrow.\n"));
}

mail::Message EnrollmentRequired(std::string_view to, std::string_view org_name, int64_t when) {
  return Make(to, "Account recovery enrollment is now required in your Keyward organization",
              fmt::format("The owners of the organization \"{}\" made account recovery\n"
                          "enrollment mandatory at {}. You are not enrolled yet: until you\n"
                          "are, nobody can help you if you forget your master password.\n"
                          "\n"
                          "To enroll, run:\n"
                          "\n"
                          "keyward recovery enroll\n",
                          Name(org_name), FormatRfc3339(when)));
}

mail::Message RemovedFromOrg(std::string_view to, std::string_view org_name, int64_t when) {
  return Make(to, "You were removed from a Keyward organization",
              fmt::format("An administrator removed you from the organization \"{}\" at {}.\n"
                          "Your own vault is unchanged; your account recovery enrollment in\n"
                          "this organization was deleted.\n",
                          Name(org_name), FormatRfc3339(when)));
}

mail::Message OrgRoleChanged(std::string_view to, std::string_view org_name, std::string_view role,
                             int64_t when) {
  return Make(to, "Your role in a Keyward organization changed",
              fmt::format("An administrator changed your role in the organization \"{}\"\n"
                          "to {} at {}.\n",
                          Name(org_name), role, FormatRfc3339(when)));
}

mail::Message RecoveryRequestCode(std::string_view to, std::string_view code, int64_t ttl_minutes,
                                  bool cancel) {
  return Make(to,
              cancel ? "Your code to cancel a Keyward recovery request"
                     : "Your Keyward account recovery code",
              fmt::format("Enter this code to {} your account recovery request:\n"
                          "\n"
                          "{}\n"
                          "\n"
                          "The code works once and expires in {} minutes.\n"
                          "If you did not ask for this, ignore this email and tell your\n"
                          "organization's administrator.\n",
                          cancel ? "cancel" : "confirm", code, ttl_minutes));
}

mail::Message RecoveryNotPossible(std::string_view to, std::string_view public_url) {
  return Make(to, "Keyward account recovery is not possible for your account",
              fmt::format("Someone asked to recover the Keyward account of this email address,\n"
                          "but the account is not enrolled in any organization's account\n"
                          "recovery, so nobody can recover it. Nothing was changed.\n"
                          "\n"
                          "If you still know your master password, log in at {} and enroll\n"
                          "(keyward recovery enroll). If you forgot it, your vault cannot be\n"
                          "opened by anyone; you may delete the account and start a new one.\n"
                          "If you did not ask for this, no action is needed.\n",
                          public_url));
}

mail::Message RecoveryRequested(std::string_view to, std::string_view org_name,
                                std::string_view member_email, int64_t when,
                                std::string_view device_name, std::string_view remote_address,
                                bool started_by_admin) {
  return Make(
      to,
      started_by_admin ? "Account recovery started on Keyward"
                       : "Account recovery request on Keyward",
      fmt::format("{} for a member of the organization \"{}\":\n"
                  "\n"
                  "  member:  {}\n"
                  "  time:    {}\n"
                  "  device:  {}\n"
                  "  address: {}\n"
                  "\n"
                  "Check with the member in person or by phone that the request is theirs,\n"
                  "then approve or decline it (keyward recovery list --status pending).\n",
                  started_by_admin ? "An administrator started account recovery"
                                   : "A new account recovery request was made",
                  Name(org_name), member_email, FormatRfc3339(when),
                  device_name.empty() ? "(not given)" : device_name, remote_address));
}

mail::Message RecoveryApproved(std::string_view to, std::string_view org_name,
                               int64_t link_expires_at) {
  return Make(to, "Your Keyward account recovery was approved",
              fmt::format("An administrator of the organization \"{}\" approved the recovery\n"
                          "of your Keyward account. The administrator gives you the recovery\n"
                          "link directly (it is never sent by Keyward); it works until {}.\n"
                          "\n"
                          "If you did not ask for account recovery, tell your administrator\n"
                          "at once.\n",
                          Name(org_name), FormatRfc3339(link_expires_at)));
}

mail::Message RecoveryDeclined(std::string_view to, std::string_view org_name,
                               std::string_view reason, int64_t when) {
  return Make(to, "Your Keyward account recovery request was declined",
              fmt::format("An administrator of the organization \"{}\" declined your account\n"
                          "recovery request at {}. The reason given:\n"
                          "\n"
                          "  {}\n"
                          "\n"
                          "You may ask again once the issue is addressed\n"
                          "(keyward recovery request).\n",
                          Name(org_name), FormatRfc3339(when), reason));
}

mail::Message DeviceRequested(std::string_view to, std::string_view org_name,
                              std::string_view member_email, int64_t when,
                              std::string_view device_name, std::string_view remote_address,
                              std::string_view device_fingerprint) {
  return Make(
      to, "New device approval request on Keyward",
      fmt::format("A member of the organization \"{}\" signed in through single sign-on\n"
                  "on a new device and asks the recovery admins to let it open their vault:\n"
                  "\n"
                  "  member:      {}\n"
                  "  time:        {}\n"
                  "  device:      {}\n"
                  "  address:     {}\n"
                  "  fingerprint: {}\n"
                  "\n"
                  "Check with the member in person or by phone that the request is theirs\n"
                  "and that their new device shows this same fingerprint, then approve\n"
                  "(keyward recovery approve ID --device-fingerprint ...) or decline it.\n",
                  Name(org_name), member_email, FormatRfc3339(when),
                  device_name.empty() ? "(not given)" : device_name, remote_address,
                  device_fingerprint));
}

mail::Message DeviceRequestApproved(std::string_view to, std::string_view org_name,
                                    std::string_view device_name, int64_t expires_at) {
  return Make(to, "Your new Keyward device was approved",
              fmt::format("The recovery admins of the organization \"{}\" approved your new\n"
                          "device \"{}\". Finish on that device before {}\n"
                          "(keyward device request-finish).\n"
                          "\n"
                          "If you did not ask for this, tell your administrator at once.\n",
                          Name(org_name), device_name, FormatRfc3339(expires_at)));
}

mail::Message DeviceAddedByAdmins(std::string_view to, std::string_view org_name,
                                  std::string_view device_name, int64_t when) {
  return Make(to, "A new device was added to your Keyward account",
              fmt::format("A new trusted device was added to your Keyward account at {},\n"
                          "approved by the recovery admins of the organization \"{}\":\n"
                          "\n"
                          "  device: {}\n"
                          "\n"
                          "If this was not you, remove the device now (keyward device list,\n"
                          "keyward device remove) and tell your administrator.\n",
                          FormatRfc3339(when), Name(org_name), device_name));
}

mail::Message RestoreRequested(std::string_view to, std::string_view org_name,
                               std::string_view member_email, int64_t when,
                               std::string_view device_name, std::string_view remote_address,
                               int64_t snapshot_created_at) {
  return Make(
      to, "Cloud backup restore request on Keyward",
      fmt::format("A member of the organization \"{}\" asks to roll their vault back\n"
                  "to a cloud backup:\n"
                  "\n"
                  "  member:  {}\n"
                  "  backup:  made {}\n"
                  "  time:    {}\n"
                  "  device:  {}\n"
                  "  address: {}\n"
                  "\n"
                  "Approving it replaces every item of the member's vault with the backup's\n"
                  "and signs out every other device of theirs. Check with the member in\n"
                  "person or by phone that the request is theirs, then approve or decline\n"
                  "it (keyward recovery list --status pending).\n",
                  Name(org_name), member_email, FormatRfc3339(snapshot_created_at),
                  FormatRfc3339(when), device_name.empty() ? "(not given)" : device_name,
                  remote_address));
}

mail::Message RestoreApproved(std::string_view to, std::string_view org_name,
                              int64_t link_expires_at) {
  return Make(to, "Your Keyward cloud backup restore was approved",
              fmt::format("An administrator of the organization \"{}\" approved restoring your\n"
                          "vault from a cloud backup. The administrator gives you a recovery link\n"
                          "directly (it is never sent by Keyward); it works until {}. Your vault\n"
                          "is restored when you use it (keyward recovery redeem).\n"
                          "\n"
                          "If you did not ask for this, tell your administrator at once.\n",
                          Name(org_name), FormatRfc3339(link_expires_at)));
}

mail::Message RestoreDeclined(std::string_view to, std::string_view org_name,
                              std::string_view reason, int64_t when) {
  return Make(to, "Your Keyward cloud backup restore was declined",
              fmt::format("An administrator of the organization \"{}\" declined your request to\n"
                          "restore a cloud backup at {}. Your vault was not changed. The reason\n"
                          "given:\n"
                          "\n"
                          "  {}\n",
                          Name(org_name), FormatRfc3339(when), reason));
}

mail::Message RestoreDone(std::string_view to, int64_t snapshot_created_at, int64_t devices_ended,
                          int64_t when) {
  return Make(to, "Your Keyward vault was restored from a cloud backup",
              fmt::format("At {} your vault was rolled back to the cloud backup made {},\n"
                          "after your administrators approved it. {} other device(s) were signed\n"
                          "out and unpaired; sign in on them again.\n"
                          "\n"
                          "If you did not ask for this, tell your administrator at once.\n",
                          FormatRfc3339(when), FormatRfc3339(snapshot_created_at), devices_ended));
}

mail::Message RecoveryExpired(std::string_view to, std::string_view org_name, bool was_approved,
                              int64_t when) {
  return Make(to, "Your Keyward account recovery request expired",
              fmt::format("Your account recovery request in the organization \"{}\" expired at\n"
                          "{}{}. Expired requests and links are never reused or extended:\n"
                          "if you still need to recover your account, ask again\n"
                          "(keyward recovery request).\n",
                          Name(org_name), FormatRfc3339(when),
                          was_approved ? ", before its recovery link was used"
                                       : ", before an administrator answered it"));
}

mail::Message RecoveryRedeemCode(std::string_view to, std::string_view code, int64_t ttl_minutes) {
  return Make(to, "Your Keyward recovery link code",
              fmt::format("Someone opened the recovery link of your Keyward account. Enter this\n"
                          "code to go on and choose a new master password:\n"
                          "\n"
                          "{}\n"
                          "\n"
                          "The code works once and expires in {} minutes.\n"
                          "If this was not you, do not share the code, and tell your\n"
                          "organization's administrator at once.\n",
                          code, ttl_minutes));
}

mail::Message PasswordResetByRecovery(std::string_view to, std::string_view org_name,
                                      int64_t when) {
  return Make(to, "Your Keyward master password was reset through account recovery",
              fmt::format("The master password of your Keyward account was reset at {}\n"
                          "through account recovery in the organization \"{}\".\n"
                          "Every device was signed out: log in with the new master password\n"
                          "(two-step login, if you use it, is still asked).\n"
                          "\n"
                          "If you did not do this, contact your organization's administrator\n"
                          "at once.\n",
                          FormatRfc3339(when), Name(org_name)));
}

}  // namespace keyward::core::notices
