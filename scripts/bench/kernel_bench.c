/*
 * Micro-benchmark of the CKernels matmul kernels at the Gemma-2-2B shapes, two threads splitting the
 * output columns as MatMul.linear does. Build and run with scripts/bench/kernel_bench.sh.
 *
 *   kernel_bench [--path portable|avx2|avx512f|avx512bf16] [--threads 2] [--m 1,8,128,512]
 *                [--shapes gemma|NxK,...] [--ops exact,fast,f32w,gemm] [--check] [--openblas]
 *   kernel_bench --decode-step avx512f,avx2,avx512bf16:fast,... [--m 1] [--threads 2]
 *
 * Prints one line per (op, shape, M): milliseconds (best of several runs), GFLOP/s and weight GB/s.
 * --check compares every output with a float64 product of the same (rounded) inputs.
 * --decode-step runs the products of whole decode steps of a Gemma-2-2B-shaped model (26 layers of bf16
 * weights, 4.05 GB, so every step reads them from memory; exact kernels, or with ":fast" the packed bf16
 * kernels on bf16 activations), the listed kernel paths taking turns step by step so that a shared
 * host's bandwidth swings reach them alike; prints each path's median and best step and the weight GB/s
 * they imply (the bytes each path reads: the :fast paths read the 12-bit compact copy).
 */
#include "CKernels.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <time.h>
#ifdef WITH_OPENBLAS
#include <cblas.h>
#endif

typedef struct { size_t n, k; const char *name; } shape_t;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* CPU time of the process: on a shared machine, GFLOP per CPU-second measures the kernel itself. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (float)((rng_state >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

enum op { OP_EXACT, OP_FAST, OP_F32W, OP_GEMM, OP_SGEMM };
static const char *op_names[] = {"bf16w-exact", "bf16w-fast", "f32w", "gemm-f32", "openblas-sgemm"};

#define PAIR_STRIDE(k) (((k) + 1) & ~(size_t)1)

typedef struct {
    int op; size_t M, N, K, n0, n1;
    const float *xf; const uint16_t *xb; const uint16_t *wb; const void *wp; const float *wf; float *y;
} job_t;

static void run_slice(job_t *j) {
    switch (j->op) {
    case OP_EXACT: ck_linear_bf16w(j->xf, j->K, j->wb, j->K, j->y, j->N, j->M, j->K, j->n0, j->n1); break;
    case OP_FAST: ck_linear_bf16x_packed(j->xb, PAIR_STRIDE(j->K), j->wp, j->y, j->N, j->M, j->K, j->n0, j->n1); break;
    case OP_F32W: ck_linear_f32w(j->xf, j->K, j->wf, j->K, j->y, j->N, j->M, j->K, j->n0, j->n1); break;
    case OP_GEMM: ck_gemm_f32(j->xf, j->K, j->wf, j->N, j->y, j->N, j->M, j->K, j->n0, j->n1); break;
    default: break;
    }
}

static int threads = 2;

/*
 * Like MatMul.linear: [0, N) in about 8 slices per thread of whole 32-column panels; thread t takes
 * slices t, t + threads, ... (MatMul hands them out on demand, the same on an idle machine).
 */
static void *thread_main(void *arg) {
    job_t *j = (job_t *)arg;
    size_t panels = (j->N + 31) / 32, slices = panels < (size_t)threads * 8 ? panels : (size_t)threads * 8;
    size_t first = j->n0, step = j->n1;  /* reused: thread index and thread count */
    for (size_t s = first; s < slices; s += step) {
        job_t part = *j;
        part.n0 = panels * s / slices * 32;
        part.n1 = panels * (s + 1) / slices * 32;
        if (part.n0 > j->N) part.n0 = j->N;
        if (part.n1 > j->N) part.n1 = j->N;
        if (part.n0 < part.n1) run_slice(&part);
    }
    return NULL;
}

static void run(job_t base) {
#ifdef WITH_OPENBLAS
    if (base.op == OP_SGEMM) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)base.M, (int)base.N, (int)base.K, 1, base.xf,
                    (int)base.K, base.wf, (int)base.K, 0, base.y, (int)base.N);
        return;
    }
