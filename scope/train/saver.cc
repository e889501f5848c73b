// Saver: safetensors checkpoints. See saver.h. Format: 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the data.
#include "scope/train/saver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "devices/base/errors.h"

namespace scopeflow::train {
namespace {

namespace fs = std::filesystem;

const char* st_dtype(DType d) {
  switch (d) {
    case DType::kFloat32: return "F32";
    case DType::kFloat64: return "F64";
    case DType::kFloat16: return "F16";
    case DType::kBFloat16: return "BF16";
    case DType::kInt8: return "I8";
    case DType::kUInt8: return "U8";
    case DType::kInt32: return "I32";
    case DType::kInt64: return "I64";
    case DType::kBool: return "BOOL";
    default: throw InvalidArgumentError(str_cat("Saver: cannot store ", dtype_name(d), " tensors"));
  }
}

std::string crc_hex(const void* data, std::size_t n) {
  // In chunks: zlib's length is a 32-bit uInt, and a tensor may be 4 GiB or more.
  uLong c = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  for (std::size_t done = 0; done < n;) {
    const std::size_t chunk = std::min<std::size_t>(n - done, std::size_t{1} << 30);
    c = crc32(c, p + done, static_cast<uInt>(chunk));
    done += chunk;
  }
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08lx", static_cast<unsigned long>(c));
  return buf;
}

void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) throw UnavailableError(str_cat("Saver: cannot open ", path, " to sync it"));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw UnavailableError(str_cat("Saver: fsync of ", path, " failed"));
}

// Writes `bytes` to `path` atomically: a temporary file of its own in the same folder (never
// one another writer or a link could share), synced, renamed over `path`, the folder synced.
// On any failure the temporary file is removed and `path` keeps what it had.
void write_atomically(const std::string& path, const std::string& bytes) {
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    throw UnavailableError(str_cat("Saver: cannot write ", path,
                                   ": cannot create a temporary file ",
                                   "beside it: ", std::strerror(errno)));
  auto fail = [&](const std::string& what) {
    ::unlink(tmp.c_str());
    throw UnavailableError(str_cat("Saver: ", what));
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      fail(str_cat("writing ", path, " failed (", why, ")"));
    }
    done += static_cast<std::size_t>(w);
  }
  // mkstemp's 0600, widened as a file created with the process's umask would be.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0 || ::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    fail(str_cat("writing ", path, " failed (", why, ")"));
  }
  if (::close(fd) != 0) fail(str_cat("writing ", path, " failed (", std::strerror(errno), ")"));
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fail(str_cat("cannot rename ", tmp, " to ", path, ": ", ec.message()));
  fsync_path(fs::absolute(path).parent_path().string(), true);
}

std::string var_key(const Variable& v) { return v.op().name(); }

// One tensor of a checkpoint: a variable of its own, or a whole partitioned variable (or a
// shard's optimizer slot) assembled from the slices that name it in their SaveSliceInfo, as
// TF's Saver writes them ("emb/w", not "emb/w/part_0"), so that it restores into any
// partitioning, or none.
struct Entry {
  std::string key;
  DType dtype = DType::kInvalid;
  Shape shape;
  std::vector<Variable> slices;  // empty: `var` is the whole tensor
  std::optional<Variable> var;
};

