// Tests of the plugin path end to end: runs the built `ipcspec` binary with
// the plugins built from tests/plugins/test_plugin.c and checks exit codes,
// messages and reports.
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/inventory.h"
#include "ipcspec/scenario.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace ipcspec {
namespace {

using ::testing::AnyOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int exit_code = -1;  // -1: did not exit normally
  std::string out, err;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class PluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "ipcspec-plugin-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `ipcspec run` of `property` on the plugin `transport` at `path`, which
  // must fail (exit 1): its result from the JSON report (and, if asked, the
  // run).
  nlohmann::json RunOneFailing(const char* path, std::string_view transport, Result* run = nullptr,
                               std::string_view property = "G-ORDER",
                               const std::vector<std::string>& more = {}) {
    const std::string json = dir_ + "/report.json";
    std::vector<std::string> args = {
        "run", Plugin(path), absl::StrCat("--transport=", std::string(transport)),
        absl::StrCat("--property=", std::string(property)), absl::StrCat("--json=", json)};
    args.insert(args.end(), more.begin(), more.end());
    Result r = Ipcspec(args);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    const nlohmann::json report = nlohmann::json::parse(ReadAll(json));
    if (run != nullptr) *run = r;
    return report["results"].empty() ? nlohmann::json() : report["results"][0];
  }

  // `property` on the plugin `transport` at `path` (run with `more` flags)
  // ends with `outcome`, and its message says `says`.
  void ExpectCaught(const char* path, std::string_view transport, std::string_view property,
                    std::string_view outcome, std::string_view says,
                    const std::vector<std::string>& more = {}) {
    const nlohmann::json result = RunOneFailing(path, transport, nullptr, property, more);
    EXPECT_EQ(result["outcome"], std::string(outcome)) << result;
    EXPECT_THAT(result["message"].get<std::string>(), HasSubstr(std::string(says))) << result;
  }

  // Every generic property but `property` (or several, comma-separated)
  // passes the plugin `transport` at `path`: the bug it was written for is
  // theirs alone. With a
  // `symptom`, another may fail with it: the same bug, which a loaded
  // machine (a sanitized build under a parallel ctest) may show in one more
  // place.
  void ExpectOthersPass(const char* path, std::string_view transport, std::string_view property,
                        std::string_view symptom = "") {
    const std::string json = dir_ + "/others.json";
    const std::vector<std::string> excluded =
        absl::StrSplit(absl::string_view(property.data(), property.size()), ',');
    Result r = Ipcspec({"run", Plugin(path), absl::StrCat("--transport=", std::string(transport)),
                        absl::StrCat("--property=G-*,-", absl::StrJoin(excluded, ",-")),
                        absl::StrCat("--json=", json)});
    ASSERT_LE(r.exit_code, 1) << r.out << r.err;
    const nlohmann::json report = nlohmann::json::parse(ReadAll(json));
    int passed = 0;
    for (const nlohmann::json& result : report["results"]) {
      if (result["outcome"] == "pass") ++passed;
      if (result["outcome"] == "pass" || result["outcome"] == "unsupported" ||
          result["outcome"] == "skipped") {
        continue;
      }
      EXPECT_FALSE(symptom.empty()) << "only " << property << " may fail: " << result;
      EXPECT_EQ(result["outcome"], "fail") << result;
      EXPECT_THAT(result["message"].get<std::string>(), HasSubstr(std::string(symptom))) << result;
    }
    EXPECT_GE(passed, 8) << r.out;
  }

