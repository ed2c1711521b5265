#include "actors/pipe/pipe_actor.hpp"

#include <array>
#include <deque>

#include "actors/common/protocol.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {

coro::task<void> pipe_server(pipe_inbox self, bool duplex) {
  struct reader : waiter {
    bool poll_only = false;
  };
  struct end {
    std::deque<std::vector<std::byte>> inbox;  // what the other end sent to this one
    std::deque<reader> readers;
    node_id user = 0;  // the process using this end, once known
    bool closed = false;
  };
  std::array<end, 2> ends;
  client_watch clients;

  auto use = [&](std::uint8_t side, node_id client) {
    if (client != 0 && ends[side].user == 0) ends[side].user = client;
    clients.see(self, client);
  };
  // Answers the readers of `side` that can be answered now.
  auto serve = [&](std::uint8_t side) {
    end& e = ends[side];
    bool eof = ends[side ^ 1].closed;
    while (!e.readers.empty() && (!e.inbox.empty() || eof)) {
      reader r = std::move(e.readers.front());
      e.readers.pop_front();
      if (r.poll_only) {
        r.reply.reply(true);
      } else if (!e.inbox.empty()) {
        r.reply.reply(std::move(e.inbox.front()));
        e.inbox.pop_front();
      } else {
        r.reply.fail(error{errc::closed, "the other end of the pipe is closed"});
      }
    }
  };
  auto close_end = [&](std::uint8_t side) {
    ends[side].closed = true;
    serve(side ^ 1);
  };

  for (;;) {
    auto l = co_await self.receive(until(earliest_deadline(ends[0].readers, ends[1].readers)));
    if (!l && l.code() != errc::timeout) co_return;
    if (l) {
      switch (l->index()) {
        case 0: {
          auto& m = l->get<pipe_send>();
          std::uint8_t side = m.side & 1;
          use(side, m.client);
          if (!duplex && side == 0) {
            l->fail(error{errc::invalid_argument, "the receiving end of a one-way pipe cannot send"});
          } else if (ends[side].closed) {
            l->fail(error{errc::closed, "send on a closed end"});
          } else if (ends[side ^ 1].closed) {
            l->fail(error{errc::closed, "the other end of the pipe is closed"});
          } else {
            ends[side ^ 1].inbox.push_back(std::move(m.payload));
            serve(side ^ 1);
            l->reply();
          }
          break;
        }
        case 1:
        case 2: {
          bool poll_only = l->index() == 2;
          std::uint8_t side = poll_only ? l->get<pipe_poll>().side & 1 : l->get<pipe_recv>().side & 1;
          node_id client = poll_only ? l->get<pipe_poll>().client : l->get<pipe_recv>().client;
          std::uint64_t ticket = poll_only ? l->get<pipe_poll>().ticket : l->get<pipe_recv>().ticket;
          std::uint64_t deadline = poll_only ? l->get<pipe_poll>().deadline_ns : l->get<pipe_recv>().deadline_ns;
          use(side, client);
          if (!duplex && side == 1) {
            l->fail(error{errc::invalid_argument, "the sending end of a one-way pipe cannot receive"});
            break;
          }
          ends[side].readers.push_back(reader{{l->take_responder(), client, ticket, deadline}, poll_only});
          serve(side);
          break;
        }
        case 3:
          for (auto& e : ends) withdraw(e.readers, l->get<pipe_withdraw>().client, l->get<pipe_withdraw>().ticket);
          break;
        case 4:
          close_end(l->get<pipe_close>().side & 1);
          l->reply();
          break;
        case 5:
          if (auto node = clients.gone(l->get<down>())) {
            for (std::uint8_t side = 0; side < 2; ++side) {
              forget_client(ends[side].readers, *node);
              if (ends[side].user == *node && !ends[side].closed) close_end(side);
            }
          }
          break;
      }
    }
    for (auto& e : ends) {
      expire(e.readers, [](reader& r) {
        if (r.poll_only) r.reply.reply(false);
        else r.reply.fail(error{errc::timeout, "nothing arrived in time"});
      });
    }
  }
}

}  // namespace troupe::actors::detail
