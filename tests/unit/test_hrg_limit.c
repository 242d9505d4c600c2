/*  test_hrg_limit: the gateway's limits per client (gateway/hrg_limit):
    publish token buckets (burst, refill, Retry-After, separate keys,
    owing), their table's bounds (idle buckets forgotten, least recent
    evicted at the bound), and open connections per address (counted,
    refused over the limit, given back, held by a stream).  */
#include "hrg_limit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "support.h"

static hrg_limit_t *
s_limit (int64_t per_ip, int64_t rate, hr_metrics_t *metrics)
{
    hrg_config_t config = HRG_CONFIG_DEFAULTS;
    config.max_connections_per_ip = per_ip;
    config.publish_rate = rate;
    return hrg_limit_new (&config, metrics);
}

static bool
s_publish (hrg_limit_t *limit, const char *key, size_t count, uint64_t now,
           uint64_t *retry)
{
    *retry = 0;
    return hrg_limit_publish (limit, key, strlen (key), count, now, retry);
}

static struct sockaddr_in
s_v4 (const char *text)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (1234) };
    assert_int_equal (inet_pton (AF_INET, text, &addr.sin_addr), 1);
    return addr;
}

static struct sockaddr_in6
s_v6 (const char *text)
{
    struct sockaddr_in6 addr = { .sin6_family = AF_INET6, .sin6_port = htons (1234) };
    assert_int_equal (inet_pton (AF_INET6, text, &addr.sin6_addr), 1);
    return addr;
}

#define SA(addr) ((const struct sockaddr *) &(addr))

static void
test_burst_then_refused_with_retry_after (void **state)
{
    hrg_limit_t *limit = s_limit (0, 5, NULL);
    uint64_t retry;
    for (int i = 0; i < 5; i++)
        assert_true (s_publish (limit, "jti:a", 1, 1000, &retry));
    assert_false (s_publish (limit, "jti:a", 1, 1000, &retry));
    assert_int_equal (retry, 200);          //  one publish a 200 ms at 5 a second
    //  Refused publishes take nothing: the wait only shrinks
    assert_false (s_publish (limit, "jti:a", 1, 1150, &retry));
    assert_int_equal (retry, 50);
    assert_false (s_publish (limit, "jti:a", 1, 1199, &retry));
    assert_int_equal (retry, 1);
    assert_true (s_publish (limit, "jti:a", 1, 1200, &retry));
    assert_false (s_publish (limit, "jti:a", 1, 1200, &retry));
    hrg_limit_destroy (&limit);
    assert_null (limit);
}

static void
test_refill_never_passes_the_burst (void **state)
{
    hrg_limit_t *limit = s_limit (0, 5, NULL);
    uint64_t retry;
    assert_true (s_publish (limit, "k", 1, 0, &retry));
    //  An hour idle still gives one second's worth, not more
    int allowed = 0;
    for (int i = 0; i < 20; i++)
        allowed += s_publish (limit, "k", 1, 3600 * 1000, &retry);
    assert_int_equal (allowed, 5);
    //  Half a second refills half
    allowed = 0;
    for (int i = 0; i < 20; i++)
        allowed += s_publish (limit, "k", 1, 3600 * 1000 + 500, &retry);
    assert_int_equal (allowed, 2);
    hrg_limit_destroy (&limit);
}

static void
test_keys_have_their_own_buckets (void **state)
{
    hrg_limit_t *limit = s_limit (0, 3, NULL);
    uint64_t retry;
    for (int i = 0; i < 3; i++)
        assert_true (s_publish (limit, "sub:alice", 1, 0, &retry));
    assert_false (s_publish (limit, "sub:alice", 1, 0, &retry));
    assert_true (s_publish (limit, "sub:bob", 1, 0, &retry));
    assert_true (s_publish (limit, "addr:127.0.0.1", 3, 0, &retry));
    assert_false (s_publish (limit, "addr:127.0.0.1", 1, 0, &retry));
    assert_int_equal (hrg_limit_buckets (limit), 3);
    hrg_limit_destroy (&limit);
}

static void
test_a_request_over_the_burst_passes_once_and_owes (void **state)
{
    hrg_limit_t *limit = s_limit (0, 5, NULL);
    uint64_t retry;
    //  100 events on a full bucket of 5: allowed, 95 owed
    assert_true (s_publish (limit, "k", 100, 0, &retry));
    assert_false (s_publish (limit, "k", 1, 0, &retry));
    assert_int_equal (retry, 19200);        //  95 owed plus 1, at 5 a second
    //  A part-full bucket does not let the big request through
    assert_true (s_publish (limit, "j", 1, 0, &retry));
    assert_false (s_publish (limit, "j", 100, 0, &retry));
    assert_int_equal (retry, 200);          //  until the bucket is full
    hrg_limit_destroy (&limit);
}

