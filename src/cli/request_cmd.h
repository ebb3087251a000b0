// keyward recovery request | cancel | redeem (the member who forgot the
// master password) and list | show | approve | decline | start (recovery
// admins): the Enpass-style recovery request flow of docs/cli.md.
#pragma once

#include "cli/context.h"

namespace CLI {
class App;
}

namespace keyward::cli {

// Adds the request commands to the `recovery` group.
void AddRecoveryRequestCommands(CLI::App& recovery, Action* action);

}  // namespace keyward::cli
