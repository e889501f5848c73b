// Command-line checks shared by sf-train and sf-bench (CLI11 validators).
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <string>

namespace scopeflow::samples {

// A finite number > 0. The message names what is wrong ("'abc' is not a number", "must be a
// finite number > 0, got -5"), unlike CLI::PositiveNumber, which quotes its range up to
// DBL_MAX. `what` ("", "of GB/s") goes after "number".
inline CLI::Validator positive_finite(const std::string& what = "") {
  return CLI::Validator(
      [what](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size())
          return "'" + text + "' is not a number";
        if (!std::isfinite(v) || v <= 0)
          return "must be a finite number" + (what.empty() ? "" : " " + what) + " > 0, got " + text;
        return "";
      },
      "POSITIVE");
}

}  // namespace scopeflow::samples
