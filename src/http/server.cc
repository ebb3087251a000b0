#include "http/server.h"

#include "http/beast.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <exception>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "common/try.h"
#include "http/request_log.h"

namespace keyward::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using SteadyClock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

constexpr size_t kReadChunk = 8192;
// After refusing an oversized body, read and discard this much (for at most
// kDrainTime) so the client sees the 413 instead of a connection reset.
constexpr size_t kMaxDrain = 64u << 20;
constexpr auto kDrainTime = std::chrono::seconds(2);

auto Redirect(ErrorCode& ec) { return asio::redirect_error(use_awaitable, ec); }

struct ListenAddress {
  asio::ip::address address;
  uint16_t port = 0;
};

Result<ListenAddress> ParseListen(const std::string& listen) {
  auto fail = [&](const std::string& why) {
    return Fail(Error::InvalidArgument("server.bad_listen",
                                       "invalid listen address \"" + listen + "\": " + why));
  };
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return fail("expected ADDR:PORT");
  std::string host = listen.substr(0, colon);
  std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return fail("bad port");
  }
  ErrorCode address_ec;
  auto address = asio::ip::make_address(host, address_ec);
  if (address_ec) return fail("not an IP address");
  return ListenAddress{address, static_cast<uint16_t>(port)};
}

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Transport-level ends of a connection, which deserve no response.
bool IsHttpParseError(const ErrorCode& ec) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) return false;
  return ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

// Tracks a connection so Stop() can close it while it waits for a request.
// Touched only on the connection's strand.
struct Connection {
  explicit Connection(asio::any_io_executor ex) : executor(std::move(ex)) {}
  asio::any_io_executor executor;
  bool idle = true;
  std::function<void()> close;
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(ServerOptions opts, const Router& r) : options(std::move(opts)), router(r) {}

  ServerOptions options;
  const Router& router;
  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> control{asio::make_strand(ioc)};
  tcp::acceptor acceptor{control};
  asio::signal_set signals{control};
  asio::steady_timer grace_timer{control};
  std::optional<ssl::context> tls_ctx;
  std::unique_ptr<asio::thread_pool> handlers;        // reads
  std::unique_ptr<asio::thread_pool> write_handlers;  // writes (ServerOptions::write_threads)
  std::vector<std::thread> threads;
  std::mutex lifecycle_mu;
  // Serializes Wait(). Never held with lifecycle_mu while joining: an io
  // thread that runs the signal handler calls Stop(), which takes lifecycle_mu.
  std::mutex join_mu;
  bool listening = false;
  bool started = false;
  bool joined = false;
  std::string bound_url;
  uint16_t bound_port = 0;

  std::atomic<bool> stopping{false};
  std::atomic<size_t> active{0};
  std::mutex connections_mu;
  std::list<std::shared_ptr<Connection>> connections;

  Status Listen();
  Status Start();
  void Stop();
  void BeginStop();
  void CheckDone();
  void Wait();

  // An answer refusing a request, after which the connection is closed
  // (`drain`: first read what the peer is still sending, within limits).
  struct Refusal {
    unsigned version;
    std::string_view method;
    Response response;
    bool drain;
  };

  awaitable<void> AcceptLoop();
  awaitable<void> PlainSession(tcp::socket socket, std::string remote);
  awaitable<void> TlsSession(tcp::socket socket, std::string remote);
  template <class Stream>
  awaitable<void> Serve(Stream& stream, Connection& connection, const std::string& remote);
  template <class Stream>
  awaitable<bool> ReadBody(Stream& stream, beast::flat_buffer& buffer,
                           bhttp::request_parser<bhttp::string_body>& parser,
                           const std::string& remote);
  std::optional<Refusal> ReadRefusal(const ErrorCode& ec,
                                     const bhttp::request_parser<bhttp::string_body>& parser,
                                     bool header_read) const;
  Request ToRequest(bhttp::request<bhttp::string_body>& req, const std::string& remote) const;
  template <class Stream>
  awaitable<void> RefuseAndClose(Stream& stream, std::string_view peer, const Refusal& refusal);
  template <class Stream>
  awaitable<void> Close(Stream& stream);
  Response Dispatch(const Request& request, std::string* pattern) const;

  std::list<std::shared_ptr<Connection>>::iterator Register(std::shared_ptr<Connection> c) {
    std::lock_guard lock(connections_mu);
    return connections.insert(connections.end(), std::move(c));
  }
  void Unregister(std::list<std::shared_ptr<Connection>>::iterator it) {
    std::lock_guard lock(connections_mu);
    connections.erase(it);
  }

