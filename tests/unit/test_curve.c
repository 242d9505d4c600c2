/*  test_curve: CURVE certificates and socket options (common/hr_curve):
    the allow-list loaded from a directory or one file, certificates
    written by czmq and by pyzmq, the errors a client or server
    configuration gets, and the refusal of a plain broker reachable from
    other machines.  */
#include "hr_curve.h"
#include "hr_config.h"

#include "support.h"
#include "curve_certs.h"

#include <zmq.h>

//  What pyzmq's zmq.auth.create_certificates writes (a test key).
#define S_PYZMQ_PUBLIC "2nP/Xo<40)J-Fm=KM4J{w4%?fFMIX7p(x4I>TR?4"
#define S_PYZMQ_SECRET_FILE \
    "#   ****  Generated on 2026-12-01 16:38:26.296849 by pyzmq  ****\n" \
    "#   ZeroMQ CURVE **Secret** Certificate\n" \
    "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n" \
    "metadata\ncurve\n" \
    "    public-key = \"" S_PYZMQ_PUBLIC "\"\n" \
    "    secret-key = \"fQ{+7yfc%^i7b[jG<k<rdF6Y!Q>]%/ouna^GvtC?\"\n"
#define S_PYZMQ_PUBLIC_FILE \
    "#   ZeroMQ CURVE Public Certificate\n\nmetadata\ncurve\n" \
    "    public-key = \"" S_PYZMQ_PUBLIC "\"\n"

typedef struct {
    tu_certs_t certs;
    uint8_t server [HR_CURVE_KEY_LEN], alice [HR_CURVE_KEY_LEN], bob [HR_CURVE_KEY_LEN];
    void *ctx;
    hr_buf_t err;
    char path [256], path2 [256];
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *f = hr_calloc (1, sizeof *f);
    tu_certs_init (&f->certs);
    tu_certs_make (&f->certs, "server.key", f->server);
    tu_certs_make (&f->certs, "clients/alice.key", f->alice);
    tu_certs_make (&f->certs, "clients/bob.key", f->bob);
    tu_certs_write (&f->certs, "clients/.hidden", "not a certificate");
    f->ctx = zmq_ctx_new ();
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *f = *state;
    tu_certs_remove (&f->certs);
    zmq_ctx_term (f->ctx);
    hr_buf_free (&f->err);
    free (f);
    return 0;
}

static const char *
s_path (s_fixture_t *f, const char *name)
{
    return tu_certs_path (&f->certs, name, f->path, sizeof f->path);
}

static void
test_directory_allow_list_has_each_public_key (void **state)
{
    s_fixture_t *f = *state;
    //  alice_secret and bob_secret are skipped, .hidden too
    hr_curve_keys_t *keys = hr_curve_keys_load (s_path (f, "clients"), &f->err);
    assert_non_null (keys);
    assert_int_equal (hr_curve_keys_count (keys), 2);
    assert_true (hr_curve_keys_has (keys, f->alice));
    assert_true (hr_curve_keys_has (keys, f->bob));
    assert_false (hr_curve_keys_has (keys, f->server));
    hr_curve_keys_destroy (&keys);
    assert_null (keys);
}

static void
test_one_file_allow_list (void **state)
{
    s_fixture_t *f = *state;
    hr_curve_keys_t *keys = hr_curve_keys_load (s_path (f, "clients/bob.key"), &f->err);
    assert_non_null (keys);
    assert_int_equal (hr_curve_keys_count (keys), 1);
    assert_true (hr_curve_keys_has (keys, f->bob));
    assert_false (hr_curve_keys_has (keys, f->alice));
    hr_curve_keys_destroy (&keys);
}

static void
test_allow_list_errors_say_why (void **state)
{
    s_fixture_t *f = *state;
    assert_null (hr_curve_keys_load (s_path (f, "nowhere"), &f->err));
    assert_non_null (strstr (f->err.data, "cannot read"));
    hr_buf_reset (&f->err);
    //  A file in the directory that is not a certificate: refused, not skipped
    tu_certs_write (&f->certs, "clients/notes.txt", "alice is allowed\n");
    assert_null (hr_curve_keys_load (s_path (f, "clients"), &f->err));
    assert_non_null (strstr (f->err.data, "notes.txt is not a CURVE certificate"));
    hr_buf_reset (&f->err);
    //  An empty directory would let nobody in: refused
    tu_certs_make (&f->certs, "empty/x", NULL);
    assert_int_equal (remove (s_path (f, "empty/x")), 0);
    assert_int_equal (remove (s_path (f, "empty/x_secret")), 0);
    assert_null (hr_curve_keys_load (s_path (f, "empty"), &f->err));
    assert_non_null (strstr (f->err.data, "holds no public certificate"));
}

