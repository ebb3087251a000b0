#include "http/router.h"

#include <stdexcept>

#include <gtest/gtest.h>

namespace keyward::http {
namespace {

Request Make(std::string method, std::string path) {
  Request request;
  request.method = std::move(method);
  request.path = std::move(path);
  return request;
}

Request JsonRequest(std::string body, std::string content_type = "application/json") {
  Request request = Make("POST", "/x");
  request.headers["content-type"] = std::move(content_type);
  request.body = std::move(body);
  return request;
}

Handler Echo(std::string name) {
  return [name](const Request&, const PathParams& params) {
    nlohmann::json body = {{"handler", name}};
    for (const auto& [k, v] : params) body["params"][k] = v;
    return JsonResponse(200, body);
  };
}

nlohmann::json BodyOf(const Response& response) { return nlohmann::json::parse(response.body); }

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router_.Add("GET", "/healthz", Echo("health"));
    router_.Add("GET", "/v1/items", Echo("list"));
    router_.Add("POST", "/v1/items", Echo("create"));
    router_.Add("GET", "/v1/items/{id}", Echo("get"));
    router_.Add("DELETE", "/v1/items/{id}", Echo("delete"));
    router_.Add("GET", "/v1/orgs/{org}/members/{user}", Echo("member"));
    router_.Add("GET", "/v1/items/special", Echo("special"));
  }
  Router router_;
};

TEST_F(RouterTest, MatchesLiteralAndParams) {
  EXPECT_EQ(BodyOf(router_.Handle(Make("GET", "/healthz")))["handler"], "health");
  EXPECT_EQ(BodyOf(router_.Handle(Make("POST", "/v1/items")))["handler"], "create");
  auto got = BodyOf(router_.Handle(Make("GET", "/v1/items/abc")));
  EXPECT_EQ(got["handler"], "get");
  EXPECT_EQ(got["params"]["id"], "abc");
  auto member = BodyOf(router_.Handle(Make("GET", "/v1/orgs/o1/members/u%402")));
  EXPECT_EQ(member["params"]["org"], "o1");
  EXPECT_EQ(member["params"]["user"], "u@2");  // percent-decoded
}

TEST_F(RouterTest, FirstRegisteredRouteWins) {
  EXPECT_EQ(BodyOf(router_.Handle(Make("GET", "/v1/items/special")))["handler"], "get");
}

TEST_F(RouterTest, ParamNeedsNonEmptySegment) {
  EXPECT_EQ(router_.Handle(Make("GET", "/v1/items/")).status, 404);
  EXPECT_EQ(router_.Handle(Make("GET", "/v1/items/a/b")).status, 404);
  EXPECT_EQ(router_.Handle(Make("GET", "/v1")).status, 404);
  EXPECT_EQ(router_.Handle(Make("GET", "/")).status, 404);
}

TEST_F(RouterTest, UnknownPathIs404WithErrorShape) {
  Response response = router_.Handle(Make("GET", "/nope"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(BodyOf(response),
            nlohmann::json::parse(
                R"({"error":{"code":"route.not_found","message":"no such endpoint"}})"));
}

TEST_F(RouterTest, KnownPathOtherMethodIs405WithAllow) {
  Response response = router_.Handle(Make("PUT", "/v1/items/1"));
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(BodyOf(response)["error"]["code"], "route.method_not_allowed");
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0].first, "Allow");
  EXPECT_EQ(response.headers[0].second, "DELETE, GET, HEAD, OPTIONS");
}

TEST_F(RouterTest, HeadFallsBackToGet) {
  Response response = router_.Handle(Make("HEAD", "/healthz"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(BodyOf(response)["handler"], "health");
}

TEST_F(RouterTest, OptionsListsMethods) {
  Response response = router_.Handle(Make("OPTIONS", "/v1/items"));
  EXPECT_EQ(response.status, 204);
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0].second, "GET, HEAD, OPTIONS, POST");
  EXPECT_EQ(router_.Handle(Make("OPTIONS", "/nope")).status, 404);
}

