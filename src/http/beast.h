// The one place that includes Asio and Beast (only .cc files in src/http may
// include this header). Boost 1.74's awaitable.hpp uses std::exchange without
// including <utility>, so it must come first. Asio and Beast are compiled once,
// in boost_impl.cc (BOOST_*_SEPARATE_COMPILATION).
#pragma once

// clang-format off
#include <utility>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
// clang-format on
