/*  test_hrb_server_keep: a cluster broker's start with a durable store
    (broker/hrb_commit.c, hrb_ingest_keep_loaded and hrb_ingest_key_wanted;
    docs/cluster.md "Durable history in a cluster"): when the store's view
    mark is the saved view it keeps the stored channels it owns there, and
    their keys; otherwise it keeps none. The broker is made, not run: what
    it kept is read back from its store.  */
#include "hr_log.h"
#include "hrb_view_file.h"

#include "support.h"
#include "store_fixture.h"
#include "hrb_server_fixture.h"
#include "hrb_server_impl.h"

//  A cluster of three brokers on ipc:// endpoints in the case's directory.
static char s_dir [64], s_data [96], s_state [96], s_file [96];
static hr_cluster_t *s_cluster;
//  A channel b1 owns in the saved view (every broker an owner), and one of b2
static char s_mine [32], s_theirs [32];

static const char *
s_channel_of (int owner, char *buf)
{
    for (int i = 0; i < 10000; i++) {
        snprintf (buf, 32, "ch%d", i);
        if (hr_cluster_owner (s_cluster, buf, strlen (buf), 7) == owner)
            return buf;
    }
    fail_msg ("no channel found");
    return NULL;
}

static int
s_case_setup (void **state)
{
    tu_tempdir (s_dir, "srvkeep");
    snprintf (s_data, sizeof s_data, "%s/data", s_dir);
    snprintf (s_state, sizeof s_state, "%s/state", s_dir);
    snprintf (s_file, sizeof s_file, "%s/cluster.json", s_dir);
    assert_int_equal (mkdir (s_data, 0700), 0);
    assert_int_equal (mkdir (s_state, 0700), 0);
    hr_buf_t text = HR_BUF_INIT;
    hr_buf_puts (&text, "{\"brokers\": [");
    for (int i = 1; i <= 3; i++)
        hr_buf_printf (&text, "%s{\"id\": \"b%d\", \"publish\": \"ipc://%s/p%d\", "
                       "\"router\": \"ipc://%s/r%d\", \"stream\": \"ipc://%s/s%d\", "
                       "\"peer\": \"ipc://%s/x%d\"}", i > 1? ", ": "", i, s_dir, i, s_dir,
                       i, s_dir, i, s_dir, i);
    hr_buf_puts (&text, "]}");
    FILE *file = fopen (s_file, "w");
    assert_non_null (file);
    assert_int_equal (fwrite (text.data, 1, text.size, file), text.size);
    fclose (file);
    hr_buf_t err = HR_BUF_INIT;
    s_cluster = hr_cluster_parse (s_file, text.data, text.size, &err);
    assert_non_null (s_cluster);
    hr_buf_free (&text);
    hr_buf_free (&err);
    s_channel_of (0, s_mine);
    s_channel_of (1, s_theirs);
    return s_setup (state);
}

static int
s_case_teardown (void **state)
{
    int rc = s_teardown (state);
    hr_cluster_destroy (&s_cluster);
    tu_rmtree (s_dir);
    return rc;
}

//  b1's saved view state: view `number`, every broker a member and an owner.
static void
s_save_view (uint64_t number)
{
    hrb_view_durable_t durable = {
        .term = number, .voted_for = -1,
        .installed = { .number = number, .members = 7, .owners = 7 }
    };
    char *path = hrb_view_file_path (s_state, "b1");
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrb_view_file_save (path, s_cluster, &durable, &err), 0);
    hr_buf_free (&err);
    free (path);
}

//  b1's store, as a broker left it: both channels with 3 events and a key
//  each, and the view mark.
static void
s_fill_store (uint64_t mark)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (s_data, 1000, 3600000, 1 << 24);
    hrb_store_t *store = tu_lmdb_new (&config);
    const char *names [] = { s_mine, s_theirs };
    for (int i = 0; i < 2; i++) {
        hrb_store_state_t state;
        hrb_history_t *history = tu_open (store, names [i], &state);
        assert_int_equal (store->ops->set_epoch (store, history, TU_EPOCH_A, 0, 1),
                          HRB_STORE_OK);
        tu_append_range (store, history, names [i], 1, 3, 20);
        tu_store_key (store, history, i? "k-theirs": "k-mine", 3);
        store->ops->release (store, history);
    }
    store->ops->set_view (store, mark);
    assert_int_equal (store->ops->commit (store), HRB_STORE_OK);
    store->ops->destroy (&store);
}

