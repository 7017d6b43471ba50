/* Output files that cannot hurt the user, and a checked standard output.
 *
 * Every file herd writes goes through herd_atomic_*: OUT must be absent or a regular file (a
 * device, FIFO, socket or directory at OUT is refused, never replaced); the data goes to a
 * temporary file beside OUT with an unpredictable name, created with O_CREAT|O_EXCL|O_NOFOLLOW
 * (a planted symlink or file cannot redirect it), then OUT's mode (and, where permitted, owner)
 * is applied, the file is fsynced, renamed over OUT and the directory fsynced. A symlink at OUT
 * is followed to its target, except one another user planted in a sticky world-writable
 * directory (the kernel's protected_symlinks rule). Temporaries left by a process that could not
 * clean up (SIGKILL, power loss) are removed by the next write to the same directory once they
 * are a day old. "-" means standard output (for binary data, not a terminal). */
#include "herd/base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_TAG ".herd-tmp."
enum { TMP_RANDOM = 12, TMP_MAX_AGE = 24 * 3600 };

/* ---- temporary files to remove on a signal ----
 * A fixed table (no heap: a signal handler reads it) of (directory fd, name). A slot is claimed
 * (1), filled, then published (2) before the file is created, and freed (0) after the rename or
 * unlink, so the handler never misses a file that exists; unlinking a name already renamed or
 * removed is harmless (the name is random and was created by us with O_EXCL). */
enum { ATOMIC_SLOTS = 32 };
static char atomic_names[ATOMIC_SLOTS][NAME_MAX + 1];
static int atomic_dirs[ATOMIC_SLOTS];
static volatile sig_atomic_t atomic_state[ATOMIC_SLOTS];

static int atomic_register(int dirfd, const char *name)
{
    for (int i = 0; i < ATOMIC_SLOTS; i++) {
        if (!__sync_bool_compare_and_swap(&atomic_state[i], 0, 1))
            continue;
        strcpy(atomic_names[i], name); /* name ≤ NAME_MAX by construction */
        atomic_dirs[i] = dirfd;
        __sync_synchronize();
        atomic_state[i] = 2;
        return i + 1;
    }
    return 0; /* more than 32 files open at once: still atomic; the stale sweep removes it */
}

static void atomic_unregister(int slot)
{
    if (slot > 0)
        atomic_state[slot - 1] = 0;
}

void herd_atomic_remove_all(void)
{
    for (int i = 0; i < ATOMIC_SLOTS; i++)
        if (atomic_state[i] == 2)
            unlinkat(atomic_dirs[i], atomic_names[i], 0);
}

static void atomic_on_signal(int sig)
{
    int saved = errno;
    herd_atomic_remove_all();
    signal(sig, SIG_DFL);
    raise(sig); /* blocked until we return: then the process dies of it */
    errno = saved;
}

static void on_xfsz(int sig)
{
    (void)sig; /* the write that crossed the limit fails with EFBIG: an ordinary write error */
}

/* Every signal whose default action ends the process and that can be caught. */
static const int fatal_signals[] = {SIGHUP,    SIGINT,  SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM,
                                    SIGVTALRM, SIGPROF, SIGPIPE, SIGXCPU, SIGPOLL, SIGSYS,  SIGTRAP,
                                    SIGABRT,   SIGSEGV, SIGBUS,  SIGFPE,  SIGILL};

void herd_atomic_install_signal_cleanup(void)
{
    for (size_t i = 0; i <= sizeof fatal_signals / sizeof *fatal_signals; i++) {
        int sig = i < sizeof fatal_signals / sizeof *fatal_signals ? fatal_signals[i] : SIGXFSZ;
        struct sigaction old, sa;
        if (sigaction(sig, NULL, &old) != 0 || old.sa_handler == SIG_IGN)
            continue; /* e.g. SIGINT of a background job or nohup's SIGHUP: keep ignoring it */
        if (old.sa_handler != SIG_DFL)
            continue; /* someone (a sanitizer, an embedding program) has its own handler */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = sig == SIGXFSZ ? on_xfsz : atomic_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
    }
}

/* ---- where OUT really is ---- */

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
           : S_ISLNK(m)  ? "a symbolic link"
                         : "not a regular file";
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* The kernel's fs.protected_symlinks rule, applied whatever the sysctl says: a link in a sticky
 * world-writable directory is followed only if we or the directory's owner own it. */
static bool link_trusted(const char *link, const struct stat *lst)
{
    char *dir = dir_of(link);
    struct stat ds;
    bool ok = dir && stat(dir, &ds) == 0 &&
              (!(ds.st_mode & S_ISVTX) || !(ds.st_mode & S_IWOTH) || lst->st_uid == geteuid() ||
               lst->st_uid == ds.st_uid);
    free(dir);
    return ok;
}

