#include "harness/cli/console.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "harness/cli/matrix.h"
#include "harness/cli/run_settings.h"
#include "harness/cli/text.h"

namespace ipcspec {
namespace {

std::string Clock(absl::Duration d) {
  const int64_t s = absl::ToInt64Seconds(d);
  return s >= 3600 ? absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                   : absl::StrFormat("%d:%02d", s / 60, s % 60);
}

std::string FirstLine(std::string_view s, size_t max) {
  std::string line(s.substr(0, s.find('\n')));
  if (line.size() > max) line = absl::StrCat(line.substr(0, max), "...");
  return line;
}

void PrintDetail(const ReportEntry& e, std::ostream& os) {
  const PropertyResult& p = e.result;
  os << "\n--- " << OutcomeName(p.outcome) << ": " << p.property << " on " << p.transport
     << " after " << Plural(p.examples, "example") << ", " << Plural(p.shrinks, "shrink")
     << " (seed " << e.seed << ")\n  " << p.message << "\n";
  if (!p.counterexample.empty()) {
    os << (p.shrinking_stopped ? "counterexample (its shrinking stopped at --shrink-time): "
                               : "minimal counterexample: ")
       << p.counterexample;
  }
  if (!p.output.empty()) {
    os << "case output (" << Plural(static_cast<int64_t>(p.output.size()), "byte") << "):\n"
       << TerminalSafe(p.output);
    if (p.output.back() != '\n') os << "\n";
  }
  if (!e.reproduce_command.empty()) os << "reproduce: " << e.reproduce_command << "\n";
}

}  // namespace

std::string Plural(int64_t n, std::string_view word) {
  return absl::StrFormat("%d %s%s", n, word, n == 1 ? "" : "s");
}

Console::Mode Console::DefaultMode() {
  return ::isatty(STDERR_FILENO) && std::getenv("CI") == nullptr ? kLive : kLines;
}

void Console::Start(const std::vector<PlannedPair>& planned, const RunReport& report,
                    int iteration) {
  expected_.clear();
  names_.clear();
  done_.assign(planned.size(), 0);
  finished_ = 0;
  for (const PlannedPair& p : planned) {
    expected_.push_back(ExamplesToRun(*p.property, p.config));
    names_.push_back(absl::StrFormat("%s on %s", p.property->id(), p.transport->name()));
    transport_width_ = std::max(transport_width_, p.transport->name().size());
    property_width_ = std::max(property_width_, p.property->id().size());
  }
  if (iteration > 1) {
    out_ << absl::StrFormat("\nrepeat %d (seed %d)\n", iteration,
                            IterationSeed(report.seed, iteration));
  }
  if (iteration == 1 && (verbose_ || planned.empty())) {
    for (const NotApplicable& n : report.not_applicable) {
      out_ << absl::StrFormat("not applicable: %-*s %-*s %s\n", transport_width_, n.transport,
                              property_width_, n.property, n.reason);
    }
  }
  out_.flush();
}

void Console::Progress(size_t index, int examples, bool shrinking) {
  if (index >= done_.size()) return;
  done_[index] = std::min(examples, expected_[index]);
  if (mode_ == kLive) DrawLive(index, shrinking);
}

void Console::DrawLive(size_t index, bool shrinking) {
  int64_t total = 0, done = 0;
  for (size_t i = 0; i < expected_.size(); ++i) total += expected_[i], done += done_[i];
  const absl::Duration elapsed = absl::Now() - start_;
  std::string eta = "?";
  if (done > 0) eta = Clock(elapsed * (static_cast<double>(total - done) / done));
  live_ << absl::StrFormat("\r\033[K[%d/%d cases, %d/%d properties, %s, %s elapsed, ETA %s] %s%s",
                           done, total, finished_, expected_.size(),
                           Plural(static_cast<int64_t>(failures_), "failure"), Clock(elapsed), eta,
                           index < names_.size() ? names_[index] : "",
                           shrinking ? " (shrinking a failure)" : "");
  live_.flush();
  live_drawn_ = true;
}

std::string Console::ResultLine(const ReportEntry& e) const {
  const PropertyResult& r = e.result;
  const int width = static_cast<int>(std::to_string(expected_.size()).size());
  return absl::StrFormat("[%*d/%d] %-*s %-*s %-11s %12s %8.2fs%s\n", width, finished_,
                         expected_.size(), transport_width_, r.transport, property_width_,
                         r.property, OutcomeName(r.outcome), Plural(r.examples, "example"),
                         absl::ToDoubleSeconds(r.duration),
                         r.outcome == Outcome::kPass || r.message.empty()
                             ? ""
                             : absl::StrCat("  ", FirstLine(r.message, 160)));
}

void Console::Finished(size_t index, const ReportEntry& e) {
  ++finished_;
  if (index < done_.size()) done_[index] = expected_[index];
  const bool failed = IsFailure(e.result.outcome);
  if (failed) ++failures_;
  if (mode_ == kLines || failed || verbose_) {
    if (live_drawn_) live_ << "\r\033[K" << std::flush;
    out_ << ResultLine(e) << std::flush;
  }
  if (mode_ == kLive) DrawLive(expected_.size(), false);
}

void Console::PrintFailureList(const RunReport& report, bool gtest_style) {
  for (const ReportEntry& e : report.results) {
    const PropertyResult& p = e.result;
    if (!IsFailure(p.outcome)) continue;
    if (gtest_style) {
      out_ << absl::StrFormat("[  FAILED  ] %s.%s (%s, seed %d)\n", p.transport, p.property,
                              OutcomeName(p.outcome), e.seed);
    } else {
      out_ << absl::StrFormat("  %-7s %-*s %-*s %s\n", OutcomeName(p.outcome), property_width_,
                              p.property, transport_width_, p.transport, FirstLine(p.message, 100));
    }
  }
}

void Console::End(const RunReport& report) {
  if (live_drawn_) live_ << "\r\033[K" << std::flush;
  out_ << "\n";
  PrintMatrix(BuildMatrix(report), out_);
  const Counts c = CountOutcomes(report);
  const int failures = c.failed + c.errors;
  if (failures > 0) {
    out_ << "\n" << Plural(failures, "failure") << ":\n";
    PrintFailureList(report, /*gtest_style=*/false);
    for (const ReportEntry& e : report.results) {
      if (IsFailure(e.result.outcome)) PrintDetail(e, out_);
    }
  }
  out_ << absl::StrFormat(
      "\nipcspec: %d passed, %d failed, %s, %d unsupported, %d not applicable%s in %.1fs "
      "(seed %d)\n",
      c.passed, c.failed, Plural(c.errors, "error"), c.unsupported, report.not_applicable.size(),
      report.not_applicable.empty() || verbose_ ? "" : " (--verbose shows why)",
      absl::ToDoubleSeconds(report.elapsed), report.seed);
  if (!report.stopped_by.empty()) {
    out_ << absl::StrFormat("ipcspec: stopped by %s after %d of %d property runs\n",
                            report.stopped_by, report.results.size(), report.planned);
  }
  if (failures > 0) {
    out_ << absl::StrFormat("[  FAILED  ] %s, listed below:\n", Plural(failures, "property run"));
    PrintFailureList(report, /*gtest_style=*/true);
  }
  out_.flush();
}

}  // namespace ipcspec