//  Makes b1 (not run) from the saved state and the store, then destroys it.
static void
s_start_b1 (s_fixture_t *f, const char *data_dir, bool keep)
{
    f->config.cluster = s_file;
    f->config.id = "b1";
    f->config.state_dir = s_state;
    f->config.data_dir = data_dir;
    f->config.fsync = "off";
    //  (not s_create: the cluster file gives the endpoints)
    f->metrics = hr_metrics_new ();
    hr_buf_t err = HR_BUF_INIT;
    f->server = hrb_server_new (f->ctx, &f->config, f->metrics, &err);
    if (!f->server)
        fail_msg ("hrb_server_new: %s", err.data? err.data: "?");
    hr_buf_free (&err);
    assert_int_equal (f->server->keep, keep);
    assert_int_equal (hrb_ingest_key_wanted (f->server, s_mine, strlen (s_mine)), keep);
    assert_false (hrb_ingest_key_wanted (f->server, s_theirs, strlen (s_theirs)));
    //  Only the kept channel's key is back in the idempotency window
    assert_int_equal (hrb_dedupe_keys (f->server->dedupe), keep? 1: 0);
    hrb_server_destroy (&f->server);
}

//  What b1's store holds now.
static void
s_scan_b1 (tu_scan_t *scan, uint64_t *mark)
{
    hrb_store_lmdb_config_t config = tu_lmdb_config (s_data, 1000, 3600000, 1 << 24);
    hrb_store_t *store = tu_lmdb_new (&config);
    tu_scan (store, scan);
    *mark = store->ops->view (store);
    store->ops->destroy (&store);
}

static void
test_store_in_step_keeps_the_channels_owned_in_the_saved_view (void **state)
{
    s_save_view (3);
    s_fill_store (3);
    s_start_b1 (*state, s_data, true);
    tu_scan_t scan;
    uint64_t mark;
    s_scan_b1 (&scan, &mark);
    assert_int_equal (scan.channels, 1);
    const hrb_store_state_t *kept = tu_scanned (&scan, s_mine);
    assert_string_equal (kept->epoch, TU_EPOCH_A);
    assert_int_equal (kept->head, 3);
    assert_int_equal (kept->first, 1);
    assert_int_equal (scan.keys, 1);
    assert_string_equal (scan.key_ids [0], "k-mine");
    assert_int_equal (mark, 3);
}

//  Starts b1 on the data dir: it keeps nothing, and its store holds no
//  channel and no key after it.
static void
s_start_b1_keeping_nothing (void *state)
{
    s_start_b1 (state, s_data, false);
    tu_scan_t scan;
    uint64_t mark;
    s_scan_b1 (&scan, &mark);
    assert_int_equal (scan.channels, 0);
    assert_int_equal (scan.keys, 0);
}

static void
test_store_behind_the_saved_view_keeps_nothing (void **state)
{
    s_save_view (3);
    s_fill_store (2);                   //  a crash inside view 3's install
    s_start_b1_keeping_nothing (*state);
}

static void
test_store_without_a_saved_view_keeps_nothing (void **state)
{
    //  A single broker's data directory, or a first start: no view at all
    s_fill_store (0);
    s_start_b1_keeping_nothing (*state);
}

static void
test_history_in_memory_keeps_nothing (void **state)
{
    //  Nothing kept across the restart: demoted as before, whatever it saved
    s_save_view (3);
    s_start_b1 (*state, "", false);
}

int
main (void)
{
    hr_log_configure (HR_LOG_ERROR, false);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (
            test_store_in_step_keeps_the_channels_owned_in_the_saved_view, s_case_setup,
            s_case_teardown),
        cmocka_unit_test_setup_teardown (test_store_behind_the_saved_view_keeps_nothing,
                                         s_case_setup, s_case_teardown),
        cmocka_unit_test_setup_teardown (test_store_without_a_saved_view_keeps_nothing,
                                         s_case_setup, s_case_teardown),
        cmocka_unit_test_setup_teardown (test_history_in_memory_keeps_nothing,
                                         s_case_setup, s_case_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
