/*  test_hrb_cluster_retain: which streams a broker keeps when a view is
    installed (broker/hrb_cluster, hrb_cluster_retain). A channel's stream
    stays only when this broker owned the channel in the view before and
    owns it in the new one, and the new view comes right after (numbered
    one more, or certified to follow it): otherwise another broker may have
    sequenced the channel in between, and continuing the stream could give
    one (epoch, seq) to two events. Streams being handed over stay too.  */
#include "hrb_cluster.h"
#include "hrb_store.h"
#include "hrb_stream.h"

#include "cluster_fixture.h"
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

#define S_B1 1u
#define S_B2 2u
#define S_B3 4u
#define S_ALL (S_B1 | S_B2 | S_B3)

typedef struct {
    char dir [64];
    char path [96];
    hrb_config_t config;
    void *ctx;
    hr_metrics_t *metrics;
    hrb_cluster_t *cluster;
    hrb_store_t *store;
    hrb_streams_t *streams;
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fx = calloc (1, sizeof *fx);
    tu_cluster_file (fx->dir, "/tmp/herald-retain-XXXXXX", fx->path, sizeof fx->path, &fx->config);
    fx->ctx = zmq_ctx_new ();
    fx->metrics = hr_metrics_new ();
    hr_buf_t err = HR_BUF_INIT;
    fx->cluster = hrb_cluster_new (fx->ctx, &fx->config, fx->metrics, &err);
    assert_non_null (fx->cluster);
    hr_buf_free (&err);
    assert_int_equal (hr_epoch_init (), 0);
    fx->store = hrb_store_mem_new (100, 3600000, 1 << 20);
    fx->streams = hrb_streams_new (fx->store, 1000);
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fx = *state;
    hrb_streams_destroy (&fx->streams);
    fx->store->ops->destroy (&fx->store);
    hrb_cluster_destroy (&fx->cluster);
    zmq_ctx_term (fx->ctx);
    hr_metrics_destroy (&fx->metrics);
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", fx->dir);
    assert_int_equal (system (command), 0);
    free (fx);
    return 0;
}

//  A channel b1 owns among owners, and does not own among not_owners
//  (0: no such condition).
static void
s_channel (s_fixture_t *fx, hr_members_t owners, hr_members_t not_owners, char *name)
{
    const hr_cluster_t *file = hrb_cluster_file (fx->cluster);
    for (int n = 0; n < 10000; n++) {
        snprintf (name, 32, "ch%d", n);
        if (hr_cluster_owner (file, name, strlen (name), owners) == 0
        &&  (!not_owners || hr_cluster_owner (file, name, strlen (name), not_owners) != 0))
            return;
    }
    fail_msg ("no channel found");
}

static bool
s_keeps (s_fixture_t *fx, const char *name, hrb_view_t previous, hrb_view_t view,
         bool (*also) (void *arg, const hrb_stream_t *stream))
{
    hrb_stream_t *stream = hrb_streams_ensure (fx->streams, name, strlen (name), 1);
    assert_non_null (stream);
    hrb_cluster_retain (fx->cluster, fx->streams, &view, &previous, also, NULL);
    return hrb_streams_find (fx->streams, name, strlen (name)) != NULL;
}

static bool
s_departing (void *arg, const hrb_stream_t *stream)
{
    return true;
}

static hrb_view_t
s_view (uint64_t number, hr_members_t owners, uint64_t follows)
{
    return (hrb_view_t) { .number = number, .members = S_ALL, .owners = owners,
                          .follows = follows };
}

static void
test_kept_across_consecutive_views_it_owns_in_both (void **state)
{
    s_fixture_t *fx = *state;
    char name [32];
    s_channel (fx, S_ALL, 0, name);
    assert_true (s_keeps (fx, name, s_view (4, S_ALL, 0), s_view (5, S_ALL, 0), NULL));
    //  Certified to follow across refused campaigns' numbers
    assert_true (s_keeps (fx, name, s_view (5, S_ALL, 0), s_view (8, S_ALL, 5), NULL));
}

static void
test_dropped_across_a_gap_nothing_certifies (void **state)
{
    s_fixture_t *fx = *state;
    char name [32];
    s_channel (fx, S_ALL, 0, name);
    //  View 6 may have given the channel to another broker: a new epoch
    assert_false (s_keeps (fx, name, s_view (5, S_ALL, 0), s_view (7, S_ALL, 0), NULL));
    assert_false (s_keeps (fx, name, s_view (5, S_ALL, 0), s_view (7, S_ALL, 4), NULL));
}

static void
test_dropped_when_not_owned_before_or_now (void **state)
{
    s_fixture_t *fx = *state;
    char name [32];
    //  Owned among all three, not among b2 and b3 (where b1 is no owner)
    s_channel (fx, S_ALL, S_B2 | S_B3, name);
    assert_false (s_keeps (fx, name, s_view (4, S_B2 | S_B3, 0), s_view (5, S_ALL, 0), NULL));
    assert_false (s_keeps (fx, name, s_view (4, S_ALL, 0), s_view (5, S_B2 | S_B3, 0), NULL));
}

static void
test_a_stream_being_handed_over_stays (void **state)
{
    s_fixture_t *fx = *state;
    char name [32];
    s_channel (fx, S_ALL, S_B2 | S_B3, name);
    assert_true (s_keeps (fx, name, s_view (4, S_ALL, 0), s_view (5, S_B2 | S_B3, 0),
                          s_departing));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_kept_across_consecutive_views_it_owns_in_both,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_dropped_across_a_gap_nothing_certifies,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_dropped_when_not_owned_before_or_now,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_stream_being_handed_over_stays,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
