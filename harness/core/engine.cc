#include "ipcspec/engine.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <mutex>
#include <span>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/registry.h"
#include "ipcspec/wire.h"
#include "rapidcheck/detail/Configuration.h"
#include "rapidcheck/detail/Property.h"
#include "rapidcheck/detail/TestListener.h"

namespace ipcspec {
namespace {

std::string EncodeReproduce(const rc::detail::Reproduce& r) {
  std::vector<uint8_t> bytes;
  rc::detail::serialize(r, std::back_inserter(bytes));
  return absl::WebSafeBase64Escape(
      std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

bool DecodeReproduce(std::string_view text, rc::detail::Reproduce* out) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(std::string(text), &raw)) return false;
  std::vector<uint8_t> bytes(raw.begin(), raw.end());
  try {
    auto it = rc::detail::deserialize(bytes.begin(), bytes.end(), *out);
    return it == bytes.end();
  } catch (...) {
    return false;
  }
}

// Hears nothing: rapidcheck prints nothing of ours.
class SilentListener : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

class ShrinkCounter : public SilentListener {
 public:
  void onShrinkTried(const rc::detail::CaseDescription&, bool accepted) override {
    if (accepted) ++accepted_;
  }
  int accepted() const { return accepted_; }

 private:
  int accepted_ = 0;
};

}  // namespace

Verdict RunScenario(const Scenario& s, const CaseEnv& env) {
  const Transport* t = TransportRegistry::Global().Find(s.transport);
  if (t == nullptr) return Verdict::Broken(absl::StrCat("unknown transport '", s.transport, "'"));
  const Property* p = PropertyRegistry::Global().Find(s.property);
  if (p == nullptr) return Verdict::Broken(absl::StrCat("unknown property '", s.property, "'"));
  if (Applicability a = p->AppliesTo(*t); !a.applies) return Verdict::Unsupported(a.reason);
  return p->Run(*t, s, env);
}

CaseResult DirectRunner::Run(const Scenario& s) {
  SandboxOptions o = options_;
  o.timeout = CaseTimeoutOf(s, o.timeout);
  return RunCase(o, [&](const CaseEnv& env) { return RunScenario(s, env); });
}

std::string EncodeCaseResult(const CaseResult& r) {
  WireWriter w;
  w.U8(static_cast<uint8_t>(r.outcome));
  w.U32(static_cast<uint32_t>(r.signal));
  w.Str(r.message);
  w.U32(static_cast<uint32_t>(r.leaks.size()));
  for (const std::string& l : r.leaks) w.Str(l);
  w.Str(r.output);
  w.U64(r.output_dropped);
  w.U64(static_cast<uint64_t>(absl::ToInt64Microseconds(r.elapsed)));
  return w.Take();
}

bool DecodeCaseResult(std::string_view in, CaseResult* r) {
  WireReader rd(in);
  uint8_t outcome;
  uint32_t sig, n;
  uint64_t us;
  if (!rd.U8(&outcome) || outcome > static_cast<uint8_t>(Outcome::kSkipped) || !rd.U32(&sig) ||
      !rd.Str(&r->message) || !rd.U32(&n)) {
    return false;
  }
  r->outcome = static_cast<Outcome>(outcome);
  r->signal = static_cast<int>(sig);
  for (uint32_t i = 0; i < n; ++i) {
    std::string l;
    if (!rd.Str(&l)) return false;
    r->leaks.push_back(std::move(l));
  }
  if (!rd.Str(&r->output) || !rd.U64(&r->output_dropped) || !rd.U64(&us)) return false;
  r->elapsed = absl::Microseconds(static_cast<int64_t>(us));
  return true;
}

bool IsReproduceString(std::string_view text) {
  rc::detail::Reproduce r;
  return !text.empty() && DecodeReproduce(text, &r);
}

std::string EncodePropertyResult(const PropertyResult& r) {
  WireWriter w;
  w.Str(r.transport);
  w.Str(r.property);
  w.U8(static_cast<uint8_t>(r.outcome));
  w.U32(static_cast<uint32_t>(r.examples));
  w.U32(static_cast<uint32_t>(r.shrinks));
  w.U64(static_cast<uint64_t>(absl::ToInt64Microseconds(r.duration)));
  w.Str(r.message);
  w.Str(r.reproduce);
  w.Str(r.counterexample);
  w.U8(r.failing.has_value());
  w.Str(r.failing ? r.failing->Serialize() : "");
  w.Str(r.output);
  w.U8(r.shrinking_stopped);
  return w.Take();
}

bool DecodePropertyResult(std::string_view in, PropertyResult* r) {
  WireReader rd(in);
  uint8_t outcome, has_failing, stopped;
  uint32_t examples, shrinks;
  uint64_t us;
  std::string failing;
  if (!rd.Str(&r->transport) || !rd.Str(&r->property) || !rd.U8(&outcome) ||
      outcome > static_cast<uint8_t>(Outcome::kSkipped) || !rd.U32(&examples) ||
      !rd.U32(&shrinks) || !rd.U64(&us) || !rd.Str(&r->message) || !rd.Str(&r->reproduce) ||
      !rd.Str(&r->counterexample) || !rd.U8(&has_failing) || !rd.Str(&failing) ||
      !rd.Str(&r->output) || !rd.U8(&stopped)) {
    return false;
  }
  r->shrinking_stopped = stopped != 0;
  r->outcome = static_cast<Outcome>(outcome);
  r->examples = static_cast<int>(examples);
  r->shrinks = static_cast<int>(shrinks);
  r->duration = absl::Microseconds(static_cast<int64_t>(us));
  if (has_failing) {
    absl::StatusOr<Scenario> s = Scenario::Parse(failing);
    if (!s.ok()) return false;
    r->failing = *std::move(s);
  }
  return true;
}

namespace {

// Examples already run on several lanes (RunAhead), in the order rapidcheck
// draws them: each scenario with its result.
using KnownExamples = std::vector<std::pair<Scenario, CaseResult>>;

// What the examples of one property have shown so far: how many ran, the
// first unsupported case (which stops the run) and the last failing one.
struct ExampleLog {
  int runs = 0;
  size_t drawn = 0;  // scenarios drawn so far, shrinks included
  bool failed_once = false;
  std::optional<CaseResult> unsupported;
  std::optional<std::pair<Scenario, CaseResult>> last_failure;
  bool last_passed = false;  // whether the last case run passed
  bool out_of_time = false;  // shrinks were left untried: the budget ran out
  absl::Time first_failure;
  // How many more runs a shrunk scenario that passed gets before it counts
  // as passing: none while the failure is deterministic, some once its own
  // steps passed when run again (a race), so that a shrink that only missed
  // the race's window does not stop the shrinking at the generated dozens.
  int again = 0;
};

// What running one scenario again showed: how often it ran and failed, and
// the first run that did not pass.
struct Reruns {
  int runs = 0, failed = 0;
  std::optional<CaseResult> failure;
};

// Runs `s` up to `times` more times, a case on each lane at once, until a
// round's runs include the outcome `stop_at` (a pass, or a failure: anything
// but a pass) or, after the first round, `budget` has passed.
enum class StopAt { kPass, kFailure, kNever };
Reruns RunAgain(const Scenario& s, std::span<CaseRunner* const> lanes, int times, StopAt stop_at,
                absl::Duration budget) {
  Reruns out;
  const absl::Time until = absl::Now() + budget;
  while (out.runs < times && (out.runs == 0 || absl::Now() < until)) {
    const int width = std::min<int>(times - out.runs, static_cast<int>(lanes.size()));
    for (int i = 0; i < width; ++i) lanes[i]->Start(s);
    bool stop = false;
    for (int i = 0; i < width; ++i) {
      CaseResult r = lanes[i]->Finish();
      const bool failed = r.outcome != Outcome::kPass;
      out.failed += failed;
      stop |= stop_at == (failed ? StopAt::kFailure : StopAt::kPass);
      if (failed && !out.failure) out.failure = std::move(r);
    }
    out.runs += width;
    if (stop) break;
  }
  return out;
}

// A failure, the first or a shrink of it: when its steps pass in one of up
// to three more runs (for a second at most), the failure depends on timing,
// and from then on each shrink that passes runs up to three more times
// before it counts as passing. A generated race may fail every time while
// the shrinks that keep only part of it fail now and then: each accepted
// shrink is checked until one proves to be a race. Only a failure found
// quickly is: one that waited out a bound (a message that never came, a
// hang) would cost that bound again on every check, and is seldom a race.
void LearnWhetherItDependsOnTiming(const Scenario& s, const CaseResult& r, const RunConfig& config,
                                   std::span<CaseRunner* const> lanes, ExampleLog& log) {
  constexpr int kAgain = 3;
  constexpr absl::Duration kQuick = absl::Milliseconds(100);
  if (log.again > 0 || r.outcome == Outcome::kTimeout || r.elapsed > kQuick ||
      config.shrink_budget <= absl::ZeroDuration()) {
    return;
  }
  const Reruns again = RunAgain(s, lanes, kAgain, StopAt::kPass, absl::Seconds(1));
  if (again.failed < again.runs) log.again = kAgain;
}

// One example: draws the steps, runs the case (or takes its result from
// `known` when it ran ahead), records it in `log`, and fails the RapidCheck
// property when the case did not pass.
void RunExample(const Transport& t, const Property& p, const RunConfig& config,
                std::span<CaseRunner* const> lanes, const KnownExamples& known, ExampleLog& log) {
  std::vector<Step> steps = *p.Steps(t);
  const size_t index = log.drawn++;
  if (log.unsupported) return;
  if (log.failed_once && absl::Now() - log.first_failure >= config.shrink_budget) {
    log.out_of_time = true;
    return;
  }
  Scenario s{std::string(p.id()), std::string(t.name()), std::move(steps)};
  const bool ran_ahead = index < known.size() && known[index].first == s;
  CaseResult r = ran_ahead ? known[index].second : lanes.front()->Run(s);
  ++log.runs;
  if (config.on_example && !ran_ahead) config.on_example(log.runs, log.failed_once);
  if (r.outcome == Outcome::kUnsupported) {
    log.unsupported = r;
    return;
  }
  if (r.outcome == Outcome::kPass && log.again > 0) {
    Reruns again = RunAgain(s, lanes, log.again, StopAt::kFailure, absl::InfiniteDuration());
    if (again.failure && again.failure->outcome != Outcome::kUnsupported) r = *again.failure;
  }
  log.last_passed = r.outcome == Outcome::kPass;
  if (r.outcome != Outcome::kPass) {
    if (!log.failed_once) log.first_failure = absl::Now();
    if (config.reproduce.empty()) LearnWhetherItDependsOnTiming(s, r, config, lanes, log);
    log.failed_once = true;
    std::string msg = r.message;
    log.last_failure.emplace(std::move(s), std::move(r));
    RC_FAIL(msg);
  }
}

// rapidcheck prints its global configuration ("Using configuration:
// seed=...") to stderr the first time anything reads it, which a failing
// run does. ipcspec passes every parameter itself, so that seed would only
// be a second, meaningless one beside --seed: it is read once with stderr
// pointed at /dev/null.
void ReadRapidcheckConfigurationQuietly() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::fflush(stderr);
    const int saved = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved >= 0 && null >= 0) ::dup2(null, STDERR_FILENO);
    (void)rc::detail::configuration();
    std::fflush(stderr);
    if (saved >= 0 && null >= 0) ::dup2(saved, STDERR_FILENO);
    if (null >= 0) ::close(null);
    if (saved >= 0) ::close(saved);
  });
}