  // Runs `ipcspec args...` with stdout and stderr in files; waits for it.
  Result Ipcspec(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {IPCSPEC_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return Spawn(argv);
  }
  Result Spawn(const std::vector<std::string>& argv) {
    const std::string out = dir_ + "/stdout", err = dir_ + "/stderr";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> cargv;
    for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t pid;
    Result r;
    int rc = ::posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      r.err = absl::StrCat("posix_spawn ", cargv[0], ": ", strerror(rc));
      return r;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    r.out = ReadAll(out);
    r.err = ReadAll(err);
    return r;
  }
  std::string Plugin(const std::string& path) { return absl::StrCat("--plugin=", path); }

  std::string dir_;
};

struct BadCase {
  const char* label;
  const char* path;
  const char* message;
};

TEST_F(PluginTest, EveryBadPluginIsAUsageErrorNamingTheProblem) {
  const BadCase cases[] = {
      {"missing file", "/nonexistent/libipcspec-nope.so",
       "cannot open it: No such file or directory"},
      {"not a shared object", IPCSPEC_NOT_A_PLUGIN, "cannot load it as a shared object"},
      {"missing symbol", IPCSPEC_PLUGIN_NO_ENTRY, "missing symbol ipcspec_transport_v1"},
      {"entry returns NULL", IPCSPEC_PLUGIN_ENTRY_NULL, "ipcspec_transport_v1() returned NULL"},
      {"wrong ABI version", IPCSPEC_PLUGIN_ABI_V2, "ABI version 2"},
      {"NULL name", IPCSPEC_PLUGIN_NULL_NAME, "name is NULL"},
      {"NULL function", IPCSPEC_PLUGIN_NULL_RECV, "function recv is NULL"},
      {"name clash", IPCSPEC_PLUGIN_NAME_CLASH,
       "transport name 'pipe' is already taken by a built-in transport"},
      {"contradictory capabilities", IPCSPEC_PLUGIN_CONTRADICTORY,
       "atomic_write is set but multi_writer is not"},
      {"crash in entry point", IPCSPEC_PLUGIN_CRASH_IN_ENTRY, "crashed while loading"},
  };
  for (const BadCase& c : cases) {
    for (const char* command : {"list", "run"}) {
      SCOPED_TRACE(absl::StrCat(c.label, ": ipcspec ", command));
      std::vector<std::string> args = {command, Plugin(c.path)};
      if (std::string_view(command) == "run") {
        args.insert(args.end(), {"--transport=pipe", "--property=G-ORDER", "--examples=1"});
      }
      Result r = Ipcspec(args);
      EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
      EXPECT_THAT(r.err, HasSubstr(absl::StrCat("ipcspec: plugin ", c.path, ": ")));
      EXPECT_THAT(r.err, HasSubstr(c.message));
      // No case ran, and the harness did not fall over.
      EXPECT_THAT(r.out, Not(HasSubstr("G-ORDER")));
    }
  }
}

TEST_F(PluginTest, CrashInEntryPointNamesTheSignal) {
  Result r = Ipcspec({"list", Plugin(IPCSPEC_PLUGIN_CRASH_IN_ENTRY)});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("crashed while loading"));
  EXPECT_THAT(r.err, HasSubstr("SIGSEGV"));
}

TEST_F(PluginTest, WhatAPluginPrintsWhileLoadingStaysOutOfTheJsonListing) {
  Result json = Ipcspec({"list", "--format=json", Plugin(IPCSPEC_PLUGIN_NOISY)});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(nlohmann::json::accept(json.out)) << json.out;
  EXPECT_THAT(json.err, HasSubstr("noisy plugin: loaded"));
}

TEST_F(PluginTest, ListShowsThePluginTransport) {
  Result r = Ipcspec({"list", Plugin(IPCSPEC_PLUGIN_PIPE)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("plugin_pipe"));
  EXPECT_THAT(r.out, HasSubstr("plugin transport (ABI v1)"));
  EXPECT_THAT(r.out,
              HasSubstr("multi-writer peer-close naming-unknown capacity=65536 atomic_write=4096"));

  Result json = Ipcspec({"list", "--format=json", Plugin(IPCSPEC_PLUGIN_PIPE)});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("{\"name\":\"plugin_pipe\",\"description\":\"plugin transport "
                                  "(ABI v1)\",\"builtin\":false"));
  // The ABI does not say whether a plugin's channel has a name: null, as
  // the text says naming-unknown, never a `false` it did not declare.
  const nlohmann::json listed = nlohmann::json::parse(json.out);
  bool found = false;
  for (const nlohmann::json& t : listed["transports"]) {
    if (t["name"] != "plugin_pipe") continue;
    found = true;
    EXPECT_TRUE(t["caps"]["named"].is_null()) << t;
  }
  EXPECT_TRUE(found) << json.out;
}

