// 15 — Pipe: two processes talk over a duplex pipe, request/response style.
#include <troupe.hpp>

#include <cstdio>
#include <string>

using end_point = troupe::connection<std::string, std::string>;

// The server process answers each question until the other end closes.
troupe::task<void> answerer(end_point conn) {
  for (;;) {
    auto question = co_await conn.recv();
    if (!question) co_return;  // EOF: the other end closed
    std::string reply = "answer to '" + *question + "' (" + std::to_string(question->size()) + " letters)";
    (void)co_await conn.send(reply);
  }
}

troupe::task<void> main_task() {
  auto [mine, theirs] = troupe::make_pipe<std::string>();
  troupe::process server(answerer, theirs);
  server.start();
  for (std::string q : {"what time is it", "how far is the moon", "is this a pipe"}) {
    (void)(co_await mine.send(q)).value();
    std::printf("asked: %s\n", q.c_str());
    std::printf("got:   %s\n", (co_await mine.recv()).value().c_str());
  }
  (void)co_await mine.close();
  co_await server.join();
  std::printf("server saw EOF and exited with %d\n", *server.exitcode());
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
