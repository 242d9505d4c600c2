/*  hrg_auth_fixture: tokens for the gateway's unit tests (test_hrg_auth.c,
    test_hrg_conn_token.c, test_hrg_ws_auth.c).

    A JWKS file of one HS256 key in a temporary directory (the file
    --token-keys names), the same key parsed for minting, and tokens
    minted in C with hr_token_sign whose exp is relative to the wall clock
    (the gateway's token checks read hr_wall_ms). And a libmicrohttpd
    daemon on 127.0.0.1 run from the test's thread (MHD_run), for the code
    that reads a token from a request.  */
#ifndef HRG_AUTH_FIXTURE_H
#define HRG_AUTH_FIXTURE_H

#include "hrg_auth.h"
#include "hr_time.h"
#include "hr_token.h"
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

//  Two HS256 secrets (40 and 32 bytes)
#define TA_K1 "aGVyYWxkLXRlc3Qtc2VjcmV0LW9mLWZvcnR5LWJ5dGVzLWxvbmchIQ"
#define TA_K2 "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE"

typedef struct {
    char dir [64];
    char path [96];             //  the JWKS file
    hr_keyset_t *signer;        //  the file's keys, for minting
} ta_keys_t;

//  The current Unix second, as the gateway sees it.
static TU_UNUSED int64_t
ta_now (void)
{
    return (int64_t) (hr_wall_ms () / 1000);
}

//  Writes a JWKS of one HS256 key (kid, secret in base64url) to self's
//  file, and makes it the minting key.
static TU_UNUSED void
ta_keys_write (ta_keys_t *self, const char *kid, const char *secret)
{
    char json [512];
    int size = snprintf (json, sizeof json, "{\"keys\": [{\"kty\":\"oct\",\"kid\":\"%s\","
                         "\"alg\":\"HS256\",\"k\":\"%s\"}]}", kid, secret);
    FILE *file = fopen (self->path, "w");
    assert_non_null (file);
    assert_int_equal (fwrite (json, 1, (size_t) size, file), (size_t) size);
    assert_int_equal (fclose (file), 0);
    hr_keyset_unref (&self->signer);
    hr_buf_t err = HR_BUF_INIT;
    self->signer = hr_keyset_parse (json, (size_t) size, &err);
    if (!self->signer)
        fail_msg ("keyset refused: %s", err.data);
    hr_buf_free (&err);
}

//  Writes text as the keys file (a bad one: the minting key stays).
static TU_UNUSED void
ta_keys_write_raw (ta_keys_t *self, const char *text)
{
    FILE *file = fopen (self->path, "w");
    assert_non_null (file);
    fputs (text, file);
    assert_int_equal (fclose (file), 0);
}

//  A temporary directory with a keys file of kid "k1", secret TA_K1.
static TU_UNUSED void
ta_keys_init (ta_keys_t *self)
{
    memset (self, 0, sizeof *self);
    snprintf (self->dir, sizeof self->dir, "/tmp/herald_auth_XXXXXX");
    assert_non_null (mkdtemp (self->dir));
    snprintf (self->path, sizeof self->path, "%s/keys.json", self->dir);
    ta_keys_write (self, "k1", TA_K1);
}

static TU_UNUSED void
ta_keys_fini (ta_keys_t *self)
{
    hr_keyset_unref (&self->signer);
    unlink (self->path);
    rmdir (self->dir);
}

//  The test file's keys, made once per group (cmocka group setup and
//  teardown: ta_group_setup, ta_group_teardown).
static ta_keys_t s_keys;

static TU_UNUSED int
ta_group_setup (void **state)
{
    ta_keys_init (&s_keys);
    return 0;
}

static TU_UNUSED int
ta_group_teardown (void **state)
{
    ta_keys_fini (&s_keys);
    return 0;
}

//  Mints a token into out (reset, NUL-terminated) with self's key: sub,
//  exp (Unix s), jti ("" for none), and the grants as JSON arrays (NULL
//  for none). iat is a minute before now, or exp when exp is earlier.
static TU_UNUSED const char *
ta_mint (ta_keys_t *self, hr_buf_t *out, const char *sub, int64_t exp, const char *jti,
         const char *subscribe, const char *publish)
{
    int64_t iat = ta_now () - 60;
    if (iat > exp)
        iat = exp;
    hr_buf_t claims = HR_BUF_INIT;
    hr_buf_printf (&claims, "{\"sub\":\"%s\",\"aud\":\"herald\",\"iat\":%lld,\"exp\":%lld",
                   sub, (long long) iat, (long long) exp);
    if (*jti)
        hr_buf_printf (&claims, ",\"jti\":\"%s\"", jti);
    if (subscribe || publish) {
        hr_buf_puts (&claims, ",\"herald\":{");
        if (subscribe)
            hr_buf_printf (&claims, "\"subscribe\":%s", subscribe);
        if (publish)
            hr_buf_printf (&claims, "%s\"publish\":%s", subscribe? ",": "", publish);
        hr_buf_putc (&claims, '}');
    }
    hr_buf_putc (&claims, '}');
    hr_buf_putc (&claims, 0);
    hr_buf_t err = HR_BUF_INIT;
    hr_buf_reset (out);
    if (!hr_token_sign (out, hr_keyset_key (self->signer, 0), claims.data, &err))
        fail_msg ("cannot sign: %s", err.data);
    hr_buf_putc (out, 0);
    out->size--;
    hr_buf_free (&err);
    hr_buf_free (&claims);
    return out->data;
}

