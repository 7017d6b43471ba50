/* herd base layer: status codes and error messages, aligned memory, mapped files, CPU features
 * and ISA selection, the thread pool, timers, logging and progress. Everything else builds on it.
 */
#ifndef HERD_BASE_H
#define HERD_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors -------------------------------------------------------------------
 * Every fallible function returns a herd_status. On failure it records one line of text
 * (which file, which tensor, what was expected) with herd_fail(); the CLI prints it and exits
 * non-zero. Nothing below src/cli aborts on bad input; assert() is for programmer errors. */
typedef enum herd_status {
    HERD_OK = 0,
    HERD_ERR_ARG,    /* bad argument or option value */
    HERD_ERR_IO,     /* a file could not be opened, read, written or mapped */
    HERD_ERR_FORMAT, /* a file's contents are malformed */
    HERD_ERR_UNSUPPORTED,
    HERD_ERR_NOMEM,
    HERD_ERR_RANGE, /* a value or size out of the allowed range */
    HERD_ERR_INTERNAL,
    HERD_ERR_CANCELLED, /* the caller's cancel callback asked to stop */
} herd_status;

/* Records the message (printf-style, thread-local, one line) and returns `st` for tail calls:
 *     return herd_fail(HERD_ERR_FORMAT, "%s: tensor '%s' has shape ...", path, name); */
