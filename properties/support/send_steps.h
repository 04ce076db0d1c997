// properties/support/send_steps.h: the steps of a property that only sends:
// a number of sends by the writer (actor 1), numbered from 0, each of a
// drawn size, for the properties that check what a run of writes leaves;
// and, in Run, the sizes of those sends back.
//
//   rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
//     return SendSteps(1, 7, rc::gen::inRange<uint64_t>(1, 4096));   // 1 to 6 sends
//   }
//   Verdict Run(...) const override {
//     for (uint64_t size : SizesOf(s)) ...
//
// A property whose writes and reads interleave draws rounds instead:
//   return RoundSteps(1, 8, [](int i) {   // round i: a send numbered i, then a read
//     return std::vector<Step>{Step::Send(1, 100, i), Step::Recv(0, 10)};
//   });
#ifndef IPCSPEC_PROPERTIES_SUPPORT_SEND_STEPS_H_
#define IPCSPEC_PROPERTIES_SUPPORT_SEND_STEPS_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "ipcspec/scenario.h"
#include "rapidcheck.h"

namespace ipcspec::props {

// `lo` to `hi - 1` sends by actor 1, send i of a size drawn from `size`.
inline rc::Gen<std::vector<Step>> SendSteps(int lo, int hi, rc::Gen<uint64_t> size) {
  return rc::gen::exec([lo, hi, size] {
    std::vector<Step> steps;
    const int n = *rc::gen::inRange(lo, hi);
    for (int i = 0; i < n; ++i) steps.push_back(Step::Send(1, *size, i));
    return steps;
  });
}

// `lo` to `hi - 1` rounds; round i adds the steps `round(i)` draws (called
// while the scenario is generated, so it may draw with *gen).
inline rc::Gen<std::vector<Step>> RoundSteps(int lo, int hi,
                                             std::function<std::vector<Step>(int i)> round) {
  return rc::gen::exec([lo, hi, round] {
    std::vector<Step> steps;
    const int n = *rc::gen::inRange(lo, hi);
    for (int i = 0; i < n; ++i) {
      for (const Step& st : round(i)) steps.push_back(st);
    }
    return steps;
  });
}

// The sizes of the scenario's sends, in step order.
inline std::vector<uint64_t> SizesOf(const Scenario& s) {
  std::vector<uint64_t> out;
  for (const Step& st : s.steps) {
    if (st.op == Op::kSend) out.push_back(st.size);
  }
  return out;
}

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_SEND_STEPS_H_
