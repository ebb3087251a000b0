// The ways back in that a member can take alone or with an admin, as
// commands and as steps of `keyward recover` (recover_cmd.cc).
#pragma once

#include <string>

#include "cli/context.h"
#include "keyward/recovery.h"

namespace keyward::cli {

// keyward device pair (device_cmd.cc).
[[nodiscard]] Status PairThisDevice(Context& ctx, const std::string& email,
                                    const std::string& device_name);
// keyward backup restore --cloud ID --email E (backup_cmd.cc): a cloud
// restore for a member without the master password ("newest": the newest).
[[nodiscard]] Status RestoreCloudBackup(Context& ctx, const std::string& email,
                                        const std::string& snapshot_id);
// After a member's ask by email (recovery or restore, no session): the
// emailed code (a line of stdin with code_stdin), confirmed; with --json the
// submission is printed here (request_cmd.cc).
[[nodiscard]] Result<client::RequestSubmitted> ConfirmByEmail(Context& ctx, client::Client& c,
                                                              const std::string& email,
                                                              bool code_stdin);
// keyward recovery request (request_cmd.cc).
[[nodiscard]] Status RequestRecovery(Context& ctx, const std::string& email);
// keyward account restart (account_cmd.cc).
[[nodiscard]] Status StartOver(Context& ctx, const std::string& email);

void AddRecoverCommand(CLI::App& app, Action* action);  // recover_cmd.cc

}  // namespace keyward::cli