static void
test_key_set_is_exact (void **state)
{
    hr_curve_keys_t *keys = hr_curve_keys_new ();
    uint8_t key [HR_CURVE_KEY_LEN];
    for (int i = 0; i < 200; i += 2) {
        memset (key, 0, sizeof key);
        key [i % HR_CURVE_KEY_LEN] = (uint8_t) (i + 1);
        key [HR_CURVE_KEY_LEN - 1] = (uint8_t) i;
        hr_curve_keys_add (keys, key);
        hr_curve_keys_add (keys, key);              //  a repeat is one key
    }
    assert_int_equal (hr_curve_keys_count (keys), 100);
    for (int i = 0; i < 200; i++) {
        memset (key, 0, sizeof key);
        key [i % HR_CURVE_KEY_LEN] = (uint8_t) (i + 1);
        key [HR_CURVE_KEY_LEN - 1] = (uint8_t) i;
        assert_int_equal (hr_curve_keys_has (keys, key), i % 2 == 0);
        key [5] ^= 0x80;                            //  one bit off: not in the set
        assert_false (hr_curve_keys_has (keys, key));
    }
    hr_curve_keys_destroy (&keys);
}

static void
test_pyzmq_certificates_load (void **state)
{
    s_fixture_t *f = *state;
    tu_certs_write (&f->certs, "py.key", S_PYZMQ_PUBLIC_FILE);
    tu_certs_write (&f->certs, "py.key_secret", S_PYZMQ_SECRET_FILE);
    uint8_t expected [HR_CURVE_KEY_LEN], key [HR_CURVE_KEY_LEN];
    zmq_z85_decode (expected, S_PYZMQ_PUBLIC);
    assert_int_equal (hr_curve_public_key (s_path (f, "py.key"), key, &f->err), 0);
    assert_memory_equal (key, expected, HR_CURVE_KEY_LEN);
    char text [HR_CURVE_Z85_LEN + 1];
    hr_curve_z85 (key, text);
    assert_string_equal (text, S_PYZMQ_PUBLIC);
    void *sock = zmq_socket (f->ctx, ZMQ_PUSH);
    assert_int_equal (hr_curve_client (sock, s_path (f, "server.key"),
                      tu_certs_path (&f->certs, "py.key_secret", f->path2, sizeof f->path2),
                      &f->err), 0);
    uint8_t own [HR_CURVE_KEY_LEN];
    size_t size = sizeof own;
    zmq_getsockopt (sock, ZMQ_CURVE_PUBLICKEY, own, &size);
    assert_memory_equal (own, expected, HR_CURVE_KEY_LEN);
    zmq_close (sock);
}

static int
s_mechanism (void *sock)
{
    int mechanism = -1;
    size_t size = sizeof mechanism;
    zmq_getsockopt (sock, ZMQ_MECHANISM, &mechanism, &size);
    return mechanism;
}

static void
test_client_options_and_errors (void **state)
{
    s_fixture_t *f = *state;
    void *sock = zmq_socket (f->ctx, ZMQ_DEALER);
    //  No server key: nothing to do, plain ZeroMQ
    assert_int_equal (hr_curve_client (sock, "", "", &f->err), 0);
    assert_int_equal (hr_curve_client (sock, NULL, NULL, &f->err), 0);
    assert_int_equal (s_mechanism (sock), ZMQ_NULL);
    assert_null (f->err.data);
    char server [256];
    tu_certs_path (&f->certs, "server.key", server, sizeof server);
    assert_int_equal (hr_curve_client (sock, server, "", &f->err), -1);
    assert_non_null (strstr (f->err.data, "needs --curve-secret"));
    hr_buf_reset (&f->err);
    assert_int_equal (hr_curve_client (sock, s_path (f, "missing.key"), server, &f->err), -1);
    assert_non_null (strstr (f->err.data, "missing.key"));
    hr_buf_reset (&f->err);
    //  A public certificate where the secret one belongs (no _secret beside it)
    tu_certs_write (&f->certs, "public-only", S_PYZMQ_PUBLIC_FILE);
    assert_int_equal (hr_curve_client (sock, server,
                      tu_certs_path (&f->certs, "public-only", f->path2, sizeof f->path2),
                      &f->err), -1);
    assert_non_null (strstr (f->err.data, "holds no secret key"));
    assert_int_equal (s_mechanism (sock), ZMQ_NULL);
    hr_buf_reset (&f->err);
    tu_certs_path (&f->certs, "clients/alice.key_secret", f->path2, sizeof f->path2);
    assert_int_equal (hr_curve_client (sock, s_path (f, "server.key"), f->path2, &f->err), 0);
    assert_int_equal (s_mechanism (sock), ZMQ_CURVE);
    uint8_t key [HR_CURVE_KEY_LEN];
    size_t size = sizeof key;
    zmq_getsockopt (sock, ZMQ_CURVE_SERVERKEY, key, &size);
    assert_memory_equal (key, f->server, HR_CURVE_KEY_LEN);
    zmq_getsockopt (sock, ZMQ_CURVE_PUBLICKEY, key, &size);
    assert_memory_equal (key, f->alice, HR_CURVE_KEY_LEN);
    zmq_close (sock);
}

