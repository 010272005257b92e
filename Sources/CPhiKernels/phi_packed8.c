// phi_packed8.c: weights re-laid out once, at load, in groups of 8 rows (Q4_0: phi_q4_0_x8.c, Q4_K: phi_q4_K_x8.c,
// Q5_K: phi_q5_K_x8.c, Q6_K: phi_q6_K_x8.c, Q8_0: phi_q8_0_x8.c), and the threaded products over that layout.
//
// Why: in a file's layout each row's block carries its own scales, so an AVX2 kernel spends most of its
// instructions per row and block on unpacking, widening and scaling. With 8 rows interleaved so that one 32-bit lane
// holds 4 quants of one row, one `maddubs` against 4 broadcast activation bytes does 32 multiply-adds for 8 rows, and
// scales and float steps are paid once per 8 rows. Decode then runs at memory speed instead of core speed.
//
// Every (row, token) is summed the same way whatever the number of tokens in the call, so rows of different
// sequences can share a call; the scalar and AVX2 paths of each format agree bit for bit.
#include "phi_quant.h"
#include "phi_kernels.h"
#include "phi_quant_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

static const phi_x8_format *format_for(uint32_t type) {
    switch (type) {
    case PHI_TYPE_Q4_0: return &phi_x8_q4_0;
    case PHI_TYPE_Q8_0: return &phi_x8_q8_0;
    case PHI_TYPE_Q4_K: return &phi_x8_q4_K;
    case PHI_TYPE_Q5_K: return &phi_x8_q5_K;
    case PHI_TYPE_Q6_K: return &phi_x8_q6_K;
    default: return NULL;
    }
}

size_t phi_x8_size(uint32_t type, int64_t m, int64_t k) {
    const phi_x8_format *f = format_for(type);
    if (!f || m <= 0 || k <= 0 || m % 8 != 0 || k % f->block_values != 0) return 0;
    return (size_t)(m / 8) * (size_t)(k / f->block_values) * f->group_block;
}

typedef struct {
    const phi_x8_format *format;
    const uint8_t *w;
    size_t wrb;
    int64_t nb, groups;
    uint8_t *dst;
} x8_pack_job;

enum { PACK_GROUPS = 16 };  // groups per claim: 16 × 8 rows, ~0.2-0.5 MB of a Phi matrix

static void x8_pack_groups(void *ctx, int64_t index) {
    const x8_pack_job *j = ctx;
    const int64_t g1 = (index + 1) * PACK_GROUPS < j->groups ? (index + 1) * PACK_GROUPS : j->groups;
    const int64_t slices = phi_x8_slice_count(j->format, j->nb);
    const size_t gb = j->format->group_block;
    for (int64_t g = index * PACK_GROUPS; g < g1; g++) {
        const uint8_t *rows[8];
        for (int r = 0; r < 8; r++) rows[r] = j->w + (size_t)(8 * g + r) * j->wrb;
        for (int64_t s = 0; s < slices; s++) {
            uint8_t *dst = j->dst + phi_x8_slice_offset(j->groups, j->nb, slices, s, g, gb);
            const int64_t b0 = phi_x8_slice_start(j->nb, slices, s), b1 = phi_x8_slice_start(j->nb, slices, s + 1);
            for (int64_t b = b0; b < b1; b++) j->format->pack_block(rows, b, dst + (size_t)(b - b0) * gb);
        }
    }
}

// Over the worker pool: a load spends most of its time here and in the kernel zeroing the destination's fresh pages,
// and both split across threads. Measured on a 2-core VM, `bench local` with a 4-token prompt from a cold cache:
// phi-3-mini Q4_K_M 7.3 → 2.4 s (2.3-2.5 s unpacked), phi-2 Q4_0 2.7 → 1.6 s.
int phi_x8_pack(uint32_t type, const void *w, size_t wrb, int64_t m, int64_t k, void *dst) {
    const phi_x8_format *f = format_for(type);
    if (phi_x8_size(type, m, k) == 0) return PHI_ERR_BAD_COUNT;
    const int64_t nb = k / f->block_values;
    if (wrb < (size_t)nb * f->file_block) return PHI_ERR_BAD_COUNT;
    x8_pack_job j = {.format = f, .w = w, .wrb = wrb, .nb = nb, .groups = m / 8, .dst = dst};
    phi_pool_parallel_for((j.groups + PACK_GROUPS - 1) / PACK_GROUPS, x8_pack_groups, &j);
    return PHI_OK;
}