std::vector<Entry> entries_of(const std::vector<Variable>& vars) {
  std::vector<Entry> out;
  std::map<std::string, std::size_t> whole;  // full_name -> index in out
  for (const auto& v : vars) {
    const auto& info = v.save_slice_info();
    if (!info) {
      out.push_back({var_key(v), v.dtype(), v.shape(), {}, v});
      continue;
    }
    auto [it, fresh] = whole.emplace(info->full_name, out.size());
    if (fresh) out.push_back({info->full_name, v.dtype(), info->full_shape, {}, std::nullopt});
    out[it->second].slices.push_back(v);
  }
  // A whole variable only some of whose slices are in the list (a var_list naming one shard)
  // cannot be written whole: those slices are saved under their own names.
  std::vector<Entry> result;
  for (auto& e : out) {
    if (e.slices.empty()) {
      result.push_back(std::move(e));
      continue;
    }
    std::int64_t covered = 0;
    bool same_dtype = true;
    for (const auto& v : e.slices) {
      covered += v.shape().num_elements();
      same_dtype = same_dtype && v.dtype() == e.dtype;
    }
    if (covered == e.shape.num_elements() && same_dtype) {
      result.push_back(std::move(e));
    } else {
      for (const auto& v : e.slices) result.push_back({var_key(v), v.dtype(), v.shape(), {}, v});
    }
  }
  return result;
}

// Copies a slice (`slice_dims` at `offset`) between its own row-major buffer and the whole
// row-major tensor of `full_dims`: into the whole when `to_full`, out of it otherwise.
void copy_slice(char* full, const std::vector<std::int64_t>& full_dims, char* slice,
                const std::vector<std::int64_t>& offset,
                const std::vector<std::int64_t>& slice_dims, std::size_t element_size,
                bool to_full) {
  const std::size_t rank = full_dims.size();
  if (rank == 0) {
    to_full ? std::memcpy(full, slice, element_size) : std::memcpy(slice, full, element_size);
    return;
  }
  for (std::int64_t d : slice_dims)
    if (d == 0) return;
  std::vector<std::int64_t> stride(rank, 1);  // of the whole, in elements
  for (std::size_t d = rank - 1; d > 0; --d) stride[d - 1] = stride[d] * full_dims[d];
  const std::size_t run = static_cast<std::size_t>(slice_dims[rank - 1]) * element_size;
  std::int64_t runs = 1;
  for (std::size_t d = 0; d + 1 < rank; ++d) runs *= slice_dims[d];
  std::vector<std::int64_t> idx(rank, 0);  // of the run's first element in the slice
  for (std::int64_t r = 0; r < runs; ++r) {
    std::int64_t at = 0;
    for (std::size_t d = 0; d < rank; ++d) at += (idx[d] + offset[d]) * stride[d];
    char* whole = full + static_cast<std::size_t>(at) * element_size;
    char* part = slice + static_cast<std::size_t>(r) * run;
    to_full ? std::memcpy(whole, part, run) : std::memcpy(part, whole, run);
    for (std::size_t d = rank - 1; d-- > 0;) {  // next index over the leading dimensions
      if (++idx[d] < slice_dims[d]) break;
      idx[d] = 0;
    }
  }
}

// What a checkpoint holds for `options` (`vars`: the variables of a var_list or the default).
std::vector<Entry> entries(const SaverOptions& options, const std::vector<Variable>& vars) {
  if (!options.var_dict) return entries_of(vars);
  if (options.var_dict->empty()) throw ValueError("No variables to save");
  std::vector<Entry> out;
  for (const auto& [name, v] : *options.var_dict) {
    if (v.is_partitioned())
      out.push_back({name, v.dtype(), v.shape(), v.partitions(), std::nullopt});
    else
      out.push_back({name, v.dtype(), v.shape(), {}, v});
  }
  return out;
}

}  // namespace

Saver::Saver(const SaverOptions& options) : options_(options) {
  if (options_.max_to_keep < 0) throw ValueError("Saver: max_to_keep must be >= 0");
  if (options_.var_list && options_.var_dict)
    throw ValueError("Saver: give var_list or var_dict, not both");
  if (options_.var_dict)
    for (const auto& [name, v] : *options_.var_dict)
      if (name.empty()) throw ValueError(str_cat("Saver: var_dict names ", v.name(), " \"\""));
}

