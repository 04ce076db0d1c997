// tests/support/run_property.h: one property run on one registered
// transport from a test, each case in a sandboxed child (DirectRunner), with
// a test failure when either is not registered.
//
//   RunConfig config;
//   config.seed = 42;
//   PropertyResult r = RunRegistered("pipe", "G-ORDER", config, absl::Seconds(5));
//   EXPECT_EQ(r.outcome, Outcome::kPass) << r.message;
#ifndef IPCSPEC_TESTS_SUPPORT_RUN_PROPERTY_H_
#define IPCSPEC_TESTS_SUPPORT_RUN_PROPERTY_H_

#include <string_view>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/registry.h"
#include "ipcspec/sandbox.h"
#include "tests/support/broken_transports.h"

namespace ipcspec::testing {

// `property` on `transport` under `config`, each case bounded by `timeout`.
// A name that is not registered fails the test and gives a kBroken result.
inline PropertyResult RunRegistered(std::string_view transport, std::string_view property,
                                    const RunConfig& config, absl::Duration timeout) {
  const Transport* t = TransportRegistry::Global().Find(transport);
  const Property* p = PropertyRegistry::Global().Find(property);
  if (t == nullptr || p == nullptr) {
    ADD_FAILURE() << "no transport " << transport << " or no property " << property;
    return {.outcome = Outcome::kBroken};
  }
  SandboxOptions o;
  o.timeout = timeout;
  DirectRunner runner(o);
  return RunProperty(*t, *p, config, runner);
}

// A suite whose tests use the broken transports (broken_transports.h): they
// are registered once, before its first test.
class BrokenTransportsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegisterBrokenTransports(); }
};

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_RUN_PROPERTY_H_