TEST_F(PluginTest, CorrectPluginPassesOrder) {
  Result r = Ipcspec({"run", Plugin(IPCSPEC_PLUGIN_PIPE), "--transport=plugin_pipe",
                      "--property=G-ORDER", "--examples=10"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("plugin_pipe"));
  EXPECT_THAT(r.out, HasSubstr("1 passed, 0 failed"));
}

TEST_F(PluginTest, ReportSaysWhichCapabilityExcludedAProperty) {
  const std::string json = dir_ + "/report.json";
  Result r = Ipcspec({"run", Plugin(IPCSPEC_PLUGIN_PIPE), "--transport=plugin_pipe",
                      "--property=G-BOUNDARY", absl::StrCat("--json=", json)});
  // Nothing to check is no pass: exit 2, saying why, with the report written.
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("G-BOUNDARY on plugin_pipe: excluded by capability framing=stream"));
  const nlohmann::json report = nlohmann::json::parse(ReadAll(json));
  EXPECT_TRUE(report["results"].empty()) << report;
  ASSERT_EQ(report["not_applicable"].size(), 1u) << report;
  EXPECT_EQ(report["not_applicable"][0]["property"], "G-BOUNDARY");
  EXPECT_EQ(report["not_applicable"][0]["reason"], "excluded by capability framing=stream");
}

TEST_F(PluginTest, LossyPluginFailsWithAMinimalCounterexampleAndAReproduceCommand) {
  Result r = Ipcspec({"run", Plugin(IPCSPEC_PLUGIN_DROP4096), "--transport=plugin_drop4096",
                      "--property=G-ORDER"});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  const size_t at = r.out.find("minimal counterexample:");
  ASSERT_NE(at, std::string::npos) << r.out;
  const size_t end = r.out.find("reproduce: ", at);
  ASSERT_NE(end, std::string::npos) << r.out;
  const std::string counterexample = r.out.substr(at, end - at);
  EXPECT_THAT(counterexample, HasSubstr("writer 1 sends message 0: 4096 bytes"));
  int sends = 0;
  for (absl::string_view line : absl::StrSplit(counterexample, '\n')) {
    if (absl::StrContains(line, " sends ")) ++sends;
  }
  EXPECT_EQ(sends, 1) << counterexample;

  // The reproduce command names the plugin, and replays the same failure.
  std::string line = r.out.substr(end + strlen("reproduce: "));
  line = line.substr(0, line.find('\n'));
  EXPECT_THAT(line, HasSubstr(absl::StrCat("--plugin=", IPCSPEC_PLUGIN_DROP4096)));
  EXPECT_THAT(line, HasSubstr("--reproduce="));
  Result again = Spawn({"/bin/sh", "-c", line});
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
  EXPECT_THAT(again.out, HasSubstr("writer 1 sends message 0: 4096 bytes"));
}

TEST_F(PluginTest, CrashInCreateIsACrashedOutcomeNotAHarnessCrash) {
  const std::string json = dir_ + "/report.json";
  Result r =
      Ipcspec({"run", Plugin(IPCSPEC_PLUGIN_CRASH_IN_CREATE), "--transport=plugin_crash_in_create",
               "--property=G-ORDER", "--examples=5", absl::StrCat("--json=", json)});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("crashed"));
  EXPECT_THAT(r.out, HasSubstr("ipcspec: 0 passed, 0 failed, 1 error,"));
  const nlohmann::json report = nlohmann::json::parse(ReadAll(json));
  EXPECT_EQ(report["results"][0]["property"], "G-ORDER");
  EXPECT_EQ(report["results"][0]["outcome"], "crashed");
}

// A plugin is not built with AddressSanitizer: a receive that writes past
// the buffer it was given is caught by the guard bytes after the harness's
// buffer, as a crash that says so, not as corrupted memory.
TEST_F(PluginTest, RecvPastItsBufferIsACrashThatSaysSo) {
  Result r;
  const nlohmann::json result = RunOneFailing(IPCSPEC_PLUGIN_OVERRUN, "plugin_overrun", &r);
  EXPECT_EQ(result["outcome"], "crashed") << result;
  EXPECT_THAT(result["output"].get<std::string>(),
              HasSubstr("plugin transport plugin_overrun: recv() into a "))
      << result;
  EXPECT_THAT(r.out, HasSubstr("wrote past its end"));
}

