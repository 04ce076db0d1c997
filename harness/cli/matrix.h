// harness/cli/matrix.h: the transport x property matrix of a report, shared
// by the console, the Markdown summary and the SVG picture.
//
//   Matrix m = BuildMatrix(report);
//   const Cell* c = m.Find("pipe", "G-ORDER");   // nullptr: not selected
//   PrintMatrix(m, std::cout);                   // text, transposed when wide
#ifndef IPCSPEC_HARNESS_CLI_MATRIX_H_
#define IPCSPEC_HARNESS_CLI_MATRIX_H_

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "harness/cli/report.h"

namespace ipcspec {

struct Cell {
  std::optional<Outcome> outcome;  // empty: does not apply
  std::string why;                 // the failure message, or why it does not apply
};

struct Matrix {
  std::vector<std::string> transports, properties;  // in report order
  std::map<std::pair<std::string, std::string>, Cell> cells;
  const Cell* Find(const std::string& transport, const std::string& property) const;
};

// A row and a column for each transport and property with a result (a
// property that applies nowhere in the selection gets none); with --repeat,
// a pair's cell is its first failing iteration, else its last.
Matrix BuildMatrix(const RunReport& r);

// How a cell reads in the reports: its word in the text matrix ("ok",
// "FAIL", "CRASH", "HANG", "BROKEN", "LEAK", "unsup"; "-" when it does not
// apply, "" when not selected) and its colour in the SVG matrix.
struct CellLook {
  std::string_view word;
  const char* colour;
};
CellLook LookOf(const Cell* c);
std::string CellWord(const Cell* c);  // LookOf(c).word
extern const char kMatrixLegend[];

void PrintMatrix(const Matrix& m, std::ostream& os);

}  // namespace ipcspec

#endif  // IPCSPEC_HARNESS_CLI_MATRIX_H_
