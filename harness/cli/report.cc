#include "harness/cli/report.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace ipcspec {
namespace {

std::string Cell(const PropertyResult& r) {
  switch (r.outcome) {
    case Outcome::kPass:
      return "ok";
    case Outcome::kFail:
      return "FAIL";
    case Outcome::kCrashed:
      return "CRASH";
    case Outcome::kTimeout:
      return "HANG";
    case Outcome::kBroken:
      return "BROKEN";
    case Outcome::kUnsupported:
      return "unsup";
    case Outcome::kLeaked:
      return "LEAK";
    case Outcome::kSkipped:
      return "-";
  }
  return "?";
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 forbids most control characters, even escaped.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

bool IsFailure(Outcome o) {
  return o == Outcome::kFail || o == Outcome::kCrashed || o == Outcome::kTimeout ||
         o == Outcome::kBroken || o == Outcome::kLeaked;
}

std::string JsonEscape(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void PrintMatrix(const RunReport& r, std::ostream& os) {
  std::vector<std::string> transports, properties;
  std::map<std::pair<std::string, std::string>, const PropertyResult*> cells;
  for (const PropertyResult& p : r.results) {
    if (std::find(transports.begin(), transports.end(), p.transport) == transports.end()) {
      transports.push_back(p.transport);
    }
    if (std::find(properties.begin(), properties.end(), p.property) == properties.end()) {
      properties.push_back(p.property);
    }
    cells[{p.transport, p.property}] = &p;
  }
  auto cell = [&](const std::string& t, const std::string& p) {
    auto it = cells.find({t, p});
    return it == cells.end() ? std::string() : Cell(*it->second);
  };
  const char* legend =
      "(ok pass, FAIL fail, CRASH crashed, HANG timeout, BROKEN set-up failed, LEAK leaked, "
      "unsup unsupported here, - does not apply)\n";
  if (properties.size() <= 12) {
    // A transport per row, a property per column.
    size_t name_width = 9;
    for (const std::string& t : transports) name_width = std::max(name_width, t.size());
    std::vector<size_t> widths;
    os << absl::StrFormat("%-*s", name_width, "transport");
    for (const std::string& p : properties) {
      widths.push_back(std::max<size_t>(p.size(), 6));
      os << "  " << absl::StrFormat("%-*s", widths.back(), p);
    }
    os << "\n";
    for (const std::string& t : transports) {
      os << absl::StrFormat("%-*s", name_width, t);
      for (size_t i = 0; i < properties.size(); ++i) {
        os << "  " << absl::StrFormat("%-*s", widths[i], cell(t, properties[i]));
      }
      os << "\n";
    }
    os << legend;
    return;
  }
  // Many properties: a property per row, numbered transport columns.
  for (size_t i = 0; i < transports.size(); ++i) {
    os << absl::StrFormat("%s[%d] %s", i ? "  " : "transports: ", i + 1, transports[i]);
  }
  os << "\n";
  size_t name_width = 8;
  for (const std::string& p : properties) name_width = std::max(name_width, p.size());
  os << absl::StrFormat("%-*s", name_width, "property");
  for (size_t i = 0; i < transports.size(); ++i)
    os << absl::StrFormat(" %-6s", absl::StrCat("[", i + 1, "]"));
  os << "\n";
  for (const std::string& p : properties) {
    os << absl::StrFormat("%-*s", name_width, p);
    for (const std::string& t : transports) os << absl::StrFormat(" %-6s", cell(t, p));
    os << "\n";
  }
  os << legend;
}

void PrintFailures(const RunReport& r, std::ostream& os) {
  for (size_t i = 0; i < r.results.size(); ++i) {
    const PropertyResult& p = r.results[i];
    if (!IsFailure(p.outcome)) continue;
    os << "\n"
       << OutcomeName(p.outcome) << ": " << p.property << " on " << p.transport << " after "
       << p.examples << " examples, " << p.shrinks << " shrinks\n  " << p.message << "\n";
    if (!p.counterexample.empty()) os << "minimal counterexample: " << p.counterexample;
    if (!p.output.empty()) {
      os << "case output (" << p.output.size() << " bytes):\n" << p.output;
      if (p.output.back() != '\n') os << "\n";
    }
    if (!r.reproduce_commands[i].empty()) os << "reproduce: " << r.reproduce_commands[i] << "\n";
  }
}

std::string ToJson(const RunReport& r) {
  int passed = 0, failed = 0, skipped = 0;
  std::string out = absl::StrFormat("{\"seed\":%d,\"results\":[", r.seed);
  for (size_t i = 0; i < r.results.size(); ++i) {
    const PropertyResult& p = r.results[i];
    if (p.outcome == Outcome::kPass)
      ++passed;
    else if (IsFailure(p.outcome))
      ++failed;
    else
      ++skipped;
    absl::StrAppendFormat(
        &out,
        "%s{\"transport\":%s,\"property\":%s,\"outcome\":%s,\"examples\":%d,\"duration_ms\":%d,"
        "\"message\":%s,\"reproduce\":%s,\"counterexample\":%s}",
        i ? "," : "", JsonEscape(p.transport), JsonEscape(p.property),
        JsonEscape(OutcomeName(p.outcome)), p.examples, absl::ToInt64Milliseconds(p.duration),
        JsonEscape(p.message), JsonEscape(r.reproduce_commands[i]), JsonEscape(p.counterexample));
  }
  absl::StrAppendFormat(&out, "],\"summary\":{\"passed\":%d,\"failed\":%d,\"skipped\":%d}}\n",
                        passed, failed, skipped);
  return out;
}

std::string ToJunit(const RunReport& r) {
  std::map<std::string, std::vector<size_t>> by_transport;
  for (size_t i = 0; i < r.results.size(); ++i) by_transport[r.results[i].transport].push_back(i);
  int tests = 0, failures = 0, skipped = 0;
  std::string suites;
  for (const auto& [transport, idx] : by_transport) {
    int f = 0, s = 0;
    double secs = 0;
    std::string cases;
    for (size_t i : idx) {
      const PropertyResult& p = r.results[i];
      secs += absl::ToDoubleSeconds(p.duration);
      absl::StrAppendFormat(
          &cases, "    <testcase classname=\"ipcspec.%s\" name=\"%s\" time=\"%.3f\">",
          XmlEscape(transport), XmlEscape(p.property), absl::ToDoubleSeconds(p.duration));
      if (IsFailure(p.outcome)) {
        ++f;
        absl::StrAppendFormat(
            &cases, "\n      <failure type=\"%s\" message=\"%s\">%s%s%s</failure>\n    ",
            OutcomeName(p.outcome), XmlEscape(p.message), XmlEscape(p.counterexample),
            XmlEscape(p.output),
            XmlEscape(r.reproduce_commands[i].empty() ? ""
                                                      : "reproduce: " + r.reproduce_commands[i]));
      } else if (p.outcome != Outcome::kPass) {
        ++s;
        absl::StrAppendFormat(&cases, "<skipped message=\"%s: %s\"/>", OutcomeName(p.outcome),
                              XmlEscape(p.message));
      }
      cases += "</testcase>\n";
    }
    tests += static_cast<int>(idx.size());
    failures += f;
    skipped += s;
    absl::StrAppendFormat(&suites,
                          "  <testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"0\" "
                          "skipped=\"%d\" time=\"%.3f\">\n%s  </testsuite>\n",
                          XmlEscape(transport), idx.size(), f, s, secs, cases);
  }
  return absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ipcspec\" tests=\"%d\" "
      "failures=\"%d\" errors=\"0\" skipped=\"%d\" time=\"%.3f\">\n%s</testsuites>\n",
      tests, failures, skipped, absl::ToDoubleSeconds(r.elapsed), suites);
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  FileDescriptor fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return ErrnoStatus("open", path);
  if (int rc = WriteFull(fd.get(), contents.data(), contents.size()); rc != 0) {
    return ErrnoStatus("write", path, -rc);
  }
  return absl::OkStatus();
}

}  // namespace ipcspec
