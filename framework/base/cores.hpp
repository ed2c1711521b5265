#pragma once

// Where the calling thread runs, for the few places where that decides
// speed: two processes streaming to each other run at a fraction of their
// speed on one core while another core idles, and the kernel leaves them
// there when each wakes the other (seen on a KVM guest, where a halted
// virtual core most likely counts as preempted rather than idle when a
// wake-up looks for an idle core, so the wakee joins its waker).

namespace troupe::base {

/// Threads runnable on the whole machine right now, the caller included
/// (the kernel's count, the fourth field of /proc/loadavg); -1 if unknown.
[[nodiscard]] int runnable_threads() noexcept;

/// Moves the calling thread to another core it may run on, if one is
/// likely free: its affinity mask allows more than one core and no more
/// threads are runnable on the machine than that mask has cores. The mask
/// is left as it was (the thread is moved by narrowing the mask for an
/// instant), so a thread pinned to one core is never moved, and the kernel
/// may move it back at will. Whether it moved. Costs a few system calls:
/// call it when sharing a core was seen to cost, not routinely.
bool move_to_other_core() noexcept;

}  // namespace troupe::base
