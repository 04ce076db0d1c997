// Reports that survive: valid whatever bytes a plugin's path and output
// hold, whole after a SIGTERM halfway through a run, nothing left in TMPDIR
// after a SIGKILL, and a CI log with no
// row for a pair that does not apply, ending with the list of failures.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/inventory.h"
#include "tests/cli_test_util.h"

namespace ipcspec::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliReportTest : public CliFixture {};

// Reads the run's output into *log until `pairs` finished pairs were
// printed ("[2/6] pipe G-EOF pass ..."); false if the output ended first.
bool ReadUntilPairsFinished(FILE* out, int pairs, std::string* log) {
  char line[4096];
  for (int finished = 0; finished < pairs;) {
    if (::fgets(line, sizeof line, out) == nullptr) return false;
    *log += line;
    if (line[0] == '[') ++finished;
  }
  return true;
}

// Reads the rest of the run's output into *log, then reaps it: its status.
int DrainAndReap(const Started& c, std::string* log) {
  char line[4096];
  while (::fgets(line, sizeof line, c.out) != nullptr) *log += line;
  ::fclose(c.out);
  int status = 0;
  return ::waitpid(c.pid, &status, 0) == c.pid ? status : -1;
}

TEST_F(CliReportTest, ReportsStayValidForInvalidUtf8AndControlBytes) {
  // A plugin whose path holds bytes that are not UTF-8 and control bytes,
  // and whose send() prints such bytes into the case output.
  const std::string odd_dir = dir_ + "/bad-\xff\x01-dir";
  const std::string plugin = odd_dir + "/lib\xfe\x02noisy'.so";
  ASSERT_TRUE(std::filesystem::create_directory(odd_dir));
  std::filesystem::copy_file(IPCSPEC_PLUGIN_NOISY, plugin);
  const std::string json = dir_ + "/r.json", xml = dir_ + "/r.xml", md = dir_ + "/s.md",
                    svg = dir_ + "/m.svg";
  Ran r = Ipcspec({"run", "--plugin=" + plugin, "--transport=plugin_noisy", "--property=G-ORDER",
                   "--json=" + json, "--junit=" + xml, "--summary-md=" + md,
                   "--format=matrix-svg=" + svg});
  ASSERT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(CheckXml(xml), "");
  EXPECT_EQ(CheckXml(svg), "");
  EXPECT_EQ(CheckJsonReport(json), "");

  const nlohmann::json j = ReadJson(json);
  ASSERT_EQ(j["results"].size(), 1u);
  const std::string output = j["results"][0]["output"];
  EXPECT_THAT(output, HasSubstr("noisy: \x01\x02\x1b[31m <&>\"'"));  // controls kept, escaped
  EXPECT_THAT(output, HasSubstr("\xEF\xBF\xBD"));                    // bad bytes: U+FFFD
  const std::string xml_text = ReadFileOrEmpty(xml);
  EXPECT_THAT(xml_text, HasSubstr("<failure type=\"fail\""));
  EXPECT_THAT(xml_text, HasSubstr("<system-out>noisy: \\x01\\x02\\x1b[31m &lt;&amp;&gt;"));

  // The reproduce command names the plugin exactly, in the JSON and in the
  // JUnit file (read by a real XML parser): both replay the failure.
  const std::string from_json = j["results"][0]["reproduce"];
  Ran again = RunCommand({"/bin/bash", "-c", from_json.substr(0, from_json.find('\n'))});
  EXPECT_EQ(again.exit_code, 1) << from_json << "\n" << again.out;
  Ran from_xml = RunCommand(
      {Python(), "-c",
       "import sys, xml.etree.ElementTree as ET\n"
       "f = ET.parse(sys.argv[1]).find('.//failure')\n"
       "print([l for l in f.text.splitlines() if l.startswith('reproduce: ')][0][11:])\n",
       xml});
  ASSERT_EQ(from_xml.exit_code, 0) << from_xml.out;
  EXPECT_EQ(from_xml.out, from_json + "\n");
}

