/*  test_cluster: the cluster file (common/hr_cluster, docs/cluster.md "The
    cluster file"): what loads, every refusal with a message naming the
    file, the broker and the field, the accessors; and rendezvous ownership
    ("Ownership"): the golden weights the docs print, falling order, owner
    and backup over member subsets, an even spread, and that removing a
    broker moves only its own channels.  */
#include "hr_cluster.h"
#include "hr_hash.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

//  A broker object: id as JSON (quoted, or anything else), four endpoints
//  and extra members (",\"http\":...").
#define NODE(id, pub, rtr, str, peer, extra) \
    "{\"id\":" id ",\"publish\":\"" pub "\",\"router\":\"" rtr "\",\"stream\":\"" str \
    "\",\"peer\":\"" peer "\"" extra "}"
#define B1 NODE ("\"b1\"", "tcp://127.0.0.1:5601", "tcp://127.0.0.1:5602", \
                 "tcp://127.0.0.1:5603", "tcp://127.0.0.1:5604", ",\"http\":\"127.0.0.1:5605\"")
#define B2 NODE ("\"b2\"", "tcp://127.0.0.1:5611", "tcp://127.0.0.1:5612", \
                 "tcp://127.0.0.1:5613", "tcp://127.0.0.1:5614", "")
#define B3 NODE ("\"b3\"", "ipc:///tmp/b3-pull", "ipc:///tmp/b3-router", \
                 "ipc:///tmp/b3-stream", "ipc:///tmp/b3-peer", ",\"http\":\"localhost:5625\"")
//  Broker 2 with one field replaced
#define B2_WITH(pub, rtr, str, peer, extra) NODE ("\"b2\"", pub, rtr, str, peer, extra)
#define FILE_OF(...) "{\"brokers\":[" __VA_ARGS__ "]}"

static hr_cluster_t *
s_ok (const char *json)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_cluster_t *cluster = hr_cluster_parse ("cluster.json", json, strlen (json), &err);
    if (!cluster)
        fail_msg ("refused %s: %s", json, err.data);
    hr_buf_free (&err);
    return cluster;
}

//  Fails unless json is refused with a message that starts with the file
//  name and contains want.
static void
s_refused (const char *json, const char *want)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_cluster_t *cluster = hr_cluster_parse ("cluster.json", json, strlen (json), &err);
    if (cluster)
        fail_msg ("accepted %s", json);
    if (!err.data || strncmp (err.data, "cluster.json: ", 14) || !strstr (err.data, want))
        fail_msg ("refused %s with \"%s\", want \"%s\"", json, err.data, want);
    hr_buf_free (&err);
}

//  A cluster of count brokers with ids b1.. on ports from 6000 up.
static hr_cluster_t *
s_cluster_of (size_t count)
{
    hr_buf_t json = HR_BUF_INIT;
    hr_buf_puts (&json, "{\"brokers\":[");
    for (size_t i = 0; i < count; i++) {
        unsigned port = 6000 + 10 * (unsigned) i;
        hr_buf_printf (&json, "%s{\"id\":\"b%zu\",\"publish\":\"tcp://127.0.0.1:%u\","
                       "\"router\":\"tcp://127.0.0.1:%u\",\"stream\":\"tcp://127.0.0.1:%u\","
                       "\"peer\":\"tcp://127.0.0.1:%u\"}", i? ",": "", i + 1, port,
                       port + 1, port + 2, port + 3);
    }
    hr_buf_puts (&json, "]}");
    hr_buf_t err = HR_BUF_INIT;
    hr_cluster_t *cluster = hr_cluster_parse ("many.json", json.data, json.size, &err);
    if (!cluster && count >= 1 && count <= HR_CLUSTER_MAX)
        fail_msg ("%zu brokers refused: %s", count, err.data);
    if (cluster && (count < 1 || count > HR_CLUSTER_MAX))
        fail_msg ("%zu brokers accepted", count);
    if (!cluster && !strstr (err.data, "many.json: brokers: "))
        fail_msg ("%zu brokers refused with \"%s\"", count, err.data);
    hr_buf_free (&err);
    hr_buf_free (&json);
    return cluster;
}

