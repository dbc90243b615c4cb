#include "daemon/store.h"

#include <SQLiteCpp/Statement.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <thread>
#include <vector>

#include "daemon/schema.h"

namespace rock {
namespace {

using ::testing::ContainsRegex;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

#define ASSERT_OK(expr)                              \
  do {                                               \
    const ::rock::Status status_ = (expr);           \
    ASSERT_TRUE(status_.ok()) << status_.ToString(); \
  } while (false)
#define EXPECT_OK(expr)                              \
  do {                                               \
    const ::rock::Status status_ = (expr);           \
    EXPECT_TRUE(status_.ok()) << status_.ToString(); \
  } while (false)

std::string ReadBytes(const std::filesystem::path& file) {
  std::string bytes(std::filesystem::file_size(file), '\0');
  std::ifstream(file, std::ios::binary).read(bytes.data(), std::ssize(bytes));
  return bytes;
}

void WriteBytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

void InsertDaemonEvent(SQLite::Database& db, std::int64_t ts, const std::string& kind) {
  SQLite::Statement insert(db, "INSERT INTO daemon_events (ts, kind) VALUES (?, ?)");
  insert.bind(1, ts);
  insert.bind(2, kind);
  insert.exec();
}

// Holds the writer thread inside a job until Release, so that the writes queued meanwhile are
// taken together into the next batch.
class WriterGate {
 public:
  explicit WriterGate(Store& store) {
    store.Write("gate",
                [entered = &entered_, open = open_.get_future().share()](SQLite::Database&) {
                  entered->set_value();
                  open.wait();
                });
    entered_.get_future().wait();
  }
  ~WriterGate() { Release(); }

  void Release() {
    if (!released_) open_.set_value();
    released_ = true;
  }

 private:
  std::promise<void> entered_;
  std::promise<void> open_;
  bool released_ = false;
};

// Routes spdlog's default logger into memory while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }

  std::string Text() const {
    std::string text;
    for (const std::string& line : sink_->last_formatted()) text += line;
    return text;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_ =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  std::shared_ptr<spdlog::logger> previous_;
};

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string root =
        (std::filesystem::temp_directory_path() / "rockd-store-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(root.data()), nullptr);
    root_ = root;
    dir_ = root_ / "data";
    db_file_ = dir_ / "rockd.db";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::unique_ptr<Store> OpenStore(StoreOptions options = {}) {
    StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // The first column of the first row of `sql`, as text, read through the store.
  std::string QueryText(Store& store, const std::string& sql) {
    std::string text;
    const Status read =
        store.Read(sql, [&](SQLite::Database& db) { text = db.execAndGet(sql).getString(); });
    EXPECT_TRUE(read.ok()) << read.ToString();
    return text;
  }

  std::int64_t Count(Store& store, const std::string& table) {
    return std::stoll(QueryText(store, "SELECT count(*) FROM " + table));
  }

  // A store-made database with enough rows to span many pages, closed so the WAL is
  // checkpointed into the file.
  void MakePopulatedDatabase() {
    std::unique_ptr<Store> store = OpenStore();
    ASSERT_NE(store, nullptr);
    store->Write("fill", [](SQLite::Database& db) {
      for (int i = 0; i < 2000; ++i) InsertDaemonEvent(db, i, std::string(100, 'a' + i % 26));
    });
    ASSERT_OK(store->Flush());
  }

  // Open must refuse the database as corrupt, say why (`reason`), and leave its bytes alone.
  void ExpectRefusedAsCorruptAndUntouched(std::string_view reason) {
    const std::string before = ReadBytes(db_file_);
    StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), Code::kCorruption);
    EXPECT_THAT(store.status().message(), HasSubstr(db_file_.string()));
    EXPECT_THAT(store.status().message(), HasSubstr(reason));
    EXPECT_THAT(store.status().message(), HasSubstr("left untouched"));
    EXPECT_EQ(ReadBytes(db_file_), before);
  }

  std::filesystem::path root_;
  std::filesystem::path dir_;
  std::filesystem::path db_file_;
};

TEST_F(StoreTest, OpenCreatesSchemaAtLatestVersion) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_GE(Store::LatestSchemaVersion(), 1);
  EXPECT_EQ(store->schema_version(), Store::LatestSchemaVersion());
  EXPECT_EQ(store->path(), db_file_);

  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(ReadBytes(dir_ / "rockd.lock"), std::to_string(::getpid()) + "\n");

