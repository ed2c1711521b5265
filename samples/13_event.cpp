// 13 — Event: an editor process signals changes; an auto-saver process
// waits for the signal, saves, and clears it.
#include <troupe.hpp>

#include <chrono>
#include <cstdio>

troupe::task<void> editor(troupe::event dirty, troupe::event saved, int edits) {
  for (int i = 1; i <= edits; ++i) {
    std::printf("editor: change %d made\n", i);
    (void)co_await dirty.set();
    (void)co_await saved.wait();   // wait until the saver has caught up
    (void)co_await saved.clear();
  }
}

troupe::task<void> autosaver(troupe::event dirty, troupe::event saved, int edits) {
  for (int i = 1; i <= edits; ++i) {
    bool changed = (co_await dirty.wait(std::chrono::seconds(10))).value();
    if (!changed) co_return;
    (void)co_await dirty.clear();
    std::printf("autosaver: saved after change %d\n", i);
    (void)co_await saved.set();
  }
}

troupe::task<void> main_task() {
  auto dirty = troupe::event::make();
  auto saved = troupe::event::make();
  troupe::process ed(editor, dirty, saved, 3);
  troupe::process saver(autosaver, dirty, saved, 3);
  saver.start();
  ed.start();
  co_await ed.join();
  co_await saver.join();
  std::printf("editor and autosaver finished: exitcodes %d and %d\n", *ed.exitcode(), *saver.exitcode());
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
