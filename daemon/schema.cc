#include "daemon/schema.h"

#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <array>
#include <string>

namespace rock {

Status StatusFromSqlite(const SQLite::Exception& e, const std::filesystem::path& file,
                        std::string_view doing) {
  // Primary codes only: the extended ones (SQLITE_BUSY_RECOVERY, ...) refine the same cause.
  switch (e.getErrorCode() & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(fmt::format("database {} is locked by another process: {}: {}",
                                     file.string(), doing, e.what()));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Corruption(fmt::format("database {} is corrupt or not an SQLite database: {}: {}",
                                    file.string(), doing, e.what()));
    default:
      return IoError(fmt::format("database {}: {}: {}", file.string(), doing, e.what()));
  }
}

namespace schema {
namespace {

// Every table is STRICT, so a value of the wrong type is an error rather than silently stored,
// and a PRIMARY KEY is NOT NULL. Timestamps are integer milliseconds since the Unix epoch.
// JSON columns hold text that the daemon produced and parses back; SQLite does not validate it.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE sandboxes (
  id          TEXT PRIMARY KEY,
  env         TEXT NOT NULL,
  state       TEXT NOT NULL,
  spec_json   TEXT NOT NULL DEFAULT '{}',
  labels_json TEXT NOT NULL DEFAULT '{}',
  restarts    INTEGER NOT NULL DEFAULT 0 CHECK (restarts >= 0),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;
-- Pools count their live sandboxes per env.
CREATE INDEX sandboxes_by_env_state ON sandboxes (env, state);

CREATE TABLE sandbox_events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  sandbox_id TEXT NOT NULL REFERENCES sandboxes (id) ON DELETE CASCADE,
  ts         INTEGER NOT NULL,
  from_state TEXT,  -- NULL for the transition that created the sandbox
  to_state   TEXT NOT NULL,
  reason     TEXT NOT NULL DEFAULT ''
) STRICT;
-- "Last transitions of sandbox X", newest first.
CREATE INDEX sandbox_events_by_sandbox ON sandbox_events (sandbox_id, id);

CREATE TABLE episodes (
  id          TEXT PRIMARY KEY,
  env         TEXT NOT NULL,
  task        TEXT NOT NULL,
  seed        INTEGER NOT NULL,
  status      TEXT NOT NULL,
  -- The sandbox serving the episode now; failover moves it. Kept as history when the sandbox
  -- row goes away.
  sandbox_id  TEXT REFERENCES sandboxes (id) ON DELETE SET NULL,
  group_id    TEXT,
  trainer     TEXT,  -- NULL for episodes that REST or GEM clients drive
  max_steps   INTEGER CHECK (max_steps > 0),  -- NULL: the env's own limit
  steps       INTEGER NOT NULL DEFAULT 0 CHECK (steps >= 0),
  return      REAL NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  finished_at INTEGER
) STRICT;
-- Listing by status (running episodes at startup, the dashboard) in creation order.
CREATE INDEX episodes_by_status ON episodes (status, created_at);
CREATE INDEX episodes_by_sandbox ON episodes (sandbox_id) WHERE sandbox_id IS NOT NULL;
CREATE INDEX episodes_by_group ON episodes (group_id) WHERE group_id IS NOT NULL;

-- Step 0 is the reset: no action, the first observation. Rows are the replay log that lets an
-- episode fail over to another sandbox, so they are written before the observation is sent.
CREATE TABLE steps (
  episode_id     TEXT NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
  step           INTEGER NOT NULL CHECK (step >= 0),
  action         TEXT,
  observation    TEXT NOT NULL,
  reward         REAL NOT NULL DEFAULT 0,
  terminated     INTEGER NOT NULL DEFAULT 0 CHECK (terminated IN (0, 1)),
  truncated      INTEGER NOT NULL DEFAULT 0 CHECK (truncated IN (0, 1)),
  info_json      TEXT NOT NULL DEFAULT '{}',
  policy_version INTEGER,
  logprobs_json  TEXT,
  duration_us    INTEGER NOT NULL DEFAULT 0 CHECK (duration_us >= 0),
  PRIMARY KEY (episode_id, step)
) STRICT;

-- AUTOINCREMENT, not a plain rowid: a seq is never handed out twice, even after the newest
-- trajectory is deleted, so a trainer resuming after_seq can neither miss nor repeat one.
-- An episode row cannot be deleted while its trajectory exists.
CREATE TABLE trajectories (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  episode_id TEXT NOT NULL UNIQUE REFERENCES episodes (id),
  trainer    TEXT,
  payload    TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  acked_at   INTEGER
) STRICT;
-- The resend set: what a trainer has not acknowledged yet, in seq order.
CREATE INDEX trajectories_unacked ON trajectories (trainer, seq) WHERE acked_at IS NULL;

CREATE TABLE trainers (
  name             TEXT PRIMARY KEY,
  acked_seq        INTEGER NOT NULL DEFAULT 0 CHECK (acked_seq >= 0),
  connected_at     INTEGER NOT NULL,
  last_seen        INTEGER NOT NULL,
  last_report_json TEXT
) STRICT;

CREATE TABLE daemon_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  ts          INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  detail_json TEXT NOT NULL DEFAULT '{}'
) STRICT;
)sql";

