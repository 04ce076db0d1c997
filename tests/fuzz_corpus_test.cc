// Every seed and saved crash under corpus/<target>/ runs through its fuzz
// target's entry (fuzz/fuzz_entry.h, what LLVMFuzzerTestOneInput calls) in
// the ordinary build, without libFuzzer: no verdict other than pass and
// nothing left behind (the plugin target over the correct test plugin, the
// multi-process targets through the sandbox). Also the decoder's promises:
// every corpus file prints as readable steps, and re-encodes to itself; and
// the seeds find the deliberately broken transports of each kind.
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
#include "ipcspec/util.h"
#include "properties/model/model.h"
#include "tests/cli_test_util.h"
#include "tests/support/broken_transports.h"
#include "tests/support/subprocess.h"

#ifndef IPCSPEC_CORPUS_DIR
#error "IPCSPEC_CORPUS_DIR must name the corpus directory (tests/CMakeLists.txt)"
#endif

namespace ipcspec {
namespace {

namespace fs = std::filesystem;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

std::string Read(const fs::path& p) { return testing::ReadFileOrEmpty(p); }

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
// work on the machine cannot look like a leak; and the correct test plugin
// for the plugin target.
class Isolation : public ::testing::Environment {
 public:
  void SetUp() override {
    std::cerr << "fuzz_corpus_test: " << EnterFuzzIsolation() << "\n";
    ::setenv("IPCSPEC_PLUGIN", IPCSPEC_PLUGIN_PIPE, 1);
    absl::StatusOr<std::string> p = InitFuzzTarget("plugin");
    std::cerr << "fuzz_corpus_test: " << (p.ok() ? *p : p.status().ToString()) << "\n";
  }
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

// The targets whose inputs decode to steps (the scenario target takes any
// bytes and has none).
class FuzzDecodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzDecodeTest, EveryFileDecodesToReadableSteps) {
  const std::string target = GetParam();
  for (const fs::path& f : Files(target)) {
    absl::StatusOr<Scenario> s = DecodeFuzzInput(target, Read(f));
    ASSERT_TRUE(s.ok()) << f << ": " << s.status();
    EXPECT_FALSE(s->steps.empty()) << f;
    absl::StatusOr<std::string> enc = EncodeFuzzInput(target, *s);
    ASSERT_TRUE(enc.ok()) << f << ": " << enc.status();
    EXPECT_EQ(*DecodeFuzzInput(target, *enc), *s) << f;
  }
}

std::vector<std::string> TargetNames(bool decoding_only) {
  std::vector<std::string> out;
  for (const FuzzTarget& t : FuzzTargets()) {
    if (!decoding_only || t.kind != FuzzTarget::kScenario) out.push_back(t.name);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpusTest, ::testing::ValuesIn(TargetNames(false)),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Targets, FuzzDecodeTest, ::testing::ValuesIn(TargetNames(true)),
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

// Runs target's seeds until one fails (a race may need a few rounds).
std::string FirstFailure(const std::string& target, const std::string& corpus, int rounds = 1) {
  for (int round = 0; round < rounds; ++round) {
    for (const fs::path& f : Files(corpus)) {
      const std::string bytes = Read(f);
      std::string err =
          RunFuzzInput(target, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      if (!err.empty()) return err;
    }
  }
  return "";
}

TEST(FuzzEntryTest, WrongEndOfStreamFromTheSeedsIsCaught) {
  testing::RegisterBrokenTransports();
  EXPECT_THAT(FirstFailure("broken_no_end", "pipe"), HasSubstr("G-MODEL on broken_no_end"));
}

TEST(FuzzEntryTest, TornWriteFromTheMultiProcessSeedsIsCaught) {
  testing::RegisterBrokenTransports();
  const std::string err = FirstFailure("broken_torn_mp", "pipe_mp", 5);
  // Which writer's atomic write is torn depends on how the writers interleave
  // (writer 1's 2048-byte one, or writer 2's 1000-byte one): either is caught.
  EXPECT_THAT(err, ContainsRegex("was cut after [0-9]+ bytes by the start of message"));
  EXPECT_THAT(err, HasSubstr("MP-FUZZ on broken_torn"));
}

// A pipe whose reader ends note the timeout of every receive.
class NotingPipe : public Transport {
 public:
  explicit NotingPipe(const Transport& pipe) : pipe_(pipe) {}
  std::string_view name() const override { return "noting_pipe"; }
  std::string_view description() const override { return "pipe, noting receive timeouts"; }
  const Capabilities& caps() const override { return pipe_.caps(); }
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& dir) const override {
    absl::StatusOr<std::unique_ptr<Channel>> ch = pipe_.Create(dir);
    if (!ch.ok()) return ch.status();
    return std::make_unique<NotingChannel>(std::move(*ch), timeouts);
  }
  mutable std::vector<int> timeouts;

 private:
  class NotingEnd : public End {
   public:
    NotingEnd(std::unique_ptr<End> e, std::vector<int>& t) : e_(std::move(e)), t_(t) {}
    int Send(std::span<const std::byte> b, size_t* n, int ms) override {
      return e_->Send(b, n, ms);
    }
    int Recv(std::span<std::byte> b, size_t* n, int ms) override {
      t_.push_back(ms);
      return e_->Recv(b, n, ms);
    }

   private:
    std::unique_ptr<End> e_;
    std::vector<int>& t_;
  };
  class NotingChannel : public Channel {
   public:
    NotingChannel(std::unique_ptr<Channel> c, std::vector<int>& t) : c_(std::move(c)), t_(t) {}
    absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
      absl::StatusOr<std::unique_ptr<End>> e = c_->Open(role);
      if (!e.ok()) return e.status();
      return std::make_unique<NotingEnd>(std::move(*e), t_);
    }
    void Detach() override { c_->Detach(); }
    absl::Status Destroy() override { return c_->Destroy(); }

   private:
    std::unique_ptr<Channel> c_;
    std::vector<int>& t_;
  };
  const Transport& pipe_;
};

TEST(FuzzEntryTest, VirtualTimeWaitsOnTheClockOnceAtMost) {
  // Bounded receives on an empty pipe are predicted timeouts: under virtual
  // time none blocks, or with one_real_timeout, the first for 1 ms. Where
  // something is buffered, the bounded receive is made as asked.
  const Transport* pipe = TransportRegistry::Global().Find("pipe");
  ASSERT_NE(pipe, nullptr);
  NotingPipe noting(*pipe);
  std::vector<Step> steps(20, Step{Op::kWait, 0, 3, 0});
  steps.push_back({Op::kTrySend, 1, 10, 0});
  steps.push_back({Op::kWait, 0, 3, 0});
  props::ExecOptions o = FuzzExecOptions(Scenario{"G-MODEL", "pipe", steps});
  ASSERT_TRUE(o.virtual_time);
  o.final_drain = false;
  o.one_real_timeout = false;
  ASSERT_TRUE(props::ExecuteSteps(noting, steps, FuzzScratchDir(), o).ok());
  std::vector<int> want(20, 0);
  want.push_back(3);
  EXPECT_EQ(noting.timeouts, want);
  noting.timeouts.clear();
  o.one_real_timeout = true;
  ASSERT_TRUE(props::ExecuteSteps(noting, steps, FuzzScratchDir(), o).ok());
  want[0] = 1;
  EXPECT_EQ(noting.timeouts, want);
  // Whether an input waits for real depends on its steps alone: rarely.
  int real = 0;
  for (uint64_t n = 1; n <= 1024; ++n) {
    real += FuzzExecOptions(Scenario{"G-MODEL", "pipe", std::vector<Step>(1, {Op::kWait, 0, n, 0})})
                .one_real_timeout;
  }
  EXPECT_GT(real, 0);
  EXPECT_LT(real, 30);  // about one in 128
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
  std::string path = TempRoot() + "/ipcspec-sigfuzz-XXXXXX";
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
