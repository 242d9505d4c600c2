/*  test_hrb_store_lmdb_crash: the LMDB store after a crash
    (broker/hrb_store_lmdb*.c): a process killed at a random point loses
    nothing it committed and gains nothing beyond its batch in flight, and
    after a machine stop (another boot id) the channels the last run's
    --fsync cannot vouch for are suspect, as is a channel whose events stop
    short of its head (a handoff cut short). A store with damaged pages,
    after a crash or a clean stop, is refused at open, never a crash.  */
#include "store_fixture.h"

#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

//  --------------------------------------------------------------------
//  A killed process

#define S_CRASH_CHANNELS 3
#define S_CRASH_BATCH 4

typedef struct {
    uint32_t channel;
    uint32_t count;             //  events in the batch
    uint64_t seq;               //  the batch's last seq
} s_report_t;

//  The child: batches of S_CRASH_BATCH appends, each to one channel,
//  committed, then reported; until killed.
static hrb_store_lmdb_config_t
s_crash_config (hrb_fsync_t fsync)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 1000000, 3600000, 1 << 28);
    config.fsync = fsync;
    return config;
}

static void
s_crash_child (int fd, hrb_fsync_t fsync)
{
    hrb_store_lmdb_config_t config = s_crash_config (fsync);
    hr_buf_t err = HR_BUF_INIT;
    hrb_store_t *store = hrb_store_lmdb_new (&config, &err);
    if (!store)
        _exit (2);
    hrb_history_t *histories [S_CRASH_CHANNELS];
    uint64_t seqs [S_CRASH_CHANNELS];
    char names [S_CRASH_CHANNELS][8];
    for (int i = 0; i < S_CRASH_CHANNELS; i++) {
        snprintf (names [i], sizeof names [i], "c%d", i);
        hrb_store_state_t state;
        histories [i] = store->ops->open (store, names [i], 2, &state);
        seqs [i] = state.head;
        if (!*state.epoch
        &&  store->ops->set_epoch (store, histories [i], TU_EPOCH_A, 0, 1) != HRB_STORE_OK)
            _exit (3);
    }
    for (uint64_t turn = 0; turn < 1000000; turn++) {
        uint32_t channel = (uint32_t) (turn * 7 % S_CRASH_CHANNELS);
        for (int i = 0; i < S_CRASH_BATCH; i++) {
            uint64_t seq = ++seqs [channel];
            if (tu_append (store, histories [channel], names [channel], seq, 20 + seq % 200)
                != HRB_STORE_OK)
                _exit (4);
        }
        if (store->ops->commit (store) != HRB_STORE_OK)
            _exit (5);
        s_report_t report = { channel, S_CRASH_BATCH, seqs [channel] };
        if (write (fd, &report, sizeof report) != sizeof report)
            _exit (6);
    }
    _exit (7);
}

//  Checks a reopened store against what the child reported: every
//  reported event with its bytes, nothing beyond the batch in flight.
static void
s_crash_check (const uint64_t reported [S_CRASH_CHANNELS])
{
    hrb_store_lmdb_config_t config = s_crash_config (HRB_FSYNC_OFF);
    hrb_store_t *store = tu_lmdb_new (&config);
    tu_scan_t scan;
    tu_scan (store, &scan);
    assert_int_equal (scan.channels, S_CRASH_CHANNELS);
    for (size_t i = 0; i < scan.channels; i++)
        assert_false (scan.states [i].suspect);
    for (int i = 0; i < S_CRASH_CHANNELS; i++) {
        char name [8];
        snprintf (name, sizeof name, "c%d", i);
        hrb_store_state_t state;
        hrb_history_t *history = tu_open (store, name, &state);
        assert_string_equal (state.epoch, TU_EPOCH_A);
        assert_true (state.head >= reported [i]);
        assert_true (state.head <= reported [i] + S_CRASH_BATCH);
        //  A batch is all or nothing
        assert_int_equal ((state.head - reported [i]) % S_CRASH_BATCH, 0);
        tu_seen_t seen;
        memset (&seen, 0, sizeof seen);
        size_t count = 0;
        for (uint64_t since = 0; since < state.head; since += count) {
            memset (&seen, 0, sizeof seen);
            seen.name = name;
            seen.size = 20 + (since + 1) % 200;
            //  bodies vary with seq: read one at a time
            count = store->ops->read (store, history, since, 1, tu_visit, &seen);
            assert_int_equal (count, 1);
            assert_int_equal (seen.seqs [0], since + 1);
            assert_false (seen.bad_body);
        }
        assert_int_equal (store->ops->read (store, history, state.head, 10, tu_visit, &seen),
                          0);
        store->ops->release (store, history);
    }
    store->ops->destroy (&store);
}

