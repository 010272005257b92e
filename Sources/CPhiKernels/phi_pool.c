// Persistent worker pool (spin, then park on a futex / condition variable), physical core count, and a memory
// read-bandwidth probe run on the pool's threads.
#define _GNU_SOURCE
#include "phi_quant.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_THREADS 64
#define TICKET_CLOSED 0x8000ull

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

// MARK: - Physical cores

int phi_physical_cores(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) online = 1;
    int ids[1024];
    int count = 0;
    for (long cpu = 0; cpu < online && cpu < 1024; cpu++) {
        char path[128];
        int core = -1, pkg = -1;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", cpu);
        FILE *f = fopen(path, "r");
        if (!f) return (int)online;
        if (fscanf(f, "%d", &core) != 1) core = -1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", cpu);
        f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%d", &pkg) != 1) pkg = 0;
            fclose(f);
        }
        if (core < 0) return (int)online;
        const int id = pkg * 65536 + core;
        int seen = 0;
        for (int i = 0; i < count; i++) seen |= ids[i] == id;
        if (!seen) ids[count++] = id;
    }
    return count > 0 ? count : (int)online;
}

// MARK: - Pool

static struct {
    pthread_mutex_t use;        // held by the thread dispatching work
    pthread_mutex_t park_lock;  // non-Linux parking
    pthread_cond_t park_cond;
    atomic_uint gen;            // bumped per dispatch (futex word)
    // Entry tickets of the open dispatch: generation << 16 | CLOSED bit | workers entered. A worker runs the task
    // only if it enters before the dispatcher closes the dispatch; the dispatcher then waits for exactly those.
    atomic_ullong ticket;
    atomic_int left;
    atomic_int sleepers;
    atomic_int active;          // threads taking part in the current dispatch
    atomic_int spawned;         // workers created (ids 1...spawned)
    atomic_int wanted;          // configured thread count (0: not yet configured)
    phi_task_fn fn;
    void *ctx;
    double spin_ns;
} pool = {
    .use = PTHREAD_MUTEX_INITIALIZER,
    .park_lock = PTHREAD_MUTEX_INITIALIZER,
    .park_cond = PTHREAD_COND_INITIALIZER,
};

static void park(unsigned seen) {
    atomic_fetch_add(&pool.sleepers, 1);
#ifdef __linux__
    if (atomic_load(&pool.gen) == seen) syscall(SYS_futex, &pool.gen, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
#else
    pthread_mutex_lock(&pool.park_lock);
    while (atomic_load(&pool.gen) == seen) pthread_cond_wait(&pool.park_cond, &pool.park_lock);
    pthread_mutex_unlock(&pool.park_lock);
#endif
    atomic_fetch_sub(&pool.sleepers, 1);
}

static void wake_all(void) {
    if (atomic_load(&pool.sleepers) == 0) return;
#ifdef __linux__
    syscall(SYS_futex, &pool.gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    pthread_mutex_lock(&pool.park_lock);
    pthread_cond_broadcast(&pool.park_cond);
    pthread_mutex_unlock(&pool.park_lock);
#endif
}

// Generation current when worker i was created (before the dispatch that created it bumps it).
static unsigned start_gen[MAX_THREADS];

static void *worker_main(void *arg) {
    const int ith = (int)(intptr_t)arg;
    unsigned seen = start_gen[ith];
    for (;;) {
        unsigned g;
        double spin_start = 0;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool.gen, memory_order_acquire)) == seen) {
            if (ith < atomic_load_explicit(&pool.active, memory_order_relaxed)) {
                if ((++spins & 255) == 0) {
                    const double t = now_ns();
                    if (spin_start == 0) spin_start = t;
                    else if (t - spin_start > pool.spin_ns) {
                        park(seen);
                        spin_start = 0;
                    }
                }
                CPU_RELAX();
            } else {
                park(seen);
            }
        }
        seen = g;
        const int active = atomic_load_explicit(&pool.active, memory_order_relaxed);
        if (ith >= active) continue;
        unsigned long long t = atomic_load(&pool.ticket);
        int entered = 0;
        while ((t >> 16) == (unsigned long long)g && !(t & TICKET_CLOSED)) {
            if (atomic_compare_exchange_weak(&pool.ticket, &t, t + 1)) {
                entered = 1;
                break;
            }
        }
        if (!entered) continue;  // woke too late: the dispatcher finished this dispatch without us
        pool.fn(pool.ctx, ith, active);
        atomic_fetch_add_explicit(&pool.left, 1, memory_order_release);
    }
    return NULL;
}

