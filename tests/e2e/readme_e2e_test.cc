// Runs README.md's walk-through as written: every line of the ```sh blocks
// between "## A walk-through" and "## Running the server" goes through the
// real `keyward` binary against a real keywardd, so the README cannot drift
// from the CLI again. README.md is read at run time (KEYWARD_README_PATH).
//
// How a line is read:
//   - `# ...` on a line of its own is a comment; at the end of a line, the
//     comment is dropped, except that a comment starting with `bob:` or
//     `carol:` runs the line as that person. Everything else runs as ann.
//     Each person has a terminal of their own: a profile directory
//     (KEYWARD_PROFILE), the exported variables, a master password.
//   - `keyward ARGS...`: run with ARGS exactly as written (quotes removed, the
//     server given through KEYWARD_SERVER), after replacing the placeholders:
//       <ID>     the newest id printed (`item add`, `recovery request`, ...)
//       <TOKEN>  the token of the newest invitation emailed to the person
//                (when that email's command has --fingerprint, the README's
//                `org join` line must be exactly that command)
//       <FP>     the signing key fingerprint `org create` printed
//       <LINK>   the newest recovery link printed
//     An optional part `[--qr]` is left out. Questions are answered on
//     standard input, in order, from Answers() below (passwords, emailed codes,
//     two-step codes, `y` to confirmations); a command missing there fails
//     the test. The command must exit 0.
//   - `export KEYWARD_SESSION="…"`: the session key the person's last login
//     printed; `export PATH=...build/bin...`: the binaries under test.
// Any other line fails the test: a README edit this test cannot run fails
// the build. To teach it a new command, add its questions to Answers().
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "crypto/crypto.h"
#include "tests/support/server_process.h"

namespace keyward::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path kCli = KEYWARD_CLI_PATH;
const fs::path kReadme = KEYWARD_README_PATH;

// The questions a command asks, in order.
enum class Answer {
  kPassword,     // the person's current master password
  kNewPassword,  // a new master password (asked twice: the same answer)
  kMailedCode,   // the code already in the newest email to the person
  kEmailedCode,  // a code emailed while the command runs
  kSecondStep,   // at login, when two-step login is on: a recovery code
  kYes,          // a confirmation
  kTotp,         // `2fa enable`: the code for the secret it just printed
};

// Keyed by the command words (options and arguments left out). `login` also
// gets the second step and a new password when the person needs them.
const std::map<std::string, std::vector<Answer>>& Answers() {
  using enum Answer;
  static const auto* answers = new std::map<std::string, std::vector<Answer>>{
      {"account register", {kNewPassword, kNewPassword}},
      {"account verify", {kMailedCode}},
      {"account password", {kPassword, kNewPassword, kNewPassword}},
      {"account show", {kPassword}},
      {"login", {kPassword}},
      {"logout", {}},
      {"item add", {}},  // --generate
      {"item list", {}},
      {"item get", {}},
      {"2fa enable", {kPassword, kTotp}},
      {"device list", {}},
      {"org create", {kPassword}},
      {"org policy set", {kPassword}},
      {"org invite", {}},
      {"org join", {kYes}},
      {"org members", {}},
      {"org grant-recovery", {kYes, kPassword}},
      {"org rotate-key", {kPassword}},
      {"recovery enroll", {kYes, kPassword}},
      {"recovery status", {}},
      {"recovery reset", {kYes, kPassword}},
      {"recovery request", {kEmailedCode}},
      {"recovery cancel", {kEmailedCode}},
      {"recovery list", {}},
      {"recovery show", {}},
      {"recovery approve", {kYes, kPassword}},
      {"recovery decline", {}},  // --reason
      {"recovery start", {kYes, kPassword}},
      {"recovery redeem", {kEmailedCode, kNewPassword, kNewPassword}},
      {"events list", {}},
      {"events verify", {}},
      {"events export", {}},
  };
  return *answers;
}

const std::set<std::string> kPeople = {"ann", "bob", "carol"};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

struct ReadmeLine {
  int number = 0;  // in README.md
  std::string text;
};

// The lines of the ```sh blocks of the walk-through sections.
std::vector<ReadmeLine> WalkThroughLines(const std::string& readme) {
  std::vector<ReadmeLine> lines;
  std::istringstream in(readme);
  std::string line;
  int number = 0;
  bool in_section = false;
  bool in_block = false;
  while (std::getline(in, line)) {
    ++number;
    if (line.starts_with("## ")) {
      if (line.starts_with("## A walk-through")) in_section = true;
      if (line.starts_with("## Running the server")) break;
      continue;
    }
    if (!in_section) continue;
    if (line.starts_with("```")) {
      in_block = !in_block && line == "```sh";
      continue;
    }
    if (in_block) lines.push_back({number, line});
  }
  return lines;
}