static void
test_three_brokers_load_with_their_fields (void **state)
{
    (void) state;
    hr_cluster_t *cluster = s_ok (FILE_OF (B1 "," B2 "," B3));
    assert_int_equal (hr_cluster_size (cluster), 3);
    assert_int_equal (hr_cluster_all (cluster), 7);
    assert_int_equal (hr_cluster_majority (cluster), 2);
    const hr_cluster_node_t *b1 = hr_cluster_node (cluster, 0);
    assert_string_equal (b1->id, "b1");
    assert_string_equal (b1->publish, "tcp://127.0.0.1:5601");
    assert_string_equal (b1->router, "tcp://127.0.0.1:5602");
    assert_string_equal (b1->stream, "tcp://127.0.0.1:5603");
    assert_string_equal (b1->peer, "tcp://127.0.0.1:5604");
    assert_string_equal (b1->http, "127.0.0.1:5605");
    assert_string_equal (hr_cluster_node (cluster, 1)->http, "");     //  not given
    assert_string_equal (hr_cluster_node (cluster, 2)->stream, "ipc:///tmp/b3-stream");
    assert_null (hr_cluster_node (cluster, 3));
    assert_int_equal (hr_cluster_find (cluster, "b1"), 0);
    assert_int_equal (hr_cluster_find (cluster, "b3"), 2);
    assert_int_equal (hr_cluster_find (cluster, "b4"), -1);
    assert_int_equal (hr_cluster_find (cluster, "B1"), -1);
    //  The fingerprint is of the bytes: one space more is another file
    const char *text = FILE_OF (B1 "," B2 "," B3);
    assert_int_equal (hr_cluster_fingerprint (cluster), hr_fnv1a (HR_FNV1A_SEED, text,
                                                                   strlen (text)));
    hr_cluster_t *spaced = s_ok (FILE_OF (B1 "," B2 "," B3) " ");
    assert_true (hr_cluster_fingerprint (spaced) != hr_cluster_fingerprint (cluster));
    hr_cluster_destroy (&spaced);
    hr_cluster_destroy (&cluster);
    assert_null (cluster);
    hr_cluster_destroy (&cluster);      //  NULL: nothing to do
}

static void
test_sizes_and_majorities (void **state)
{
    (void) state;
    static const size_t majority [HR_CLUSTER_MAX + 1] = {
        0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9
    };
    for (size_t count = 1; count <= HR_CLUSTER_MAX; count++) {
        hr_cluster_t *cluster = s_cluster_of (count);
        assert_int_equal (hr_cluster_size (cluster), count);
        assert_int_equal (hr_cluster_majority (cluster), majority [count]);
        assert_int_equal (hr_cluster_all (cluster), (1u << count) - 1);
        hr_cluster_destroy (&cluster);
    }
    assert_null (s_cluster_of (0));
    assert_null (s_cluster_of (HR_CLUSTER_MAX + 1));
    s_refused ("{\"brokers\":[]}", "brokers: 0 listed, 1 to 16 are allowed");
}

static void
test_document_shape (void **state)
{
    (void) state;
    s_refused ("", "not valid JSON");
    s_refused ("{\"brokers\":[" B1, "not valid JSON");
    s_refused (FILE_OF (B1) " trailing", "not valid JSON");
    s_refused ("[" B1 "]", "must be {\"brokers\": [...]} and nothing else");
    s_refused ("{}", "must be {\"brokers\": [...]} and nothing else");
    s_refused ("{\"brokers\":{}}", "must be {\"brokers\": [...]} and nothing else");
    s_refused ("{\"brokers\":[" B1 "],\"gateways\":[]}",
               "must be {\"brokers\": [...]} and nothing else");
    s_refused (FILE_OF (B1 ",5"), "cluster.json: broker 2: not a JSON object");
    s_refused (FILE_OF ("[]"), "cluster.json: broker 1: not a JSON object");
}

