/*  test_cluster_status: the JSON of GET /v1/cluster (common/
    hr_cluster_status): the cluster form on a broker and on a gateway, with
    and without a channel, and the single-broker form, each parsed back
    with jansson.  */
#include "hr_cluster_status.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define NODE(id, port) "{\"id\":\"" id "\",\"publish\":\"tcp://127.0.0.1:" port "1\"," \
    "\"router\":\"tcp://127.0.0.1:" port "2\",\"stream\":\"tcp://127.0.0.1:" port "3\"," \
    "\"peer\":\"tcp://127.0.0.1:" port "4\"}"
#define THREE "{\"brokers\":[" NODE ("b1", "560") "," NODE ("b2", "561") "," \
    NODE ("b3", "562") "]}"

static hr_cluster_t *
s_three (void)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_cluster_t *cluster = hr_cluster_parse ("three", THREE, strlen (THREE), &err);
    assert_non_null (cluster);
    hr_buf_free (&err);
    return cluster;
}

//  Renders and parses back; the caller decrefs.
static json_t *
s_render (const hr_cluster_t *cluster, const hr_cluster_status_t *status, const char *channel)
{
    hr_buf_t out = HR_BUF_INIT;
    hr_cluster_status_json (cluster, status, channel, &out);
    json_error_t error;
    json_t *root = json_loadb (out.data, out.size, JSON_REJECT_DUPLICATES, &error);
    if (!root)
        fail_msg ("not JSON (%s): %s", error.text, out.data);
    hr_buf_free (&out);
    return root;
}

//  Fails unless array holds exactly the ids of the comma-separated want.
static void
s_ids (json_t *array, const char *want)
{
    hr_buf_t got = HR_BUF_INIT;
    size_t i;
    json_t *id;
    assert_true (json_is_array (array));
    json_array_foreach (array, i, id) {
        assert_true (json_is_string (id));
        hr_buf_printf (&got, "%s%s", i? ",": "", json_string_value (id));
    }
    assert_string_equal (got.data? got.data: "", want);
    hr_buf_free (&got);
}

static const char *
s_string (json_t *object, const char *name)
{
    json_t *value = json_object_get (object, name);
    assert_true (json_is_string (value));
    return json_string_value (value);
}

static void
s_broker (json_t *broker, const char *id, bool up, bool member, bool owner)
{
    assert_string_equal (s_string (broker, "id"), id);
    assert_true (json_is_boolean (json_object_get (broker, "up")));
    assert_int_equal (json_is_true (json_object_get (broker, "up")), up);
    assert_int_equal (json_is_true (json_object_get (broker, "member")), member);
    assert_int_equal (json_is_true (json_object_get (broker, "owner")), owner);
    assert_int_equal (json_object_size (broker), 4);
}

static void
test_broker_form (void **state)
{
    (void) state;
    hr_cluster_t *cluster = s_three ();
    //  b1 and b2 members, b2 still in its hold-down (not an owner), b3 down,
    //  this is b2 and b1 heard; b3 handing off
    hr_cluster_status_t status = {
        .number = 7, .members = 3, .owners = 1, .handoff = 4, .up = 1, .self = 1, .lease = true
    };
    json_t *root = s_render (cluster, &status, NULL);
    assert_true (json_is_true (json_object_get (root, "cluster")));
    json_t *view = json_object_get (root, "view");
    assert_int_equal (json_integer_value (json_object_get (view, "number")), 7);
    s_ids (json_object_get (view, "members"), "b1,b2");
    s_ids (json_object_get (view, "owners"), "b1");
    s_ids (json_object_get (view, "handoff"), "b3");
    json_t *brokers = json_object_get (root, "brokers");
    assert_int_equal (json_array_size (brokers), 3);
    s_broker (json_array_get (brokers, 0), "b1", true, true, true);
    s_broker (json_array_get (brokers, 1), "b2", true, true, false);    //  itself: up
    s_broker (json_array_get (brokers, 2), "b3", false, false, false);
    assert_string_equal (s_string (root, "self"), "b2");
    assert_true (json_is_true (json_object_get (root, "lease")));
    assert_null (json_object_get (root, "channel"));
    json_decref (root);
    hr_cluster_destroy (&cluster);
}

static void
test_gateway_form_with_a_channel (void **state)
{
    (void) state;
    hr_cluster_t *cluster = s_three ();
    hr_cluster_status_t status = {
        .number = 3, .members = 7, .owners = 7, .up = 7, .self = -1
    };
    //  docs/cluster.md: orders is b1, b2, b3; news b3, b2, b1
    json_t *root = s_render (cluster, &status, "orders");
    assert_null (json_object_get (root, "self"));
    assert_null (json_object_get (root, "lease"));
    json_t *channel = json_object_get (root, "channel");
    assert_string_equal (s_string (channel, "name"), "orders");
    assert_string_equal (s_string (channel, "owner"), "b1");
    assert_string_equal (s_string (channel, "backup"), "b2");
    json_decref (root);
    //  The owner and backup come from the view's owners
    status.owners = 6;
    root = s_render (cluster, &status, "orders");
    channel = json_object_get (root, "channel");
    assert_string_equal (s_string (channel, "owner"), "b2");
    assert_string_equal (s_string (channel, "backup"), "b3");
    json_decref (root);
    status.owners = 1;
    root = s_render (cluster, &status, "news");
    channel = json_object_get (root, "channel");
    assert_string_equal (s_string (channel, "owner"), "b1");
    assert_true (json_is_null (json_object_get (channel, "backup")));
    json_decref (root);
    status.owners = 0;
    root = s_render (cluster, &status, "news");
    channel = json_object_get (root, "channel");
    assert_true (json_is_null (json_object_get (channel, "owner")));
    assert_true (json_is_null (json_object_get (channel, "backup")));
    json_decref (root);
    //  A channel name is escaped
    status.owners = 7;
    root = s_render (cluster, &status, "a\"b\\c");
    assert_string_equal (s_string (json_object_get (root, "channel"), "name"), "a\"b\\c");
    json_decref (root);
    hr_cluster_destroy (&cluster);
}

static void
test_single_broker_form (void **state)
{
    (void) state;
    hr_cluster_status_t status = { .number = 9, .members = 7, .self = 0, .lease = true };
    for (int with_status = 0; with_status < 2; with_status++) {
        json_t *root = s_render (NULL, with_status? &status: NULL, NULL);
        assert_true (json_is_false (json_object_get (root, "cluster")));
        json_t *view = json_object_get (root, "view");
        assert_int_equal (json_integer_value (json_object_get (view, "number")), 0);
        s_ids (json_object_get (view, "members"), "");
        s_ids (json_object_get (view, "owners"), "");
        s_ids (json_object_get (view, "handoff"), "");
        assert_int_equal (json_array_size (json_object_get (root, "brokers")), 0);
        assert_true (json_is_array (json_object_get (root, "brokers")));
        assert_null (json_object_get (root, "self"));
        assert_null (json_object_get (root, "channel"));
        json_decref (root);
    }
    json_t *root = s_render (NULL, NULL, "orders");
    json_t *channel = json_object_get (root, "channel");
    assert_string_equal (s_string (channel, "name"), "orders");
    assert_true (json_is_null (json_object_get (channel, "owner")));
    assert_true (json_is_null (json_object_get (channel, "backup")));
    json_decref (root);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_broker_form),
        cmocka_unit_test (test_gateway_form_with_a_channel),
        cmocka_unit_test (test_single_broker_form),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
