#include "harness/cli/cli.h"

#include <fnmatch.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "fuzz/fuzz_decode.h"
#include "harness/cli/plugin_loader.h"
#include "harness/cli/report.h"
#include "ipcspec/engine.h"
#include "ipcspec/registry.h"

namespace ipcspec {
namespace {

constexpr char kUsage[] =
    "usage: ipcspec list [--format=text|json|markdown] [--plugin=PATH]...\n"
    "       ipcspec run [--transport=GLOB[,GLOB]] [--property=GLOB[,GLOB]] [--examples=N]\n"
    "                   [--seed=N|random] [--timeout=DURATION] [--junit=PATH] [--json=PATH]\n"
    "                   [--plugin=PATH]... [--reproduce=STRING] [--save-failures=DIR]\n"
    "                   [--jobs=N] [--time-unit=DURATION] [--hang-grace=DURATION]\n"
    "       ipcspec replay [--timeout=DURATION] [--plugin=PATH]... [--target=NAME] [--shrink=OUT] "
    "FILE\n"
    "Sharding follows GoogleTest: GTEST_TOTAL_SHARDS, GTEST_SHARD_INDEX, GTEST_SHARD_STATUS_FILE.\n"
    "Exit status: 0 all passed, 1 a property failed, 2 usage or set-up error.\n";

struct UsageError {
  std::string message;
};

struct Flags {
  std::map<std::string, std::string> values;
  std::vector<std::string> plugins;
  std::vector<std::string> positional;
};

// Parses --name=value flags; every name must be in `known`.
Flags ParseFlags(int argc, char** argv, int first, const std::vector<std::string>& known) {
  Flags f;
  for (int i = first; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.substr(0, 2) != "--") {
      f.positional.emplace_back(arg);
      continue;
    }
    std::string name(arg.substr(2)), value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      throw UsageError{absl::StrCat("unknown flag --", name)};
    }
    if (!has_value) throw UsageError{absl::StrCat("--", name, " needs a value: --", name, "=...")};
    if (name == "plugin") {
      f.plugins.push_back(value);
    } else {
      f.values[name] = value;
    }
  }
  return f;
}

bool GlobMatch(const std::string& globs, std::string_view name) {
  for (absl::string_view g : absl::StrSplit(globs, ',')) {
    if (::fnmatch(std::string(g).c_str(), std::string(name).c_str(), 0) == 0) return true;
  }
  return false;
}

void CheckEveryGlobMatches(const std::string& globs, const std::vector<std::string>& names,
                           std::string_view what) {
  for (absl::string_view g : absl::StrSplit(globs, ',')) {
    bool any = false;
    for (const std::string& n : names) {
      any = any || ::fnmatch(std::string(g).c_str(), n.c_str(), 0) == 0;
    }
    if (!any) {
      throw UsageError{absl::StrFormat("unknown %s '%s'; known: %s", what, std::string(g),
                                       absl::StrJoin(names, ", "))};
    }
  }
}

int64_t ParseInt(const Flags& f, const std::string& name, int64_t fallback, int64_t min,
                 int64_t max) {
  auto it = f.values.find(name);
  if (it == f.values.end()) return fallback;
  int64_t v;
  if (!absl::SimpleAtoi(it->second, &v) || v < min || v > max) {
    throw UsageError{absl::StrFormat("--%s=%s: expected a whole number from %d to %d", name,
                                     it->second, min, max)};
  }
  return v;
}

absl::Duration ParseTimeout(const Flags& f) {
  auto it = f.values.find("timeout");
  if (it == f.values.end()) return absl::Seconds(10);
  absl::Duration d;
  if (!absl::ParseDuration(it->second, &d) || d <= absl::ZeroDuration() || d > absl::Hours(1)) {
    throw UsageError{
        absl::StrFormat("--timeout=%s: expected a duration such as 500ms, 10s or 2m", it->second)};
  }
  return d;
}

// --time-unit and --hang-grace: a positive duration up to a minute.
absl::Duration ParseDurationFlag(const Flags& f, const std::string& name, absl::Duration fallback) {
  auto it = f.values.find(name);
  if (it == f.values.end()) return fallback;
  absl::Duration d;
  if (!absl::ParseDuration(it->second, &d) || d <= absl::ZeroDuration() || d > absl::Minutes(1)) {
    throw UsageError{absl::StrFormat("--%s=%s: expected a duration such as 10ms, 500ms or 2s", name,
                                     it->second)};
  }
  return d;
}