struct Parsed {
  std::vector<std::string> words;  // shell words, quotes removed
  std::string comment;             // after an unquoted `#`, trimmed
};

// Shell words of the simple kind the README uses: spaces, "double" and
// 'single' quotes, a trailing # comment. nullopt on an unclosed quote.
std::optional<Parsed> SplitShell(const std::string& line) {
  Parsed p;
  std::string word;
  bool have_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"' || c == '\'') {
      const size_t end = line.find(c, i + 1);
      if (end == std::string::npos) return std::nullopt;
      word += line.substr(i + 1, end - i - 1);
      have_word = true;
      i = end;
    } else if (c == ' ' || c == '\t') {
      if (have_word) p.words.push_back(word);
      word.clear();
      have_word = false;
    } else if (c == '#' && !have_word) {
      p.comment = line.substr(i + 1);
      const size_t start = p.comment.find_first_not_of(' ');
      p.comment = start == std::string::npos ? "" : p.comment.substr(start);
      break;
    } else {
      word += c;
      have_word = true;
    }
  }
  if (have_word) p.words.push_back(word);
  return p;
}

struct Person {
  std::string name;
  std::string email;
  fs::path profile;
  std::string password;
  std::string session;                      // printed by the last login
  EnvVars exported;                         // export lines run by this person
  std::vector<std::string> recovery_codes;  // two-step login is on
  bool must_change_password = false;        // after `recovery reset`
  int passwords_made = 0;
};

class ReadmeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    server_ = std::make_unique<ServerProcess>(
        KEYWARDD_PATH, std::vector<std::string>{"--min-kdf-ops", "2", "--min-kdf-mem", "20971520"});
    // The README's relative paths (events export --output) land here.
    work_dir_ = server_->temp_dir() / "terminal";
    fs::create_directories(work_dir_);
    for (const auto& name : kPeople) {
      Person& p = people_[name];
      p.name = name;
      p.email = name + "@example.com";
      p.profile = server_->temp_dir() / "profiles" / name;
    }
  }

  fs::path Outbox() { return server_->data_dir() / "outbox"; }

  // Runs one README line; on failure the message says why.
  std::optional<std::string> Run(const ReadmeLine& line) {
    const size_t first = line.text.find_first_not_of(' ');
    if (first == std::string::npos || line.text[first] == '#') return std::nullopt;
    auto parsed = SplitShell(line.text);
    if (!parsed || parsed->words.empty()) return "cannot split the line into words";
    std::string who = "ann";
    std::smatch m;
    if (std::regex_search(parsed->comment, m, std::regex(R"(^([a-z]+):)")) &&
        kPeople.contains(m[1].str())) {
      who = m[1].str();
    }
    Person& person = people_[who];
    std::cout << "README.md:" << line.number << " (" << who << ") " << line.text << "\n";
    const auto& words = parsed->words;
    if (words[0] == "export") return Export(person, words);
    if (words[0] != "keyward") return "not a keyward or export line";
    return Keyward(person, std::vector<std::string>(words.begin() + 1, words.end()));
  }

  std::optional<std::string> Export(Person& person, const std::vector<std::string>& words) {
    if (words.size() != 2) return "export takes one NAME=VALUE";
    const size_t eq = words[1].find('=');
    if (eq == std::string::npos) return "export without =";
    const std::string name = words[1].substr(0, eq);
    const std::string value = words[1].substr(eq + 1);
    if (name == "PATH") {
      // The binaries under test are the built ones.
      if (value.find("build/bin") == std::string::npos || kCli.parent_path().filename() != "bin") {
        return "PATH does not name build/bin, where keyward is built";
      }
      return std::nullopt;
    }
    if (name == "KEYWARD_SESSION") {
      if (value != "…") return "KEYWARD_SESSION is set to something other than \"…\"";
      if (person.session.empty()) return person.name + " has not logged in: no session to export";
      std::erase_if(person.exported, [](const auto& kv) { return kv.first == "KEYWARD_SESSION"; });
      person.exported.emplace_back("KEYWARD_SESSION", person.session);
      return std::nullopt;
    }
    return "export of an unknown variable " + name;
  }

  std::optional<std::string> Keyward(Person& person, std::vector<std::string> args) {
    // [optional parts] are left out.
    std::vector<std::string> kept;
    bool optional_part = false;
    for (const auto& a : args) {
      if (a.starts_with("[")) optional_part = true;
      if (!optional_part) kept.push_back(a);
      if (a.ends_with("]")) optional_part = false;
    }
    args = std::move(kept);
    // Placeholders.
    for (auto& a : args) {
      auto replace = [&](const std::string& placeholder, const std::string& value,
                         const std::string& what) -> std::optional<std::string> {
        const size_t at = a.find(placeholder);
        if (at == std::string::npos) return std::nullopt;
        if (value.empty()) return placeholder + ": no " + what + " yet";
        a.replace(at, placeholder.size(), value);
        return std::nullopt;
      };
      if (auto e = replace("<ID>", last_id_, "id printed")) return e;
      if (auto e = replace("<FP>", fingerprint_, "fingerprint printed by org create")) return e;
      if (auto e = replace("<LINK>", last_link_, "recovery link printed")) return e;
      if (a.find("<TOKEN>") != std::string::npos) {
        auto token = InvitationToken(person);
        if (!token) return "<TOKEN>: no invitation emailed to " + person.email;
        if (auto e = replace("<TOKEN>", *token, "token")) return e;
      }
      if (a.find('<') != std::string::npos || a.find("…") != std::string::npos) {
        return "unknown placeholder in \"" + a + "\"";
      }
    }
    // The command words: up to the first option or argument with a placeholder.
    std::string command;
    for (const auto& a : args) {
      if (a.starts_with("-") || a.find('@') != std::string::npos) break;
      const std::string candidate = command.empty() ? a : command + " " + a;
      if (!Answers().contains(candidate) && !command.empty() && Answers().contains(command)) break;
      command = candidate;
    }
    // Once the invitation email carries the whole command (with
    // --fingerprint), the README's join line must be that command.
    if (command == "org join" && invitation_command_.find("--fingerprint") != std::string::npos) {
      auto emailed = SplitShell(invitation_command_);
      std::vector<std::string> readme = {"keyward"};
      readme.insert(readme.end(), args.begin(), args.end());
      if (!emailed || emailed->words != readme) {
        return "the invitation email says \"" + invitation_command_ +
               "\", not the README's command";
      }
    }
    auto found = Answers().find(command);
    if (found == Answers().end()) return "no answers known for \"keyward " + command + "\"";
    std::vector<Answer> answers = found->second;
    if (command == "login") {
      if (!person.recovery_codes.empty()) answers.push_back(Answer::kSecondStep);
      if (person.must_change_password) {
        answers.insert(answers.end(), {Answer::kNewPassword, Answer::kNewPassword});
      }
    }

    EnvVars env = person.exported;
    env.emplace_back("KEYWARD_SERVER", server_->url());
    env.emplace_back("KEYWARD_PROFILE", person.profile.string());
    const size_t mails_before = CountMessagesTo(Outbox(), person.email);
    std::string new_password;
    CliProcess p(kCli, args, env);
    for (Answer answer : answers) {
      switch (answer) {
        case Answer::kPassword:
          p.Write(person.password + "\n");
          break;
        case Answer::kNewPassword:
          if (new_password.empty()) {
            new_password =
                person.name + "'s master password " + std::to_string(++person.passwords_made);
          }
          p.Write(new_password + "\n");
          break;
        case Answer::kMailedCode:
        case Answer::kEmailedCode: {
          auto code = LatestEmailCode(Outbox(), person.email, 20s,
                                      answer == Answer::kMailedCode ? 0 : mails_before);
          if (!code) {
            auto r = p.Finish(10s);
            return "no code emailed to " + person.email + "\n" + r.Describe();
          }
          p.Write(*code + "\n");
          break;
        }
        case Answer::kSecondStep:
          p.Write(person.recovery_codes.back() + "\n");
          person.recovery_codes.pop_back();
          break;
        case Answer::kYes:
          p.Write("y\n");
          break;
        case Answer::kTotp: {
          if (!p.WaitForStdout("URI:", 30s)) {
            auto r = p.Finish(10s);
            return "2fa enable showed no secret\n" + r.Describe();
          }
          std::smatch m;
          const std::string out = p.out();
          if (!std::regex_search(out, m, std::regex(R"(Secret: ([A-Z2-7]+))"))) {
            return "2fa enable: no Secret: line\n" + out;
          }
          auto secret = crypto::Base32Decode(m[1].str());
          if (!secret) return "2fa enable: the secret is not base32";
          p.Write(crypto::TotpCode(*secret, std::time(nullptr)) + "\n");
          break;
        }
      }
    }
    CliResult r = p.Finish(120s);
    if (r.exit_code != 0) return "exit status " + std::to_string(r.exit_code) + "\n" + r.Describe();
    if (!new_password.empty()) person.password = new_password;
    if (command == "login") person.must_change_password = false;
    Learn(person, command, r.out);
    return std::nullopt;
  }

  // What later lines need from this output.
  void Learn(Person& person, const std::string& command, const std::string& out) {
    std::smatch m;
    if (std::regex_search(out, m, std::regex(R"re(export KEYWARD_SESSION="([A-Za-z0-9_-]+)")re"))) {
      person.session = m[1].str();
    }
    if (std::regex_search(out, m, std::regex(R"(Added item ([A-Za-z0-9_-]+) \()")) ||
        std::regex_search(out, m, std::regex(R"(\(request ([A-Za-z0-9_-]+))"))) {
      last_id_ = m[1].str();
    }
    if (std::regex_search(out, m,
                          std::regex(R"((https?://\S+/recover/[A-Za-z0-9_-]+#[A-Za-z0-9_-]+))"))) {
      last_link_ = m[1].str();
    }
    if (command == "org create" &&
        std::regex_search(
            out, m, std::regex(R"(signing key fingerprint:\s+([0-9a-f]{8}(?: [0-9a-f]{8}){4}))"))) {
      fingerprint_ = m[1].str();
    }
    if (command == "2fa enable") {
      std::istringstream lines(out);
      std::string line;
      while (std::getline(lines, line)) {
        std::smatch rm;
        if (std::regex_match(line, rm, std::regex(R"(  (\S+-\S+))"))) {
          person.recovery_codes.push_back(rm[1]);
        }
      }
    }
    if (command == "recovery reset" &&
        std::regex_search(
            out, m,
            std::regex(
                R"(Temporary master password for (\S+) \(shown only this once\):\n(.+)\n)"))) {
      for (auto& [name, p] : people_) {
        if (p.email == m[1].str()) {
          p.password = m[2].str();
          p.must_change_password = true;
        }
      }
    }
  }

  // The token of the newest invitation to `person`; checks that the email
  // names the fingerprint `org create` printed.
  std::optional<std::string> InvitationToken(const Person& person) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(Outbox())) {
      if (e.path().extension() == ".eml") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
      return fs::last_write_time(a) < fs::last_write_time(b);
    });
    std::optional<std::string> token;
    for (const auto& f : files) {
      std::string text = std::regex_replace(ReadFile(f), std::regex("=\r?\n"), "");
      if (text.find("To: " + person.email) == std::string::npos &&
          text.find("<" + person.email + ">") == std::string::npos) {
        continue;
      }
      std::smatch join;
      if (std::regex_search(text, join,
                            std::regex(R"((keyward org join ([A-Za-z0-9_-]+)[^\r\n]*))"))) {
        EXPECT_NE(text.find(fingerprint_), std::string::npos)
            << "the invitation to " << person.email << " does not name " << fingerprint_;
        token = join[2].str();
        invitation_command_ = join[1].str();
      }
    }
    return token;
  }

  std::unique_ptr<ServerProcess> server_;
  fs::path work_dir_;
  std::map<std::string, Person> people_;
  std::string last_id_;
  std::string last_link_;
  std::string fingerprint_;
  std::string invitation_command_;  // the join command of the last invitation read
};