  int user_version = -1;
  std::vector<std::string> tables;
  ASSERT_OK(store->Read("inspect schema", [&](SQLite::Database& db) {
    user_version = db.execAndGet("PRAGMA user_version").getInt();
    SQLite::Statement list(db,
                           "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE "
                           "'sqlite_%' ORDER BY name");
    while (list.executeStep()) tables.push_back(list.getColumn(0).getString());
  }));
  EXPECT_EQ(user_version, Store::LatestSchemaVersion());
  EXPECT_THAT(tables, ElementsAre("daemon_events", "episode_failovers", "episodes", "sandbox_events", "sandboxes",
                                  "steps", "trainer_reports", "trainers", "trajectories"));
}

TEST_F(StoreTest, ReopenKeepsData) {
  {
    std::unique_ptr<Store> store = OpenStore();
    ASSERT_NE(store, nullptr);
    store->Write("record start", [](SQLite::Database& db) { InsertDaemonEvent(db, 42, "start"); });
  }  // Closing flushes.
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryText(*store, "SELECT kind FROM daemon_events WHERE ts = 42"), "start");
}

TEST_F(StoreTest, WritesAreBatchedAndFlushWaits) {
  std::atomic<int> commits = 0;  // outlives the store, whose connection calls the hook
  std::unique_ptr<Store> store = OpenStore({.batch_max = 10});
  ASSERT_NE(store, nullptr);
  store->Write("count commits", [&commits](SQLite::Database& db) {
    sqlite3_commit_hook(
        db.getHandle(),
        [](void* counter) {
          static_cast<std::atomic<int>*>(counter)->fetch_add(1);
          return 0;
        },
        &commits);
  });
  ASSERT_OK(store->Flush());
  commits = 0;

  WriterGate gate(*store);
  for (int i = 0; i < 95; ++i) {
    store->Write("event", [i](SQLite::Database& db) { InsertDaemonEvent(db, i, "batched"); });
  }
  std::future<Status> flushed = std::async(std::launch::async, [&] { return store->Flush(); });
  EXPECT_EQ(flushed.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  gate.Release();
  ASSERT_OK(flushed.get());

  EXPECT_EQ(Count(*store, "daemon_events"), 95);
  // One commit for the gate's batch, then ceil(95 / batch_max) for the queued writes.
  EXPECT_EQ(commits.load(), 1 + 10);
  store->Write("stop counting",
               [](SQLite::Database& db) { sqlite3_commit_hook(db.getHandle(), nullptr, nullptr); });
}

// The step path runs the same statements thousands of times a second: a write job's Prepare
// hands back the statement it prepared before, with no bindings left from its last use, and one
// whose last run failed works again.
TEST_F(StoreTest, PreparedStatementsAreKeptAcrossWritesWithFreshBindings) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  constexpr std::string_view kInsert = "INSERT INTO daemon_events (ts, kind) VALUES (?, ?)";
  std::vector<const SQLite::Statement*> seen;
  std::vector<Status> outcomes;
  const auto record = [&outcomes](Status s) { outcomes.push_back(std::move(s)); };
  store->Write("bound", [&](Store::Writer& w) {
    SQLite::Statement& insert = w.Prepare(kInsert);
    seen.push_back(&insert);
    insert.bind(1, 1);
    insert.bind(2, "first");
    insert.exec();
  }, record);
  store->Write("kind left unbound", [&](Store::Writer& w) {
    SQLite::Statement& insert = w.Prepare(kInsert);
    seen.push_back(&insert);
    insert.bind(1, 2);  // the kind from "first" must not linger: NOT NULL fails
    insert.exec();
  }, record);
  store->Write("after the failure", [&](Store::Writer& w) {
    SQLite::Statement& insert = w.Prepare(kInsert);
    seen.push_back(&insert);
    insert.bind(1, 3);
    insert.bind(2, "third");
    insert.exec();
  }, record);
  ASSERT_OK(store->Flush());

  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_EQ(seen[1], seen[2]);
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_OK(outcomes[0]);
  EXPECT_THAT(outcomes[1].message(), HasSubstr("NOT NULL constraint failed"));
  EXPECT_OK(outcomes[2]);
  std::vector<std::string> kinds;
  ASSERT_OK(store->Read("list events", [&](SQLite::Database& db) {
    SQLite::Statement list(db, "SELECT kind FROM daemon_events ORDER BY id");
    while (list.executeStep()) kinds.push_back(list.getColumn(0).getString());
  }));
  EXPECT_THAT(kinds, ElementsAre("first", "third"));
}