// --jobs: pairs in flight at once; by default one per CPU this process may use.
int ParseJobs(const Flags& f) {
  cpu_set_t set;
  const int cpus = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  return static_cast<int>(ParseInt(f, "jobs", std::max(cpus, 1), 1, 256));
}

void LoadPlugins(const Flags& f) {
  for (const std::string& path : f.plugins) {
    absl::Status s = LoadPlugin(path);
    if (!s.ok()) throw UsageError{std::string(s.message())};
  }
}

std::string CapsJson(const Capabilities& c) {
  return absl::StrFormat(
      "{\"framing\":\"%s\",\"direction\":\"%s\",\"reliable\":%s,\"ordered\":%s,"
      "\"multi_writer\":%s,\"peer_close\":%s,\"named\":%s,\"model\":\"%s\",\"max_message\":%d,"
      "\"capacity\":%d,\"atomic_write\":%d,\"max_queued\":%d,\"realtime\":%s}",
      c.framing == Framing::kStream ? "stream" : "message",
      c.direction == Direction::kOneWay ? "one-way" : "duplex", c.reliable ? "true" : "false",
      c.ordered ? "true" : "false", c.multi_writer ? "true" : "false",
      c.peer_close ? "true" : "false", c.named ? "true" : "false", ModelClassName(c.model),
      c.max_message, c.capacity, c.atomic_write, c.max_queued, c.realtime ? "true" : "false");
}

std::string CapsText(const Capabilities& c) {
  std::vector<std::string> parts = {c.framing == Framing::kStream ? "stream" : "message",
                                    c.direction == Direction::kOneWay ? "one-way" : "duplex",
                                    std::string(ModelClassName(c.model))};
  if (c.reliable) parts.push_back("reliable");
  if (c.ordered) parts.push_back("ordered");
  if (c.multi_writer) parts.push_back("multi-writer");
  if (c.peer_close) parts.push_back("peer-close");
  parts.push_back(c.named ? "named" : "anonymous");
  if (!c.realtime) parts.push_back("not-realtime");
  if (c.max_message) parts.push_back(absl::StrCat("max_message=", c.max_message));
  if (c.capacity) parts.push_back(absl::StrCat("capacity=", c.capacity));
  if (c.atomic_write) parts.push_back(absl::StrCat("atomic_write=", c.atomic_write));
  if (c.max_queued) parts.push_back(absl::StrCat("max_queued=", c.max_queued));
  return absl::StrJoin(parts, " ");
}

// The specification page (docs/spec.md), from the same registries.
std::string SpecPage(const std::vector<const Transport*>& transports,
                     const std::vector<const Property*>& properties) {
  auto cell = [](std::string_view s) {
    return absl::StrReplaceAll(std::string(s), {{"|", "\\|"}});
  };
  std::string out =
      "# ipcspec specification\n\n"
      "Generated by `ipcspec list --format=markdown` from the registries the command line runs;\n"
      "a test checks that this page is up to date.\n\n## Transports\n\n"
      "| transport | description | capabilities |\n|---|---|---|\n";
  for (const Transport* t : transports) {
    absl::StrAppend(&out, "| `", cell(t->name()), "` | ", cell(t->description()), " | ",
                    CapsText(t->caps()), " |\n");
  }
  out += "\n## Properties\n\n| ID | statement | reference | applies to |\n|---|---|---|---|\n";
  for (const Property* p : properties) {
    std::vector<std::string> applies;
    for (const Transport* t : transports) {
      if (p->AppliesTo(*t).applies)
        applies.push_back(absl::StrCat("`", std::string(t->name()), "`"));
    }
    absl::StrAppend(&out, "| ", cell(p->id()), " | ", cell(p->summary()), " | ",
                    cell(p->reference()), " | ",
                    applies.empty() ? "(none here)" : absl::StrJoin(applies, ", "), " |\n");
  }
  return out;
}

