// The main() every benchmark program but fuzz_mp_bench and sandbox_bench
// links (see bench_main.h).
#include "bench/bench_main.h"

#include <signal.h>

#include "benchmark/benchmark.h"

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  ipcspec::bench::RegisterBenchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
