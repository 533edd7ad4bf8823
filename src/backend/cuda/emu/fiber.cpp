// Context switching for the emulator's fibers (see fiber.hpp).
#include "fiber.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <new>

#if !defined(__x86_64__)
#error "the emulator's fiber switch is written for x86-64 (System V ABI)"
#endif

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#ifdef __SANITIZE_THREAD__
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
}
// __tsan_switch_to_fiber_no_sync: the switch itself creates no happens-before edge.
constexpr unsigned kTsanNoSync = 1;
#endif

// stsm_emu_fiber_switch(void** save_sp, void* next_sp): pushes the callee-saved registers
// and the MXCSR / x87 control words, saves the stack pointer in *save_sp, loads next_sp and
// pops the same frame from there. A fresh fiber's stack holds such a frame whose return
// address is stsm_emu_fiber_boot, which calls r13(r12) (the entry function and its argument).
// The boot frame marks the return address undefined so unwinders stop there.
asm(R"(
    .text
    .p2align 4
    .globl stsm_emu_fiber_switch
    .hidden stsm_emu_fiber_switch
    .type stsm_emu_fiber_switch, @function
stsm_emu_fiber_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size stsm_emu_fiber_switch, .-stsm_emu_fiber_switch

    .p2align 4
    .globl stsm_emu_fiber_boot
    .hidden stsm_emu_fiber_boot
    .type stsm_emu_fiber_boot, @function
stsm_emu_fiber_boot:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    callq *%r13
    ud2
    .cfi_endproc
    .size stsm_emu_fiber_boot, .-stsm_emu_fiber_boot
)");

extern "C" void stsm_emu_fiber_switch(void** save_sp, void* next_sp);
extern "C" void stsm_emu_fiber_boot();

namespace stsm_emu {

Fiber::Fiber(size_t stack_bytes) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    stack_bytes = (stack_bytes + page - 1) / page * page;
    mapping_bytes_ = stack_bytes + page;
    mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping_ == MAP_FAILED) throw std::bad_alloc();
    mprotect(mapping_, page, PROT_NONE);  // guard page below the stack
    ctx_.stack_bottom = static_cast<char*>(mapping_) + page;
    ctx_.stack_size = stack_bytes;
#ifdef __SANITIZE_THREAD__
    ctx_.tsan_fiber = __tsan_create_fiber(0);
#endif
}

Fiber::~Fiber() {
#ifdef __SANITIZE_THREAD__
    __tsan_destroy_fiber(ctx_.tsan_fiber);
#endif
    munmap(mapping_, mapping_bytes_);
}

STSM_NO_TSAN void Fiber::start(void (*entry)(void*), void* arg) {
    // The frame stsm_emu_fiber_switch pops (from low to high): MXCSR and x87 control word,
    // r15, r14, r13 = entry, r12 = arg, rbx, rbp = 0 (ends frame-pointer walks), return
    // address = boot. After the ret, rsp = top, 16-byte aligned as a call site needs.
    uintptr_t top = ((uintptr_t)ctx_.stack_bottom + ctx_.stack_size) & ~(uintptr_t)15;
    uint64_t* frame = reinterpret_cast<uint64_t*>(top) - 8;
    uint32_t mxcsr;
    uint16_t fpucw;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpucw));
    frame[0] = (uint64_t)mxcsr | (uint64_t)fpucw << 32;
    frame[1] = 0;                                     // r15
    frame[2] = 0;                                     // r14
    frame[3] = reinterpret_cast<uint64_t>(entry);     // r13
    frame[4] = reinterpret_cast<uint64_t>(arg);       // r12
    frame[5] = 0;                                     // rbx
    frame[6] = 0;                                     // rbp
    frame[7] = reinterpret_cast<uint64_t>(&stsm_emu_fiber_boot);
    ctx_.sp = frame;
    ctx_.asan_fake_stack = nullptr;
}

FiberContext thread_context() {
    FiberContext c;
#ifdef __SANITIZE_THREAD__
    c.tsan_fiber = __tsan_get_current_fiber();
#endif
    return c;
}

STSM_NO_TSAN void switch_fiber(FiberContext& from, FiberContext& to, bool from_finished) {
#ifdef __SANITIZE_ADDRESS__
    to.resumed_from = &from;
    // A finished fiber's frames never return: clear their poison so the stack can be reused.
    if (from_finished) __asan_handle_no_return();
    __sanitizer_start_switch_fiber(from_finished ? nullptr : &from.asan_fake_stack, to.stack_bottom, to.stack_size);
#else
    (void)from_finished;
#endif
#ifdef __SANITIZE_THREAD__
    __tsan_switch_to_fiber(to.tsan_fiber, kTsanNoSync);
#endif
    stsm_emu_fiber_switch(&from.sp, to.sp);
#ifdef __SANITIZE_ADDRESS__
    __sanitizer_finish_switch_fiber(from.asan_fake_stack, nullptr, nullptr);
#endif
}

STSM_NO_TSAN void fiber_started(FiberContext& self) {
#ifdef __SANITIZE_ADDRESS__
    // Learns the stack of the context that started us (the OS thread's, for the scheduler).
    FiberContext* from = self.resumed_from;
    __sanitizer_finish_switch_fiber(nullptr, from ? &from->stack_bottom : nullptr, from ? &from->stack_size : nullptr);
#else
    (void)self;
#endif
}

}  // namespace stsm_emu