// A job that stops reading a query half way leaves no read open past its write: the store
// resets its statements, so the WAL can be checkpointed whole once the writes are in.
TEST_F(StoreTest, AHalfReadPreparedQueryDoesNotHoldTheWalBack) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 3; ++i) {
    store->Write("row", [i](SQLite::Database& db) { InsertDaemonEvent(db, i, "row"); });
  }
  store->Write("read one of three rows", [](Store::Writer& w) {
    SQLite::Statement& list = w.Prepare("SELECT kind FROM daemon_events ORDER BY id");
    ASSERT_TRUE(list.executeStep());
  });
  int busy = -1, log_frames = -1, checkpointed = -1;
  store->Write("checkpoint", [&](Store::Writer& w) {
    // Outside the batch's transaction a checkpoint cannot run: commit what is there first.
    w.db().exec("RELEASE write");
    w.db().exec("COMMIT");
    SQLite::Statement checkpoint(w.db(), "PRAGMA wal_checkpoint(TRUNCATE)");
    ASSERT_TRUE(checkpoint.executeStep());
    busy = checkpoint.getColumn(0).getInt();
    log_frames = checkpoint.getColumn(1).getInt();
    checkpointed = checkpoint.getColumn(2).getInt();
    checkpoint.reset();
    w.db().exec("BEGIN IMMEDIATE");
    w.db().exec("SAVEPOINT write");
  });
  ASSERT_OK(store->Flush());
  EXPECT_EQ(busy, 0);
  EXPECT_EQ(log_frames, checkpointed);
}

TEST_F(StoreTest, FailingJobRollsBackAloneOthersCommit) {
  LogCapture logs;
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  {
    WriterGate gate(*store);  // all four writes below go into one transaction
    store->Write("first", [](SQLite::Database& db) { InsertDaemonEvent(db, 1, "first"); });
    store->Write("throws after insert", [](SQLite::Database& db) {
      InsertDaemonEvent(db, 2, "thrown away");
      throw std::runtime_error("boom from job");
    });
    store->Write("violates not null", [](SQLite::Database& db) {
      InsertDaemonEvent(db, 3, "also thrown away");
      db.exec("INSERT INTO daemon_events (ts, kind) VALUES (3, NULL)");
    });
    store->Write("last", [](SQLite::Database& db) { InsertDaemonEvent(db, 4, "last"); });
  }
  ASSERT_OK(store->Flush());

  std::vector<std::string> kinds;
  ASSERT_OK(store->Read("list events", [&](SQLite::Database& db) {
    SQLite::Statement list(db, "SELECT kind FROM daemon_events ORDER BY id");
    while (list.executeStep()) kinds.push_back(list.getColumn(0).getString());
  }));
  EXPECT_THAT(kinds, ElementsAre("first", "last"));
  const std::string log = logs.Text();
  EXPECT_THAT(log,
              HasSubstr("write 'throws after insert' failed and was rolled back: boom from job"));
  EXPECT_THAT(log, HasSubstr("write 'violates not null' failed"));
  EXPECT_THAT(log, HasSubstr("NOT NULL constraint failed"));
}