TEST_F(CliReportTest, SigtermHalfwayLeavesValidReportsWithTheFinishedProperties) {
  // Orphans of the run (cases, the fork server) would come back to us.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const std::string json = dir_ + "/r.json", xml = dir_ + "/r.xml", tmp = dir_ + "/tmp";
  ASSERT_TRUE(std::filesystem::create_directory(tmp));
  const Started c =
      StartCommand({IPCSPEC_BINARY, "run", "--transport=pipe",
                    "--property=G-ORDER,G-INTEGRITY,G-EOF,G-DIRECTION,G-PEER-GONE,G-FORK",
                    "--examples=25", "--json=" + json, "--junit=" + xml},
                   {"CI=true", "TMPDIR=" + tmp});
  ASSERT_GT(c.pid, 0);
  std::string log;
  ASSERT_TRUE(ReadUntilPairsFinished(c.out, 2, &log)) << log;
  // A finished property's line is printed after the reports hold it; the run
  // goes on meanwhile, so a third may be there too.
  EXPECT_GE(ReadJson(json)["results"].size(), 2u);
  ASSERT_EQ(::kill(c.pid, SIGTERM), 0);
  const int status = DrainAndReap(c, &log);
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 143) << log;

  EXPECT_EQ(CheckJsonReport(json), "");
  EXPECT_EQ(CheckXml(xml), "");
  const nlohmann::json j = ReadJson(json);
  EXPECT_GE(j["results"].size(), 2u);
  EXPECT_LT(j["results"].size(), 6u) << "the run should have stopped early";
  EXPECT_EQ(j["complete"], false);
  EXPECT_EQ(j["stopped_by"], "SIGTERM");
  EXPECT_EQ(j["summary"]["not_run"].get<size_t>(), 6 - j["results"].size());
  EXPECT_THAT(log, HasSubstr("stopped by SIGTERM"));
  EXPECT_THAT(ReadFileOrEmpty(xml), HasSubstr("<property name=\"complete\" value=\"false\"/>"));
  for (pid_t orphan : ChildrenOfSelf()) ADD_FAILURE() << "left running: " << CommOf(orphan);
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    EXPECT_THAT(e.path().string(), Not(HasSubstr(".tmp-"))) << "a temporary report was left";
  }
  // The workers were SIGKILLed; their fork servers' directories go all the same.
  for (const auto& e : std::filesystem::directory_iterator(tmp)) {
    ADD_FAILURE() << "left in TMPDIR: " << e.path();
  }
}

TEST_F(CliReportTest, SigtermTwiceToTheGroupAsTimeoutSendsItStillWritesTheReports) {
  // coreutils' timeout sends SIGTERM to the run, then to its whole process
  // group (workers and fork servers too): the run must still stop as after
  // one, with its reports written, and no pair blamed for the workers.
  if (::access("/usr/bin/setsid", X_OK) != 0) GTEST_SKIP() << "no setsid";
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const std::string json = dir_ + "/r.json", tmp = dir_ + "/tmp";
  ASSERT_TRUE(std::filesystem::create_directory(tmp));
  ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
  const Started c =
      StartCommand({"/usr/bin/setsid", IPCSPEC_BINARY, "run", "--transport=pipe,fifo",
                    "--property=G-ORDER,G-INTEGRITY,G-EOF,G-DIRECTION,G-PEER-GONE,G-FORK",
                    "--examples=25", "--jobs=2", "--json=" + json},
                   {"CI=true", "TMPDIR=" + tmp});
  ASSERT_GT(c.pid, 0);
  std::string log;
  ASSERT_TRUE(ReadUntilPairsFinished(c.out, 1, &log)) << log;
  ASSERT_EQ(::kill(c.pid, SIGTERM), 0);
  ASSERT_EQ(::kill(-c.pid, SIGTERM), 0);  // setsid made it a group leader
  int status = DrainAndReap(c, &log);
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 143) << log;
  EXPECT_EQ(CheckJsonReport(json), "");
  const nlohmann::json j = ReadJson(json);
  EXPECT_EQ(j["stopped_by"], "SIGTERM");
  for (const nlohmann::json& r : j["results"]) EXPECT_EQ(r["outcome"], "pass") << r;
  EXPECT_THAT(log, HasSubstr("stopped by SIGTERM"));
  while (::waitpid(-1, &status, 0) > 0) {
  }
  for (const auto& e : std::filesystem::directory_iterator(tmp)) {
    ADD_FAILURE() << "left in TMPDIR: " << e.path();
  }
}