std::vector<Variable> Saver::vars() const {
  // A partitioned variable stands for its shards (entries() writes them back whole).
  std::vector<Variable> v =
      options_.var_list ? flatten_partitions(*options_.var_list) : global_variables();
  if (v.empty()) throw ValueError("No variables to save");
  // TF's Saver refuses a var_list naming a variable twice (a partitioned variable and one of
  // its shards, say): the second would overwrite the first, or fill a whole tensor's slice
  // twice and leave another unwritten.
  std::set<std::string> seen;
  for (const auto& x : v)
    if (!seen.insert(var_key(x)).second)
      throw ValueError(str_cat("At least two variables have the same name: ", var_key(x)));
  return v;
}

std::string Saver::save(Session& sess, const std::string& save_path,
                        std::optional<std::int64_t> global_step) {
  const std::string path =
      fs::path(save_path + (global_step ? str_cat("-", *global_step) : std::string()) +
               ".safetensors")
          .lexically_normal()
          .string();
  nlohmann::json header = nlohmann::json::object();
  nlohmann::json meta = {{"format", "pt"}, {"writer", "scopeflow"}};
  std::string data;
  auto value_of = [&](const Variable& v) {
    Tensor t = sess.variable_value(var_key(v));
    if (!t.initialized())
      throw FailedPreconditionError(
          str_cat("Saver: attempting to save uninitialized variable ", var_key(v)));
    return t.on_host() ? t : t.to(devices::host_device());
  };
  for (const auto& e : entries(options_, options_.var_dict ? std::vector<Variable>{} : vars())) {
    Tensor t;
    if (e.var) {
      t = value_of(*e.var);
    } else {
      t = Tensor(e.dtype, e.shape);
      for (const auto& v : e.slices) {
        Tensor part = value_of(v);
        const auto& info = *v.save_slice_info();
        copy_slice(static_cast<char*>(t.raw_data()), e.shape.dims(),
                   static_cast<char*>(part.raw_data()), info.var_offset, part.shape().dims(),
                   dtype_size(e.dtype), /*to_full=*/true);
      }
    }
    const std::size_t begin = data.size();
    data.append(static_cast<const char*>(t.raw_data()), t.bytes());
    header[e.key] = {{"dtype", st_dtype(t.dtype())},
                     {"shape", t.shape().dims()},
                     {"data_offsets", {begin, data.size()}}};
    meta["crc32." + e.key] = crc_hex(t.raw_data(), t.bytes());
  }
  // The random ops' counters, so that a resumed run draws what an uninterrupted one would
  // (dropout masks). safetensors metadata values are strings: a JSON object as text.
  nlohmann::json counters = nlohmann::json::object();
  for (const auto& [name, offset] : sess.random_counters()) counters[name] = offset;
  meta["scopeflow.random_counters"] = counters.dump();
  header["__metadata__"] = meta;
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  std::string bytes(8, '\0');
  const std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i)
    bytes[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  bytes += h;
  bytes += data;
  const fs::path parent = fs::absolute(path).parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  write_atomically(path, bytes);

  // TF's _RecordLastCheckpoint: a path saved again moves to the end (it is the newest), never
  // counted twice, so trimming the list cannot delete the file just written.
  std::erase(kept_, path);
  kept_.push_back(path);
  std::vector<std::string> stale;
  if (options_.max_to_keep > 0)
    while (static_cast<int>(kept_.size()) > options_.max_to_keep) {
      stale.push_back(kept_.front());
      kept_.erase(kept_.begin());
    }
  nlohmann::json state = {{"model_checkpoint_path", fs::path(path).filename().string()},
                          {"all_model_checkpoint_paths", nlohmann::json::array()}};
  for (const auto& k : kept_)
    state["all_model_checkpoint_paths"].push_back(fs::path(k).filename().string());
  // The state first, then the deletions (TF's order): a crash in between leaves files the
  // state no longer lists, never a state naming a deleted file.
  write_atomically((parent / "checkpoint").string(), state.dump(1) + "\n");
  for (const auto& old : stale) fs::remove(old, ec);
  return path;
}