  // Unregisters a connection when its coroutine ends (on its strand).
  class ConnectionGuard {
   public:
    ConnectionGuard(Impl& impl, std::shared_ptr<Connection> connection)
        : impl_(impl), connection_(connection), it_(impl.Register(std::move(connection))) {}
    ~ConnectionGuard() {
      connection_->close = nullptr;
      impl_.Unregister(it_);
    }
    ConnectionGuard(const ConnectionGuard&) = delete;
    ConnectionGuard& operator=(const ConnectionGuard&) = delete;

   private:
    Impl& impl_;
    std::shared_ptr<Connection> connection_;
    std::list<std::shared_ptr<Connection>>::iterator it_;
  };
};

namespace {

// One line per answer: the route pattern (never the path, which may hold
// ids or tokens), the client's address (after trusted_proxies) and the
// authenticated account id ("-" when there is none). Both are values the
// server made or checked: an IP address and a random id, never an email,
// code or token.
void LogAccess(std::string_view method, std::string_view route, int status,
               SteadyClock::time_point start, std::string_view client, std::string_view actor) {
  double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
  spdlog::info("http method={} route={} status={} duration_ms={:.2f} client={} actor={}",
               method.empty() ? "-" : method, route.empty() ? "<unmatched>" : route, status, ms,
               client.empty() ? "-" : client, actor.empty() ? "-" : actor);
}

// Only tokens are logged as methods: the method is client-controlled.
std::string_view SafeMethod(std::string_view method) {
  if (method.size() > 16) return "<other>";
  for (char c : method) {
    if (!std::isupper(static_cast<unsigned char>(c))) return "<other>";
  }
  return method;
}

bhttp::response<bhttp::string_body> ToBeast(Response response, unsigned version, bool keep_alive,
                                            bool head) {
  bhttp::response<bhttp::string_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(response.status));
  bool bodyless = response.status == 204 || response.status == 304 || response.status < 200;
  if (!bodyless && !response.content_type.empty()) {
    res.set(bhttp::field::content_type, response.content_type);
  }
  for (auto& [name, value] : response.headers) res.insert(name, value);
  // Nothing is cached unless the handler says so (the embedded pages).
  if (res.find(bhttp::field::cache_control) == res.end()) {
    res.set(bhttp::field::cache_control, "no-store");
  }
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(keep_alive);
  if (bodyless) {
    // no body, no length
  } else if (head) {
    res.content_length(response.body.size());
  } else {
    res.body() = std::move(response.body);
    res.prepare_payload();
  }
  return res;
}

Response TooLarge() {
  return ErrorResponse(
      Error(ErrorKind::kTooLarge, "request.too_large", "the request body is too large"));
}

Response HeaderTooLarge() {
  return JsonResponse(
      431,
      {{"error",
        {{"code", "request.header_too_large"}, {"message", "the request headers are too large"}}}});
}

Response Malformed() {
  return ErrorResponse(Error::InvalidArgument("request.malformed", "malformed HTTP request"));
}

}  // namespace

Status Server::Impl::Listen() {
  std::lock_guard lock(lifecycle_mu);
  if (listening) return {};
  KW_ASSIGN_OR_RETURN(auto address, ParseListen(options.listen));

  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      return Fail(Error::InvalidArgument("server.tls_failed",
                                         "TLS needs both a certificate and a key file"));
    }
    tls_ctx.emplace(ssl::context::tls_server);
    ErrorCode ec;
    tls_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                         ec);
    SSL_CTX_set_min_proto_version(tls_ctx->native_handle(), TLS1_2_VERSION);
    if (!ec) tls_ctx->use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec) {
      return Fail(Error::Unavailable(
          "server.tls_failed",
          "cannot load TLS certificate " + options.tls_cert_file + ": " + ec.message()));
    }
    tls_ctx->use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
    if (ec) {
      return Fail(
          Error::Unavailable("server.tls_failed",
                             "cannot load TLS key " + options.tls_key_file + ": " + ec.message()));
    }
  }

  tcp::endpoint endpoint(address.address, address.port);
  ErrorCode ec;
  auto fail = [&](const char* what) {
    return Fail(Error::Unavailable(
        "server.listen_failed",
        std::string("cannot ") + what + " " + options.listen + ": " + ec.message()));
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open a socket for");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) return fail("listen on");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  tcp::endpoint local = acceptor.local_endpoint(ec);
  if (ec) return fail("read the address of");
  bound_port = local.port();
  std::string host = local.address().to_string();
  if (local.address().is_v6()) host = "[" + host + "]";
  bound_url =
      std::string(tls_ctx ? "https" : "http") + "://" + host + ":" + std::to_string(bound_port);
  listening = true;
  return {};
}

