// bench/bench_main.h: the one main() of the benchmark programs
// (bench/bench_main.cc). It ignores SIGPIPE (a benchmark whose peer is gone
// measures EPIPE instead of dying), calls the program's RegisterBenchmarks()
// and then runs Google Benchmark with its usual flags. A program defines only
// what it registers:
//
//   namespace ipcspec::bench {
//   void RegisterBenchmarks() {
//     benchmark::RegisterBenchmark("roundtrip/pipe/64", ...);
//   }
//   }  // namespace ipcspec::bench
#ifndef IPCSPEC_BENCH_BENCH_MAIN_H_
#define IPCSPEC_BENCH_BENCH_MAIN_H_

namespace ipcspec::bench {

// Registers the program's benchmarks (and sets up what they share, such as
// a fork server started while the process is still small). Called once,
// before the command line is parsed.
void RegisterBenchmarks();

}  // namespace ipcspec::bench

#endif  // IPCSPEC_BENCH_BENCH_MAIN_H_