TEST_F(RouterTest, ReportsMatchedPattern) {
  std::string pattern;
  router_.Handle(Make("GET", "/v1/items/secret-id"), &pattern);
  EXPECT_EQ(pattern, "/v1/items/{id}");
  router_.Handle(Make("PATCH", "/v1/items/secret-id"), &pattern);
  EXPECT_EQ(pattern, "/v1/items/{id}");
  router_.Handle(Make("GET", "/elsewhere"), &pattern);
  EXPECT_EQ(pattern, "");
}

TEST_F(RouterTest, RoutesListsEverything) {
  auto routes = router_.Routes();
  ASSERT_EQ(routes.size(), 7u);
  EXPECT_EQ(routes[0], (std::pair<std::string, std::string>{"GET", "/healthz"}));
}

TEST(RouterThrowTest, ThrowingHandlerIs500WithoutText) {
  Router router;
  router.Add("GET", "/boom", [](const Request&, const PathParams&) -> Response {
    throw std::runtime_error("secret-token-abc");
  });
  router.Add("GET", "/int", [](const Request&, const PathParams&) -> Response { throw 42; });
  for (const char* path : {"/boom", "/int"}) {
    Response response = router.Handle(Make("GET", path));
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(response.body.find("secret"), std::string::npos);
    EXPECT_EQ(BodyOf(response)["error"]["code"], "internal");
  }
}

