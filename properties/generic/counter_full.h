// properties/generic/counter_full.h: G-BACKPRESSURE's layout for a counter
// (IPCSPEC_COUNTER), whose room is its largest value, 0xfffffffffffffffe:
// an add that would pass it waits for a receive, and nothing else is
// refused.
#ifndef IPCSPEC_PROPERTIES_GENERIC_COUNTER_FULL_H_
#define IPCSPEC_PROPERTIES_GENERIC_COUNTER_FULL_H_

#include <cstdint>

#include "properties/generic/generic_property.h"

namespace ipcspec::props {

// The writer adds max - `below` to the empty counter, then without waiting
// adds below + 1 (one past the maximum: -EAGAIN), `below` (exactly to it),
// 1 (-EAGAIN) and 0 (taken by a full counter), then 1 with no bound, which
// must wait until the reader, once the writer sleeps in it, takes the sum:
// the maximum exactly; then it takes the 1.
Verdict RunCounterFull(const Transport& t, const CaseEnv& env, uint64_t below);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_GENERIC_COUNTER_FULL_H_