int List(int argc, char** argv) {
  Flags f = ParseFlags(argc, argv, 2, {"format", "plugin"});
  if (!f.positional.empty()) throw UsageError{"list takes no arguments"};
  const std::string format = f.values.count("format") ? f.values["format"] : "text";
  if (format != "text" && format != "json" && format != "markdown") {
    throw UsageError{absl::StrCat("--format=", format, ": expected text, json or markdown")};
  }
  LoadPlugins(f);
  const auto transports = TransportRegistry::Global().All();
  const auto properties = PropertyRegistry::Global().All();
  if (format == "json") {
    std::string out = "{\"transports\":[";
    for (size_t i = 0; i < transports.size(); ++i) {
      absl::StrAppendFormat(
          &out, "%s{\"name\":%s,\"description\":%s,\"builtin\":%s,\"caps\":%s}", i ? "," : "",
          JsonEscape(transports[i]->name()), JsonEscape(transports[i]->description()),
          TransportRegistry::Global().IsBuiltin(transports[i]->name()) ? "true" : "false",
          CapsJson(transports[i]->caps()));
    }
    out += "],\"properties\":[";
    for (size_t i = 0; i < properties.size(); ++i) {
      std::vector<std::string> applies;
      for (const Transport* t : transports) {
        if (properties[i]->AppliesTo(*t).applies) applies.push_back(JsonEscape(t->name()));
      }
      absl::StrAppendFormat(
          &out, "%s{\"id\":%s,\"summary\":%s,\"reference\":%s,\"applies_to\":[%s]}", i ? "," : "",
          JsonEscape(properties[i]->id()), JsonEscape(properties[i]->summary()),
          JsonEscape(properties[i]->reference()), absl::StrJoin(applies, ","));
    }
    std::cout << out << "]}\n";
    return kExitOk;
  }
  if (format == "markdown") {
    std::cout << SpecPage(transports, properties);
    return kExitOk;
  }
  std::cout << "Transports:\n";
  for (const Transport* t : transports) {
    std::cout << absl::StrFormat("  %-22s %s\n  %-22s %s\n", t->name(), t->description(), "",
                                 CapsText(t->caps()));
  }
  std::cout << "\nProperties:\n";
  for (const Property* p : properties) {
    std::vector<std::string> applies;
    for (const Transport* t : transports) {
      if (p->AppliesTo(*t).applies) applies.emplace_back(t->name());
    }
    std::cout << absl::StrFormat("  %-22s %s\n  %-22s reference: %s\n  %-22s applies to: %s\n",
                                 p->id(), p->summary(), "", p->reference(), "",
                                 applies.empty() ? "(none)" : absl::StrJoin(applies, ", "));
  }
  return kExitOk;
}

uint64_t PairSeed(uint64_t seed, std::string_view transport, std::string_view property) {
  uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL;
  for (char c : absl::StrCat(std::string(transport), "/", std::string(property))) {
    h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  }
  return h;
}

struct Shard {
  int64_t total = 1, index = 0;
};

Shard ShardFromEnv() {
  Shard s;
  const char* total = std::getenv("GTEST_TOTAL_SHARDS");
  const char* index = std::getenv("GTEST_SHARD_INDEX");
  if (total == nullptr && index == nullptr) return s;
  if (total == nullptr || index == nullptr || !absl::SimpleAtoi(total, &s.total) ||
      !absl::SimpleAtoi(index, &s.index) || s.total < 1 || s.index < 0 || s.index >= s.total) {
    throw UsageError{absl::StrFormat(
        "bad sharding environment: GTEST_TOTAL_SHARDS=%s GTEST_SHARD_INDEX=%s (need 0 <= index < "
        "total)",
        total ? total : "(unset)", index ? index : "(unset)")};
  }
  if (const char* status = std::getenv("GTEST_SHARD_STATUS_FILE")) {
    if (!WriteFile(status, "").ok()) {
      throw UsageError{absl::StrCat("cannot write GTEST_SHARD_STATUS_FILE ", status)};
    }
  }
  return s;
}

