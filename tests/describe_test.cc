// Every counterexample reads as words: no step of any property's generated
// scenarios prints as "parameter N = V".
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/property.h"
#include "ipcspec/registry.h"
#include "rapidcheck.h"

namespace ipcspec {
namespace {

// Properties whose parameters are not declared with properties/support/
// property_base.h's Param<T> yet. This list only shrinks.
const std::set<std::string> kNotYetInWords = {
    "SIG-BLOCK",
    "SIG-COALESCE",
    "SIG-DEFAULT",
    "SIG-EXEC",
    "SIG-FORK",
    "SIG-HANDLE-INFO",
    "SIG-IGNORE-BLOCKED",
    "SIG-MODEL",
    "SIG-NODEFER",
    "SIG-RESETHAND",
    "SIG-RESTART",
    "SIG-RT-LIMIT",
    "SIG-RT-QUEUE",
    "SIG-SA-MASK",
    "SIG-UNCATCHABLE",
};

TEST(DescribeTest, EveryGeneratedStepIsWords) {
  for (const Property* p : PropertyRegistry::Global().All()) {
    if (kNotYetInWords.count(std::string(p->id())) != 0) continue;
    for (const Transport* t : TransportRegistry::Global().All()) {
      if (!p->AppliesTo(*t).applies) continue;
      for (int seed = 0; seed < 20; ++seed) {
        Scenario s{std::string(p->id()), std::string(t->name()),
                   p->Steps(*t)(rc::Random(seed), 50).value()};
        EXPECT_THAT(p->DescribeSteps(s), ::testing::Not(::testing::HasSubstr("parameter ")))
            << p->id() << " on " << t->name();
      }
    }
  }
}

}  // namespace
}  // namespace ipcspec
