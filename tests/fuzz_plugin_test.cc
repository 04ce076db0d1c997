// The plugin fuzz target (fuzz_plugin, ipcspec_add_fuzz_target): a plugin
// loaded as IPCSPEC_PLUGIN is fuzzed in process against the reference
// models; the test plugin that drops 4096-byte sends is caught from the
// seed corpus, and `ipcspec replay --plugin=...` prints the crash as
// readable steps. (The fuzz build shows the same with libFuzzer:
// ci/fuzz-finds.)
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz/fuzz_entry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli_test_util.h"
#include "tests/support/subprocess.h"

namespace ipcspec {
namespace {

using ::testing::HasSubstr;
using testing::ReadFileOrEmpty;
namespace fs = std::filesystem;

TEST(FuzzPluginTest, WithoutAPluginTheTargetSaysWhatToDo) {
  ::unsetenv("IPCSPEC_PLUGIN");
  absl::StatusOr<std::string> init = InitFuzzTarget("plugin");
  ASSERT_FALSE(init.ok());
  EXPECT_THAT(init.status().message(), HasSubstr("IPCSPEC_PLUGIN=/path/libmine.so"));
}

TEST(FuzzPluginTest, BadPluginIsAnError) {
  ::setenv("IPCSPEC_PLUGIN", IPCSPEC_NOT_A_PLUGIN, 1);
  absl::StatusOr<std::string> init = InitFuzzTarget("plugin");
  ::unsetenv("IPCSPEC_PLUGIN");
  ASSERT_FALSE(init.ok());
  EXPECT_THAT(init.status().message(), HasSubstr("cannot load it as a shared object"));
}

// A plugin whose create() crashes is a set-up error at start (exit 2 from
// the fuzz target), not a crash reported for every input. In a child
// process, so that this one does not keep the plugin loaded.
TEST(FuzzPluginTest, PluginWhoseCreateCrashesIsASetUpError) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::setenv("IPCSPEC_PLUGIN", IPCSPEC_PLUGIN_CRASH_IN_CREATE, 1);
    absl::StatusOr<std::string> init = InitFuzzTarget("plugin");
    const std::string said = init.ok() ? "ok" : std::string(init.status().message());
    (void)!::write(fds[1], said.data(), said.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string said;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) said.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_THAT(said, HasSubstr("create() was killed by signal 11: nothing to fuzz"));
}

// Runs last in this binary: it loads the broken plugin for good.
TEST(FuzzPluginTest, BrokenPluginIsCaughtFromTheSeedsAndReplaysAsSteps) {
  ::setenv("IPCSPEC_PLUGIN", IPCSPEC_PLUGIN_DROP4096, 1);
  absl::StatusOr<std::string> init = InitFuzzTarget("plugin");
  ASSERT_TRUE(init.ok()) << init.status();
  EXPECT_THAT(*init, HasSubstr("transport plugin_drop4096"));
  std::string crash;
  for (const auto& e : fs::directory_iterator(fs::path(IPCSPEC_CORPUS_DIR) / "plugin")) {
    const std::string bytes = ReadFileOrEmpty(e.path());
    std::string err =
        RunFuzzInput("plugin", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (!err.empty()) {
      EXPECT_THAT(err, HasSubstr("G-MODEL on plugin_drop4096"));
      crash = bytes;
    }
  }
  ASSERT_FALSE(crash.empty()) << "no seed caught the dropped 4096-byte send";

  // As libFuzzer leaves it: fuzz-artifacts/plugin/crash-...
  const fs::path dir = fs::temp_directory_path() / ("ipcspec-replay-" + std::to_string(getpid()));
  fs::create_directories(dir / "plugin");
  const fs::path file = dir / "plugin" / "crash-1";
  std::ofstream(file, std::ios::binary) << crash;
  testing::Ran r = testing::RunCommand(
      {IPCSPEC_BINARY, "replay", std::string("--plugin=") + IPCSPEC_PLUGIN_DROP4096, file});
  fs::remove_all(dir);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("G-MODEL on plugin_drop4096"));
  EXPECT_THAT(r.out, HasSubstr("writer 1 sends message"));
  EXPECT_THAT(r.out, HasSubstr("verdict: fail: step "));
}

}  // namespace
}  // namespace ipcspec
