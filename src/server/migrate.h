// `keywardd migrate --from sqlite:PATH --to postgresql://...`: the command
// line around store::migrate::Migrate (src/store/migrate/migrate.h).
#pragma once

#include <string>
#include <vector>

namespace keyward::server {

// `keywardd migrate ARGS...` (args excludes "migrate"): parses --from, --to,
// --json, --help; prints the summary on stdout (or one JSON object with
// --json) and any error as one line "keywardd migrate: ..." on stderr.
// Returns the exit status: 0 done, 1 failed, 2 bad usage.
int MigrateMain(const std::vector<std::string>& args);

// The usage text of `keywardd migrate --help` (also shown by keywardd --help).
extern const char kMigrateUsage[];

}  // namespace keyward::server
