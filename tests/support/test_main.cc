// The main() of every test binary (instead of GTest::gtest_main): isolation
// first, while the process is single-threaded (tests/support/isolation.h),
// then GoogleTest and GoogleMock. Listing the tests (gtest_discover_tests)
// needs no isolation.
#include <cstdio>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/isolation.h"

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) listing |= std::strcmp(argv[i], "--gtest_list_tests") == 0;
  if (!listing) {
    const ipcspec::testing::Isolation iso = ipcspec::testing::EnterTestIsolation();
    std::fprintf(stderr, "ipcspec test: %s\n", iso.how.c_str());
  }
  ::testing::InitGoogleMock(&argc, argv);
  return RUN_ALL_TESTS();
}
