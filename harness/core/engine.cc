#include "ipcspec/engine.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
#include "isolation.h"
#include "rapidcheck/detail/Configuration.h"
#include "rapidcheck/detail/Property.h"
#include "rapidcheck/detail/TestListener.h"

extern "C" void __sanitizer_purge_allocator() __attribute__((weak));

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
  return RunCase(options_, [&](const CaseEnv& env) { return RunScenario(s, env); });
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

namespace {

// The work of a fork server's case: a serialized scenario, parsed in the
// case process (a malformed one is that case's broken verdict).
Verdict RunScenarioBytes(std::string_view bytes, const CaseEnv& env) {
  absl::StatusOr<Scenario> s = Scenario::Parse(bytes);
  if (!s.ok()) return Verdict::Broken(std::string(s.status().message()));
  return RunScenario(*s, env);
}

// One request of the fork server: the options that vary per run, and the
// scenario. Answered with the encoded CaseResult. The case forked ahead
// (`next`) runs it when there is one; it is used up.
CaseResult ServeOne(const std::string& request, const SandboxOptions& options,
                    std::unique_ptr<PendingCase>& next) {
  WireReader in(request);
  uint64_t timeout_us = 0, unit_us = 0, grace_us = 0;
  std::string bytes;
  if (!in.U64(&timeout_us) || !in.U64(&unit_us) || !in.U64(&grace_us) || !in.Str(&bytes)) {
    CaseResult result;
    result.message = "malformed fork-server request";
    return result;
  }
  const CaseTiming timing = {absl::Microseconds(static_cast<int64_t>(timeout_us)),
                             absl::Microseconds(static_cast<int64_t>(unit_us)),
                             absl::Microseconds(static_cast<int64_t>(grace_us))};
  if (next != nullptr) {
    std::unique_ptr<PendingCase> pending = std::move(next);
    return std::move(*pending).Run(timing, bytes);
  }
  SandboxOptions o = options;
  return RunCase(o.set_timing(timing),
                 [&](const CaseEnv& env) { return RunScenarioBytes(bytes, env); });
}

// The next case, forked ahead of its request (none if the fork failed: the
// request then forks its own).
std::unique_ptr<PendingCase> ForkAhead(const SandboxOptions& options) {
  absl::StatusOr<std::unique_ptr<PendingCase>> next = PendingCase::Fork(options, &RunScenarioBytes);
  return next.ok() ? *std::move(next) : nullptr;
}

// Under a sanitizer, what the server frees stays in the allocator's
// quarantine, and every fork copies the page tables of all of it: a
// server that had served a few hundred cases forked at half the speed of a
// fresh one. Between cases the quarantine is emptied and the free memory
// given back. (A weak reference: the function is there only in a
// sanitized program.)
void KeepSmall() {
  if (&__sanitizer_purge_allocator != nullptr) __sanitizer_purge_allocator();
}

// The client ends of this process's fork servers, which a server forked
// later must not keep.
std::vector<int>& LiveServerEnds() {
  static std::vector<int> ends;
  return ends;
}

}  // namespace

bool IsReproduceString(std::string_view text) {
  rc::detail::Reproduce r;
  return !text.empty() && DecodeReproduce(text, &r);
}

ServerRoot ServerRoot::Make(const SandboxOptions& options) {
  ServerRoot r;
  if (!options.private_ipc) return r;
  // As root its cases may run as a user of their own, who must reach the
  // scratch directory under it. Not root, the server may mount it under a
  // user namespace of its own (or, where it cannot, leaves it empty).
  const bool root = ::geteuid() == 0;
  r.path_ = MakeTempDirIn(root && options.drop_privileges ? SearchableTempRoot() : TempRoot(),
                          "ipcspec-ns", 0711);
  struct stat st;
  if (!r.path_.empty() && ::lstat(r.path_.c_str(), &st) == 0) {
    r.dev_ = st.st_dev;
    r.ino_ = st.st_ino;
  }
  return r;
}

void ServerRoot::Remove() {
  struct stat st;
  if (!path_.empty() && ::lstat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
      st.st_dev == dev_ && st.st_ino == ino_) {
    ::rmdir(path_.c_str());
  }
  path_.clear();
}

