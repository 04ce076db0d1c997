// `ipcspec replay FILE`: runs one saved scenario or fuzz input in the
// sandbox, prints it as readable steps with its verdict, and with --shrink
// minimises a failing one with the property engine.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "fuzz/fuzz_decode.h"
#include "fuzz/fuzz_entry.h"
#include "harness/cli/commands.h"
#include "harness/cli/report.h"
#include "ipcspec/engine.h"
#include "ipcspec/registry.h"

namespace ipcspec {
namespace {

const FlagSpec kReplayFlags[] = {
    {"timeout", "DURATION",
     "the case's last-resort deadline (default 10s; a walk's, G-*-RACE* and G-*-WALK, three times "
     "it)"},
    {"plugin", "PATH", "load a transport plugin (a shared object)", true},
    {"target", "NAME", "the fuzz target FILE is an input of (default: its directory's name)"},
    {"shrink", "OUT", "minimise a failing scenario and write it to OUT"},
};

const CommandHelp kReplayHelp = {
    .usage = "ipcspec replay [flags] FILE",
    .what =
        "Runs a saved scenario (--save-failures) or a fuzz input in the "
        "sandbox and prints it as steps with its verdict.",
    .flags = kReplayFlags};

// Whether each actor's sends are numbered 0, 1, 2, ... in order, as every
// property and fuzz target numbers its messages.
bool SendsNumberedInOrder(const std::vector<Step>& steps) {
  std::map<uint32_t, uint64_t> next;
  for (const Step& st : steps) {
    if ((st.op == Op::kSend || st.op == Op::kTrySend) && st.arg != next[st.actor]++) return false;
  }
  return true;
}

// The same steps with each actor's sends numbered 0, 1, 2, ... again.
std::vector<Step> NumberSendsInOrder(std::vector<Step> steps) {
  std::map<uint32_t, uint64_t> next;
  for (Step& st : steps) {
    if (st.op == Op::kSend || st.op == Op::kTrySend) st.arg = next[st.actor]++;
  }
  return steps;
}

// A property that replays one given scenario and shrinks it by dropping
// steps, so a fuzz crash or a saved failure is minimised by the engine.
// Sends numbered in order stay so once steps are dropped: the verdict
// speaks of message 2, and so do the steps, not of message 31.
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
    const bool renumber = SendsNumberedInOrder(steps);
    return rc::Gen<std::vector<Step>>([steps, renumber](const rc::Random&, int) {
      return rc::shrinkable::shrinkRecur(steps, [renumber](const std::vector<Step>& v) {
        auto fewer = rc::shrink::removeChunks(v);
        return renumber ? rc::seq::map(std::move(fewer), &NumberSendsInOrder) : fewer;
      });
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    return inner_.Run(t, s, env);
  }

 private:
  const Property& inner_;
  std::vector<Step> steps_;
};

// What `ipcspec replay FILE` runs: the scenario, and the fuzz target whose
// executor judges it as the fuzzer did (nullptr: the property's own run).
struct ReplayInput {
  Scenario scenario;
  const FuzzTarget* target = nullptr;
};

// A serialized Scenario (IPCSPEC1...) is taken as it is; any other file is a
// fuzz input of --target, or of the target named by its directory
// (corpus/<target>/FILE, fuzz-artifacts/<target>/FILE). Plugins are loaded
// first, so the plugin target decodes over them.
ReplayInput ReadScenario(const std::string& path, const Flags& f) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw UsageError{absl::StrCat(
        "cannot read ", path, ": ",
        std::filesystem::exists(path, ec) ? "not a regular file" : "No such file or directory")};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError{absl::StrCat("cannot read ", path, ": ", strerror(errno))};
  std::stringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw UsageError{absl::StrCat("cannot read ", path)};
  if (bytes.str().empty()) throw UsageError{absl::StrCat(path, " is empty: no scenario to replay")};
  const bool given = f.Has("target");
  const std::string target =
      f.Get("target", std::filesystem::path(path).parent_path().filename().string());
  const FuzzTarget* ft = FindFuzzTarget(target);
  const bool listed = std::any_of(FuzzTargets().begin(), FuzzTargets().end(),
                                  [&](const FuzzTarget& t) { return t.name == target; });
  auto names = [] {
    return absl::StrJoin(FuzzTargets(), ", ",
                         [](std::string* out, const FuzzTarget& t) { out->append(t.name); });
  };
  if (given && !listed) {
    throw UsageError{absl::StrFormat("--target=%s: no such fuzz target (%s)", target, names())};
  }
  absl::StatusOr<Scenario> s = absl::InvalidArgumentError("");
  if (bytes.str().rfind("IPCSPEC1", 0) == 0) {
    s = Scenario::Parse(bytes.str());
    // Judged by a fuzz target's executor only when one is named.
    if (!given && !listed) ft = nullptr;
  } else if (ft == nullptr) {
    throw UsageError{absl::StrFormat(
        "%s is not an IPCSPEC1 scenario, and '%s' is not a fuzz target (pass --target=NAME: %s)",
        path, target, names())};
  } else {
    s = DecodeFuzzInput(target, bytes.str());
  }
  if (!s.ok()) throw UsageError{absl::StrCat(path, ": ", s.status().message())};
  if (TransportRegistry::Global().Find(s->transport) == nullptr) {
    throw UsageError{
        absl::StrFormat("%s: unknown transport '%s' (known: %s; a plugin's transport needs "
                        "its --plugin=PATH)",
                        path, s->transport,
                        absl::StrJoin(TransportRegistry::Global().All(), ", ",
                                      [](std::string* out, const Transport* t) {
                                        absl::StrAppend(out, std::string(t->name()));
                                      }))};
  }
  if (PropertyRegistry::Global().Find(s->property) == nullptr) {
    throw UsageError{absl::StrFormat("%s: unknown property '%s'", path, s->property)};
  }
  // A corrupt file can still parse: no property sends a step this large, and
  // running it would only be a verdict on the file.
  constexpr uint64_t kLargestStep = uint64_t{64} << 20;
  for (size_t i = 0; i < s->steps.size(); ++i) {
    if (s->steps[i].op == Op::kSend && s->steps[i].size > kLargestStep) {
      throw UsageError{absl::StrFormat(
          "%s: step %d sends %d bytes, more than any property sends (64 MiB): a corrupt file?",
          path, i + 1, s->steps[i].size)};
    }
  }
  if (ft != nullptr && s->property != FuzzPropertyOf(*ft)) ft = nullptr;
  return {*std::move(s), ft};
}

void Shrink(const Scenario& s, const std::string& out, CaseRunner& runner) {
  const Transport* t = TransportRegistry::Global().Find(s.transport);
  const Property* p = PropertyRegistry::Global().Find(s.property);
  if (t == nullptr || p == nullptr) {
    throw UsageError{absl::StrFormat("cannot shrink: unknown transport '%s' or property '%s'",
                                     s.transport, s.property)};
  }
  FixedStepsProperty fixed(*p, s.steps);
  RunConfig config;
  config.examples = 1;
  PropertyResult pr = RunProperty(*t, fixed, config, runner);
  if (!pr.failing) return;
  if (absl::Status w = WriteFileAtomically(out, pr.failing->Serialize()); !w.ok()) {
    throw UsageError{std::string(w.message())};
  }
  std::cout << absl::StrFormat("shrunk from %d steps to %d (%s: %s), written to %s:\n%s",
                               s.steps.size(), pr.failing->steps.size(), OutcomeName(pr.outcome),
                               pr.message, out, pr.failing->Describe());
}

}  // namespace