Status Server::Impl::Start() {
  KW_TRY(Listen());
  std::lock_guard lock(lifecycle_mu);
  if (started) {
    return Fail(Error::Internal("server.already_started", "the server was already started"));
  }
  if (stopping) return Fail(Error::Unavailable("server.stopped", "the server was stopped"));
  started = true;
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  int io_threads = options.io_threads > 0 ? options.io_threads : static_cast<int>(cores);
  int handler_threads =
      options.handler_threads > 0 ? options.handler_threads : static_cast<int>(std::max(2u, cores));
  handlers = std::make_unique<asio::thread_pool>(handler_threads);
  int write_threads = options.write_threads > 0 ? options.write_threads
                                                : static_cast<int>(std::max(16u, 8 * cores));
  write_handlers = std::make_unique<asio::thread_pool>(write_threads);

  auto self = shared_from_this();
  asio::co_spawn(control, AcceptLoop(), [self](std::exception_ptr e) {
    if (e) spdlog::error("http accept loop failed");
  });
  if (options.handle_signals) {
    signals.add(SIGTERM);
    signals.add(SIGINT);
    signals.async_wait([self](const ErrorCode& ec, int signal) {
      if (ec) return;
      spdlog::info("signal {} received, shutting down", signal);
      self->Stop();
    });
  }
  for (int i = 0; i < io_threads; ++i) {
    threads.emplace_back([self] {
      for (;;) {
        try {
          self->ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http io thread caught {}", typeid(e).name());
        }
      }
    });
  }
  return {};
}

void Server::Impl::Stop() {
  if (stopping.exchange(true)) return;
  {
    std::lock_guard lock(lifecycle_mu);
    if (!started) {
      // Nothing runs the io_context: release the port here (a posted handler
      // holding `self` would never run, and never free anything).
      ErrorCode ec;
      acceptor.close(ec);
      return;
    }
  }
  asio::post(control, [self = shared_from_this()] { self->BeginStop(); });
}

void Server::Impl::BeginStop() {
  ErrorCode ec;
  acceptor.close(ec);
  signals.cancel(ec);
  grace_timer.expires_after(options.shutdown_grace);
  grace_timer.async_wait([self = shared_from_this()](const ErrorCode& ec) {
    if (ec) return;
    spdlog::warn("http shutdown grace period over, dropping {} connections", self->active.load());
    self->ioc.stop();
  });
  std::lock_guard lock(connections_mu);
  for (const auto& connection : connections) {
    asio::post(connection->executor, [connection] {
      if (connection->idle && connection->close) connection->close();
    });
  }
  CheckDone();
}

void Server::Impl::CheckDone() {
  if (stopping && active == 0) grace_timer.cancel();
}

void Server::Impl::Wait() {
  std::lock_guard join_lock(join_mu);
  {
    std::lock_guard lock(lifecycle_mu);
    if (joined || !started) return;
  }
  for (auto& thread : threads) thread.join();
  if (handlers) handlers->join();
  if (write_handlers) write_handlers->join();
  std::lock_guard lock(lifecycle_mu);
  threads.clear();
  joined = true;
}

