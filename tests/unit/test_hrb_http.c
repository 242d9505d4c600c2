/*  test_hrb_http: the broker's operations HTTP (broker/hrb_http): every
    route (the status page among them) and error of the router, the
    callbacks it calls (and does not call on a bad channel), the --http
    address check, and over a real socket: keep-alive, a body refused at
    once, the connection limit.  */
#include "hrb_http.h"
#include "hr_status_page.h"
#include "hr_time.h"

#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    hr_metrics_t *metrics;
    hrb_http_t *http;
    int m_probe;                //  a series of the "broker", for /metrics
    hr_metrics_shard_t *shard;
    bool ready;
    int cluster_calls;
    char channel [256];         //  the last channel the cluster callback saw
    bool channel_null;
} s_fixture_t;

static bool
s_ready_cb (void *arg)
{
    s_fixture_t *f = arg;
    return f->ready;
}

static void
s_cluster_cb (void *arg, const char *channel, hr_buf_t *json)
{
    s_fixture_t *f = arg;
    f->cluster_calls++;
    f->channel_null = !channel;
    snprintf (f->channel, sizeof f->channel, "%s", channel? channel: "");
    hr_buf_puts (json, "{\"cluster\": false}");
}

static int
s_setup (void **state)
{
    s_fixture_t *f = calloc (1, sizeof *f);
    f->metrics = hr_metrics_new ();
    f->m_probe = hr_metrics_add (f->metrics, "herald_probe_total", HR_METRIC_COUNTER, "A probe.");
    f->shard = hr_metrics_shard (f->metrics);
    hr_metrics_add_to (f->shard, f->m_probe, 42);
    hr_buf_t err = HR_BUF_INIT;
    f->http = hrb_http_new ("127.0.0.1:0", false, f->metrics, s_ready_cb, s_cluster_cb, f, &err);
    assert_non_null (f->http);
    hr_buf_free (&err);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *f = *state;
    hrb_http_destroy (&f->http);
    assert_null (f->http);
    hr_metrics_destroy (&f->metrics);
    free (f);
    return 0;
}

//  Routes method path with channel (NULL: none); body NUL-terminated in
//  answer->body. Caller frees it.
static void
s_route (s_fixture_t *f, const char *method, const char *path, const char *channel,
         hrb_http_answer_t *answer)
{
    hrb_http_request_t request = { .method = method, .path = path, .channel = channel,
                                   .channel_size = channel? strlen (channel): 0 };
    *answer = (hrb_http_answer_t) { 0 };
    hrb_http_route (f->http, &request, answer);
    hr_buf_putc (&answer->body, 0);
}

static void
test_health_and_readiness (void **state)
{
    s_fixture_t *f = *state;
    hrb_http_answer_t a;
    s_route (f, "GET", "/healthz", NULL, &a);
    assert_int_equal (a.status, 200);
    assert_string_equal (a.content_type, "application/json");
    assert_string_equal (a.body.data, "{\"status\":\"ok\"}");
    hr_buf_free (&a.body);
    //  Not ready: 503 unavailable, whatever else is true
    s_route (f, "GET", "/readyz", NULL, &a);
    assert_int_equal (a.status, 503);
    assert_int_equal (a.error, HR_E_UNAVAILABLE);
    assert_non_null (strstr (a.body.data, "\"error\":\"unavailable\""));
    hr_buf_free (&a.body);
    f->ready = true;
    s_route (f, "GET", "/readyz", NULL, &a);
    assert_int_equal (a.status, 200);
    assert_int_equal (a.error, HR_OK);
    assert_string_equal (a.body.data, "{\"status\":\"ready\"}");
    hr_buf_free (&a.body);
    f->ready = false;
    s_route (f, "GET", "/readyz", NULL, &a);
    assert_int_equal (a.status, 503);
    hr_buf_free (&a.body);
}

static void
test_metrics_render_the_whole_registry (void **state)
{
    s_fixture_t *f = *state;
    hrb_http_answer_t a;
    s_route (f, "GET", "/metrics", NULL, &a);
    assert_int_equal (a.status, 200);
    assert_string_equal (a.content_type, "text/plain; version=0.0.4; charset=utf-8");
    //  The process's series, and the server's own
    assert_non_null (strstr (a.body.data, "\nherald_probe_total 42\n"));
    assert_non_null (strstr (a.body.data, "# TYPE herald_broker_http_requests_total counter\n"));
    assert_non_null (strstr (a.body.data, "herald_broker_http_errors_total{code=\"not_found\"} "));
    assert_non_null (strstr (a.body.data, "# TYPE herald_broker_http_connections gauge\n"));
    hr_buf_free (&a.body);
}

