// ipcspec/engine.h: runs a property over a transport.
//
// Every example is a Scenario run in a sandboxed case process by a
// CaseRunner; rapidcheck generates and shrinks the scenarios. Because a
// crash or hang is a CaseResult in this process, shrinking goes on through
// crashes and hangs, and the result always carries the minimal scenario and
// a command that reproduces exactly it.
//
//   auto server = ForkServer::Start(options);          // before the harness grows
//   PropertyResult r = RunProperty(*transport, *property, config, **server);
//   if (r.outcome != Outcome::kPass) std::cout << r.counterexample << r.reproduce;
#ifndef IPCSPEC_ENGINE_H_
#define IPCSPEC_ENGINE_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ipcspec/property.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/scenario.h"

namespace ipcspec {

// Runs a scenario's case in the sandboxed case process: looks the transport
// and property up in the registries and calls Property::Run.
Verdict RunScenario(const Scenario& s, const CaseEnv& env);

class CaseRunner {
 public:
  virtual ~CaseRunner() = default;
  virtual CaseResult Run(const Scenario& s) = 0;
  // The same in two halves, so that several runners can each have a case in
  // flight (RunProperty's lanes): Start hands the case over, Finish waits for
  // its result. One case at a time: every Start is followed by a Finish. A
  // runner that cannot overlap its cases (this default) runs it in Start.
  virtual void Start(const Scenario& s) { started_ = Run(s); }
  virtual CaseResult Finish() { return std::exchange(started_, CaseResult()); }

 private:
  CaseResult started_;
};

// Forks each case from the calling process.
class DirectRunner : public CaseRunner {
 public:
  explicit DirectRunner(SandboxOptions options) : options_(options) {}
  CaseResult Run(const Scenario& s) override;

 private:
  SandboxOptions options_;
};

// A small process forked early that forks every case, so the cost of fork
// does not grow with the harness. Requests and results travel over pipes.
// As root it enters its own IPC and mount namespace once
// (EnterLastingIsolation), so its cases pay for no namespace of their own
// and two servers' cases never see each other's objects.
//
// The server's private mounts go on an empty directory of its own (a
// ServerRoot). The server removes it when its requests end, whether its
// parent closed them or died; the ServerRoot removes it too if the server
// could not (it was SIGKILLed). A caller that may SIGKILL the process
// holding a server (the scheduler, its workers) makes the ServerRoot
// itself and keeps it until that process is reaped.
class ServerRoot {
 public:
  // A fresh 0711 directory in $TMPDIR (or /tmp), or an empty path when the
  // cases get no lasting isolation (no private IPC, or not root).
  static ServerRoot Make(const SandboxOptions& options);
  ServerRoot() = default;
  ServerRoot(ServerRoot&& o) noexcept
      : path_(std::exchange(o.path_, "")), dev_(o.dev_), ino_(o.ino_) {}
  ServerRoot& operator=(ServerRoot&& o) noexcept;
  ServerRoot(const ServerRoot&) = delete;
  ServerRoot& operator=(const ServerRoot&) = delete;
  // rmdir, if the directory is still the one it made (the server removed
  // it, and another may have taken its name since)
  ~ServerRoot();
  const std::string& path() const { return path_; }

 private:
  void Remove();
  std::string path_;
  uint64_t dev_ = 0, ino_ = 0;  // the directory it made
};

class ForkServer : public CaseRunner {
 public:
  // `root`: the caller's ServerRoot, which must outlive the server's
  // process; null to make and own one.
  static absl::StatusOr<std::unique_ptr<ForkServer>> Start(const SandboxOptions& options,
                                                           const ServerRoot* root = nullptr);
  ~ForkServer() override;
  CaseResult Run(const Scenario& s) override;
  void Start(const Scenario& s) override;  // sends the request; the server runs it meanwhile
  CaseResult Finish() override;            // reads the reply

