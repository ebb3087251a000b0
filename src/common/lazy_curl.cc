// The libcurl functions keywardd calls (SMTP delivery, single sign-on),
// each a call into libcurl.so.4 loaded on first use rather than linked: a
// node that sends mail to its outbox and has no SSO (the defaults) never
// maps libcurl and what Debian's libcurl pulls in (LDAP, Kerberos, SSH,
// RTMP, GnuTLS: ~2 MiB of resident pages; issue 16, idle RSS). Each
// definition has curl.h's signature. Without the library, curl_easy_init
// answers nullptr, which every caller reports ("could not create a
// transfer"), after one line on stderr naming the library. Where a binary
// also links libcurl itself (the CLI's tests), these definitions come
// first and still reach the one library (dlsym on its handle).
#define CURL_DISABLE_TYPECHECK  // the real function names, not the checking macros
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr const char* kLibrary = "libcurl.so.4";

void* Handle() {
  static void* const handle = [] {
    void* h = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* e = dlerror();
      std::fprintf(stderr,
                   "keywardd: %s could not be loaded (%s): SMTP delivery and single sign-on "
                   "cannot work; install Debian's libcurl4 package\n",
                   kLibrary, e != nullptr ? e : "unknown error");
    }
    return h;
  }();
  return handle;
}

// The address of `name`; only called once the library is loaded (the
// functions that could come first check Handle()), so a missing symbol is
// a broken installation: said, then abort.
void* Resolve(const char* name) {
  void* fn = Handle() != nullptr ? dlsym(Handle(), name) : nullptr;
  if (fn == nullptr) {
    std::fprintf(stderr, "keywardd: %s has no %s\n", kLibrary, name);
    std::abort();
  }
  return fn;
}

}  // namespace

#define KW_CURL_FN(name) static const auto fn = reinterpret_cast<decltype(&::name)>(Resolve(#name))

extern "C" {

CURLcode curl_global_init(long flags) {
  if (Handle() == nullptr) return CURLE_FAILED_INIT;
  KW_CURL_FN(curl_global_init);
  return fn(flags);
}
CURL* curl_easy_init(void) {
  if (Handle() == nullptr) return nullptr;
  KW_CURL_FN(curl_easy_init);
  return fn();
}
void curl_easy_cleanup(CURL* curl) {
  KW_CURL_FN(curl_easy_cleanup);
  fn(curl);
}
void curl_easy_reset(CURL* curl) {
  KW_CURL_FN(curl_easy_reset);
  fn(curl);
}
CURLcode curl_easy_perform(CURL* curl) {
  KW_CURL_FN(curl_easy_perform);
  return fn(curl);
}
const char* curl_easy_strerror(CURLcode code) {
  if (Handle() == nullptr) return "libcurl could not be loaded";
  KW_CURL_FN(curl_easy_strerror);
  return fn(code);
}
curl_slist* curl_slist_append(curl_slist* list, const char* text) {
  if (Handle() == nullptr) return nullptr;
  KW_CURL_FN(curl_slist_append);
  return fn(list, text);
}
void curl_slist_free_all(curl_slist* list) {
  if (list == nullptr) return;
  KW_CURL_FN(curl_slist_free_all);
  fn(list);
}

// curl.h fixes these two signatures: the last named parameter is an enum,
// which C++ (unlike C, in which libcurl defines them the same way) calls
// undefined for va_start; clang says so. The enum's values fit an int and
// are passed as one on every ABI Debian builds for.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wvarargs"
#endif

// The one argument after the option is read as the type the option's
// number says it is (curl.h's CURLOPTTYPE_* ranges) and passed on as that.
CURLcode curl_easy_setopt(CURL* curl, CURLoption option, ...) {
  KW_CURL_FN(curl_easy_setopt);
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    rc = fn(curl, option, va_arg(ap, long));
  } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
    rc = fn(curl, option, va_arg(ap, void*));
  } else if (option < CURLOPTTYPE_OFF_T) {
    rc = fn(curl, option, va_arg(ap, void (*)()));
  } else if (option < CURLOPTTYPE_BLOB) {
    rc = fn(curl, option, va_arg(ap, curl_off_t));
  } else {
    rc = fn(curl, option, va_arg(ap, void*));
  }
  va_end(ap);
  return rc;
}

// Every CURLINFO_* takes a pointer to where the answer goes.
CURLcode curl_easy_getinfo(CURL* curl, CURLINFO info, ...) {
  KW_CURL_FN(curl_easy_getinfo);
  va_list ap;
  va_start(ap, info);
  void* out = va_arg(ap, void*);
  va_end(ap);
  return fn(curl, info, out);
}

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

}  // extern "C"