ServerRoot& ServerRoot::operator=(ServerRoot&& o) noexcept {
  if (this != &o) {
    Remove();
    path_ = std::exchange(o.path_, "");
    dev_ = o.dev_;
    ino_ = o.ino_;
  }
  return *this;
}

ServerRoot::~ServerRoot() { Remove(); }

absl::StatusOr<std::unique_ptr<ForkServer>> ForkServer::Start(const SandboxOptions& options,
                                                              const ServerRoot* given) {
  int req[2], resp[2];
  if (::pipe2(req, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", "fork server");
  FileDescriptor req_r(req[0]), req_w(req[1]);
  if (::pipe2(resp, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", "fork server");
  FileDescriptor resp_r(resp[0]), resp_w(resp[1]);
  ServerRoot own = given == nullptr ? ServerRoot::Make(options) : ServerRoot();
  const std::string& root = given == nullptr ? own.path() : given->path();
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork", "fork server");
  if (pid == 0) {
    // First: the parent's death, even before the server has set up, is a
    // SIGTERM it handles, ending its loop (the requests end) and removing
    // the root the parent made (a SIGKILL here left it in TMPDIR).
    internal::EndWhenOrphaned(parent);
    // Out of the run's process group: a SIGKILL to the whole group
    // (`timeout -s KILL`) ends the run, whose death then reaches this
    // process as SIGTERM, and it cleans up.
    ::setpgid(0, 0);
    req_w.reset();
    resp_r.reset();
    // Nor the other servers' ends: a server that held one would keep it
    // from seeing its requests end.
    for (int fd : LiveServerEnds()) ::close(fd);
    // Once: the namespaces every case of this server runs in (the SIGTERM
    // handler stays).
    EnterLastingIsolation(options, root);
    // The next case is forked while the client reads the last result.
    std::unique_ptr<PendingCase> next = ForkAhead(options);
    std::string request;
    while (ReadFrame(req_r.get(), &request) == 0) {
      const std::string reply = EncodeCaseResult(ServeOne(request, options, next));
      if (WriteFrame(resp_w.get(), reply) != 0) break;
      KeepSmall();
      if (next == nullptr) next = ForkAhead(options);
    }
    next.reset();
    // Whoever ended the requests: a parent that died closed them before
    // the kernel told this process (its files go before its children are
    // handed on), so getppid() could not tell the two apart.
    internal::RemoveRoot(root);
    ::_exit(0);
  }
  LiveServerEnds().insert(LiveServerEnds().end(), {req_w.get(), resp_r.get()});
  auto server = std::unique_ptr<ForkServer>(
      new ForkServer(pid, std::move(req_w), std::move(resp_r), options));
  server->own_root_ = std::move(own);
  return server;
}

ForkServer::~ForkServer() {
  std::erase_if(LiveServerEnds(), [&](int fd) { return fd == to_.get() || fd == from_.get(); });
  to_.reset();
  from_.reset();
  ::waitpid(pid_, nullptr, 0);  // then own_root_ goes
}

CaseResult ForkServer::Run(const Scenario& s) {
  Start(s);
  return Finish();
}

void ForkServer::Start(const Scenario& s) {
  WireWriter w;
  const CaseTiming timing = options_.timing();
  w.U64(static_cast<uint64_t>(absl::ToInt64Microseconds(timing.timeout)));
  w.U64(static_cast<uint64_t>(absl::ToInt64Microseconds(timing.time_unit)));
  w.U64(static_cast<uint64_t>(absl::ToInt64Microseconds(timing.hang_grace)));
  w.Str(s.Serialize());
  sent_ = WriteFrame(to_.get(), w.data()) == 0;
}

CaseResult ForkServer::Finish() {
  CaseResult r;
  std::string reply;
  if (!std::exchange(sent_, false) || ReadFrame(from_.get(), &reply) != 0 ||
      !DecodeCaseResult(reply, &r)) {
    r = CaseResult();
    r.outcome = Outcome::kBroken;
    r.message = "the fork server died";
  }
  return r;
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