static void
test_status_is_the_embedded_page (void **state)
{
    s_fixture_t *f = *state;
    hrb_http_answer_t a;
    s_route (f, "GET", "/status", NULL, &a);
    assert_int_equal (a.status, 200);
    assert_int_equal (a.error, HR_OK);
    assert_string_equal (a.content_type, "text/html; charset=utf-8");
    //  The whole page (the NUL s_route adds aside), which reads /metrics
    assert_int_equal (a.body.size, hr_status_page_size + 1);
    assert_memory_equal (a.body.data, hr_status_page, hr_status_page_size);
    assert_non_null (strstr (a.body.data, "fetch(\"metrics\""));
    hr_buf_free (&a.body);
    s_route (f, "POST", "/status", NULL, &a);
    assert_int_equal (a.status, 405);
    assert_string_equal (a.allow, "GET");
    hr_buf_free (&a.body);
}

static void
test_cluster_passes_the_channel (void **state)
{
    s_fixture_t *f = *state;
    hrb_http_answer_t a;
    s_route (f, "GET", "/v1/cluster", NULL, &a);
    assert_int_equal (a.status, 200);
    assert_string_equal (a.content_type, "application/json");
    assert_string_equal (a.body.data, "{\"cluster\": false}");
    assert_int_equal (f->cluster_calls, 1);
    assert_true (f->channel_null);
    hr_buf_free (&a.body);
    s_route (f, "GET", "/v1/cluster", "orders.eu/1", &a);
    assert_int_equal (a.status, 200);
    assert_int_equal (f->cluster_calls, 2);
    assert_false (f->channel_null);
    assert_string_equal (f->channel, "orders.eu/1");
    hr_buf_free (&a.body);
}

static void
test_bad_channels_are_400_and_never_reach_the_callback (void **state)
{
    s_fixture_t *f = *state;
    hrb_http_answer_t a;
    const char *bad [] = { "", "a b", "é", "x?y" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        s_route (f, "GET", "/v1/cluster", bad [i], &a);
        assert_int_equal (a.status, 400);
        assert_int_equal (a.error, HR_E_BAD_CHANNEL);
        assert_non_null (strstr (a.body.data, "{\"error\":\"bad_channel\",\"message\":"));
        hr_buf_free (&a.body);
    }
    //  129 bytes: one over the bound
    char longest [130];
    memset (longest, 'c', 129);
    longest [129] = 0;
    s_route (f, "GET", "/v1/cluster", longest, &a);
    assert_int_equal (a.error, HR_E_BAD_CHANNEL);
    hr_buf_free (&a.body);
    //  A %00 inside: the decoded size says more than strlen
    hrb_http_request_t request = { .method = "GET", .path = "/v1/cluster",
                                   .channel = "abc", .channel_size = 5 };
    a = (hrb_http_answer_t) { 0 };
    hrb_http_route (f->http, &request, &a);
    assert_int_equal (a.error, HR_E_BAD_CHANNEL);
    hr_buf_free (&a.body);
    //  Any other argument with a NUL
    request = (hrb_http_request_t) { .method = "GET", .path = "/healthz",
                                     .bad_argument = "a query argument holds a NUL byte" };
    a = (hrb_http_answer_t) { 0 };
    hrb_http_route (f->http, &request, &a);
    assert_int_equal (a.status, 400);
    assert_int_equal (a.error, HR_E_BAD_REQUEST);
    hr_buf_free (&a.body);
    assert_int_equal (f->cluster_calls, 0);
}

static void
test_unknown_paths_404_and_other_methods_405 (void **state)
{
    s_fixture_t *f = *state;
    hrb_http_answer_t a;
    const char *paths [] = { "/", "/nope", "/metrics/", "/v1/clusters", "/HEALTHZ" };
    for (size_t i = 0; i < sizeof paths / sizeof paths [0]; i++) {
        s_route (f, "GET", paths [i], NULL, &a);
        assert_int_equal (a.status, 404);
        assert_string_equal (a.body.data,
                             "{\"error\":\"not_found\",\"message\":\"no such route\"}");
        hr_buf_free (&a.body);
    }
    const char *methods [] = { "POST", "PUT", "DELETE", "HEAD", "OPTIONS" };
    const char *routes [] = { "/healthz", "/readyz", "/metrics", "/v1/cluster" };
    for (size_t m = 0; m < sizeof methods / sizeof methods [0]; m++)
        for (size_t r = 0; r < sizeof routes / sizeof routes [0]; r++) {
            s_route (f, methods [m], routes [r], NULL, &a);
            assert_int_equal (a.status, 405);
            assert_int_equal (a.error, HR_E_METHOD_NOT_ALLOWED);
            assert_string_equal (a.allow, "GET");
            assert_non_null (strstr (a.body.data, "\"error\":\"method_not_allowed\""));
            hr_buf_free (&a.body);
        }
    assert_int_equal (f->cluster_calls, 0);
}