typedef struct {
    const phi_x8_format *format;
    phi_x8_range range;
    int64_t groups;
    int64_t first;        // index of its first group among all the call's products
    int64_t group_bytes;  // of one group (k ÷ block × the format's group block)
    int64_t bytes_after;  // of all the products after this one
} x8_job;

enum { MAX_PRODUCTS = 8, MIN_CLAIM_BYTES = 32 << 10 };

// A call's products: their jobs, and the buffers their prepared inputs live in.
typedef struct {
    const phi_x8_product *products;
    int count;
    int64_t n;
    int level, threaded;
    x8_job jobs[MAX_PRODUCTS];
    uint8_t *owned[2 * MAX_PRODUCTS];  // quantized inputs, then k-sliced copies
} x8_plan;

// Attention computed inside the products' dispatch (`phi_x8_matmul_many_after_attention`), one (query, head) per
// item, before the products from `deferred` on, whose inputs it writes.
typedef struct {
    const phi_attention_call *calls;
    int count;
    int64_t items, scores;  // items in all; floats of scores a thread needs
    int deferred;           // first product that reads the attention's output
    int64_t deferred_group; // its first group among all the call's
    x8_plan *plan;
    atomic_llong next, done;
    atomic_int ready;       // the deferred products' inputs are prepared
    atomic_int failed;
} x8_side;

// Decode's claims are split in flight (`x8_stream`, `x8_steal`): the caller waited 0.4-0.6 ms per phi-2 token for the
// last worker to finish a share that ran slower than its own or stalled (the Zen 4 host's fast stretches, 65
// dispatches). A piece is what the owner runs between looks at its span: a quarter of what is left, from 64 KB down
// to the last, so a long share costs ~15 looks and its tail is fine-grained (a fixed 64 KB piece cost ~3% of decode
// in calls and CASes). A k-sliced layout restarts a stream per slice and piece, so its claims run whole.
enum { MAX_SPANS = 16, PIECE_BYTES = 64 << 10 };

// A thread's claim in flight: first group not yet started << 32 | end. The owner takes pieces off its front, a thread
// with nothing left to claim takes the back half of another's.
typedef struct {
    _Alignas(64) atomic_ullong v;
} x8_span;

typedef struct {
    const x8_job *jobs;
    int count;
    int64_t groups;     // of all products
    int64_t min_claim;  // groups
    int decode;         // one token: shrinking claims, split in flight (with at most MAX_SPANS threads)
    x8_side *side;      // or NULL
    atomic_llong next;  // first group not yet claimed
    int64_t piece[MAX_PRODUCTS];  // least groups a thread runs between looks at its span (0: the whole claim)
    x8_span spans[MAX_SPANS];
} x8_call;

static void x8_run(const x8_job *j, int64_t g0, int64_t g1) {
    if (j->format->range) j->format->range(&j->range, g0, g1);
    else phi_x8_run_tiles(&j->range, g0, g1, j->format->group_block, &j->format->tiles);
}

