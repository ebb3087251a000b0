// Compiles Asio (with SSL) and Beast once for the whole program.
// clang-format off
#include <utility>
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
// clang-format on