/* Follows symlinks at the end of `path` (not in its directories, which the kernel resolves);
 * *real gets the final name, *st its lstat (exists = false when absent). */
static herd_status resolve_out(const char *path, char **real, struct stat *st, bool *exists)
{
    char *cur = strdup(path);
    if (!cur)
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
    for (int depth = 0;; depth++) {
        if (lstat(cur, st) != 0) {
            int e = errno;
            if (e == ENOENT) { /* a new file (at the link's target, for a dangling link) */
                *exists = false;
                *real = cur;
                return HERD_OK;
            }
            free(cur);
            return herd_fail(HERD_ERR_IO, "%s: cannot create: %s", path, strerror(e));
        }
        if (!S_ISLNK(st->st_mode)) {
            *exists = true;
            *real = cur;
            return HERD_OK;
        }
        if (depth >= 40) {
            free(cur);
            return herd_fail(HERD_ERR_IO, "%s: too many levels of symbolic links", path);
        }
        if (!link_trusted(cur, st)) {
            free(cur);
            return herd_fail(HERD_ERR_IO,
                             "%s: a symbolic link owned by another user in a sticky directory; "
                             "not followed",
                             path);
        }
        char target[PATH_MAX];
        ssize_t n = readlink(cur, target, sizeof target - 1);
        if (n < 0) {
            int e = errno;
            free(cur);
            return herd_fail(HERD_ERR_IO, "%s: cannot read the link: %s", path, strerror(e));
        }
        target[n] = 0;
        char *next;
        if (target[0] == '/') {
            next = strdup(target);
        } else {
            char *dir = dir_of(cur);
            next = dir ? malloc(strlen(dir) + (size_t)n + 2) : NULL;
            if (next)
                sprintf(next, "%s/%s", dir, target);
            free(dir);
        }
        free(cur);
        if (!next)
            return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
        cur = next;
    }
}

static mode_t process_umask(void)
{
    /* /proc/self/status says it without changing it (umask() would, racing other threads) */
    FILE *f = fopen("/proc/self/status", "re");
    char line[128];
    unsigned m;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Umask: %o", &m) == 1) {
            fclose(f);
            return (mode_t)m & 0777;
        }
    if (f)
        fclose(f);
    mode_t old = umask(022);
    umask(old);
    return old;
}

/* Does `name` look like one of our temporaries: "<anything>.herd-tmp.<12 letters/digits>"? */
static bool is_our_tmp(const char *name)
{
    size_t n = strlen(name), tl = strlen(TMP_TAG);
    if (n < tl + TMP_RANDOM + 1 || memcmp(name + n - TMP_RANDOM - tl, TMP_TAG, tl) != 0)
        return false;
    for (const char *c = name + n - TMP_RANDOM; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
            return false;
    return true;
}

/* Removes our own temporaries older than a day (left by SIGKILL or a crash): regular files we
 * own, matched by name. A live writer's file is never that old: every write touches it. */
static void sweep_stale(int dirfd)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)))
        if (is_our_tmp(e->d_name)) {
            struct stat st;
            if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
                st.st_uid == geteuid() && now - st.st_mtime > TMP_MAX_AGE)
                unlinkat(dirfd, e->d_name, 0);
        }
    closedir(d);
}

static void random_tail(char *out)
{
    static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char r[TMP_RANDOM];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) { /* no entropy yet: still unique */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x = (unsigned long long)ts.tv_nsec * 2654435761u ^
                               (unsigned long long)getpid() << 32 ^ (unsigned long long)(size_t)r;
        for (int i = 0; i < TMP_RANDOM;
             i++, x = x * 6364136223846793005ull + 1442695040888963407ull)
            r[i] = (unsigned char)(x >> 56);
    }
    for (int i = 0; i < TMP_RANDOM; i++)
        out[i] = abc[r[i] % 62];
    out[TMP_RANDOM] = 0;
}

/* ---- the writer ---- */

/* Closes, removes the temporary file if one was created, frees; f is left all zero (a zeroed
 * herd_atomic_file is a closed one: abort on it does nothing). dirfd is stored plus one. */
static void atomic_clear(herd_atomic_file *f)
{
    if (f->fp && !f->to_stdout)
        fclose((FILE *)f->fp);
    if (f->dirfd1 > 0 && f->tmp_name)
        unlinkat(f->dirfd1 - 1, f->tmp_name, 0);
    atomic_unregister(f->slot);
    if (f->dirfd1 > 0)
        close(f->dirfd1 - 1);
    free(f->path);
    free(f->tmp_path);
    free(f->tmp_name);
    free(f->name);
    memset(f, 0, sizeof *f);
}