static void
test_address_check (void **state)
{
    hr_buf_t err = HR_BUF_INIT;
    const char *fine [] = { "127.0.0.1:0", "127.1.2.3:8081", "localhost:9000", "[::1]:0" };
    for (size_t i = 0; i < sizeof fine / sizeof fine [0]; i++)
        assert_int_equal (hrb_http_check (fine [i], false, &err), 0);
    const char *exposed [] = { "0.0.0.0:8081", ":8081", "10.0.0.1:8081", "[::]:8081",
                               "example.com:80" };
    for (size_t i = 0; i < sizeof exposed / sizeof exposed [0]; i++) {
        hr_buf_reset (&err);
        assert_int_equal (hrb_http_check (exposed [i], false, &err), -1);
        hr_buf_putc (&err, 0);
        assert_non_null (strstr (err.data, "is not a loopback address"));
        assert_non_null (strstr (err.data, "--insecure"));
        assert_int_equal (hrb_http_check (exposed [i], true, &err), 0);
    }
    const char *malformed [] = { "", "8081", "127.0.0.1", "127.0.0.1:x", "127.0.0.1:65536" };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed [0]; i++) {
        hr_buf_reset (&err);
        assert_int_equal (hrb_http_check (malformed [i], true, &err), -1);
        hr_buf_putc (&err, 0);
        assert_non_null (strstr (err.data, "HOST:PORT"));
    }
    //  hrb_http_new refuses what the check refuses
    hr_metrics_t *metrics = hr_metrics_new ();
    hr_buf_reset (&err);
    assert_null (hrb_http_new ("0.0.0.0:0", false, metrics, s_ready_cb, s_cluster_cb, NULL,
                               &err));
    hr_buf_free (&err);
    hr_metrics_destroy (&metrics);
}

// ---------------------------------------------------------------- over a socket

