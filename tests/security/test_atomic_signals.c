/* herd_atomic_* and signals (issue #20 items 2, 7, 8): a process killed by any catchable fatal
 * signal while writing leaves neither the output nor a temporary file; SIGXFSZ is a write error
 * ("File too large"), not a silent death; a signal ignored at start stays ignored; commits and
 * aborts give their table slot back; temporary names are unpredictable and new each time; stale
 * temporaries of herd's naming older than a day are swept, others are left alone. */
#include "harness.h"
#include "herd/base.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static void make_dir(const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/herd_atomic_%s_%d", t && *t ? t : "/tmp", tag, (int)getpid());
    mkdir(dir, 0700);
}

/* The names in dir, space separated ("" if empty). */
static void listing(char *out, size_t n)
{
    out[0] = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(out + strlen(out), n - strlen(out), "%s%s", *out ? " " : "", e->d_name);
    if (d)
        closedir(d);
}

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[600];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
}

/* A child that opens `n` atomic files in dir (committing the first if `commit_first`) and then
 * raises `sig`; returns its wait status. */
static int child_writes_then_dies(int n, bool commit_first, int sig)
{
    pid_t pid = fork();
    if (pid == 0) {
        setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0}); /* SIGQUIT, SIGABRT: no core file */
        herd_atomic_install_signal_cleanup();
        herd_atomic_file f[4];
        char p[300];
        for (int i = 0; i < n; i++) {
            snprintf(p, sizeof p, "%s/out.%d", dir, i);
            if (herd_atomic_open(&f[i], p) != HERD_OK ||
                herd_atomic_write(&f[i], "data", 4) != HERD_OK)
                _exit(3);
        }
        if (commit_first && herd_atomic_commit(&f[0]) != HERD_OK)
            _exit(4);
        raise(sig);
        _exit(5); /* not reached unless the signal is ignored */
    }
    int status;
    waitpid(pid, &status, 0);
    return status;
}

TEST(killed_writer_leaves_nothing)
{
    static const int sigs[] = {SIGTERM, SIGINT,  SIGHUP,    SIGUSR1, SIGUSR2, SIGALRM,
                               SIGPIPE, SIGQUIT, SIGVTALRM, SIGPROF, SIGXCPU, SIGABRT};
    make_dir("kill");
    for (size_t k = 0; k < sizeof sigs / sizeof *sigs; k++) {
        clear_dir();
        int status = child_writes_then_dies(3, true, sigs[k]);
        CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == sigs[k], "signal %d: status 0x%x",
                  sigs[k], status);
        char names[1024];
        listing(names, sizeof names);
        CHECK_MSG(strcmp(names, "out.0") == 0, "signal %d (%s) left: %s", sigs[k],
                  strsignal(sigs[k]), names);
    }
    clear_dir();
    rmdir(dir);
}

TEST(ignored_signal_stays_ignored)
{
    make_dir("ign");
    signal(SIGHUP, SIG_IGN); /* inherited by the child */
    int status = child_writes_then_dies(1, false, SIGHUP);
    signal(SIGHUP, SIG_DFL);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 5);
    char names[1024];
    listing(names, sizeof names);
    /* the child exited without committing or aborting: its temporary file is still there */
    CHECK_MSG(strncmp(names, "out.0.herd-tmp.", 15) == 0, "left: %s", names);
    clear_dir();
    rmdir(dir);
}

