// Percent-encoding (RFC 3986 2.1) of a URL query value or path segment:
// every byte but the unreserved characters ALPHA / DIGIT / "-" / "." / "_"
// / "~" becomes "%XX" (upper-case hex).
#pragma once

#include <string>
#include <string_view>

namespace keyward {

std::string PercentEncode(std::string_view text);

}  // namespace keyward