 private:
  ForkServer(pid_t pid, FileDescriptor to, FileDescriptor from, const SandboxOptions& options)
      : pid_(pid), to_(std::move(to)), from_(std::move(from)), options_(options) {}
  pid_t pid_;
  FileDescriptor to_, from_;
  SandboxOptions options_;
  bool sent_ = false;    // Start's request reached the server
  ServerRoot own_root_;  // when the caller gave none; removed after the server is reaped
};

struct RunConfig {
  uint64_t seed = 0;
  int examples = 0;       // 0: the property's default
  int max_size = 100;     // rapidcheck's size bound
  std::string reproduce;  // a reproduce string: run exactly that example
  // How long a failure is shrunk at most, from when it was found; zero
  // reports it as found.
  absl::Duration shrink_budget = absl::Seconds(90);
  // Called after every example (for progress): examples so far, shrinking.
  std::function<void(int, bool)> on_example;
};

struct PropertyResult {
  std::string transport;
  std::string property;
  Outcome outcome = Outcome::kPass;
  int examples = 0;
  int shrinks = 0;
  bool shrinking_stopped = false;  // RunConfig::shrink_budget ran out first
  absl::Duration duration;
  std::string message;
  std::string reproduce;       // the rapidcheck reproduce string
  std::string counterexample;  // the minimal scenario, as readable steps
  std::optional<Scenario> failing;
  std::string output;  // captured output of the failing case
};

// How many examples a run of `p` makes: config.examples, else the
// property's default; one for a property with one scenario
// (Property::OneScenario).
int ExamplesToRun(const Property& p, const RunConfig& config);

PropertyResult RunProperty(const Transport& t, const Property& p, const RunConfig& config,
                           CaseRunner& runner);

// The same with the examples spread over several runners ("lanes", each a
// fork server of its own), so that one property keeps every CPU busy. The
// examples rapidcheck would draw if all passed are drawn first (drawing does
// not depend on the verdicts until one fails) and run `lanes.size()` at a
// time, in order, until the first that does not pass. Then rapidcheck runs
// as with one runner, taking the verdicts already known for those examples
// and running only the shrinks (one at a time, on lanes[0]): outcome,
// examples, shrinks, counterexample and reproduce string are exactly those
// of one runner. With one lane, or a reproduce string, it is RunProperty
// above.
PropertyResult RunProperty(const Transport& t, const Property& p, const RunConfig& config,
                           std::span<CaseRunner* const> lanes);

// Whether `text` is a reproduce string (PropertyResult::reproduce) that
// RunConfig::reproduce can replay. A replayed example that passes is a pass.
bool IsReproduceString(std::string_view text);

// One (transport, property) pair of a run, in report order.
struct PlannedPair {
  const Transport* transport = nullptr;
  const Property* property = nullptr;
  RunConfig config;  // config.on_example is not used: see MatrixOptions::on_progress
};

struct MatrixOptions {
  // Cases in flight at once. Each pair runs in a worker process of its own
  // (rapidcheck is not thread-safe), with a fork server of its own whose
  // cases run in a private IPC namespace, /dev/shm and scratch directory;
  // with fewer pairs than jobs, each worker has jobs / pairs fork servers
  // and runs its pair's examples on all of them (RunProperty's lanes).
  int jobs = 1;
  SandboxOptions sandbox;  // for every case
  // Called in this process as each pair finishes, in completion order (which
  // --jobs may change; the result's order never does).
  std::function<void(size_t index, const PropertyResult&)> on_result;
  // Progress of a running pair: examples so far, and whether it is shrinking.
  std::function<void(size_t index, int examples, bool shrinking)> on_progress;
  // When this descriptor becomes readable (a SIGINT/SIGTERM self-pipe), the
  // run stops: running cases are killed and reaped, and pairs that did not
  // finish are left out of the result.
  int stop_fd = -1;
};

struct MatrixResult {
  std::vector<std::optional<PropertyResult>> results;  // by pair index; empty: not finished
  bool stopped = false;
};

// Runs every pair: the matrix of a conformance run. Call it before the
// harness grows: it starts the processes that fork the cases first. The
// verdicts, counterexamples and reproduce strings depend only on each pair's
// config, never on `jobs` or on timing.
//
//   std::vector<PlannedPair> pairs = ...;
//   absl::StatusOr<MatrixResult> m = RunMatrix(pairs, {.jobs = 2, .on_result = Print});
absl::StatusOr<MatrixResult> RunMatrix(const std::vector<PlannedPair>& pairs,
                                       const MatrixOptions& options);

// Encoded CaseResult, for the fork server's replies.
std::string EncodeCaseResult(const CaseResult& r);
bool DecodeCaseResult(std::string_view in, CaseResult* r);
// Encoded PropertyResult, for RunMatrix's worker processes.
std::string EncodePropertyResult(const PropertyResult& r);
bool DecodePropertyResult(std::string_view in, PropertyResult* r);

}  // namespace ipcspec

#endif  // IPCSPEC_ENGINE_H_
