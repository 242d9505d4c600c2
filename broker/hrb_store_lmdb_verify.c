/*  hrb_store_lmdb_verify: the read-through of a store before it is opened.

    LMDB trusts its pages: a damaged one (writes lost when the machine
    stopped under --fsync batch or off, a damaged disk, a bad copy) makes it
    follow a bad pointer (SIGSEGV, SIGBUS) or fail one of its assertions
    (abort) rather than return an error. So a child process opens the
    environment read-only and walks every record of every database and of
    the free list, touching each value's pages; the parent, which has not
    opened the environment (LMDB must not be open across a fork), refuses
    the store with what the child saw instead of dying at start-up or in a
    later read.

    It runs at every open of an existing data.mdb, clean stop or not: a
    damaged disk or a bad copy does not say when it happened, and a page
    found bad only by a later history read would crash a running broker.
    It costs a walk of every event: with 1 M events in 100 k channels (a
    346 MB file) 0.3 s with the file in the page cache and 1.2 s without,
    about 0.4 s and 0.9 s more to ready than a start without it.  */
#include "hrb_store_lmdb_impl.h"
#include "hr_buf.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_DAMAGED 3             //  the child's exit when LMDB returned an error

//  The child's end of the pipe, for the assertion callback.
static int s_report_fd = -1;

static void
s_report (const char *text)
{
    size_t size = strlen (text);
    while (size) {
        ssize_t sent = write (s_report_fd, text, size);
        if (sent <= 0 && errno != EINTR)
            return;
        if (sent > 0) {
            text += sent;
            size -= (size_t) sent;
        }
    }
}

//  LMDB calls abort () after this.
static void
s_assert (MDB_env *env, const char *msg)
{
    (void) env;
    s_report ("LMDB assertion failed: ");
    s_report (msg);
}

//  Walks every record of dbi, reading a byte of each page of every value
//  (a big value lies in overflow pages that the walk does not otherwise read).
static int
s_walk (MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    volatile uint8_t sink = 0;
    while ((rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) == 0) {
        const uint8_t *bytes = value.mv_data;
        for (size_t at = 0; at < value.mv_size; at += 4096)
            sink ^= bytes [at];
        if (value.mv_size)
            sink ^= bytes [value.mv_size - 1];
    }
    (void) sink;
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}

//  Why the last run may have left damage, from its meta: the rules of
//  hrb_store_lmdb_meta.c's recovery.
static void
s_report_history (hrb_lmdb_t *self, MDB_txn *txn)
{
    static const char *modes [] = { "always", "batch", "off" };
    MDB_dbi meta;
    if (mdb_dbi_open (txn, "meta", 0, &meta))
        return;
    MDB_val key = { 5, "clean" }, clean, boot, mode;
    if (mdb_get (txn, meta, &key, &clean) || clean.mv_size != 1
    ||  *(uint8_t *) clean.mv_data == 1)
        return;
    key = (MDB_val) { 4, "boot" };
    bool same_boot = mdb_get (txn, meta, &key, &boot) == 0
                  && boot.mv_size == strlen (self->boot)
                  && memcmp (boot.mv_data, self->boot, boot.mv_size) == 0;
    key = (MDB_val) { 5, "fsync" };
    int last = mdb_get (txn, meta, &key, &mode) == 0 && mode.mv_size == 1
            && *(uint8_t *) mode.mv_data <= HRB_FSYNC_OFF? *(uint8_t *) mode.mv_data
                                                           : HRB_FSYNC_OFF;
    hr_buf_t text = HR_BUF_INIT;
    if (same_boot)
        hr_buf_printf (&text, "; the last run stopped without a clean shutdown");
    else
        hr_buf_printf (&text, "; it was written with --fsync %s and the machine stopped "
                       "before a clean shutdown", modes [last]);
    s_report (text.data);
    hr_buf_free (&text);
}

