// Every seed and saved crash under corpus/<target>/ runs through its fuzz
// target's entry (properties/fuzz_entry.h, what LLVMFuzzerTestOneInput calls)
// in the ordinary build, without libFuzzer: no verdict other than pass and
// nothing left behind. Also the decoder's promises: every corpus file prints
// as readable steps, and re-encodes to itself.
#include <signal.h>
#include <stdlib.h>
#include <sys/msg.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_decode.h"
#include "fuzz/fuzz_entry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/inventory.h"
#include "ipcspec/registry.h"
#include "tests/support/broken_transports.h"
#include "tests/support/subprocess.h"

#ifndef IPCSPEC_CORPUS_DIR
#error "IPCSPEC_CORPUS_DIR must name the corpus directory (tests/CMakeLists.txt)"
#endif

namespace ipcspec {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> Files(const std::string& target) {
  std::vector<fs::path> out;
  const fs::path dir = fs::path(IPCSPEC_CORPUS_DIR) / target;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// As the fuzz targets do: a private namespace where permitted, so that other
// work on the machine cannot look like a leak.
class Isolation : public ::testing::Environment {
 public:
  void SetUp() override { std::cerr << "fuzz_corpus_test: " << EnterFuzzIsolation() << "\n"; }
};
const ::testing::Environment* const kIsolation = ::testing::AddGlobalTestEnvironment(new Isolation);

class FuzzCorpusTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzCorpusTest, EveryFilePassesAndLeavesNothing) {
  const std::string target = GetParam();
  const std::vector<fs::path> files = Files(target);
  ASSERT_FALSE(files.empty()) << "no seeds in corpus/" << target;
  for (const fs::path& f : files) {
    const std::string bytes = Read(f);
    EXPECT_EQ(RunFuzzInput(target, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
              "")
        << f;
  }
}

TEST_P(FuzzCorpusTest, EveryFileDecodesToReadableSteps) {
  const std::string target = GetParam();
  if (target == "scenario") GTEST_SKIP() << "the scenario target takes any bytes";
  for (const fs::path& f : Files(target)) {
    absl::StatusOr<Scenario> s = DecodeFuzzInput(target, Read(f));
    ASSERT_TRUE(s.ok()) << f << ": " << s.status();
    EXPECT_FALSE(s->steps.empty()) << f;
    absl::StatusOr<std::string> enc = EncodeFuzzInput(target, *s);
    ASSERT_TRUE(enc.ok()) << f << ": " << enc.status();
    EXPECT_EQ(*DecodeFuzzInput(target, *enc), *s) << f;
  }
}

std::vector<std::string> TargetNames() {
  std::vector<std::string> out;
  for (const FuzzTarget& t : FuzzTargets()) out.push_back(t.name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpusTest, ::testing::ValuesIn(TargetNames()),
                         [](const auto& info) { return info.param; });

TEST(FuzzEntryTest, BrokenTransportFromTheSeedsIsCaught) {
  testing::RegisterBrokenTransports();
  bool caught = false;
  for (const fs::path& f : Files("posix_mq")) {
    const std::string bytes = Read(f);
    std::string err = RunFuzzInput("broken_drop4096",
                                   reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (!err.empty()) {
      EXPECT_THAT(err, HasSubstr("G-MODEL on broken_drop4096"));
      caught = true;
    }
  }
  EXPECT_TRUE(caught);
}

TEST(FuzzEntryTest, LeftBehindIsReported) {
  testing::RegisterBrokenTransports();
  // broken_leak_sysv: sysv_msg whose destroy forgets IPC_RMID.
  const std::string bytes("\0\x15", 2);
  std::string err = RunFuzzInput("broken_leak_sysv", reinterpret_cast<const uint8_t*>(bytes.data()),
                                 bytes.size());
  EXPECT_THAT(err, HasSubstr("left behind: SysV msg key"));
  // Remove what it left.
  for (const SysvObject& o : ListSysv('q')) {
    if (err.find(absl::StrCat("id ", o.id)) != std::string::npos) RemoveSysv(o);
  }
}

// Two SIGHUPs sent while it is blocked coalesce: one sigtimedwait takes it,
// the second finds nothing. Run by `ipcspec replay` on this kernel the model
// agrees; under the interposed libc's stand-in kernel where a standard signal
// queues (tests/shim/shim_sigqueue.c) the model must catch the second
// instance.
TEST(FuzzEntryTest, SignalModelCatchesAStandardSignalThatQueues) {
  const Scenario s{"SIG-FUZZ",
                   "signal",
                   {{Op::kSend, 1, static_cast<uint64_t>(SIGHUP), 1},
                    {Op::kSend, 1, static_cast<uint64_t>(SIGHUP), 2},
                    {Op::kTryRecv, 0, static_cast<uint64_t>(SIGHUP), 0},
                    {Op::kTryRecv, 0, static_cast<uint64_t>(SIGHUP), 0}}};
  EXPECT_THAT(DescribeFuzzScenario(s), HasSubstr("sigqueue(self, SIGHUP, 2)"));
  const char* tmp = getenv("TMPDIR");
  std::string path =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ipcspec-sigfuzz-XXXXXX";
  const int fd = mkstemp(path.data());
  ASSERT_GE(fd, 0);
  const std::string bytes = s.Serialize();
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  close(fd);
  const testing::Ran real = testing::RunCommand({IPCSPEC_BINARY, "replay", path});
  const testing::Ran queued = testing::RunCommand(
      {IPCSPEC_BINARY, "replay", path},
      {std::string("LD_PRELOAD=") + IPCSPEC_SHIM_LIBRARY, "IPCSPEC_SHIM=standard-signal-queues"});
  unlink(path.c_str());
  EXPECT_EQ(real.exit_code, 0) << real.out;
  EXPECT_THAT(real.out, HasSubstr("verdict: pass"));
  EXPECT_EQ(queued.exit_code, 1) << queued.out;
  EXPECT_THAT(queued.out, HasSubstr("verdict: fail: step 3: sigtimedwait({SIGHUP}, 0)"));
  EXPECT_THAT(queued.out, HasSubstr("SIGHUP is pending; the model says not pending"));
}

}  // namespace
}  // namespace ipcspec
