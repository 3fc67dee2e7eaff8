#include "zip_directory.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "errors.h"

namespace localleap {
namespace {

constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kEnd64LocatorSignature = 0x07064b50;
constexpr uint32_t kEnd64Signature = 0x06064b50;
constexpr uint32_t kEntrySignature = 0x02014b50;
constexpr size_t kEndSize = 22;
constexpr size_t kEntrySize = 46;
constexpr size_t kMaxComment = 65535;
// A 70B model has a few thousand entries; this bounds what a forged directory makes us allocate.
constexpr uint64_t kMaxDirectoryBytes = 64ull << 20;

uint16_t u16(const unsigned char* p) { return (uint16_t)(p[0] | p[1] << 8); }
uint32_t u32(const unsigned char* p) { return (uint32_t)u16(p) | (uint32_t)u16(p + 2) << 16; }
uint64_t u64(const unsigned char* p) { return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32; }

[[noreturn]] void corrupt(const std::string& path, const std::string& why) {
  throw EngineError(ErrorCode::kModelCorrupt,
                    "model file '" + path + "' is not a readable zip archive (" + why +
                        "). It may be truncated or not a localleap model: re-export it with tools/export.py.");
}

class File {
 public:
  explicit File(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) corrupt(path, "cannot open it");
    in_.seekg(0, std::ios::end);
    size_ = (uint64_t)in_.tellg();
  }
  uint64_t size() const { return size_; }
  std::vector<unsigned char> read(uint64_t pos, uint64_t n) {
    if (pos > size_ || n > size_ - pos) corrupt(path_, "a directory record points past the end of the file");
    std::vector<unsigned char> buf(n);
    in_.seekg((std::streamoff)pos);
    in_.read(reinterpret_cast<char*>(buf.data()), (std::streamsize)n);
    if (!in_) corrupt(path_, "reading failed");
    return buf;
  }

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0;
};

struct DirectoryLocation {
  uint64_t offset = 0, bytes = 0, entries = 0;
};

// Like miniz (libtorch's zip reader): the last end-of-directory signature wins, and a zip64
// locator just before it overrides the 32-bit fields.
DirectoryLocation locateDirectory(File& file, const std::string& path) {
  if (file.size() < kEndSize) corrupt(path, "too short for a zip file");
  const uint64_t tail = std::min<uint64_t>(file.size(), kEndSize + kMaxComment);
  const uint64_t tailStart = file.size() - tail;
  std::vector<unsigned char> buf = file.read(tailStart, tail);
  int64_t at = -1;
  for (int64_t i = (int64_t)tail - (int64_t)kEndSize; i >= 0; --i) {
    if (u32(&buf[i]) == kEndSignature) {
      at = i;
      break;
    }
  }
  if (at < 0) corrupt(path, "no end-of-directory record");
  const unsigned char* end = &buf[at];
  DirectoryLocation loc{u32(end + 16), u32(end + 12), u16(end + 10)};
  const uint64_t endPos = tailStart + (uint64_t)at;
  if (endPos >= 20) {
    std::vector<unsigned char> locator = file.read(endPos - 20, 20);
    if (u32(locator.data()) == kEnd64LocatorSignature) {
      std::vector<unsigned char> end64 = file.read(u64(locator.data() + 8), 56);
      if (u32(end64.data()) != kEnd64Signature) corrupt(path, "bad zip64 end-of-directory record");
      loc.entries = u64(end64.data() + 32);
      loc.bytes = u64(end64.data() + 40);
      loc.offset = u64(end64.data() + 48);
    }
  }
  if (loc.bytes > kMaxDirectoryBytes) corrupt(path, "the zip directory claims " + std::to_string(loc.bytes) + " bytes");
  return loc;
}

// Zip64 extended information (extra field 0x0001): 64-bit values for the 32-bit fields set to
// 0xFFFFFFFF, in the order uncompressed, compressed.
void applyZip64(const unsigned char* extra, size_t len, uint32_t comp32, uint32_t uncomp32, ZipEntry& e) {
  size_t i = 0;
  while (i + 4 <= len) {
    const uint16_t id = u16(extra + i), size = u16(extra + i + 2);
    const unsigned char* data = extra + i + 4;
    if (i + 4 + size > len) return;
    if (id == 0x0001) {
      size_t j = 0;
      if (uncomp32 == 0xFFFFFFFFu && j + 8 <= size) e.uncompressedSize = u64(data + j), j += 8;
      if (comp32 == 0xFFFFFFFFu && j + 8 <= size) e.compressedSize = u64(data + j), j += 8;
      return;
    }
    i += 4 + size;
  }
}

}  // namespace

std::vector<ZipEntry> readZipDirectory(const std::string& path) {
  File file(path);
  const DirectoryLocation loc = locateDirectory(file, path);
  std::vector<unsigned char> dir = file.read(loc.offset, loc.bytes);
  std::vector<ZipEntry> entries;
  size_t pos = 0;
  while (pos + kEntrySize <= dir.size() && u32(&dir[pos]) == kEntrySignature) {
    const unsigned char* h = &dir[pos];
    const size_t nameLen = u16(h + 28), extraLen = u16(h + 30), commentLen = u16(h + 32);
    if (pos + kEntrySize + nameLen + extraLen + commentLen > dir.size()) corrupt(path, "a directory entry is cut off");
    ZipEntry e;
    e.method = u16(h + 10);
    const uint32_t comp32 = u32(h + 20), uncomp32 = u32(h + 24);
    e.compressedSize = comp32;
    e.uncompressedSize = uncomp32;
    e.name.assign(reinterpret_cast<const char*>(h + kEntrySize), nameLen);
    applyZip64(h + kEntrySize + nameLen, extraLen, comp32, uncomp32, e);
    entries.push_back(std::move(e));
    pos += kEntrySize + nameLen + extraLen + commentLen;
  }
  if (entries.size() != loc.entries) {
    corrupt(path, "the zip directory lists " + std::to_string(entries.size()) + " entries, its end record says " +
                      std::to_string(loc.entries));
  }
  return entries;
}

std::string recordName(const std::string& entryName) {
  const size_t slash = entryName.find('/');
  return slash == std::string::npos ? entryName : entryName.substr(slash + 1);
}

}  // namespace localleap