// Quantizes product i's input (or shares that of an earlier product in [first, i) with the same input and type: a
// layer's q, k and v) and fills its job's range. 0, or -3 when out of memory.
static int x8_prepare(x8_plan *P, int i, int first) {
    const phi_x8_product *p = &P->products[i];
    const phi_x8_format *f = P->jobs[i].format;
    const int64_t n = P->n, nb = p->k / f->block_values;
    const size_t arb = phi_act_row_size(p->type, p->k);
    const uint8_t *act = NULL;
    for (int e = first; e < i && !act; e++)
        if (P->products[e].x == p->x && P->products[e].type == p->type && P->products[e].k == p->k)
            act = P->jobs[e].range.act;
    if (!act) {
        P->owned[i] = aligned_alloc(64, ((size_t)n * arb + 63) & ~(size_t)63);
        if (!P->owned[i]) return -3;
        phi_internal_quantize_rows(p->type, p->x, n, p->k, P->owned[i], arb, P->threaded);
        if (f->prepare_activations) f->prepare_activations(P->owned[i], n, arb, nb);
        act = P->owned[i];
    }
    // A k-sliced layout's tiles take each slice's activation as a row of its own.
    const int64_t slices = phi_x8_slice_count(f, nb);
    size_t slice_arb = 0;
    if (slices > 1 && !(f->whole_rows_tokens && n >= f->whole_rows_tokens && P->level == PHI_LEVEL_AVX2)) {
        slice_arb = (phi_act_row_size(p->type, (nb / slices + 1) * f->block_values) + 63) & ~(size_t)63;
        P->owned[MAX_PRODUCTS + i] = aligned_alloc(64, (size_t)slices * (size_t)n * slice_arb);
        if (!P->owned[MAX_PRODUCTS + i]) return -3;
        for (int64_t sl = 0; sl < slices; sl++) {
            const int64_t b0 = phi_x8_slice_start(nb, slices, sl), b1 = phi_x8_slice_start(nb, slices, sl + 1);
            for (int64_t t = 0; t < n; t++)
                phi_act32_slice(act + t * arb, nb, b0, b1 - b0, P->owned[MAX_PRODUCTS + i] + (sl * n + t) * slice_arb);
        }
    }
    P->jobs[i].range = (phi_x8_range){.level = P->level, .packed = p->packed, .nb = nb, .act = act, .arb = arb, .n = n,
                                      .bias = p->bias, .y = p->y, .ldy = p->ldy, .groups = p->m / 8, .slices = slices,
                                      .slice_act = P->owned[MAX_PRODUCTS + i], .slice_arb = slice_arb,
                                      .activation = p->activation};
    return 0;
}

// Takes attention items until none is left; whoever finishes the last one prepares the deferred products' inputs
// (the acq_rel count makes every item's output visible to it) and publishes them.
static void x8_side_run(x8_side *s, float **scores) {
    for (;;) {
        int64_t item = atomic_fetch_add_explicit(&s->next, 1, memory_order_relaxed);
        if (item >= s->items) return;
        if (!*scores && !(*scores = malloc(sizeof(float) * (size_t)s->scores))) {
            fprintf(stderr, "phi: out of memory for attention scores\n");
            abort();
        }
        int c = 0;
        while (item >= phi_internal_attention_items(&s->calls[c])) {
            item -= phi_internal_attention_items(&s->calls[c]);
            c++;
        }
        phi_internal_attention_item(&s->calls[c], item, *scores);
        if (atomic_fetch_add_explicit(&s->done, 1, memory_order_acq_rel) + 1 == s->items) {
            for (int i = s->deferred; i < s->plan->count && s->plan->n > 0; i++)
                if (x8_prepare(s->plan, i, s->deferred) != 0) atomic_store(&s->failed, 1);
            atomic_store_explicit(&s->ready, 1, memory_order_release);
        }
    }
}

// Tests: decode's first claim takes a whole product, so the other threads find nothing to claim and must split it.
static atomic_int whole_claims;

int phi_x8_set_whole_decode_claims(int on) { return atomic_exchange(&whole_claims, on); }

static inline unsigned long long span_pack(int64_t pos, int64_t end) {
    return (unsigned long long)pos << 32 | (unsigned long long)end;
}

static inline int64_t span_pos(unsigned long long s) { return (int64_t)(s >> 32); }
static inline int64_t span_end(unsigned long long s) { return (int64_t)(s & 0xffffffffu); }

static int job_of(const x8_call *c, int64_t g) {
    int job = 0;
    while (g >= c->jobs[job].first + c->jobs[job].groups) job++;
    return job;
}

// Runs [g0, g1) a piece at a time, each piece taken off the span's front with a CAS, so that a thief's CAS on the
// same word (shortening the end) and the owner's never hand a group to both.
static void x8_stream(x8_call *c, int ith, int64_t g0, int64_t g1) {
    atomic_ullong *span = &c->spans[ith].v;
    atomic_store_explicit(span, span_pack(g0, g1), memory_order_relaxed);
    const int job = job_of(c, g0);
    const x8_job *j = &c->jobs[job];
    unsigned long long s = atomic_load_explicit(span, memory_order_relaxed);
    for (;;) {
        const int64_t pos = span_pos(s), end = span_end(s);
        if (pos >= end) return;
        int64_t step = (end - pos) / 4 > c->piece[job] ? (end - pos) / 4 : c->piece[job];
        if (step > end - pos || c->piece[job] == 0) step = end - pos;
        if (!atomic_compare_exchange_weak_explicit(span, &s, span_pack(pos + step, end), memory_order_relaxed,
                                                   memory_order_relaxed))
            continue;
        x8_run(j, pos - j->first, pos + step - j->first);
        s = atomic_load_explicit(span, memory_order_relaxed);
    }
}