static int configured_threads(void) {
    int n = atomic_load(&pool.wanted);
    if (n == 0) {
        n = phi_physical_cores();
        const char *env = getenv("PHI_THREADS");
        if (env && atoi(env) > 0) n = atoi(env);
        if (n > MAX_THREADS) n = MAX_THREADS;
        int expected = 0;
        if (!atomic_compare_exchange_strong(&pool.wanted, &expected, n)) n = expected;
    }
    return n;
}

int phi_pool_threads(void) { return configured_threads(); }

int phi_pool_set_threads(int n) {
    const int previous = configured_threads();
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    atomic_store(&pool.wanted, n);
    return previous;
}

// Called with `use` held.
static void ensure_workers(int n) {
    if (pool.spin_ns == 0) {
        const char *env = getenv("PHI_SPIN_US");
        pool.spin_ns = (env && atof(env) >= 0 ? atof(env) : 1000.0) * 1000.0 + 1;
    }
    int spawned = atomic_load(&pool.spawned);
    while (spawned < n - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        start_gen[spawned + 1] = atomic_load(&pool.gen);
        const int ok = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)(spawned + 1)) == 0;
        pthread_attr_destroy(&attr);
        if (!ok) break;
        spawned++;
        atomic_store(&pool.spawned, spawned);
    }
}

// What `bench local` reports as the serial share of a token: its time outside every phi_pool_run (two clock reads
// per dispatch, ~50 ns against the 1-2 ms a phi-2 layer's products take).
static struct {
    atomic_llong dispatches, inside_ns, wait_ns, steals;
} counters;

void phi_pool_read_counters(phi_pool_counters *out) {
    out->dispatches = atomic_load_explicit(&counters.dispatches, memory_order_relaxed);
    out->inside_ns = atomic_load_explicit(&counters.inside_ns, memory_order_relaxed);
    out->wait_ns = atomic_load_explicit(&counters.wait_ns, memory_order_relaxed);
    out->steals = atomic_load_explicit(&counters.steals, memory_order_relaxed);
}

void phi_internal_count_steal(void) { atomic_fetch_add_explicit(&counters.steals, 1, memory_order_relaxed); }

static void count(double t0, double t1, double t2) {
    atomic_fetch_add_explicit(&counters.dispatches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&counters.inside_ns, (long long)(t2 - t0), memory_order_relaxed);
    atomic_fetch_add_explicit(&counters.wait_ns, (long long)(t2 - t1), memory_order_relaxed);
}

static void run_alone(phi_task_fn fn, void *ctx, double t0) {
    fn(ctx, 0, 1);
    const double t1 = now_ns();
    count(t0, t1, t1);
}