std::string ShellQuote(std::string_view s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./=,:+") == std::string_view::npos) {
    return std::string(s);
  }
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The command that replays a failing pair exactly, or "" for a pass. With
// --save-failures it also writes the minimal scenario as a file, which
// `ipcspec replay` runs and every fuzz target takes as an input.
std::string ReproduceCommand(const char* argv0, Flags& f, uint64_t seed, const PropertyResult& r) {
  if (!IsFailure(r.outcome)) return "";
  std::string cmd = absl::StrCat(ShellQuote(argv0), " run --transport=", ShellQuote(r.transport),
                                 " --property=", ShellQuote(r.property), " --seed=", seed);
  for (const std::string& pl : f.plugins) absl::StrAppend(&cmd, " --plugin=", ShellQuote(pl));
  for (const char* flag : {"timeout", "time-unit", "hang-grace"}) {
    if (f.values.count(flag)) absl::StrAppend(&cmd, " --", flag, "=", f.values[flag]);
  }
  if (!r.reproduce.empty()) absl::StrAppend(&cmd, " --reproduce=", r.reproduce);
  if (auto dir = f.values.find("save-failures"); dir != f.values.end() && r.failing) {
    const std::string path =
        absl::StrFormat("%s/%s-%s.scenario", dir->second, r.transport, r.property);
    if (absl::Status s = WriteFile(path, r.failing->Serialize()); s.ok()) {
      absl::StrAppend(&cmd, "\n  or: ", ShellQuote(argv0), " replay ", ShellQuote(path));
    } else {
      std::cerr << "ipcspec: --save-failures: " << s.message() << "\n";
    }
  }
  return cmd;
}