herd_status herd_fail(herd_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
herd_status herd_vfail(herd_status st, const char *fmt, va_list ap);
/* The last message recorded on this thread ("" if none). */
const char *herd_last_error(void);
const char *herd_status_name(herd_status st);

/* ---- memory -------------------------------------------------------------------------------
 * 64-byte aligned (cache line, one AVX-512 register). herd_alloc fails with HERD_ERR_NOMEM and
 * a message naming `what`; sizes are checked for overflow by herd_mul_size. */
void *herd_alloc(size_t bytes, const char *what);
void *herd_calloc(size_t bytes, const char *what);
void herd_free(void *p);
/* Zeroed memory streamed end to end (the bandwidth probe; packed weights have their own arena,
 * src/kernels/packed_arena.c): from 2 MiB up it is 2 MiB-aligned and on 2 MiB pages where the
 * kernel allows (one TLB entry per 2 MiB instead of 512). Freed by herd_free. */
void *herd_calloc_huge(size_t bytes, const char *what);
/* Scratch memory of the calling thread that outlives the call, so steady-state work (a decoded
 * token) allocates nothing: slot `slot`, at least `bytes`, 64-byte aligned, contents undefined
 * (lost when it grows). One user per slot at a time; freed when the thread exits. */
typedef enum herd_scratch_slot {
    HERD_SCRATCH_GEMM_A,  /* the GEMM driver's prepared activations */
    HERD_SCRATCH_FORWARD, /* the model's per-piece activations */
    HERD_SCRATCH_MOE,     /* routing and expert buffers */
    HERD_SCRATCH_MLP,     /* the SwiGLU MLP's intermediate */
    HERD_SCRATCH_ATTN,    /* attention's key tile and row states */
    HERD_SCRATCH_COUNT
} herd_scratch_slot;
void *herd_scratch(herd_scratch_slot slot, size_t bytes);
/* a*b without overflow; returns false (and leaves *out untouched) on overflow. */
bool herd_mul_size(size_t a, size_t b, size_t *out);

/* ---- mapped files ------------------------------------------------------------------------- */
typedef struct herd_mapped_file {
    const uint8_t *data;
    size_t size;
    char *path;
} herd_mapped_file;
herd_status herd_map_file(const char *path, herd_mapped_file *out);
void herd_unmap_file(herd_mapped_file *f);
/* Drops the pages of [p, p + n) inside a mapping from this process's memory (they stay in the
 * page cache and come back on the next read). Called once a tensor has been packed, so a loaded
 * model holds the packed copy, not both. Only for ranges of a read-only file mapping: on
 * anonymous memory it would zero the pages. */
void herd_mapped_drop(const void *p, size_t n);

/* Opening a file to read, the one rule for every reader: the open never blocks (O_NONBLOCK,
 * cleared afterwards) and anything but a regular file (a FIFO, a device, a directory, a
 * socket) is refused before a byte is read. Returns the descriptor (O_CLOEXEC) and the size. */
herd_status herd_open_input(const char *path, int *fd, size_t *size);
/* Reads a whole regular file of at most `max` bytes (else a one-line error naming the limit)
 * into a NUL-terminated heap buffer (free()). */
herd_status herd_read_file(const char *path, size_t max, char **data, size_t *size);
/* Whether something exists at `path` (lstat: a dangling link or a FIFO exists too), so that a
 * reader looking for optional files reports one that is there but unusable. */
bool herd_path_exists(const char *path);
/* One line of at most `max` bytes from `f` without its line end: HERD_OK with *line set
 * (NUL-terminated, *len bytes; *line == NULL at end of input), or an error for a longer line. */
herd_status herd_read_line(FILE *f, size_t max, char **line, size_t *cap, size_t *len);

/* ---- output files (src/base/output.c) ----------------------------------------------------
 * Every file herd writes: OUT must be absent or a regular file (a device, FIFO or directory at
 * OUT is refused, never replaced; a symlink is followed to its target, except one planted by
 * another user in a sticky world-writable directory). Data goes to "OUT.herd-tmp.<random>" in
 * OUT's directory, created with O_CREAT|O_EXCL|O_NOFOLLOW; commit applies OUT's old mode (or
 * 0666 & ~umask), fsyncs, renames over OUT and fsyncs the directory, so a failed or interrupted
 * run never leaves a half-written output. Each open also removes herd's own temporaries older
 * than a day in that directory (left by SIGKILL). "-" is standard output (not a terminal). */
typedef struct herd_atomic_file {
    void *fp;       /* FILE* */
    char *path;     /* as given, for messages */
    char *tmp_path; /* the temporary file (for messages and tests) */
    char *name, *tmp_name;
    int dirfd1; /* OUT's directory, plus one (0: none) */
    int slot;   /* in the signal table, plus one (0: none) */
    int mode;
    long uid, gid; /* the replaced file's owner, -1 for a new file */
    bool to_stdout;
} herd_atomic_file;
herd_status herd_atomic_open(herd_atomic_file *f, const char *path);
/* The same refusals as herd_atomic_open, creating nothing: for a command to fail before its
 * long work rather than after it. */
herd_status herd_atomic_check(const char *path);
herd_status herd_atomic_write(herd_atomic_file *f, const void *data, size_t bytes);
herd_status herd_atomic_commit(herd_atomic_file *f); /* flush, fsync, rename */
void herd_atomic_abort(herd_atomic_file *f);         /* remove the temporary file */
/* A whole file in one call: open, write DATA, then a newline if NEWLINE and DATA does not end
 * in one, commit (or abort on the first error). */
herd_status herd_atomic_save(const char *path, const void *data, size_t bytes, bool newline);
/* commit in two steps, for files that must appear together (a model and its mmproj): finish
 * does everything that can fail for lack of room or a bad disk (flush, owner and mode, fsync,
 * close) and keeps the temporary file; install then only renames it over OUT. Between them the
 * file can still be aborted, and signals still remove it. */
herd_status herd_atomic_finish(herd_atomic_file *f);
herd_status herd_atomic_install(herd_atomic_file *f);
/* Removes the temporary file of every herd_atomic_file still open (async-signal-safe: for
 * signal handlers). herd_atomic_install_signal_cleanup() installs handlers for every catchable
 * signal that would end the process (SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGALRM, SIGPIPE, ...)
 * that do this and then die of the signal as before, and makes SIGXFSZ a plain write error
 * (EFBIG). Signals ignored at start stay ignored; signals with a handler keep it. The `herd`
 * command installs them at start, so a killed writer leaves nothing. */
void herd_atomic_remove_all(void);
void herd_atomic_install_signal_cleanup(void);

/* Standard output, checked: herd_stdout_ok() flushes it and says whether every write so far
 * reached it (false from the first failure on: EPIPE, ENOSPC, EIO, ...), so a loop that prints
 * as it goes stops; herd_stdout_close() is the last check (0 or the errno of the failure). */
bool herd_stdout_ok(void);
int herd_stdout_close(void);

/* ---- CPU features and ISA levels ----------------------------------------------------------
 * Levels are ordered: each includes the ones before. herd_isa() is the level kernels use: the
 * best the CPU has, lowered by HERD_ISA=ref|avx2|avx512|avx512vnni|avx512bf16 or herd_set_isa(). */
typedef enum herd_isa_level {
    HERD_ISA_REF = 0,    /* plain C */
    HERD_ISA_AVX2,       /* AVX2 + FMA + F16C */
    HERD_ISA_AVX512,     /* F, BW, DQ, VL */
    HERD_ISA_AVX512VNNI, /* + VNNI */
    HERD_ISA_AVX512BF16, /* + VNNI + BF16 */
    HERD_ISA_COUNT
} herd_isa_level;
herd_isa_level herd_cpu_isa(void); /* what the CPU supports */
/* AVX512-VBMI (VPERMB, VPERMI2B): on every AVX512-BF16 CPU but Cooper Lake, so the tiles that
 * use it check at run time rather than by ISA level. HERD_NO_VBMI=1 in the environment (read
 * once) makes it false, so their path for CPUs without it can run here. */
bool herd_cpu_has_vbmi(void);
/* GFNI (GF2P8AFFINEQB: any bit matrix per byte, e.g. a byte shift in one op): Ice Lake, Zen 4
 * and later; Cascade Lake has VNNI without it. */
bool herd_cpu_has_gfni(void);
herd_isa_level herd_isa(void); /* what kernels should use now */
/* Forces a level (clamped to herd_cpu_isa()); returns the level actually set. */
herd_isa_level herd_set_isa(herd_isa_level level);
const char *herd_isa_name(herd_isa_level level);
bool herd_isa_parse(const char *name, herd_isa_level *out);

/* ---- thread pool ---------------------------------------------------------------------------
 * Fork-join: herd_pool_run calls fn(ctx, tid, nthreads) once per thread (tid 0 on the caller)
 * and returns when all are done. Workers sleep between runs (no spinning away a core).
 * A NULL pool means one thread. Kernels take (tid, nthreads), never own threads. */
typedef struct herd_pool herd_pool;
typedef void (*herd_pool_fn)(void *ctx, int tid, int nthreads);
herd_status herd_pool_create(int nthreads, herd_pool **out);
void herd_pool_destroy(herd_pool *pool);
int herd_pool_size(const herd_pool *pool);
void herd_pool_run(herd_pool *pool, herd_pool_fn fn, void *ctx);
/* For work that threads claim from a shared counter: fn runs on the caller and on whichever
 * workers start before the caller has finished its own call; a worker the OS has not run by
 * then skips the run, so the caller never waits on a descheduled thread (2 vCPUs shared with
 * other jobs). fn must therefore do all of the work when run by one thread alone. */
void herd_pool_run_claims(herd_pool *pool, herd_pool_fn fn, void *ctx);
/* Splits [0, n) into nthreads contiguous parts, aligned to `align` items; part tid is
 * [*begin, *end). Deterministic, so results never depend on the thread count. */
void herd_split_range(size_t n, size_t align, int tid, int nthreads, size_t *begin, size_t *end);
int herd_cpu_count(void);

/* ---- time, logging, progress -------------------------------------------------------------- */
double herd_now(void); /* seconds, monotonic */
typedef enum herd_log_level {
    HERD_LOG_ERROR,
    HERD_LOG_WARN,
    HERD_LOG_INFO,
    HERD_LOG_DEBUG
} herd_log_level;
void herd_set_log_level(herd_log_level level); /* default INFO; HERD_LOG=debug|info|warn|error */
void herd_log(herd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A progress line on stderr with rate and ETA, redrawn at most ~10 times a second, only when
 * stderr is a terminal (one final line otherwise). */
typedef struct herd_progress {
    const char *label;
    double total, done, t_start, t_last;
    bool tty;
} herd_progress;
void herd_progress_begin(herd_progress *p, const char *label, double total);
void herd_progress_update(herd_progress *p, double done);
void herd_progress_end(herd_progress *p);

#ifdef __cplusplus
}
#endif
#endif