void phi_pool_run(phi_task_fn fn, void *ctx) {
    const double t0 = now_ns();
    int n = configured_threads();
    if (n <= 1 || pthread_mutex_trylock(&pool.use) != 0) {
        run_alone(fn, ctx, t0);
        return;
    }
    ensure_workers(n);
    if (n > atomic_load(&pool.spawned) + 1) n = atomic_load(&pool.spawned) + 1;
    if (n <= 1) {
        pthread_mutex_unlock(&pool.use);
        run_alone(fn, ctx, t0);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    const unsigned g = atomic_load(&pool.gen) + 1;
    atomic_store(&pool.left, 0);
    atomic_store(&pool.ticket, (unsigned long long)g << 16);
    atomic_store_explicit(&pool.active, n, memory_order_relaxed);
    atomic_fetch_add(&pool.gen, 1);  // seq_cst: publishes fn/ctx/ticket/active, ordered before the sleepers check
    wake_all();
    fn(ctx, 0, n);
    const double t1 = now_ns();
    // Close: workers that have not entered yet (descheduled on a busy machine) skip this dispatch; tasks claim
    // their work dynamically, so the caller has done whatever they did not.
    const unsigned long long t = atomic_fetch_or(&pool.ticket, TICKET_CLOSED);
    const int entered = (int)(t & 0x7fff);
    // Yield only after ~50 µs of spinning: from 4,096 pauses (~12 µs here) on, each look was a sched_yield system
    // call, ~0.3% of a phi-2 token's samples, and the last worker's finish waited out the call in progress. A worker
    // descheduled on a busy machine still gets the core after that.
    int spins = 0;
    double spin_start = 0;
    while (atomic_load_explicit(&pool.left, memory_order_acquire) < entered) {
        CPU_RELAX();
        if ((++spins & 255) == 0) {
            const double t = now_ns();
            if (spin_start == 0) spin_start = t;
            else if (t - spin_start > 50e3) sched_yield();
        }
    }
    pthread_mutex_unlock(&pool.use);
    count(t0, t1, now_ns());
}

typedef struct {
    void (*body)(void *, int64_t);
    void *ctx;
    int64_t count;
    atomic_llong next;
} pfor_job;

static void pfor_task(void *p, int ith, int nth) {
    (void)ith;
    (void)nth;
    pfor_job *j = p;
    for (;;) {
        const long long i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (i >= j->count) break;
        j->body(j->ctx, i);
    }
}

void phi_pool_parallel_for(int64_t count, void (*body)(void *ctx, int64_t index), void *ctx) {
    pfor_job j = {.body = body, .ctx = ctx, .count = count};
    atomic_init(&j.next, 0);
    if (count > 1) phi_pool_run(pfor_task, &j);
    else pfor_task(&j, 0, 1);
}

// Every thread checks in and waits (up to 1 ms) for all `nth`: a dispatch with a full rendezvous.
static void rendezvous_task(void *ctx, int ith, int nth) {
    (void)ith;
    atomic_int *arrived = ctx;
    atomic_fetch_add(arrived, 1);
    const double t0 = now_ns();
    while (atomic_load(arrived) < nth && now_ns() - t0 < 1e6) CPU_RELAX();
}

double phi_pool_barrier_ns(int iterations) {
    if (iterations < 1) iterations = 1;
    atomic_int arrived;
    atomic_init(&arrived, 0);
    phi_pool_run(rendezvous_task, &arrived);
    const double t0 = now_ns();
    for (int i = 0; i < iterations; i++) {
        atomic_store(&arrived, 0);
        phi_pool_run(rendezvous_task, &arrived);
    }
    return (now_ns() - t0) / iterations;
}

// MARK: - Bandwidth probe

typedef struct {
    const uint8_t *buf;
    size_t bytes;
    atomic_llong next;
    double sums[MAX_THREADS];
} bw_job;

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) static double sum_avx2(const uint8_t *p, size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256((const __m256i *)(const void *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 32)));
        a2 = _mm256_add_epi64(a2, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 64)));
        a3 = _mm256_add_epi64(a3, _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 96)));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    long long out[4];
    _mm256_storeu_si256((__m256i *)(void *)out, a0);
    return (double)(out[0] + out[1] + out[2] + out[3]);
}
#endif

static double sum_scalar(const uint8_t *p, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        s += v;
    }
    return (double)s;
}

#define BW_CHUNK ((size_t)4 << 20)

static void bw_task(void *p, int ith, int nth) {
    (void)nth;
    bw_job *j = p;
    double s = 0;
    for (;;) {
        const size_t c = (size_t)atomic_fetch_add(&j->next, 1);
        if (c * BW_CHUNK >= j->bytes) break;
        const size_t len = j->bytes - c * BW_CHUNK < BW_CHUNK ? j->bytes - c * BW_CHUNK : BW_CHUNK;
#if defined(__x86_64__) || defined(__i386__)
        if (phi_quant_detected_level() >= PHI_LEVEL_AVX2) {
            s += sum_avx2(j->buf + c * BW_CHUNK, len & ~(size_t)127);
            continue;
        }
#endif
        s += sum_scalar(j->buf + c * BW_CHUNK, len);
    }
    j->sums[ith] = s;
}

static double best_read_bandwidth(const uint8_t *buf, size_t bytes, int reps);

double phi_read_bandwidth(size_t bytes, int reps) {
    bytes &= ~(size_t)4095;
    if (bytes < 4096) bytes = 4096;
    uint8_t *buf = aligned_alloc(4096, bytes);
    if (!buf) return 0;
    for (size_t i = 0; i < bytes; i += 64) memset(buf + i, (int)(i >> 6) & 0xff, 64);
    const double best = best_read_bandwidth(buf, bytes, reps);
    free(buf);
    return best;
}

double phi_read_bandwidth_of(const void *buf, size_t bytes, int reps) {
    if (!buf || bytes < 4096) return 0;
    return best_read_bandwidth(buf, bytes, reps);
}

static double best_read_bandwidth(const uint8_t *buf, size_t bytes, int reps) {
    bw_job j;
    j.buf = buf;
    j.bytes = bytes;
    double best = 0;
    if (reps < 1) reps = 1;
    atomic_init(&j.next, 0);
    phi_pool_run(bw_task, &j);  // warm-up (pages, threads)
    for (int r = 0; r < reps; r++) {
        atomic_store(&j.next, 0);
        const double t0 = now_ns();
        phi_pool_run(bw_task, &j);
        const double dt = now_ns() - t0;
        const double bw = (double)bytes / (dt * 1e-9);
        if (bw > best) best = bw;
    }
    return best;
}