static void
test_duplicate_keys_are_refused (void **state)
{
    (void) state;
    //  jansson would keep the last; a file that says two things is wrong
    s_refused ("{\"brokers\":[" B1 "],\"brokers\":[" B2 "]}", "duplicate");
    s_refused (FILE_OF (NODE ("\"b1\"", "tcp://127.0.0.1:5601", "tcp://127.0.0.1:5602",
                              "tcp://127.0.0.1:5603", "tcp://127.0.0.1:5604",
                              ",\"stream\":\"tcp://127.0.0.1:5609\"")),
               "duplicate");
}

static void
test_missing_unknown_and_mistyped_fields_are_named (void **state)
{
    (void) state;
    s_refused (FILE_OF (B1 ",{\"id\":\"b2\",\"publish\":\"tcp://127.0.0.1:5611\","
                        "\"router\":\"tcp://127.0.0.1:5612\",\"peer\":\"tcp://127.0.0.1:5614\"}"),
               "cluster.json: broker 2 (b2): stream: missing");
    s_refused (FILE_OF ("{\"publish\":\"tcp://127.0.0.1:5611\"}"),
               "cluster.json: broker 1: id: missing");
    s_refused (FILE_OF (B1 "," B2_WITH ("tcp://127.0.0.1:5611", "tcp://127.0.0.1:5612",
                                        "tcp://127.0.0.1:5613", "tcp://127.0.0.1:5614",
                                        ",\"strem\":\"tcp://127.0.0.1:5615\"")),
               "cluster.json: broker 2 (b2): unknown key \"strem\"");
    s_refused (FILE_OF (NODE ("\"b1\"", "tcp://127.0.0.1:5601", "tcp://127.0.0.1:5602",
                              "tcp://127.0.0.1:5603", "tcp://127.0.0.1:5604", ",\"http\":8080")),
               "cluster.json: broker 1 (b1): http: not a string");
    s_refused (FILE_OF ("{\"id\":\"b1\",\"publish\":5,\"router\":\"tcp://127.0.0.1:5602\","
                        "\"stream\":\"tcp://127.0.0.1:5603\",\"peer\":\"tcp://127.0.0.1:5604\"}"),
               "cluster.json: broker 1 (b1): publish: not a string");
    s_refused (FILE_OF ("{\"id\":\"b1\",\"publish\":\"tcp://127.0.0.1:5601\","
                        "\"router\":\"tcp://127.0.0.1:5602\",\"stream\":\"tcp://127.0.0.1:5603\","
                        "\"peer\":\"tcp://127.0.0.1:5604\\u0000x\"}"),
               "not valid JSON");           //  jansson refuses \u0000 by default
}

static void
test_ids_are_checked (void **state)
{
    (void) state;
#define WITH_ID(id) FILE_OF (NODE (id, "tcp://127.0.0.1:5601", "tcp://127.0.0.1:5602", \
                                   "tcp://127.0.0.1:5603", "tcp://127.0.0.1:5604", ""))
    s_refused (WITH_ID ("1"), "broker 1: id: not a string");
    s_refused (WITH_ID ("null"), "broker 1: id: not a string");
    s_refused (WITH_ID ("\"\""), "broker 1: id: is not 1 to 32 characters of [A-Za-z0-9_.-]");
    s_refused (WITH_ID ("\"b 1\""), "broker 1: id: \"b 1\" is not 1 to 32 characters");
    s_refused (WITH_ID ("\"b/1\""), "broker 1: id: \"b/1\" is not 1 to 32 characters");
    s_refused (WITH_ID ("\"b\\u00001\""), "not valid JSON");
    s_refused (WITH_ID ("\"\\u00e9\""), "broker 1: id: is not 1 to 32 characters");
    s_refused (WITH_ID ("\"abcdefghijklmnopqrstuvwxyz0123456\""),
               "broker 1: id: \"abcdefghijklmnopqrstuvwxyz0123456\" is not 1 to 32");
    hr_cluster_t *cluster = s_ok (WITH_ID ("\"abcdefghijklmnopqrstuvwxyz_.-ABC\""));
    assert_string_equal (hr_cluster_node (cluster, 0)->id, "abcdefghijklmnopqrstuvwxyz_.-ABC");
    hr_cluster_destroy (&cluster);
    //  Unique ids
    s_refused (FILE_OF (B1 "," NODE ("\"b1\"", "tcp://127.0.0.1:5611", "tcp://127.0.0.1:5612",
                                     "tcp://127.0.0.1:5613", "tcp://127.0.0.1:5614", "")),
               "cluster.json: broker 2 (b1): id: b1 is also broker 1's id");
