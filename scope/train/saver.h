// sf::train::Saver: checkpoints as safetensors files keyed by variable name
// ("conv1/weights"), readable by numpy / PyTorch / JAX. Writes are atomic (temporary file,
// fsync, rename, fsync of the folder), each tensor carries a CRC-32 in the metadata, and
// restore checks names, dtypes, shapes and checksums, saying exactly what does not match.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/session/session.h"
#include "scope/variable.h"

namespace scopeflow::train {

struct SaverOptions {
  // Default: every global variable. A partitioned variable (and its shards' optimizer slots)
  // is saved whole under its own name ("emb/w", "emb/w/Adam"), assembled from its shards, as
  // TF saves it; restore() cuts it for whatever partitioning the graph has, or none, and also
  // reads files written shard by shard ("emb/w/part_0"). A var_list naming only some shards of
  // a variable saves those under their own names.
  std::optional<std::vector<Variable>> var_list = {};
  // TF's dict form of var_list: each variable saved and restored under the given name (a
  // checkpoint name -> variable map; a partitioned variable is saved whole under its name).
  // Exclusive with var_list.
  std::optional<std::map<std::string, Variable>> var_dict = {};
  int max_to_keep = 5;  // older checkpoints are deleted; 0: keep all
};

class Saver {
 public:
  explicit Saver(const SaverOptions& options = {});
  // Writes `save_path` (+ "-<global_step>" when given) + ".safetensors" and returns its path;
  // records it in "<folder>/checkpoint". FailedPreconditionError for an uninitialized variable.
  std::string save(Session& sess, const std::string& save_path,
                   std::optional<std::int64_t> global_step = {});
  // Loads a file written by save() (the path save() returned).
  void restore(Session& sess, const std::string& path);
  // TF's recover_last_checkpoints: take over the checkpoints an earlier Saver kept (oldest
  // first, e.g. get_checkpoint_state(dir)->all_model_checkpoint_paths), so that max_to_keep
  // deletes them in turn and "checkpoint" keeps listing them. Paths already kept are moved to
  // the end, never listed twice.
  void recover_last_checkpoints(const std::vector<std::string>& paths);
  // The checkpoints this Saver keeps, oldest first (TF's last_checkpoints).
  const std::vector<std::string>& last_checkpoints() const { return kept_; }

 private:
  std::vector<Variable> vars() const;
  SaverOptions options_;
  std::vector<std::string> kept_;
};

// The newest checkpoint recorded in `dir`/checkpoint, or "" when there is none (or the file
// cannot be read: TF's latest_checkpoint returns None then too).
std::string latest_checkpoint(const std::string& dir);

// TF's get_checkpoint_state: what `dir`/checkpoint records, paths joined to `dir`; nullopt
// when there is no such file or it cannot be read.
struct CheckpointState {
  std::string model_checkpoint_path;
  std::vector<std::string> all_model_checkpoint_paths;  // oldest first
};
std::optional<CheckpointState> get_checkpoint_state(const std::string& dir);

}  // namespace scopeflow::train
