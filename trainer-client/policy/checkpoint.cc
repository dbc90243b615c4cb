// File layout, all integers and floats little-endian, floats IEEE-754 binary32:
//   0   8  magic "ROCKPOL\0"
//   8   4  u32 version (3; 1 and 2 are read too: 1 has no words, neither has match slots)
//   12  28 i32 dim, n_layers, n_heads, n_kv_heads, hidden_dim, vocab_size, max_seq
//   40  4  u32 tied_embeddings (0 or 1)
//   44  4  f32 rope_theta
//   48  4  f32 norm_eps
//   52  4  i32 match_slots (version 3; the offsets below are 4 less before it)
//   56  8  i64 optimizer step
//   64  4  u32 tensor count K (3 x the model's tensors)
//   68  K records: u32 name length, name bytes, u32 ndim, ndim x i64 dims, prod(dims) x f32
//          names "param/<tensor>", then "adam_m/<tensor>", then "adam_v/<tensor>", each group in
//          TensorLayout order
//   ...    version 2: u32 word count W, then W records: u32 length, the word's bytes
//   end 8  u64 FNV-1a 64 of every byte before it
#include "trainer-client/policy/checkpoint.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <span>

namespace rock::policy {

// The format is little-endian; raw copies are only that on a little-endian host.
static_assert(std::endian::native == std::endian::little, "checkpoint I/O assumes a little-endian host");

namespace {

uint64_t Fnv1a(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char ch : bytes) {
    h ^= static_cast<unsigned char>(ch);
    h *= 0x100000001b3ull;
  }
  return h;
}

template <typename T>
void Put(std::string& out, T value) {
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  out.append(raw, sizeof(T));
}

// Reads fields in order; the first short read records where and what, later reads are no-ops.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  template <typename T>
  T Get(const std::string& what) {
    T value{};
    if (Need(sizeof(T), what)) {
      std::memcpy(&value, bytes_.data() + at_, sizeof(T));
      at_ += sizeof(T);
    }
    return value;
  }
  std::string_view Bytes(size_t n, const std::string& what) {
    if (!Need(n, what)) return {};
    std::string_view out = bytes_.substr(at_, n);
    at_ += n;
    return out;
  }
  bool ok() const { return error_.ok(); }
  const Status& error() const { return error_; }
  size_t at() const { return at_; }
  size_t left() const { return bytes_.size() - at_; }
  void Fail(Status s) {
    if (error_.ok()) error_ = std::move(s);
  }

 private:
  bool Need(size_t n, const std::string& what) {
    if (!error_.ok()) return false;
    if (n <= left()) return true;
    Fail(Corruption("truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " +
                    std::to_string(at_) + ", the file has " + std::to_string(bytes_.size())));
    return false;
  }

  std::string_view bytes_;
  size_t at_ = 0;
  Status error_;
};

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); i++) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + ")";
}

}  // namespace

Checkpoint Capture(const Model& model, const AdamW& optimizer, const Tokenizer& tokenizer) {
  return {model.config(),         optimizer.step(),       model.DownloadParams(),
          optimizer.DownloadM(), optimizer.DownloadV(), tokenizer.Words()};
}

Status Restore(const Checkpoint& ck, Model& model, AdamW& optimizer, Tokenizer& tokenizer) {
  const ModelConfig& a = ck.config;
  const ModelConfig& b = model.config();
  // Named, with both values: a run resumed with other flags must learn which one to change.
  const std::pair<const char*, std::pair<double, double>> fields[] = {
      {"dim", {a.dim, b.dim}},
      {"n_layers", {a.n_layers, b.n_layers}},
      {"n_heads", {a.n_heads, b.n_heads}},
      {"n_kv_heads", {a.n_kv_heads, b.n_kv_heads}},
      {"hidden_dim", {a.hidden_dim, b.hidden_dim}},
      {"vocab_size", {a.vocab_size, b.vocab_size}},
      {"max_seq", {a.max_seq, b.max_seq}},
      {"tied_embeddings", {a.tied_embeddings, b.tied_embeddings}},
      {"rope_theta", {a.rope_theta, b.rope_theta}},
      {"norm_eps", {a.norm_eps, b.norm_eps}},
      {"match_slots", {a.match_slots, b.match_slots}}};
  std::string differ;
  for (const auto& [name, values] : fields) {
    if (values.first == values.second) continue;
    char text[160];
    std::snprintf(text, sizeof(text), "%s%s %g in the checkpoint, %g in the model", differ.empty() ? "" : "; ", name,
                  values.first, values.second);
    differ += text;
  }
  if (!differ.empty()) return FailedPrecondition("restore: the checkpoint's model config differs: " + differ);
  if (Status s = tokenizer.SetWords(ck.words); !s.ok()) return s.WithContext("restore");
  if (Status s = model.UploadParams(ck.params); !s.ok()) return s.WithContext("restore");
  return optimizer.Restore(ck.m, ck.v, ck.step).WithContext("restore");
}