// The trainer stream sends a trajectory only once it is durable: the callback runs after the
// commit, once per write, with the write's own failure when it rolled back alone.
TEST_F(StoreTest, CommittedCallbacksRunAfterTheCommitWithEachWritesOutcome) {
  LogCapture logs;
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::mutex mutex;
  std::vector<std::pair<std::string, Status>> outcomes;
  std::vector<int64_t> rows_seen;  // by each callback, through the read connection
  auto record = [&](std::string name) {
    return [&, name](Status status) {
      int64_t rows = -1;
      EXPECT_TRUE(store->Read("count", [&](SQLite::Database& db) {
        rows = db.execAndGet("SELECT COUNT(*) FROM daemon_events").getInt64();
      }).ok());
      std::lock_guard lock(mutex);
      outcomes.emplace_back(name, status);
      rows_seen.push_back(rows);
    };
  };
  {
    WriterGate gate(*store);  // one transaction for the three writes
    store->Write("kept", [](SQLite::Database& db) { InsertDaemonEvent(db, 1, "kept"); }, record("kept"));
    store->Write("throws", [](SQLite::Database&) { throw std::runtime_error("boom"); }, record("throws"));
    store->Write("also kept", [](SQLite::Database& db) { InsertDaemonEvent(db, 2, "also kept"); }, record("also kept"));
  }
  ASSERT_OK(store->Flush());
  std::lock_guard lock(mutex);
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0].first, "kept");
  EXPECT_TRUE(outcomes[0].second.ok());
  EXPECT_EQ(outcomes[1].first, "throws");
  EXPECT_EQ(outcomes[1].second.code(), Code::kInternal);
  EXPECT_THAT(outcomes[1].second.message(), HasSubstr("boom"));
  EXPECT_TRUE(outcomes[2].second.ok());
  // Each callback already saw the whole committed transaction.
  EXPECT_THAT(rows_seen, ElementsAre(2, 2, 2));
}

TEST_F(StoreTest, WriteThatEndsTheTransactionFailsItsBatchAndFlushReportsItOnce) {
  LogCapture logs;
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  {
    WriterGate gate(*store);
    store->Write("lost with the batch",
                 [](SQLite::Database& db) { InsertDaemonEvent(db, 1, "x"); });
    store->Write("rolls back everything", [](SQLite::Database& db) { db.exec("ROLLBACK"); });
  }
  const Status failed = store->Flush();
  EXPECT_EQ(failed.code(), Code::kIoError);
  EXPECT_THAT(failed.message(), HasSubstr(db_file_.string()));
  EXPECT_THAT(failed.message(), HasSubstr("rolled back the transaction after write 'rolls back "
                                          "everything' failed"));
  ASSERT_OK(store->Flush());  // reported once

  store->Write("after the failure", [](SQLite::Database& db) { InsertDaemonEvent(db, 2, "y"); });
  ASSERT_OK(store->Flush());
  EXPECT_EQ(Count(*store, "daemon_events"), 1);
}

TEST_F(StoreTest, ConcurrentWritesFromManyThreadsAllLandInOrder) {
  constexpr int kThreads = 8;
  constexpr int kWritesPerThread = 250;
  std::unique_ptr<Store> store = OpenStore({.batch_max = 64});
  ASSERT_NE(store, nullptr);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&store, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        store->Write("event",
                     [t, i](SQLite::Database& db) { InsertDaemonEvent(db, t, std::to_string(i)); });
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  ASSERT_OK(store->Flush());

  std::map<std::int64_t, std::vector<int>> by_thread;
  ASSERT_OK(store->Read("list events", [&](SQLite::Database& db) {
    SQLite::Statement list(db, "SELECT ts, kind FROM daemon_events ORDER BY id");
    while (list.executeStep()) {
      by_thread[list.getColumn(0).getInt64()].push_back(std::stoi(list.getColumn(1).getString()));
    }
  }));
  ASSERT_EQ(by_thread.size(), static_cast<std::size_t>(kThreads));
  for (const auto& [thread, order] : by_thread) {
    ASSERT_EQ(order.size(), static_cast<std::size_t>(kWritesPerThread)) << "thread " << thread;
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end())) << "thread " << thread;
  }
}

