/*  test_hrb_zap: the broker's ZAP handler (broker/hrb_zap) and the broker
    with CURVE (broker/hrb_server): the answer to each kind of ZAP request,
    real CURVE handshakes against the allow-list (a refused client sends
    nothing through), every one of PULL, ROUTER and XPUB refusing plain and
    unknown clients while inproc:// stays open, refusals counted, and the
    configurations the broker refuses to start with.  */
#include "hrb_server.h"
#include "hrb_zap.h"
#include "hr_epoch.h"
#include "hr_proto.h"
#include "hr_time.h"

#include "support.h"
#include "curve_certs.h"

#include <pthread.h>
#include <zmq.h>

#define S_WAIT_MS 5000
#define S_FAILED (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL \
                  | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

typedef struct {
    tu_certs_t certs;
    uint8_t alice [HR_CURVE_KEY_LEN], bob [HR_CURVE_KEY_LEN];
    char server_key [256], server_secret [256], clients [256];
    char alice_secret [256], bob_secret [256];
    void *ctx;
    hr_buf_t err;
    hrb_config_t config;
    hr_metrics_t *metrics;
    hrb_server_t *server;
    pthread_t thread;
    bool running;
    void *sockets [16];         //  closed by teardown
    int socket_count;
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *f = hr_calloc (1, sizeof *f);
    tu_certs_init (&f->certs);
    tu_certs_make (&f->certs, "server.key", NULL);
    tu_certs_make (&f->certs, "allowed/alice.key", f->alice);
    tu_certs_make (&f->certs, "bob.key", f->bob);           //  not allowed
    tu_certs_path (&f->certs, "server.key", f->server_key, sizeof f->server_key);
    tu_certs_path (&f->certs, "server.key_secret", f->server_secret, sizeof f->server_secret);
    tu_certs_path (&f->certs, "allowed", f->clients, sizeof f->clients);
    tu_certs_path (&f->certs, "allowed/alice.key_secret", f->alice_secret,
                   sizeof f->alice_secret);
    tu_certs_path (&f->certs, "bob.key_secret", f->bob_secret, sizeof f->bob_secret);
    f->ctx = zmq_ctx_new ();
    f->config = (hrb_config_t) HRB_CONFIG_DEFAULTS;
    f->metrics = hr_metrics_new ();
    hr_epoch_init ();
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *f = *state;
    for (int i = 0; i < f->socket_count; i++)
        zmq_close (f->sockets [i]);
    if (f->running) {
        hrb_server_stop (f->server);
        pthread_join (f->thread, NULL);
    }
    hrb_server_destroy (&f->server);
    zmq_ctx_term (f->ctx);
    hr_metrics_destroy (&f->metrics);
    tu_certs_remove (&f->certs);
    hr_buf_free (&f->err);
    free (f);
    return 0;
}

//  A socket closed by teardown; a CURVE client when secret is not NULL.
static void *
s_socket (s_fixture_t *f, int type, const char *secret)
{
    assert_true (f->socket_count < 16);
    void *sock = zmq_socket (f->ctx, type);
    int linger = 0;
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    if (secret)
        assert_int_equal (hr_curve_client (sock, f->server_key, secret, &f->err), 0);
    f->sockets [f->socket_count++] = sock;
    return sock;
}

//  Connects sock to endpoint and waits for its first handshake's outcome,
//  serving zap meanwhile when not NULL: 1 succeeded, 0 failed, -1 none.
static int
s_handshake (s_fixture_t *f, void *sock, const char *endpoint, hrb_zap_t *zap)
{
    static int instance;
    char name [64];
    snprintf (name, sizeof name, "inproc://test-zap-monitor-%d", ++instance);
    zmq_socket_monitor (sock, name, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | S_FAILED);
    void *monitor = zmq_socket (f->ctx, ZMQ_PAIR);
    zmq_connect (monitor, name);
    assert_int_equal (zmq_connect (sock, endpoint), 0);
    int rc = -1;
    uint64_t deadline = hr_mono_ms () + S_WAIT_MS;
    while (rc < 0 && hr_mono_ms () < deadline) {
        zmq_pollitem_t items [] = {
            { monitor, 0, ZMQ_POLLIN, 0 },
            { zap? hrb_zap_socket (zap): NULL, 0, ZMQ_POLLIN, 0 },
        };
        zmq_poll (items, zap? 2: 1, 50);
        if (zap)
            hrb_zap_serve (zap, 16);
        zmq_msg_t event;
        zmq_msg_init (&event);
        if (zmq_msg_recv (&event, monitor, ZMQ_DONTWAIT) >= 0) {
            uint16_t id = 0;
            memcpy (&id, zmq_msg_data (&event), sizeof id);
            rc = id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED? 1: 0;
            while (zmq_msg_more (&event))
                zmq_msg_recv (&event, monitor, 0);
        }
        zmq_msg_close (&event);
    }
    zmq_socket_monitor (sock, NULL, 0);
    zmq_close (monitor);
    return rc;
}

