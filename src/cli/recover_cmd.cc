// keyward recover --email E [--path pair|cloud|request|restart]: the member's
// ways back in, in the order of the JumpCloud seed, asking its questions
// (docs/recovery.md "Which way back?"). Each step is the same command a
// member could run alone (member_paths.h).
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/member_paths.h"
#include "common/try.h"

namespace keyward::cli {
namespace {

struct RecoverArgs {
  std::string email;
  std::string path;  // empty: ask
  std::string device_name;
  std::string snapshot;  // --snapshot ID for the cloud path
};

Status Recover(Context& ctx, const RecoverArgs& a) {
  std::string path = a.path;
  if (path.empty()) {
    ctx.Hint(
        "Ways back in, one at a time. (A local backup is restored once you are back in, with "
        "the password it was made with: keyward backup restore.)");
    KW_ASSIGN_OR_RETURN(bool other_device,
                        ctx.prompt().Confirm("Do you have access to another signed-in device?"));
    if (other_device) {
      path = "pair";
    } else {
      KW_ASSIGN_OR_RETURN(
          bool org, ctx.prompt().Confirm("Can an administrator of your organization recover your "
                                         "account (you are enrolled in account recovery)?"));
      bool cloud = false;
      if (org) {
        KW_ASSIGN_OR_RETURN(
            cloud, ctx.prompt().Confirm("Restore your vault from a cloud backup as well (your "
                                        "other devices will be unpaired)?"));
      }
      if (cloud) {
        path = "cloud";
      } else if (org) {
        path = "request";
      } else {
        KW_ASSIGN_OR_RETURN(bool restart,
                            ctx.prompt().Confirm("Then only starting over is left: a new, empty "
                                                 "vault for the same account. Go on?"));
        if (!restart) {
          return Fail(Error::InvalidArgument(
              "cli.cancelled",
              "nothing done; when another device is at hand: keyward device pair --email " +
                  a.email));
        }
        path = "restart";
      }
    }
  }
  if (path == "pair") {
    ctx.Hint("On the signed-in device run: keyward device pair-show");
    return PairThisDevice(ctx, a.email, a.device_name);
  }
  if (path == "cloud") return RestoreCloudBackup(ctx, a.email, a.snapshot);
  if (path == "request") return RequestRecovery(ctx, a.email);
  if (path == "restart") return StartOver(ctx, a.email);
  return Fail(
      Error::InvalidArgument("cli.usage", "--path is one of pair, cloud, request, restart"));
}

}  // namespace

void AddRecoverCommand(CLI::App& app, Action* action) {
  auto a = std::make_shared<RecoverArgs>();
  auto* recover = app.add_subcommand(
      "recover", "Forgot the master password or lost your devices? Find the way back in");
  recover->add_option("--email", a->email, "Your account's email")->required();
  recover->add_option("--path", a->path,
                      "Skip the questions: pair (another device is signed in), cloud (restore a "
                      "cloud backup, with an admin's approval), request (ask an admin), restart "
                      "(a new, empty vault)");
  recover->add_option("--snapshot", a->snapshot,
                      "The cloud backup to restore (default: the newest), with --path cloud");
  recover->add_option("--device-name", a->device_name, "This device's name, when pairing");
  recover->callback([=] { *action = [=](Context& c) { return Recover(c, *a); }; });
}

}  // namespace keyward::cli
