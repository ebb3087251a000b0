// The strict decoders of JSON request bodies (src/http/api/json_fields.h and
// the shared object decoders of route_support.h) on a hostile body, without
// the router or a session in the way. Each decoder must either decode or
// fail with a request.* (or its own) error code; it must never throw.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "http/api/json_fields.h"
#include "http/api/route_support.h"

namespace keyward::fuzz {
namespace {

using api::Fields;

// Every field name the decoders below read, so that FromBody lets each
// through and the decoders see every shape.
constexpr std::initializer_list<std::string_view> kAllowed = {"auth_key",
                                                              "device",
                                                              "key_version",
                                                              "recovery_grant",
                                                              "signing_grant",
                                                              "statement",
                                                              "signature",
                                                              "escrow",
                                                              "escrows",
                                                              "epoch",
                                                              "wrapped_vault_key",
                                                              "admin_share",
                                                              "server_share",
                                                              "items",
                                                              "org_id",
                                                              "id",
                                                              "data",
                                                              "kdf",
                                                              "name",
                                                              "type",
                                                              "count"};

void Accessors(const Fields& f) {
  for (std::string_view name : kAllowed) {
    RequireCoded(f.String(name));
    RequireCoded(f.OptionalString(name));
    RequireCoded(f.Count(name));
    RequireCoded(f.Binary(name, 1, 128));
    RequireCoded(f.BinaryArray(name, 32, 8));
    RequireCoded(f.AuthKey(name));
    RequireCoded(f.Kdf(name));
    RequireCoded(f.Object(name, {"id", "name", "type"}));
    RequireCoded(f.ObjectArray(name, {"id", "data"}, 8));
    (void)f.Has(name);
  }
}

void Decoders(const Fields& f) {
  RequireCoded(api::DeviceFrom(f));
  RequireCoded(api::GrantUploadFrom(f));
  RequireCoded(api::SignedStatementFrom(f));
  RequireCoded(api::ParseEscrowUpload(f, "escrow"));
  RequireCoded(api::EscrowUploadFrom(f));
  RequireCoded(api::OrgEscrowUploads(f, "escrows", 8));
  RequireCoded(api::StagedItemsFrom(f, 1024));
}

}  // namespace
}  // namespace keyward::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyward;
  using namespace keyward::fuzz;
  FuzzedDataProvider in(data, size);
  static const char* const kContentTypes[] = {"application/json", "application/json; charset=utf-8",
                                              "text/plain", ""};
  http::Request request;
  request.method = "POST";
  request.path = "/v1/fuzz";
  const char* content_type = kContentTypes[in.ConsumeIntegralInRange<size_t>(0, 3)];
  if (*content_type) request.headers["content-type"] = content_type;
  request.query = in.ConsumeRandomLengthString(200);
  request.body = in.ConsumeRemainingBytesAsString();

  RequireCoded(http::ParseJsonBody(request));
  RequireCoded(api::AuthKeyBody(request));
  RequireCoded(api::NoBody(request));
  RequireCoded(api::QueryNumber(request, "limit", 50, 1, 500));
  (void)request.QueryParam("limit");
  (void)request.BearerToken();
  auto fields = Fields::FromBody(request, kAllowed);
  RequireCoded(fields);
  if (!fields) return 0;
  Accessors(*fields);
  Decoders(*fields);
  return 0;
}
