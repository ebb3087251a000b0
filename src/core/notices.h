// The emails the server sends. Plain, short, helpful; a one-time code stands
// on a line of its own; no secret other than that code ever appears.
#pragma once

#include <string>
#include <string_view>

#include "core/mail.h"

namespace keyward::core::notices {

mail::Message VerificationCode(std::string_view to, std::string_view code, int64_t ttl_minutes);
mail::Message AlreadyRegistered(std::string_view to, std::string_view public_url);
mail::Message NewDevice(std::string_view to, std::string_view device_name,
                        std::string_view device_type, int64_t when);
// A device was paired through a signed-in one (keyward device pair).
mail::Message DevicePaired(std::string_view to, std::string_view device_name,
                           std::string_view device_type, int64_t when);
mail::Message PasswordChanged(std::string_view to, int64_t when);
mail::Message TwoFactorEnabled(std::string_view to, int64_t when);
mail::Message TwoFactorDisabled(std::string_view to, int64_t when);
mail::Message AccountDeleted(std::string_view to, int64_t when);
// Starting over with a new, empty vault (keyward account restart).
mail::Message RestartCode(std::string_view to, std::string_view code, int64_t ttl_minutes);
mail::Message AccountRestarted(std::string_view to, int64_t when);

// Account recovery (admin-reset mode): an administrator of `org_name` set a
// temporary master password / turned off two-step login.
mail::Message PasswordResetByAdmin(std::string_view to, std::string_view org_name, int64_t when);
mail::Message TwoFactorResetByAdmin(std::string_view to, std::string_view org_name, int64_t when);

// Organizations. The invite carries its token on a line of its own as the
// exact command `keyward org join TOKEN --fingerprint "FP"`, with the
// fingerprint of the organization's signing key, which the invitee also
// compares out of band. Subjects are fixed text: nothing a user typed (the
// organization's name) goes into a subject; names in bodies are quoted with
// control characters removed.
mail::Message OrgInvite(std::string_view to, std::string_view org_name, std::string_view role,
                        std::string_view token, std::string_view signing_fingerprint,
                        int64_t expires_at);
// The recovery mode of the organization's policy changed (`new_mode`,
// protocol::RecoveryModeName): the member's escrow keeps the mode it was
// made under until they enroll again (keyward recovery enroll).
mail::Message RecoveryModeChanged(std::string_view to, std::string_view org_name,
                                  std::string_view new_mode, int64_t when);
// Enrollment became mandatory and the member is not enrolled.
mail::Message EnrollmentRequired(std::string_view to, std::string_view org_name, int64_t when);
mail::Message RemovedFromOrg(std::string_view to, std::string_view org_name, int64_t when);
mail::Message OrgRoleChanged(std::string_view to, std::string_view org_name, std::string_view role,
                             int64_t when);

// Recovery requests (docs/api.md "Recovery requests"). None carries a link,
// a token or a share; the codes stand on a line of their own.
// The code confirming a request (cancel = false) or its cancellation.
mail::Message RecoveryRequestCode(std::string_view to, std::string_view code, int64_t ttl_minutes,
                                  bool cancel);
// A verified account that is enrolled nowhere asked for recovery.
mail::Message RecoveryNotPossible(std::string_view to, std::string_view public_url);
// To a recovery admin: a new request to review (who, when, from where).
mail::Message RecoveryRequested(std::string_view to, std::string_view org_name,
                                std::string_view member_email, int64_t when,
                                std::string_view device_name, std::string_view remote_address,
                                bool started_by_admin);
mail::Message RecoveryApproved(std::string_view to, std::string_view org_name,
                               int64_t link_expires_at);
mail::Message RecoveryDeclined(std::string_view to, std::string_view org_name,
                               std::string_view reason, int64_t when);
mail::Message RecoveryExpired(std::string_view to, std::string_view org_name, bool was_approved,
                              int64_t when);
// Device requests (docs/sso.md "A new device, approved by the admins"): to
// a recovery admin, with the device key's fingerprint to compare with the
// one the member reads off the new device; to the member, the approval and
// then the device added.
mail::Message DeviceRequested(std::string_view to, std::string_view org_name,
                              std::string_view member_email, int64_t when,
                              std::string_view device_name, std::string_view remote_address,
                              std::string_view device_fingerprint);
mail::Message DeviceRequestApproved(std::string_view to, std::string_view org_name,
                                    std::string_view device_name, int64_t expires_at);
mail::Message DeviceAddedByAdmins(std::string_view to, std::string_view org_name,
                                  std::string_view device_name, int64_t when);
// Cloud restores (docs/recovery.md "Restore a cloud backup").
mail::Message RestoreRequested(std::string_view to, std::string_view org_name,
                               std::string_view member_email, int64_t when,
                               std::string_view device_name, std::string_view remote_address,
                               int64_t snapshot_created_at);
// To the member: approved; with a link (the password was lost too) the
// restore happens when it is redeemed.
mail::Message RestoreApproved(std::string_view to, std::string_view org_name,
                              int64_t link_expires_at);
mail::Message RestoreDeclined(std::string_view to, std::string_view org_name,
                              std::string_view reason, int64_t when);
mail::Message RestoreDone(std::string_view to, int64_t snapshot_created_at, int64_t devices_ended,
                          int64_t when);
mail::Message RecoveryRedeemCode(std::string_view to, std::string_view code, int64_t ttl_minutes);
mail::Message PasswordResetByRecovery(std::string_view to, std::string_view org_name, int64_t when);

}  // namespace keyward::core::notices