#undef WITH_ID
}

static void
test_endpoints_must_be_reachable (void **state)
{
    (void) state;
#define WITH_STREAM(str) FILE_OF (B1 "," B2_WITH ("tcp://127.0.0.1:5611", \
    "tcp://127.0.0.1:5612", str, "tcp://127.0.0.1:5614", ""))
    s_refused (WITH_STREAM ("tcp://*:5557"),
               "cluster.json: broker 2 (b2): stream: tcp://*:5557 has a wildcard host: other "
               "brokers must be able to connect to it");
    s_refused (WITH_STREAM ("tcp://0.0.0.0:5557"), "stream: tcp://0.0.0.0:5557 has a wildcard host");
    s_refused (WITH_STREAM ("tcp://[::]:5557"), "stream: tcp://[::]:5557 has a wildcard host");
    s_refused (WITH_STREAM ("tcp://127.0.0.1:*"), "stream: tcp://127.0.0.1:* has a wildcard port");
    s_refused (WITH_STREAM ("tcp://127.0.0.1:0"), "stream: tcp://127.0.0.1:0 has a wildcard port");
    s_refused (WITH_STREAM ("tcp://127.0.0.1:65536"), "has no valid port");
    s_refused (WITH_STREAM ("tcp://127.0.0.1:55x"), "has no valid port");
    s_refused (WITH_STREAM ("tcp://127.0.0.1:"), "has no valid port");
    s_refused (WITH_STREAM ("tcp://127.0.0.1"), "has no port");
    s_refused (WITH_STREAM ("tcp://:5557"), "has no host");
    s_refused (WITH_STREAM ("tcp://a b:5557"), "has a host with spaces");
    s_refused (WITH_STREAM ("inproc://stream"),
               "broker 2 (b2): stream: inproc://stream is inproc://, which only one process "
               "can reach");
    s_refused (WITH_STREAM ("ipc://"), "stream: ipc:// has no path");
    s_refused (WITH_STREAM ("ipc://*"), "stream: ipc://* is a wildcard ipc path");
    s_refused (WITH_STREAM ("udp://127.0.0.1:5557"), "is not tcp://HOST:PORT or ipc://PATH");
    s_refused (WITH_STREAM (""), "stream: is not tcp://HOST:PORT or ipc://PATH");
    //  The others: every field is checked, not only stream
    s_refused (FILE_OF (B2_WITH ("tcp://*:1", "tcp://127.0.0.1:2", "tcp://127.0.0.1:3",
                                 "tcp://127.0.0.1:4", "")), "broker 1 (b2): publish: tcp://*:1");
    s_refused (FILE_OF (B2_WITH ("tcp://127.0.0.1:1", "tcp://*:2", "tcp://127.0.0.1:3",
                                 "tcp://127.0.0.1:4", "")), "broker 1 (b2): router: tcp://*:2");
    s_refused (FILE_OF (B2_WITH ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", "tcp://127.0.0.1:3",
                                 "inproc://peer", "")), "broker 1 (b2): peer: inproc://peer");
    //  http is HOST:PORT, with the same rules
    s_refused (FILE_OF (B2_WITH ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", "tcp://127.0.0.1:3",
                                 "tcp://127.0.0.1:4", ",\"http\":\"0.0.0.0:8080\"")),
               "broker 1 (b2): http: 0.0.0.0:8080 has a wildcard host");
    s_refused (FILE_OF (B2_WITH ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", "tcp://127.0.0.1:3",
                                 "tcp://127.0.0.1:4", ",\"http\":\"127.0.0.1\"")),
               "broker 1 (b2): http: 127.0.0.1 has no port");
    s_refused (FILE_OF (B2_WITH ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", "tcp://127.0.0.1:3",
                                 "tcp://127.0.0.1:4", ",\"http\":\"\"")),
               "broker 1 (b2): http: has no port");
    //  What is fine: names, IPv6, ipc paths
    hr_cluster_t *cluster = s_ok (FILE_OF (B2_WITH ("tcp://broker-2.example:1",
        "tcp://[::1]:2", "ipc://relative/path", "tcp://10.0.0.2:65535",
        ",\"http\":\"[::1]:8081\"")));
    hr_cluster_destroy (&cluster);
