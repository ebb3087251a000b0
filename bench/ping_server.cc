// The ceiling for any keywardd route (bench/run): a bare Beast HTTP/1.1
// server written the way keywardd's is (one io_context run by one thread per
// core, a C++20 coroutine per connection, keep-alive, TCP_NODELAY), that
// answers every request with the bytes keywardd's /healthz sends:
// {"status":"ok"}. No router, no handler pool, no logging, no database.
//
// Usage: keyward_ping_server [--threads N]   (0 or absent: one per core)
// Prints "listening on http://127.0.0.1:PORT" once bound, then serves until
// SIGTERM or SIGINT.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "http/beast.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

auto Redirect(ErrorCode& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

asio::awaitable<void> Serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  ErrorCode ec;
  for (;;) {
    bhttp::request<bhttp::string_body> req;
    co_await bhttp::async_read(stream, buffer, req, Redirect(ec));
    if (ec) co_return;
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = R"({"status":"ok"})";
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    co_await bhttp::async_write(stream, res, Redirect(ec));
    if (ec || !req.keep_alive()) co_return;
  }
}

asio::awaitable<void> Accept(tcp::acceptor& acceptor, asio::io_context& ioc) {
  for (;;) {
    tcp::socket socket(asio::make_strand(ioc));
    ErrorCode ec;
    co_await acceptor.async_accept(socket, Redirect(ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, Serve(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned threads = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      std::fprintf(stderr, "keyward_ping_server: unknown argument (usage: --threads N)\n");
      return 2;
    }
  }
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  asio::io_context ioc(static_cast<int>(threads));
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  std::printf("listening on http://127.0.0.1:%u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const ErrorCode&, int) { ioc.stop(); });
  asio::co_spawn(ioc, Accept(acceptor, ioc), asio::detached);
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  return 0;
}