#endif
    pthread_t tid[16];
    job_t jobs[16];
    for (int t = 0; t < threads; t++) {
        jobs[t] = base;
        jobs[t].n0 = (size_t)t;
        jobs[t].n1 = (size_t)threads;
        if (t > 0) pthread_create(&tid[t], NULL, thread_main, &jobs[t]);
    }
    thread_main(&jobs[0]);
    for (int t = 1; t < threads; t++) pthread_join(tid[t], NULL);
}

static double check(job_t j) {
    double worst = 0;
    size_t step = j.N > 4096 ? 7 : 1;
    for (size_t m = 0; m < j.M; m++) {
        for (size_t n = 0; n < j.N; n += step) {
            double ref = 0, mag = 0;
            for (size_t k = 0; k < j.K; k++) {
                double xv, wv;
                uint32_t bits;
                if (j.op == OP_FAST) { bits = (uint32_t)j.xb[m * PAIR_STRIDE(j.K) + k] << 16; float f; memcpy(&f, &bits, 4); xv = f; }
                else xv = j.xf[m * j.K + k];
                if (j.op == OP_EXACT || j.op == OP_FAST) { bits = (uint32_t)j.wb[n * j.K + k] << 16; float f; memcpy(&f, &bits, 4); wv = f; }
                else if (j.op == OP_GEMM) wv = j.wf[k * j.N + n];
                else wv = j.wf[n * j.K + k];
                ref += xv * wv;
                mag += fabs(xv * wv);
            }
            double err = fabs(j.y[m * j.N + n] - ref) / (mag + 1e-30);
            if (err > worst) worst = err;
        }
    }
    return worst;
}

/*
 * The compact copy the fast kernels read (as Tensor.packedBF16Pairs makes it), on 2 MB pages where the
 * kernel grants them, as TensorStorage's derived copies; its size in *size. NULL when out of memory.
 */