//  ------------------------------------------------------------- answers

static hrb_zap_answer_t
s_answer (const hr_curve_keys_t *keys, const char *version, const char *mechanism,
          const void *credentials, size_t credentials_size, size_t count)
{
    hrb_zap_frame_t frames [] = {
        { version, strlen (version) }, { "7", 1 }, { "herald", 6 }, { "10.1.2.3", 8 },
        { "", 0 }, { mechanism, strlen (mechanism) }, { credentials, credentials_size },
    };
    hrb_zap_answer_t answer;
    hrb_zap_answer (keys, frames, count, &answer);
    return answer;
}

static void
test_answers (void **state)
{
    s_fixture_t *f = *state;
    hr_curve_keys_t *keys = hr_curve_keys_new ();
    hr_curve_keys_add (keys, f->alice);
    hrb_zap_answer_t answer = s_answer (keys, "1.0", "CURVE", f->alice, 32, 7);
    assert_string_equal (answer.status, "200");
    assert_true (answer.has_key);
    assert_memory_equal (answer.key, f->alice, HR_CURVE_KEY_LEN);
    answer = s_answer (keys, "1.0", "CURVE", f->bob, 32, 7);
    assert_string_equal (answer.status, "400");
    assert_true (answer.has_key);
    assert_memory_equal (answer.key, f->bob, HR_CURVE_KEY_LEN);
    //  Other mechanisms are refused, whatever they carry
    assert_string_equal (s_answer (keys, "1.0", "NULL", f->alice, 32, 7).status, "400");
    assert_string_equal (s_answer (keys, "1.0", "PLAIN", f->alice, 32, 7).status, "400");
    assert_string_equal (s_answer (keys, "1.0", "CURVE", f->alice, 32, 6).status, "500");
    assert_string_equal (s_answer (keys, "1.0", "CURVE", f->alice, 31, 7).status, "500");
    assert_string_equal (s_answer (keys, "1.0", "CURVE", f->alice, 32, 8).status, "500");
    assert_string_equal (s_answer (keys, "2.0", "CURVE", f->alice, 32, 7).status, "500");
    assert_string_equal (s_answer (keys, "1.0", "CURVE", f->alice, 32, 2).status, "500");
    assert_false (s_answer (keys, "1.0", "CURVE", f->alice, 31, 7).has_key);
    hr_curve_keys_destroy (&keys);
}

//  ------------------------------------------------------------- handler

//  A CURVE server PULL on a loopback port (its endpoint into endpoint).
static void *
s_curve_pull (s_fixture_t *f, char *endpoint, size_t size)
{
    void *pull = s_socket (f, ZMQ_PULL, NULL);
    assert_int_equal (hr_curve_server (pull, f->server_secret, &f->err), 0);
    assert_int_equal (zmq_bind (pull, "tcp://127.0.0.1:*"), 0);
    zmq_getsockopt (pull, ZMQ_LAST_ENDPOINT, endpoint, &size);
    return pull;
}

