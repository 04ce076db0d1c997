// Every counterexample reads as words: no step of any property's generated
// scenarios prints as "parameter N = V", and declared send words are used.
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

// A property that says every example is the same scenario (OneScenario,
// which a run takes as one example) draws the same steps at every seed and
// size, on every transport it applies to.
TEST(DescribeTest, AOneScenarioPropertyDrawsOneScenario) {
  int claimed = 0;
  for (const Property* p : PropertyRegistry::Global().All()) {
    if (!p->OneScenario()) continue;
    ++claimed;
    for (const Transport* t : TransportRegistry::Global().All()) {
      if (!p->AppliesTo(*t).applies) continue;
      const std::vector<Step> first = p->Steps(*t)(rc::Random(0), 0).value();
      for (int seed = 1; seed < 20; ++seed) {
        EXPECT_EQ(p->Steps(*t)(rc::Random(seed), seed * 5).value(), first)
            << p->id() << " on " << t->name() << " at seed " << seed;
      }
    }
  }
  EXPECT_GE(claimed, 2) << "G-VOLUME and G-TIMEOUT-RANGE";
}

// A property that declares SendWords says its send steps in them: the
// step's number and size, and with three conversions the actor first.
TEST(DescribeTest, SendStepsReadInTheirDeclaredWords) {
  const Property* udp = PropertyRegistry::Global().Find("INET-UDP-BOUNDARY");
  const Property* append = PropertyRegistry::Global().Find("FILE-APPEND");
  ASSERT_TRUE(udp != nullptr && append != nullptr);
  EXPECT_EQ(udp->DescribeStep(Step::Send(1, 100, 2)), "sendto of datagram 2: 100 bytes");
  EXPECT_EQ(append->DescribeStep(Step::Send(3, 1, 0)), "writer 3 appends record 0: 1 byte");
}

}  // namespace
}  // namespace ipcspec