// Once nothing is left to claim: the back half of the longest span still worth splitting (at least two pieces), or 0.
static int x8_steal(x8_call *c, int ith, int nth, int64_t *g0, int64_t *g1) {
    for (;;) {
        int victim = -1;
        unsigned long long best = 0;
        int64_t most = 0;
        for (int u = 0; u < nth; u++) {
            if (u == ith) continue;
            const unsigned long long s = atomic_load_explicit(&c->spans[u].v, memory_order_relaxed);
            if (span_end(s) - span_pos(s) > most) {
                most = span_end(s) - span_pos(s);
                best = s;
                victim = u;
            }
        }
        if (victim < 0) return 0;
        const int64_t pos = span_pos(best), end = span_end(best);
        const int64_t piece = c->piece[job_of(c, pos)];
        if (piece == 0 || most < 2 * piece) return 0;
        const int64_t mid = pos + most / 2;
        if (atomic_compare_exchange_strong_explicit(&c->spans[victim].v, &best, span_pack(pos, mid),
                                                    memory_order_relaxed, memory_order_relaxed)) {
            *g0 = mid;
            *g1 = end;
            phi_internal_count_steal();
            return 1;
        }
    }
}

// The products' groups are claimed as one sequence, never across a product's end. Decode claims shrinking shares
// (what is left ÷ threads, at least `min_claim`): the first claims give each thread one long contiguous stream,
// the last small ones make the threads finish together instead of one streaming alone for half a chunk at the end
// of every call (measured: 2-7% of decode's matmul time). Each claim the other thread's claims interrupt restarts
// the prefetchers: a quarter of what is left per thread (~20 claims per product) streamed at 0.73 of the read probe
// on a Zen 4 host in its 60 GB/s stretches, this at 0.81 (in a C harness replaying phi-2's products; at ~33 GB/s
// both 0.95). Prefill claims 2 groups at a time, whose weights stay in cache while every token streams past them.
//
// With attention in the call, the caller (thread 0) computes it first while the others stream the products that do
// not need it; a thread that reaches the deferred products first helps with what is left of it, then waits. Once
// nothing is left to claim, a decode thread takes over the back half of another's claim (`x8_steal`).
static void x8_task(void *p, int ith, int nth) {
    x8_call *c = p;
    const int steal = c->decode && nth <= MAX_SPANS;
    x8_side *side = c->side;
    float *scores = NULL;
    if (side && ith == 0) x8_side_run(side, &scores);
    int job = 0;
    for (;;) {
        long long g0 = atomic_load_explicit(&c->next, memory_order_relaxed);
        int64_t g1;
        int wait = 0;
        do {
            const int64_t left = c->groups - g0;
            if (left <= 0) goto done;
            if (side && g0 >= side->deferred_group && !atomic_load_explicit(&side->ready, memory_order_acquire)) {
                wait = 1;
                break;
            }
            while (g0 >= c->jobs[job].first + c->jobs[job].groups) job++;  // claims only move forward
            const int64_t end = c->jobs[job].first + c->jobs[job].groups;
            // Shares in bytes, not groups: phi-2's fc2 groups are 4× its output projection's, and a share of groups
            // over both handed one thread all of fc2. With attention in the call, shares of what comes before the
            // deferred products first: the caller is attending meanwhile.
            int64_t bytes = (end - g0) * c->jobs[job].group_bytes;
            if (!side || g0 >= side->deferred_group) bytes += c->jobs[job].bytes_after;
            else bytes += c->jobs[job].bytes_after - c->jobs[side->deferred - 1].bytes_after;
            int64_t take = c->decode ? bytes / nth / c->jobs[job].group_bytes : 0;
            if (steal && atomic_load_explicit(&whole_claims, memory_order_relaxed)) take = end - g0;
            if (take < c->min_claim) take = c->min_claim;
            g1 = g0 + take < end ? g0 + take : end;
        } while (!atomic_compare_exchange_weak_explicit(&c->next, &g0, g1, memory_order_relaxed,
                                                        memory_order_relaxed));
        if (wait) {
            x8_side_run(side, &scores);
            while (!atomic_load_explicit(&side->ready, memory_order_acquire)) CPU_RELAX();
            if (atomic_load(&side->failed)) goto done;
            continue;
        }
        while (g0 >= c->jobs[job].first + c->jobs[job].groups) job++;
        if (steal) x8_stream(c, ith, g0, g1);
        else x8_run(&c->jobs[job], g0 - c->jobs[job].first, g1 - c->jobs[job].first);
    }
done:
    if (steal) {
        int64_t g0, g1;
        while (x8_steal(c, ith, nth, &g0, &g1)) x8_stream(c, ith, g0, g1);
    }
    free(scores);
}