std::string Serialize(const Checkpoint& ck) {
  const ModelConfig& c = ck.config;
  const std::vector<TensorInfo> layout = TensorLayout(c);
  std::string out(kCheckpointMagic, sizeof(kCheckpointMagic));
  Put<uint32_t>(out, kCheckpointVersion);
  for (int32_t field : {c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.hidden_dim, c.vocab_size, c.max_seq}) {
    Put<int32_t>(out, field);
  }
  Put<uint32_t>(out, c.tied_embeddings ? 1 : 0);
  Put<float>(out, c.rope_theta);
  Put<float>(out, c.norm_eps);
  Put<int32_t>(out, c.match_slots);
  Put<int64_t>(out, ck.step);
  Put<uint32_t>(out, static_cast<uint32_t>(3 * layout.size()));
  const std::pair<const char*, const std::vector<float>*> groups[] = {
      {"param/", &ck.params}, {"adam_m/", &ck.m}, {"adam_v/", &ck.v}};
  for (auto [prefix, values] : groups) {
    for (const TensorInfo& t : layout) {
      const std::string name = prefix + t.name;
      Put<uint32_t>(out, static_cast<uint32_t>(name.size()));
      out += name;
      Put<uint32_t>(out, static_cast<uint32_t>(t.shape.size()));
      for (int64_t d : t.shape) Put<int64_t>(out, d);
      out.append(reinterpret_cast<const char*>(values->data() + t.offset), t.size * sizeof(float));
    }
  }
  Put<uint32_t>(out, static_cast<uint32_t>(ck.words.size()));
  for (const std::string& word : ck.words) {
    Put<uint32_t>(out, static_cast<uint32_t>(word.size()));
    out += word;
  }
  Put<uint64_t>(out, Fnv1a(out));
  return out;
}

