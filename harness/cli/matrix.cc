#include "harness/cli/matrix.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ipcspec {
namespace {

void AddName(std::vector<std::string>* names, const std::string& n) {
  if (std::find(names->begin(), names->end(), n) == names->end()) names->push_back(n);
}

void PrintWide(const Matrix& m, std::ostream& os) {
  size_t name_width = 9;
  for (const std::string& t : m.transports) name_width = std::max(name_width, t.size());
  std::vector<size_t> widths;
  os << absl::StrFormat("%-*s", name_width, "transport");
  for (const std::string& p : m.properties) {
    widths.push_back(std::max<size_t>(p.size(), 6));
    os << "  " << absl::StrFormat("%-*s", widths.back(), p);
  }
  os << "\n";
  for (const std::string& t : m.transports) {
    os << absl::StrFormat("%-*s", name_width, t);
    for (size_t i = 0; i < m.properties.size(); ++i) {
      os << "  " << absl::StrFormat("%-*s", widths[i], CellWord(m.Find(t, m.properties[i])));
    }
    os << "\n";
  }
}

// Many properties: a property per row, numbered transport columns.
void PrintTall(const Matrix& m, std::ostream& os) {
  for (size_t i = 0; i < m.transports.size(); ++i) {
    os << absl::StrFormat("%s[%d] %s", i ? "  " : "transports: ", i + 1, m.transports[i]);
  }
  os << "\n";
  size_t name_width = 8;
  for (const std::string& p : m.properties) name_width = std::max(name_width, p.size());
  os << absl::StrFormat("%-*s", name_width, "property");
  for (size_t i = 0; i < m.transports.size(); ++i) {
    os << absl::StrFormat(" %-6s", absl::StrCat("[", i + 1, "]"));
  }
  os << "\n";
  for (const std::string& p : m.properties) {
    os << absl::StrFormat("%-*s", name_width, p);
    for (const std::string& t : m.transports)
      os << absl::StrFormat(" %-6s", CellWord(m.Find(t, p)));
    os << "\n";
  }
}

}  // namespace

const char kMatrixLegend[] =
    "(ok pass, FAIL fail, CRASH crashed, HANG timeout, BROKEN set-up failed, LEAK leaked, "
    "unsup unsupported here, - does not apply)\n";

const Cell* Matrix::Find(const std::string& transport, const std::string& property) const {
  auto it = cells.find({transport, property});
  return it == cells.end() ? nullptr : &it->second;
}

Matrix BuildMatrix(const RunReport& r) {
  Matrix m;
  for (const ReportEntry& e : r.results) {
    AddName(&m.transports, e.result.transport);
    AddName(&m.properties, e.result.property);
    Cell& c = m.cells[{e.result.transport, e.result.property}];
    if (c.outcome && IsFailure(*c.outcome)) continue;
    c.outcome = e.result.outcome;
    c.why = e.result.message;
  }
  std::sort(m.properties.begin(), m.properties.end());  // the registry's order
  for (const NotApplicable& n : r.not_applicable) {
    m.cells[{n.transport, n.property}] = Cell{std::nullopt, n.reason};
  }
  return m;
}

CellLook LookOf(const Cell* c) {
  // In Outcome's order.
  static constexpr CellLook kLooks[] = {
      {"ok", "#2da44e"},     {"FAIL", "#cf222e"},  {"CRASH", "#82071e"}, {"HANG", "#bf8700"},
      {"BROKEN", "#8250df"}, {"unsup", "#8c959f"}, {"LEAK", "#953800"},  {"-", "#8c959f"}};
  static_assert(std::size(kLooks) == static_cast<size_t>(Outcome::kSkipped) + 1);
  if (c == nullptr) return {"", "#ffffff"};
  if (!c->outcome) return {"-", "#eaeef2"};  // does not apply
  const auto i = static_cast<size_t>(*c->outcome);
  return i < std::size(kLooks) ? kLooks[i] : CellLook{"?", "#8c959f"};
}

std::string CellWord(const Cell* c) { return std::string(LookOf(c).word); }

void PrintMatrix(const Matrix& m, std::ostream& os) {
  if (m.transports.empty()) return;
  if (m.properties.size() <= 12) {
    PrintWide(m, os);
  } else {
    PrintTall(m, os);
  }
  os << kMatrixLegend;
}

}  // namespace ipcspec
