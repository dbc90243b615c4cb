// The dashboard's static assets, read once at startup into memory and served from there, so
// a request can never reach a file outside the asset directory (no path is ever opened).
#pragma once

#include <filesystem>
#include <string>
#include <unordered_map>

#include "common/status.h"
#include "daemon/http_message.h"

namespace rock {

class StaticFiles {
 public:
  // Loads every regular file under `root` (symlinks are skipped).
  static StatusOr<StaticFiles> Load(const std::filesystem::path& root);

  // "/" serves index.html. Unknown paths get the 404 error envelope.
  HttpResponse Serve(const HttpRequest& request) const;

  std::size_t size() const { return files_.size(); }

 private:
  struct File {
    std::string content_type;
    std::string body;
    std::string etag;
  };
  std::unordered_map<std::string, File> files_;  // key: "/index.html"
};

// Where the dashboard lives: `configured` if set, else `<exe>/../share/rockd/dashboard`
// (both the build tree and an installed tree have that shape).
std::filesystem::path DashboardDir(const std::string& configured);

}  // namespace rock
