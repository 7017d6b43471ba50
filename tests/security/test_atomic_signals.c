/* herd_atomic_* and signals: a process killed while writing leaves neither the output nor its
 * temporary file (herd_atomic_install_signal_cleanup), commits and aborts unregister their
 * files, and a signal that was ignored stays ignored. */
#include "harness.h"
#include "herd/base.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *tmpdir(void)
{
    const char *d = getenv("TMPDIR");
    return d && *d ? d : "/tmp";
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Forks a child that opens `n` atomic files (committing the first if `commit_first`) and then
 * raises `sig`; returns the child's pid and wait status. */
static pid_t child_writes_then_dies(const char *path, int n, bool commit_first, int sig,
                                    int *status)
{
    pid_t pid = fork();
    if (pid == 0) {
        herd_atomic_install_signal_cleanup();
        herd_atomic_file f[4];
        char p[300];
        for (int i = 0; i < n; i++) {
            snprintf(p, sizeof p, "%s.%d", path, i);
            if (herd_atomic_open(&f[i], p) != HERD_OK ||
                herd_atomic_write(&f[i], "data", 4) != HERD_OK)
                _exit(3);
        }
        if (commit_first && herd_atomic_commit(&f[0]) != HERD_OK)
            _exit(4);
        raise(sig);
        _exit(5); /* not reached unless the signal is ignored */
    }
    waitpid(pid, status, 0);
    return pid;
}

TEST(killed_writer_leaves_nothing)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    for (int k = 0; k < 3; k++) {
        char path[256], p[300];
        snprintf(path, sizeof path, "%s/herd_atomic_%d", tmpdir(), (int)getpid());
        int status;
        pid_t pid = child_writes_then_dies(path, 3, true, sigs[k], &status);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == sigs[k]);
        snprintf(p, sizeof p, "%s.0", path);
        CHECK(exists(p)); /* committed before the signal: kept */
        unlink(p);
        for (int i = 0; i < 3; i++) {
            snprintf(p, sizeof p, "%s.%d.tmp.%d", path, i, (int)pid);
            CHECK_MSG(!exists(p), "%s left behind", p);
            snprintf(p, sizeof p, "%s.%d", path, i);
            CHECK_MSG(i == 0 || !exists(p), "%s written", p);
        }
    }
}

TEST(ignored_signal_stays_ignored)
{
    signal(SIGHUP, SIG_IGN); /* inherited by the child */
    char path[256], p[300];
    snprintf(path, sizeof path, "%s/herd_atomic_ign_%d", tmpdir(), (int)getpid());
    int status;
    pid_t pid = child_writes_then_dies(path, 1, false, SIGHUP, &status);
    signal(SIGHUP, SIG_DFL);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 5);
    snprintf(p, sizeof p, "%s.0.tmp.%d", path, (int)pid);
    CHECK(exists(p)); /* the child exited without committing or aborting */
    unlink(p);
}

TEST(commit_and_abort_unregister)
{
    /* more files than the table has slots, one after another: every slot is given back */
    herd_atomic_install_signal_cleanup();
    char path[256];
    snprintf(path, sizeof path, "%s/herd_atomic_seq_%d", tmpdir(), (int)getpid());
    for (int i = 0; i < 100; i++) {
        herd_atomic_file f;
        CHECK(herd_atomic_open(&f, path) == HERD_OK);
        if (i % 2) {
            CHECK(herd_atomic_commit(&f) == HERD_OK);
        } else {
            herd_atomic_abort(&f);
        }
    }
    CHECK(exists(path));
    /* a file opened now is still registered: remove_all deletes its temporary file */
    herd_atomic_file f;
    CHECK(herd_atomic_open(&f, path) == HERD_OK);
    herd_atomic_remove_all();
    CHECK(!exists(f.tmp_path));
    herd_atomic_abort(&f);
    unlink(path);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
}

int main(void)
{
    RUN(killed_writer_leaves_nothing);
    RUN(ignored_signal_stays_ignored);
    RUN(commit_and_abort_unregister);
    return harness_finish();
}