static void
test_no_rate_limit_keeps_nothing (void **state)
{
    hrg_limit_t *limit = s_limit (0, 0, NULL);
    uint64_t retry;
    for (int i = 0; i < 10000; i++)
        assert_true (s_publish (limit, "k", 1, 0, &retry));
    assert_int_equal (hrg_limit_buckets (limit), 0);
    hrg_limit_destroy (&limit);
}

static void
test_refilled_buckets_are_forgotten (void **state)
{
    hrg_limit_t *limit = s_limit (0, 10, NULL);
    uint64_t retry;
    char key [32];
    for (int i = 0; i < 100; i++) {
        snprintf (key, sizeof key, "old-%d", i);
        assert_true (s_publish (limit, key, 1, 0, &retry));
    }
    assert_int_equal (hrg_limit_buckets (limit), 100);
    //  A second later every old bucket is full again: each publish forgets
    //  up to 16 of them, oldest first
    for (int i = 0; i < 7; i++) {
        snprintf (key, sizeof key, "new-%d", i);
        assert_true (s_publish (limit, key, 1, 1000, &retry));
    }
    assert_int_equal (hrg_limit_buckets (limit), 7);
    //  A forgotten key starts over with a full bucket: no change to what it may do
    int allowed = 0;
    for (int i = 0; i < 20; i++)
        allowed += s_publish (limit, "old-0", 1, 1000, &retry);
    assert_int_equal (allowed, 10);
    hrg_limit_destroy (&limit);
}

static void
test_the_table_is_bounded (void **state)
{
    hrg_limit_t *limit = s_limit (0, 2, NULL);
    hrg_limit_set_bucket_max (limit, 100);
    uint64_t retry;
    char key [32];
    size_t bytes_at_100 = 0;
    //  Keys all busy in the same millisecond: none idle, the bound evicts
    for (int i = 0; i < 5000; i++) {
        snprintf (key, sizeof key, "k-%d", i);
        assert_true (s_publish (limit, key, 2, 0, &retry));
        assert_true (hrg_limit_buckets (limit) <= 100);
        if (i == 99)
            bytes_at_100 = hrg_limit_bytes (limit);
    }
    assert_int_equal (hrg_limit_buckets (limit), 100);
    assert_int_equal (hrg_limit_bytes (limit), bytes_at_100);
    //  The most recent are kept (still empty), the least recent went
    assert_false (s_publish (limit, "k-4999", 1, 0, &retry));
    assert_true (s_publish (limit, "k-0", 1, 0, &retry));
    hrg_limit_destroy (&limit);
}

static void
test_connections_per_address (void **state)
{
    hrg_limit_t *limit = s_limit (3, 0, NULL);
    struct sockaddr_in one = s_v4 ("10.0.0.1"), two = s_v4 ("10.0.0.2");
    size_t empty = hrg_limit_bytes (limit);
    bool over;
    hrg_limit_hold_t holds [3];
    for (int i = 0; i < 3; i++) {
        holds [i] = hrg_limit_connect (limit, SA (one), &over);
        assert_int_not_equal (holds [i], 0);
        assert_false (over);
    }
    assert_int_equal (hrg_limit_connections (limit, SA (one)), 3);
    //  The fourth is refused and not counted; another address is not affected
    assert_int_equal (hrg_limit_connect (limit, SA (one), &over), 0);
    assert_true (over);
    assert_int_equal (hrg_limit_connections (limit, SA (one)), 3);
    hrg_limit_hold_t other = hrg_limit_connect (limit, SA (two), &over);
    assert_int_not_equal (other, 0);
    assert_false (over);
    //  One closes: room for one more
    hrg_limit_release (limit, &holds [0]);
    assert_int_equal (holds [0], 0);
    assert_int_equal (hrg_limit_connections (limit, SA (one)), 2);
    holds [0] = hrg_limit_connect (limit, SA (one), &over);
    assert_int_not_equal (holds [0], 0);
    assert_int_equal (hrg_limit_connect (limit, SA (one), &over), 0);
    //  A stream takes a connection over: held twice until the HTTP side lets go
    hrg_limit_hold_t stream = hrg_limit_hold (limit, holds [1]);
    assert_int_equal (stream, holds [1]);
    assert_int_equal (hrg_limit_connections (limit, SA (one)), 4);
    hrg_limit_release (limit, &holds [1]);
    assert_int_equal (hrg_limit_connections (limit, SA (one)), 3);
    assert_int_equal (hrg_limit_connect (limit, SA (one), &over), 0);
    hrg_limit_release (limit, &stream);
    assert_int_equal (hrg_limit_connections (limit, SA (one)), 2);
    //  All closed: nothing is kept
    hrg_limit_release (limit, &holds [0]);
    hrg_limit_release (limit, &holds [2]);
    hrg_limit_release (limit, &other);
    hrg_limit_release (limit, &other);      //  0: nothing
    assert_int_equal (hrg_limit_addresses (limit), 0);
    assert_int_equal (hrg_limit_bytes (limit), empty);
    hrg_limit_destroy (&limit);
}