TEST_F(CliReportTest, OutputClosedByItsReaderStopsTheRunWithItsReports) {
  // `ipcspec run | head -2`: SIGPIPE stops the run as SIGTERM would.
  const std::string json = dir_ + "/r.json";
  const Started c = StartCommand(
      {IPCSPEC_BINARY, "run", "--transport=pipe,fifo",
       "--property=G-ORDER,G-INTEGRITY,G-EOF,G-DIRECTION", "--examples=25", "--json=" + json},
      {"CI=true"});
  ASSERT_GT(c.pid, 0);
  char line[4096];
  ASSERT_NE(::fgets(line, sizeof line, c.out), nullptr);
  ::fclose(c.out);
  int status = 0;
  ASSERT_EQ(::waitpid(c.pid, &status, 0), c.pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 141);
  EXPECT_EQ(CheckJsonReport(json), "");
  EXPECT_EQ(ReadJson(json)["stopped_by"], "SIGPIPE");
}

// Starts a run under `prefix` with TMPDIR=`tmp`, SIGKILLs it (with its
// whole process group, as `timeout -s KILL` does, if `group`) once a pair
// has finished, reaps it and every orphan it left (workers, fork servers,
// cases), and returns what is left in `tmp`.
std::vector<std::string> LeftAfterSigkill(const std::vector<std::string>& prefix,
                                          const std::string& tmp, bool group = false) {
  std::vector<std::string> left;
  // Orphans of the run come back to this process.
  EXPECT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  std::vector<std::string> argv = prefix;
  argv.insert(argv.end(),
              {IPCSPEC_BINARY, "run", "--transport=pipe,socketpair_stream,fifo",
               "--property=G-ORDER,G-INTEGRITY,G-EOF,G-DIRECTION", "--examples=40", "--jobs=2"});
  const Started c = StartCommand(argv, {"CI=true", "TMPDIR=" + tmp});
  EXPECT_GT(c.pid, 0);
  if (c.pid <= 0) return left;
  std::string log;
  // A pair finished: the servers are serving.
  EXPECT_TRUE(ReadUntilPairsFinished(c.out, 1, &log)) << log;
  EXPECT_THAT(log, HasSubstr(" pass ")) << "the first pair did not pass";
  EXPECT_EQ(::kill(group ? -c.pid : c.pid, SIGKILL), 0);
  ::fclose(c.out);
  int status = 0;
  EXPECT_EQ(::waitpid(c.pid, &status, 0), c.pid);
  EXPECT_TRUE(WIFSIGNALED(status)) << log;
  // Reaped: then every one of them has ended.
  while (::waitpid(-1, &status, 0) > 0) {
  }
  for (const auto& e : std::filesystem::directory_iterator(tmp)) left.push_back(e.path());
  return left;
}

TEST_F(CliReportTest, SigkillOfTheRunLeavesNothingInTmpdir) {
  // As root a fork server's cases run in a tmpfs mounted on a directory the
  // run made in TMPDIR; a SIGKILLed run cannot remove it, so its servers do.
  const std::string tmp = dir_ + "/tmp";
  ASSERT_TRUE(std::filesystem::create_directory(tmp));
  ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);  // else the run goes to /tmp (next test)
  EXPECT_THAT(LeftAfterSigkill({}, tmp), ::testing::IsEmpty());
}

TEST_F(CliReportTest, SigkillOfTheRunsProcessGroupLeavesNothingInTmpdir) {
  // `timeout -s KILL`: the fork servers are in groups of their own, outlive
  // the run and its workers, and clean up as above.
  const std::string tmp = dir_ + "/tmp";
  ASSERT_TRUE(std::filesystem::create_directory(tmp));
  ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
  if (::access("/usr/bin/setsid", X_OK) != 0) GTEST_SKIP() << "no setsid";
  // setsid makes the run a group leader, as timeout does
  EXPECT_THAT(LeftAfterSigkill({"/usr/bin/setsid"}, tmp, /*group=*/true), ::testing::IsEmpty());
}

