// The transition table of the spin model (model/requests.pml, its
// `next_status` between BEGIN and END) against core::NextRequestStatus:
// for every status (and none) x action, the same next status or the same
// refusal. Either side changing alone fails here (docs/model.md).
#include <cctype>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/recovery_state.h"

namespace keyward::core {
namespace {

// One row of the model: status and action as spelled there ("LINK_USED",
// "RECORD_APPROVAL"), the next status ("cur" for a refusal) and the error
// ("E_OK", "E_NOT_PENDING").
struct ModelRow {
  std::string next;
  std::string error;
  int line = 0;
};

using Key = std::pair<std::string, std::string>;  // (status, action)

struct ModelTable {
  std::map<Key, ModelRow> rows;
  std::vector<std::string> problems;  // malformed or repeated lines
};

ModelTable ParseModel(const std::string& path) {
  ModelTable table;
  std::ifstream in(path);
  if (!in) {
    table.problems.push_back("cannot open " + path);
    return table;
  }
  static const std::regex kRow(
      R"(^\s*::\s*cur\s*==\s*(\w+)\s*&&\s*act\s*==\s*(\w+)\s*->\s*nxt\s*=\s*(\w+)\s*;\s*err\s*=\s*(\w+)\s*$)");
  static const std::regex kElse(R"(^\s*::\s*else\s*->\s*assert\(false\)\s*$)");
  bool inside = false;
  bool seen_end = false;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find("/* BEGIN next_status */") != std::string::npos) {
      inside = true;
      continue;
    }
    if (line.find("/* END next_status */") != std::string::npos) {
      seen_end = inside;
      inside = false;
      continue;
    }
    if (!inside) continue;
    std::smatch m;
    if (std::regex_match(line, m, kRow)) {
      Key key{m[1], m[2]};
      if (!table.rows.emplace(key, ModelRow{m[3], m[4], n}).second) {
        table.problems.push_back("line " + std::to_string(n) + ": " + key.first + " x " +
                                 key.second + " again");
      }
    } else if (line.find("::") != std::string::npos && !std::regex_match(line, kElse)) {
      table.problems.push_back("line " + std::to_string(n) + " is not a row: " + line);
    }
  }
  if (!seen_end) table.problems.push_back("no BEGIN/END next_status block in " + path);
  return table;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The model's spelling of a status (NONE for no request) and of an error
// code ("recovery.not_pending" is E_NOT_PENDING).
std::string ModelStatus(std::optional<RequestStatus> s) {
  return s ? Upper(RequestStatusName(*s)) : std::string("NONE");
}

std::string ModelError(std::string_view code) {
  constexpr std::string_view kPrefix = "recovery.";
  if (code.substr(0, kPrefix.size()) != kPrefix) return "E_UNKNOWN(" + std::string(code) + ")";
  return "E_" + Upper(code.substr(kPrefix.size()));
}

const ModelTable& Model() {
  static const ModelTable table = ParseModel(KEYWARD_MODEL_FILE);
  return table;
}

TEST(RecoveryStateModelTest, ModelTableIsWellFormed) {
  for (const auto& problem : Model().problems) ADD_FAILURE() << problem;
  EXPECT_EQ(Model().rows.size(), (kAllRequestStatuses.size() + 1) * kAllRequestActions.size());
}

TEST(RecoveryStateModelTest, EveryPairAgreesWithNextRequestStatus) {
  std::vector<std::optional<RequestStatus>> statuses = {std::nullopt};
  statuses.insert(statuses.end(), kAllRequestStatuses.begin(), kAllRequestStatuses.end());
  size_t compared = 0;
  for (const auto& status : statuses) {
    for (RequestAction action : kAllRequestActions) {
      const Key key{ModelStatus(status), Upper(RequestActionName(action))};
      SCOPED_TRACE(key.first + " x " + key.second);
      auto it = Model().rows.find(key);
      ASSERT_NE(it, Model().rows.end()) << "no row in " << KEYWARD_MODEL_FILE;
      const ModelRow& row = it->second;
      SCOPED_TRACE("requests.pml:" + std::to_string(row.line));
      auto next = NextRequestStatus(status, action);
      if (next) {
        EXPECT_EQ(row.error, "E_OK") << "C++ allows it, to " << RequestStatusName(*next);
        EXPECT_EQ(row.next, ModelStatus(*next));
      } else {
        EXPECT_EQ(row.error, ModelError(next.error().code()));
        EXPECT_EQ(row.next, "cur") << "a refusal leaves the status as it is";
      }
      ++compared;
    }
  }
  EXPECT_EQ(compared, Model().rows.size()) << "the model has rows the C++ does not know";
}

// Every name the model uses is one the C++ spells: no row is skipped by
// the comparison above for being misspelled.
TEST(RecoveryStateModelTest, ModelNamesAreTheCxxNames) {
  std::set<std::string> statuses = {"NONE"};
  for (RequestStatus s : kAllRequestStatuses) statuses.insert(ModelStatus(s));
  std::set<std::string> actions;
  for (RequestAction a : kAllRequestActions) actions.insert(Upper(RequestActionName(a)));
  for (const auto& [key, row] : Model().rows) {
    EXPECT_TRUE(statuses.count(key.first)) << key.first << " (line " << row.line << ")";
    EXPECT_TRUE(actions.count(key.second)) << key.second << " (line " << row.line << ")";
    EXPECT_TRUE(row.next == "cur" || statuses.count(row.next)) << row.next;
  }
}

}  // namespace
}  // namespace keyward::core