#undef WITH_STREAM
}

static void
test_an_endpoint_is_used_once_in_the_file (void **state)
{
    (void) state;
    //  Same kind, another broker
    s_refused (FILE_OF (B1 "," B2_WITH ("tcp://127.0.0.1:5611", "tcp://127.0.0.1:5612",
                                        "tcp://127.0.0.1:5603", "tcp://127.0.0.1:5614", "")),
               "cluster.json: broker 2 (b2): stream: tcp://127.0.0.1:5603 is also broker 1 "
               "(b1)'s stream");
    //  Another kind, another broker
    s_refused (FILE_OF (B1 "," B2_WITH ("tcp://127.0.0.1:5611", "tcp://127.0.0.1:5604",
                                        "tcp://127.0.0.1:5613", "tcp://127.0.0.1:5614", "")),
               "broker 2 (b2): router: tcp://127.0.0.1:5604 is also broker 1 (b1)'s peer");
    //  Within one broker
    s_refused (FILE_OF (B1 "," B2_WITH ("tcp://127.0.0.1:5611", "tcp://127.0.0.1:5612",
                                        "tcp://127.0.0.1:5613", "tcp://127.0.0.1:5611", "")),
               "broker 2 (b2): peer: tcp://127.0.0.1:5611 is also broker 2 (b2)'s publish");
    //  ipc paths too
    s_refused (FILE_OF (B3 "," B2_WITH ("tcp://127.0.0.1:5611", "tcp://127.0.0.1:5612",
                                        "ipc:///tmp/b3-router", "tcp://127.0.0.1:5614", "")),
               "broker 2 (b2): stream: ipc:///tmp/b3-router is also broker 1 (b3)'s router");
    //  An http address is the same port as a tcp:// endpoint, both ways
    s_refused (FILE_OF (B1 "," B2_WITH ("tcp://127.0.0.1:5605", "tcp://127.0.0.1:5612",
                                        "tcp://127.0.0.1:5613", "tcp://127.0.0.1:5614", "")),
               "broker 2 (b2): publish: tcp://127.0.0.1:5605 is also broker 1 (b1)'s http");
    s_refused (FILE_OF (B1 "," B2_WITH ("tcp://127.0.0.1:5611", "tcp://127.0.0.1:5612",
                                        "tcp://127.0.0.1:5613", "tcp://127.0.0.1:5614",
                                        ",\"http\":\"127.0.0.1:5601\"")),
               "broker 2 (b2): http: 127.0.0.1:5601 is also broker 1 (b1)'s publish");
    s_refused (FILE_OF (B1 "," B2_WITH ("tcp://127.0.0.1:5611", "tcp://127.0.0.1:5612",
                                        "tcp://127.0.0.1:5613", "tcp://127.0.0.1:5614",
                                        ",\"http\":\"127.0.0.1:5605\"")),
               "broker 2 (b2): http: 127.0.0.1:5605 is also broker 1 (b1)'s http");
    //  The same port on other hosts is fine
    hr_cluster_t *cluster = s_ok (FILE_OF (B1 "," B2_WITH ("tcp://127.0.0.2:5601",
        "tcp://127.0.0.2:5602", "tcp://127.0.0.2:5603", "tcp://127.0.0.2:5604",
        ",\"http\":\"127.0.0.2:5605\"")));
    hr_cluster_destroy (&cluster);
}