static void
test_killed_process_loses_nothing_committed (void **unused)
{
    const char *env = getenv ("HERALD_TEST_SEED");
    unsigned seed = env? (unsigned) atoi (env): (unsigned) time (NULL);
    print_message ("seed %u (HERALD_TEST_SEED replays it)\n", seed);
    srand (seed);
    uint64_t reported [S_CRASH_CHANNELS] = { 0 };
    hrb_fsync_t modes [] = { HRB_FSYNC_BATCH, HRB_FSYNC_OFF, HRB_FSYNC_ALWAYS };
    for (int round = 0; round < 6; round++) {
        int fds [2];
        assert_int_equal (pipe (fds), 0);
        pid_t pid = fork ();
        assert_true (pid >= 0);
        if (pid == 0) {
            close (fds [0]);
            s_crash_child (fds [1], modes [round % 3]);
        }
        close (fds [1]);
        //  Kill it after a random number of commits, within a deadline
        int wanted = 1 + rand () % (round % 3 == 2? 20: 400);
        int seen = 0;
        s_report_t report;
        while (seen < wanted && read (fds [0], &report, sizeof report) == sizeof report) {
            reported [report.channel] = report.seq;
            seen++;
        }
        assert_int_equal (seen, wanted);
        assert_int_equal (kill (pid, SIGKILL), 0);
        int status;
        assert_int_equal (waitpid (pid, &status, 0), pid);
        assert_true (WIFSIGNALED (status));
        //  Reports written before the kill were committed too
        while (read (fds [0], &report, sizeof report) == sizeof report)
            reported [report.channel] = report.seq;
        close (fds [0]);
        print_message ("round %d: killed after %d commits, reported heads %llu %llu %llu\n",
                       round, seen, (unsigned long long) reported [0],
                       (unsigned long long) reported [1], (unsigned long long) reported [2]);
        s_crash_check (reported);
    }
}

//  --------------------------------------------------------------------
//  A machine stop: another boot id

//  The child runs mode: appends to "cold", commits, lets its clock run
//  and expire, appends to "hot", commits, and stops without destroy.
static void
s_stop_child (hrb_fsync_t fsync)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 1000, 3600000, 1 << 24);
    config.fsync = fsync;
    hr_buf_t err = HR_BUF_INIT;
    hrb_store_t *store = hrb_store_lmdb_new (&config, &err);
    if (!store)
        _exit (2);
    store->clock = tu_clock;
    hrb_store_state_t state;
    hrb_history_t *cold = store->ops->open (store, "cold", 4, &state);
    hrb_history_t *hot = store->ops->open (store, "hot", 3, &state);
    if (store->ops->set_epoch (store, cold, TU_EPOCH_A, 0, 1) != HRB_STORE_OK
    ||  store->ops->set_epoch (store, hot, TU_EPOCH_A, 0, 1) != HRB_STORE_OK
    ||  tu_append (store, cold, "cold", 1, 10) != HRB_STORE_OK
    ||  store->ops->commit (store) != HRB_STORE_OK)
        _exit (3);
    tu_now += 60000;
    store->ops->expire (store, SIZE_MAX);
    if (tu_append (store, hot, "hot", 1, 10) != HRB_STORE_OK
    ||  store->ops->commit (store) != HRB_STORE_OK)
        _exit (5);
    _exit (0);
}

