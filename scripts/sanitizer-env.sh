# Sourced by scripts/sanitize.sh and scripts/fuzz.sh (docs/fuzzing.md): the
# sanitizer build settings and runtime options they share.
#
# Debian 12's clang-16, not clang-14: libstdc++ 12's std::expected needs what
# clang 16 implements (CMakeLists.txt explains the __cpp_concepts override).
KEYWARD_CLANG_PACKAGES=(clang-16 libclang-rt-16-dev llvm-16)
KEYWARD_CC=clang-16
KEYWARD_CXX=clang++-16
# -O1 keeps reports readable and the tests quick; line tables are enough for
# symbolized stacks. Assertions stay on (no NDEBUG).
KEYWARD_SANITIZE_FLAGS="-O1 -gline-tables-only"

# Symbolized stacks.
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-/usr/bin/llvm-symbolizer-16}"
export KEYWARD_SUPPRESSIONS="$PWD/scripts/sanitizers"

# keyward_configure DIR CMAKE_ARGS...: configures DIR with clang once; later
# calls only update the given cache values.
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
    cmake -S . -B "$dir" "$@" >/dev/null
  fi
}
