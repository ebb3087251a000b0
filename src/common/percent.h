// Percent-encoding (RFC 3986 2.1) of a URL query value or path segment:
// every byte but the unreserved characters ALPHA / DIGIT / "-" / "." / "_"
// / "~" becomes "%XX" (upper-case hex).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keyward {

std::string PercentEncode(std::string_view text);

// The inverse for one query value (application/x-www-form-urlencoded: '+'
// is a space); nullopt for a '%' not followed by two hex digits.
std::optional<std::string> PercentDecode(std::string_view text);

// The first value of `name` in a URL query ("a=1&b=2", without the '?'),
// decoded; nullopt when absent or badly encoded.
std::optional<std::string> QueryValue(std::string_view query, std::string_view name);

}  // namespace keyward
