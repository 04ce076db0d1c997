// harness/cli/anchors.h: the spec page's "Kernel rules and their anchors"
// section. Each mechanism property (every ID but G-* and MP-*) already names
// its anchors in reference(), as ';'-separated parts: "gVisor <file> <tests>",
// "LTP <file>", "Open POSIX <file>", and the rest (man pages, POSIX, kernel
// source, books). SplitReference sorts those parts into the table's columns,
// so the anchors are written once, in the property, and the table cannot
// drift from what `list` prints.
//
//   SplitReference("pipe(7); gVisor test/syscalls/linux/pipe.cc PipeTest.Flags; "
//                  "LTP testcases/kernel/syscalls/pipe2/pipe2_01.c")
//     == {.gvisor = {"test/syscalls/linux/pipe.cc PipeTest.Flags"},
//         .suites = {"LTP testcases/kernel/syscalls/pipe2/pipe2_01.c"},
//         .other = {"pipe(7)"}}
#ifndef IPCSPEC_HARNESS_CLI_ANCHORS_H_
#define IPCSPEC_HARNESS_CLI_ANCHORS_H_

#include <string>
#include <string_view>
#include <vector>

#include "ipcspec/property.h"

namespace ipcspec {

struct Anchors {
  std::vector<std::string> gvisor;  // "test/syscalls/linux/<file>.cc Suite.Test, ..."
  std::vector<std::string> suites;  // "LTP testcases/...", "Open POSIX conformance/..."
  std::vector<std::string> other;   // man pages, POSIX, kernel source, books
};

// The parts of `reference`, split at the ';' that are outside parentheses.
Anchors SplitReference(std::string_view reference);

// True for a property that states a kernel (mechanism) rule: not G-*, not MP-*.
bool IsMechanismRule(std::string_view id);

// One rule-count row: the families of an area and what issue 13 asks of it.
struct RuleArea {
  std::string_view name;
  std::vector<std::string_view> families;  // PropertyFamily() values
  int target;
};
const std::vector<RuleArea>& RuleAreas();

// The Markdown section: the rule counts per area, then one row per
// mechanism property: ID | gVisor | LTP / Open POSIX | man page and other sources.
std::string AnchorSection(const std::vector<const Property*>& properties);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_ANCHORS_H_