static void
test_ipv4_and_its_mapped_ipv6_are_one_address (void **state)
{
    hrg_limit_t *limit = s_limit (2, 0, NULL);
    struct sockaddr_in v4 = s_v4 ("127.0.0.1");
    struct sockaddr_in6 mapped = s_v6 ("::ffff:127.0.0.1"), v6 = s_v6 ("::1");
    bool over;
    hrg_limit_hold_t a = hrg_limit_connect (limit, SA (v4), &over);
    hrg_limit_hold_t b = hrg_limit_connect (limit, SA (mapped), &over);
    assert_int_equal (a, b);
    assert_int_equal (hrg_limit_connect (limit, SA (v4), &over), 0);
    assert_true (over);
    hrg_limit_hold_t c = hrg_limit_connect (limit, SA (v6), &over);
    assert_int_not_equal (c, 0);
    //  Not IP (a Unix socket): not counted, never refused
    struct sockaddr unix_addr = { .sa_family = AF_UNIX };
    assert_int_equal (hrg_limit_connect (limit, &unix_addr, &over), 0);
    assert_false (over);
    hrg_limit_release (limit, &a);
    hrg_limit_release (limit, &b);
    hrg_limit_release (limit, &c);
    assert_int_equal (hrg_limit_addresses (limit), 0);
    hrg_limit_destroy (&limit);
}

static void
test_no_connection_limit_counts_nothing (void **state)
{
    hrg_limit_t *limit = s_limit (0, 0, NULL);
    struct sockaddr_in one = s_v4 ("10.0.0.1");
    bool over = true;
    for (int i = 0; i < 100; i++) {
        assert_int_equal (hrg_limit_connect (limit, SA (one), &over), 0);
        assert_false (over);
    }
    assert_int_equal (hrg_limit_addresses (limit), 0);
    assert_int_equal (hrg_limit_hold (limit, 0), 0);
    hrg_limit_destroy (&limit);
}

//  Many addresses in and out in a scrambled order: every count stays
//  right while the table grows, removes from the middle of runs, shrinks.
static void
test_many_addresses_grow_and_shrink_the_table (void **state)
{
    enum { N = 3000 };
    hrg_limit_t *limit = s_limit (5, 0, NULL);
    size_t empty = hrg_limit_bytes (limit);
    static hrg_limit_hold_t holds [N][2];
    struct sockaddr_in6 addr = s_v6 ("2001:db8::");
    bool over;
    for (int i = 0; i < N; i++) {
        addr.sin6_addr.s6_addr [14] = (uint8_t) (i >> 8);
        addr.sin6_addr.s6_addr [15] = (uint8_t) i;
        holds [i][0] = hrg_limit_connect (limit, SA (addr), &over);
        holds [i][1] = hrg_limit_connect (limit, SA (addr), &over);
        assert_int_not_equal (holds [i][1], 0);
    }
    assert_int_equal (hrg_limit_addresses (limit), N);
    size_t peak = hrg_limit_bytes (limit);
    assert_true (peak > empty);
    for (int i = 0; i < N; i++) {
        int j = (i * 7919) % N;         //  a permutation: 7919 is prime, N is not its multiple
        hrg_limit_release (limit, &holds [j][0]);
        hrg_limit_release (limit, &holds [j][1]);
        if (i % 97 == 0)
            for (int k = 0; k < N; k++) {
                addr.sin6_addr.s6_addr [14] = (uint8_t) (k >> 8);
                addr.sin6_addr.s6_addr [15] = (uint8_t) k;
                uint32_t want = holds [k][0]? 2: 0;
                assert_int_equal (hrg_limit_connections (limit, SA (addr)), want);
            }
    }
    assert_int_equal (hrg_limit_addresses (limit), 0);
    assert_true (hrg_limit_bytes (limit) < peak);       //  the table shrank
    //  The same again: handles are reused, nothing grows past the peak
    for (int i = 0; i < N; i++) {
        addr.sin6_addr.s6_addr [14] = (uint8_t) (i >> 8);
        addr.sin6_addr.s6_addr [15] = (uint8_t) i;
        holds [i][0] = hrg_limit_connect (limit, SA (addr), &over);
        assert_int_not_equal (holds [i][0], 0);
    }
    assert_int_equal (hrg_limit_bytes (limit), peak);
    for (int i = 0; i < N; i++)
        hrg_limit_release (limit, &holds [i][0]);
    hrg_limit_destroy (&limit);
}

