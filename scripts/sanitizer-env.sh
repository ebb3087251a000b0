# Sourced by scripts/sanitize.sh and scripts/fuzz.sh (docs/fuzzing.md): the
# sanitizer build settings and runtime options they share.
#
# Debian 12's clang-16, not clang-14: libstdc++ 12's std::expected needs what
# clang 16 implements (CMakeLists.txt explains the __cpp_concepts override).
KEYWARD_CLANG_PACKAGES=(clang-16 libclang-rt-16-dev llvm-16)
KEYWARD_CC=clang-16
KEYWARD_CXX=clang++-16
# -O0: a sanitizer build compiles about 3x faster than at -O1 (measured on
# CI's 2 cores: src/http/server.cc 35 s against 97 s, a core test 5 s against
# 18 s), which is what lets the whole ASan stage fit CI's budget; the tests
# and fuzz runs are bounded by their own limits. Line tables are enough for
# symbolized stacks. Assertions stay on (no NDEBUG).
KEYWARD_SANITIZE_FLAGS="-O0 -gline-tables-only"

# Symbolized stacks.
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-/usr/bin/llvm-symbolizer-16}"
# Not exported: keywardd refuses unknown KEYWARD_* variables.
SANITIZER_SUPPRESSIONS="$PWD/scripts/sanitizers"

# keyward_configure DIR CMAKE_ARGS...: configures DIR with clang once; later
# calls update the given cache values and the flags above.
keyward_configure() {
  local dir=$1
  shift
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER="$KEYWARD_CC" -DCMAKE_CXX_COMPILER="$KEYWARD_CXX" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="$KEYWARD_SANITIZE_FLAGS" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$KEYWARD_SANITIZE_FLAGS" "$@" >/dev/null
  else
    cmake -S . -B "$dir" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$KEYWARD_SANITIZE_FLAGS" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$KEYWARD_SANITIZE_FLAGS" "$@" >/dev/null
  fi
}