TEST_F(StoreTest, ReadFailuresCarryContextAndReadsCannotWrite) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);

  const Status bad_sql = store->Read(
      "count ghosts", [](SQLite::Database& db) { db.execAndGet("SELECT count(*) FROM ghosts"); });
  EXPECT_EQ(bad_sql.code(), Code::kIoError);
  EXPECT_THAT(bad_sql.message(), HasSubstr("count ghosts"));
  EXPECT_THAT(bad_sql.message(), HasSubstr(db_file_.string()));
  EXPECT_THAT(bad_sql.message(), HasSubstr("no such table: ghosts"));

  const Status thrown =
      store->Read("parse report", [](SQLite::Database&) { throw std::runtime_error("bad json"); });
  EXPECT_EQ(thrown.code(), Code::kInternal);
  EXPECT_THAT(thrown.message(), HasSubstr("parse report"));
  EXPECT_THAT(thrown.message(), HasSubstr("bad json"));

  const Status write = store->Read(
      "sneaky write", [](SQLite::Database& db) { InsertDaemonEvent(db, 1, "should not land"); });
  EXPECT_FALSE(write.ok());
  EXPECT_THAT(write.message(), HasSubstr("readonly"));
  EXPECT_EQ(Count(*store, "daemon_events"), 0);
}

