// Parallel runs (RunMatrix with --jobs): the same seed gives the same report
// at every --jobs, apart from durations, and a parallel run leaves nothing
// behind: no SysV object, no /dev/shm name, no process.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/inventory.h"
#include "nlohmann/json.hpp"
#include "tests/support/subprocess.h"

namespace ipcspec {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Reports {
  nlohmann::json json;
  std::string junit;
  std::string out;
};

// One run of a matrix with failing plugin pairs in it, at `jobs`. The pairs
// are ones whose verdicts do not depend on timing (a transport whose failure
// depends on how the kernel splits a write would differ from run to run at
// any --jobs).
Reports RunAt(int jobs,
              std::string transports = "pipe,posix_mq,sysv_msg,socketpair_stream,plugin_drop4096",
              std::string properties = "G-ORDER,G-CLEANUP,G-EOF") {
  const std::string dir = ::testing::TempDir();
  const std::string json = absl::StrFormat("%s/parallel-%d-%d.json", dir, ::getpid(), jobs);
  const std::string junit = absl::StrFormat("%s/parallel-%d-%d.xml", dir, ::getpid(), jobs);
  testing::Ran r = testing::RunCommand(
      {IPCSPEC_BINARY, "run", absl::StrCat("--plugin=", IPCSPEC_PLUGIN_DROP4096),
       "--transport=" + transports, "--property=" + properties, "--seed=11",
       absl::StrCat("--jobs=", jobs), "--json=" + json, "--junit=" + junit});
  Reports out;
  out.out = r.out;
  EXPECT_EQ(r.exit_code, 1) << r.out;  // plugin_drop4096 fails G-ORDER
  out.json = nlohmann::json::parse(ReadAll(json));
  out.json.erase("elapsed_ms");
  for (nlohmann::json& result : out.json["results"]) result.erase("duration_ms");
  out.junit = std::regex_replace(ReadAll(junit), std::regex(R"( time="[^"]*")"), "");
  ::unlink(json.c_str());
  ::unlink(junit.c_str());
  return out;
}

TEST(EngineParallelTest, SameReportAtEveryJobs) {
  const Reports one = RunAt(1);
  const Reports four = RunAt(4);
  // 5 transports x 3 properties (G-EOF applies to the reliable queues
  // without peer-close too: a close loses nothing).
  ASSERT_EQ(one.json["results"].size(), 15u) << one.out;
  EXPECT_EQ(one.json, four.json) << "jobs=1:\n" << one.out << "\njobs=4:\n" << four.out;
  EXPECT_EQ(one.junit, four.junit);
  // The failure is there, shrunk, with its reproduce string.
  bool found = false;
  for (const nlohmann::json& r : one.json["results"]) {
    if (r["transport"] == "plugin_drop4096" && r["property"] == "G-ORDER") {
      found = true;
      EXPECT_EQ(r["outcome"], "fail");
      EXPECT_THAT(r["counterexample"].get<std::string>(),
                  ::testing::HasSubstr("writer 1 sends message 0: 4096 bytes"));
      EXPECT_FALSE(r["reproduce"].get<std::string>().empty());
    }
  }
  EXPECT_TRUE(found);
}

// One pair at --jobs=3 runs its examples on three fork servers (lanes):
// the same report as on one.
TEST(EngineParallelTest, SameReportForOnePairOnSeveralLanes) {
  const Reports one = RunAt(1, "plugin_drop4096", "G-ORDER");
  const Reports three = RunAt(3, "plugin_drop4096", "G-ORDER");
  ASSERT_EQ(one.json["results"].size(), 1u) << one.out;
  EXPECT_EQ(one.json, three.json) << "jobs=1:\n" << one.out << "\njobs=3:\n" << three.out;
  EXPECT_EQ(one.junit, three.junit);
  EXPECT_EQ(one.json["results"][0]["outcome"], "fail");
}

// Processes whose environment holds `marker`: those the run left.
std::vector<std::string> ProcessesWith(const std::string& marker) {
  std::vector<std::string> out;
  for (const std::string& pid : ListDir("/proc")) {
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in("/proc/" + pid + "/environ", std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    if (s.str().find(marker) != std::string::npos)
      out.push_back(pid + " " + CommOf(std::stoi(pid)));
  }
  return out;
}

// In a child with an IPC namespace and /dev/shm of its own (so that nothing
// else on the machine changes what it sees): the same objects before and
// after a parallel run, and no process of the run left. Exit 0 when so; the
// differences go to `report`.
int RunAndCompare(const std::string& report, const std::string& marker) {
  if (::unshare(CLONE_NEWIPC | CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("tmpfs", "/dev/shm", "tmpfs", 0, "mode=1777") != 0) {
    return 3;
  }
  std::ofstream out(report);
  const IpcSnapshot before = TakeIpcSnapshot();
  testing::Ran r = testing::RunCommand(
      {IPCSPEC_BINARY, "run", "--transport=sysv_msg,sysv_shm,posix_mq,posix_shm,fifo,pipe",
       "--property=G-ORDER,G-CLEANUP,G-PEER-CRASH,G-FORK", "--examples=4", "--jobs=2"},
      {marker});
  const IpcSnapshot after = TakeIpcSnapshot();
  out << r.out << "\n";
  int bad = r.exit_code == 0 ? 0 : 4;
  if (after.shm != before.shm) bad = 5, out << "/dev/shm changed\n";
  if (after.sysv.size() != before.sysv.size()) bad = 6, out << "SysV objects changed\n";
  for (const std::string& p : ProcessesWith(marker)) bad = 7, out << "left: process " << p << "\n";
  return bad;
}

TEST(EngineParallelTest, NothingLeftBehindAfterAParallelRun) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a namespace of its own";
  absl::BitGen gen;
  const std::string marker =
      absl::StrFormat("IPCSPEC_PARALLEL_TEST_MARK=%016x", absl::Uniform<uint64_t>(gen));
  const std::string report = ::testing::TempDir() + "/parallel-leftovers.txt";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(RunAndCompare(report, marker));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status << "\n"
                                                             << ReadAll(report);
  EXPECT_THAT(ProcessesWith(marker), ::testing::IsEmpty());
  ::unlink(report.c_str());
}

}  // namespace
}  // namespace ipcspec
