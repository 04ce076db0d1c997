// The "Kernel rules and their anchors" section of docs/spec.md.
#include "harness/cli/anchors.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "harness/cli/selection.h"

namespace ipcspec {
namespace {

std::string TableCell(const std::vector<std::string>& parts) {
  if (parts.empty()) return "—";
  return absl::StrReplaceAll(absl::StrJoin(parts, "; "), {{"|", "\\|"}});
}

int CountIn(const RuleArea& area, const std::vector<const Property*>& properties) {
  return static_cast<int>(std::count_if(properties.begin(), properties.end(), [&](auto* p) {
    const std::string family = PropertyFamily(p->id());
    return std::find(area.families.begin(), area.families.end(), family) != area.families.end();
  }));
}

}  // namespace

Anchors SplitReference(std::string_view reference) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= reference.size(); ++i) {
    const char c = i < reference.size() ? reference[i] : ';';
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
    if (c != ';' || depth > 0) continue;
    std::string_view piece = reference.substr(start, i - start);
    while (!piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    while (!piece.empty() && piece.back() == ' ') piece.remove_suffix(1);
    std::string part(piece);
    if (!part.empty()) parts.push_back(std::move(part));
    start = i + 1;
  }
  Anchors a;
  for (std::string& part : parts) {
    if (part.starts_with("gVisor ")) {
      a.gvisor.push_back(part.substr(7));
    } else if (part.starts_with("LTP ") || part.starts_with("Open POSIX ")) {
      a.suites.push_back(std::move(part));
    } else {
      a.other.push_back(std::move(part));
    }
  }
  return a;
}

bool IsMechanismRule(std::string_view id) {
  return !id.starts_with("G-") && !id.starts_with("MP-");
}

const std::vector<RuleArea>& RuleAreas() {
  static const std::vector<RuleArea> areas = {
      {"signals", {"SIG"}, 55},
      {"shared memory", {"SHM"}, 26},
      {"pipes and FIFOs, without splice", {"PIPE", "PIPE2", "FIFO"}, 35},
  };
  return areas;
}

std::string AnchorSection(const std::vector<const Property*>& properties) {
  std::vector<const Property*> rules;
  for (const Property* p : properties) {
    if (IsMechanismRule(p->id())) rules.push_back(p);
  }
  std::string out =
      "\n## Kernel rules and their anchors\n\n"
      "Each mechanism property (every ID but G-* and MP-*) and the tests of the same rule in\n"
      "gVisor (test/syscalls/linux) and in LTP or the Open POSIX Test Suite, split from the\n"
      "property's reference. \"—\" means that no such test checks that rule.\n\n"
      "| area | families | rules (one property each) | issue 13 asks for |\n|---|---|---|---|\n";
  for (const RuleArea& area : RuleAreas()) {
    std::vector<std::string> families(area.families.begin(), area.families.end());
    absl::StrAppendFormat(&out, "| %s | %s | %d | at least %d |\n", std::string(area.name),
                          absl::StrJoin(families, ", "), CountIn(area, rules), area.target);
  }
  absl::StrAppendFormat(&out, "| all mechanism rules | | %d | |\n", rules.size());
  out += "\n| ID | gVisor | LTP / Open POSIX | man page and other sources |\n|---|---|---|---|\n";
  for (const Property* p : rules) {
    const Anchors a = SplitReference(p->reference());
    absl::StrAppend(&out, "| ", std::string(p->id()), " | ", TableCell(a.gvisor), " | ",
                    TableCell(a.suites), " | ", TableCell(a.other), " |\n");
  }
  return out;
}

}  // namespace ipcspec