// A recv() that returns its byte count, as read(2) does, would read as an
// error code (or, for one byte, as the end of the stream); one that counts
// more bytes than its buffer holds would be cut down unseen. Both are
// breaches of the contract, reported as a crash that names them.
TEST_F(PluginTest, RecvThatReturnsItsByteCountIsACrashThatSaysSo) {
  const nlohmann::json result = RunOneFailing(IPCSPEC_PLUGIN_RETURNS_COUNT, "plugin_returns_count");
  EXPECT_EQ(result["outcome"], "crashed") << result;
  // A one-byte receive returns 1, IPCSPEC_END, with *received = 1.
  EXPECT_THAT(result["output"].get<std::string>(),
              AnyOf(HasSubstr(", which is not 0, IPCSPEC_END (1) or a negative errno (a byte "
                              "count goes in *received"),
                    HasSubstr("recv() returned IPCSPEC_END with *received = 1")))
      << result;
}

TEST_F(PluginTest, RecvThatCountsMoreThanItsBufferIsACrashThatSaysSo) {
  const nlohmann::json result = RunOneFailing(IPCSPEC_PLUGIN_COUNTS_QUEUED, "plugin_counts_queued");
  EXPECT_EQ(result["outcome"], "crashed") << result;
  EXPECT_THAT(result["output"].get<std::string>(),
              ContainsRegex("recv\\(\\) reported [0-9]+ bytes received into a [0-9]+-byte buffer"))
      << result;
}

// send()'s buffer is const: an encoding done in place and never undone
// delivers the right bytes (recv() decodes them), so no property that
// counts what arrives sees it; the caller's buffer is changed all the same.
TEST_F(PluginTest, SendThatWritesIntoItsBufferIsACrashThatSaysSo) {
  const nlohmann::json result = RunOneFailing(IPCSPEC_PLUGIN_SCRIBBLE, "plugin_scribble");
  EXPECT_EQ(result["outcome"], "crashed") << result;
  EXPECT_THAT(result["output"].get<std::string>(),
              HasSubstr("plugin transport plugin_scribble: send() wrote into the "))
      << result;
}

// A transport that keeps send()'s pointer and reads it after returning (a
// batched write) delivers what the buffer holds by then: the next message,
// or the poison the adapter leaves in it, which the failure names.
TEST_F(PluginTest, SendThatReadsItsBufferAfterReturningIsCaughtAndNamed) {
  ExpectCaught(IPCSPEC_PLUGIN_DEFERRED, "plugin_deferred", "G-ORDER", "fail",
               "did the transport read the buffer after send() returned?");
}