// The scenarios rapidcheck draws for `p` when every example passes: drawing
// depends on the seed and size, never on a verdict, until one fails.
std::vector<Scenario> DrawExamples(const Transport& t, const Property& p,
                                   const rc::detail::TestMetadata& metadata,
                                   const rc::detail::TestParams& params) {
  std::vector<Scenario> drawn;
  auto draw = [&] { drawn.push_back({std::string(p.id()), std::string(t.name()), *p.Steps(t)}); };
  SilentListener silent;
  rc::detail::checkProperty(rc::detail::toProperty(draw), metadata, params, silent);
  return drawn;
}

// Runs the drawn examples `lanes.size()` at a time, in order, each lane
// holding one case, until the first that does not pass: returns the results
// up to and including it (those started after it are waited for and
// dropped).
KnownExamples RunAhead(std::vector<Scenario> drawn, std::span<CaseRunner* const> lanes,
                       const RunConfig& config) {
  const size_t n = drawn.size(), width = lanes.size();
  KnownExamples known;
  size_t started = 0;
  bool stop = false;
  for (; started < std::min(n, width); ++started) lanes[started]->Start(drawn[started]);
  for (size_t i = 0; i < started; ++i) {
    CaseResult r = lanes[i % width]->Finish();
    if (stop) continue;
    stop = r.outcome != Outcome::kPass;
    if (!stop && started < n) {
      lanes[started % width]->Start(drawn[started]);
      ++started;
    }
    known.emplace_back(std::move(drawn[i]), std::move(r));
    if (config.on_example) config.on_example(static_cast<int>(known.size()), false);
  }
  return known;
}