static int
s_connect (s_fixture_t *f)
{
    unsigned port = 0;
    assert_int_equal (sscanf (hrb_http_url (f->http), "http://127.0.0.1:%u", &port), 1);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct timeval timeout = { .tv_sec = 5 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal (connect (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    return fd;
}

//  Reads one response (head and Content-Length body) into out, NUL-
//  terminated; returns its status, or 0 when the server closed first.
static int
s_read_response (int fd, char *out, size_t size)
{
    size_t have = 0;
    out [0] = 0;
    while (have + 1 < size) {
        char *head_end = strstr (out, "\r\n\r\n");
        const char *length = strstr (out, "Content-Length: ");
        if (head_end && length
        &&  have >= (size_t) (head_end + 4 - out) + (size_t) atoi (length + 16))
            break;
        ssize_t got = read (fd, out + have, size - 1 - have);
        if (got <= 0)
            return 0;
        have += (size_t) got;
        out [have] = 0;
    }
    int status = 0;
    sscanf (out, "HTTP/1.1 %d", &status);
    return status;
}

static void
s_send (int fd, const char *text)
{
    assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
}

static void
test_keep_alive_serves_requests_one_after_another (void **state)
{
    s_fixture_t *f = *state;
    int fd = s_connect (f);
    char response [4096];
    s_send (fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal (s_read_response (fd, response, sizeof response), 200);
    assert_non_null (strstr (response, "{\"status\":\"ok\"}"));
    //  The same connection: a 404 keeps it too
    s_send (fd, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal (s_read_response (fd, response, sizeof response), 404);
    s_send (fd, "GET /v1/cluster?channel=orders HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal (s_read_response (fd, response, sizeof response), 200);
    assert_string_equal (f->channel, "orders");
    s_send (fd, "GET /v1/cluster?channel=ab%00c HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal (s_read_response (fd, response, sizeof response), 400);
    assert_non_null (strstr (response, "bad_channel"));
    s_send (fd, "GET /healthz?x=a%00b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal (s_read_response (fd, response, sizeof response), 400);
    assert_non_null (strstr (response, "bad_request"));
    assert_int_equal (f->cluster_calls, 1);
    close (fd);
}

static void
test_a_body_is_refused_at_once (void **state)
{
    s_fixture_t *f = *state;
    int fd = s_connect (f);
    char response [4096];
    s_send (fd, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
    assert_int_equal (s_read_response (fd, response, sizeof response), 405);
    assert_non_null (strstr (response, "Allow: GET\r\n"));
    close (fd);
    fd = s_connect (f);
    s_send (fd, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
    assert_int_equal (s_read_response (fd, response, sizeof response), 400);
    assert_non_null (strstr (response, "takes a request body"));
    close (fd);
}

static int64_t s_metric (s_fixture_t *f, const char *line_start);

//  libmicrohttpd answers 431 itself (its own page): counted as ours
static void
test_a_head_over_the_memory_bound_is_431_and_counted (void **state)
{
    s_fixture_t *f = *state;
    int fd = s_connect (f);
    size_t size = HRB_HTTP_CONN_MEMORY + 1024;
    char *request = malloc (size + 64);
    int at = snprintf (request, size + 64, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset (request + at, 'a', size);
    strcpy (request + at + size, "\r\n\r\n");
    //  The server may close before reading it all
    (void) !write (fd, request, strlen (request));
    free (request);
    char response [4096];
    assert_int_equal (s_read_response (fd, response, sizeof response), 431);
    close (fd);
    uint64_t deadline = hr_mono_ms () + 5000;
    while (s_metric (f, "herald_broker_http_errors_total{code=\"headers_too_large\"} ") != 1
       &&  hr_mono_ms () < deadline)
        usleep (1000);
    assert_int_equal (s_metric (f, "herald_broker_http_errors_total{code=\"headers_too_large\"} "),
                      1);
}

static int64_t
s_metric (s_fixture_t *f, const char *line_start)
{
    hr_buf_t text = HR_BUF_INIT;
    hr_metrics_render (f->metrics, &text);
    hr_buf_putc (&text, 0);
    const char *at = strstr (text.data, line_start);
    int64_t value = at? strtoll (at + strlen (line_start), NULL, 10): -1;
    hr_buf_free (&text);
    return value;
}

static void
test_connections_over_the_limit_are_closed_and_counted (void **state)
{
    s_fixture_t *f = *state;
    int fds [HRB_HTTP_MAX_CONNECTIONS];
    for (int i = 0; i < HRB_HTTP_MAX_CONNECTIONS; i++)
        fds [i] = s_connect (f);
    uint64_t deadline = hr_mono_ms () + 5000;
    while (s_metric (f, "\nherald_broker_http_connections ") != HRB_HTTP_MAX_CONNECTIONS
       &&  hr_mono_ms () < deadline)
        usleep (1000);
    assert_int_equal (s_metric (f, "\nherald_broker_http_connections "),
                      HRB_HTTP_MAX_CONNECTIONS);
    //  One more: closed at accept, never answered
    int extra = s_connect (f);
    char response [256];
    s_send (extra, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal (s_read_response (extra, response, sizeof response), 0);
    close (extra);
    assert_int_equal (s_metric (f, "herald_broker_http_errors_total{code=\"overloaded\"} "), 1);
    //  The ones admitted are served
    s_send (fds [0], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal (s_read_response (fds [0], response, sizeof response), 200);
    for (int i = 0; i < HRB_HTTP_MAX_CONNECTIONS; i++)
        close (fds [i]);
    deadline = hr_mono_ms () + 5000;
    while (s_metric (f, "\nherald_broker_http_connections ") != 0
       &&  hr_mono_ms () < deadline)
        usleep (1000);
    assert_int_equal (s_metric (f, "\nherald_broker_http_connections "), 0);
}

int
main (void)
{
    alarm (30);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_health_and_readiness, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_metrics_render_the_whole_registry, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_status_is_the_embedded_page, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cluster_passes_the_channel, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_channels_are_400_and_never_reach_the_callback,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unknown_paths_404_and_other_methods_405, s_setup,
                                         s_teardown),
        cmocka_unit_test (test_address_check),
        cmocka_unit_test_setup_teardown (test_keep_alive_serves_requests_one_after_another,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_body_is_refused_at_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_a_head_over_the_memory_bound_is_431_and_counted,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_connections_over_the_limit_are_closed_and_counted,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
