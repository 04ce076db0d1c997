// harness/cli/pages.h: a report for people to look at rather than parse.
//
// SummaryMarkdown is for $GITHUB_STEP_SUMMARY (or any Markdown page): the
// counts, the transport x property matrix and every failure with its
// reproduce command. MatrixSvg draws the same matrix as coloured squares
// (each with its outcome and message as a tooltip).
//
//   WriteFileAtomically(flags.Get("summary-md"), SummaryMarkdown(report));
//   WriteFileAtomically("matrix.svg", MatrixSvg(report));
#ifndef IPCSPEC_HARNESS_CLI_PAGES_H_
#define IPCSPEC_HARNESS_CLI_PAGES_H_

#include <string>

#include "harness/cli/report.h"

namespace ipcspec {

std::string SummaryMarkdown(const RunReport& r);
std::string MatrixSvg(const RunReport& r);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_PAGES_H_
