// Leak detection is exact and never touches what it did not make
// (ipcspec/inventory.h): a non-root run next to a process that churns
// /dev/shm reports nothing and deletes nothing, while a root run, through the
// fork server's lasting namespace and through per-case isolation, still
// catches a leaked SysV queue, segment and semaphore set, /dev/shm name,
// POSIX message queue, FIFO node (also in a subdirectory) and stray process.
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/inventory.h"
#include "nlohmann/json.hpp"
#include "properties/support/common.h"
#include "tests/support/subprocess.h"

namespace ipcspec {
namespace {

using ::testing::HasSubstr;

constexpr uid_t kNobody = 65534;

// T-LEAK: leaves one kind of object behind, chosen by parameter 0.
class LeakProperty : public props::NamedProperty {
 public:
  LeakProperty() : NamedProperty("T-LEAK", "leaves one object behind (a test fixture)", "") {}
  Applicability AppliesTo(const Transport&) const override { return Applicability::Yes(); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::just(std::vector<Step>{Step::Param(0, 0)});
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    switch (s.Param(0, 0)) {
      case 0:
        ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        break;
      case 1:
        ::close(::shm_open(UniqueName("/ipcspec-leak").c_str(), O_CREAT | O_RDWR, 0600));
        break;
      case 2:
        ::mkfifo((env.scratch_dir + "/left-fifo").c_str(), 0600);
        break;
      case 3:
        if (::fork() == 0) {
          ::setsid();
          if (::fork() == 0) {
            for (;;) ::pause();
          }
          ::_exit(0);
        }
        ::wait(nullptr);
        break;
      case 4:
        ::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        break;
      case 5:
        ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
        break;
      case 6: {
        struct mq_attr attr = {};
        attr.mq_maxmsg = 1;
        attr.mq_msgsize = 8;
        ::mq_close(::mq_open(UniqueName("/ipcspec-leak").c_str(), O_CREAT | O_RDWR, 0600, &attr));
        break;
      }
      case 7:
        ::mkdir((env.scratch_dir + "/left-dir").c_str(), 0700);
        ::mkfifo((env.scratch_dir + "/left-dir/inner").c_str(), 0600);
        break;
      case 8: {  // a child that has ended and is never reaped
        const pid_t kid = ::fork();
        if (kid == 0) ::_exit(0);
        siginfo_t info;  // waits for its end without reaping it (WNOWAIT)
        ::waitid(P_PID, static_cast<id_t>(kid), &info, WEXITED | WNOWAIT);
        break;
      }
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(LeakProperty);

// Each kind is named, and removed: the case after it (kind 99 leaves
// nothing) passes. Through the fork server the leak is first seen as a
// changed count (IpcCounts), and only then listed and named.
void ExpectEveryKindCaught(CaseRunner& runner) {
  const char* want[] = {"SysV message queue id",
                        "/dev/shm/ipcspec-leak-",
                        "file-system node ",
                        "process ",
                        "SysV shared memory segment id",
                        "SysV semaphore set id",
                        "POSIX message queue /ipcspec-leak-",
                        "/left-dir",
                        "a zombie: it ended and was never reaped"};
  for (uint64_t kind = 0; kind < std::size(want); ++kind) {
    CaseResult r = runner.Run({"T-LEAK", "pipe", {Step::Param(0, kind)}});
    EXPECT_EQ(r.outcome, Outcome::kLeaked) << kind << ": " << r.message;
    EXPECT_THAT(r.message, HasSubstr(want[kind])) << kind;
    CaseResult clean = runner.Run({"T-LEAK", "pipe", {Step::Param(0, 99)}});
    EXPECT_EQ(clean.outcome, Outcome::kPass) << "after kind " << kind << ": " << clean.message;
  }
}

TEST(LeakOwnershipTest, RootRunThroughTheForkServerCatchesEveryKind) {
  auto server = ForkServer::Start(SandboxOptions{});
  ASSERT_TRUE(server.ok());
  ExpectEveryKindCaught(**server);
}

TEST(LeakOwnershipTest, RootRunWithPerCaseIsolationCatchesEveryKind) {
  DirectRunner runner{SandboxOptions{}};
  ExpectEveryKindCaught(runner);
}

// Each kind of object moves its own count, and only while it exists: the
// counts the fork server compares to decide whether to list at all.
// An mqueue file system mounted on a fresh directory, unmounted and removed
// when the test ends, however it ends.
class MqueueMount {
 public:
  MqueueMount() {
    if (::mkdtemp(dir_) == nullptr) return;
    made_ = true;
    mounted_ = ::mount("mqueue", dir_, "mqueue", 0, nullptr) == 0;
    error_ = mounted_ ? 0 : errno;
  }
  ~MqueueMount() {
    if (mounted_) ::umount2(dir_, MNT_DETACH);
    if (made_) ::rmdir(dir_);
  }
  bool mounted() const { return mounted_; }
  int error() const { return error_; }
  const char* dir() const { return dir_; }

 private:
  char dir_[32] = "/tmp/ipcspec-count-XXXXXX";
  bool made_ = false, mounted_ = false;
  int error_ = 0;
};

TEST(LeakOwnershipTest, EveryKindMovesItsCount) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a private mqueue file system";
  const MqueueMount mount;
  ASSERT_TRUE(mount.mounted()) << ErrnoName(mount.error());
  const char* mq_dir = mount.dir();
  const IpcCounts before = CountIpc(mq_dir);
  ASSERT_TRUE(before.known());
  const int q = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  const int m = ::shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  const int sem = ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  const std::string shm = UniqueName("/ipcspec-count"), mq = UniqueName("/ipcspec-count");
  ::close(::shm_open(shm.c_str(), O_CREAT | O_RDWR, 0600));
  struct mq_attr attr = {};
  attr.mq_maxmsg = 1;
  attr.mq_msgsize = 8;
  ::mq_close(::mq_open(mq.c_str(), O_CREAT | O_RDWR, 0600, &attr));
  const IpcCounts during = CountIpc(mq_dir);
  EXPECT_EQ(during.msg_queues, before.msg_queues + 1);
  EXPECT_EQ(during.shm_segments, before.shm_segments + 1);
  EXPECT_EQ(during.sem_sets, before.sem_sets + 1);
  EXPECT_GT(during.shm_dir_size, before.shm_dir_size);
  EXPECT_GT(during.mq_dir_size, before.mq_dir_size);
  ::msgctl(q, IPC_RMID, nullptr);
  ::shmctl(m, IPC_RMID, nullptr);
  ::semctl(sem, 0, IPC_RMID);
  ::shm_unlink(shm.c_str());
  ::mq_unlink(mq.c_str());
  EXPECT_EQ(CountIpc(mq_dir), before);
}

// Another process of the same uid makes and removes /dev/shm names until
// `stop` closes, keeping every tenth; their names, one a line, go to `kept`.
[[noreturn]] void Churn(int stop, const std::string& kept) {
  if (::setresgid(kNobody, kNobody, kNobody) != 0 || ::setresuid(kNobody, kNobody, kNobody) != 0) {
    ::_exit(2);
  }
  std::ofstream list(kept);
  for (int i = 0;; ++i) {
    const std::string name = absl::StrFormat("/eco_other_%d_%d", ::getpid(), i);
    ::close(::shm_open(name.c_str(), O_CREAT | O_RDWR, 0600));
    if (i % 10 == 0) {
      list << name << std::endl;
    } else {
      ::shm_unlink(name.c_str());
    }
    struct pollfd p = {stop, POLLIN, 0};
    if (::poll(&p, 1, 2) != 0) ::_exit(0);  // the pace of the churn, and its end
  }
}

TEST(LeakOwnershipTest, NonRootRunBesideAChurnerReportsAndDeletesNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to start the run as another user";
  const std::string dir = ::testing::TempDir() + "/leak-ownership";
  ::mkdir(dir.c_str(), 0777);
  ::chmod(dir.c_str(), 0777);
  const std::string kept = dir + "/kept", json = dir + "/report.json";
  int stop[2];
  ASSERT_EQ(::pipe(stop), 0);
  const pid_t churner = ::fork();
  ASSERT_GE(churner, 0);
  if (churner == 0) {
    ::close(stop[1]);
    Churn(stop[0], kept);
  }
  ::close(stop[0]);
  testing::Ran r = testing::RunCommand(
      {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", IPCSPEC_BINARY,
       "run", "--transport=pipe,posix_mq,posix_shm,fifo", "--property=G-ORDER,G-CLEANUP,G-FORK",
       "--examples=10", "--jobs=2", "--json=" + json});
  ::close(stop[1]);
  int status = 0;
  ::waitpid(churner, &status, 0);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("eco_other")));
  std::ifstream in(json);
  const nlohmann::json report = nlohmann::json::parse(in);
  for (const nlohmann::json& res : report["results"]) {
    EXPECT_NE(res["outcome"], "leaked") << res;
    EXPECT_THAT(res["message"].get<std::string>(), ::testing::Not(HasSubstr("left behind")));
  }
  std::ifstream names(kept);
  int count = 0;
  for (std::string name; std::getline(names, name); ++count) {
    EXPECT_EQ(::access(("/dev/shm" + name).c_str(), F_OK), 0) << name << " was deleted";
    ::shm_unlink(name.c_str());
  }
  EXPECT_GT(count, 0);
  ::unlink(kept.c_str());
  ::unlink(json.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace ipcspec
