// How long it takes to report a transport whose recv never returns: one case
// through the fork server, with the default hang grace (1 s), for a pipe
// whose recv ignores its timeout (G-TIMEOUT, a 300 ms receive) and one whose
// recv never returns after its writer was SIGKILLed (G-PEER-CRASH). The time
// is the whole case, start to report; the watchdog's part is what exceeds the
// hanging call's own timeout. Before the watchdog, both waited out the case
// deadline (10 s by default, 30 s in the run).
// Run: build/default/bench/hang_bench

#include "bench/bench_main.h"
#include "benchmark/benchmark.h"
#include "ipcspec/engine.h"
#include "tests/support/hanging_transports.h"

namespace ipcspec {
namespace {

void Report(benchmark::State& state, const Scenario& s) {
  auto server = ForkServer::Start(SandboxOptions{});
  if (!server.ok()) {
    state.SkipWithError("fork server did not start");
    return;
  }
  for (auto _ : state) {
    CaseResult r = (*server)->Run(s);
    if (r.outcome != Outcome::kTimeout) {
      state.SkipWithError((std::string(OutcomeName(r.outcome)) + ": " + r.message).c_str());
      return;
    }
    state.SetLabel(r.message.substr(0, 90));
  }
}

void BM_RecvIgnoringItsTimeout(benchmark::State& state) {
  Report(state, {"G-TIMEOUT", "hang_ignores_timeout", {{Op::kWait, 0, 300, 0}}});
}
BENCHMARK(BM_RecvIgnoringItsTimeout)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

void BM_RecvNeverReturningAfterTheWriterWasKilled(benchmark::State& state) {
  Report(state, {"G-PEER-CRASH", "hang_after_kill", {Step::Param(0, 0), Step::Send(1, 1, 0)}});
}
BENCHMARK(BM_RecvNeverReturningAfterTheWriterWasKilled)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace

void bench::RegisterBenchmarks() { testing::RegisterHangingTransports(); }

}  // namespace ipcspec