//  Which channels a restart under another boot id calls suspect, after a
//  run in mode that stopped dirty: "hot", "cold", both or none.
static void
s_suspects_after_stop (hrb_fsync_t fsync, bool want_hot, bool want_cold)
{
    int status;
    tu_rmtree (tu_dir);
    assert_int_equal (mkdir (tu_dir, 0700), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0)
        s_stop_child (fsync);
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 1000, 3600000, 1 << 24);
    config.boot_id = "boot-two";
    hrb_store_t *store = tu_lmdb_new (&config);
    tu_scan_t scan;
    tu_scan (store, &scan);
    assert_int_equal (scan.channels, 2);
    assert_int_equal (tu_scanned (&scan, "hot")->suspect, want_hot);
    assert_int_equal (tu_scanned (&scan, "cold")->suspect, want_cold);
    //  Suspect or not, what was committed is there
    assert_int_equal (tu_scanned (&scan, "hot")->head, 1);
    assert_int_equal (tu_scanned (&scan, "cold")->head, 1);
    //  A clean stop of this run: nothing suspect at the next boot
    store->ops->destroy (&store);
    config.boot_id = "boot-three";
    store = tu_lmdb_new (&config);
    tu_scan (store, &scan);
    assert_int_equal (scan.channels, 2);
    assert_false (scan.states [0].suspect);
    assert_false (scan.states [1].suspect);
    store->ops->destroy (&store);
}

static void
test_machine_stop_always_suspects_none (void **unused)
{
    s_suspects_after_stop (HRB_FSYNC_ALWAYS, false, false);
}

//  Without a sync per commit, no record on disk can be trusted after a
//  machine stop (pages reach the disk in any order): even the channel idle
//  past a completed sync is suspect
static void
test_machine_stop_batch_suspects_all (void **unused)
{
    s_suspects_after_stop (HRB_FSYNC_BATCH, true, true);
}

static void
test_machine_stop_off_suspects_all (void **unused)
{
    s_suspects_after_stop (HRB_FSYNC_OFF, true, true);
}

static void
test_same_boot_dirty_stop_suspects_none (void **unused)
{
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0)
        s_stop_child (HRB_FSYNC_OFF);
    int status;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_int_equal (WEXITSTATUS (status), 0);
    hrb_store_t *store = tu_lmdb ();
    tu_scan_t scan;
    tu_scan (store, &scan);
    assert_int_equal (scan.channels, 2);
    assert_false (scan.states [0].suspect);
    assert_false (scan.states [1].suspect);
    store->ops->destroy (&store);
}

//  --------------------------------------------------------------------
//  A damaged store

//  The child writes 2,000 events under --fsync off and stops dirty, or
//  cleanly.
static void
s_big_child (bool clean)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 100000, 3600000, 1 << 26);
    hr_buf_t err = HR_BUF_INIT;
    hrb_store_t *store = hrb_store_lmdb_new (&config, &err);
    if (!store)
        _exit (2);
    hrb_store_state_t state;
    hrb_history_t *big = store->ops->open (store, "big", 3, &state);
    if (store->ops->set_epoch (store, big, TU_EPOCH_A, 0, 1) != HRB_STORE_OK)
        _exit (3);
    for (uint64_t seq = 1; seq <= 2000; seq++)
        if (tu_append (store, big, "big", seq, 200) != HRB_STORE_OK)
            _exit (4);
    if (store->ops->commit (store) != HRB_STORE_OK)
        _exit (5);
    if (clean) {
        store->ops->release (store, big);
        store->ops->destroy (&store);
    }
    _exit (0);
}

//  A store of 2,000 events written by a child, then pages in the middle of
//  the file (the events' leaves) zeroed, as when the machine stopped before
//  they were written: their headers are zeros.
static void
s_damaged_store (bool clean)
{
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0)
        s_big_child (clean);
    int status;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_int_equal (WEXITSTATUS (status), 0);
    //  The pages in use: the file may be longer (the map's size)
    MDB_env *env;
    MDB_envinfo info;
    assert_int_equal (mdb_env_create (&env), 0);
    assert_int_equal (mdb_env_open (env, tu_dir, MDB_RDONLY | MDB_NOLOCK, 0644), 0);
    assert_int_equal (mdb_env_info (env, &info), 0);
    mdb_env_close (env);
    long pages = (long) info.me_last_pgno + 1;
    assert_true (pages > 60);
    char path [128];
    snprintf (path, sizeof path, "%s/data.mdb", tu_dir);
    FILE *file = fopen (path, "r+b");
    assert_non_null (file);
    char zeros [16] = { 0 };
    for (long page = pages / 3; page < pages / 2; page++) {
        assert_int_equal (fseek (file, page * 4096, SEEK_SET), 0);
        assert_int_equal (fwrite (zeros, 1, sizeof zeros, file), sizeof zeros);
    }
    fclose (file);
}