int Run(int argc, char** argv) {
  Flags f = ParseFlags(argc, argv, 2,
                       {"transport", "property", "examples", "seed", "timeout", "junit", "json",
                        "plugin", "reproduce", "save-failures", "jobs", "time-unit", "hang-grace"});
  if (!f.positional.empty()) {
    throw UsageError{absl::StrCat("run takes no arguments, got '", f.positional[0], "'")};
  }
  const int examples = static_cast<int>(ParseInt(f, "examples", 0, 1, 1000000));
  uint64_t seed = 1;
  if (auto it = f.values.find("seed"); it != f.values.end()) {
    if (it->second == "random") {
      absl::BitGen gen;
      seed = absl::Uniform<uint32_t>(gen);
      std::cout << "seed: " << seed << "\n";
    } else if (!absl::SimpleAtoi(it->second, &seed)) {
      throw UsageError{absl::StrCat("--seed=", it->second, ": expected a number or 'random'")};
    }
  }
  SandboxOptions options;
  options.timeout = ParseTimeout(f);
  options.time_unit = ParseDurationFlag(f, "time-unit", options.time_unit);
  options.hang_grace = ParseDurationFlag(f, "hang-grace", options.hang_grace);
  const int jobs = ParseJobs(f);
  LoadPlugins(f);

  std::vector<std::string> tnames, pnames;
  for (const Transport* t : TransportRegistry::Global().All()) tnames.emplace_back(t->name());
  for (const Property* p : PropertyRegistry::Global().All()) pnames.emplace_back(p->id());
  const std::string tglob = f.values.count("transport") ? f.values["transport"] : "*";
  const std::string pglob = f.values.count("property") ? f.values["property"] : "*";
  CheckEveryGlobMatches(tglob, tnames, "transport");
  CheckEveryGlobMatches(pglob, pnames, "property");
  const std::string reproduce = f.values.count("reproduce") ? f.values["reproduce"] : "";
  std::vector<std::pair<const Transport*, const Property*>> pairs;
  for (const Transport* t : TransportRegistry::Global().All()) {
    if (!GlobMatch(tglob, t->name())) continue;
    for (const Property* p : PropertyRegistry::Global().All()) {
      if (GlobMatch(pglob, p->id())) pairs.emplace_back(t, p);
    }
  }
  if (!reproduce.empty() && pairs.size() != 1) {
    throw UsageError{"--reproduce needs --transport and --property naming exactly one pair"};
  }
  for (const char* flag : {"junit", "json"}) {
    if (auto it = f.values.find(flag); it != f.values.end()) {
      if (absl::Status s = WriteFile(it->second, ""); !s.ok()) {
        throw UsageError{absl::StrCat("--", flag, ": cannot write report: ", s.message())};
      }
    }
  }
  if (auto it = f.values.find("save-failures"); it != f.values.end()) {
    std::error_code ec;
    std::filesystem::create_directories(it->second, ec);
    if (ec || ::access(it->second.c_str(), W_OK) != 0) {
      throw UsageError{absl::StrCat("--save-failures=", it->second, ": not a writable directory")};
    }
  }
  const Shard shard = ShardFromEnv();

  std::vector<PlannedPair> planned;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (static_cast<int64_t>(i) % shard.total != shard.index) continue;
    PlannedPair pp{pairs[i].first, pairs[i].second, {}};
    pp.config.seed = PairSeed(seed, pp.transport->name(), pp.property->id());
    pp.config.examples = examples;
    pp.config.reproduce = reproduce;
    planned.push_back(pp);
  }

  const bool tty = ::isatty(STDERR_FILENO) && std::getenv("CI") == nullptr;
  RunReport report;
  report.seed = seed;
  const absl::Time start = absl::Now();
  size_t done = 0;
  MatrixOptions matrix;
  matrix.sandbox = options;
  matrix.jobs = jobs;
  if (tty) {
    matrix.on_progress = [&](size_t i, int n, bool shrinking) {
      std::cerr << absl::StrFormat("\r\033[K[%d/%d %5.1fs] %s %s: %d examples%s", done + 1,
                                   planned.size(), absl::ToDoubleSeconds(absl::Now() - start),
                                   planned[i].transport->name(), planned[i].property->id(), n,
                                   shrinking ? ", shrinking" : "");
    };
  }
  std::vector<std::string> commands(planned.size());
  matrix.on_result = [&](size_t i, const PropertyResult& r) {
    ++done;
    commands[i] = ReproduceCommand(argv[0], f, seed, r);
    if (tty) std::cerr << "\r\033[K";
    std::cout << absl::StrFormat("[%d/%d] %-22s %-18s %-11s %5d examples %8.2fs%s\n", done,
                                 planned.size(), r.transport, r.property, OutcomeName(r.outcome),
                                 r.examples, absl::ToDoubleSeconds(r.duration),
                                 r.outcome == Outcome::kPass || r.message.empty()
                                     ? ""
                                     : absl::StrCat("  ", r.message.substr(0, 160)));
    std::cout.flush();
  };
  std::cout.flush();
  absl::StatusOr<MatrixResult> ran = RunMatrix(planned, matrix);
  if (!ran.ok()) throw UsageError{std::string(ran.status().message())};
  for (size_t i = 0; i < ran->results.size(); ++i) {
    if (!ran->results[i]) continue;
    report.results.push_back(std::move(*ran->results[i]));
    report.reproduce_commands.push_back(std::move(commands[i]));
  }
  report.elapsed = absl::Now() - start;

  std::cout << "\n";
  PrintMatrix(report, std::cout);
  PrintFailures(report, std::cout);
  int passed = 0, failed = 0, other = 0;
  for (const PropertyResult& r : report.results) {
    if (r.outcome == Outcome::kPass)
      ++passed;
    else if (IsFailure(r.outcome))
      ++failed;
    else
      ++other;
  }
  std::cout << absl::StrFormat(
      "\nipcspec: %d passed, %d failed, %d skipped or unsupported in %.1fs (seed %d)\n", passed,
      failed, other, absl::ToDoubleSeconds(report.elapsed), seed);
  if (auto it = f.values.find("json"); it != f.values.end()) {
    if (absl::Status s = WriteFile(it->second, ToJson(report)); !s.ok())
      throw UsageError{std::string(s.message())};
  }
  if (auto it = f.values.find("junit"); it != f.values.end()) {
    if (absl::Status s = WriteFile(it->second, ToJunit(report)); !s.ok())
      throw UsageError{std::string(s.message())};
  }
  return failed > 0 ? kExitFailed : kExitOk;
}