TEST_F(CliReportTest, CasesWithAUserOfTheirOwnReachTheirScratchWhateverTmpdirIs) {
  // TMPDIR inside a directory only root may search: a case that runs as a
  // user of its own could not reach a scratch directory made there (mkfifo
  // gave EACCES), so the run makes its directories in /tmp instead.
  if (::geteuid() != 0) GTEST_SKIP() << "cases run as a user of their own only under root";
  const std::string tmp = dir_ + "/tmp";
  ASSERT_TRUE(std::filesystem::create_directory(tmp));
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  for (const char* jobs : {"--jobs=1", "--jobs=2"}) {
    Ran r = RunCommand({IPCSPEC_BINARY, "run", "--transport=fifo,unix_stream", "--property=G-ORDER",
                        "--examples=5", jobs},
                       {"CI=true", "TMPDIR=" + tmp});
    EXPECT_EQ(r.exit_code, 0) << r.out;
  }
  EXPECT_TRUE(std::filesystem::is_empty(tmp));
}

TEST_F(CliReportTest, SigkillOfAnUnprivilegedRunLeavesNothingInTmpdir) {
  // Without the namespaces each case's scratch directory is in TMPDIR: the
  // orphaned servers end their cases, which removes them.
  if (::geteuid() != 0 || ::access("/usr/bin/setpriv", X_OK) != 0) {
    GTEST_SKIP() << "needs root and setpriv to run the command as another user";
  }
  const std::string tmp = dir_ + "/tmp";
  ASSERT_TRUE(std::filesystem::create_directory(tmp));
  ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
  ASSERT_EQ(::chmod(tmp.c_str(), 0777), 0);
  EXPECT_THAT(LeftAfterSigkill(
                  {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, tmp),
              ::testing::IsEmpty());
}

TEST_F(CliReportTest, CiLogHasNoRowForPairsThatDoNotApplyAndEndsWithTheFailures) {
  const std::string json = dir_ + "/r.json";
  Ran r = Ipcspec({"run", absl::StrCat("--plugin=", IPCSPEC_PLUGIN_DROP4096),
                   absl::StrCat("--plugin=", IPCSPEC_PLUGIN_PIPE), "--transport=pipe,plugin_*",
                   "--property=G-ORDER,G-BOUNDARY,FIFO-RDWR,PIPE-PARTIAL-CLOSED", "--examples=5",
                   "--json=" + json},
                  {"CI=true"});
  ASSERT_EQ(r.exit_code, 1) << r.out;
  const nlohmann::json j = ReadJson(json);
  std::vector<std::string> rows;
  for (absl::string_view l : absl::StrSplit(r.out, '\n')) {
    if (std::regex_search(std::string(l), std::regex("^\\[ ?[0-9]+/[0-9]+\\] "))) {
      rows.emplace_back(l);
    }
  }
  EXPECT_EQ(rows.size(), j["results"].size()) << r.out;
  EXPECT_EQ(rows.size(), 4u) << r.out;  // pipe x 2, and G-ORDER on each plugin
  for (const std::string& row : rows) {
    EXPECT_THAT(row, Not(HasSubstr("FIFO-RDWR")));
    EXPECT_THAT(row, Not(HasSubstr("G-BOUNDARY")));
    EXPECT_THAT(row, Not(HasSubstr("skipped")));
    EXPECT_EQ(row.find(" pass ") == std::string::npos ? row.find(" fail ") : row.find(" pass "),
              rows[0].find(" pass "))
        << "columns do not line up for 19-character IDs:\n"
        << r.out;
  }
  EXPECT_THAT(r.out, HasSubstr("8 not applicable"));
  EXPECT_THAT(r.out, Not(HasSubstr(" 1 examples")));
  EXPECT_THAT(r.out, Not(HasSubstr(" 1 steps")));
  // The one-line list precedes the details, and the log ends with it again.
  const size_t list = r.out.find("1 failure:\n  fail    G-ORDER");
  const size_t detail = r.out.find("minimal counterexample:");
  ASSERT_NE(list, std::string::npos) << r.out;
  EXPECT_LT(list, detail);
  std::string tail = r.out.substr(0, r.out.find_last_not_of('\n') + 1);
  tail = tail.substr(tail.rfind('\n') + 1);
  EXPECT_EQ(tail, "[  FAILED  ] plugin_drop4096.G-ORDER (fail, seed 1)") << r.out;
}

}  // namespace
}  // namespace ipcspec::testing