static int x8_matmul(const phi_x8_product *products, int count, int64_t n, int level, int threaded,
                     const phi_attention_call *calls, int call_count, int deferred) {
    if (count < 1 || count > MAX_PRODUCTS || n < 0 || call_count < 0 || (call_count > 0 && !calls)) return PHI_ERR_BAD_COUNT;
    if (deferred < 0 || deferred > count) return PHI_ERR_BAD_COUNT;
    for (int i = 0; i < count; i++)
        if (!format_for(products[i].type) || phi_x8_size(products[i].type, products[i].m, products[i].k) == 0 ||
            products[i].ldy < products[i].m)
            return PHI_ERR_BAD_COUNT;
    int64_t items = 0, scores = 0;
    for (int c = 0; c < call_count; c++) {
        if (calls[c].n < 0 || calls[c].heads < 1) return PHI_ERR_BAD_COUNT;
        items += phi_internal_attention_items(&calls[c]);
        if (phi_internal_attention_scores(&calls[c]) > scores) scores = phi_internal_attention_scores(&calls[c]);
    }
    if (n == 0 && items == 0) return PHI_OK;
    x8_plan plan = {.products = products, .count = count, .n = n, .level = level, .threaded = threaded};
    int64_t groups = 0, work = 0, deferred_group = 0;
    size_t smallest_group = SIZE_MAX;
    for (int i = 0; i < count; i++) {
        const phi_x8_format *f = format_for(products[i].type);
        const size_t group_bytes = (size_t)(products[i].k / f->block_values) * f->group_block;
        plan.jobs[i] = (x8_job){.format = f, .groups = n > 0 ? products[i].m / 8 : 0, .first = groups,
                                .group_bytes = (int64_t)group_bytes};
        if (i == deferred) deferred_group = groups;
        groups += plan.jobs[i].groups;
        work += products[i].m * products[i].k * n;
        if (group_bytes < smallest_group) smallest_group = group_bytes;
    }
    int64_t after = 0;
    for (int i = count - 1; i >= 0; i--) {
        plan.jobs[i].bytes_after = after;
        after += plan.jobs[i].groups * plan.jobs[i].group_bytes;
    }
    if (deferred == count) deferred_group = groups;
    // Inputs ready now; the deferred ones once the attention has run (at once when there is none).
    const int ready_now = items == 0 ? count : deferred;
    int status = PHI_OK;
    for (int i = 0; i < ready_now && status == PHI_OK && n > 0; i++) status = x8_prepare(&plan, i, 0);
    x8_side side = {.calls = calls, .count = call_count, .items = items, .scores = scores, .deferred = deferred,
                    .deferred_group = deferred_group, .plan = &plan};
    atomic_init(&side.next, 0);
    atomic_init(&side.done, 0);
    atomic_init(&side.ready, 0);
    atomic_init(&side.failed, 0);
    // Inside the dispatch the deferred inputs are quantized on one thread (no nested dispatch).
    plan.threaded = threaded && items == 0;
    if (status == PHI_OK) {
        x8_call c = {.jobs = plan.jobs, .count = count, .groups = groups, .decode = n == 1, .side = items ? &side : NULL};
        c.min_claim = n == 1 ? (int64_t)(MIN_CLAIM_BYTES / smallest_group) : 2;
        if (c.min_claim < 1) c.min_claim = 1;
        atomic_init(&c.next, 0);
        for (int i = 0; i < count; i++) {
            const x8_job *j = &plan.jobs[i];
            const int sliced = phi_x8_slice_count(j->format, products[i].k / j->format->block_values) > 1;
            c.piece[i] = sliced ? 0 : PIECE_BYTES / j->group_bytes > 1 ? PIECE_BYTES / j->group_bytes : 1;
        }
        for (int t = 0; t < MAX_SPANS; t++) atomic_init(&c.spans[t].v, 0);
        if (threaded && (work >= 32768 || items > 0)) phi_pool_run(x8_task, &c);
        else x8_task(&c, 0, 1);
        if (atomic_load(&side.failed)) status = -3;
    }
    for (int i = 0; i < 2 * MAX_PRODUCTS; i++) free(plan.owned[i]);
    return status;
}

