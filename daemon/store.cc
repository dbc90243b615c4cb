#include "daemon/store.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "daemon/schema.h"

namespace rock {
namespace {

constexpr std::string_view kDatabaseFile = "rockd.db";
constexpr std::string_view kLockFile = "rockd.lock";

// Long enough to ride out a checkpoint or a backup tool's brief lock, short enough that a
// database held by another process fails Open promptly instead of hanging startup.
constexpr int kBusyTimeoutMs = 2000;

// Between attempts at a batch while another process holds the database's write lock (each
// attempt also waits kBusyTimeoutMs in SQLite's busy handler).
constexpr std::chrono::milliseconds kLockedRetryDelay{50};

// The most quick_check problems quoted in a Corruption message.
constexpr int kQuickCheckMaxProblems = 8;

// Creates the data dir with mode 0700 (it holds every trajectory and the lock); parents that
// are missing get the usual mode.
Status MakeDataDir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) return Status::Ok();
  if (dir.has_parent_path()) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    if (ec) {
      return IoError(
          fmt::format("create data dir parent {}: {}", dir.parent_path().string(), ec.message()));
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    const int err = errno;  // before fmt::format, which may clobber it
    return ErrnoError(fmt::format("mkdir({})", dir.string()), err);
  }
  return Status::Ok();
}

// An exclusive flock on <data dir>/rockd.lock, held while this object lives, so that two
// rockd never share one database. flock rather than fcntl locks: an fcntl lock is dropped
// when the process closes *any* fd of the file, and it does not exclude a second Open in the
// same process, which flock does (each open() is its own lock owner). O_CLOEXEC keeps the fd
// out of the sandboxes rockd spawns, which would otherwise keep the lock after rockd dies.
class DataDirLock {
 public:
  static StatusOr<DataDirLock> Acquire(const std::filesystem::path& dir) {
    const std::filesystem::path file = dir / kLockFile;
    // Reads errno before formatting the message, which may clobber it.
    const auto failed = [&file](std::string_view call) {
      const int err = errno;
      return ErrnoError(fmt::format("{}({})", call, file.string()), err);
    };
    DataDirLock lock(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (lock.fd_ < 0) return failed("open");
    if (::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return failed("flock");
      return FailedPrecondition(fmt::format("data dir {} is in use by another rockd (pid {})",
                                            dir.string(), lock.ReadPid()));
    }
    const std::string pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(lock.fd_, 0) != 0) return failed("ftruncate");
    if (::pwrite(lock.fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      return failed("pwrite");
    }
    return lock;
  }

  DataDirLock(DataDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DataDirLock& operator=(DataDirLock&&) = delete;
  ~DataDirLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}

  // The holder's pid as it wrote it; "unknown" if it has not written it yet.
  std::string ReadPid() const {
    char buf[32];
    const ssize_t n = ::pread(fd_, buf, sizeof buf, 0);
    std::string pid(buf, static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    pid.erase(std::find_if(pid.begin(), pid.end(), [](char c) { return c < '0' || c > '9'; }),
              pid.end());
    return pid.empty() ? "unknown" : pid;
  }

  int fd_;
};

Status QuickCheck(SQLite::Database& db, const std::filesystem::path& file) {
  SQLite::Statement check(db, fmt::format("PRAGMA quick_check({})", kQuickCheckMaxProblems));
  std::vector<std::string> problems;
  while (check.executeStep()) {
    std::string row = check.getColumn(0).getString();
    if (row == "ok") continue;
    // Rows can span lines ("*** in database main ***\n..."); keep the message on one.
    std::replace(row.begin(), row.end(), '\n', ' ');
    problems.push_back(std::move(row));
  }
  if (problems.empty()) return Status::Ok();
  return Corruption(fmt::format("database {} failed PRAGMA quick_check; it was left untouched: {}",
                                file.string(), fmt::join(problems, "; ")));
}

// Opens the write connection and brings the database to the latest schema. Everything up to
// the journal_mode switch only reads, so a database refused there is byte-for-byte unchanged.
StatusOr<SQLite::Database> OpenWriteConnection(const std::filesystem::path& file) {
  std::string_view doing = "open";
  bool modified = false;
  try {
    SQLite::Database db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                        kBusyTimeoutMs);
    // The first read of the header: a file that is not a database, or one that another
    // process holds exclusively, fails here.
    doing = "read PRAGMA user_version";
    const int version = db.execAndGet("PRAGMA user_version").getInt();
    if (Status newer = schema::CheckNotNewer(version, file); !newer.ok()) return newer;
    doing = "PRAGMA quick_check";
    if (Status check = QuickCheck(db, file); !check.ok()) return check;

    doing = "set PRAGMA journal_mode=WAL";
    modified = true;
    const std::string mode = db.execAndGet("PRAGMA journal_mode=WAL").getString();
    if (mode != "wal") {
      return FailedPrecondition(fmt::format(
          "database {}: PRAGMA journal_mode=WAL left the journal mode at '{}'; the store needs "
          "WAL (a local filesystem with shared memory support)",
          file.string(), mode));
    }
    // In WAL mode NORMAL keeps every commit across a crash of rockd (kill -9 included); only a
    // power loss or OS crash can drop the last commits, and never corrupts the database.
    doing = "set PRAGMA synchronous=NORMAL and foreign_keys=ON";
    db.exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON");
    if (Status migrated = schema::Migrate(db, file); !migrated.ok()) return migrated;
    return db;
  } catch (const SQLite::Exception& e) {
    Status status = StatusFromSqlite(e, file, doing);
    if (status.code() == Code::kCorruption && !modified) {
      return Corruption(status.message() + "; it was left untouched");
    }
    return status;
  }
}

// Reads never need to write, and a read-only connection turns an accidental write from a read
// callback into an error instead of a commit that bypasses the writer's ordering.
StatusOr<SQLite::Database> OpenReadConnection(const std::filesystem::path& file) {
  try {
    return SQLite::Database(file.string(), SQLite::OPEN_READONLY, kBusyTimeoutMs);
  } catch (const SQLite::Exception& e) {
    return StatusFromSqlite(e, file, "open the read connection");
  }
}

struct PendingWrite {
  std::string what;
  Store::WriteJob job;
  Store::Committed committed;  // may be empty
  Status status;               // of the job itself
};

}  // namespace