static void
test_size_limit_and_files (void **state)
{
    (void) state;
    //  Over 64 KiB: refused before parsing, whatever it holds
    size_t size = HR_CLUSTER_FILE_MAX + 1;
    char *big = malloc (size + 1);
    memset (big, ' ', size);
    memcpy (big, FILE_OF (B1), strlen (FILE_OF (B1)));
    big [size] = 0;
    s_refused (big, "bytes or more, at most 65536 are allowed");
    hr_buf_t err = HR_BUF_INIT;
    hr_cluster_t *cluster = hr_cluster_parse ("x.json", big, HR_CLUSTER_FILE_MAX, &err);
    assert_non_null (cluster);          //  exactly the limit, padded with spaces
    hr_cluster_destroy (&cluster);

    char dir [] = "/tmp/test_cluster.XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path [128];
    snprintf (path, sizeof path, "%s/cluster.json", dir);
    FILE *file = fopen (path, "w");
    fputs (FILE_OF (B1 "," B2), file);
    fclose (file);
    cluster = hr_cluster_load (path, &err);
    assert_non_null (cluster);
    assert_int_equal (hr_cluster_size (cluster), 2);
    hr_cluster_destroy (&cluster);
    //  A refusal names the path
    file = fopen (path, "w");
    fputs (FILE_OF (B1 "," B1), file);
    fclose (file);
    assert_null (hr_cluster_load (path, &err));
    assert_non_null (strstr (err.data, path));
    assert_non_null (strstr (err.data, ": broker 2 (b1): id: b1 is also broker 1's id"));
    hr_buf_reset (&err);
    //  Too large on disk
    file = fopen (path, "w");
    fwrite (big, 1, size, file);
    fclose (file);
    assert_null (hr_cluster_load (path, &err));
    assert_non_null (strstr (err.data, "at most 65536"));
    assert_int_equal (strncmp (err.data, path, strlen (path)), 0);
    hr_buf_reset (&err);
    //  Unreadable: missing, a directory
    unlink (path);
    assert_null (hr_cluster_load (path, &err));
    assert_non_null (strstr (err.data, "No such file or directory"));
    assert_int_equal (strncmp (err.data, path, strlen (path)), 0);
    hr_buf_reset (&err);
    assert_null (hr_cluster_load (dir, &err));
    assert_non_null (strstr (err.data, "Is a directory"));
    assert_int_equal (strncmp (err.data, dir, strlen (dir)), 0);
    rmdir (dir);
    hr_buf_free (&err);
    free (big);
}

static void
test_endpoints_of_a_kind (void **state)
{
    (void) state;
    hr_cluster_t *cluster = s_ok (FILE_OF (B1 "," B2 "," B3));
    hr_members_t all = hr_cluster_all (cluster);
    struct { hr_cluster_kind_t kind; hr_members_t members; const char *want; } cases [] = {
        { HR_CLUSTER_PUBLISH, all, "tcp://127.0.0.1:5601,tcp://127.0.0.1:5611,ipc:///tmp/b3-pull" },
        { HR_CLUSTER_ROUTER, all, "tcp://127.0.0.1:5602,tcp://127.0.0.1:5612,ipc:///tmp/b3-router" },
        { HR_CLUSTER_STREAM, all, "tcp://127.0.0.1:5603,tcp://127.0.0.1:5613,ipc:///tmp/b3-stream" },
        { HR_CLUSTER_PEER, all, "tcp://127.0.0.1:5604,tcp://127.0.0.1:5614,ipc:///tmp/b3-peer" },
        { HR_CLUSTER_HTTP, all, "127.0.0.1:5605,localhost:5625" },     //  b2 has none
        { HR_CLUSTER_STREAM, 5, "tcp://127.0.0.1:5603,ipc:///tmp/b3-stream" },
        { HR_CLUSTER_PEER, 2, "tcp://127.0.0.1:5614" },
        { HR_CLUSTER_HTTP, 2, "" },
        { HR_CLUSTER_PUBLISH, 0, "" },
        { HR_CLUSTER_PUBLISH, 0xfffffff8u, "" },        //  bits past the file
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char *list = hr_cluster_endpoints (cluster, cases [i].kind, cases [i].members);
        assert_string_equal (list, cases [i].want);
        free (list);
    }
    hr_cluster_destroy (&cluster);
}

