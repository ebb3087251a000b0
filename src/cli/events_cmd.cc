// keyward events list | export | verify
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/org_session.h"
#include "common/try.h"

namespace keyward::cli {
namespace {

struct EventsArgs {
  std::string org;
  std::string type;
  std::string actor;
  std::string target;
  std::string since;
  std::string until;
  int limit = 100;
  uint64_t after = 0;
  std::string format = "jsonl";
  std::string output;
  std::string file;
};

void AddOrgOption(CLI::App* cmd, EventsArgs& a) {
  cmd->add_option("--org", a.org,
                  "Organization id or name (default: the only organization you belong to)");
}

std::string HashHex(const protocol::audit::Digest& d) { return crypto::HexEncode(d); }

client::Json EventJson(const protocol::audit::Record& r) {
  const protocol::audit::Event& e = r.event;
  client::Json j = client::Json::object();
  j["seq"] = e.seq;
  j["type"] = client::Str(e.type);
  j["actor_id"] = client::Str(e.actor_id);
  j["target_id"] = client::Str(e.target_id);
  j["device_id"] = client::Str(e.device_id);
  j["time"] = e.time;
  j["at"] = client::Str(FormatTime(e.time));
  client::Json details = client::Json::object();
  for (const auto& [k, v] : e.details) details[client::ToSecretString(k)] = client::Str(v);
  j["details"] = std::move(details);
  j["hash"] = client::Str(HashHex(r.hash));
  return j;
}

// An --actor/--target value: an email is looked up among the members; an
// account id is taken as it is (it may name someone who has left).
Result<std::string> MemberId(OrgSession& s, std::string_view org_id, const std::string& value) {
  if (value.empty() || value.find('@') == std::string::npos) return value;
  KW_ASSIGN_OR_RETURN(auto m, s.Member(org_id, value));
  return m.account_id;
}

Status List(Context& ctx, const EventsArgs& a) {
  for (const auto& [value, option] :
       {std::pair{a.since, "--since"}, std::pair{a.until, "--until"}}) {
    if (value.empty()) continue;
    KW_TRY(ParseTime(value, option));
  }
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  client::EventQuery q;
  q.after = a.after;
  q.limit = a.limit;
  q.type = a.type;
  q.since = a.since;
  q.until = a.until;
  KW_ASSIGN_OR_RETURN(auto actor, MemberId(*s, org.id, a.actor));
  q.actor = actor;
  KW_ASSIGN_OR_RETURN(auto target, MemberId(*s, org.id, a.target));
  q.target = target;
  KW_ASSIGN_OR_RETURN(auto page, s->org().Events(org.id, q));
  if (ctx.json()) {
    client::Json arr = client::Json::array();
    for (const auto& r : page.records) arr.push_back(EventJson(r));
    client::Json j = client::Json::object();
    j["org_id"] = client::Str(org.id);
    j["events"] = std::move(arr);
    j["next_after"] = page.next_after ? client::Json(*page.next_after) : client::Json(nullptr);
    ctx.OutJson(j);
    return {};
  }
  if (page.records.empty()) {
    ctx.Out("No events.");
    return {};
  }
  // Emails read better than account ids; members who left keep their id.
  std::map<std::string, std::string> names;
  if (auto members = s->org().Members(org.id); members) {
    for (const auto& m : members->members) names[m.account_id] = m.email;
  }
  auto who = [&](const std::string& id) -> std::string {
    if (id.empty()) return "-";
    auto it = names.find(id);
    return it == names.end() ? id : it->second;
  };
  std::vector<std::vector<std::string>> rows = {
      {"SEQ", "TIME", "TYPE", "ACTOR", "TARGET", "DETAILS"}};
  for (const auto& r : page.records) {
    const auto& e = r.event;
    std::string details;
    for (const auto& [k, v] : e.details) {
      if (!details.empty()) details += ' ';
      details += fmt::format("{}={}", k, v);
    }
    rows.push_back({std::to_string(e.seq), FormatTime(e.time), e.type,
                    e.actor_id.empty() ? "(server)" : who(e.actor_id), who(e.target_id), details});
  }
  PrintTable(ctx, rows);
  if (page.next_after) {
    ctx.Hint(fmt::format("More events: keyward events list --after {}", *page.next_after));
  }
  return {};
}

Status Export(Context& ctx, const EventsArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  KW_ASSIGN_OR_RETURN(auto records, s->org().AllEvents(org.id));
  KW_ASSIGN_OR_RETURN(auto text, protocol::audit::ExportJsonLines(records));
  if (a.output.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return {};
  }
  KW_TRY(client::WriteFileAtomically(a.output, text));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("exported");
    j["org_id"] = client::Str(org.id);
    j["events"] = records.size();
    j["file"] = client::Str(a.output);
    ctx.OutJson(j);
  } else {
    ctx.Out(fmt::format("Exported {} events of {} to {}.", records.size(), org.name, a.output));
  }
  return {};
}

Result<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Fail(Error::NotFound("cli.file_not_found", fmt::format("cannot read {}", path)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status Verify(Context& ctx, const EventsArgs& a) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  std::vector<protocol::audit::Record> records;
  std::string org_id, org_name;
  std::unique_ptr<OrgSession> session;
  if (!a.file.empty()) {
    KW_ASSIGN_OR_RETURN(auto text, ReadTextFile(a.file));
    KW_ASSIGN_OR_RETURN(auto parsed, text.empty() ? Result<std::vector<protocol::audit::Record>>()
                                                  : protocol::audit::ParseJsonLines(text));
    records = std::move(parsed);
    if (!records.empty()) org_id = records.front().event.org_id;
  }
  if (a.file.empty() || (!a.org.empty() && a.org != org_id)) {
    KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
    session = std::move(s);
    KW_ASSIGN_OR_RETURN(auto org, session->ResolveOrg(a.org));
    if (!a.file.empty() && !records.empty() && org.id != org_id) {
      return Fail(Error::InvalidArgument(
          "cli.usage",
          fmt::format("{} holds the events of another organization ({})", a.file, org_id)));
    }
    org_id = org.id;
    org_name = org.name;
    if (a.file.empty()) {
      KW_ASSIGN_OR_RETURN(auto all, session->org().AllEvents(org_id));
      records = std::move(all);
    }
  }
  if (org_id.empty()) {
    return Fail(Error::InvalidArgument(
        "cli.usage", fmt::format("{} holds no events; nothing to verify", a.file)));
  }

  auto head = protocol::audit::Verify(org_id, records);
  if (!head) {
    return Fail(Error(head.error().kind(), head.error().code(),
                      fmt::format("the event log is broken: {}", head.error().message())));
  }
  // The profile of a session (if any) is the one to update.
  client::Profile& p = session ? session->profile() : profile;
  auto remembered = p.event_heads.find(org_id);
  if (remembered != p.event_heads.end()) {
    std::vector<protocol::audit::Event> events;
    events.reserve(records.size());
    for (const auto& r : records) events.push_back(r.event);
    if (auto st = protocol::audit::CheckExtends(remembered->second, events); !st) {
      const bool rewritten = st.error().code() == "events.chain_rewritten";
      return Fail(Error(st.error().kind(), st.error().code(),
                        fmt::format("the event log {}: {} (this device verified event {} before)",
                                    rewritten ? "was rewritten" : "is broken", st.error().message(),
                                    remembered->second.seq)));
    }
  }
  // A file older than the remembered head proves nothing new: keep the newer head.
  bool advance = remembered == p.event_heads.end() || head->seq >= remembered->second.seq;
  if (advance) {
    p.event_heads[org_id] = *head;
    KW_TRY(ctx.SaveProfile(p));
  }
  std::string hash = HashHex(head->hash);
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("verified");
    j["org_id"] = client::Str(org_id);
    j["events"] = records.size();
    j["head_seq"] = head->seq;
    j["head_hash"] = client::Str(hash);
    ctx.OutJson(j);
  } else {
    ctx.Out(fmt::format("verified {} events, head {} {}", records.size(), head->seq, hash));
  }
  return {};
}

}  // namespace

