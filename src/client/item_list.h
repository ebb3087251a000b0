// The vault's items as the server lists them (GET /v1/items) and as the
// client opens them: the path of `keyward item list`, apart from HTTP, so
// that a benchmark can put it beside raw AEAD over the same bytes.
#pragma once

#include <string_view>
#include <vector>

#include "client/secret_json.h"
#include "common/error.h"
#include "keyward/client.h"

namespace keyward::client {

// One item of an answer: id, revision, data (base64url), times.
[[nodiscard]] Result<EncryptedItem> ParseItem(const Json& j);
// The "items" array of a GET /v1/items answer.
[[nodiscard]] Result<std::vector<EncryptedItem>> ParseItemList(const Json& answer);
// The same from the answer's text. keywardd writes it in one form (no
// spaces, fixed member order, only base64url, digits and RFC 3339 times in
// it): that form is read directly, in one pass; any other text goes
// through the JSON parser, with the same result (ItemListTest holds the
// two to each other).
[[nodiscard]] Result<std::vector<EncryptedItem>> ParseItemListText(std::string_view text);
// An item's plaintext as clients write it: an object of string members with
// no spaces and no escapes in printable ASCII. Read directly into `fields`
// (the last of a name wins; other names are skipped) and true; false, with
// `fields` untouched, for any other text, which DecryptItem then reads with
// the JSON parser.
[[nodiscard]] bool ReadPlainItemFields(std::string_view text, ItemFields& fields);
// One item opened under `uk`: item.decrypt_failed when it does not open
// (tampered, moved to another item or account).
[[nodiscard]] Result<Item> OpenItem(const crypto::VaultKey& uk, std::string_view account_id,
                                    EncryptedItem item);
// Every item opened under `uk`; the first that does not open (tampered,
// moved to another item or account) fails the whole list.
[[nodiscard]] Result<std::vector<Item>> OpenItems(const crypto::VaultKey& uk,
                                                  std::string_view account_id,
                                                  std::vector<EncryptedItem> items);

}  // namespace keyward::client