int phi_x8_matmul(uint32_t type, const void *packed, int64_t m, int64_t k, const float *x, int64_t n,
                  const float *bias, float *y) {
    const phi_x8_product p = {.type = type, .packed = packed, .m = m, .k = k, .x = x, .bias = bias, .y = y, .ldy = m};
    return x8_matmul(&p, 1, n, phi_quant_level(), 1, NULL, 0, 1);
}

int phi_x8_matmul_many(const phi_x8_product *products, int count, int64_t n) {
    return x8_matmul(products, count, n, phi_quant_level(), 1, NULL, 0, count);
}

int phi_x8_matmul_many_after_attention(const phi_x8_product *products, int count, int64_t n, int deferred,
                                       const phi_attention_call *calls, int call_count) {
    return x8_matmul(products, count, n, phi_quant_level(), 1, calls, call_count, deferred);
}

int phi_x8_matmul_at_level(uint32_t type, const void *packed, int64_t m, int64_t k, const float *x, int64_t n,
                           float *y, int level) {
    const int detected = phi_quant_detected_level();
    const phi_x8_product p = {.type = type, .packed = packed, .m = m, .k = k, .x = x, .y = y, .ldy = m};
    return x8_matmul(&p, 1, n, level < detected ? level : detected, 0, NULL, 0, 1);
}

void phi_x8_store(const phi_x8_range *r, int64_t g, int64_t t, int tokens, const float *out) {
    for (int i = 0; i < tokens; i++) {
        float *y = r->y + (t + i) * r->ldy + 8 * g;
        for (int row = 0; row < 8; row++) y[row] = out[8 * i + row] + (r->bias ? r->bias[8 * g + row] : 0.0f);
    }
}

// The activation is applied by the thread that stored the rows, right after its tiles, instead of over the whole
// result after the dispatch (phi-2's gelu on fc1 was ~9 µs of serial work per layer while the other thread waited),
// and over all of a range's rows in one call: a call per 8 rows waited out the exp's and divide's latency (~100
// cycles), 4.8% of a 4-sequence batched decode step against ~1% (`perf`).
void phi_x8_activate(const phi_x8_range *r, int64_t g0, int64_t g1) {
    if (r->activation != PHI_ACTIVATION_GELU_TANH || g1 <= g0) return;
    for (int64_t t = 0; t < r->n; t++) phi_internal_gelu_tanh(r->y + t * r->ldy + 8 * g0, 8 * (g1 - g0));
}

enum { CARRY_FLOATS = 2048 };  // 8 KB of a thread's stack: 256 groups' sums for one token

// Where (group g, token t)'s sums wait between slices: this thread's `carry` (groups from c0), or y.
static inline float *carry_at(const phi_x8_range *r, float *carry, int64_t c0, int64_t g, int64_t t) {
    return carry ? carry + ((g - c0) * r->n + t) * 8 : r->y + t * r->ldy + 8 * g;
}

// Group g's sums for token t before slice s: zeros for the first slice, else what the previous slice left.
static inline void x8_carry_in(const phi_x8_range *r, float *carry, int64_t c0, int64_t g, int64_t t, int64_t s,
                               float *out) {
    if (s == 0) memset(out, 0, 8 * sizeof(float));
    else memcpy(out, carry_at(r, carry, c0, g, t), 8 * sizeof(float));
}

// Group g's sums for tokens t..t+tokens after a slice: stored (the last slice) or kept for the next one.
static inline void x8_carry_out(const phi_x8_range *r, float *carry, int64_t c0, int64_t g, int64_t t, int tokens,
                                int last, const float *out) {
    if (last) phi_x8_store(r, g, t, tokens, out);
    else
        for (int i = 0; i < tokens; i++) memcpy(carry_at(r, carry, c0, g, t + i), out + 8 * i, 8 * sizeof(float));
}

