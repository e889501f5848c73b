// Output files of the command-line programs (sf-train's --json and --checkpoint_dir,
// sf-bench's --json and --dump_graph): checked when the flags are read, so a bad path fails
// before a long run instead of after it, and written whole or not at all, so an interrupted
// write never leaves a truncated file in place of the user's previous one.
#pragma once

#include <string>

namespace scopeflow::samples {

// InvalidArgumentError "<flag>: cannot write <path>: <why>" unless a file can be created or
// replaced at `path`: its folder exists and is writable, and `path` is not a folder. Writes
// nothing: an existing file stays as it is until write_file_atomically replaces it.
void check_output_file(const std::string& flag, const std::string& path);

// Creates `dir` (and its parents) when missing; InvalidArgumentError "<flag>: ..." when that
// fails or `dir` is not a writable folder.
void check_output_dir(const std::string& flag, const std::string& dir);

// Writes `text` to `path` through a temporary file in the same folder, renamed over `path`
// once complete. InvalidArgumentError naming `flag` and `path` when any step fails (the
// temporary file is removed; `path` keeps its previous contents).
void write_file_atomically(const std::string& flag, const std::string& path,
                           const std::string& text);

}  // namespace scopeflow::samples