// A caught signal interrupts a sleeping call. The correct pipe plugin waits
// on with the time left; each broken one mishandles the EINTR its poll()
// gets, and G-INTERRUPT names what that did.
TEST_F(PluginTest, InterruptedCallsThatGoOnPass) {
  Result r = Ipcspec(
      {"run", Plugin(IPCSPEC_PLUGIN_PIPE), "--transport=plugin_pipe", "--property=G-INTERRUPT"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(PluginTest, AnInterruptedSendThatForgetsWhatItWroteIsCaught) {
  ExpectCaught(IPCSPEC_PLUGIN_EINTR_COUNT, "plugin_eintr_count", "G-INTERRUPT", "fail",
               "gave -EINTR");
}

// The wait never ends only while signals come faster than its bound: the
// pest looks every 2 ms at most, but under ASan and a parallel ctest it can
// be late by more than the default 10 ms unit. A 50 ms unit leaves room.
TEST_F(PluginTest, AWaitStartedOverAfterEachSignalIsAHangThatSaysWhere) {
  ExpectCaught(IPCSPEC_PLUGIN_EINTR_RESTART, "plugin_eintr_restart", "G-INTERRUPT", "timeout",
               "blocked in recv(timeout", {"--time-unit=50ms"});
}

TEST_F(PluginTest, AnInterruptedWaitTakenForItsTimeoutIsCaught) {
  ExpectCaught(IPCSPEC_PLUGIN_EINTR_TIMEOUT, "plugin_eintr_timeout", "G-INTERRUPT", "fail",
               "gave -ETIMEDOUT");
}

// A plugin that keeps its descriptor in a static passes wherever each
// process holds one end; G-INDEPENDENT puts two channels' ends in one.
TEST_F(PluginTest, ADescriptorKeptInAStaticIsCaughtWithTwoChannelsInOneProcess) {
  // Caught with both writers in one process, as threads or round by round:
  // a reader (of its own, or the readers' process) finds the wrong stream,
  // or, the writers' threads starting together, one writer's send finds
  // the descriptor the other's close took away; with the readers' threads
  // too, a writer's send finds the pipe's one reading descriptor, which
  // both readers used, closed. G-MULTI-WRITER, whose writers 1 and 2 are at
  // times two threads of one process, may catch it too (one writer's send
  // finds the descriptor the other's close took away).
  const nlohmann::json result =
      RunOneFailing(IPCSPEC_PLUGIN_STATIC_FD, "plugin_static_fd", nullptr, "G-INDEPENDENT");
  EXPECT_EQ(result["outcome"], "fail") << result;
  EXPECT_THAT(result["message"].get<std::string>(),
              ::testing::AnyOf(HasSubstr("reader"), HasSubstr("-EBADF"), HasSubstr("-EPIPE")))
      << result;
  ExpectOthersPass(IPCSPEC_PLUGIN_STATIC_FD, "plugin_static_fd", "G-INDEPENDENT,G-MULTI-WRITER");
}

// A timer and a handler a call sets up for itself must not outlive it: the
// alarm fires later into whatever the process does then.
TEST_F(PluginTest, AnAlarmLeftArmedByABoundedReceiveIsCaught) {
  ExpectCaught(IPCSPEC_PLUGIN_ALARM_TIMEOUT, "plugin_alarm_timeout", "G-CLEANUP", "fail",
               "ITIMER_REAL armed (SIGALRM to come) (not before)");
}

// A send to a reader that has gone must return -EPIPE, not raise SIGPIPE:
// the harness catches SIGPIPE, where a program that keeps its default
// action would die of the send.
TEST_F(PluginTest, ASendThatRaisesSigpipeIsCaught) {
  ExpectCaught(IPCSPEC_PLUGIN_RAISES_SIGPIPE, "plugin_raises_sigpipe", "G-PEER-GONE", "fail",
               "raised SIGPIPE (it returned -EPIPE)");
}

// Both ends of one channel in one process, used by two threads at once, as
// the contract allows: one lock held while a receive sleeps starves the
// sender. Every other property passes it: there each end has a process.
TEST_F(PluginTest, OneLockHeldWhileAReceiveSleepsIsCaughtWithTheWriterAsAThread) {
  // Whether the reader's bounded receive gives up first (fail) or the
  // watchdog sees it overrun, waiting for the lock (timeout), is a race.
  const nlohmann::json result =
      RunOneFailing(IPCSPEC_PLUGIN_ONE_LOCK, "plugin_one_lock", nullptr, "G-INTEGRITY");
  EXPECT_THAT(result["outcome"].get<std::string>(), AnyOf("fail", "timeout")) << result;
  EXPECT_THAT(result["counterexample"].get<std::string>(),
              HasSubstr("the writer is a second thread of the reader's process, both ends open "
                        "at once: yes"))
      << result;
  // G-INDEPENDENT's readers' threads: one receive sleeping under the lock
  // starves the other's.
  ExpectOthersPass(IPCSPEC_PLUGIN_ONE_LOCK, "plugin_one_lock", "G-INTEGRITY,G-INDEPENDENT");
}

// Timeout -1 waits as long as it takes: a short default in its place
// passes every property that gets its data at once or bounds its calls.
// G-TIMEOUT waits on an empty channel on purpose; elsewhere a call without
// a timeout waits more than 50 ms only when the machine is loaded, and then
// that property reports the same -ETIMEDOUT.
TEST_F(PluginTest, AnUnboundedReceiveThatGivesUpIsCaught) {
  ExpectCaught(IPCSPEC_PLUGIN_UNBOUNDED_SHORT, "plugin_unbounded_short", "G-TIMEOUT", "fail",
               "an unbounded receive (timeout -1) on the empty channel returned -ETIMEDOUT");
  ExpectOthersPass(IPCSPEC_PLUGIN_UNBOUNDED_SHORT, "plugin_unbounded_short", "G-TIMEOUT",
                   "-ETIMEDOUT");
}

// A channel that destroy() forgets to free costs nothing any property can
// see but the making process's heap, which G-CLEANUP counts over channels.
TEST_F(PluginTest, AChannelThatDestroyDoesNotFreeIsCaught) {
  ExpectCaught(IPCSPEC_PLUGIN_LEAK_CHANNEL, "plugin_leak_channel", "G-CLEANUP", "fail",
               "memory taken with every channel and never freed");
  ExpectOthersPass(IPCSPEC_PLUGIN_LEAK_CHANNEL, "plugin_leak_channel", "G-CLEANUP");
}

// Opens and traffic are not ordered: a writer may send before the reader
// has opened its end, and that is owed too.
TEST_F(PluginTest, AReaderOpenThatThrowsAwayWhatWasSentIsCaught) {
  ExpectCaught(IPCSPEC_PLUGIN_OPEN_DRAINS, "plugin_open_drains", "G-INTEGRITY", "fail", "reader: ");
}

// Memory taken per message and never freed shows only after many messages.
TEST_F(PluginTest, HeapKeptForEveryMessageIsCaught) {
  ExpectCaught(IPCSPEC_PLUGIN_HEAP_PER_SEND, "plugin_heap_per_send", "G-VOLUME", "fail",
               "memory taken per message and never freed");
}

TEST_F(PluginTest, HangInRecvIsATimeoutOutcome) {
  const std::string json = dir_ + "/report.json";
  Result r = Ipcspec({"run", Plugin(IPCSPEC_PLUGIN_HANG_IN_RECV), "--transport=plugin_hang_in_recv",
                      "--property=G-TIMEOUT", "--examples=1", "--timeout=2s",
                      absl::StrCat("--json=", json)});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const nlohmann::json report = nlohmann::json::parse(ReadAll(json));
  EXPECT_EQ(report["results"][0]["property"], "G-TIMEOUT");
  EXPECT_EQ(report["results"][0]["outcome"], "timeout");
  EXPECT_THAT(r.out, HasSubstr("--timeout=2s"));  // in the reproduce command
}

}  // namespace
}  // namespace ipcspec

namespace ipcspec {
namespace {

// `--plugin=libmine.so` means the file in the current directory, as any
// path a user types does; dlopen(3) alone would search the library path.
TEST_F(PluginTest, APluginNamedWithoutASlashIsTheOneInTheCurrentDirectory) {
  std::filesystem::copy_file(IPCSPEC_PLUGIN_PIPE, dir_ + "/libmine.so");
  Result r = Spawn({"/bin/sh", "-c",
                    absl::StrCat("cd '", dir_, "' && exec '", IPCSPEC_BINARY,
                                 "' list --plugin=libmine.so --transport=plugin_pipe")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("plugin_pipe"));
}

// A run started by relative paths (./ipcspec, ./sub/../libmine.so) prints a
// reproduce command of clean absolute ones, which works from anywhere.
TEST_F(PluginTest, ReproduceCommandOfARunByRelativePathsWorksFromAnotherDirectory) {
  std::filesystem::create_directory(dir_ + "/sub");
  std::filesystem::copy_file(IPCSPEC_PLUGIN_DROP4096, dir_ + "/libmine.so");
  std::filesystem::copy_file(IPCSPEC_BINARY, dir_ + "/ipcspec");
  Result r = Spawn({"/bin/sh", "-c",
                    absl::StrCat("cd '", dir_,
                                 "' && exec ./ipcspec run --plugin=./sub/../libmine.so "
                                 "--transport=plugin_drop4096 --property=G-ORDER")});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  const size_t at = r.out.find("reproduce: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  std::string line = r.out.substr(at + strlen("reproduce: "));
  line = line.substr(0, line.find('\n'));
  EXPECT_THAT(line, ::testing::StartsWith(absl::StrCat(dir_, "/ipcspec run ")));
  EXPECT_THAT(line, HasSubstr(absl::StrCat("--plugin=", dir_, "/libmine.so ")));
  Result again = Spawn({"/bin/sh", "-c", absl::StrCat("cd / && ", line)});
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
  EXPECT_THAT(again.out, HasSubstr("writer 1 sends message 0: 4096 bytes"));
}

TEST_F(PluginTest, SavedFailureReplaysAndAFailingFileShrinks) {
  const std::string saved = dir_ + "/saved";
  Result r = Ipcspec({"run", Plugin(IPCSPEC_PLUGIN_DROP4096), "--transport=plugin_drop4096",
                      "--property=G-ORDER", "--save-failures=" + saved});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string file = saved + "/plugin_drop4096-G-ORDER.scenario";
  // With the plugin, or the replay would not know the transport.
  EXPECT_THAT(r.out,
              HasSubstr(absl::StrCat(" replay --plugin=", IPCSPEC_PLUGIN_DROP4096, " ", file)));
  Result replay = Ipcspec({"replay", Plugin(IPCSPEC_PLUGIN_DROP4096), file});
  EXPECT_EQ(replay.exit_code, 1) << replay.out << replay.err;
  EXPECT_THAT(replay.out, HasSubstr("writer 1 sends message 0: 4096 bytes"));
  EXPECT_THAT(replay.out, HasSubstr("verdict: fail"));

  // A longer failing scenario (as a fuzz crash would be) shrinks to the one
  // step that matters.
  const Scenario big{
      "G-ORDER",
      "plugin_drop4096",
      {Step::Send(1, 10, 0), Step::Send(1, 4096, 1), Step::Send(1, 20, 2), Step::Recv(0, 7)}};
  const std::string in = dir_ + "/big.scenario", out = dir_ + "/min.scenario";
  std::ofstream(in, std::ios::binary) << big.Serialize();
  Result shrunk = Ipcspec({"replay", Plugin(IPCSPEC_PLUGIN_DROP4096), "--shrink=" + out, in});
  EXPECT_EQ(shrunk.exit_code, 1) << shrunk.out << shrunk.err;
  EXPECT_THAT(shrunk.out, HasSubstr("shrunk from 4 steps to 1"));
  absl::StatusOr<Scenario> min = Scenario::Parse(ReadAll(out));
  ASSERT_TRUE(min.ok()) << min.status();
  // Its message is the first sent now, and is numbered so, as the verdict
  // numbers it.
  EXPECT_EQ(min->steps, std::vector<Step>{Step::Send(1, 4096, 0)});
  EXPECT_THAT(shrunk.out, HasSubstr("writer 1 sends message 0: 4096 bytes"));
}

}  // namespace
}  // namespace ipcspec

namespace ipcspec {
namespace {

// Queues of System V owned by `uid` (ipcs -q).
int QueuesOf(uid_t uid) {
  int n = 0;
  for (const SysvObject& q : ListSysv('q')) n += q.uid == uid;
  return n;
}

// Not root, a run's cases have private IPC and mount namespaces too (under a
// user namespace of their own): a plugin that leaks an IPC_PRIVATE queue
// with every channel is caught, and the queues die with the namespace.
TEST_F(PluginTest, NonRootRunCatchesALeakedQueueAndLeavesNoneBehind) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to start the run as another user";
  const std::vector<std::string> as_nobody = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                              "--clear-groups"};
  std::vector<std::string> probe = as_nobody;
  probe.insert(probe.end(), {"/usr/bin/unshare", "-U", "-i", "-m", "true"});
  if (Spawn(probe).exit_code != 0) GTEST_SKIP() << "no unprivileged user namespaces here";
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  const std::string json = dir_ + "/report.json";
  const int before = QueuesOf(65534);
  std::vector<std::string> run = as_nobody;
  run.insert(run.end(), {IPCSPEC_BINARY, "run", Plugin(IPCSPEC_PLUGIN_LEAK_SYSV),
                         "--transport=plugin_leak_sysv", "--property=G-CLEANUP,G-ORDER",
                         "--examples=3", "--json=" + json});
  Result r = Spawn(run);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("SysV message queue"));
  EXPECT_EQ(QueuesOf(65534), before) << "queues left behind";
}

}  // namespace
}  // namespace ipcspec
