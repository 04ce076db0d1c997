#include "harness/cli/report.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "harness/cli/text.h"
#include "nlohmann/json.hpp"

namespace ipcspec {
namespace {

using Json = nlohmann::ordered_json;

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> out;
  for (absl::string_view l : absl::StrSplit(std::string(text), '\n', absl::SkipEmpty()))
    out.emplace_back(l);
  return out;
}

Json EntryJson(const ReportEntry& e) {
  const PropertyResult& p = e.result;
  Json j;
  j["transport"] = p.transport;
  j["property"] = p.property;
  j["outcome"] = std::string(OutcomeName(p.outcome));
  j["seed"] = std::to_string(e.seed);
  j["iteration"] = e.iteration;
  j["examples"] = p.examples;
  j["shrinks"] = p.shrinks;
  j["shrinking_stopped"] = p.shrinking_stopped;
  j["duration_ms"] = absl::ToInt64Milliseconds(p.duration);
  j["message"] = p.message;
  j["counterexample"] = p.counterexample;
  j["steps"] = Lines(p.counterexample);
  j["leaks"] = LeaksOf(p);
  j["output"] = p.output;
  j["reproduce"] = e.reproduce_command;
  j["reproduce_string"] = p.reproduce;
  return j;
}

// time="1.234" in seconds, as every JUnit reader expects.
std::string Seconds(absl::Duration d) { return absl::StrFormat("%.3f", absl::ToDoubleSeconds(d)); }

std::string Attr(std::string_view name, std::string_view value) {
  return absl::StrFormat(" %s=\"%s\"", name, XmlEscape(value));
}

std::string TestCase(const ReportEntry& e) {
  const PropertyResult& p = e.result;
  std::string name = p.property;
  if (e.iteration > 1) absl::StrAppend(&name, " (repeat ", e.iteration, ")");
  std::string out = absl::StrCat("    <testcase", Attr("classname", "ipcspec." + p.transport),
                                 Attr("name", name), Attr("time", Seconds(p.duration)), ">\n");
  if (IsFailure(p.outcome)) {
    std::string body = absl::StrCat(
        p.shrinking_stopped ? "(its shrinking stopped at --shrink-time: not minimal)\n" : "",
        p.counterexample, "seed: ", e.seed, "\n");
    if (!e.reproduce_command.empty())
      absl::StrAppend(&body, "reproduce: ", e.reproduce_command, "\n");
    absl::StrAppend(&out, "      <", IsAssertionFailure(p.outcome) ? "failure" : "error",
                    Attr("type", OutcomeName(p.outcome)), Attr("message", p.message), ">",
                    XmlEscape(body), "</", IsAssertionFailure(p.outcome) ? "failure" : "error",
                    ">\n");
  } else if (p.outcome == Outcome::kUnsupported) {
    absl::StrAppend(&out, "      <skipped", Attr("message", "unsupported: " + p.message), "/>\n");
  }
  if (!p.output.empty()) {
    absl::StrAppend(&out, "      <system-out>", XmlEscape(p.output), "</system-out>\n");
  }
  return out + "    </testcase>\n";
}

}  // namespace

bool IsFailure(Outcome o) {
  return o == Outcome::kFail || o == Outcome::kCrashed || o == Outcome::kTimeout ||
         o == Outcome::kBroken || o == Outcome::kLeaked;
}

bool IsAssertionFailure(Outcome o) { return o == Outcome::kFail; }

Counts CountOutcomes(const RunReport& r) {
  Counts c;
  for (const ReportEntry& e : r.results) {
    const Outcome o = e.result.outcome;
    if (o == Outcome::kPass) {
      ++c.passed;
    } else if (IsAssertionFailure(o)) {
      ++c.failed;
    } else if (IsFailure(o)) {
      ++c.errors;
    } else {
      ++c.unsupported;
    }
  }
  return c;
}

std::vector<std::string> LeaksOf(const PropertyResult& r) {
  std::vector<std::string> out;
  if (r.outcome != Outcome::kLeaked) return out;
  constexpr std::string_view kPrefix = "left behind: ";
  const size_t at = r.message.find(kPrefix);
  if (at == std::string::npos) return out;
  std::string_view rest = std::string_view(r.message).substr(at + kPrefix.size());
  rest = rest.substr(0, rest.find('\n'));
  for (absl::string_view l : absl::StrSplit(std::string(rest), ", ", absl::SkipEmpty()))
    out.emplace_back(l);
  return out;
}

std::string DescribeSettings(const RunSettingsPrint& p) {
  std::string out = absl::StrCat(
      "--examples=", p.examples == 0 ? "default" : std::to_string(p.examples),
      " --repeat=", p.repeat, " --transport=", p.transports, " --property=", p.properties);
  for (const std::string& pl : p.plugins) absl::StrAppend(&out, " --plugin=", pl);
  for (const std::string& f : p.flags) absl::StrAppend(&out, " ", f);
  return out;
}

