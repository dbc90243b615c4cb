#include "daemon/static_files.h"

#include <fstream>
#include <functional>
#include <sstream>

#include "daemon/install_paths.h"

namespace rock {
namespace {

std::string ContentType(const std::filesystem::path& path) {
  static const std::unordered_map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},  {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},    {".json", "application/json"},
      {".svg", "image/svg+xml"},              {".png", "image/png"},
      {".ico", "image/x-icon"},               {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},  {".map", "application/json"},
  };
  const auto it = kTypes.find(path.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

}  // namespace

StatusOr<StaticFiles> StaticFiles::Load(const std::filesystem::path& root) {
  StaticFiles files;
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) {
    return NotFound("dashboard directory " + root.string() + " does not exist");
  }
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink() || !it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    if (!in) return IoError("open " + it->path().string() + " for reading failed");
    std::ostringstream body;
    body << in.rdbuf();
    File file{ContentType(it->path()), body.str(), {}};
    file.etag = "\"" + std::to_string(std::hash<std::string>{}(file.body)) + "\"";
    files.files_.emplace("/" + std::filesystem::relative(it->path(), root).generic_string(), std::move(file));
  }
  if (ec) return IoError("reading dashboard directory " + root.string() + ": " + ec.message());
  return files;
}

HttpResponse StaticFiles::Serve(const HttpRequest& request) const {
  const std::string& path = request.path == "/" ? std::string("/index.html") : request.path;
  const auto it = files_.find(path);
  if (it == files_.end()) return ErrorResponse(404, "not_found", "no route or file for GET " + request.path);
  HttpResponse response;
  response.headers.emplace_back("ETag", it->second.etag);
  response.headers.emplace_back("Cache-Control", "no-cache");
  if (request.header("if-none-match") == it->second.etag) {
    response.status = 304;
    response.content_type = it->second.content_type;
    return response;
  }
  response.content_type = it->second.content_type;
  response.body = it->second.body;
  return response;
}

std::filesystem::path DashboardDir(const std::string& configured) {
  return configured.empty() ? InstalledDataDir("dashboard") : std::filesystem::path(configured);
}

}  // namespace rock
