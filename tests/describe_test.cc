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
    "FIFO-EINTR",
    "FIFO-ENXIO",
    "FIFO-RDWR",
    "FIFO-RENDEZVOUS",
    "G-BOUNDARY",
    "G-EOF",
    "G-FANIN",
    "G-FORK",
    "G-MULTI-WRITER",
    "G-PEER-CRASH",
    "G-PEER-GONE",
    "PIPE-ATOMIC",
    "PIPE-EAGAIN",
    "PIPE-EBADF",
    "PIPE-EOF",
    "PIPE-EPIPE",
    "PIPE-ESPIPE",
    "PIPE-PARTIAL",
    "PIPE-PARTIAL-CLOSED",
    "PIPE-SETPIPE-SZ",
    "PIPE-WAKE-ALL",
    "SHM-CREATE-EXCL",
    "SHM-FORK",
    "SHM-MAP-PRIVATE",
    "SHM-NATTCH",
    "SHM-OPEN-SIZE0",
    "SHM-PUBLISH-ATOMIC",
    "SHM-PUBLISH-SEM",
    "SHM-RMID-ATTACHED",
    "SHM-SEGV",
    "SHM-UNLINK-MAPPED",
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