void Saver::restore(Session& sess, const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw InvalidArgumentError(str_cat("Saver: ", path, " is a folder, not a checkpoint file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NotFoundError(str_cat("Saver: checkpoint not found: ", path));
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  if (bytes.size() < 8)
    throw InvalidArgumentError(str_cat(path, ": too short to be a safetensors file"));
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  if (n > bytes.size() - 8)
    throw InvalidArgumentError(str_cat(path, ": header length ", n, " exceeds the file"));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(8, n));
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgumentError(str_cat(path, ": corrupt header: ", e.what()));
  }
  if (!header.is_object())
    throw InvalidArgumentError(str_cat(path, ": corrupt header: not a JSON object"));
  const char* data = bytes.data() + 8 + n;
  const std::size_t data_size = bytes.size() - 8 - n;
  const auto meta = header.value("__metadata__", nlohmann::json::object());
  if (!meta.is_object())
    throw InvalidArgumentError(str_cat(path, ": corrupt header: __metadata__ is not an object"));
  // The tensor stored under `key`, checked against what the graph wants (`what` names it).
  auto load_checked = [&](const std::string& key, DType dtype, const Shape& want_shape,
                          const std::string& what) -> Tensor {
    const auto& e = header[key];
    if (!e.is_object())
      throw InvalidArgumentError(str_cat(path, ": corrupt header entry for ", key,
                                         ": not an object with dtype, shape and data_offsets"));
    if (e.value("dtype", "") != st_dtype(dtype))
      throw InvalidArgumentError(str_cat(path, ": ", key, " is ", e.value("dtype", "?"),
                                         " in the file, ", what, " is ", dtype_name(dtype)));
    const auto dims = e.at("shape").get<std::vector<std::int64_t>>();
    for (std::int64_t d : dims)
      if (d < 0)
        throw InvalidArgumentError(
            str_cat(path, ": ", key, " has a negative dimension ", d, " in the file"));
    const Shape shape(dims);
    if (!(shape == want_shape))
      throw InvalidArgumentError(str_cat(path, ": ", key, " has shape ", shape.to_string(),
                                         " in the file, ", what, " has shape ",
                                         want_shape.to_string()));
    const auto off = e.at("data_offsets").get<std::vector<std::size_t>>();
    Tensor t(dtype, shape);
    if (off.size() != 2 || off[0] > off[1] || off[1] > data_size || off[1] - off[0] != t.bytes())
      throw InvalidArgumentError(
          str_cat(path, ": ", key, ": data offsets out of range or the wrong size"));
    std::memcpy(t.raw_data(), data + off[0], t.bytes());
    const std::string want = meta.value("crc32." + key, "");
    if (!want.empty() && want != crc_hex(t.raw_data(), t.bytes()))
      throw InvalidArgumentError(
          str_cat(path, ": checksum mismatch for ", key, " (file corrupted)"));
    return t;
  };
  auto load = [&](const std::string& key, DType dtype, const Shape& want_shape,
                  const std::string& what) {
    try {
      return load_checked(key, dtype, want_shape, what);
    } catch (const nlohmann::json::exception& e) {
      // A field of the wrong JSON type (a number for the dtype, a string in the shape, ...).
      throw InvalidArgumentError(str_cat(path, ": corrupt header entry for ", key, ": ", e.what()));
    }
  };
  // Check everything first, then assign: a bad file changes no variable.
  std::vector<std::pair<std::string, Tensor>> values;
  for (const auto& e : entries(options_, options_.var_dict ? std::vector<Variable>{} : vars())) {
    if (e.var) {
      const std::string name = var_key(*e.var);
      const auto& info = e.var->save_slice_info();
      if (!header.contains(e.key) && info && !options_.var_dict &&
          header.contains(info->full_name)) {
        // A shard named alone (a var_list with only some shards of a variable) from a file
        // that holds the whole variable: its slice of it, as TF reads a slice.
        const Tensor whole = load(info->full_name, e.dtype, info->full_shape,
                                  str_cat("the variable ", name, " is a slice of, it"));
        Tensor part(e.dtype, e.shape);
        copy_slice(static_cast<char*>(whole.raw_data()), info->full_shape.dims(),
                   static_cast<char*>(part.raw_data()), info->var_offset, part.shape().dims(),
                   dtype_size(e.dtype), /*to_full=*/false);
        values.emplace_back(name, part);
        continue;
      }
      if (!header.contains(e.key))
        throw NotFoundError(str_cat(path, ": no tensor for variable ", e.key,
                                    e.key == name ? "" : str_cat(" (", name, ")")));
      values.emplace_back(name, load(e.key, e.dtype, e.shape,
                                     e.key == name ? "the variable" : str_cat("variable ", name)));
      continue;
    }
    if (header.contains(e.key)) {  // the whole variable: each shard's slice of it
      const Tensor whole =
          load(e.key, e.dtype, e.shape, str_cat("the variable (in ", e.slices.size(), " shards)"));
      for (const auto& v : e.slices) {
        Tensor part(v.dtype(), v.shape());
        copy_slice(static_cast<char*>(whole.raw_data()), e.shape.dims(),
                   static_cast<char*>(part.raw_data()), v.save_slice_info()->var_offset,
                   part.shape().dims(), dtype_size(e.dtype), /*to_full=*/false);
        values.emplace_back(var_key(v), part);
      }
      continue;
    }
    // Written shard by shard (ScopeFlow before whole-variable entries): the same shards.
    for (const auto& v : e.slices) {
      const std::string key = var_key(v);
      if (!header.contains(key))
        throw NotFoundError(
            str_cat(path, ": no tensor for variable ", e.key, " (nor for its shard ", key, ")"));
      values.emplace_back(key, load(key, v.dtype(), v.shape(), "the variable"));
    }
  }
  std::map<std::string, std::uint64_t> counters;
  if (meta.contains("scopeflow.random_counters")) {
    try {
      auto j = nlohmann::json::parse(meta["scopeflow.random_counters"].get<std::string>());
      for (const auto& [name, offset] : j.items()) {
        // Counters of random ops this graph no longer has are ignored (as variables the
        // var_list leaves out are), so a bad entry cannot fail after variables are set.
        auto op = sess.graph().find_operation(name);
        if (op && (op->type() == "RandomUniform" || op->type() == "RandomStandardNormal" ||
                   op->type() == "TruncatedNormal")) {
          if (!offset.is_number_unsigned())
            throw InvalidArgumentError(str_cat(path, ": corrupt scopeflow.random_counters: ", name,
                                               " has ", offset.dump(),
                                               ", not a counter (an integer >= 0)"));
          counters[name] = offset.get<std::uint64_t>();
        }
      }
    } catch (const nlohmann::json::exception& e) {
      throw InvalidArgumentError(str_cat(path, ": corrupt scopeflow.random_counters: ", e.what()));
    }
  }
  for (const auto& [key, t] : values) sess.set_variable_value(key, t);
  sess.set_random_counters(counters);
}

void Saver::recover_last_checkpoints(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    const std::string path = fs::path(p).lexically_normal().string();  // as save() writes them
    std::erase(kept_, path);
    kept_.push_back(path);
  }
}

std::optional<CheckpointState> get_checkpoint_state(const std::string& dir) {
  std::ifstream in(fs::path(dir) / "checkpoint");
  if (!in) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(in);
    CheckpointState state;
    const std::string name = j.value("model_checkpoint_path", "");
    if (name.empty()) return std::nullopt;
    state.model_checkpoint_path = (fs::path(dir) / name).string();
    for (const auto& p : j.value("all_model_checkpoint_paths", nlohmann::json::array()))
      state.all_model_checkpoint_paths.push_back((fs::path(dir) / p.get<std::string>()).string());
    return state;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string latest_checkpoint(const std::string& dir) {
  const auto state = get_checkpoint_state(dir);
  return state ? state->model_checkpoint_path : "";
}

}  // namespace scopeflow::train
