/*  test_hrb_view_file: the broker's durable view state on disk (broker/
    hrb_view_file).

    A missing file is a first start; a saved state reads back as saved
    (ids, not indices); every corrupt file is a start-up error naming the
    file, never a first start; a save that cannot be done leaves the old
    file; the state directory check.  */
#include "hrb_view_file.h"

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char s_file [] =
    "{\"brokers\": ["
    "{\"id\": \"b1\", \"publish\": \"tcp://127.0.0.1:7001\", \"router\": \"tcp://127.0.0.1:7002\","
    " \"stream\": \"tcp://127.0.0.1:7003\", \"peer\": \"tcp://127.0.0.1:7004\"},"
    "{\"id\": \"b2\", \"publish\": \"tcp://127.0.0.1:7011\", \"router\": \"tcp://127.0.0.1:7012\","
    " \"stream\": \"tcp://127.0.0.1:7013\", \"peer\": \"tcp://127.0.0.1:7014\"},"
    "{\"id\": \"b3\", \"publish\": \"tcp://127.0.0.1:7021\", \"router\": \"tcp://127.0.0.1:7022\","
    " \"stream\": \"tcp://127.0.0.1:7023\", \"peer\": \"tcp://127.0.0.1:7024\"}]}";

typedef struct {
    hr_cluster_t *cluster;
    char dir [64];
    char *path;
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fx = calloc (1, sizeof *fx);
    hr_buf_t err = HR_BUF_INIT;
    fx->cluster = hr_cluster_parse ("test", s_file, strlen (s_file), &err);
    assert_non_null (fx->cluster);
    strcpy (fx->dir, "/tmp/herald-view-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    fx->path = hrb_view_file_path (fx->dir, "b2");
    hr_buf_free (&err);
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fx = *state;
    unlink (fx->path);
    rmdir (fx->dir);
    free (fx->path);
    hr_cluster_destroy (&fx->cluster);
    free (fx);
    return 0;
}

static void
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

static void
test_missing_file_is_a_first_start (void **state)
{
    s_fixture_t *fx = *state;
    hrb_view_durable_t durable;
    bool found = true;
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrb_view_file_load (fx->path, fx->cluster, &durable, &found, &err), 0);
    assert_false (found);
    assert_int_equal (durable.term, 0);
    assert_int_equal (durable.voted_for, -1);
    assert_int_equal (durable.installed.number, 0);
    char *want = malloc (strlen (fx->dir) + 32);
    sprintf (want, "%s/herald-b2.view", fx->dir);
    assert_string_equal (fx->path, want);
    free (want);
    hr_buf_free (&err);
}

static void
test_saved_state_reads_back (void **state)
{
    s_fixture_t *fx = *state;
    hrb_view_durable_t states [] = {
        { .term = 9, .voted_for = 2, .installed = { 8, 7, 3, 0, 7 } },
        { .term = 10, .voted_for = -1, .installed = { 10, 5, 1, 2, 0 } },
        { .term = 0, .voted_for = -1, .installed = { 0, 0, 0, 0, 0 } },
    };
    hr_buf_t err = HR_BUF_INIT;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal (hrb_view_file_save (fx->path, fx->cluster, &states [i], &err), 0);
        hrb_view_durable_t back;
        bool found = false;
        assert_int_equal (hrb_view_file_load (fx->path, fx->cluster, &back, &found, &err), 0);
        assert_true (found);
        assert_int_equal (back.term, states [i].term);
        assert_int_equal (back.voted_for, states [i].voted_for);
        assert_memory_equal (&back.installed, &states [i].installed, sizeof back.installed);
    }
    //  Ids on disk, so that the file reads the same whatever the indices
    FILE *file = fopen (fx->path, "r");
    char text [512] = "";
    assert_true (fread (text, 1, sizeof text - 1, file) > 0);
    fclose (file);
    assert_non_null (strstr (text, "\"members\":[]"));
    assert_int_equal (access (fx->path, F_OK), 0);
    char *tmp = malloc (strlen (fx->path) + 8);
    sprintf (tmp, "%s.tmp", fx->path);
    assert_int_not_equal (access (tmp, F_OK), 0);       //  renamed, not left behind
    free (tmp);
    hr_buf_free (&err);
}