TEST(ErrorResponseTest, ExactShapeAndStatusTable) {
  Response response = ErrorResponse(Error::Conflict("account.exists", "already registered"));
  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(response.body, R"({"error":{"code":"account.exists","message":"already registered"}})");
  EXPECT_EQ(HttpStatus(ErrorKind::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatus(ErrorKind::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatus(ErrorKind::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatus(ErrorKind::kNotFound), 404);
  EXPECT_EQ(HttpStatus(ErrorKind::kMethodNotAllowed), 405);
  EXPECT_EQ(HttpStatus(ErrorKind::kConflict), 409);
  EXPECT_EQ(HttpStatus(ErrorKind::kGone), 410);
  EXPECT_EQ(HttpStatus(ErrorKind::kTooLarge), 413);
  EXPECT_EQ(HttpStatus(ErrorKind::kUnsupportedMedia), 415);
  EXPECT_EQ(HttpStatus(ErrorKind::kRateLimited), 429);
  EXPECT_EQ(HttpStatus(ErrorKind::kInternal), 500);
  EXPECT_EQ(HttpStatus(ErrorKind::kUnavailable), 503);
}

TEST(ResponseHelpersTest, NoContentAndJson) {
  Response none = NoContent();
  EXPECT_EQ(none.status, 204);
  EXPECT_TRUE(none.body.empty());
  Response json = JsonResponse(201, {{"a", 1}});
  EXPECT_EQ(json.status, 201);
  EXPECT_EQ(json.body, R"({"a":1})");
}

TEST(ParseJsonBodyTest, AcceptsObjects) {
  auto ok = ParseJsonBody(JsonRequest(R"({"a":"é"})"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ((*ok)["a"], "é");
  EXPECT_TRUE(ParseJsonBody(JsonRequest("{}", "application/json; charset=utf-8")).has_value());
  EXPECT_TRUE(ParseJsonBody(JsonRequest("{}", "Application/JSON ;charset=UTF-8")).has_value());
}

TEST(ParseJsonBodyTest, RejectsWrongMediaType) {
  for (const char* type :
       {"", "text/plain", "application/jsonx", "application/x-www-form-urlencoded"}) {
    auto result = ParseJsonBody(JsonRequest("{}", type));
    ASSERT_FALSE(result.has_value()) << type;
    EXPECT_EQ(result.error().code(), "request.unsupported_media_type");
    EXPECT_EQ(HttpStatus(result.error().kind()), 415);
  }
}

TEST(ParseJsonBodyTest, RejectsMalformed) {
  const std::string cases[] = {
      "",
      "{",
      R"({"a":})",
      "{\"a\":\"\xff\"}",          // invalid UTF-8
      "{\"a\":\"\xc0\xaf\"}",      // overlong
      "{\"a\":\"\xed\xa0\x80\"}",  // surrogate
      "{\"a\":1} trailing",
      std::string("{\"a\":1}\0zq", 10),                 // NUL: the parser would stop there
      std::string(1000, '[') + std::string(1000, ']'),  // too deep
  };
  for (const auto& body : cases) {
    auto result = ParseJsonBody(JsonRequest(body));
    ASSERT_FALSE(result.has_value()) << body.substr(0, 20);
    EXPECT_EQ(result.error().code(), "request.malformed_json") << body.substr(0, 20);
    EXPECT_EQ(HttpStatus(result.error().kind()), 400);
  }
}

TEST(ParseJsonBodyTest, RejectsDuplicateKeysAtAnyDepth) {
  for (const char* body : {
           R"({"a":1,"a":1})", R"({"a":1,"b":2,"a":"x"})", R"({"o":{"k":1,"k":2}})",
           R"({"l":[1,{"k":1,"j":{},"k":1}]})", R"({"a":{"b":{"c":[{"d":{"e":1,"e":1}}]}}})",
           R"({"\u0061":1,"a":2})",  // the same key once decoded
       }) {
    auto result = ParseJsonBody(JsonRequest(body));
    ASSERT_FALSE(result.has_value()) << body;
    EXPECT_EQ(result.error().code(), "request.duplicate_key") << body;
    EXPECT_EQ(HttpStatus(result.error().kind()), 400) << body;
  }
  // The same key in different objects is fine.
  for (const char* body : {
           R"({"a":{"k":1},"b":{"k":2},"k":3})",
           R"({"l":[{"k":1},{"k":2}]})",
           R"({"a":{"a":{"a":1}}})",
       }) {
    EXPECT_TRUE(ParseJsonBody(JsonRequest(body)).has_value()) << body;
  }
}

TEST(ParseJsonBodyTest, RejectsNonObjects) {
  for (const char* body : {"[]", "1", "\"s\"", "null", "true"}) {
    auto result = ParseJsonBody(JsonRequest(body));
    ASSERT_FALSE(result.has_value()) << body;
    EXPECT_EQ(result.error().code(), "request.invalid_body");
    EXPECT_EQ(HttpStatus(result.error().kind()), 400);
  }
}

TEST(RequestTest, HeaderQueryAndBearer) {
  Request request = Make("GET", "/");
  request.headers["authorization"] = "Bearer  tok.en-1 ";
  request.query = "a=1&email=a%40b.c&sp=x+y&empty=&flag&a=2";
  EXPECT_EQ(request.Header("authorization"), "Bearer  tok.en-1 ");
  EXPECT_EQ(request.Header("missing"), "");
  EXPECT_EQ(request.BearerToken(), "tok.en-1");
  EXPECT_EQ(request.QueryParam("a"), "1");
  EXPECT_EQ(request.QueryParam("email"), "a@b.c");
  EXPECT_EQ(request.QueryParam("sp"), "x y");
  EXPECT_EQ(request.QueryParam("empty"), "");
  EXPECT_EQ(request.QueryParam("flag"), "");
  EXPECT_EQ(request.QueryParam("none"), "");

  request.headers["authorization"] = "bearer abc";
  EXPECT_EQ(request.BearerToken(), "abc");
  request.headers["authorization"] = "Basic abc";
  EXPECT_EQ(request.BearerToken(), "");
  request.headers["authorization"] = "Bearer";
  EXPECT_EQ(request.BearerToken(), "");
  request.headers["authorization"] = "Bearerabc";
  EXPECT_EQ(request.BearerToken(), "");
}

}  // namespace
}  // namespace keyward::http