void AddEventsCommands(CLI::App& app, Action* action) {
  auto* events = app.add_subcommand("events", "The organization's verifiable event log");
  events->require_subcommand(1);

  auto list_args = std::make_shared<EventsArgs>();
  auto* list = events->add_subcommand("list", "List events, oldest first, one page at a time");
  AddOrgOption(list, *list_args);
  list->add_option("--type", list_args->type, "Only this event type, e.g. recovery.enrolled");
  list->add_option("--actor", list_args->actor, "Only events by this member (email or id)");
  list->add_option("--target", list_args->target, "Only events about this member (email or id)");
  list->add_option("--since", list_args->since, "Only events at or after this RFC 3339 time");
  list->add_option("--until", list_args->until, "Only events before this RFC 3339 time");
  list->add_option("--limit", list_args->limit, "Events per page (1-1000, default 100)")
      ->check(CLI::Range(1, 1000));
  list->add_option("--after", list_args->after, "Start after this sequence number");
  list->callback([=] { *action = [=](Context& c) { return List(c, *list_args); }; });

  auto export_args = std::make_shared<EventsArgs>();
  auto* exp = events->add_subcommand("export", "Export every event with its chain hash");
  AddOrgOption(exp, *export_args);
  exp->add_option("--format", export_args->format, "jsonl (JSON Lines, the default)")
      ->check(CLI::IsMember({"jsonl"}));
  exp->add_option("--output", export_args->output,
                  "Write to this file (atomically, mode 0600) instead of stdout");
  exp->callback([=] { *action = [=](Context& c) { return Export(c, *export_args); }; });

  auto verify_args = std::make_shared<EventsArgs>();
  auto* verify = events->add_subcommand(
      "verify", "Check the hash chain, and that it extends what this device verified before");
  AddOrgOption(verify, *verify_args);
  verify->add_option("--file", verify_args->file,
                     "Verify an exported JSON Lines file instead of fetching the log");
  verify->callback([=] { *action = [=](Context& c) { return Verify(c, *verify_args); }; });
}

}  // namespace keyward::cli