awaitable<void> Server::Impl::AcceptLoop() {
  auto self = shared_from_this();
  while (!stopping) {
    tcp::socket socket(asio::make_strand(ioc));
    ErrorCode ec;
    co_await acceptor.async_accept(socket, Redirect(ec));
    if (stopping || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Typically out of file descriptors: back off instead of spinning.
      spdlog::warn("http accept failed: {}", ec.message());
      asio::steady_timer backoff(control, std::chrono::milliseconds(100));
      co_await backoff.async_wait(Redirect(ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto remote_endpoint = socket.remote_endpoint(ec);
    std::string remote = ec ? std::string() : remote_endpoint.address().to_string();
    ++active;
    auto executor = socket.get_executor();
    auto done = [self](std::exception_ptr e) {
      if (e) spdlog::error("http connection ended with an exception");
      --self->active;
      asio::post(self->control, [self] { self->CheckDone(); });
    };
    if (tls_ctx) {
      asio::co_spawn(executor, TlsSession(std::move(socket), std::move(remote)), done);
    } else {
      asio::co_spawn(executor, PlainSession(std::move(socket), std::move(remote)), done);
    }
  }
}

awaitable<void> Server::Impl::PlainSession(tcp::socket socket, std::string remote) {
  beast::tcp_stream stream(std::move(socket));
  auto connection = std::make_shared<Connection>(stream.get_executor());
  connection->close = [&stream] { stream.close(); };
  ConnectionGuard guard(*this, connection);
  stream.expires_after(options.read_timeout);
  co_await Serve(stream, *connection, remote);
}

awaitable<void> Server::Impl::TlsSession(tcp::socket socket, std::string remote) {
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls_ctx);
  auto connection = std::make_shared<Connection>(stream.get_executor());
  connection->close = [&stream] { beast::get_lowest_layer(stream).close(); };
  ConnectionGuard guard(*this, connection);
  beast::get_lowest_layer(stream).expires_after(options.read_timeout);
  ErrorCode ec;
  co_await stream.async_handshake(ssl::stream_base::server, Redirect(ec));
  if (ec) co_return;
  co_await Serve(stream, *connection, remote);
}

// One connection's requests, one after another. The per-request path stays
// in this one coroutine (each nested coroutine costs a frame allocation per
// request, measurable on /healthz); only the rarer steps (a body to read, a
// refusal) are coroutines of their own.
template <class Stream>
awaitable<void> Server::Impl::Serve(Stream& stream, Connection& connection,
                                    const std::string& remote) {
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  ErrorCode ec;
  bool first = true;  // the first request's deadline was set at accept time
  for (;;) {
    connection.idle = true;
    if (stopping) co_return;
    if (!first) {
      // Kept alive: wait idle_timeout for the next request's first bytes
      // unless they are already buffered, then give it read_timeout.
      if (buffer.size() == 0) {
        lowest.expires_after(options.idle_timeout);
        size_t n = co_await stream.async_read_some(buffer.prepare(kReadChunk), Redirect(ec));
        if (ec) co_return;
        buffer.commit(n);
      }
      lowest.expires_after(options.read_timeout);
    }
    first = false;

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(options.max_header_size, std::numeric_limits<std::uint32_t>::max())));
    parser.body_limit(options.body_limit);
    co_await bhttp::async_read_header(stream, buffer, parser, Redirect(ec));
    auto start = SteadyClock::now();
    // Named, not a temporary or an if-initializer: g++ 12 mishandles the
    // lifetime of those across co_await.
    std::optional<Refusal> refusal = ReadRefusal(ec, parser, true);
    if (refusal) {
      co_await RefuseAndClose(stream, remote, *refusal);
      co_return;
    }
    if (ec) co_return;
    connection.idle = false;
    if (!parser.is_done() && !co_await ReadBody(stream, buffer, parser, remote)) co_return;

    auto& req = parser.get();
    std::string_view method = SafeMethod(Sv(req.method_string()));
    std::string_view target = Sv(req.target());
    if (target.empty() || target.front() != '/') {
      refusal = Refusal{req.version(), method, Malformed(), false};
      co_await RefuseAndClose(stream, remote, *refusal);
      co_return;
    }
    Request request = ToRequest(req, remote);
    std::string pattern;
    std::string actor;  // the authenticated account, if any (request_log.h)
    // The handler runs on a handler pool, off the I/O threads: the readers'
    // or the writers' (ServerOptions::write_threads).
    const bool reads =
        request.method == "GET" || request.method == "HEAD" || request.method == "OPTIONS";
    Response response = co_await asio::co_spawn(
        (reads ? handlers : write_handlers)->get_executor(),
        [this, &request, &pattern, &actor]() -> awaitable<Response> {
          (void)TakeRequestActor();  // nothing left over from another request
          Response answer = Dispatch(request, &pattern);
          actor = TakeRequestActor();
          co_return answer;
        },
        use_awaitable);

    bool keep_alive = req.keep_alive() && !stopping;
    int status = response.status;
    auto res = ToBeast(std::move(response), req.version(), keep_alive, request.method == "HEAD");
    lowest.expires_after(options.read_timeout);
    co_await bhttp::async_write(stream, res, Redirect(ec));
    LogAccess(method, pattern, status, start, request.remote_address, actor);
    if (ec) co_return;
    if (!keep_alive) {
      co_await Close(stream);
      co_return;
    }
  }
}

// The answer owed after a failed read of the header (`header_read`) or the
// body: a request too large or malformed is refused and the connection
// closed; nothing when the read succeeded or the peer simply went away.
std::optional<Server::Impl::Refusal> Server::Impl::ReadRefusal(
    const ErrorCode& ec, const bhttp::request_parser<bhttp::string_body>& parser,
    bool header_read) const {
  if (!ec) return std::nullopt;
  const auto& req = parser.get();
  if (ec == bhttp::error::header_limit) return Refusal{11, "", HeaderTooLarge(), false};
  if (ec == bhttp::error::body_limit)
    return Refusal{req.version(), SafeMethod(Sv(req.method_string())), TooLarge(), true};
  if (IsHttpParseError(ec)) {
    if (header_read) return Refusal{11, "", Malformed(), false};
    return Refusal{req.version(), SafeMethod(Sv(req.method_string())), Malformed(), false};
  }
  return std::nullopt;
}