// A property that replays one given scenario and shrinks it by dropping
// steps, so a fuzz crash or a saved failure is minimised by the engine.
class FixedStepsProperty : public Property {
 public:
  FixedStepsProperty(const Property& inner, std::vector<Step> steps)
      : inner_(inner), steps_(std::move(steps)) {}
  std::string_view id() const override { return inner_.id(); }
  std::string_view summary() const override { return inner_.summary(); }
  std::string_view reference() const override { return inner_.reference(); }
  Applicability AppliesTo(const Transport& t) const override { return inner_.AppliesTo(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    std::vector<Step> steps = steps_;
    return rc::Gen<std::vector<Step>>([steps](const rc::Random&, int) {
      return rc::shrinkable::shrinkRecur(steps, &rc::shrink::removeChunks<std::vector<Step>>);
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    return inner_.Run(t, s, env);
  }

 private:
  const Property& inner_;
  std::vector<Step> steps_;
};

int Replay(int argc, char** argv) {
  Flags f = ParseFlags(argc, argv, 2, {"timeout", "plugin", "target", "shrink"});
  if (f.positional.size() != 1) throw UsageError{"replay takes exactly one FILE"};
  SandboxOptions options;
  options.timeout = ParseTimeout(f);
  LoadPlugins(f);
  const std::string& path = f.positional[0];
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError{absl::StrCat("cannot read ", path, ": ", strerror(errno))};
  std::stringstream bytes;
  bytes << in.rdbuf();
  // A serialized Scenario (IPCSPEC1...) is taken as it is; any other file is
  // a fuzz input of --target, or of the target named by its directory
  // (corpus/<target>/FILE, fuzz-artifacts/<target>/FILE).
  std::string target;
  if (auto it = f.values.find("target"); it != f.values.end()) {
    target = it->second;
  } else {
    target = std::filesystem::path(path).parent_path().filename().string();
  }
  absl::StatusOr<Scenario> s = absl::InvalidArgumentError("");
  if (bytes.str().rfind("IPCSPEC1", 0) == 0) {
    s = Scenario::Parse(bytes.str());
  } else if (FindFuzzTarget(target) == nullptr) {
    std::vector<std::string> names;
    for (const FuzzTarget& t : FuzzTargets()) names.push_back(t.name);
    throw UsageError{absl::StrFormat(
        "%s is not an IPCSPEC1 scenario, and '%s' is not a fuzz target (pass --target=NAME: %s)",
        path, target, absl::StrJoin(names, ", "))};
  } else {
    s = DecodeFuzzInput(target, bytes.str());
  }
  if (!s.ok()) throw UsageError{absl::StrCat(path, ": ", s.status().message())};
  std::cout << DescribeFuzzScenario(*s);
  std::cout.flush();
  DirectRunner runner(options);
  CaseResult r = runner.Run(*s);
  std::cout << "verdict: " << OutcomeName(r.outcome) << (r.message.empty() ? "" : ": ") << r.message
            << "\n";
  for (const std::string& l : r.leaks) std::cout << "left behind: " << l << "\n";
  if (!r.output.empty()) std::cout << "case output:\n" << r.output << "\n";
  if (auto out = f.values.find("shrink"); out != f.values.end() && IsFailure(r.outcome)) {
    const Transport* t = TransportRegistry::Global().Find(s->transport);
    const Property* p = PropertyRegistry::Global().Find(s->property);
    if (t == nullptr || p == nullptr) {
      throw UsageError{absl::StrFormat("cannot shrink: unknown transport '%s' or property '%s'",
                                       s->transport, s->property)};
    }
    FixedStepsProperty fixed(*p, s->steps);
    RunConfig config;
    config.examples = 1;
    PropertyResult pr = RunProperty(*t, fixed, config, runner);
    if (pr.failing) {
      if (absl::Status w = WriteFile(out->second, pr.failing->Serialize()); !w.ok()) {
        throw UsageError{std::string(w.message())};
      }
      std::cout << absl::StrFormat("shrunk from %d to %d steps (%s: %s), written to %s:\n%s",
                                   s->steps.size(), pr.failing->steps.size(),
                                   OutcomeName(pr.outcome), pr.message, out->second,
                                   pr.failing->Describe());
    }
  }
  return r.outcome == Outcome::kPass          ? kExitOk
         : r.outcome == Outcome::kUnsupported ? kExitOk
                                              : kExitFailed;
}

}  // namespace

int CliMain(int argc, char** argv) {
  try {
    if (argc < 2) throw UsageError{"missing command"};
    const std::string_view cmd = argv[1];
    if (cmd == "list") return List(argc, argv);
    if (cmd == "run") return Run(argc, argv);
    if (cmd == "replay") return Replay(argc, argv);
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      std::cout << kUsage;
      return kExitOk;
    }
    throw UsageError{absl::StrFormat("unknown command '%s'", cmd)};
  } catch (const UsageError& e) {
    std::cerr << "ipcspec: " << e.message << "\n" << kUsage;
    return kExitUsage;
  }
}

}  // namespace ipcspec
