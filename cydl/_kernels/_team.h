/* Threads of our own for the phases of a prediction.

   Opening an OpenMP parallel region costs the calling thread about 0.6 us on the
   development VM and closing it about 0.2-0.4 us: libgomp's team start and join
   each end in a futex_wake system call, whether or not a thread sleeps (see
   _barrier.h). A one-row prediction of the book's MLP runs 8-9 us, so that is
   almost a tenth of it, on the critical path: the calling thread starts its share
   of the first layer last.

   The team is a set of worker threads, each with a mailbox on its own cache
   line. The caller writes a job (a function and its argument) into the mailboxes
   of the workers it needs, bumps their sequence numbers, and runs its own share;
   every thread then meets at the team's barrier. An idle worker spins on its
   mailbox as long as libgomp's idle threads would (cydl_spin_limit pauses) and
   then sleeps on it in the kernel; the caller makes the wake-up system call only
   when the worker sleeps.

   One caller at a time owns the team (cydl_team_claim): a second Python thread
   predicting at the same moment gets 0 and uses an OpenMP region instead. The
   final barrier is the team's, not the caller's: a worker may still be leaving it
   when the caller returns, and the caller's data may then be freed. A child
   created by fork() has none of the parent's workers: the fork handler forgets
   them, and the child starts its own when it needs them. Linux only; elsewhere
   cydl_team_claim always gives 0. */
#ifndef CYDL_TEAM_H
#define CYDL_TEAM_H
#include "_barrier.h"

#define CYDL_TEAM_MAX 64

typedef void (*cydl_job_fn)(void* arg, int tid);

#if defined(__linux__)
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

typedef struct {
    int seq;            /* bumped by the caller to post a job */
    int sleepers;       /* the worker, while it sleeps (or is about to) on seq */
    int n;              /* the job's thread count */
    cydl_job_fn fn;
    void* arg;
} __attribute__((aligned(64))) cydl_mailbox_t;

static cydl_mailbox_t cydl_boxes[CYDL_TEAM_MAX];
static cydl_barrier_t cydl_team_bar __attribute__((aligned(64)));
static int cydl_team_busy = 0;      /* 1 while a caller owns the team */
static int cydl_team_workers = 0;   /* workers started: tids 1..cydl_team_workers */
static int cydl_team_fork_hook = 0;
static int cydl_team_on = 1;        /* 0: every step opens an OpenMP region (A/B, tests) */

static void* cydl_team_worker(void* arg) {
    int tid = (int)(intptr_t)arg;
    cydl_mailbox_t* box = &cydl_boxes[tid];
    /* the mailbox was cleared before this thread started: seq 0 means "no job" */
    int seen = 0;
    for (;;) {
        seen = cydl_wait_while(&box->seq, seen, &box->sleepers);
        box->fn(box->arg, tid);
        cydl_barrier_wait(&cydl_team_bar, box->n);
    }
    return NULL;
}

static void cydl_team_after_fork(void) {
    int i;
    /* the parent's workers do not exist here */
    for (i = 0; i < CYDL_TEAM_MAX; i++) {
        cydl_boxes[i].seq = 0;
        cydl_boxes[i].sleepers = 0;
    }
    cydl_barrier_init(&cydl_team_bar);
    cydl_team_workers = 0;
    cydl_team_busy = 0;
}

/* 1 when the caller now owns the team with at least n - 1 workers, else 0 (the
   team is busy, a worker could not start, or n is out of range). */
static inline int cydl_team_claim(int n) {
    int i;
    if (n < 2 || n > CYDL_TEAM_MAX || !cydl_team_on)
        return 0;
    if (__atomic_exchange_n(&cydl_team_busy, 1, __ATOMIC_ACQUIRE))
        return 0;
    if (!cydl_team_fork_hook) {
        pthread_atfork(NULL, NULL, cydl_team_after_fork);
        cydl_team_fork_hook = 1;
    }
    for (i = cydl_team_workers + 1; i < n; i++) {
        pthread_t th;
        pthread_attr_t attr;
        sigset_t all, old;
        int err;
        cydl_boxes[i].seq = 0;
        cydl_boxes[i].sleepers = 0;
        /* signals go to Python's threads, never to a worker */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        err = pthread_create(&th, &attr, cydl_team_worker, (void*)(intptr_t)i);
        pthread_attr_destroy(&attr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (err != 0) {
            __atomic_store_n(&cydl_team_busy, 0, __ATOMIC_RELEASE);
            return 0;
        }
        cydl_team_workers = i;
    }
    return 1;
}

/* fn(arg, tid) on tids 0..n-1, tid 0 on the calling thread, which must own the
   team; returns when every thread has finished, and releases the team. */
static inline void cydl_team_run(cydl_job_fn fn, void* arg, int n) {
    int i;
    for (i = 1; i < n; i++) {
        cydl_mailbox_t* box = &cydl_boxes[i];
        box->n = n;
        box->fn = fn;
        box->arg = arg;
        __atomic_add_fetch(&box->seq, 1, __ATOMIC_SEQ_CST);
        cydl_wake(&box->seq, &box->sleepers);
    }
    fn(arg, 0);
    cydl_barrier_wait(&cydl_team_bar, n);
    __atomic_store_n(&cydl_team_busy, 0, __ATOMIC_RELEASE);
}

#else
static int cydl_team_on = 0;
static int cydl_team_workers = 0;
static inline int cydl_team_claim(int n) { (void)n; return 0; }
static inline void cydl_team_run(cydl_job_fn fn, void* arg, int n) { (void)n; fn(arg, 0); }
#endif
#endif