TEST_F(StoreTest, SecondOpenOfSameDataDirIsRefusedWithPid) {
  std::unique_ptr<Store> first = OpenStore();
  ASSERT_NE(first, nullptr);

  StatusOr<std::unique_ptr<Store>> second = Store::Open(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(second.status().message(), "data dir " + dir_.string() +
                                           " is in use by another rockd (pid " +
                                           std::to_string(::getpid()) + ")");

  first.reset();  // releases the lock
  EXPECT_NE(OpenStore(), nullptr);
}

TEST_F(StoreTest, GarbageFileIsRefusedAndLeftUntouched) {
  std::filesystem::create_directories(dir_);
  std::string garbage;
  for (int i = 0; i < 300; ++i) garbage += "this is not an SQLite database ";
  WriteBytes(db_file_, garbage);
  ExpectRefusedAsCorruptAndUntouched("file is not a database");
}

TEST_F(StoreTest, TruncatedDatabaseIsRefusedAndLeftUntouched) {
  MakePopulatedDatabase();
  std::filesystem::resize_file(db_file_, std::filesystem::file_size(db_file_) / 2);
  ExpectRefusedAsCorruptAndUntouched("malformed");
}

TEST_F(StoreTest, CorruptPageIsCaughtByQuickCheckAndLeftUntouched) {
  MakePopulatedDatabase();
  std::string bytes = ReadBytes(db_file_);
  const auto byte = [&bytes](std::size_t offset) {
    return static_cast<std::size_t>(static_cast<unsigned char>(bytes[offset]));
  };
  const std::size_t page_size = byte(16) << 8 | byte(17);  // big-endian u16 in the header
  ASSERT_GE(page_size, 512u);
  // A page in the middle is a b-tree page of daemon_events (the fresh file has no free pages);
  // smashing its header leaves the schema readable, so only a full b-tree walk notices.
  const std::size_t middle_page = bytes.size() / page_size / 2;
  bytes.replace(middle_page * page_size, 12, 12, '\xff');
  WriteBytes(db_file_, bytes);
  ExpectRefusedAsCorruptAndUntouched("PRAGMA quick_check");
}

TEST_F(StoreTest, WrongFreelistCountIsReportedByQuickCheckAndLeftUntouched) {
  MakePopulatedDatabase();
  std::string bytes = ReadBytes(db_file_);
  // The header's free page count (big-endian u32 at offset 36) claims pages that the empty
  // freelist does not have: every page still reads fine, only the check's accounting differs.
  bytes[39] = 5;
  WriteBytes(db_file_, bytes);
  ExpectRefusedAsCorruptAndUntouched("freelist: size is 0 but should be 5");
}

TEST_F(StoreTest, NewerSchemaIsRefusedAndLeftUntouched) {
  std::filesystem::create_directories(dir_);
  const int newer = Store::LatestSchemaVersion() + 1;
  {
    SQLite::Database db(db_file_.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE from_the_future (x INTEGER)");
    db.exec("PRAGMA user_version = " + std::to_string(newer));
  }
  const std::string before = ReadBytes(db_file_);

  StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(db_file_.string()));
  EXPECT_THAT(store.status().message(),
              HasSubstr("schema version " + std::to_string(newer) +
                        ", newer than the latest this rockd knows (" +
                        std::to_string(Store::LatestSchemaVersion()) + ")"));
  EXPECT_EQ(ReadBytes(db_file_), before);
}

TEST_F(StoreTest, DatabaseLockedByAnotherConnectionIsReported) {
  std::filesystem::create_directories(dir_);
  SQLite::Database other(db_file_.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  other.exec("CREATE TABLE made_by_someone_else (x INTEGER)");  // user_version stays 0
  other.exec("BEGIN EXCLUSIVE");

  StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kUnavailable);
  EXPECT_THAT(store.status().message(),
              HasSubstr("database " + db_file_.string() + " is locked by another process: "));

  other.exec("ROLLBACK");
  std::unique_ptr<Store> migrated = OpenStore();
  ASSERT_NE(migrated, nullptr);
  EXPECT_EQ(Count(*migrated, "made_by_someone_else"), 0);
  EXPECT_EQ(Count(*migrated, "trajectories"), 0);
}

// Another process holding the write lock past SQLite's busy timeout (2 s) delays the writes
// queued meanwhile; it does not lose them, and what waits on them learns of it only once they
// are in.
TEST_F(StoreTest, WritesOutwaitAnotherProcessHoldingTheDatabaseAndLoseNothing) {
  LogCapture logs;
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  SQLite::Database other(db_file_.string(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  std::promise<Status> written, barrier;
  store->Write("held", [](SQLite::Database& db) { InsertDaemonEvent(db, 1, "held"); },
               [&](Status status) { written.set_value(status); });
  store->AfterQueuedWrites("after held", [&](Status status) { barrier.set_value(status); });
  std::future<Status> barrier_done = barrier.get_future();
  // Past one busy timeout, so the batch has failed once and is being retried.
  EXPECT_EQ(barrier_done.wait_for(std::chrono::milliseconds(2500)), std::future_status::timeout);
  other.exec("ROLLBACK");
  EXPECT_OK(barrier_done.get());
  EXPECT_OK(written.get_future().get());
  EXPECT_EQ(Count(*store, "daemon_events"), 1);
  // The writer may take "held" alone before the barrier is queued behind it.
  EXPECT_THAT(logs.Text(),
              ContainsRegex("is locked by another process; [12] writes wait \\(attempt 1\\)"));
  EXPECT_OK(store->Flush());
}

// AfterQueuedWrites answers once the writes before it are committed, not before.
TEST_F(StoreTest, AfterQueuedWritesRunsOnceEveryEarlierWriteIsCommitted) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::promise<int64_t> rows_seen;
  {
    WriterGate gate(*store);
    for (int i = 0; i < 3; ++i) {
      store->Write("row", [i](SQLite::Database& db) { InsertDaemonEvent(db, i, "row"); });
    }
    store->AfterQueuedWrites("after the rows", [&](Status status) {
      EXPECT_OK(status);
      int64_t rows = -1;
      EXPECT_OK(store->Read("count", [&](SQLite::Database& db) {
        rows = db.execAndGet("SELECT COUNT(*) FROM daemon_events").getInt64();
      }));
      rows_seen.set_value(rows);
    });
  }
  EXPECT_EQ(rows_seen.get_future().get(), 3);
}

// A commit that failed before AfterQueuedWrites (here a batch of its own) fails it too: what it
// waits for is not all on disk. A later one, after nothing failed, is OK again.
TEST_F(StoreTest, AfterQueuedWritesFailsWhenAnEarlierBatchFailed) {
  LogCapture logs;
  std::unique_ptr<Store> store = OpenStore({.batch_max = 1});
  ASSERT_NE(store, nullptr);
  std::promise<Status> after_failure, after_recovery;
  store->Write("rolls back everything", [](SQLite::Database& db) { db.exec("ROLLBACK"); });
  store->AfterQueuedWrites("after the failure", [&](Status status) { after_failure.set_value(status); });
  const Status failed = after_failure.get_future().get();
  EXPECT_EQ(failed.code(), Code::kIoError);
  EXPECT_THAT(failed.message(), HasSubstr("a batch of earlier writes failed to commit"));
  EXPECT_EQ(store->Flush().code(), Code::kIoError);
  store->AfterQueuedWrites("after nothing failed", [&](Status status) { after_recovery.set_value(status); });
  EXPECT_OK(after_recovery.get_future().get());
}

TEST_F(StoreTest, TrajectorySeqIsMonotonicAndNeverReused) {
  const auto add_trajectory = [](Store& store, const std::string& episode) {
    store.Write("add " + episode, [episode](SQLite::Database& db) {
      SQLite::Statement add_episode(
          db,
          "INSERT INTO episodes (id, env, task, seed, status, created_at) "
          "VALUES (?, 'alfworld', 'task', 7, 'finished', 1)");
      add_episode.bind(1, episode);
      add_episode.exec();
      SQLite::Statement add(db,
                            "INSERT INTO trajectories (episode_id, payload, created_at) "
                            "VALUES (?, '{}', 2)");
      add.bind(1, episode);
      add.exec();
    });
  };
  const auto seqs = [](Store& store) {
    std::vector<std::int64_t> out;
    EXPECT_TRUE(store
                    .Read("list seqs",
                          [&](SQLite::Database& db) {
                            SQLite::Statement list(db, "SELECT seq FROM trajectories ORDER BY seq");
                            while (list.executeStep()) out.push_back(list.getColumn(0).getInt64());
                          })
                    .ok());
    return out;
  };

  {
    std::unique_ptr<Store> store = OpenStore();
    ASSERT_NE(store, nullptr);
    for (const char* episode : {"e1", "e2", "e3"}) add_trajectory(*store, episode);
    store->Write("delete newest", [](SQLite::Database& db) {
      db.exec("DELETE FROM trajectories WHERE seq = (SELECT max(seq) FROM trajectories)");
    });
    add_trajectory(*store, "e4");
    ASSERT_OK(store->Flush());
    EXPECT_THAT(seqs(*store), ElementsAre(1, 2, 4));
    store->Write("delete newest",
                 [](SQLite::Database& db) { db.exec("DELETE FROM trajectories WHERE seq = 4"); });
  }
  std::unique_ptr<Store> reopened = OpenStore();
  ASSERT_NE(reopened, nullptr);
  add_trajectory(*reopened, "e5");
  ASSERT_OK(reopened->Flush());
  EXPECT_THAT(seqs(*reopened), ElementsAre(1, 2, 5));
}

TEST_F(StoreTest, WalModeIsOn) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryText(*store, "PRAGMA journal_mode"), "wal");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "rockd.db-wal"));
}