/* What herd_atomic_open refuses, found without creating anything; *real etc. as resolve_out. */
static herd_status check_out(const char *path, char **real, struct stat *st, bool *exists)
{
    if (strcmp(path, "-") == 0) {
        if (isatty(STDOUT_FILENO))
            return herd_fail(HERD_ERR_ARG,
                             "standard output is a terminal: give a file name instead of -");
        return HERD_OK;
    }
    /* following every link (also /proc's magic ones, /dev/stdout -> a pipe) */
    struct stat fst;
    if (stat(path, &fst) == 0 && !S_ISREG(fst.st_mode))
        return herd_fail(HERD_ERR_IO, "%s: exists and is %s; herd replaces only regular files",
                         path, file_kind(fst.st_mode));
    herd_status s = resolve_out(path, real, st, exists);
    if (!s && *exists && !S_ISREG(st->st_mode)) {
        free(*real);
        *real = NULL;
        return herd_fail(HERD_ERR_IO, "%s: exists and is %s; herd replaces only regular files",
                         path, file_kind(st->st_mode));
    }
    return s;
}

herd_status herd_atomic_check(const char *path)
{
    char *real = NULL;
    struct stat st;
    bool exists;
    herd_status s = check_out(path, &real, &st, &exists);
    free(real);
    return s;
}

herd_status herd_atomic_open(herd_atomic_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    char *real = NULL;
    struct stat st;
    bool exists = false;
    herd_status s = check_out(path, &real, &st, &exists);
    if (s)
        return s;
    if (strcmp(path, "-") == 0) {
        f->to_stdout = true;
        f->fp = stdout;
        f->path = strdup("standard output");
        return f->path ? HERD_OK : herd_fail(HERD_ERR_NOMEM, "out of memory");
    }
    f->path = strdup(path);
    char *dir = dir_of(real);
    const char *base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
    f->name = strdup(base);
    free(real);
    if (!f->path || !dir || !f->name) {
        free(dir);
        atomic_clear(f);
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!*f->name) {
        free(dir);
        atomic_clear(f);
        return herd_fail(HERD_ERR_ARG, "%s: not a file name", path);
    }
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        herd_status e = herd_fail(HERD_ERR_IO, "%s: cannot open its directory %s: %s", path, dir,
                                  strerror(errno));
        free(dir);
        atomic_clear(f);
        return e;
    }
    f->dirfd1 = dirfd + 1;
    f->mode = exists ? (int)(st.st_mode & 07777) : (int)(0666 & ~process_umask());
    f->uid = exists ? (long)st.st_uid : -1;
    f->gid = exists ? (long)st.st_gid : -1;
    sweep_stale(dirfd);

    /* "<name>.herd-tmp.<random>", the name cut so the whole fits NAME_MAX */
    size_t keep = strlen(f->name), extra = strlen(TMP_TAG) + TMP_RANDOM;
    if (keep + extra > NAME_MAX)
        keep = NAME_MAX - extra;
    f->tmp_name = malloc(keep + extra + 1);
    f->tmp_path = malloc(strlen(dir) + keep + extra + 2);
    if (!f->tmp_name || !f->tmp_path) {
        free(dir);
        atomic_clear(f);
        return herd_fail(HERD_ERR_NOMEM, "%s: out of memory", path);
    }
    int fd = -1, err = 0;
    for (int tries = 0; tries < 64 && fd < 0; tries++) {
        memcpy(f->tmp_name, f->name, keep);
        memcpy(f->tmp_name + keep, TMP_TAG, strlen(TMP_TAG));
        random_tail(f->tmp_name + keep + strlen(TMP_TAG));
        atomic_unregister(f->slot); /* the previous try's name was never created */
        f->slot = atomic_register(dirfd, f->tmp_name);
        fd = openat(dirfd, f->tmp_name,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        err = errno;
        if (fd < 0 && err != EEXIST)
            break;
    }
    sprintf(f->tmp_path, "%s/%s", dir, f->tmp_name);
    free(dir);
    if (fd >= 0)
        f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        if (fd >= 0) {
            err = errno;
            close(fd);
        } else {
            free(f->tmp_name); /* nothing of ours to remove */
            f->tmp_name = NULL;
        }
        herd_status e = herd_fail(HERD_ERR_IO, "%s: cannot create: %s", path, strerror(err));
        atomic_clear(f);
        return e;
    }
    return HERD_OK;
}