//  Golden values, printed in docs/cluster.md "Ownership": FNV-1a 64 of
//  the id XOR FNV-1a 64 of the channel, through the splitmix64 finaliser.
static void
test_weight_is_the_documented_function (void **state)
{
    (void) state;
    static const struct { const char *ch; uint64_t w [3]; } golden [] = {
        { "orders", { 0xd00288fc140d39a9ull, 0x59fe9db10a83fa86ull, 0x46a6e65c6632096dull } },
        { "news", { 0x053d27b4b4247140ull, 0xd638d261d7334544ull, 0xf0f0322d3b42e0e9ull } },
        { "prices", { 0x4f3ad1f2a1d37c14ull, 0xf6cb8686638f8bebull, 0xd48194deda9f1143ull } },
    };
    static const char *const ids [3] = { "b1", "b2", "b3" };
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            assert_int_equal (hr_cluster_weight (ids [j], golden [i].ch, strlen (golden [i].ch)),
                              golden [i].w [j]);
    //  len bytes of the channel, no NUL needed
    assert_int_equal (hr_cluster_weight ("b1", "ordersXYZ", 6), golden [0].w [0]);
    //  The channel and the id both count
    assert_true (hr_cluster_weight ("b1", "orders", 6) != hr_cluster_weight ("b1", "order", 5));
    assert_true (hr_cluster_weight ("b1", "orders", 6) != hr_cluster_weight ("b10", "orders", 6));
}

//  The order over all three for the golden channels, owner and backup over
//  subsets, and weights falling along every order.
static void
test_order_owner_and_backup (void **state)
{
    (void) state;
    hr_cluster_t *cluster = s_ok (FILE_OF (B1 "," B2 "," B3));
    static const struct { const char *ch; int order [3]; } golden [] = {
        { "orders", { 0, 1, 2 } }, { "news", { 2, 1, 0 } }, { "prices", { 1, 2, 0 } },
    };
    int order [HR_CLUSTER_MAX];
    for (size_t i = 0; i < 3; i++) {
        const char *ch = golden [i].ch;
        assert_int_equal (hr_cluster_order (cluster, ch, strlen (ch), 7, order), 3);
        for (size_t j = 0; j < 3; j++)
            assert_int_equal (order [j], golden [i].order [j]);
        assert_int_equal (hr_cluster_owner (cluster, ch, strlen (ch), 7), golden [i].order [0]);
        //  Every subset: the order over it is the full order without the others
        for (hr_members_t members = 0; members < 8; members++) {
            size_t count = hr_cluster_order (cluster, ch, strlen (ch), members, order);
            assert_int_equal (count, (size_t) __builtin_popcount (members));
            size_t k = 0;
            for (size_t j = 0; j < 3; j++)
                if (members & (1u << golden [i].order [j]))
                    assert_int_equal (order [k++], golden [i].order [j]);
            assert_int_equal (k, count);
            assert_int_equal (hr_cluster_owner (cluster, ch, strlen (ch), members),
                              count? order [0]: -1);
        }
    }
    //  orders: b1 owns it, b2 backs it up; without b1, b2 owns and b3 backs up
    assert_int_equal (hr_cluster_order (cluster, "orders", 6, 6, order), 2);
    assert_int_equal (order [0], 1);
    assert_int_equal (order [1], 2);
    hr_cluster_destroy (&cluster);

    //  Sixteen brokers: weights fall along the order
    cluster = s_cluster_of (HR_CLUSTER_MAX);
    for (int c = 0; c < 1000; c++) {
        char ch [32];
        int len = snprintf (ch, sizeof ch, "channel-%d", c);
        size_t count = hr_cluster_order (cluster, ch, (size_t) len,
                                         hr_cluster_all (cluster), order);
        assert_int_equal (count, HR_CLUSTER_MAX);
        hr_members_t seen = 0;
        for (size_t j = 0; j < count; j++) {
            seen |= 1u << order [j];
            if (j > 0)
                assert_true (hr_cluster_weight (hr_cluster_node (cluster, order [j - 1])->id,
                                                ch, (size_t) len)
                          >= hr_cluster_weight (hr_cluster_node (cluster, order [j])->id,
                                                ch, (size_t) len));
        }
        assert_int_equal (seen, hr_cluster_all (cluster));
    }
    hr_cluster_destroy (&cluster);
}

