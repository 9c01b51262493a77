/* The barrier between the phases of a fused step.

   libgomp's barrier ends with a futex_wake system call from the last thread to
   arrive, whether or not any thread sleeps: about 250 ns on the development VM,
   against 40-80 ns for the barrier itself (benchmarks/lab/barrier.c). A one-row
   prediction has three barriers, a training step of the 20-layer net about 45.

   This one is a counter and a generation number. A waiting thread spins on the
   generation as long as libgomp's idle threads would (cydl_spin_limit pauses, set
   from cydl's GOMP_SPINCOUNT), then sleeps on it in the kernel, so a busy machine
   gets its core back; the last arrival makes the system call only when a thread
   sleeps. The sequentially consistent order of "sleepers + 1, then futex_wait while
   the generation is unchanged" against "new generation, then read sleepers" means
   no wakeup is lost. */
#ifndef CYDL_BARRIER_H
#define CYDL_BARRIER_H
#include <limits.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CYDL_PAUSE() _mm_pause()
#else
#define CYDL_PAUSE() ((void)0)
#endif

typedef struct {
    int count;          /* threads arrived in this generation */
    int gen;            /* bumped by the last arrival */
    int sleepers;       /* threads sleeping (or about to) on gen */
} cydl_barrier_t;

static long cydl_spin_limit = 1000;

static inline void cydl_barrier_init(cydl_barrier_t* b) {
    b->count = 0;
    b->gen = 0;
    b->sleepers = 0;
}

/* Wait until *word is no longer `old` and return its new value: spin
   cydl_spin_limit pauses, then sleep on it in the kernel, counted in *sleepers.
   Whoever changes *word calls cydl_wake after the change. (The barrier below and
   the prediction team's mailboxes, _team.h, both wait this way.) */
static inline int cydl_wait_while(int* word, int old, int* sleepers) {
    long spins = 0;
    int v;
    while ((v = __atomic_load_n(word, __ATOMIC_ACQUIRE)) == old) {
        if (spins < cydl_spin_limit) {
            CYDL_PAUSE();
            spins++;
            continue;
        }
        __atomic_add_fetch(sleepers, 1, __ATOMIC_SEQ_CST);
#if defined(__linux__)
        /* returns at once if *word already moved; spurious wakeups loop */
        syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, old, NULL, NULL, 0);
#else
        sched_yield();
#endif
        __atomic_sub_fetch(sleepers, 1, __ATOMIC_SEQ_CST);
    }
    return v;
}

/* After a sequentially consistent change of *word: wake its sleepers, if any
   (the system call only then). */
static inline void cydl_wake(int* word, int* sleepers) {
    if (__atomic_load_n(sleepers, __ATOMIC_SEQ_CST) > 0) {
#if defined(__linux__)
        syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#endif
    }
}

static inline void cydl_barrier_wait(cydl_barrier_t* b, int n) {
    int g = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
    if (n <= 1)
        return;
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == n) {
        /* every other thread waits on gen: nobody touches count until it moves */
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->gen, g + 1, __ATOMIC_SEQ_CST);
        cydl_wake(&b->gen, &b->sleepers);
        return;
    }
    cydl_wait_while(&b->gen, g, &b->sleepers);
}

static inline void cydl_barrier_set_spin(long n) { cydl_spin_limit = n < 0 ? 0 : n; }

#endif