TEST_F(StoreTest, WriteConnectionEnforcesForeignKeysWithNormalSync) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  int foreign_keys = -1;
  int synchronous = -1;
  store->Write("read pragmas", [&](SQLite::Database& db) {
    foreign_keys = db.execAndGet("PRAGMA foreign_keys").getInt();
    synchronous = db.execAndGet("PRAGMA synchronous").getInt();
  });
  store->Write("orphan step", [](SQLite::Database& db) {
    db.exec("INSERT INTO steps (episode_id, step, observation) VALUES ('no such episode', 0, '')");
  });
  ASSERT_OK(store->Flush());
  EXPECT_EQ(foreign_keys, 1);
  EXPECT_EQ(synchronous, 1);  // NORMAL
  EXPECT_EQ(Count(*store, "steps"), 0);
}

TEST_F(StoreTest, FailedMigrationRollsBackAndKeepsThePreviousVersion) {
  const std::filesystem::path file = root_ / "migrations.db";
  SQLite::Database db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  const std::vector<std::string_view> migrations = {
      "CREATE TABLE a (x INTEGER)",
      "CREATE TABLE b (x INTEGER); SELECT * FROM missing",
  };

  const Status failed = schema::Migrate(db, file, migrations);
  EXPECT_EQ(failed.code(), Code::kIoError);
  EXPECT_THAT(failed.message(), HasSubstr(file.string()));
  EXPECT_THAT(failed.message(), HasSubstr("apply schema migration 2 (from version 1)"));
  EXPECT_THAT(failed.message(), HasSubstr("no such table: missing"));
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), 1);
  EXPECT_TRUE(db.tableExists("a"));
  EXPECT_FALSE(db.tableExists("b"));

  EXPECT_TRUE(schema::Migrate(db, file, std::span(migrations).first(1)).ok());
  const Status newer = schema::Migrate(db, file, {});
  EXPECT_EQ(newer.code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace rock
