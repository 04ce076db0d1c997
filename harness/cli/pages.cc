#include "harness/cli/pages.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "harness/cli/console.h"
#include "harness/cli/matrix.h"
#include "harness/cli/text.h"

namespace ipcspec {
namespace {

// Text from a plugin in a Markdown table cell or list item: one line, no
// markup of its own.
std::string MdText(std::string_view s) {
  std::string line = XmlEscape(s.substr(0, s.find('\n')));
  return absl::StrReplaceAll(line, {{"|", "\\|"}, {"`", "\\`"}, {"*", "\\*"}, {"_", "\\_"}});
}

std::string MdCell(const Cell* c) {
  if (c == nullptr) return "";
  if (!c->outcome) return "–";
  switch (*c->outcome) {
    case Outcome::kPass:
      return "✅";
    case Outcome::kUnsupported:
    case Outcome::kSkipped:
      return "unsupported";
    default:
      return absl::StrFormat("❌ %s", OutcomeName(*c->outcome));
  }
}

std::string MdMatrix(const Matrix& m) {
  const bool wide = m.properties.size() <= 12;
  const std::vector<std::string>& rows = wide ? m.transports : m.properties;
  const std::vector<std::string>& cols = wide ? m.properties : m.transports;
  std::string out = absl::StrCat("| ", wide ? "transport" : "property");
  for (const std::string& c : cols) absl::StrAppend(&out, " | ", MdText(c));
  out += " |\n|---";
  for (size_t i = 0; i < cols.size(); ++i) out += "|---";
  out += "|\n";
  for (const std::string& r : rows) {
    absl::StrAppend(&out, "| ", MdText(r));
    for (const std::string& c : cols) {
      absl::StrAppend(&out, " | ", MdCell(wide ? m.Find(r, c) : m.Find(c, r)));
    }
    out += " |\n";
  }
  return out;
}

const char* SvgColour(const Cell* c) { return LookOf(c).colour; }

std::string SvgLegend(int y) {
  std::vector<std::pair<const char*, std::string_view>> items;
  for (Outcome o : {Outcome::kPass, Outcome::kFail, Outcome::kCrashed, Outcome::kTimeout,
                    Outcome::kBroken, Outcome::kLeaked, Outcome::kUnsupported}) {
    const Cell cell{o, ""};
    items.emplace_back(LookOf(&cell).colour, OutcomeName(o));
  }
  const Cell not_applicable{std::nullopt, ""};
  items.emplace_back(LookOf(&not_applicable).colour, "does not apply");
  std::string out;
  int x = 10;
  for (const auto& [colour, word] : items) {
    absl::StrAppendFormat(&out,
                          "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                          "<text x=\"%d\" y=\"%d\">%s</text>\n",
                          x, y, colour, x + 16, y + 10, word);
    x += 30 + 7 * static_cast<int>(std::string_view(word).size());
  }
  return out;
}

}  // namespace

std::string SummaryMarkdown(const RunReport& r) {
  const Counts c = CountOutcomes(r);
  std::string out = absl::StrFormat(
      "## ipcspec: %d passed, %d failed, %s, %d unsupported\n\n"
      "Seed %d, %sipcspec %s; %s not apply.%s\n\n",
      c.passed, c.failed, Plural(c.errors, "error"), c.unsupported, r.seed,
      r.shard_total > 1 ? absl::StrFormat("shard %d of %d, ", r.shard_index + 1, r.shard_total)
                        : "",
      r.version,
      r.not_applicable.size() == 1 ? std::string("1 pair does")
                                   : absl::StrFormat("%d pairs do", r.not_applicable.size()),
      !r.stopped_by.empty()   ? absl::StrFormat(" **Stopped by %s after %d of %d property runs.**",
                                                r.stopped_by, r.results.size(), r.planned)
      : !r.incomplete.empty() ? absl::StrFormat(" **Incomplete: %s.**", r.incomplete)
                              : "");
  const Matrix m = BuildMatrix(r);
  if (!m.transports.empty()) out += MdMatrix(m);
  if (c.failed + c.errors == 0) return out;
  out += "\n### Failures\n\n";
  for (const ReportEntry& e : r.results) {
    const PropertyResult& p = e.result;
    if (!IsFailure(p.outcome)) continue;
    absl::StrAppend(&out, "- **", MdText(p.property), " on ", MdText(p.transport),
                    "**: ", std::string(OutcomeName(p.outcome)), " after ",
                    Plural(p.examples, "example"), ": ", MdText(p.message), "\n");
    if (!e.reproduce_command.empty()) {
      // A code block shows its text as it is: no entities, only a fence that
      // the command cannot close (ShellQuote keeps control bytes out).
      const std::string cmd = ValidUtf8(e.reproduce_command);
      const char* fence = cmd.find("```") == std::string::npos ? "```" : "~~~";
      absl::StrAppend(&out, "  ", fence, "sh\n  ", cmd, "\n  ", fence, "\n");
    }
  }
  return out;
}

std::string MatrixSvg(const RunReport& r) {
  const Matrix m = BuildMatrix(r);
  constexpr int kCell = 16, kGap = 2;
  size_t longest_property = 8, longest_transport = 9;
  for (const std::string& p : m.properties) longest_property = std::max(longest_property, p.size());
  for (const std::string& t : m.transports)
    longest_transport = std::max(longest_transport, t.size());
  const int left = 10 + 7 * static_cast<int>(longest_property);
  const int top = 10 + 6 * static_cast<int>(longest_transport);
  const int width = std::max<int>(left + static_cast<int>(m.transports.size()) * kCell + 10, 720);
  const int height = top + static_cast<int>(m.properties.size()) * kCell + 40;
  std::string out = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"monospace\" font-size=\"11\">\n<title>ipcspec: transport x property "
      "matrix</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
      width, height);
  for (size_t i = 0; i < m.transports.size(); ++i) {
    const int x = left + static_cast<int>(i) * kCell + kCell - 4;
    absl::StrAppendFormat(&out, "<text transform=\"translate(%d,%d) rotate(-60)\">%s</text>\n", x,
                          top - 4, XmlEscape(m.transports[i]));
  }
  for (size_t j = 0; j < m.properties.size(); ++j) {
    const int y = top + static_cast<int>(j) * kCell;
    absl::StrAppendFormat(&out, "<text x=\"10\" y=\"%d\">%s</text>\n", y + kCell - 5,
                          XmlEscape(m.properties[j]));
    for (size_t i = 0; i < m.transports.size(); ++i) {
      const Cell* c = m.Find(m.transports[i], m.properties[j]);
      const std::string what = c == nullptr ? "not selected"
                               : c->outcome ? absl::StrFormat("%s%s%s", OutcomeName(*c->outcome),
                                                              c->why.empty() ? "" : ": ", c->why)
                                            : absl::StrCat("does not apply: ", c->why);
      absl::StrAppendFormat(&out,
                            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
                            "<title>%s %s: %s</title></rect>\n",
                            left + static_cast<int>(i) * kCell, y, kCell - kGap, kCell - kGap,
                            SvgColour(c), XmlEscape(m.properties[j]), XmlEscape(m.transports[i]),
                            XmlEscape(what.substr(0, 300)));
    }
  }
  return out + SvgLegend(height - 24) + "</svg>\n";
}

}  // namespace ipcspec
