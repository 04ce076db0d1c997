// Leak detection is exact and never touches what it did not make
// (ipcspec/inventory.h): a non-root run next to a process that churns
// /dev/shm reports nothing and deletes nothing, while a root run, through the
// fork server's lasting namespace and through per-case isolation, still
// catches a leaked SysV queue, /dev/shm name, FIFO node and stray process.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/msg.h>
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
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(LeakProperty);

void ExpectEveryKindCaught(CaseRunner& runner) {
  const char* want[] = {"SysV message queue id", "/dev/shm/ipcspec-leak-", "file-system node ",
                        "process "};
  for (uint64_t kind = 0; kind < 4; ++kind) {
    CaseResult r = runner.Run({"T-LEAK", "pipe", {Step::Param(0, kind)}});
    EXPECT_EQ(r.outcome, Outcome::kLeaked) << kind << ": " << r.message;
    EXPECT_THAT(r.message, HasSubstr(want[kind])) << kind;
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
