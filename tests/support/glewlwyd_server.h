// A real OpenID Connect provider for the SSO tests: Debian's glewlwyd run
// and configured by tests/support/glewlwyd.py in a child process, behind an
// RAII handle (link keyward_test_glewlwyd, src/sso/CMakeLists.txt).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "tests/support/script_process.h"

namespace keyward::testing {

struct GlewlwydUser {
  std::string name;
  std::string password;
  std::string email;
};

class GlewlwydTestServer {
 public:
  // Starts glewlwyd with a confidential client "keyward" allowed to
  // redirect to `redirect_uris` (exactly), and these users.
  static Result<std::unique_ptr<GlewlwydTestServer>> Start(std::vector<GlewlwydUser> users,
                                                           std::vector<std::string> redirect_uris);
  ~GlewlwydTestServer();

  const std::string& issuer() const { return issuer_; }
  const std::string& client_id() const { return client_id_; }
  const std::string& client_secret() const { return client_secret_; }

  // The user's side of the authorization request at `auth_url`, headless
  // (log in, consent): the URL glewlwyd redirects the browser to.
  Result<std::string> Login(const std::string& user, const std::string& password,
                            const std::string& auth_url) const;

  // Stops the provider now (a provider that is down). Idempotent.
  void Stop();

 private:
  GlewlwydTestServer() = default;
  std::filesystem::path dir_;
  std::string issuer_, client_id_, client_secret_, base_;
  std::unique_ptr<ScriptProcess> process_;
};

}  // namespace keyward::testing
