// keywardd with a stand-in API (GET /v1/ping, counts sweeps), for the process
// tests of keywardd itself.
#include "server/app.h"

namespace {

class FakeApi final : public keyward::api::Api {
 public:
  void RegisterRoutes(keyward::http::Router& router) override {
    router.Add("GET", "/v1/ping",
               [](const keyward::http::Request&, const keyward::http::PathParams&) {
                 return keyward::http::JsonResponse(200, {{"pong", true}});
               });
  }
  void Sweep() override {}
};

}  // namespace

int main(int argc, char** argv) {
  return keyward::server::Main(
      argc, argv,
      [](const keyward::api::ApiConfig&, std::unique_ptr<keyward::store::Store>,
         keyward::mail::Mailer&, const keyward::Clock&, const keyward::crypto::ServerSecret&)
          -> keyward::Result<std::unique_ptr<keyward::api::Api>> {
        return std::make_unique<FakeApi>();
      });
}