// RapidCheck's parameters for one property: the seed, the number of examples
// (ExamplesToRun) and the size come from `config`.
rc::detail::TestParams CheckParams(const Property& p, const RunConfig& config) {
  rc::detail::TestParams params;
  params.seed = config.seed;
  params.maxSuccess = ExamplesToRun(p, config);
  params.maxSize = config.max_size;
  return params;
}

// Turns RapidCheck's result and the example log into the property's outcome.
void JudgeResult(const Property& p, const rc::detail::TestResult& result, const ExampleLog& log,
                 PropertyResult& out) {
  rc::detail::SuccessResult success;
  rc::detail::FailureResult failure;
  rc::detail::GaveUpResult gave_up;
  rc::detail::Error error;
  if (log.unsupported) {
    out.outcome = Outcome::kUnsupported;
    out.message = log.unsupported->message;
    out.examples = log.runs;
  } else if (result.match(success)) {
    out.outcome = Outcome::kPass;
    out.examples = success.numSuccess;
  } else if (result.match(failure)) {
    out.examples = failure.numSuccess + 1;
    out.reproduce = EncodeReproduce(failure.reproduce);
    if (log.last_failure) {
      out.outcome = log.last_failure->second.outcome;
      out.message = log.last_failure->second.message;
      out.counterexample = p.DescribeSteps(log.last_failure->first);
      out.output = log.last_failure->second.output;
      out.failing = log.last_failure->first;
    } else {
      out.outcome = Outcome::kFail;
      out.message = failure.description;
    }
  } else if (result.match(gave_up)) {
    out.outcome = Outcome::kBroken;
    out.message = absl::StrCat("gave up: ", gave_up.description);
  } else if (result.match(error)) {
    out.outcome = Outcome::kBroken;
    out.message = error.description;
  }
}