static herd_status write_failed(herd_atomic_file *f, int err)
{
    return herd_fail(HERD_ERR_IO, "%s: write failed: %s", f->path, strerror(err));
}

herd_status herd_atomic_write(herd_atomic_file *f, const void *data, size_t bytes)
{
    errno = 0;
    if (bytes && fwrite(data, 1, bytes, (FILE *)f->fp) != bytes)
        return write_failed(f, errno ? errno : EIO);
    return HERD_OK;
}

herd_status herd_atomic_finish(herd_atomic_file *f)
{
    FILE *fp = f->fp;
    if (!fp && !f->to_stdout && f->tmp_name)
        return HERD_OK; /* finished already */
    if (f->to_stdout) {
        errno = 0;
        herd_status st =
            fflush(fp) != 0 || ferror(fp) ? write_failed(f, errno ? errno : EIO) : HERD_OK;
        f->fp = NULL;
        atomic_clear(f);
        return st;
    }
    int fd = fileno(fp);
    errno = 0;
    if (fflush(fp) != 0 || ferror(fp)) {
        herd_status st = write_failed(f, errno ? errno : EIO);
        atomic_clear(f);
        return st;
    }
    /* the old file's owner (only where allowed: root, or a group we are in) and then its mode
     * (fchown clears set-id bits) */
    if (f->uid >= 0 && (fchown(fd, (uid_t)f->uid, (gid_t)f->gid) != 0))
        if (fchown(fd, (uid_t)-1, (gid_t)f->gid) != 0) {
            /* not permitted: the new file is ours, as any new file would be */
        }
    if (fchmod(fd, (mode_t)f->mode) != 0 || fsync(fd) != 0) {
        herd_status st = write_failed(f, errno);
        atomic_clear(f);
        return st;
    }
    f->fp = NULL;
    if (fclose(fp) != 0) {
        herd_status st = write_failed(f, errno);
        atomic_clear(f);
        return st;
    }
    return HERD_OK;
}

herd_status herd_atomic_install(herd_atomic_file *f)
{
    if (!f->tmp_name) /* standard output, or a failed finish: nothing to install */
        return HERD_OK;
    /* OUT may have changed since the open: still refuse to replace what is not a regular file */
    struct stat now;
    int dirfd = f->dirfd1 - 1;
    if (fstatat(dirfd, f->name, &now, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(now.st_mode)) {
        herd_status st = herd_fail(HERD_ERR_IO, "%s: became %s while being written; not replaced",
                                   f->path, file_kind(now.st_mode));
        atomic_clear(f);
        return st;
    }
    if (renameat(dirfd, f->tmp_name, dirfd, f->name) != 0) {
        herd_status st =
            herd_fail(HERD_ERR_IO, "%s: cannot finish writing: %s", f->path, strerror(errno));
        atomic_clear(f);
        return st;
    }
    atomic_unregister(f->slot);
    f->slot = 0;
    free(f->tmp_name);
    f->tmp_name = NULL; /* renamed: nothing to remove */
    herd_status st = HERD_OK;
    if (fsync(dirfd) != 0 && errno != EINVAL) /* the rename itself survives a crash */
        st = herd_fail(HERD_ERR_IO, "%s: cannot sync its directory: %s", f->path, strerror(errno));
    atomic_clear(f);
    return st;
}

herd_status herd_atomic_commit(herd_atomic_file *f)
{
    herd_status st = herd_atomic_finish(f);
    return st ? st : herd_atomic_install(f);
}

void herd_atomic_abort(herd_atomic_file *f)
{
    atomic_clear(f);
}

herd_status herd_atomic_save(const char *path, const void *data, size_t bytes, bool newline)
{
    herd_atomic_file f;
    herd_status st = herd_atomic_open(&f, path);
    if (st)
        return st;
    st = herd_atomic_write(&f, data, bytes);
    if (!st && newline && (bytes == 0 || ((const char *)data)[bytes - 1] != '\n'))
        st = herd_atomic_write(&f, "\n", 1);
    if (st) {
        herd_atomic_abort(&f);
        return st;
    }
    return herd_atomic_commit(&f);
}

/* ---- standard output ---- */
static int stdout_errno;

bool herd_stdout_ok(void)
{
    if (stdout_errno)
        return false;
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        stdout_errno = errno ? errno : EIO;
        return false;
    }
    return true;
}

int herd_stdout_close(void)
{
    bool ok = herd_stdout_ok();
    errno = 0;
    if (fclose(stdout) != 0 && ok) {
        stdout_errno = errno ? errno : EIO;
        ok = false;
    }
    return ok ? 0 : stdout_errno;
}