class Store::Impl {
 public:
  Impl(DataDirLock lock, std::filesystem::path path, SQLite::Database writer_db,
       SQLite::Database reader_db, StoreOptions options)
      : lock_(std::move(lock)),
        path_(std::move(path)),
        batch_max_(std::max<std::size_t>(options.batch_max, 1)),
        writer_db_(std::move(writer_db)),
        writer_(writer_db_),
        reader_db_(std::move(reader_db)),
        writer_thread_([this] { WriterLoop(); }) {}

  // The writer drains the whole queue before it exits, so stopping it is the final flush.
  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    work_cv_.notify_one();
    writer_thread_.join();
    if (!failure_.ok()) {
      spdlog::error("store {}: a commit failed before close: {}", path_.string(),
                    failure_.ToString());
    }
  }

  void Write(std::string what, WriteJob job, Committed committed) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back({std::move(what), std::move(job), std::move(committed), Status::Ok()});
      ++enqueued_seq_;
    }
    work_cv_.notify_one();
  }

  // An empty write: the queue is committed in order, so its commit is the commit of all before
  // it, except a batch before it that failed, which fails it too.
  void AfterQueuedWrites(std::string what, Committed done) {
    const std::uint64_t failed_before = failed_batches_.load();
    Write(std::move(what), [](Writer&) {},
          [this, failed_before, done = std::move(done)](Status status) {
            if (status.ok() && failed_batches_.load() != failed_before) {
              status = IoError(fmt::format("database {}: a batch of earlier writes failed to commit (see the log)",
                                           path_.string()));
            }
            done(std::move(status));
          });
  }

  Status Flush() {
    std::unique_lock lock(mu_);
    const std::uint64_t target = enqueued_seq_;
    committed_cv_.wait(lock, [&] { return committed_seq_ >= target; });
    return std::exchange(failure_, Status::Ok());
  }

  Status Read(std::string_view what, const std::function<void(SQLite::Database&)>& fn) {
    std::lock_guard lock(read_mu_);
    try {
      fn(reader_db_);
      return Status::Ok();
    } catch (const SQLite::Exception& e) {
      return StatusFromSqlite(e, path_, what);
    } catch (const std::exception& e) {
      return Internal(fmt::format("{} on database {}: {}", what, path_.string(), e.what()));
    }
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  void WriterLoop() {
    std::vector<PendingWrite> batch;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        const std::size_t n = std::min(queue_.size(), batch_max_);
        std::move(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n),
                  std::back_inserter(batch));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      }
      Status committed = CommitBatch(batch);
      // Another process holding the database (a backup, an operator's sqlite3) delays the batch
      // instead of losing it: it is rolled back whole, so running it again is safe.
      for (int attempt = 1; committed.code() == Code::kUnavailable; ++attempt) {
        if (attempt == 1 || attempt % 100 == 0) {
          spdlog::warn("store {}: the database is locked by another process; {} writes wait (attempt {})",
                       path_.string(), batch.size(), attempt);
        }
        std::this_thread::sleep_for(kLockedRetryDelay);
        for (PendingWrite& write : batch) write.status = Status::Ok();
        committed = CommitBatch(batch);
      }
      if (!committed.ok()) ++failed_batches_;  // before any later batch's callbacks run
      for (PendingWrite& write : batch) {
        if (write.committed) write.committed(committed.ok() ? write.status : committed);
      }
      {
        std::lock_guard lock(mu_);
        committed_seq_ += batch.size();
        if (!committed.ok() && failure_.ok()) failure_ = std::move(committed);
      }
      committed_cv_.notify_all();
      batch.clear();
    }
  }

  // One transaction for the whole batch: a single fsync-bearing commit amortized over up to
  // batch_max writes.
  Status CommitBatch(std::vector<PendingWrite>& batch) {
    try {
      SQLite::Transaction txn(writer_db_, SQLite::TransactionBehavior::IMMEDIATE);
      for (PendingWrite& write : batch) RunInSavepoint(write);
      txn.commit();
      return Status::Ok();
    } catch (const SQLite::Exception& e) {
      Status status = StatusFromSqlite(
          e, path_,
          fmt::format("commit of {} writes starting with '{}'", batch.size(), batch.front().what));
      if (status.code() != Code::kUnavailable) spdlog::error("store: {}", status.ToString());  // retried
      return status;
    }
  }

  // A savepoint per write, so a write that throws undoes only its own changes. Throws (and so
  // fails the batch) only when SQLite itself has already rolled back the whole transaction,
  // which it does after errors such as SQLITE_FULL or SQLITE_IOERR.
  void RunInSavepoint(PendingWrite& write) {
    writer_.Prepare("SAVEPOINT write").exec();
    std::string error;
    try {
      write.job(writer_);
      writer_.ResetUsed();
      writer_.Prepare("RELEASE write").exec();
      return;
    } catch (const SQLite::Exception& e) {
      error = e.what();
    } catch (const std::exception& e) {
      error = e.what();
    }
    writer_.ResetUsed();
    spdlog::error("store {}: write '{}' failed and was rolled back: {}", path_.string(), write.what,
                  error);
    write.status = Internal(fmt::format("{} on database {}: {}", write.what, path_.string(), error));
    if (sqlite3_get_autocommit(writer_db_.getHandle()) != 0) {
      throw SQLite::Exception(
          fmt::format("SQLite rolled back the transaction after write '{}' failed: {}", write.what,
                      error),
          SQLITE_ABORT);
    }
    writer_.Prepare("ROLLBACK TO write").exec();
    writer_.Prepare("RELEASE write").exec();
  }

  // Declared first so that it is released last, after both connections are closed.
  DataDirLock lock_;
  const std::filesystem::path path_;
  const std::size_t batch_max_;

  // Used by the writer thread only. Declared before the reader so that it closes last: the
  // last connection to close checkpoints the WAL and removes it, which a read-only one cannot.
  SQLite::Database writer_db_;
  Writer writer_;  // writer_db_'s statements, finalized before it closes

  std::mutex read_mu_;
  SQLite::Database reader_db_;  // guarded by read_mu_

  std::mutex mu_;
  std::condition_variable work_cv_;       // queue_ gained a write, or stopping_
  std::condition_variable committed_cv_;  // committed_seq_ advanced
  std::deque<PendingWrite> queue_;        // guarded by mu_
  std::uint64_t enqueued_seq_ = 0;        // guarded by mu_: writes ever queued
  std::uint64_t committed_seq_ = 0;       // guarded by mu_: writes ever committed or failed
  Status failure_;                        // guarded by mu_: first failed commit since Flush
  bool stopping_ = false;                 // guarded by mu_
  std::atomic<std::uint64_t> failed_batches_{0};  // written by the writer thread only

  // Last: starts once everything it uses exists.
  std::thread writer_thread_;
};