static void
test_handler_admits_only_allowed_keys (void **state)
{
    s_fixture_t *f = *state;
    hrb_zap_t *zap = hrb_zap_new (f->ctx, f->clients, &f->err);
    assert_non_null (zap);
    assert_int_equal (hrb_zap_allowed (zap), 1);
    char endpoint [128];
    void *pull = s_curve_pull (f, endpoint, sizeof endpoint);

    void *bob = s_socket (f, ZMQ_PUSH, f->bob_secret);
    assert_int_equal (s_handshake (f, bob, endpoint, zap), 0);
    assert_int_equal (hrb_zap_refused (zap), 1);
    void *plain = s_socket (f, ZMQ_PUSH, NULL);
    assert_int_equal (s_handshake (f, plain, endpoint, zap), 0);
    //  Queued to a refused peer: libzmq never delivers it
    zmq_send (bob, "bob", 3, ZMQ_DONTWAIT);
    zmq_send (plain, "plain", 5, ZMQ_DONTWAIT);
    void *alice = s_socket (f, ZMQ_PUSH, f->alice_secret);
    assert_int_equal (s_handshake (f, alice, endpoint, zap), 1);
    assert_int_equal (zmq_send (alice, "alice", 5, 0), 5);
    char got [16] = "";
    int rcvtimeo = 100;
    zmq_setsockopt (pull, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    uint64_t deadline = hr_mono_ms () + S_WAIT_MS;
    while (strcmp (got, "alice") != 0 && hr_mono_ms () < deadline) {
        hrb_zap_serve (zap, 16);
        int n = zmq_recv (pull, got, sizeof got - 1, 0);
        got [n > 0? n: 0] = 0;
        assert_true (n < 0 || strcmp (got, "alice") == 0);
    }
    assert_string_equal (got, "alice");
    assert_true (hrb_zap_refused (zap) >= 1);
    hrb_zap_destroy (&zap);
    assert_null (zap);
}

static void
test_reload_takes_effect_at_the_next_handshake (void **state)
{
    s_fixture_t *f = *state;
    hrb_zap_t *zap = hrb_zap_new (f->ctx, f->clients, &f->err);
    assert_non_null (zap);
    char endpoint [128];
    s_curve_pull (f, endpoint, sizeof endpoint);
    assert_int_equal (s_handshake (f, s_socket (f, ZMQ_PUSH, f->bob_secret), endpoint, zap), 0);
    //  A certificate of bob's added to the directory: two keys, bob admitted
    char bob [300];
    tu_certs_path (&f->certs, "allowed/bob.key", bob, sizeof bob);
    tu_certs_make (&f->certs, "allowed/bob.key", f->bob);
    snprintf (f->bob_secret, sizeof f->bob_secret, "%s_secret", bob);
    assert_int_equal (hrb_zap_reload (zap, f->clients, &f->err), 2);
    assert_int_equal (s_handshake (f, s_socket (f, ZMQ_PUSH, f->bob_secret), endpoint, zap), 1);
    //  A list that does not load: the old one stays
    assert_int_equal (hrb_zap_reload (zap, "/nonexistent/clients", &f->err), -1);
    assert_int_equal (s_handshake (f, s_socket (f, ZMQ_PUSH, f->bob_secret), endpoint, zap), 1);
    //  Reloaded twice before a request: the later list wins
    assert_int_equal (hrb_zap_reload (zap, f->clients, &f->err), 2);
    char alice_only [300];
    assert_int_equal (hrb_zap_reload (zap, tu_certs_path (&f->certs, "allowed/alice.key",
                                                          alice_only, sizeof alice_only),
                                      &f->err), 1);
    assert_int_equal (s_handshake (f, s_socket (f, ZMQ_PUSH, f->bob_secret), endpoint, zap), 0);
    hrb_zap_destroy (&zap);
}

static void
test_handler_load_error (void **state)
{
    s_fixture_t *f = *state;
    assert_null (hrb_zap_new (f->ctx, "/nonexistent/clients", &f->err));
    assert_non_null (strstr (f->err.data, "/nonexistent/clients"));
}

//  ------------------------------------------------------------- broker

static void *
s_run (void *server)
{
    hrb_server_run (server);
    return NULL;
}

static void
s_start (s_fixture_t *f)
{
    f->config.curve_secret = f->server_secret;
    f->config.curve_clients = f->clients;
    f->config.pull = "tcp://127.0.0.1:*";
    f->config.router = "tcp://127.0.0.1:*";
    f->config.xpub = "tcp://127.0.0.1:*,inproc://test-zap-xpub";
    f->server = hrb_server_new (f->ctx, &f->config, f->metrics, &f->err);
    assert_non_null (f->server);
    assert_int_equal (pthread_create (&f->thread, NULL, s_run, f->server), 0);
    f->running = true;
}

//  The first endpoint of a bound list.
static const char *
s_first (const char *list, char *out, size_t size)
{
    snprintf (out, size, "%.*s", (int) strcspn (list, ","), list);
    return out;
}

static int64_t
s_refused (s_fixture_t *f)
{
    hr_buf_t text = HR_BUF_INIT;
    hr_metrics_render (f->metrics, &text);
    const char *line = strstr (text.data, "\nherald_curve_refused_total ");
    int64_t value = line? strtoll (line + 28, NULL, 10): -1;
    hr_buf_free (&text);
    return value;
}

static void
test_broker_sockets_refuse_plain_and_unknown_clients (void **state)
{
    s_fixture_t *f = *state;
    s_start (f);
    char pull [128], router [128], xpub [128];
    s_first (hrb_server_pull_endpoints (f->server), pull, sizeof pull);
    s_first (hrb_server_router_endpoints (f->server), router, sizeof router);
    s_first (hrb_server_xpub_endpoints (f->server), xpub, sizeof xpub);
    const struct { int type; const char *endpoint; } sockets [] = {
        { ZMQ_PUSH, pull }, { ZMQ_DEALER, router }, { ZMQ_SUB, xpub },
    };
    for (int i = 0; i < 3; i++) {
        assert_int_equal (s_handshake (f, s_socket (f, sockets [i].type, NULL),
                                       sockets [i].endpoint, NULL), 0);
        assert_int_equal (s_handshake (f, s_socket (f, sockets [i].type, f->bob_secret),
                                       sockets [i].endpoint, NULL), 0);
        assert_int_equal (s_handshake (f, s_socket (f, sockets [i].type, f->alice_secret),
                                       sockets [i].endpoint, NULL), 1);
    }
    uint64_t deadline = hr_mono_ms () + S_WAIT_MS;
    while (s_refused (f) < 3 && hr_mono_ms () < deadline)
        zmq_poll (NULL, 0, 10);
    assert_true (s_refused (f) >= 3);

    //  inproc:// needs no CURVE (the gateway of `herald run`), and an
    //  allowed client's publish is sequenced and reaches it
    void *sub = s_socket (f, ZMQ_SUB, NULL);
    assert_int_equal (zmq_connect (sub, "inproc://test-zap-xpub"), 0);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "curve|", 6);
    int rcvtimeo = S_WAIT_MS;
    zmq_setsockopt (sub, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    char topic [32];
    assert_int_equal (zmq_recv (sub, topic, sizeof topic, 0), 6);     //  head marker
    zmq_msg_t body;
    zmq_msg_init (&body);
    zmq_msg_recv (&body, sub, 0);
    void *dealer = f->sockets [5];              //  alice's DEALER
    hr_event_t ev = { .ch = "curve", .ch_len = 5, .data = (const uint8_t *) "\xc0",
                      .data_len = 1 };
    hr_buf_t frame = HR_BUF_INIT;
    uint64_t rid = 1;
    hr_request_encode_publish (&frame, &rid, &ev);
    assert_int_equal (zmq_send (dealer, frame.data, frame.size, 0), (int) frame.size);
    hr_buf_free (&frame);
    zmq_setsockopt (dealer, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    zmq_msg_t reply;
    zmq_msg_init (&reply);
    assert_true (zmq_msg_recv (&reply, dealer, 0) > 0);
    hr_reply_t decoded;
    assert_int_equal (hr_reply_decode (zmq_msg_data (&reply), zmq_msg_size (&reply), &decoded),
                      HR_OK);
    assert_int_equal (decoded.error, HR_OK);
    assert_int_equal (decoded.seq, 1);
    zmq_msg_close (&reply);
    assert_int_equal (zmq_recv (sub, topic, sizeof topic, 0), 6);
    zmq_msg_recv (&body, sub, 0);
    hr_event_t got;
    assert_int_equal (hr_event_decode (zmq_msg_data (&body), zmq_msg_size (&body), &got), HR_OK);
    assert_int_equal (got.seq, 1);
    zmq_msg_close (&body);
}

static void
s_expect_refused (s_fixture_t *f, const char *reason)
{
    hr_buf_reset (&f->err);
    hrb_server_t *server = hrb_server_new (f->ctx, &f->config, f->metrics, &f->err);
    assert_null (server);
    assert_non_null (f->err.data);
    assert_non_null (strstr (f->err.data, reason));
}

static void
test_broker_configurations_refused (void **state)
{
    s_fixture_t *f = *state;
    f->config.pull = "tcp://127.0.0.1:*";
    f->config.router = "tcp://127.0.0.1:*";
    f->config.xpub = "tcp://127.0.0.1:*";
    f->config.curve_secret = f->server_secret;
    s_expect_refused (f, "--curve-secret and --curve-clients go together");
    f->config.curve_secret = "";
    f->config.curve_clients = f->clients;
    s_expect_refused (f, "--curve-secret and --curve-clients go together");
    f->config.curve_clients = "";
    f->config.xpub = "tcp://0.0.0.0:*";
    s_expect_refused (f, "--xpub tcp://0.0.0.0:* is reachable from other machines");
    assert_non_null (strstr (f->err.data, "give --curve-secret and --curve-clients"));
    assert_non_null (strstr (f->err.data, "or --insecure"));
    //  --insecure: it starts, plain
    f->config.insecure = true;
    hrb_server_t *server = hrb_server_new (f->ctx, &f->config, f->metrics, &f->err);
    assert_non_null (server);
    hrb_server_destroy (&server);
    //  CURVE: it starts without --insecure
    f->config.insecure = false;
    f->config.curve_secret = f->server_secret;
    f->config.curve_clients = f->clients;
    server = hrb_server_new (f->ctx, &f->config, f->metrics, &f->err);
    assert_non_null (server);
    hrb_server_destroy (&server);
    //  The public certificate where the secret one belongs
    f->config.curve_secret = f->server_key;
    s_expect_refused (f, "holds no secret key");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_answers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_handler_admits_only_allowed_keys, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_reload_takes_effect_at_the_next_handshake,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_handler_load_error, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_broker_sockets_refuse_plain_and_unknown_clients,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_broker_configurations_refused, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
