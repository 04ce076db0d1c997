// EachInTurn: a run's examples take a parameter's cases in turn, so a run
// of at least as many examples as cases sees every one, at any seed. And
// G-WAKEUP's layouts are so taken: its default run sees each layout that
// applies, where a draw per example left one out of a quarter of the runs.
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/property.h"
#include "ipcspec/registry.h"
#include "properties/support/common.h"
#include "rapidcheck.h"
#include "rapidcheck/detail/Property.h"
#include "rapidcheck/detail/TestListener.h"

namespace ipcspec {
namespace {

class Silent : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

// What `draw` gives in each example of a passing run of `examples`, with
// the sizes a run of the engine's gives them.
template <typename T, typename Draw>
std::set<T> SeenInRun(int examples, uint64_t seed, const Draw& draw) {
  std::set<T> seen;
  rc::detail::TestParams params;
  params.seed = seed;
  params.maxSuccess = examples;
  params.maxSize = RunConfig{}.max_size;
  Silent silent;
  (void)rc::detail::checkProperty(rc::detail::toProperty([&] { seen.insert(draw()); }),
                                  rc::detail::TestMetadata{}, params, silent);
  return seen;
}

TEST(EachInTurnTest, EveryCaseComesInARunOfAsManyExamples) {
  for (uint64_t n = 1; n <= 12; ++n) {
    std::set<uint64_t> all;
    for (uint64_t i = 0; i < n; ++i) all.insert(i);
    for (int examples : {static_cast<int>(n), 10, 40}) {
      if (examples < static_cast<int>(n)) continue;
      for (uint64_t seed = 1; seed <= 3; ++seed) {
        const rc::Gen<uint64_t> gen = props::EachInTurn(n);
        EXPECT_EQ(SeenInRun<uint64_t>(examples, seed, [&] { return *gen; }), all)
            << n << " cases, " << examples << " examples, seed " << seed;
      }
    }
  }
}

TEST(EachInTurnTest, GWakeupSeesEveryLayoutInItsDefaultRun) {
  const Property* p = PropertyRegistry::Global().Find("G-WAKEUP");
  ASSERT_NE(p, nullptr);
  int transports = 0;
  for (const Transport* t : TransportRegistry::Global().All()) {
    if (!p->AppliesTo(*t).applies) continue;
    ++transports;
    const rc::Gen<std::vector<Step>> steps = p->Steps(*t);
    // The layout: the value of its one step.
    auto draw = [&] {
      const std::vector<Step> drawn = *steps;
      return drawn.size() == 1 ? drawn[0].size : ~uint64_t{0};
    };
    // A run of 101 examples takes every size once: every layout there is.
    const auto every = SeenInRun<uint64_t>(101, 1, draw);
    EXPECT_EQ(every.count(~uint64_t{0}), 0u) << t->name();
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      EXPECT_EQ(SeenInRun<uint64_t>(p->DefaultExamples(), seed, draw), every)
          << t->name() << " at seed " << seed;
    }
  }
  EXPECT_GT(transports, 10);
}

}  // namespace
}  // namespace ipcspec
