// The PQ* functions keywardd calls, each a call into libpq.so.5 loaded on
// first use (libpq_loader.h). Each definition has libpq-fe.h's signature
// (the compiler refuses one that does not). Where a binary also links libpq
// itself (a test), these definitions come first and still reach the one
// library: dlsym on the handle finds libpq's own symbol.
#include <dlfcn.h>
#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "store/postgres/libpq_loader.h"

namespace keyward::store::postgres {
namespace {

constexpr const char* kLibrary = "libpq.so.5";

struct Loaded {
  void* handle = nullptr;
  std::string error;
};

const Loaded& Library() {
  static const Loaded loaded = [] {
    Loaded l;
    l.handle = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (l.handle == nullptr) {
      const char* e = dlerror();
      l.error = e != nullptr ? e : "unknown error";
    }
    return l;
  }();
  return loaded;
}

// The address of `name` in libpq. LoadLibpq() is called before any PQ*
// function (by the store, or it failed and nothing else ran), so a missing
// library or symbol here is a broken installation: said, then abort.
void* Resolve(const char* name) {
  const Loaded& l = Library();
  void* fn = l.handle != nullptr ? dlsym(l.handle, name) : nullptr;
  if (fn == nullptr) {
    std::fprintf(stderr, "keywardd: %s has no %s (%s)\n", kLibrary, name,
                 l.handle == nullptr ? l.error.c_str() : "a libpq older than 10?");
    std::abort();
  }
  return fn;
}

}  // namespace

Status LoadLibpq() {
  const Loaded& l = Library();
  if (l.handle == nullptr) {
    return Fail(Error::Unavailable(
        "store.unavailable",
        "PostgreSQL needs libpq, which could not be loaded (" + l.error +
            "): install Debian's libpq5 package, or use the default SQLite store"));
  }
  return {};
}

}  // namespace keyward::store::postgres

// One forwarding definition per function: `fn` is resolved once.
#define KW_PQ(name, ...)                                                             \
  static const auto fn =                                                             \
      reinterpret_cast<decltype(&::name)>(keyward::store::postgres::Resolve(#name)); \
  return fn(__VA_ARGS__)

extern "C" {

PGconn* PQconnectdbParams(const char* const* keywords, const char* const* values,
                          int expand_dbname) {
  KW_PQ(PQconnectdbParams, keywords, values, expand_dbname);
}
void PQfinish(PGconn* conn) { KW_PQ(PQfinish, conn); }
ConnStatusType PQstatus(const PGconn* conn) { KW_PQ(PQstatus, conn); }
PGTransactionStatusType PQtransactionStatus(const PGconn* conn) {
  KW_PQ(PQtransactionStatus, conn);
}
char* PQerrorMessage(const PGconn* conn) { KW_PQ(PQerrorMessage, conn); }
int PQsocket(const PGconn* conn) { KW_PQ(PQsocket, conn); }
int PQconsumeInput(PGconn* conn) { KW_PQ(PQconsumeInput, conn); }
PQnoticeProcessor PQsetNoticeProcessor(PGconn* conn, PQnoticeProcessor proc, void* arg) {
  KW_PQ(PQsetNoticeProcessor, conn, proc, arg);
}
PQconninfoOption* PQconninfoParse(const char* conninfo, char** errmsg) {
  KW_PQ(PQconninfoParse, conninfo, errmsg);
}
void PQconninfoFree(PQconninfoOption* options) { KW_PQ(PQconninfoFree, options); }
void PQfreemem(void* ptr) { KW_PQ(PQfreemem, ptr); }
PGresult* PQexec(PGconn* conn, const char* query) { KW_PQ(PQexec, conn, query); }
PGresult* PQprepare(PGconn* conn, const char* stmt_name, const char* query, int n_params,
                    const Oid* param_types) {
  KW_PQ(PQprepare, conn, stmt_name, query, n_params, param_types);
}
PGresult* PQexecPrepared(PGconn* conn, const char* stmt_name, int n_params,
                         const char* const* param_values, const int* param_lengths,
                         const int* param_formats, int result_format) {
  KW_PQ(PQexecPrepared, conn, stmt_name, n_params, param_values, param_lengths, param_formats,
        result_format);
}
ExecStatusType PQresultStatus(const PGresult* res) { KW_PQ(PQresultStatus, res); }
char* PQresultErrorField(const PGresult* res, int field_code) {
  KW_PQ(PQresultErrorField, res, field_code);
}
int PQntuples(const PGresult* res) { KW_PQ(PQntuples, res); }
int PQnfields(const PGresult* res) { KW_PQ(PQnfields, res); }
Oid PQftype(const PGresult* res, int field_num) { KW_PQ(PQftype, res, field_num); }
char* PQgetvalue(const PGresult* res, int tup_num, int field_num) {
  KW_PQ(PQgetvalue, res, tup_num, field_num);
}
int PQgetlength(const PGresult* res, int tup_num, int field_num) {
  KW_PQ(PQgetlength, res, tup_num, field_num);
}
int PQgetisnull(const PGresult* res, int tup_num, int field_num) {
  KW_PQ(PQgetisnull, res, tup_num, field_num);
}
char* PQcmdTuples(PGresult* res) { KW_PQ(PQcmdTuples, res); }
void PQclear(PGresult* res) { KW_PQ(PQclear, res); }

}  // extern "C"
