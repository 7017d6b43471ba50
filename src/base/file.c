/* Opening files to read (one rule for every reader), read-only mapped files, bounded reads. */
#include "herd/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

herd_status herd_open_input(const char *path, int *fd_out, size_t *size)
{
    *fd_out = -1;
    /* O_NONBLOCK: opening a FIFO (or a serial device) would otherwise wait for a writer */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return herd_fail(HERD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        herd_status e = herd_fail(HERD_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return herd_fail(HERD_ERR_IO, "%s: is %s, not a regular file", path, kind(st.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        herd_status e = herd_fail(HERD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return e;
    }
    *fd_out = fd;
    *size = (size_t)st.st_size;
    return HERD_OK;
}

herd_status herd_read_file(const char *path, size_t max, char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    int fd;
    size_t n;
    herd_status st = herd_open_input(path, &fd, &n);
    if (st)
        return st;
    if (n > max) {
        close(fd);
        return herd_fail(HERD_ERR_RANGE, "%s: %zu bytes, more than the %zu allowed", path, n, max);
    }
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = 0;
    while (got < n) { /* the file may shrink while read: stop at its end */
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            herd_status e = herd_fail(HERD_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return e;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    *data = buf;
    *size = got;
    return HERD_OK;
}

bool herd_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

herd_status herd_read_line(FILE *f, size_t max, char **line, size_t *cap, size_t *len)
{
    size_t n = 0;
    int c = EOF;
    errno = 0;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (n >= max) { /* not drained: the rest may never end (/dev/zero) */
            *len = 0;
            return herd_fail(HERD_ERR_RANGE, "input line longer than %zu bytes", max);
        }
        if (n + 2 > *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            if (nc > max + 2)
                nc = max + 2;
            char *p = realloc(*line, nc);
            if (!p)
                return herd_fail(HERD_ERR_NOMEM, "out of memory reading a line");
            *line = p;
            *cap = nc;
        }
        (*line)[n++] = (char)c;
    }
    if (c == EOF && n == 0) {
        *len = 0;
        if (ferror(f) && errno != EINTR)
            return herd_fail(HERD_ERR_IO, "cannot read the input: %s",
                             strerror(errno ? errno : EIO));
        free(*line);
        *line = NULL;
        *cap = 0;
        return HERD_OK;
    }
    if (!*line) { /* an empty line */
        *line = malloc(2);
        if (!*line)
            return herd_fail(HERD_ERR_NOMEM, "out of memory reading a line");
        *cap = 2;
    }
    (*line)[n] = 0;
    *len = n;
    return HERD_OK;
}

herd_status herd_map_file(const char *path, herd_mapped_file *out)
{
    memset(out, 0, sizeof *out);
    int fd;
    herd_status st = herd_open_input(path, &fd, &out->size);
    if (st)
        return st;
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