//  The walk, in the child: returns an LMDB error, 0 when every page read.
static int
s_child_walk (hrb_lmdb_t *self)
{
    MDB_env *env;
    int rc = mdb_env_create (&env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (env, 16);
    if (rc == 0)
        mdb_env_set_assert (env, s_assert);
    //  No lock file: the parent's flock keeps every other Herald out, and a
    //  child killed by a damaged page leaves no reader slot behind
    if (rc == 0)
        rc = mdb_env_open (env, self->dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0644);
    MDB_txn *txn;
    if (rc || mdb_txn_begin (env, NULL, MDB_RDONLY, &txn))
        _exit (0);              //  the parent's own open says what is wrong
    s_report_history (self, txn);
    s_report ("\n");

    MDB_dbi main;
    rc = mdb_dbi_open (txn, NULL, 0, &main);
    if (rc == 0)
        rc = s_walk (txn, 0);   //  the free list (LMDB's dbi 0, readable read-only)
    if (rc == 0)
        rc = s_walk (txn, main);
    //  Each named database, as mdb_stat -a finds them
    MDB_cursor *cursor;
    if (rc == 0)
        rc = mdb_cursor_open (txn, main, &cursor);
    MDB_val key;
    while (rc == 0 && (rc = mdb_cursor_get (cursor, &key, NULL, MDB_NEXT)) == 0) {
        if (key.mv_size == 0 || key.mv_size > 64 || memchr (key.mv_data, 0, key.mv_size))
            continue;
        char name [65];
        memcpy (name, key.mv_data, key.mv_size);
        name [key.mv_size] = 0;
        MDB_dbi dbi;
        rc = mdb_dbi_open (txn, name, 0, &dbi);
        if (rc == MDB_INCOMPATIBLE)
            rc = 0;             //  a plain record, not a database
        else if (rc == 0)
            rc = s_walk (txn, dbi);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    return rc;
}

int
hrb_lmdb_verify (hrb_lmdb_t *self, hr_buf_t *err)
{
    hr_buf_t path = HR_BUF_INIT;
    hr_buf_printf (&path, "%s/data.mdb", self->dir);
    struct stat st;
    bool exists = stat (path.data, &st) == 0 && st.st_size > 0;
    hr_buf_free (&path);
    if (!exists)
        return 0;               //  a new store: nothing to read

    int fds [2];
    if (pipe (fds)) {
        hr_buf_printf (err, "cannot check the store in %s: %s", self->dir, strerror (errno));
        return -1;
    }
    pid_t pid = fork ();
    if (pid == 0) {
        close (fds [0]);
        s_report_fd = fds [1];
        //  A bad pointer kills the child as it is, whatever handler the
        //  process had (a sanitizer's would report and exit instead)
        const int fatal [] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE };
        for (size_t i = 0; i < sizeof fatal / sizeof fatal [0]; i++)
            signal (fatal [i], SIG_DFL);
        int rc = s_child_walk (self);
        if (rc)
            s_report (mdb_strerror (rc));
        _exit (rc? S_DAMAGED: 0);
    }
    close (fds [1]);
    if (pid < 0) {
        hr_buf_printf (err, "cannot check the store in %s: %s", self->dir, strerror (errno));
        close (fds [0]);
        return -1;
    }
    //  What the child said: why damage may be there, a newline, what it saw
    hr_buf_t said = HR_BUF_INIT;
    char chunk [512];
    ssize_t got;
    while ((got = read (fds [0], chunk, sizeof chunk)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        if (said.size < 4096)
            hr_buf_put (&said, chunk, (size_t) got);
    }
    close (fds [0]);
    int status = 0;
    pid_t waited;
    while ((waited = waitpid (pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (waited < 0) {
        hr_buf_printf (err, "cannot check the store in %s: %s", self->dir, strerror (errno));
        hr_buf_free (&said);
        return -1;
    }
    const char *text = said.size? said.data: "";
    const char *newline = strchr (text, '\n');
    int why_len = newline? (int) (newline - text): 0;
    const char *saw = newline? newline + 1: text;

    if (WIFEXITED (status) && WEXITSTATUS (status) == 0) {
        hr_buf_free (&said);
        return 0;
    }
    //  An LMDB error, or the child died reading (a signal, an assertion)
    hr_buf_t what = HR_BUF_INIT;
    if (*saw)
        hr_buf_puts (&what, saw);
    else
    if (WIFSIGNALED (status))
        hr_buf_printf (&what, "reading it crashed: %s", strsignal (WTERMSIG (status)));
    else
        hr_buf_printf (&what, "reading it failed: exit %d", WEXITSTATUS (status));
    hr_buf_printf (err, "the store in %s is damaged (%s%.*s); move %s away to start with "
                   "empty history", self->dir, what.data, why_len, text, self->dir);
    hr_buf_free (&what);
    hr_buf_free (&said);
    return -1;
}