static void
test_server_options (void **state)
{
    s_fixture_t *f = *state;
    void *sock = zmq_socket (f->ctx, ZMQ_PULL);
    assert_int_equal (hr_curve_server (sock, s_path (f, "server.key_secret"), &f->err), 0);
    int server = 0;
    size_t size = sizeof server;
    zmq_getsockopt (sock, ZMQ_CURVE_SERVER, &server, &size);
    assert_int_equal (server, 1);
    char domain [32] = "";
    size = sizeof domain;
    zmq_getsockopt (sock, ZMQ_ZAP_DOMAIN, domain, &size);
    assert_string_equal (domain, HR_CURVE_DOMAIN);
    zmq_close (sock);
    sock = zmq_socket (f->ctx, ZMQ_PULL);
    tu_certs_write (&f->certs, "public-only", S_PYZMQ_PUBLIC_FILE);
    assert_int_equal (hr_curve_server (sock, s_path (f, "public-only"), &f->err), -1);
    assert_non_null (strstr (f->err.data, "holds no secret key"));
    zmq_close (sock);
}

static void
test_plain_broker_reachable_from_elsewhere_is_refused (void **state)
{
    s_fixture_t *f = *state;
    const char *local = "tcp://127.0.0.1:5555,ipc:///tmp/x,inproc://y,tcp://[::1]:*,"
                        "tcp://localhost:1,bogus://x";
    assert_int_equal (hr_curve_check_exposure ("--pull", local, false, false, &f->err), 0);
    assert_null (f->err.data);
    const char *exposed [] = { "tcp://0.0.0.0:5555", "tcp://*:*", "tcp://eth0:5555",
                               "tcp://10.0.0.1:1", "tcp://[::]:1", "pgm://x;239.1.1.1:5",
                               "tcp://127.0.0.1:1,tcp://192.168.1.2:1" };
    for (size_t i = 0; i < sizeof exposed / sizeof exposed [0]; i++) {
        hr_buf_reset (&f->err);
        assert_int_equal (hr_curve_check_exposure ("--xpub", exposed [i], false, false,
                                                   &f->err), -1);
        assert_non_null (strstr (f->err.data, "--xpub"));
        assert_non_null (strstr (f->err.data, "give --curve-secret and --curve-clients"));
        assert_non_null (strstr (f->err.data, "or --insecure"));
        assert_int_equal (hr_curve_check_exposure ("--xpub", exposed [i], true, false,
                                                   &f->err), 0);
        assert_int_equal (hr_curve_check_exposure ("--xpub", exposed [i], false, true,
                                                   &f->err), 0);
    }
}

static void
test_loopback_hosts (void **state)
{
    const char *loopback [] = { "127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1",
                                "[::1]", "::ffff:127.0.0.1" };
    for (size_t i = 0; i < sizeof loopback / sizeof loopback [0]; i++)
        assert_true (hr_host_loopback (loopback [i]));
    const char *other [] = { "", "*", "0.0.0.0", "::", "[::]", "128.0.0.1", "10.0.0.1",
                             "127.evil.example", "localhost.example", "eth0", "[::1",
                             "::ffff:10.0.0.1" };
    for (size_t i = 0; i < sizeof other / sizeof other [0]; i++)
        assert_false (hr_host_loopback (other [i]));
    assert_true (hr_endpoint_loopback ("tcp://127.0.0.1:*"));
    assert_true (hr_endpoint_loopback ("ipc:///run/herald.sock"));
    assert_false (hr_endpoint_loopback ("tcp://127.0.0.1"));     //  no port: malformed
    assert_false (hr_endpoint_loopback ("udp://127.0.0.1:1"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_directory_allow_list_has_each_public_key,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_one_file_allow_list, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_allow_list_errors_say_why, s_setup, s_teardown),
        cmocka_unit_test (test_key_set_is_exact),
        cmocka_unit_test_setup_teardown (test_pyzmq_certificates_load, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_client_options_and_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_server_options, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_plain_broker_reachable_from_elsewhere_is_refused,
                                         s_setup, s_teardown),
        cmocka_unit_test (test_loopback_hosts),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
