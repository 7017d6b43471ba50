/* Read-only mapped files and write-then-rename output files. */
#include "herd/base.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

herd_status herd_map_file(const char *path, herd_mapped_file *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return herd_fail(HERD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return herd_fail(HERD_ERR_IO, "%s: not a regular file", path);
    }
    out->size = (size_t)st.st_size;
    if (out->size > 0) {
        void *p = mmap(NULL, out->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return herd_fail(HERD_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        }
        out->data = p;
    } else {
        static const uint8_t empty[1];
        out->data = empty;
    }
    close(fd);
    out->path = strdup(path);
    if (!out->path) {
        herd_unmap_file(out);
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
    }
    return HERD_OK;
}

void herd_unmap_file(herd_mapped_file *f)
{
    if (f->data && f->size > 0)
        munmap((void *)f->data, f->size);
    free(f->path);
    memset(f, 0, sizeof *f);
}

void herd_mapped_drop(const void *p, size_t n)
{
    if (!p || n == 0)
        return;
    /* Whole pages only: a page shared with a neighbour would come back on its next read anyway
     * (the mapping is private and never written), but there is no gain in dropping it. */
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t b = ((uintptr_t)p + page - 1) & ~(page - 1), e = ((uintptr_t)p + n) & ~(page - 1);
    if (e > b)
        madvise((void *)b, e - b, MADV_DONTNEED);
}

/* ---- temporary files to remove on a signal ----
 * A fixed table of path copies (no heap: a signal handler reads it). A slot is claimed (1),
 * filled, then published (2) before the file is created, and freed (0) after the rename or
 * unlink, so the handler never misses a file that exists; unlinking one already renamed or
 * removed is harmless (the name carries our pid). */
enum { ATOMIC_SLOTS = 16, ATOMIC_PATH = 4096 };
static char atomic_paths[ATOMIC_SLOTS][ATOMIC_PATH];
static volatile sig_atomic_t atomic_state[ATOMIC_SLOTS];

static int atomic_register(const char *tmp_path)
{
    if (strlen(tmp_path) >= ATOMIC_PATH)
        return -1;
    for (int i = 0; i < ATOMIC_SLOTS; i++) {
        if (!__sync_bool_compare_and_swap(&atomic_state[i], 0, 1))
            continue;
        strcpy(atomic_paths[i], tmp_path);
        __sync_synchronize();
        atomic_state[i] = 2;
        return i;
    }
    return -1; /* more than 16 files open at once: still atomic, just not removed on signals */
}

static void atomic_unregister(const char *tmp_path)
{
    for (int i = 0; i < ATOMIC_SLOTS; i++)
        if (atomic_state[i] == 2 && strcmp(atomic_paths[i], tmp_path) == 0) {
            atomic_state[i] = 0;
            return;
        }
}

void herd_atomic_remove_all(void)
{
    for (int i = 0; i < ATOMIC_SLOTS; i++)
        if (atomic_state[i] == 2)
            unlink(atomic_paths[i]);
}

static void atomic_on_signal(int sig)
{
    herd_atomic_remove_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

void herd_atomic_install_signal_cleanup(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN)
            continue; /* e.g. SIGINT of a background job: keep ignoring it */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = atomic_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

herd_status herd_atomic_open(herd_atomic_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    size_t n = strlen(path) + 32;
    f->path = strdup(path);
    f->tmp_path = malloc(n);
    if (!f->path || !f->tmp_path) {
        herd_atomic_abort(f);
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(f->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    atomic_register(f->tmp_path);
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp) {
        herd_status st = herd_fail(HERD_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        atomic_unregister(f->tmp_path);
        free(f->path);
        free(f->tmp_path);
        memset(f, 0, sizeof *f);
        return st;
    }
    return HERD_OK;
}

herd_status herd_atomic_write(herd_atomic_file *f, const void *data, size_t bytes)
{
    if (bytes && fwrite(data, 1, bytes, (FILE *)f->fp) != bytes)
        return herd_fail(HERD_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
    return HERD_OK;
}

herd_status herd_atomic_commit(herd_atomic_file *f)
{
    FILE *fp = f->fp;
    f->fp = NULL;
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        fclose(fp);
        herd_status st = herd_fail(HERD_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
        herd_atomic_abort(f);
        return st;
    }
    if (fclose(fp) != 0 || rename(f->tmp_path, f->path) != 0) {
        herd_status st =
            herd_fail(HERD_ERR_IO, "%s: cannot finish writing: %s", f->path, strerror(errno));
        herd_atomic_abort(f);
        return st;
    }
    atomic_unregister(f->tmp_path);
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof *f);
    return HERD_OK;
}

void herd_atomic_abort(herd_atomic_file *f)
{
    if (f->fp)
        fclose((FILE *)f->fp);
    if (f->tmp_path) {
        unlink(f->tmp_path);
        atomic_unregister(f->tmp_path);
    }
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof *f);
}
