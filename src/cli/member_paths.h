// The ways back in that a member can take alone or with an admin, as
// commands and as steps of `keyward recover` (recover_cmd.cc).
#pragma once

#include <string>

#include "cli/context.h"

namespace keyward::cli {

// keyward device pair (device_cmd.cc).
[[nodiscard]] Status PairThisDevice(Context& ctx, const std::string& email,
                                    const std::string& device_name);
// keyward backup restore --cloud ID --email E (backup_cmd.cc): a cloud
// restore for a member without the master password ("newest": the newest).
[[nodiscard]] Status RestoreCloudBackup(Context& ctx, const std::string& email,
                                        const std::string& snapshot_id);
// keyward recovery request (request_cmd.cc).
[[nodiscard]] Status RequestRecovery(Context& ctx, const std::string& email);
// keyward account restart (account_cmd.cc).
[[nodiscard]] Status StartOver(Context& ctx, const std::string& email);

void AddRecoverCommand(CLI::App& app, Action* action);  // recover_cmd.cc

}  // namespace keyward::cli
