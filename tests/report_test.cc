// The report writers on their own: UTF-8 repair, the XML escaper, shell
// quoting that bash reads back byte for byte, and JSON/JUnit/Markdown/SVG
// from results holding every awkward byte, checked by real parsers.
#include "harness/cli/report.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/cli/pages.h"
#include "harness/cli/selection.h"
#include "harness/cli/text.h"
#include "tests/cli_test_util.h"

namespace ipcspec::testing {
namespace {

using ::testing::HasSubstr;

TEST(TextTest, ValidUtf8ReplacesEachBadByte) {
  EXPECT_EQ(ValidUtf8("plain é €"), "plain é €");
  EXPECT_EQ(ValidUtf8("a\xff"), "a\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8("\xc3"), "\xEF\xBF\xBD");                           // cut short
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");           // overlong
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80").substr(0, 3), "\xEF\xBF\xBD");      // a surrogate
  EXPECT_EQ(ValidUtf8("\xf4\x90\x80\x80").substr(0, 3), "\xEF\xBF\xBD");  // past U+10FFFF
  EXPECT_EQ(ValidUtf8("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");           // U+1F600
}

TEST(TextTest, XmlEscapeSpellsOutWhatXmlCannotHold) {
  EXPECT_EQ(XmlEscape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
  EXPECT_EQ(XmlEscape(std::string("\x01\x1b\x00z", 4)), "\\x01\\x1b\\x00z");
  EXPECT_EQ(XmlEscape("tab\tnl\ncr\r"), "tab\tnl\ncr\r");
  EXPECT_EQ(XmlEscape("\xef\xbf\xbe"), "\\ufffe");
  EXPECT_EQ(XmlEscape("\xff"), "\xEF\xBF\xBD");
}

TEST(TextTest, TerminalSafeKeepsLinesAndSpellsOutControls) {
  EXPECT_EQ(TerminalSafe("a\tb\nc"), "a\tb\nc");
  EXPECT_EQ(TerminalSafe("\x1b[31mred\rx\x7f"), "\\x1b[31mred\\x0dx\\x7f");
  EXPECT_EQ(TerminalSafe("\xff"), "\xEF\xBF\xBD");
}

TEST(TextTest, ShellQuoteReadsBackByteForByte) {
  const std::string words[] = {"plain",    "a b",           "it's",      "é€",      "a\x01b",
                               "\xff\xfe", "back\\slash'q", "$HOME `x`", "nl\nend", "\x7f\x1b["};
  for (const std::string& w : words) {
    Ran r = RunCommand({"/bin/bash", "-c", "printf %s " + ShellQuote(w)});
    EXPECT_EQ(r.out, w) << ShellQuote(w);
    for (char c : ShellQuote(w)) {
      if (w.find_first_of("\x01\xff\x7f\n") != std::string::npos) {
        EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "not printable ASCII: " << ShellQuote(w);
      }
    }
  }
  EXPECT_EQ(ShellQuote("--plugin=./lib.so"), "--plugin=./lib.so");
}

TEST(SelectionTest, FiltersIncludeThenExclude) {
  EXPECT_TRUE(FilterMatches("*", "G-ORDER"));
  EXPECT_TRUE(FilterMatches("G-*,-G-TIMEOUT", "G-ORDER"));
  EXPECT_FALSE(FilterMatches("G-*,-G-TIMEOUT", "G-TIMEOUT"));
  EXPECT_FALSE(FilterMatches("G-*,-G-TIMEOUT", "PIPE-EOF"));
  EXPECT_TRUE(FilterMatches("-G-*", "PIPE-EOF"));
  EXPECT_FALSE(FilterMatches("-G-*", "G-EOF"));
  EXPECT_EQ(PropertyFamily("G-MULTI-WRITER"), "G");
  EXPECT_EQ(PropertyFamily("SYSV-MSG-FIFO"), "SYSV-MSG");
  EXPECT_EQ(PropertyFamily("POSIX-MQ-EAGAIN"), "POSIX-MQ");
  EXPECT_EQ(PropertyFamily("PIPE-EOF"), "PIPE");
}

class ReportTest : public CliFixture {
 protected:
  RunReport Nasty() {
    static const char kBytes[] = "odd \x01\x02\x1b[0m <&>\"' \xff\xfe\xc3 \0 end";
    const std::string bytes(kBytes, sizeof kBytes - 1);
    RunReport r;
    r.version = "0.1.0";
    r.seed = 18446744073709551615ULL;  // rounds in a double: must be a string
    r.planned = 4;
    auto add = [&](Outcome o, std::string transport) {
      ReportEntry e;
      e.result.transport = transport;
      e.result.property = "G-ORDER";
      e.result.outcome = o;
      e.result.message =
          o == Outcome::kLeaked ? "left behind: /dev/shm/x, SysV message queue id 3" : bytes;
      e.result.counterexample = "\n  1. writer 1 sends " + bytes + "\n  2. reader receives\n";
      e.result.output = bytes;
      e.reproduce_command = IsFailure(o) ? "ipcspec run --plugin=" + ShellQuote(bytes) : "";
      e.seed = r.seed;
      r.results.push_back(e);
    };
    add(Outcome::kFail, "t\x01\xff");
    add(Outcome::kCrashed, "t2");
    add(Outcome::kLeaked, "t2");
    add(Outcome::kUnsupported, "t3");
    r.not_applicable.push_back({"t3", "G-BOUNDARY", "excluded by capability framing=stream"});
    return r;
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    EXPECT_TRUE(WriteFileAtomically(path, text).ok());
    return path;
  }
};

TEST_F(ReportTest, JsonParsesValidatesAndKeepsTheSeedExact) {
  const RunReport r = Nasty();
  const std::string path = Write("r.json", ToJson(r));
  EXPECT_EQ(CheckJsonReport(path), "");
  const nlohmann::json j = testing::ReadJson(path);
  EXPECT_EQ(j["seed"], "18446744073709551615");
  EXPECT_EQ(j["results"][0]["steps"].size(), 2u);
  EXPECT_EQ(j["results"][2]["leaks"], nlohmann::json({"/dev/shm/x", "SysV message queue id 3"}));
  EXPECT_EQ(j["summary"]["failed"], 1);
  EXPECT_EQ(j["summary"]["errors"], 2);
  EXPECT_EQ(j["summary"]["unsupported"], 1);
}

TEST_F(ReportTest, JunitIsTheDialectCiReads) {
  const std::string path = Write("r.xml", ToJunit(Nasty()));
  EXPECT_EQ(CheckXml(path), "");
  const std::string x = testing::ReadFileOrEmpty(path);
  EXPECT_THAT(x, HasSubstr("failures=\"1\" errors=\"2\" skipped=\"1\""));
  EXPECT_THAT(x, HasSubstr("<failure type=\"fail\""));
  EXPECT_THAT(x, HasSubstr("<error type=\"crashed\""));
  EXPECT_THAT(x, HasSubstr("<error type=\"leaked\""));
  EXPECT_THAT(x, HasSubstr("<skipped message=\"unsupported: "));
  EXPECT_THAT(x, HasSubstr("<system-out>odd \\x01\\x02\\x1b[0m &lt;&amp;&gt;"));
  EXPECT_THAT(x, HasSubstr("<property name=\"seed\" value=\"18446744073709551615\"/>"));
  EXPECT_THAT(x, HasSubstr("<property name=\"shard\" value=\"0/1\"/>"));
  EXPECT_THAT(x, ::testing::Not(HasSubstr("G-BOUNDARY")));  // does not apply: left out
  // The reproduce command reads back from the XML exactly as written.
  Ran py = RunCommand({testing::Python(), "-c",
                       "import sys, xml.etree.ElementTree as ET\n"
                       "t = ET.parse(sys.argv[1]).find('.//failure').text\n"
                       "sys.stdout.write([l for l in t.splitlines() if "
                       "l.startswith('reproduce: ')][0][11:])\n",
                       path});
  EXPECT_EQ(py.out, Nasty().results[0].reproduce_command);
}

TEST_F(ReportTest, PagesParseToo) {
  EXPECT_EQ(CheckXml(Write("m.svg", MatrixSvg(Nasty()))), "");
  const std::string md = SummaryMarkdown(Nasty());
  EXPECT_THAT(md, HasSubstr("## ipcspec: 0 passed, 1 failed, 2 errors, 1 unsupported"));
  EXPECT_THAT(md, HasSubstr("```sh\n  ipcspec run --plugin=$'odd \\x01"));
  EXPECT_EQ(md.find('\x01'), std::string::npos);
  EXPECT_EQ(ValidUtf8(md), md);
}

TEST_F(ReportTest, WriteFileAtomicallyReplacesWholeAndNamesTheError) {
  const std::string path = Write("f", "one");
  ASSERT_TRUE(WriteFileAtomically(path, "two").ok());
  EXPECT_EQ(testing::ReadFileOrEmpty(path), "two");
  absl::Status s = WriteFileAtomically("/nonexistent-dir/f", "x");
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent-dir/f)"));  // the user's path
  EXPECT_THAT(std::string(s.message()), HasSubstr("ENOENT"));
}

TEST_F(ReportTest, WriteFileAtomicallyNeverReplacesWhatIsNotARegularFile) {
  // A FIFO (as /dev/stdout or /dev/null would be) is written through and
  // stays a FIFO; a symbolic link stays a link, its target replaced.
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  FileDescriptor reader(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(reader);
  EXPECT_TRUE(WritesThrough(fifo));
  ASSERT_TRUE(WriteFileAtomically(fifo, "through").ok());
  char buf[16] = {};
  EXPECT_EQ(::read(reader.get(), buf, sizeof buf), 7);
  EXPECT_EQ(std::string(buf), "through");
  struct stat st;
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));

  const std::string target = Write("target", "old"), link = dir_ + "/link";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_FALSE(WritesThrough(link));
  ASSERT_TRUE(WriteFileAtomically(link, "new").ok());
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(testing::ReadFileOrEmpty(target), "new");

  const std::string dangling = dir_ + "/dangling";
  ASSERT_EQ(::symlink((dir_ + "/made").c_str(), dangling.c_str()), 0);
  ASSERT_TRUE(WriteFileAtomically(dangling, "made").ok());
  EXPECT_EQ(testing::ReadFileOrEmpty(dir_ + "/made"), "made");
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    EXPECT_THAT(e.path().string(), Not(HasSubstr(".tmp-")));
  }
  EXPECT_THAT(std::string(WriteFileAtomically(dir_, "x").message()), HasSubstr("is a directory"));
}

}  // namespace
}  // namespace ipcspec::testing