// Reads the body of a request whose header is in `parser`, answering
// 100-continue when asked. False when the connection is done (refused
// and closed, or gone).
template <class Stream>
awaitable<bool> Server::Impl::ReadBody(Stream& stream, beast::flat_buffer& buffer,
                                       bhttp::request_parser<bhttp::string_body>& parser,
                                       const std::string& remote) {
  ErrorCode ec;
  auto& req = parser.get();
  if (ToLower(Sv(req[bhttp::field::expect])) == "100-continue") {
    bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, req.version()};
    co_await bhttp::async_write(stream, go_on, Redirect(ec));
    if (ec) co_return false;
  }
  beast::get_lowest_layer(stream).expires_after(options.read_timeout);
  co_await bhttp::async_read(stream, buffer, parser, Redirect(ec));
  std::optional<Refusal> refusal = ReadRefusal(ec, parser, false);
  if (refusal) {
    co_await RefuseAndClose(stream, remote, *refusal);
    co_return false;
  }
  co_return !ec;
}

// The router's view of a parsed request (its target starts with '/').
// Repeated header fields are joined with ", ".
Request Server::Impl::ToRequest(bhttp::request<bhttp::string_body>& req,
                                const std::string& remote) const {
  std::string_view target = Sv(req.target());
  Request request;
  request.method = std::string(Sv(req.method_string()));
  size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
  for (const auto& field : req) {
    std::string name = ToLower(Sv(field.name_string()));
    auto [it, inserted] = request.headers.emplace(name, std::string(Sv(field.value())));
    if (!inserted) it->second += ", " + std::string(Sv(field.value()));
  }
  request.body = std::move(req.body());
  request.remote_address =
      ClientAddress(remote, request.Header("x-forwarded-for"), options.trusted_proxies);
  return request;
}

Response Server::Impl::Dispatch(const Request& request, std::string* pattern) const {
  try {
    return router.Handle(request, pattern);
  } catch (...) {
    spdlog::error("http router failed");
    return ErrorResponse(Error::Internal("internal", "internal server error"));
  }
}

template <class Stream>
awaitable<void> Server::Impl::RefuseAndClose(Stream& stream, std::string_view peer,
                                             const Refusal& refusal) {
  auto start = SteadyClock::now();
  auto& lowest = beast::get_lowest_layer(stream);
  auto res = ToBeast(refusal.response, refusal.version == 10 ? 10 : 11, false, false);
  ErrorCode ec;
  lowest.expires_after(options.read_timeout);
  co_await bhttp::async_write(stream, res, Redirect(ec));
  // Refused before the headers were read or trusted: the peer's address.
  LogAccess(refusal.method, "", refusal.response.status, start,
            ClientAddress(peer, "", options.trusted_proxies), "");
  if (ec) co_return;
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (refusal.drain) {
      lowest.expires_after(kDrainTime);
      std::array<char, 16384> scratch;
      size_t total = 0;
      while (total < kMaxDrain) {
        size_t n = co_await stream.async_read_some(asio::buffer(scratch), Redirect(ec));
        if (ec) break;
        total += n;
      }
    }
    stream.close();
  } else {
    co_await Close(stream);
  }
}

template <class Stream>
awaitable<void> Server::Impl::Close(Stream& stream) {
  ErrorCode ec;
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
  } else {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
    co_await stream.async_shutdown(Redirect(ec));
    beast::get_lowest_layer(stream).close();
  }
  co_return;
}

Server::Server(ServerOptions options, const Router& router)
    : impl_(std::make_shared<Impl>(std::move(options), router)) {}

Server::~Server() {
  impl_->Stop();
  impl_->Wait();
}

Status Server::Listen() { return impl_->Listen(); }
uint16_t Server::port() const { return impl_->bound_port; }
bool Server::tls() const { return impl_->tls_ctx.has_value(); }
std::string Server::url() const { return impl_->bound_url; }
Status Server::Start() { return impl_->Start(); }
void Server::Stop() { impl_->Stop(); }
void Server::Wait() { impl_->Wait(); }
Status Server::Run() {
  KW_TRY(Start());
  Wait();
  return {};
}

}  // namespace keyward::http