static void *pack_compact(const uint16_t *w, size_t N, size_t K, size_t *size) {
    size_t groups = (N + 15) / 16;
    uint8_t *luts = malloc(16 * groups);
    uint64_t *first = calloc(groups + 1, 8);
    if (!luts || !first) return NULL;
    for (size_t g = 0; g < groups; g++) first[g + 1] = first[g] + ck_bf16_compact_plan(w, K, N, K, g, luts + 16 * g);
    *size = ck_bf16_compact_size(N, K, first[groups]);
    size_t bytes = (*size + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
    void *compact = aligned_alloc(2u << 20, bytes);
    if (compact) {
#ifdef MADV_HUGEPAGE
        madvise(compact, bytes, MADV_HUGEPAGE);
#endif
        ck_bf16_compact_header(compact, N, K, luts, first);
        ck_pack_bf16_compact(w, K, N, K, 0, groups, compact);
    }
    free(luts);
    free(first);
    return compact;
}

/* ---------- --decode-step ---------- */

enum { STEP_LAYERS = 26, STEP_PRODUCTS = 7, STEP_ROUNDS = 12 };
/* Per layer, N x K: q, k, v, o, gate, up, down (Gemma-2-2B). */
static const size_t step_n[STEP_PRODUCTS] = {2048, 1024, 1024, 2304, 9216, 9216, 2304};
static const size_t step_k[STEP_PRODUCTS] = {2304, 2304, 2304, 2048, 2304, 2304, 9216};

typedef struct {
    uint16_t *w[STEP_LAYERS][STEP_PRODUCTS], *xb;
    void *packed[STEP_LAYERS][STEP_PRODUCTS];
    float *x, *y;
    size_t M;
    int op;
    pthread_barrier_t barrier;
    int stop;
} step_model;

typedef struct { step_model *model; size_t thread; } step_worker;

/*
 * Persistent threads, one barrier per product as the decoder's pool waits for every slice of one; each
 * thread takes one contiguous run of 32-column panels, as MatMul.linear slices products of 8 rows or fewer.
 */
static void *step_thread(void *arg) {
    step_model *s = ((step_worker *)arg)->model;
    size_t t = ((step_worker *)arg)->thread;
    for (;;) {
        pthread_barrier_wait(&s->barrier);
        if (s->stop) return NULL;
        for (int l = 0; l < STEP_LAYERS; l++)
            for (int p = 0; p < STEP_PRODUCTS; p++) {
                size_t panels = (step_n[p] + 31) / 32, n0 = panels * t / (size_t)threads * 32,
                       n1 = panels * (t + 1) / (size_t)threads * 32;
                job_t j = {s->op, s->M, step_n[p], step_k[p], n0, n1 < step_n[p] ? n1 : step_n[p], s->x, s->xb,
                           s->w[l][p], s->packed[l][p], NULL, s->y};
                if (j.n0 < j.n1) run_slice(&j);
                pthread_barrier_wait(&s->barrier);
            }
    }
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int decode_step(const char *paths_arg, size_t M) {
    const char *paths[8], *names[8];
    int npaths = 0, fast[8], any_fast = 0;
    char *list = strdup(paths_arg);
    for (char *tok = strtok(list, ","); tok && npaths < 8; tok = strtok(NULL, ",")) {
        names[npaths] = strdup(tok);
        char *colon = strchr(tok, ':');
        fast[npaths] = colon && !strcmp(colon, ":fast");
        if (colon) *colon = 0;
        if (ck_use_kernel_path(tok) != 0 || (fast[npaths] && strcmp(tok, "avx512bf16") != 0)) {
            fprintf(stderr, "path %s not available\n", names[npaths]);
            return 2;
        }
        any_fast |= fast[npaths];
        paths[npaths++] = tok;
    }
    static step_model s;
    double bytes = 0, compact_bytes = 0;
    for (int l = 0; l < STEP_LAYERS; l++)
        for (int p = 0; p < STEP_PRODUCTS; p++) {
            size_t count = step_n[p] * step_k[p];
            s.w[l][p] = aligned_alloc(2u << 20, (count * 2 + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1));
            if (!s.w[l][p]) { fprintf(stderr, "out of memory for the decode step's weights\n"); return 2; }
#ifdef MADV_HUGEPAGE
            madvise(s.w[l][p], count * 2, MADV_HUGEPAGE);
#endif
            float tmp[4096];
            for (size_t i = 0; i < count; i += 4096) {
                size_t c = count - i < 4096 ? count - i : 4096;
                for (size_t j = 0; j < c; j++) tmp[j] = frand() * 0.05f;
                ck_f32_to_bf16(tmp, s.w[l][p] + i, c);
            }
            bytes += (double)count * 2;
            if (!any_fast) continue;
            size_t size = 0;
            s.packed[l][p] = pack_compact(s.w[l][p], step_n[p], step_k[p], &size);
            compact_bytes += (double)size;
            if (!s.packed[l][p]) { fprintf(stderr, "out of memory for the packed weights\n"); return 2; }
        }
    s.M = M;
    s.x = malloc(M * 9216 * 4);
    s.y = malloc(M * 9216 * 4);
    s.xb = calloc(M * 9216, 2);
    for (size_t i = 0; i < M * 9216; i++) s.x[i] = frand();
    ck_f32_to_bf16(s.x, s.xb, M * 9216); /* each product reads its M rows K (or K rounded to pairs) apart */
    pthread_barrier_init(&s.barrier, NULL, (unsigned)threads + 1);
    pthread_t tid[16];
    step_worker workers[16];
    for (int t = 0; t < threads; t++) {
        workers[t] = (step_worker){&s, (size_t)t};
        pthread_create(&tid[t], NULL, step_thread, &workers[t]);
    }
    double times[8][STEP_ROUNDS];
    for (int r = -1; r < STEP_ROUNDS; r++)  /* round -1 warms every path up */
        for (int p = 0; p < npaths; p++) {
            ck_use_kernel_path(paths[p]);
            s.op = fast[p] ? OP_FAST : OP_EXACT;
            double t0 = now();
            pthread_barrier_wait(&s.barrier);
            for (int i = 0; i < STEP_LAYERS * STEP_PRODUCTS; i++) pthread_barrier_wait(&s.barrier);
            if (r >= 0) times[p][r] = now() - t0;
        }
    s.stop = 1;
    pthread_barrier_wait(&s.barrier);
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    printf("# decode step, Gemma-2-2B products, M=%zu, %d threads, %.2f GB of weights (%.2f GB compact, read by "
           "the :fast paths), %d steps per path\n", M, threads, bytes / 1e9, compact_bytes / 1e9, STEP_ROUNDS);
    for (int p = 0; p < npaths; p++) {
        qsort(times[p], STEP_ROUNDS, sizeof(double), compare_doubles);
        double median = times[p][STEP_ROUNDS / 2], best = times[p][0], read = fast[p] ? compact_bytes : bytes;
        printf("%-17s median %7.1f ms %6.1f GB/s   best %7.1f ms %6.1f GB/s\n", names[p], median * 1e3, read / median / 1e9,
               best * 1e3, read / best / 1e9);
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *path = NULL, *mlist = "1,8,128,512", *shapes_arg = "gemma", *ops_arg = "exact,fast";
    const char *step_paths = NULL;
    int do_check = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--path") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--m") && i + 1 < argc) mlist = argv[++i];
        else if (!strcmp(argv[i], "--shapes") && i + 1 < argc) shapes_arg = argv[++i];
        else if (!strcmp(argv[i], "--ops") && i + 1 < argc) ops_arg = argv[++i];
        else if (!strcmp(argv[i], "--check")) do_check = 1;
        else if (!strcmp(argv[i], "--decode-step") && i + 1 < argc) step_paths = argv[++i];
        else { fprintf(stderr, "unknown argument %s\n", argv[i]); return 2; }
    }
    if (threads < 1 || threads > 16) { fprintf(stderr, "--threads must be 1-16\n"); return 2; }
    if (step_paths) return decode_step(step_paths, (size_t)atol(mlist) > 0 ? (size_t)atol(mlist) : 1);
    if (path && ck_use_kernel_path(path) != 0) { fprintf(stderr, "path %s not available\n", path); return 2; }
    printf("# kernel path %s (detected %s), %d threads\n", ck_kernel_path(), ck_detected_kernel_path(), threads);

    shape_t shapes[32];
    int nshapes = 0;
    if (!strcmp(shapes_arg, "gemma")) {
        shape_t g[] = {{9216, 2304, "mlp-up 9216x2304"}, {2304, 9216, "mlp-down 2304x9216"},
                       {2048, 2304, "q-proj 2048x2304"}, {256000, 2304, "lm-head 256000x2304"}};
        memcpy(shapes, g, sizeof g);
        nshapes = 4;
    } else {
        char *s = strdup(shapes_arg);
        for (char *tok = strtok(s, ","); tok && nshapes < 32; tok = strtok(NULL, ",")) {
            size_t n, k;
            if (sscanf(tok, "%zux%zu", &n, &k) == 2) { shapes[nshapes].n = n; shapes[nshapes].k = k; shapes[nshapes].name = strdup(tok); nshapes++; }
        }
    }
    size_t ms[32]; int nm = 0;
    { char *s = strdup(mlist); for (char *tok = strtok(s, ","); tok && nm < 32; tok = strtok(NULL, ",")) ms[nm++] = (size_t)atol(tok); }
    int ops[8], nops = 0;
    { char *s = strdup(ops_arg); for (char *tok = strtok(s, ","); tok && nops < 8; tok = strtok(NULL, ",")) {
        if (!strcmp(tok, "exact")) ops[nops++] = OP_EXACT;
        else if (!strcmp(tok, "fast")) ops[nops++] = OP_FAST;
        else if (!strcmp(tok, "f32w")) ops[nops++] = OP_F32W;
        else if (!strcmp(tok, "gemm")) ops[nops++] = OP_GEMM;
#ifdef WITH_OPENBLAS
        else if (!strcmp(tok, "sgemm")) ops[nops++] = OP_SGEMM;
#endif
    } }

    for (int s = 0; s < nshapes; s++) {
        size_t N = shapes[s].n, K = shapes[s].k, maxM = 0;
        for (int i = 0; i < nm; i++) if (ms[i] > maxM) maxM = ms[i];
        int need_f32w = 0;
        for (int o = 0; o < nops; o++) if (ops[o] != OP_EXACT && ops[o] != OP_FAST) need_f32w = 1;
        uint16_t *wb = malloc(N * K * 2);
        float *wf = need_f32w ? malloc(N * K * 4) : NULL;
        float *xf = malloc(maxM * K * 4), *y = malloc(maxM * N * 4);
        /* bf16 activation rows hold whole k pairs, the last zero-padded when K is odd (CKernels.h). */
        uint16_t *xb = calloc(maxM * PAIR_STRIDE(K), 2);
        for (size_t i = 0; i < maxM * K; i++) xf[i] = frand();
        for (size_t m = 0; m < maxM; m++) ck_f32_to_bf16(xf + m * K, xb + m * PAIR_STRIDE(K), K);
        {
            float *tmp = malloc(65536 * 4);
            for (size_t i = 0; i < N * K; i += 65536) {
                size_t c = N * K - i < 65536 ? N * K - i : 65536;
                for (size_t j = 0; j < c; j++) tmp[j] = frand() * 0.05f;
                ck_f32_to_bf16(tmp, wb + i, c);
                if (wf) memcpy(wf + i, tmp, c * 4);
            }
            free(tmp);
        }
        void *wp = NULL;
        size_t compact_size = 0;
        for (int o = 0; o < nops; o++) if (ops[o] == OP_FAST && !wp) wp = pack_compact(wb, N, K, &compact_size);
        for (int o = 0; o < nops; o++) {
            for (int i = 0; i < nm; i++) {
                size_t M = ms[i];
                job_t j = {ops[o], M, N, K, 0, N, xf, xb, wb, wp, wf, y};
                double flops = 2.0 * (double)M * (double)N * (double)K;
                int reps = flops > 2e10 ? 3 : flops > 1e9 ? 6 : 20;
                run(j);
                double best = 1e30, best_cpu = 1e30;
                for (int r = 0; r < reps; r++) {
                    double t0 = now(), c0 = cpu_now();
                    run(j);
                    double dt = now() - t0, dc = cpu_now() - c0;
                    if (dt < best) best = dt;
                    if (dc < best_cpu) best_cpu = dc;
                }
                double wbytes = ops[o] == OP_FAST ? (double)compact_size : (double)N * (double)K * (ops[o] == OP_EXACT ? 2.0 : 4.0);
                printf("%-15s %-22s M=%-4zu %9.3f ms %7.1f GFLOP/s %6.1f GB/s", op_names[ops[o]], shapes[s].name, M,
                       best * 1e3, flops / best / 1e9, wbytes / best / 1e9);
                printf("  %7.1f GFLOP/cpu-s", flops / best_cpu / 1e9);
                if (do_check && ops[o] != OP_SGEMM) printf("  max rel err %.2e", check(j));
                printf("\n");
                fflush(stdout);
            }
        }
        free(wb); free(wp); free(wf); free(xf); free(y); free(xb);
    }
    return 0;
}
