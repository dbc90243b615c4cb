// The store's schema as an ordered list of migrations. Migration i (0-based) takes a database
// from version i to i + 1; the version lives in `PRAGMA user_version`, so a fresh file is
// version 0 and a database is never rebuilt, only moved forward one script at a time.
#pragma once

#include <SQLiteCpp/Database.h>

#include <filesystem>
#include <span>
#include <string_view>

#include "common/status.h"

namespace rock {

// The Status for a SQLite failure on the database `file` while `doing` something: busy or
// locked → Unavailable, corrupt or not a database → Corruption, anything else → IoError.
Status StatusFromSqlite(const SQLite::Exception& e, const std::filesystem::path& file,
                        std::string_view doing);

namespace schema {

// The migrations this build knows, oldest first. Append only: a released script never changes.
std::span<const std::string_view> Migrations();

// The version of a database once every migration is applied.
int LatestVersion();

// FailedPrecondition when `version` is newer than `migrations` know: a newer rockd wrote the
// database and this one must not touch it. `file` names the database in the message.
Status CheckNotNewer(int version, const std::filesystem::path& file,
                     std::span<const std::string_view> migrations = Migrations());

// Applies the pending `migrations` to `db` (stored at `file`), each in its own IMMEDIATE
// transaction together with its `user_version` bump, so a failure leaves the database at the
// last version that fully applied. Refuses a newer database without modifying it.
Status Migrate(SQLite::Database& db, const std::filesystem::path& file,
               std::span<const std::string_view> migrations = Migrations());

}  // namespace schema
}  // namespace rock
