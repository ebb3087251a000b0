#include "crypto/secure_bytes.h"

#include <sodium.h>

#include <array>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "crypto/internal.h"

namespace keyward::crypto {
namespace {

// Small secrets (a key, a password, an item's fields) share locked, guarded
// slabs instead of taking a sodium_malloc each, as Botan's locking
// allocator pool does: one sodium_malloc per slab (guard pages around it,
// mlock'd where the OS allows, never swapped), cut into slots of one size
// class. A sodium_malloc is three memory mappings and two mprotect calls,
// so a vault of 10,000 items held as one buffer per secret overran the
// kernel's mapping limit (vm.max_map_count, 65,530) and every allocation
// flushed TLBs across cores. Slots are wiped when freed; slabs are kept for
// reuse for the life of the process. What a slot does not give up is a
// guard page between two neighbouring secrets: an overrun inside a slab
// reaches another secret, not unmapped memory (the same trade as Botan's).
// Classes go up to 4 KiB so that a decrypted item (most are a few hundred
// bytes) takes a slot too: with one sodium_malloc per item, decrypting a
// 300-byte item cost 20x the raw AEAD (issue 16, bench/RESULTS.md).
constexpr std::array<size_t, 8> kSlotSizes = {32, 64, 128, 256, 512, 1024, 2048, 4096};
constexpr size_t kSlabSize = 64 * 1024;

class SlotPool {
 public:
  // A zeroed slot of at least `size` bytes, or nullptr when `size` is above
  // the largest class (the caller takes a sodium_malloc of its own).
  uint8_t* Allocate(size_t size) {
    size_t c = ClassOf(size);
    if (c == kSlotSizes.size()) return nullptr;
    std::lock_guard lock(mu_);
    auto& free = free_[c];
    if (free.empty()) {
      auto* slab = static_cast<uint8_t*>(sodium_malloc(kSlabSize));
      if (slab == nullptr) throw std::bad_alloc();
      sodium_memzero(slab, kSlabSize);
      size_t slots = kSlabSize / kSlotSizes[c];
      free.reserve(free.size() + slots);
      for (size_t i = slots; i-- > 0;) free.push_back(slab + i * kSlotSizes[c]);
    }
    uint8_t* slot = free.back();
    free.pop_back();
    return slot;
  }

  // Wipes and gives back a slot that Allocate(size) returned; false when
  // `size` was not pooled.
  bool Free(uint8_t* slot, size_t size) {
    size_t c = ClassOf(size);
    if (c == kSlotSizes.size()) return false;
    sodium_memzero(slot, kSlotSizes[c]);
    std::lock_guard lock(mu_);
    free_[c].push_back(slot);
    return true;
  }

 private:
  static size_t ClassOf(size_t size) {
    size_t c = 0;
    while (c < kSlotSizes.size() && kSlotSizes[c] < size) ++c;
    return c;
  }

  std::mutex mu_;
  std::array<std::vector<uint8_t*>, kSlotSizes.size()> free_;
};

// Never destroyed: secrets in static objects may be freed after main returns.
SlotPool& Pool() {
  static auto* pool = new SlotPool();
  return *pool;
}

void Release(uint8_t* data, size_t size) {
  if (data == nullptr) return;
  // sodium_free wipes before unmapping.
  if (!Pool().Free(data, size)) sodium_free(data);
}

}  // namespace

SecureBytes::SecureBytes(size_t size) : size_(size) {
  if (size == 0) return;
  internal::EnsureSodium();
  data_ = Pool().Allocate(size);
  if (data_ != nullptr) return;  // zeroed
  data_ = static_cast<uint8_t*>(sodium_malloc(size));
  if (data_ == nullptr) throw std::bad_alloc();
  // sodium_malloc fills with 0xdb to expose use of uninitialised memory.
  sodium_memzero(data_, size);
}

SecureBytes SecureBytes::Copy(std::span<const uint8_t> bytes) {
  SecureBytes out(bytes.size());
  if (!bytes.empty()) std::memcpy(out.data_, bytes.data(), bytes.size());
  return out;
}

SecureBytes SecureBytes::Copy(std::string_view bytes) {
  return Copy(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

SecureBytes SecureBytes::Random(size_t size) {
  SecureBytes out(size);
  if (size != 0) randombytes_buf(out.data_, size);
  return out;
}

SecureBytes::~SecureBytes() { Release(data_, size_); }

SecureBytes::SecureBytes(SecureBytes&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

SecureBytes& SecureBytes::operator=(SecureBytes&& other) noexcept {
  if (this != &other) {
    Release(data_, size_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

}  // namespace keyward::crypto