static void
test_corrupt_files_are_start_up_errors (void **state)
{
    s_fixture_t *fx = *state;
    const char *bad [] = {
        "",
        "{",
        "[]",
        "{\"term\": 1, \"voted_for\": null}",
        "{\"term\": -1, \"voted_for\": null, \"view\": {\"number\": 0, \"members\": [],"
        " \"owners\": [], \"handoff\": []}}",
        "{\"term\": 1, \"voted_for\": \"b9\", \"view\": {\"number\": 0, \"members\": [],"
        " \"owners\": [], \"handoff\": []}}",
        "{\"term\": 1, \"voted_for\": 1, \"view\": {\"number\": 0, \"members\": [],"
        " \"owners\": [], \"handoff\": []}}",
        "{\"term\": 1, \"voted_for\": null, \"view\": {\"number\": 1, \"members\": [\"b1\"],"
        " \"owners\": [\"b2\"], \"handoff\": []}}",
        "{\"term\": 1, \"voted_for\": null, \"view\": {\"number\": 2, \"members\": [\"b1\"],"
        " \"owners\": [], \"handoff\": []}}",
        "{\"term\": 1, \"voted_for\": null, \"view\": {\"number\": 1, \"members\": [\"b1\", \"b1\"],"
        " \"owners\": [], \"handoff\": []}}",
        "{\"term\": 1, \"voted_for\": null, \"view\": {\"number\": 1, \"members\": [],"
        " \"owners\": [], \"handoff\": []}, \"x\": 1}",
        "{\"term\": 1, \"term\": 2, \"voted_for\": null, \"view\": {}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        s_write (fx->path, bad [i]);
        hrb_view_durable_t back;
        bool found = true;
        hr_buf_t err = HR_BUF_INIT;
        assert_int_equal (hrb_view_file_load (fx->path, fx->cluster, &back, &found, &err), -1);
        assert_false (found);
        assert_non_null (strstr (err.data, fx->path));
        assert_non_null (strstr (err.data, "corrupt"));
        hr_buf_free (&err);
    }
    //  Too large to be ours
    char *big = malloc (HRB_VIEW_FILE_MAX + 2);
    memset (big, ' ', HRB_VIEW_FILE_MAX + 1);
    big [HRB_VIEW_FILE_MAX + 1] = 0;
    s_write (fx->path, big);
    free (big);
    hrb_view_durable_t back;
    bool found;
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrb_view_file_load (fx->path, fx->cluster, &back, &found, &err), -1);
    hr_buf_free (&err);
}

static void
test_a_failed_save_keeps_the_old_state (void **state)
{
    s_fixture_t *fx = *state;
    hrb_view_durable_t old = { .term = 3, .voted_for = 0, .installed = { 3, 3, 3, 0, 0 } };
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrb_view_file_save (fx->path, fx->cluster, &old, &err), 0);
    if (geteuid () != 0) {              //  root writes anywhere
        chmod (fx->dir, 0500);
        hrb_view_durable_t next = { .term = 4, .voted_for = 1, .installed = { 3, 3, 3, 0, 0 } };
        assert_int_equal (hrb_view_file_save (fx->path, fx->cluster, &next, &err), -1);
        assert_non_null (strstr (err.data, "cannot save"));
        assert_int_equal (hrb_view_file_check_dir (fx->dir, &err), -1);
        chmod (fx->dir, 0700);
        hrb_view_durable_t back;
        bool found;
        assert_int_equal (hrb_view_file_load (fx->path, fx->cluster, &back, &found, &err), 0);
        assert_int_equal (back.term, 3);
    }
    hr_buf_free (&err);
}

static void
test_state_dir_must_be_a_writable_directory (void **state)
{
    s_fixture_t *fx = *state;
    hr_buf_t err = HR_BUF_INIT;
    assert_int_equal (hrb_view_file_check_dir (fx->dir, &err), 0);
    assert_int_equal (hrb_view_file_check_dir ("/nonexistent/herald", &err), -1);
    assert_non_null (strstr (err.data, "--state-dir /nonexistent/herald"));
    hr_buf_reset (&err);
    s_write (fx->path, "x");
    assert_int_equal (hrb_view_file_check_dir (fx->path, &err), -1);
    assert_non_null (strstr (err.data, "not a directory"));
    hr_buf_free (&err);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_missing_file_is_a_first_start, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_saved_state_reads_back, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_corrupt_files_are_start_up_errors, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_a_failed_save_keeps_the_old_state, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_state_dir_must_be_a_writable_directory, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
