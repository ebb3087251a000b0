#include "protocol/link.h"

#include <algorithm>
#include <cstring>

#include "common/try.h"
#include "protocol/binding.h"

namespace keyward::protocol {
namespace {

Error Malformed(std::string what) {
  return Error::InvalidArgument("link.malformed", "malformed recovery link: " + what);
}

bool ValidPublicUrl(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return false;
  }
  if (rest.empty() || rest.front() == '/' || url.back() == '/') return false;
  return std::all_of(url.begin(), url.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != '?' && c != '#' && c != '\\';
  });
}

}  // namespace

crypto::GenericKey DeriveLinkToken(const crypto::GenericKey& link_secret) {
  return crypto::GenericKey(crypto::Sub(link_secret.span(), 1, kLinkContext));
}

crypto::GenericKey DeriveLinkKey(const crypto::GenericKey& link_secret) {
  return crypto::GenericKey(crypto::Sub(link_secret.span(), 2, kLinkContext));
}

Result<crypto::SecureBytes> EncodeLinkPlaintext(const crypto::GenericKey& admin_part,
                                                const OrgPin* anchor) {
  if (anchor == nullptr) return crypto::SecureBytes::Copy(admin_part.span());
  KW_TRY(CheckId(anchor->org_id));
  KW_TRY(CheckPublicKey(anchor->signing_public_key));
  KW_TRY(CheckCounter(anchor->version));
  if (anchor->statement_digest.size() != 32) {
    return Fail(Error::InvalidArgument("link.invalid_anchor",
                                       "the organization anchor needs a 32-byte statement digest"));
  }
  crypto::SecureBytes out(crypto::GenericKey::kSize + kLinkAnchorFixedSize + anchor->org_id.size());
  uint8_t* p = out.data();
  auto put = [&p](std::span<const uint8_t> bytes) {
    std::memcpy(p, bytes.data(), bytes.size());
    p += bytes.size();
  };
  put(admin_part.span());
  put(anchor->signing_public_key);
  put(anchor->statement_digest);
  for (int shift = 56; shift >= 0; shift -= 8)
    *p++ = static_cast<uint8_t>(anchor->version >> shift);
  put({reinterpret_cast<const uint8_t*>(anchor->org_id.data()), anchor->org_id.size()});
  return out;
}

Result<ApprovedLink> CreateLink(const crypto::GenericKey& admin_part, std::string_view request_id,
                                std::string_view user_id, uint64_t epoch, const OrgPin* anchor) {
  KW_TRY(CheckId(request_id));
  KW_TRY(CheckId(user_id));
  KW_TRY(CheckCounter(epoch));
  KW_ASSIGN_OR_RETURN(auto plaintext, EncodeLinkPlaintext(admin_part, anchor));
  ApprovedLink link{crypto::GenericKey::Random(), {}, {}};
  link.token = DeriveLinkToken(link.link_secret);
  const crypto::GenericKey link_key = DeriveLinkKey(link.link_secret);
  link.linked_admin_share =
      crypto::Encrypt(link_key.span(), plaintext.span(), LinkAd(request_id, user_id, epoch));
  return link;
}

Result<OpenedLink> OpenLinkWithAnchor(const crypto::GenericKey& link_secret,
                                      std::span<const uint8_t> linked_admin_share,
                                      std::string_view request_id, std::string_view user_id,
                                      uint64_t epoch) {
  KW_TRY(CheckId(request_id));
  KW_TRY(CheckId(user_id));
  KW_TRY(CheckCounter(epoch));
  const crypto::GenericKey link_key = DeriveLinkKey(link_secret);
  auto plain =
      crypto::Decrypt(link_key.span(), linked_admin_share, LinkAd(request_id, user_id, epoch));
  constexpr size_t kA = crypto::GenericKey::kSize;
  if (!plain || plain->size() < kA) return Fail(DecryptFailed());
  OpenedLink out{crypto::GenericKey(crypto::SecureBytes::Copy(plain->span().first(kA))),
                 std::nullopt};
  if (plain->size() == kA) return out;
  if (plain->size() <= kA + kLinkAnchorFixedSize) return Fail(DecryptFailed());
  std::span<const uint8_t> rest = plain->span().subspan(kA);
  OrgPin pin;
  pin.signing_public_key.assign(rest.begin(), rest.begin() + 32);
  pin.statement_digest.assign(rest.begin() + 32, rest.begin() + 64);
  for (size_t i = 64; i < 72; ++i) pin.version = (pin.version << 8) | rest[i];
  pin.org_id.assign(reinterpret_cast<const char*>(rest.data()) + 72, rest.size() - 72);
  if (!CheckId(pin.org_id) || !CheckCounter(pin.version)) return Fail(DecryptFailed());
  out.anchor = std::move(pin);
  return out;
}

Result<crypto::GenericKey> OpenLink(const crypto::GenericKey& link_secret,
                                    std::span<const uint8_t> linked_admin_share,
                                    std::string_view request_id, std::string_view user_id,
                                    uint64_t epoch) {
  KW_ASSIGN_OR_RETURN(
      auto opened, OpenLinkWithAnchor(link_secret, linked_admin_share, request_id, user_id, epoch));
  return std::move(opened.admin_part);
}

Result<crypto::SecureBytes> BuildLinkText(std::string_view public_url, std::string_view request_id,
                                          const crypto::GenericKey& link_secret) {
  if (!ValidPublicUrl(public_url)) {
    return Fail(Error::InvalidArgument(
        "link.invalid_public_url",
        "the public URL must be http(s)://host[...] without a trailing '/', query or fragment"));
  }
  KW_TRY(CheckId(request_id));
  std::string fragment = crypto::Base64UrlEncode(link_secret.span());
  const size_t size =
      public_url.size() + kRecoverPath.size() + request_id.size() + 1 + fragment.size();
  crypto::SecureBytes text(size);
  char* out = reinterpret_cast<char*>(text.data());
  for (std::string_view part :
       {public_url, kRecoverPath, request_id, std::string_view("#"), std::string_view(fragment)}) {
    std::memcpy(out, part.data(), part.size());
    out += part.size();
  }
  crypto::Wipe({reinterpret_cast<uint8_t*>(fragment.data()), fragment.size()});
  return text;
}

Result<RecoveryLink> ParseLinkText(std::string_view text) {
  if (text.size() > kMaxLinkSize) return Fail(Malformed("too long"));
  const size_t hash = text.find('#');
  if (hash == std::string_view::npos) return Fail(Malformed("no fragment"));
  const std::string_view fragment = text.substr(hash + 1);
  const std::string_view location = text.substr(0, hash);
  if (fragment.find('#') != std::string_view::npos) return Fail(Malformed("two fragments"));
  const size_t recover = location.rfind(kRecoverPath);
  if (recover == std::string_view::npos) return Fail(Malformed("no /recover/ path"));
  const std::string_view public_url = location.substr(0, recover);
  const std::string_view request_id = location.substr(recover + kRecoverPath.size());
  if (!ValidPublicUrl(public_url)) return Fail(Malformed("server address"));
  if (!CheckId(request_id)) return Fail(Malformed("request id"));
  // Base64UrlDecodeSecret is strict (no padding, alphabet, trailing bits).
  auto secret = crypto::Base64UrlDecodeSecret(fragment);
  if (!secret || secret->size() != crypto::GenericKey::kSize) {
    return Fail(Malformed("link secret"));
  }
  return RecoveryLink{std::string(public_url), std::string(request_id),
                      crypto::GenericKey(std::move(*secret))};
}

}  // namespace keyward::protocol