int ReplayCommand(std::span<char* const> args) {
  const std::optional<Flags> parsed = ParseCommandFlags(args, kReplayHelp);
  if (!parsed) return 0;  // --help
  const Flags& f = *parsed;
  if (f.positional().size() != 1) throw UsageError{"replay takes exactly one FILE"};
  SandboxOptions options;
  options.timeout = f.Duration("timeout", absl::Seconds(10), absl::Milliseconds(1), absl::Hours(1));
  LoadPlugins(f.All("plugin"));
  const ReplayInput input = ReadScenario(f.positional()[0], f);
  const Scenario& s = input.scenario;
  if (input.target != nullptr && input.target->kind == FuzzTarget::kPlugin) {
    // Raw fuzz bytes name no transport: said, so that a crash of one plugin
    // replayed on another is not taken for a fixed bug.
    std::cout << "(a fuzz input does not record its transport: its first byte picks " << s.transport
              << " from the plugins loaded)\n";
  }
  std::cout << DescribeFuzzScenario(s);
  std::cout.flush();
  DirectRunner runner(options);
  // A fuzz input runs in the sandbox with its target's executor (virtual
  // time for the in-process targets), so it fails here as it did there.
  CaseResult r =
      input.target == nullptr ? runner.Run(s) : RunCase(options, [&](const CaseEnv& env) {
        return JudgeFuzzScenario(*input.target, s, env);
      });
  std::cout << "verdict: " << OutcomeName(r.outcome) << (r.message.empty() ? "" : ": ") << r.message
            << "\n";
  for (const std::string& l : r.leaks) std::cout << "left behind: " << l << "\n";
  if (!r.output.empty()) std::cout << "case output:\n" << r.output << "\n";
  if (input.target != nullptr && r.outcome == Outcome::kPass) {
    // A crash file that passes on its own: what the fuzzer saw depended on
    // more than this input.
    std::cout << "note: this input passes on its own, in a fresh process. If the fuzzer "
                 "reported it, its failure depended on state an earlier input left in the "
                 "fuzzing process (a static in the plugin, a count that only grows), on timing, "
                 "or on a memory error only a sanitizer build of the plugin sees.\n";
  }
  if (f.Has("shrink") && IsFailure(r.outcome)) Shrink(s, f.Get("shrink"), runner);
  return r.outcome == Outcome::kPass || r.outcome == Outcome::kUnsupported ? 0 : 1;
}

}  // namespace ipcspec