//  Opening the damaged store (as boot) must fail naming it, never crash.
static char *
s_open_damaged (const char *boot)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 100000, 3600000, 1 << 26);
    config.boot_id = boot;
    hr_buf_t err = HR_BUF_INIT;
    hrb_store_t *store = hrb_store_lmdb_new (&config, &err);
    if (store)
        fail_msg ("a damaged store opened");
    print_message ("%s\n", err.data);
    assert_non_null (strstr (err.data, "damaged"));
    assert_non_null (strstr (err.data, tu_dir));
    return hr_buf_detach (&err);
}

static void
test_damaged_store_after_a_machine_stop_is_refused (void **unused)
{
    s_damaged_store (false);
    char *err = s_open_damaged ("boot-two");
    assert_non_null (strstr (err, "--fsync off"));
    free (err);
}

//  A damaged disk or a bad copy does not wait for a crash
static void
test_damaged_store_after_a_clean_stop_is_refused (void **unused)
{
    s_damaged_store (true);
    char *err = s_open_damaged ("boot-one");
    assert_null (strstr (err, "--fsync"));
    free (err);
}

//  --------------------------------------------------------------------
//  A handoff cut short

//  A channel handed over gets its head first (set_epoch), then its events;
//  a receiver stopped in between left events that stop short of the head:
//  suspect (going on would leave a hole). Events that end at the head,
//  also past evictions of the oldest, and a head with no events are not.
static void
test_events_short_of_the_head_are_suspect (void **unused)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (tu_dir, 3, 3600000, 1 << 24);
    hrb_store_t *store = tu_lmdb_new (&config);
    hrb_store_state_t state;
    const char *names [] = { "cut", "whole", "empty", "fresh" };
    uint64_t heads [] = { 10, 10, 7, 0 }, last [] = { 4, 10, 0, 5 };
    hrb_history_t *histories [4];
    for (int i = 0; i < 4; i++) {
        histories [i] = tu_open (store, names [i], &state);
        assert_int_equal (store->ops->set_epoch (store, histories [i], TU_EPOCH_A, heads [i],
                                                 5000), HRB_STORE_OK);
        if (last [i])
            tu_append_range (store, histories [i], names [i], 1, last [i], 20);
    }
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    for (int i = 0; i < 4; i++)
        store->ops->release (store, histories [i]);
    store->ops->destroy (&store);

    store = tu_lmdb_new (&config);
    tu_scan_t scan;
    tu_scan (store, &scan);
    assert_int_equal (scan.channels, 4);
    const hrb_store_state_t *cut = tu_scanned (&scan, "cut");
    assert_true (cut->suspect);
    assert_int_equal (cut->head, 10);
    assert_int_equal (cut->first, 2);        //  3 kept: 2..4
    const hrb_store_state_t *whole = tu_scanned (&scan, "whole");
    assert_false (whole->suspect);
    assert_int_equal (whole->first, 8);      //  3 kept: 8..10
    assert_false (tu_scanned (&scan, "empty")->suspect);
    assert_int_equal (tu_scanned (&scan, "empty")->head, 7);
    assert_false (tu_scanned (&scan, "fresh")->suspect);
    assert_int_equal (tu_scanned (&scan, "fresh")->head, 5);
    store->ops->destroy (&store);
}

#define S_CASE(test) cmocka_unit_test_setup_teardown (test, tu_dir_setup, tu_dir_teardown)

int
main (void)
{
    const struct CMUnitTest tests [] = {
        S_CASE (test_killed_process_loses_nothing_committed),
        S_CASE (test_machine_stop_always_suspects_none),
        S_CASE (test_machine_stop_batch_suspects_all),
        S_CASE (test_machine_stop_off_suspects_all),
        S_CASE (test_same_boot_dirty_stop_suspects_none),
        S_CASE (test_damaged_store_after_a_machine_stop_is_refused),
        S_CASE (test_damaged_store_after_a_clean_stop_is_refused),
        S_CASE (test_events_short_of_the_head_are_suspect),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
