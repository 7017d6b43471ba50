/* Read-only mapped files and write-then-rename output files. */
#include "herd/base.h"

#include <errno.h>
#include <fcntl.h>
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
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp) {
        herd_status st = herd_fail(HERD_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
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
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof *f);
    return HERD_OK;
}

void herd_atomic_abort(herd_atomic_file *f)
{
    if (f->fp)
        fclose((FILE *)f->fp);
    if (f->tmp_path)
        unlink(f->tmp_path);
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof *f);
}
