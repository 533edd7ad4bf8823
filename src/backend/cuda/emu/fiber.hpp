// Fibers for the emulator: the threads of an emulated block run on their own stacks inside
// one OS thread, switching only at barriers and warp exchanges (runtime.cpp). The switch is
// hand-written x86-64 assembly (callee-saved registers, MXCSR/x87 control words and the stack
// pointer) rather than glibc's swapcontext, which makes a sigprocmask syscall per switch.
// Switches are annotated for the sanitizers: ASan learns which stack is live
// (__sanitizer_{start,finish}_switch_fiber); TSan sees each fiber as its own thread and the
// switch as no synchronisation at all (__tsan_switch_to_fiber(.., no-sync)), so the caller
// must model real synchronisation (barriers) with explicit release/acquire (tsan_release /
// tsan_acquire below), and a missing __syncthreads stays a reported race.
#pragma once

#include <cstddef>

// Fiber plumbing is hidden from ThreadSanitizer: its accesses straddle a switch (TSan would
// pin them on the wrong fiber) and a finished fiber's frames never return (TSan's shadow call
// stack would grow with every restart).
#define STSM_NO_TSAN __attribute__((no_sanitize("thread")))

namespace stsm_emu {

// A place a fiber switch can leave and return to: a fiber, or the OS thread's own stack.
struct FiberContext {
    void* sp = nullptr;                  // saved stack pointer while switched out
    void* asan_fake_stack = nullptr;     // ASan's fake stack of this context while away
    const void* stack_bottom = nullptr;  // lowest address of the stack (ASan)
    size_t stack_size = 0;
    void* tsan_fiber = nullptr;          // TSan's fiber (thread state) of this context
    FiberContext* resumed_from = nullptr;  // who switched here last (kept under ASan only)
};

// A fiber with its own mmap'd stack (a PROT_NONE guard page below it catches overflow).
class Fiber {
  public:
    explicit Fiber(size_t stack_bytes);
    ~Fiber();
    Fiber(const Fiber&) = delete;
    Fiber& operator=(const Fiber&) = delete;

    // Arranges that the next switch to this fiber runs entry(arg) from the top of its stack.
    // entry must never return: it ends by switching away with finished = true.
    void start(void (*entry)(void*), void* arg);
    FiberContext& context() { return ctx_; }

  private:
    FiberContext ctx_;
    void* mapping_ = nullptr;
    size_t mapping_bytes_ = 0;
};

// The OS thread's own context (its TSan fiber filled in); switch from it into fibers.
FiberContext thread_context();

// Leaves `from` (which must be the running context) for `to`. Returns when something
// switches back to `from`. `from_finished`: `from` will never run again (ASan then drops its
// fake stack and, beforehand, unpoisons its stack for reuse).
STSM_NO_TSAN void switch_fiber(FiberContext& from, FiberContext& to, bool from_finished);

// Called first thing in a fiber's entry function (completes the sanitizers' switch).
STSM_NO_TSAN void fiber_started(FiberContext& self);

// Happens-before edges for ThreadSanitizer (no-ops otherwise): every access before
// tsan_release(x) happens before every access after a later tsan_acquire(x).
#ifdef __SANITIZE_THREAD__
}  // namespace stsm_emu
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
namespace stsm_emu {
inline void tsan_release(void* sync) { __tsan_release(sync); }
inline void tsan_acquire(void* sync) { __tsan_acquire(sync); }
#else
inline void tsan_release(void*) {}
inline void tsan_acquire(void*) {}
#endif

}  // namespace stsm_emu