#define S_CHANNELS 10000

//  Each of count brokers owns close to its share of 10,000 channels.
static void
s_spread (size_t count)
{
    hr_cluster_t *cluster = s_cluster_of (count);
    size_t owned [HR_CLUSTER_MAX] = { 0 };
    for (int c = 0; c < S_CHANNELS; c++) {
        char ch [32];
        int len = snprintf (ch, sizeof ch, "ch-%d", c);
        owned [hr_cluster_owner (cluster, ch, (size_t) len, hr_cluster_all (cluster))]++;
    }
    double even = (double) S_CHANNELS / (double) count;
    for (size_t i = 0; i < count; i++) {
        double off = ((double) owned [i] - even) / even;
        print_message ("%zu brokers: b%zu owns %zu (%+.1f%%)\n", count, i + 1, owned [i],
                       off * 100);
        //  About 2 standard deviations at 5 brokers is 4%
        assert_true (off > -0.05 && off < 0.05);
    }
    hr_cluster_destroy (&cluster);
}

static void
test_channels_spread_evenly (void **state)
{
    (void) state;
    s_spread (3);
    s_spread (5);
}

//  Removing one member moves exactly the channels it owned, each to its
//  backup; nothing else moves.
static void
test_removing_a_member_moves_only_its_channels (void **state)
{
    (void) state;
    hr_cluster_t *cluster = s_cluster_of (5);
    hr_members_t all = hr_cluster_all (cluster);
    for (int gone = 0; gone < 5; gone++) {
        hr_members_t members = all & ~(1u << gone);
        size_t moved = 0;
        for (int c = 0; c < S_CHANNELS; c++) {
            char ch [32];
            int len = snprintf (ch, sizeof ch, "ch-%d", c);
            int order [HR_CLUSTER_MAX];
            hr_cluster_order (cluster, ch, (size_t) len, all, order);
            int after = hr_cluster_owner (cluster, ch, (size_t) len, members);
            if (order [0] == gone) {
                assert_int_equal (after, order [1]);
                moved++;
            }
            else
                assert_int_equal (after, order [0]);
        }
        assert_true (moved > S_CHANNELS / 5 * 9 / 10 && moved < S_CHANNELS / 5 * 11 / 10);
    }
    hr_cluster_destroy (&cluster);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_three_brokers_load_with_their_fields),
        cmocka_unit_test (test_sizes_and_majorities),
        cmocka_unit_test (test_document_shape),
        cmocka_unit_test (test_duplicate_keys_are_refused),
        cmocka_unit_test (test_missing_unknown_and_mistyped_fields_are_named),
        cmocka_unit_test (test_ids_are_checked),
        cmocka_unit_test (test_endpoints_must_be_reachable),
        cmocka_unit_test (test_an_endpoint_is_used_once_in_the_file),
        cmocka_unit_test (test_size_limit_and_files),
        cmocka_unit_test (test_endpoints_of_a_kind),
        cmocka_unit_test (test_weight_is_the_documented_function),
        cmocka_unit_test (test_order_owner_and_backup),
        cmocka_unit_test (test_channels_spread_evenly),
        cmocka_unit_test (test_removing_a_member_moves_only_its_channels),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
