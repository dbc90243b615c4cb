// The durable store: one SQLite database in WAL mode under the data dir.
//
// Writes go through a single writer thread that commits them in batched transactions, so
// callers on Asio threads never block on fsync. Reads use their own connection and may run
// on any thread (WAL lets them proceed while the writer commits).
//
// Opening refuses, with a message that names the file, a database that is locked by another
// process, corrupt, or from a newer schema: nothing is ever silently recreated.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace rock {

struct StoreOptions {
  // Largest number of queued writes committed in one transaction.
  std::size_t batch_max = 256;
};

class Store {
 public:
  // The writer's connection as a write job sees it. Statements from Prepare stay prepared for
  // the next jobs: preparing one of our inserts costs more than running it, and the step path
  // runs the same few thousands of times a second. A job that only needs the connection may take
  // `SQLite::Database&`, which a Writer converts to.
  class Writer {
   public:
    explicit Writer(SQLite::Database& db) : db_(db) {}
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    ~Writer();

    SQLite::Database& db() { return db_; }
    operator SQLite::Database&() { return db_; }  // NOLINT(google-explicit-constructor): see above
    // `sql`, reset and with its bindings cleared: one statement per text, so a job never holds
    // two of the same text at once. The store resets it after the job, so that no half-read query
    // holds a snapshot open.
    SQLite::Statement& Prepare(std::string_view sql);
    // Resets every statement prepared since the last call.
    void ResetUsed();

   private:
    struct Hash {
      using is_transparent = void;
      std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    SQLite::Database& db_;
    std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>, Hash, std::equal_to<>> statements_;
    std::vector<SQLite::Statement*> used_;
  };

  // A queued write. It runs on the writer thread inside a transaction; throwing (SQLite::Exception
  // or std::exception) rolls back this write only and is logged with `what`.
  using WriteJob = std::function<void(Writer&)>;

  // Opens (creating if absent) `<data_dir>/rockd.db`, takes the data dir's lock file, checks
  // integrity and applies pending schema migrations.
  static StatusOr<std::unique_ptr<Store>> Open(const std::filesystem::path& data_dir,
                                               StoreOptions options = {});

  // Flushes pending writes, stops the writer thread and closes the database.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Queues `job`; `what` names it in logs if it fails. Thread-safe, never blocks on I/O.
  void Write(std::string what, WriteJob job);
  // The same, and `committed` runs on the writer thread once the transaction holding the job is
  // durable (OK), or with why the job or its commit failed. It must not block: post elsewhere.
  using Committed = std::function<void(Status)>;
  void Write(std::string what, WriteJob job, Committed committed);
  // `done` runs on the writer thread once every write queued before this call has been through a
  // commit: OK when all of those commits succeeded, else an error (the failure itself is logged).
  // For answers that promise what they report is on disk, as a sandbox's create and delete do.
  // Never blocks.
  void AfterQueuedWrites(std::string what, Committed done);

  // Blocks until every write queued before the call is committed. Returns the first failure
  // of a commit since the last Flush, if any.
  Status Flush();

  // Runs `fn` with the read connection (serialized by a mutex). Exceptions from `fn` are
  // returned as a Status with `what` as context.
  Status Read(std::string_view what, const std::function<void(SQLite::Database&)>& fn);

  int schema_version() const;
  const std::filesystem::path& path() const;

  // The schema version this build writes; a database newer than this is refused.
  static int LatestSchemaVersion();

 private:
  class Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rock
