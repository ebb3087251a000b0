// keywardd: the Keyward server. All wiring lives in app.cc.
#include "http/api/api.h"
#include "server/app.h"

int main(int argc, char** argv) { return keyward::server::Main(argc, argv, keyward::api::MakeApi); }
