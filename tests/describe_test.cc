// Every counterexample reads as words: no step of any property's generated
// scenarios prints as "parameter N = V".
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/property.h"
#include "ipcspec/registry.h"
#include "rapidcheck.h"

namespace ipcspec {
namespace {

TEST(DescribeTest, EveryGeneratedStepIsWords) {
  for (const Property* p : PropertyRegistry::Global().All()) {
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