std::string ToJson(const RunReport& r) {
  Json j;
  j["schema"] = kReportSchema;
  j["ipcspec_version"] = r.version;
  j["seed"] = std::to_string(r.seed);
  j["shard"] = {{"index", r.shard_index},
                {"total", r.shard_total},
                {"run_planned", std::max(r.run_planned, r.planned)}};
  if (r.settings) {
    j["settings"] = {{"examples", r.settings->examples},     {"repeat", r.settings->repeat},
                     {"transports", r.settings->transports}, {"properties", r.settings->properties},
                     {"plugins", r.settings->plugins},       {"flags", r.settings->flags}};
  }
  j["complete"] = r.complete;
  j["stopped_by"] = r.stopped_by.empty() ? Json() : Json(r.stopped_by);
  j["elapsed_ms"] = absl::ToInt64Milliseconds(r.elapsed);
  j["planned"] = r.planned;
  j["results"] = Json::array();
  for (const ReportEntry& e : r.results) j["results"].push_back(EntryJson(e));
  j["not_applicable"] = Json::array();
  for (const NotApplicable& n : r.not_applicable) {
    j["not_applicable"].push_back(
        {{"transport", n.transport}, {"property", n.property}, {"reason", n.reason}});
  }
  const Counts c = CountOutcomes(r);
  j["summary"] = {{"passed", c.passed},
                  {"failed", c.failed},
                  {"errors", c.errors},
                  {"unsupported", c.unsupported},
                  {"not_applicable", r.not_applicable.size()},
                  {"not_run", r.planned - std::min(r.planned, r.results.size())}};
  return j.dump(2, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
}

std::string ToJunit(const RunReport& r) {
  std::map<std::string, std::vector<const ReportEntry*>> by_transport;
  for (const ReportEntry& e : r.results) by_transport[e.result.transport].push_back(&e);
  const std::string properties =
      absl::StrCat("    <properties>\n      <property name=\"seed\"",
                   Attr("value", std::to_string(r.seed)), "/>\n      <property name=\"shard\"",
                   Attr("value", absl::StrCat(r.shard_index, "/", r.shard_total)),
                   "/>\n      <property name=\"ipcspec_version\"", Attr("value", r.version),
                   "/>\n      <property name=\"complete\"",
                   Attr("value", r.complete ? "true" : "false"), "/>\n    </properties>\n");
  std::string suites;
  Counts all;
  for (const auto& [transport, entries] : by_transport) {
    RunReport one;
    absl::Duration time;
    std::string cases;
    for (const ReportEntry* e : entries) {
      one.results.push_back(*e);
      time += e->result.duration;
      cases += TestCase(*e);
    }
    const Counts c = CountOutcomes(one);
    all.failed += c.failed, all.errors += c.errors, all.unsupported += c.unsupported;
    absl::StrAppend(
        &suites, "  <testsuite", Attr("name", "ipcspec." + transport),
        Attr("tests", std::to_string(entries.size())), Attr("failures", std::to_string(c.failed)),
        Attr("errors", std::to_string(c.errors)), Attr("skipped", std::to_string(c.unsupported)),
        Attr("time", Seconds(time)), ">\n", properties, cases, "  </testsuite>\n");
  }
  return absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", Attr("name", "ipcspec"),
      Attr("tests", std::to_string(r.results.size())), Attr("failures", std::to_string(all.failed)),
      Attr("errors", std::to_string(all.errors)), Attr("skipped", std::to_string(all.unsupported)),
      Attr("time", Seconds(r.elapsed)), ">\n", suites, "</testsuites>\n");
}

namespace {

// Opens `path` with `flags` (and O_WRONLY, O_CREAT) and writes `contents`.
absl::Status WriteOpened(const std::string& path, int flags, const std::string& contents) {
  FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644));
  if (!fd) return ErrnoStatus("open", path);
  if (int rc = WriteFull(fd.get(), contents.data(), contents.size()); rc != 0) {
    return ErrnoStatus("write", path, -rc);
  }
  return absl::OkStatus();
}

}  // namespace

bool WritesThrough(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

absl::Status AppendToFile(const std::string& path, const std::string& contents) {
  return WriteOpened(path, O_APPEND, contents);
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  // A symbolic link stays one: its target is what gets replaced. What is
  // not a regular file (/dev/null, /dev/stdout, a FIFO) is written through,
  // never replaced by one.
  std::string target = path;
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (real == nullptr) return WriteOpened(path, O_TRUNC, contents);  // dangling: made through it
    target = real;
    std::free(real);
  }
  if (std::error_code ec; std::filesystem::is_directory(target, ec)) {
    return absl::FailedPreconditionError(path + ": is a directory");
  }
  if (WritesThrough(target)) return WriteOpened(target, O_TRUNC, contents);
  const std::string tmp = absl::StrCat(target, ".tmp-", ::getpid());
  FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return ErrnoStatus("open", path);
  if (int rc = WriteFull(fd.get(), contents.data(), contents.size()); rc != 0) {
    ::unlink(tmp.c_str());
    return ErrnoStatus("write", path, -rc);
  }
  fd.reset();
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus("rename", path, err);
  }
  return absl::OkStatus();
}

}  // namespace ipcspec
