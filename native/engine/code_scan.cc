#include "code_scan.h"

#include <caffe2/serialize/inline_container.h>

#include <cctype>
#include <set>

#include "errors.h"
#include "op_allowlist.h"

namespace localleap {
namespace {

// A model's code is a few hundred KiB at most; larger records are not read (nor trusted).
constexpr uint64_t kMaxCodeRecordBytes = 16ull << 20;
constexpr uint64_t kMaxCodeBytes = 128ull << 20;

bool isIdentStart(char c) { return std::isalpha((unsigned char)c) || c == '_'; }
bool isIdentChar(char c) { return std::isalnum((unsigned char)c) || c == '_'; }

// Bare builtins of serialized TorchScript that map to operators we refuse.
const char* bareBuiltinOperator(const std::string& name) {
  if (name == "print") return "prim::Print";
  if (name == "fork") return "prim::fork";
  if (name == "wait") return "aten::wait";
  if (name == "rpc_async" || name == "rpc_sync" || name == "rpc_remote") return "prim::rpc";
  return nullptr;
}

class Scanner {
 public:
  explicit Scanner(const std::string& s) : s_(s) {}

  CodeFinding run() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (isIdentStart(c) && (i_ == 0 || (!isIdentChar(s_[i_ - 1]) && s_[i_ - 1] != '.'))) {
        std::string finding = checkPath(readPath());
        if (!finding.empty()) return CodeFinding{finding, line_};
        continue;
      }
      if (c == '\n') ++line_;
      ++i_;
    }
    return CodeFinding{};
  }

 private:
  // Whitespace, line continuations and comments, which Python allows around the dots of
  // `torch . save` inside brackets.
  void skipGap() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '\n') {
        ++line_;
        ++i_;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\\' || c == '\f') {
        ++i_;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else {
        return;
      }
    }
  }

  std::string readIdent() {
    const size_t start = i_;
    while (i_ < s_.size() && isIdentChar(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }

  // identifier (. identifier)*; `called` tells whether a "(" follows.
  std::vector<std::string> readPath() {
    std::vector<std::string> parts{readIdent()};
    for (;;) {
      const size_t save = i_;
      const int saveLine = line_;
      skipGap();
      if (i_ < s_.size() && s_[i_] == '.') {
        ++i_;
        skipGap();
        if (i_ < s_.size() && isIdentStart(s_[i_])) {
          parts.push_back(readIdent());
          continue;
        }
      }
      i_ = save;
      line_ = saveLine;
      size_t j = i_;
      while (j < s_.size() && (s_[j] == ' ' || s_[j] == '\t')) ++j;
      called_ = j < s_.size() && s_[j] == '(';
      return parts;
    }
  }

  std::string checkPath(const std::vector<std::string>& p) {
    if (p[0] == "torch") {
      if (p.size() == 1) return "torch (bare reference)";
      if (p[1] == "ops") return p.size() >= 4 ? checkOp(p[2], p[3]) : "torch.ops (bare reference)";
      return checkOp("aten", p[1]);
    }
    if (p[0] == "ops") return p.size() >= 3 ? checkOp(p[1], p[2]) : "ops (bare reference)";
    if (p.size() == 1 && called_) {
      const char* op = bareBuiltinOperator(p[0]);
      if (op) return op;
    }
    return "";
  }

  static std::string checkOp(const std::string& ns, const std::string& name) {
    const std::string qualified = ns + "::" + name;
    return isAllowedOperator(qualified) ? "" : qualified;
  }

  const std::string& s_;
  size_t i_ = 0;
  int line_ = 1;
  bool called_ = false;
};

[[noreturn]] void unsafe(const std::string& path, const std::string& what, const std::string& op) {
  throw EngineError(ErrorCode::kModelUnsafe,
                    "model file '" + path + "' " + what +
                        ". localleap refuses model code that could read or write files, use the network or "
                        "start processes (docs/model-format.md); load it with trustModelCode: true only if you "
                        "trust the file's author.",
                    op);
}

bool endsWith(const std::string& s, const char* suffix) {
  const std::string t(suffix);
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

}  // namespace

CodeFinding findDisallowedReference(const std::string& source) { return Scanner(source).run(); }

void scanArchiveCode(const std::string& path, const std::vector<ZipEntry>& entries) {
  // Sizes first, from the directory: every entry of that name (a forged archive may repeat one).
  uint64_t total = 0;
  for (const ZipEntry& e : entries) {
    if (!endsWith(e.name, ".py")) continue;
    if (e.uncompressedSize > kMaxCodeRecordBytes) {
      unsafe(path, "has a code record " + recordName(e.name) + " of " + std::to_string(e.uncompressedSize) +
                       " bytes, over the " + std::to_string(kMaxCodeRecordBytes >> 20) + " MiB that localleap checks",
             recordName(e.name));
    }
    total += e.uncompressedSize;
  }
  if (total > kMaxCodeBytes) {
    unsafe(path, "has " + std::to_string(total) + " bytes of code, over the " + std::to_string(kMaxCodeBytes >> 20) +
                     " MiB that localleap checks",
           "code/");
  }
  caffe2::serialize::PyTorchStreamReader reader(path);
  for (const std::string& record : reader.getAllRecords()) {
    if (!endsWith(record, ".py")) continue;
    at::DataPtr data;
    size_t size = 0;
    std::tie(data, size) = reader.getRecord(record);
    const std::string source(static_cast<const char*>(data.get()), size);
    const CodeFinding found = findDisallowedReference(source);
    if (!found.name.empty()) {
      unsafe(path, "uses the operator " + found.name + " (" + record + ":" + std::to_string(found.line) + ")",
             found.name);
    }
  }
}

}  // namespace localleap