// A shrunk failure whose steps leave something to timing (how many sends
// a writer makes before it is killed) may pass when run again, and then its
// reproduce command would seem not to work. It runs up to four more times,
// a case on each lane, for a second at most (a failure that waits out a
// bound runs once more); when some pass, the verdict says how often it
// failed.
void SayHowOftenItFails(const Scenario& failing, std::span<CaseRunner* const> lanes,
                        PropertyResult& out) {
  const Reruns r = RunAgain(failing, lanes, 4, StopAt::kNever, absl::Seconds(1));
  if (r.failed < r.runs) {
    absl::StrAppend(&out.message, absl::StrFormat(" (these steps failed in %d of %d runs; the "
                                                  "others passed: the failure depends on timing)",
                                                  r.failed + 1, r.runs + 1));
  }
}

}  // namespace

int ExamplesToRun(const Property& p, const RunConfig& config) {
  if (p.OneScenario()) return 1;
  return config.examples > 0 ? config.examples : p.DefaultExamples();
}

PropertyResult RunProperty(const Transport& t, const Property& p, const RunConfig& config,
                           CaseRunner& runner) {
  CaseRunner* const one[] = {&runner};
  return RunProperty(t, p, config, one);
}

PropertyResult RunProperty(const Transport& t, const Property& p, const RunConfig& config,
                           std::span<CaseRunner* const> lanes) {
  PropertyResult out;
  out.transport = std::string(t.name());
  out.property = std::string(p.id());
  const absl::Time start = absl::Now();
  if (Applicability a = p.AppliesTo(t); !a.applies) {
    out.outcome = Outcome::kSkipped;
    out.message = a.reason;
    return out;
  }
  rc::detail::TestMetadata metadata;
  metadata.id = absl::StrFormat("%s/%s", t.name(), p.id());
  metadata.description = metadata.id;
  std::unordered_map<std::string, rc::detail::Reproduce> reproduce;
  if (!config.reproduce.empty()) {
    rc::detail::Reproduce r;
    if (!DecodeReproduce(config.reproduce, &r)) {
      out.outcome = Outcome::kBroken;
      out.message = "the --reproduce string is not valid";
      return out;
    }
    reproduce[metadata.id] = r;
  }
  const rc::detail::TestParams params = CheckParams(p, config);
  ReadRapidcheckConfigurationQuietly();
  KnownExamples known;
  if (lanes.size() > 1 && reproduce.empty()) {
    known = RunAhead(DrawExamples(t, p, metadata, params), lanes, config);
  }
  ExampleLog log;
  auto testable = [&] { RunExample(t, p, config, lanes, known, log); };
  ShrinkCounter listener;
  rc::detail::TestResult result = rc::detail::checkProperty(rc::detail::toProperty(testable),
                                                            metadata, params, listener, reproduce);
  out.duration = absl::Now() - start;
  out.shrinks = listener.accepted();
  JudgeResult(p, result, log, out);
  out.shrinking_stopped = log.out_of_time && out.failing.has_value();
  if (reproduce.empty() && out.failing &&
      (out.outcome == Outcome::kFail || out.outcome == Outcome::kCrashed)) {
    SayHowOftenItFails(*out.failing, lanes, out);
    out.duration = absl::Now() - start;
  }
  rc::detail::Error error;
  if (!reproduce.empty() && log.last_passed && !log.unsupported && result.match(error)) {
    // RapidCheck's "Reproduced result is not a failure": the example passes
    // now (the transport was mended, or a race was missed), which a kept
    // reproduce command checks. Walking the shrinks to it may run others
    // first, some of which may have failed: the last case run is the one.
    out.outcome = Outcome::kPass;
    out.examples = 1;
    out.message = "the reproduced example passes";
  }
  return out;
}

}  // namespace ipcspec