static void
test_publish_keys (void **state)
{
    char key [HRG_LIMIT_KEY_MAX];
    hr_claims_t claims;
    memset (&claims, 0, sizeof claims);
    strcpy (claims.sub, "seller-123");
    claims.sub_len = strlen (claims.sub);
    assert_int_equal (hrg_limit_key (key, &claims, NULL), 14);
    assert_string_equal (key, "sub:seller-123");
    strcpy (claims.jti, "t-1");
    claims.jti_len = 3;
    hrg_limit_key (key, &claims, NULL);
    assert_string_equal (key, "jti:t-1");
    struct sockaddr_in v4 = s_v4 ("192.0.2.7");
    struct sockaddr_in6 v6 = s_v6 ("2001:db8::1");
    hrg_limit_key (key, NULL, SA (v4));
    assert_string_equal (key, "addr:192.0.2.7");
    hrg_limit_key (key, NULL, SA (v6));
    assert_string_equal (key, "addr:2001:db8::1");
    hrg_limit_key (key, NULL, NULL);
    assert_string_equal (key, "addr:?");
    //  The longest sub fits whole
    memset (claims.sub, 's', HR_TOKEN_SUB_MAX);
    claims.sub [HR_TOKEN_SUB_MAX] = 0;
    claims.sub_len = HR_TOKEN_SUB_MAX;
    claims.jti_len = 0;
    assert_int_equal (hrg_limit_key (key, &claims, NULL), 4 + HR_TOKEN_SUB_MAX);
}

static void
test_refusals_are_counted (void **state)
{
    hr_metrics_t *metrics = hr_metrics_new ();
    hrg_limit_t *limit = s_limit (1, 1, metrics);
    uint64_t retry;
    assert_true (s_publish (limit, "k", 1, 0, &retry));
    assert_false (s_publish (limit, "k", 1, 0, &retry));
    assert_false (s_publish (limit, "k", 1, 1, &retry));
    struct sockaddr_in one = s_v4 ("10.0.0.1");
    bool over;
    hrg_limit_hold_t hold = hrg_limit_connect (limit, SA (one), &over);
    assert_int_equal (hrg_limit_connect (limit, SA (one), &over), 0);
    hr_buf_t text = HR_BUF_INIT;
    hr_metrics_render (metrics, &text);
    hr_buf_putc (&text, 0);
    assert_non_null (strstr (text.data, "herald_limited_total{limit=\"publish_rate\"} 2\n"));
    assert_non_null (strstr (text.data, "herald_limited_total{limit=\"connections_per_ip\"} 1\n"));
    char bytes [64];
    snprintf (bytes, sizeof bytes, "herald_limit_bytes %zu\n", hrg_limit_bytes (limit));
    assert_non_null (strstr (text.data, bytes));
    hr_buf_free (&text);
    hrg_limit_release (limit, &hold);
    hrg_limit_destroy (&limit);
    hr_metrics_destroy (&metrics);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_burst_then_refused_with_retry_after),
        cmocka_unit_test (test_refill_never_passes_the_burst),
        cmocka_unit_test (test_keys_have_their_own_buckets),
        cmocka_unit_test (test_a_request_over_the_burst_passes_once_and_owes),
        cmocka_unit_test (test_no_rate_limit_keeps_nothing),
        cmocka_unit_test (test_refilled_buckets_are_forgotten),
        cmocka_unit_test (test_the_table_is_bounded),
        cmocka_unit_test (test_connections_per_address),
        cmocka_unit_test (test_ipv4_and_its_mapped_ipv6_are_one_address),
        cmocka_unit_test (test_no_connection_limit_counts_nothing),
        cmocka_unit_test (test_many_addresses_grow_and_shrink_the_table),
        cmocka_unit_test (test_publish_keys),
        cmocka_unit_test (test_refusals_are_counted),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