Store::Writer::~Writer() = default;

SQLite::Statement& Store::Writer::Prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(std::string(sql), std::make_unique<SQLite::Statement>(db_, std::string(sql))).first;
  } else {
    // A statement whose last run failed reports that failure again on reset: it is known.
    it->second->tryReset();
    it->second->clearBindings();
  }
  used_.push_back(it->second.get());
  return *it->second;
}

void Store::Writer::ResetUsed() {
  for (SQLite::Statement* statement : used_) statement->tryReset();
  used_.clear();
}

StatusOr<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& data_dir,
                                             StoreOptions options) {
  if (Status made = MakeDataDir(data_dir); !made.ok()) return made;
  StatusOr<DataDirLock> lock = DataDirLock::Acquire(data_dir);
  if (!lock.ok()) return lock.status();

  std::filesystem::path file = data_dir / kDatabaseFile;
  StatusOr<SQLite::Database> writer_db = OpenWriteConnection(file);
  if (!writer_db.ok()) return writer_db.status();
  StatusOr<SQLite::Database> reader_db = OpenReadConnection(file);
  if (!reader_db.ok()) return reader_db.status();

  spdlog::info("store {}: open at schema version {}", file.string(), LatestSchemaVersion());
  return std::unique_ptr<Store>(new Store(
      std::make_unique<Impl>(std::move(lock).value(), std::move(file), std::move(writer_db).value(),
                             std::move(reader_db).value(), options)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() = default;

void Store::Write(std::string what, WriteJob job) { impl_->Write(std::move(what), std::move(job), nullptr); }

void Store::Write(std::string what, WriteJob job, Committed committed) {
  impl_->Write(std::move(what), std::move(job), std::move(committed));
}

void Store::AfterQueuedWrites(std::string what, Committed done) {
  impl_->AfterQueuedWrites(std::move(what), std::move(done));
}

Status Store::Flush() { return impl_->Flush(); }

Status Store::Read(std::string_view what, const std::function<void(SQLite::Database&)>& fn) {
  return impl_->Read(what, fn);
}

// Open refuses to return a Store whose database is not at the latest version.
int Store::schema_version() const { return LatestSchemaVersion(); }

const std::filesystem::path& Store::path() const { return impl_->path(); }

int Store::LatestSchemaVersion() { return schema::LatestVersion(); }

}  // namespace rock