void phi_x8_run_tiles(const phi_x8_range *r, int64_t g0, int64_t g1, size_t group_block, const phi_x8_tiles *tiles) {
    const int64_t n = r->n, slices = r->slices > 1 ? r->slices : 1;
    const int vnni = r->level >= PHI_LEVEL_AVX512 && tiles->vnni4 && tiles->vnni1;
    const int vector = vnni || (r->level >= PHI_LEVEL_AVX2 && tiles->vector4 && tiles->vector1);
    // A prefill call whose `range` fell back to the tiles has no per-slice rows: each token's slice is copied into
    // `copied` on the way, one token at a time (the 1-token tiles give the same bits).
    const int copy = slices > 1 && !r->slice_act;
    _Alignas(64) uint8_t copied[PHI_X8_SLICE_ACT_MAX];
    // Between slices a row's sums wait on this thread's stack (`carry`, chunks of groups), not in y: the y lines at a
    // claim's ends hold the other thread's rows too, and where the two cores sit on different CCDs (this host's fast
    // stretches: a line's round trip 344 ns against 58) each reload of such a line stalls. In a C harness there,
    // phi-2's fc2 (k = 10,240, 4 slices) read 0.751 of the probe with its sums in y and 0.809 on the stack, against
    // 0.844 for fc1 (k = 2,560); at ~33 GB/s 0.957 either way. Many tokens (a chunk under one group) keep them in y.
    // A chunk holds whole pairs where groups go through the tiles two at a time: a chunk of one group (129 to 256
    // tokens) would run every group alone; such calls keep their sums in y.
    _Alignas(64) float stack[CARRY_FLOATS];
    const int pairs = vnni && tiles->vnni_pair[0] && !copy && n >= 2;
    const int64_t chunk = pairs ? CARRY_FLOATS / (8 * n) & ~(int64_t)1 : CARRY_FLOATS / (8 * n);
    float *carry = slices > 1 && chunk > 0 ? stack : NULL;
    const int64_t step = carry ? chunk : g1 - g0;
    for (int64_t c0 = g0; c0 < g1; c0 += step) {
        const int64_t c1 = c0 + step < g1 ? c0 + step : g1;
        // Slice by slice over the chunk's groups (each slice of consecutive groups is one contiguous stream); each
        // tile starts from the previous slice's sums.
        for (int64_t s = 0; s < slices; s++) {
            const int64_t b0 = phi_x8_slice_start(r->nb, slices, s), nbs = phi_x8_slice_start(r->nb, slices, s + 1) - b0;
            const int last = s == slices - 1;
            const uint8_t *group = r->packed + phi_x8_slice_offset(r->groups, r->nb, slices, s, c0, group_block);
            const size_t stride = (size_t)nbs * group_block;
            for (int64_t g = c0; g < c1;) {
                // Two groups at a time where the format has paired tiles (every call of 2 tokens or more: decode's
                // single token keeps one stream per thread), up to 4 tokens per tile.
                const int pair = pairs && g + 1 < c1;
                for (int64_t t = 0; t < n;) {
                    const int tokens = pair ? (n - t >= 4 ? 4 : (int)(n - t)) : vector && !copy && n - t >= 4 ? 4 : 1;
                    const uint8_t *at[4];
                    float out[32], outb[32];
                    if (copy) phi_act32_slice(r->act + t * r->arb, r->nb, b0, nbs, copied);
                    for (int i = 0; i < tokens; i++) {
                        at[i] = slices == 1 ? r->act + (t + i) * r->arb
                                : copy      ? copied
                                            : r->slice_act + (s * n + t + i) * r->slice_arb;
                        x8_carry_in(r, carry, c0, g, t + i, s, out + 8 * i);
                        if (pair) x8_carry_in(r, carry, c0, g + 1, t + i, s, outb + 8 * i);
                    }
                    if (pair) tiles->vnni_pair[tokens - 1](group, group + stride, at, nbs, out, outb);
                    else if (!vector) tiles->scalar(group, at[0], nbs, out);
                    else if (tokens == 4) (vnni ? tiles->vnni4 : tiles->vector4)(group, at, nbs, out);
                    else (vnni ? tiles->vnni1 : tiles->vector1)(group, at, nbs, out);
                    x8_carry_out(r, carry, c0, g, t, tokens, last, out);
                    if (pair) x8_carry_out(r, carry, c0, g + 1, t, tokens, last, outb);
                    t += tokens;
                }
                g += 1 + pair;
                group += (size_t)(1 + pair) * stride;
            }
        }
        phi_x8_activate(r, c0, c1);
    }
}
