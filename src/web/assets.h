// The web pages (web/, docs/web.md), built by Vite and embedded into
// keywardd at build time by scripts/embed_web.py: one binary stays one
// binary. Paths are relative to web/dist ("index.html",
// "assets/index-<hash>.js", ...).
#pragma once

#include <span>
#include <string_view>

namespace keyward::web {

struct Asset {
  std::string_view path;
  std::string_view content_type;
  std::string_view body;
  std::string_view gzip;  // the body gzipped, or empty when that saves < 10 %
};

// Every embedded file, sorted by path; empty when the pages were not built.
std::span<const Asset> Assets();

// The file at `path`, or nullptr.
const Asset* Find(std::string_view path);

}  // namespace keyward::web