//  Claims of a token minted as ta_mint does, verified by auth (which must
//  accept it). Caller owns.
static TU_UNUSED hr_claims_t *
ta_claims (ta_keys_t *self, hrg_auth_t *auth, const char *sub, int64_t exp, const char *jti,
           const char *subscribe, const char *publish)
{
    hr_buf_t token = HR_BUF_INIT;
    ta_mint (self, &token, sub, exp, jti, subscribe, publish);
    hr_claims_t *claims = NULL;
    const char *why = NULL;
    hr_error_t rc = hrg_auth_verify (auth, token.data, token.size, &claims, &why);
    if (rc != HR_OK)
        fail_msg ("token refused: %s (%s)", hr_error_code (rc), why);
    hr_buf_free (&token);
    return claims;
}

//  A gateway's auth on config (its token_keys set by the caller).
static TU_UNUSED hrg_auth_t *
ta_auth_new (const hrg_config_t *config)
{
    hr_buf_t err = HR_BUF_INIT;
    hrg_auth_t *auth = hrg_auth_new (config, &err);
    if (!auth)
        fail_msg ("hrg_auth_new: %s", err.data);
    hr_buf_free (&err);
    return auth;
}

//  Revokes sub or jti for an hour on auth's list.
static TU_UNUSED void
ta_revoke (hrg_auth_t *auth, hr_revoke_kind_t kind, const char *value)
{
    assert_int_equal (hr_revoke_add (hrg_auth_revocations (auth), kind, value, strlen (value),
                                     ta_now () + 3600, ta_now ()), 0);
}

//  --------------------------------------------------------------------
//  libmicrohttpd on 127.0.0.1, driven from the test's thread

#define TM_WAIT_MS 2000

typedef struct {
    struct MHD_Daemon *daemon;
    uint16_t port;
} tm_server_t;

//  Starts a daemon (no thread of its own: tm_run turns it) calling
//  handler with arg. MHD_USE_TURBO, as the gateway: a handler that takes
//  the socket keeps it when libmicrohttpd lets go.
static TU_UNUSED void
tm_start (tm_server_t *self, MHD_AccessHandlerCallback handler, void *arg)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    assert_int_equal (listen (fd, 16), 0);
    socklen_t len = sizeof addr;
    assert_int_equal (getsockname (fd, (struct sockaddr *) &addr, &len), 0);
    self->port = ntohs (addr.sin_port);
    self->daemon = MHD_start_daemon (MHD_USE_TURBO, 0, NULL, NULL,
                                     handler, arg, MHD_OPTION_LISTEN_SOCKET, fd,
                                     MHD_OPTION_END);
    assert_non_null (self->daemon);
}

static TU_UNUSED void
tm_stop (tm_server_t *self)
{
    MHD_stop_daemon (self->daemon);
    self->daemon = NULL;
}

//  A client connected to the daemon that has sent request (whole): its
//  socket, non-blocking.
static TU_UNUSED int
tm_send (tm_server_t *self, const char *request)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (self->port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (connect (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    size_t size = strlen (request);
    assert_int_equal (write (fd, request, size), (ssize_t) size);
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

//  Turns the daemon until *done or the deadline; false at the deadline.
static TU_UNUSED bool
tm_run_until (tm_server_t *self, const bool *done)
{
    uint64_t deadline = hr_mono_ms () + TM_WAIT_MS;
    while (!*done && hr_mono_ms () < deadline) {
        MHD_run (self->daemon);
        if (!*done)
            usleep (1000);
    }
    return *done;
}

//  Appends what fd holds to got; true when the peer closed it.
static TU_UNUSED bool
tm_read (int fd, hr_buf_t *got)
{
    char buffer [65536];
    ssize_t size;
    while ((size = read (fd, buffer, sizeof buffer)) > 0)
        hr_buf_put (got, buffer, (size_t) size);
    return size == 0 || (size < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

#endif