// Episodes served by the balancer: how they ended and how often they moved.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE episodes ADD COLUMN end_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE episodes ADD COLUMN failovers INTEGER NOT NULL DEFAULT 0 CHECK (failovers >= 0);

CREATE TABLE episode_failovers (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  episode_id     TEXT NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
  ts             INTEGER NOT NULL,
  from_sandbox   TEXT NOT NULL,
  to_sandbox     TEXT NOT NULL,
  reason         TEXT NOT NULL,
  replayed_steps INTEGER NOT NULL CHECK (replayed_steps >= 0),
  duration_us    INTEGER NOT NULL CHECK (duration_us >= 0)
) STRICT;
CREATE INDEX episode_failovers_by_episode ON episode_failovers (episode_id);
)sql";

// Every trainer's `report`s, so the dashboard's training curves survive a page load and a
// rockd restart; trainer_stream.cc keeps the newest kMaxStoredReports of them.
constexpr std::string_view kV3 = R"sql(
CREATE TABLE trainer_reports (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  trainer        TEXT NOT NULL,
  ts             INTEGER NOT NULL,
  policy_version INTEGER NOT NULL CHECK (policy_version >= 0),
  metrics_json   TEXT NOT NULL
) STRICT;
CREATE INDEX trainer_reports_by_trainer ON trainer_reports (trainer, id);
)sql";

constexpr std::array<std::string_view, 3> kMigrations = {kV1, kV2, kV3};

int VersionCount(std::span<const std::string_view> migrations) {
  return static_cast<int>(migrations.size());
}

}  // namespace

std::span<const std::string_view> Migrations() { return kMigrations; }

int LatestVersion() { return VersionCount(kMigrations); }

Status CheckNotNewer(int version, const std::filesystem::path& file,
                     std::span<const std::string_view> migrations) {
  const int latest = VersionCount(migrations);
  if (version <= latest) return Status::Ok();
  return FailedPrecondition(
      fmt::format("database {} has schema version {}, newer than the latest this rockd knows ({}); "
                  "it was left untouched: run the rockd that wrote it",
                  file.string(), version, latest));
}

Status Migrate(SQLite::Database& db, const std::filesystem::path& file,
               std::span<const std::string_view> migrations) {
  // The caller holds the data dir lock, so no other rockd migrates between this read and the
  // transactions below.
  int version = 0;
  try {
    version = db.execAndGet("PRAGMA user_version").getInt();
  } catch (const SQLite::Exception& e) {
    return StatusFromSqlite(e, file, "read PRAGMA user_version");
  }
  if (Status newer = CheckNotNewer(version, file, migrations); !newer.ok()) return newer;

  for (; version < VersionCount(migrations); ++version) {
    const int next = version + 1;
    try {
      SQLite::Transaction txn(db, SQLite::TransactionBehavior::IMMEDIATE);
      db.exec(std::string(migrations[static_cast<std::size_t>(version)]));
      db.exec(fmt::format("PRAGMA user_version = {}", next));
      txn.commit();
    } catch (const SQLite::Exception& e) {
      return StatusFromSqlite(
          e, file, fmt::format("apply schema migration {} (from version {})", next, version));
    }
  }
  return Status::Ok();
}

}  // namespace schema
}  // namespace rock