StatusOr<Checkpoint> Parse(std::string_view bytes) {
  Reader r(bytes);
  std::string_view magic = r.Bytes(sizeof(kCheckpointMagic), "magic");
  if (!r.ok()) return r.error();
  if (magic != std::string_view(kCheckpointMagic, sizeof(kCheckpointMagic))) {
    return Corruption("bad magic: not a rockd policy checkpoint");
  }
  const uint32_t version = r.Get<uint32_t>("version");
  if (r.ok() && (version < 1 || version > kCheckpointVersion)) {
    return Corruption("unsupported version " + std::to_string(version) + " (this build reads 1 to " +
                      std::to_string(kCheckpointVersion) + ")");
  }
  Checkpoint ck;
  ModelConfig& c = ck.config;
  for (int* field : {&c.dim, &c.n_layers, &c.n_heads, &c.n_kv_heads, &c.hidden_dim, &c.vocab_size, &c.max_seq}) {
    *field = r.Get<int32_t>("config");
  }
  c.tied_embeddings = r.Get<uint32_t>("config") != 0;
  c.rope_theta = r.Get<float>("config");
  c.norm_eps = r.Get<float>("config");
  if (version >= 3) c.match_slots = r.Get<int32_t>("config");
  ck.step = r.Get<int64_t>("step");
  const uint32_t count = r.Get<uint32_t>("tensor count");
  if (!r.ok()) return r.error();
  if (Status s = Validate(c); !s.ok()) return Corruption("config: " + s.message());
  // Before laying out or allocating anything: a corrupt header can claim billions of layers or
  // a huge dim, and the file must hold the tensors it promises. Counted in floating point,
  // where such a config cannot overflow.
  const long double C = c.dim;
  const long double KV = static_cast<long double>(c.n_kv_heads) * c.head_dim();
  const long double embed = static_cast<long double>(c.vocab_size) * C;
  const long double floats =
      embed * (c.tied_embeddings ? 1 : 2) + C +
      static_cast<long double>(c.n_layers) * (2 * C + 2 * C * C + 2 * KV * C + 3.0L * c.hidden_dim * C) +
      c.match_slots;
  if (3 * floats * sizeof(float) > static_cast<long double>(r.left())) {
    return Corruption("truncated: the config's tensors need " + std::to_string(3 * floats * sizeof(float)) +
                      " bytes after offset " + std::to_string(r.at()) + ", the file has " +
                      std::to_string(bytes.size()));
  }
  const std::vector<TensorInfo> layout = TensorLayout(c);
  if (count != 3 * layout.size()) {
    return Corruption(std::to_string(count) + " tensors, the config needs " + std::to_string(3 * layout.size()));
  }
  const size_t n = layout.back().offset + layout.back().size;
  std::pair<const char*, std::vector<float>*> groups[] = {{"param/", &ck.params}, {"adam_m/", &ck.m}, {"adam_v/", &ck.v}};
  for (auto [prefix, values] : groups) {
    values->resize(n);
    for (const TensorInfo& t : layout) {
      const std::string want = prefix + t.name;
      const size_t at = r.at();
      const uint32_t len = r.Get<uint32_t>("name length of " + want);
      const std::string_view name = r.Bytes(len, "name of " + want);
      const uint32_t ndim = r.Get<uint32_t>("ndim of " + want);
      std::vector<int64_t> shape;
      for (uint32_t i = 0; i < ndim && r.ok() && i < 8; i++) shape.push_back(r.Get<int64_t>("shape of " + want));
      if (!r.ok()) return r.error();
      if (name != want || shape != t.shape) {
        return Corruption("tensor at offset " + std::to_string(at) + " is '" + std::string(name) + "' " +
                          ShapeString(shape) + ", expected '" + want + "' " + ShapeString(t.shape));
      }
      std::string_view data = r.Bytes(t.size * sizeof(float), "data of " + want);
      if (!r.ok()) return r.error();
      std::memcpy(values->data() + t.offset, data.data(), data.size());
    }
  }
  if (version >= 2) {
    const uint32_t words = r.Get<uint32_t>("word count");
    if (r.ok() && static_cast<int64_t>(words) > int64_t{c.vocab_size} - Tokenizer::kFirstWord) {
      return Corruption(std::to_string(words) + " words at offset " + std::to_string(r.at() - 4) +
                        ", the vocabulary of " + std::to_string(c.vocab_size) + " has room for " +
                        std::to_string(std::max(0, c.vocab_size - Tokenizer::kFirstWord)));
    }
    for (uint32_t w = 0; w < words && r.ok(); w++) {
      const uint32_t len = r.Get<uint32_t>("length of word " + std::to_string(w));
      ck.words.emplace_back(r.Bytes(len, "word " + std::to_string(w)));
    }
    if (!r.ok()) return r.error();
    if (Status s = Tokenizer(c.vocab_size).SetWords(ck.words); !s.ok()) return Corruption(s.message());
  }
  const size_t body = r.at();
  const uint64_t sum = r.Get<uint64_t>("checksum");
  if (!r.ok()) return r.error();
  if (r.left() != 0) return Corruption(std::to_string(r.left()) + " unexpected bytes after the checksum");
  if (sum != Fnv1a(bytes.substr(0, body))) return Corruption("checksum mismatch: the file is corrupt");
  return ck;
}

Status SaveCheckpoint(const std::string& path, const Checkpoint& checkpoint) {
  const std::string bytes = Serialize(checkpoint);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return IoError("save checkpoint: cannot create " + tmp);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return IoError("save checkpoint: writing " + tmp + " failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoError("rename(" + tmp + ", " + path + ")", errno);
  }
  return Status::Ok();
}

StatusOr<Checkpoint> LoadCheckpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("load checkpoint: cannot open " + path);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return IoError("load checkpoint: reading " + path + " failed");
  auto ck = Parse(bytes);
  if (!ck.ok()) return ck.status().WithContext("load checkpoint " + path);
  return ck;
}

}  // namespace rock::policy