/* SIGXFSZ (ulimit -f): the write fails with EFBIG and the writer reports it like any other. */
TEST(file_size_limit_is_a_write_error)
{
    make_dir("xfsz");
    pid_t pid = fork();
    if (pid == 0) {
        herd_atomic_install_signal_cleanup();
        setrlimit(RLIMIT_FSIZE, &(struct rlimit){8192, 8192});
        static char big[65536];
        char p[300];
        snprintf(p, sizeof p, "%s/big.bin", dir);
        herd_atomic_file f;
        if (herd_atomic_open(&f, p) != HERD_OK)
            _exit(3);
        herd_status st = herd_atomic_write(&f, big, sizeof big);
        if (!st)
            st = herd_atomic_commit(&f);
        else
            herd_atomic_abort(&f);
        _exit(st == HERD_ERR_IO && strstr(herd_last_error(), "File too large") ? 0 : 6);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
    char names[1024];
    listing(names, sizeof names);
    CHECK_MSG(names[0] == 0, "left: %s", names);
    clear_dir();
    rmdir(dir);
}

TEST(commit_and_abort_unregister)
{
    /* more files than the table has slots, one after another: every slot is given back */
    make_dir("seq");
    char path[300];
    snprintf(path, sizeof path, "%s/out", dir);
    for (int i = 0; i < 100; i++) {
        herd_atomic_file f;
        CHECK(herd_atomic_open(&f, path) == HERD_OK);
        if (i % 2) {
            CHECK(herd_atomic_commit(&f) == HERD_OK);
        } else {
            herd_atomic_abort(&f);
        }
    }
    CHECK(access(path, F_OK) == 0);
    /* a file opened now is still registered: remove_all deletes its temporary file */
    herd_atomic_file f;
    CHECK(herd_atomic_open(&f, path) == HERD_OK);
    herd_atomic_remove_all();
    CHECK(access(f.tmp_path, F_OK) != 0);
    herd_atomic_abort(&f);
    clear_dir();
    rmdir(dir);
}

/* Two opens of one OUT get different temporary names that carry nothing guessable (no pid). */
TEST(temporary_names_are_unpredictable)
{
    make_dir("names");
    char path[300], pid[32];
    snprintf(path, sizeof path, "%s/out.npy", dir);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    herd_atomic_file a, b;
    CHECK(herd_atomic_open(&a, path) == HERD_OK);
    CHECK(herd_atomic_open(&b, path) == HERD_OK);
    CHECK(strcmp(a.tmp_path, b.tmp_path) != 0);
    const char *tail = strrchr(a.tmp_path, '.');
    CHECK(tail && strlen(tail + 1) == 12 && !strstr(tail, pid));
    struct stat st;
    CHECK(lstat(a.tmp_path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) == 0);
    herd_atomic_abort(&a);
    herd_atomic_abort(&b);
    clear_dir();
    rmdir(dir);
}

/* A temporary of herd's naming two days old is removed by the next write to its directory;
 * a fresh one (a live writer's) and files of other naming are left alone. */
TEST(stale_temporaries_are_swept)
{
    make_dir("stale");
    const char *names[] = {"model.gguf.herd-tmp.AbCdEf012345", "model.gguf.herd-tmp.Zz9Zz9Zz9Zz9",
                           "model.gguf.tmp.1234", "notes.herd-tmp.short"};
    for (int i = 0; i < 4; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *fp = fopen(p, "w");
        if (fp)
            fclose(fp);
        if (i != 1) { /* two days ago */
            struct timeval tv[2];
            gettimeofday(&tv[0], NULL);
            tv[0].tv_sec -= 2 * 86400;
            tv[1] = tv[0];
            utimes(p, tv);
        }
    }
    char out[300];
    snprintf(out, sizeof out, "%s/other.npy", dir);
    herd_atomic_file f;
    CHECK(herd_atomic_open(&f, out) == HERD_OK);
    CHECK(herd_atomic_commit(&f) == HERD_OK);
    for (int i = 0; i < 4; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        CHECK_MSG((access(p, F_OK) == 0) == (i != 0), "%s: %s", names[i],
                  i == 0 ? "not swept" : "swept");
    }
    clear_dir();
    rmdir(dir);
}

int main(void)
{
    RUN(killed_writer_leaves_nothing);
    RUN(ignored_signal_stays_ignored);
    RUN(file_size_limit_is_a_write_error);
    RUN(commit_and_abort_unregister);
    RUN(temporary_names_are_unpredictable);
    RUN(stale_temporaries_are_swept);
    return harness_finish();
}
