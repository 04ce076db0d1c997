// ipcspec/scenario.h: the one scenario language.
//
// Properties (from rapidcheck), fuzz targets (from bytes) and replay files
// all build the same Scenario: the property and transport it is for, and a
// list of steps performed by actors (actor 0 is the reader, 1.. the writers).
// The serialized form is the fork-server request, the corpus/replay file and
// part of every reproduce command.
//
//   Scenario s{"G-ORDER", "pipe", {Step::Send(1, 4096, 0), Step::Recv(0, 512)}};
//   std::string bytes = s.Serialize();
//   absl::StatusOr<Scenario> back = Scenario::Parse(bytes);
//   std::cout << s.Describe();   // "1. writer 1 sends message 0: 4096 bytes" ...
#ifndef IPCSPEC_SCENARIO_H_
#define IPCSPEC_SCENARIO_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ipcspec {

enum class Op : uint8_t {
  kSend = 1,       // actor sends `size` bytes, message number `arg`, blocking
  kRecv = 2,       // actor receives with a buffer of `size` bytes (0: max), blocking
  kTrySend = 3,    // as kSend, but must not block (timeout 0)
  kTryRecv = 4,    // as kRecv, but must not block
  kClose = 5,      // actor closes its end
  kKill = 6,       // the case kills actor with SIGKILL
  kParam = 7,      // a property parameter: `size` is the value, `arg` its index
  kWait = 8,       // actor receives with a bounded wait of `size` milliseconds
  kOpen = 9,       // actor opens its end (role by actor: 0 reader, else writer)
  kPriority = 10,  // the next send of actor uses priority/type `size`
};

struct Step {
  Op op = Op::kSend;
  uint32_t actor = 0;
  uint64_t size = 0;
  uint64_t arg = 0;

  static Step Send(uint32_t actor, uint64_t size, uint64_t msg) {
    return {Op::kSend, actor, size, msg};
  }
  static Step Recv(uint32_t actor, uint64_t cap) { return {Op::kRecv, actor, cap, 0}; }
  static Step Param(uint64_t index, uint64_t value) { return {Op::kParam, 0, value, index}; }
  bool operator==(const Step&) const = default;
};

struct Scenario {
  std::string property;
  std::string transport;
  std::vector<Step> steps;

  // Binary form: "IPCSPEC1", then wire-encoded fields.
  std::string Serialize() const;
  // InvalidArgument with a reason for any input that is not a scenario.
  static absl::StatusOr<Scenario> Parse(std::string_view bytes);
  // Numbered readable steps, one per line.
  std::string Describe() const;
  // The value of kParam `index`, or `fallback`.
  uint64_t Param(uint64_t index, uint64_t fallback) const;
  bool operator==(const Scenario&) const = default;
};

std::string DescribeStep(const Step& s);

}  // namespace ipcspec

#endif  // IPCSPEC_SCENARIO_H_
