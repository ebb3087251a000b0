// What the access log says about the request being handled: the API layer
// notes the authenticated account here, and the server puts it on the
// request's log line (src/http/server.cc). A handler runs on one thread from
// start to end, so a thread-local slot carries it without touching the
// request or the answer.
#pragma once

#include <string>
#include <string_view>

namespace keyward::http {

// The caller's account id (a random id: never an email or token).
void NoteRequestActor(std::string_view account_id);
// The id noted on this thread since the last call, or "" (and forgets it).
[[nodiscard]] std::string TakeRequestActor();

}  // namespace keyward::http
