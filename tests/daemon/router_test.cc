#include "daemon/router.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace rock {
namespace {

HttpRequest Request(std::string method, std::string path) {
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.target = request.path;
  return request;
}

struct Answer {
  HttpResponse response;
  std::string route;
  int calls = 0;
};

Answer Dispatch(const Router& router, const HttpRequest& request) {
  Answer answer;
  std::string_view route;
  router.Dispatch(
      request,
      [&answer](HttpResponse response) {
        answer.response = std::move(response);
        ++answer.calls;
      },
      &route);
  answer.route = std::string(route);
  return answer;
}

nlohmann::json Body(const Answer& answer) { return nlohmann::json::parse(answer.response.body); }

Router SandboxRouter() {
  Router router;
  router.AddSync("GET", "/api/v1/sandboxes", [](const HttpRequest&, const PathParams&) {
    return JsonResponse(200, {{"list", true}});
  });
  router.AddSync("GET", "/api/v1/sandboxes/{id}", [](const HttpRequest&, const PathParams& params) {
    return JsonResponse(200, {{"id", params.at("id")}});
  });
  router.AddSync("DELETE", "/api/v1/sandboxes/{id}", [](const HttpRequest&, const PathParams& params) {
    return JsonResponse(200, {{"deleted", params.at("id")}});
  });
  return router;
}

TEST(Router, MatchesLiteralAndParameterSegments) {
  const Router router = SandboxRouter();
  auto list = Dispatch(router, Request("GET", "/api/v1/sandboxes"));
  EXPECT_EQ(list.response.status, 200);
  EXPECT_EQ(Body(list)["list"], true);
  EXPECT_EQ(list.route, "/api/v1/sandboxes");

  auto one = Dispatch(router, Request("GET", "/api/v1/sandboxes/sb-42"));
  EXPECT_EQ(Body(one)["id"], "sb-42");
  EXPECT_EQ(one.route, "/api/v1/sandboxes/{id}") << "metrics get the pattern, not the raw path";
  EXPECT_EQ(one.calls, 1);
}

TEST(Router, UnknownPathIsA404Envelope) {
  auto answer = Dispatch(SandboxRouter(), Request("GET", "/api/v1/nope"));
  EXPECT_EQ(answer.response.status, 404);
  EXPECT_EQ(Body(answer)["error"]["code"], "not_found");
  EXPECT_NE(Body(answer)["error"]["message"].get<std::string>().find("/api/v1/nope"), std::string::npos);
  EXPECT_EQ(answer.route, "unmatched");
}

TEST(Router, EmptyParameterSegmentDoesNotMatch) {
  EXPECT_EQ(Dispatch(SandboxRouter(), Request("GET", "/api/v1/sandboxes/")).response.status, 404);
  EXPECT_EQ(Dispatch(SandboxRouter(), Request("GET", "/api/v1/sandboxes/a/b")).response.status, 404);
}

TEST(Router, WrongMethodIsA405WithAllowHeader) {
  auto answer = Dispatch(SandboxRouter(), Request("PUT", "/api/v1/sandboxes/x"));
  EXPECT_EQ(answer.response.status, 405);
  EXPECT_EQ(Body(answer)["error"]["code"], "method_not_allowed");
  ASSERT_EQ(answer.response.headers.size(), 1u);
  EXPECT_EQ(answer.response.headers[0].first, "Allow");
  EXPECT_EQ(answer.response.headers[0].second, "GET, DELETE");
}

TEST(Router, HeadIsServedByGet) {
  auto answer = Dispatch(SandboxRouter(), Request("HEAD", "/api/v1/sandboxes"));
  EXPECT_EQ(answer.response.status, 200);
}

TEST(Router, FallbackServesUnroutedGetsOnly) {
  Router router = SandboxRouter();
  router.SetFallback([](const HttpRequest& request, const PathParams&, Respond respond) {
    HttpResponse response;
    response.body = "static:" + request.path;
    respond(std::move(response));
  });
  auto page = Dispatch(router, Request("GET", "/index.html"));
  EXPECT_EQ(page.response.body, "static:/index.html");
  EXPECT_EQ(page.route, "static");
  EXPECT_EQ(Dispatch(router, Request("POST", "/index.html")).response.status, 404);
  const auto api = Dispatch(router, Request("GET", "/api/v1/missing"));
  EXPECT_EQ(api.response.status, 404) << "API paths never fall back to files";
  EXPECT_EQ(api.route, "unmatched");
}

TEST(Router, AsyncHandlerMayAnswerLater) {
  Router router;
  Respond saved;
  router.Add("POST", "/slow", [&saved](const HttpRequest&, const PathParams&, Respond respond) {
    saved = std::move(respond);
  });
  Answer answer;
  std::string_view route;
  router.Dispatch(Request("POST", "/slow"), [&answer](HttpResponse r) { answer.response = std::move(r); ++answer.calls; },
                  &route);
  EXPECT_EQ(answer.calls, 0);
  saved(JsonResponse(202, {{"done", true}}));
  EXPECT_EQ(answer.calls, 1);
  EXPECT_EQ(answer.response.status, 202);
}

TEST(ErrorEnvelope, StatusCodesMapToHttpStatuses) {
  EXPECT_EQ(ErrorResponse(InvalidArgument("x")).status, 400);
  EXPECT_EQ(ErrorResponse(NotFound("x")).status, 404);
  EXPECT_EQ(ErrorResponse(FailedPrecondition("x")).status, 409);
  EXPECT_EQ(ErrorResponse(Unavailable("x")).status, 503);
  EXPECT_EQ(ErrorResponse(Internal("x")).status, 500);
  const auto body = nlohmann::json::parse(ErrorResponse(InvalidArgument("bad \xff byte")).body);
  EXPECT_EQ(body["error"]["code"], "invalid_argument");
  EXPECT_TRUE(body["error"]["message"].is_string()) << "invalid UTF-8 is replaced, never thrown";
}

TEST(HttpRequest, QueryParamsArePercentDecoded) {
  HttpRequest request;
  request.query = "after_seq=10&name=a%20b+c&empty=&flag";
  EXPECT_EQ(request.query_param("after_seq"), "10");
  EXPECT_EQ(request.query_param("name"), "a b c");
  EXPECT_EQ(request.query_param("empty"), "");
  EXPECT_EQ(request.query_param("missing"), "");
  std::string out;
  EXPECT_FALSE(PercentDecode("%4", false, &out));
  EXPECT_FALSE(PercentDecode("%zz", false, &out));
  EXPECT_TRUE(PercentDecode("a%2Fb", false, &out));
  EXPECT_EQ(out, "a/b");
}

}  // namespace
}  // namespace rock