TEST(ReadmeWalkThrough, SplitsShellWords) {
  auto p = SplitShell(R"(keyward recovery decline <ID> --reason "call me"   # the reason)");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->words, (std::vector<std::string>{"keyward", "recovery", "decline", "<ID>",
                                                "--reason", "call me"}));
  EXPECT_EQ(p->comment, "the reason");
  EXPECT_FALSE(SplitShell(R"(keyward "unclosed)").has_value());
}

TEST_F(ReadmeE2eTest, WalkThroughRunsAsWritten) {
  const std::string readme = ReadFile(kReadme);
  ASSERT_FALSE(readme.empty()) << kReadme;
  const auto lines = WalkThroughLines(readme);
  ASSERT_GT(lines.size(), 20u) << "no walk-through found in " << kReadme;

  const fs::path previous = fs::current_path();
  fs::current_path(work_dir_);
  int ran = 0;
  for (const auto& line : lines) {
    auto error = Run(line);
    if (error) {
      fs::current_path(previous);
      FAIL() << "README.md:" << line.number << ": " << line.text << "\n" << *error;
    }
    ++ran;
  }
  fs::current_path(previous);
  EXPECT_EQ(ran, static_cast<int>(lines.size()));
  // The last line wrote the event log here.
  EXPECT_TRUE(fs::exists(work_dir_ / "acme-events.jsonl"));
}

}  // namespace
}  // namespace keyward::testing
