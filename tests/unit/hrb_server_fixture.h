/*  hrb_server_fixture: a broker (broker/hrb_server) running in a thread
    over inproc://, and real ZeroMQ clients of it, for the broker's unit
    tests (test_hrb_server, test_hrb_revoke). Include after support.h.  */
#ifndef HRB_SERVER_FIXTURE_H
#define HRB_SERVER_FIXTURE_H

#include "hrb_server.h"
#include "hr_metrics.h"
#include "hr_proto.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#define S_WAIT_MS 5000

typedef struct {
    void *ctx;
    hrb_config_t config;
    char pull [64], router [64], xpub [64];
    hr_metrics_t *metrics;
    hrb_server_t *server;
    pthread_t thread;
    bool running;
    int rc;                     //  hrb_server_run's result
    void *clients [8];          //  closed by teardown, even after a failed assert
    int client_count;
} s_fixture_t;

static int s_instance;

static TU_UNUSED void *
s_run (void *arg)
{
    s_fixture_t *f = arg;
    f->rc = hrb_server_run (f->server);
    return NULL;
}

//  Creates the broker with config changes already in f->config.
static TU_UNUSED void
s_create (s_fixture_t *f)
{
    int n = ++s_instance;
    snprintf (f->pull, sizeof f->pull, "inproc://hrb-pull-%d", n);
    snprintf (f->router, sizeof f->router, "inproc://hrb-router-%d", n);
    snprintf (f->xpub, sizeof f->xpub, "inproc://hrb-xpub-%d", n);
    f->config.pull = f->pull;
    f->config.router = f->router;
    f->config.xpub = f->xpub;
    f->metrics = hr_metrics_new ();
    hr_buf_t err = HR_BUF_INIT;
    f->server = hrb_server_new (f->ctx, &f->config, f->metrics, &err);
    assert_non_null (f->server);
    hr_buf_free (&err);
}

static TU_UNUSED void
s_start (s_fixture_t *f)
{
    assert_int_equal (pthread_create (&f->thread, NULL, s_run, f), 0);
    f->running = true;
}

static TU_UNUSED int
s_setup (void **state)
{
    s_fixture_t *f = hr_calloc (1, sizeof *f);
    f->ctx = zmq_ctx_new ();
    f->config = (hrb_config_t) HRB_CONFIG_DEFAULTS;
    *state = f;
    return 0;
}

static TU_UNUSED int
s_teardown (void **state)
{
    s_fixture_t *f = *state;
    for (int i = 0; i < f->client_count; i++)
        zmq_close (f->clients [i]);
    if (f->running) {
        hrb_server_stop (f->server);
        pthread_join (f->thread, NULL);
    }
    hrb_server_destroy (&f->server);
    zmq_ctx_term (f->ctx);
    hr_metrics_destroy (&f->metrics);
    free (f);
    return 0;
}

static TU_UNUSED void *
s_client (s_fixture_t *f, int type, const char *endpoint)
{
    void *sock = zmq_socket (f->ctx, type);
    int linger = 0;
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal (zmq_connect (sock, endpoint), 0);
    assert_true (f->client_count < 8);
    f->clients [f->client_count++] = sock;
    return sock;
}

//  Receives one frame within S_WAIT_MS into msg (initialised here).
static TU_UNUSED void
s_recv (void *sock, zmq_msg_t *msg)
{
    zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, S_WAIT_MS), 1);
    zmq_msg_init (msg);
    assert_true (zmq_msg_recv (msg, sock, 0) >= 0);
}

static TU_UNUSED bool
s_more (void *sock)
{
    int more = 0;
    size_t size = sizeof more;
    zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &size);
    return more != 0;
}

//  Receives a reply map (the first frame, after a REQ delimiter if any).
//  The frame stays in *msg for the views in reply; close it after.
static TU_UNUSED void
s_reply (void *sock, zmq_msg_t *msg, hr_reply_t *reply)
{
    s_recv (sock, msg);
    assert_int_equal (hr_reply_decode (zmq_msg_data (msg), zmq_msg_size (msg), reply), HR_OK);
}

//  The value of a series without labels, from the Prometheus rendering.
static TU_UNUSED int64_t
s_metric (s_fixture_t *f, const char *name)
{
    hr_buf_t text = HR_BUF_INIT;
    hr_metrics_render (f->metrics, &text);
    hr_buf_putc (&text, 0);
    char needle [128];
    snprintf (needle, sizeof needle, "\n%s ", name);
    const char *line = strstr (text.data, needle);
    int64_t value = line? strtoll (line + strlen (needle), NULL, 10): -1;
    hr_buf_free (&text);
    return value;
}

//  Waits up to S_WAIT_MS for a series to reach value (the broker runs in
//  its own thread).
static TU_UNUSED void
s_wait_metric (s_fixture_t *f, const char *name, int64_t value)
{
    for (int waited = 0; s_metric (f, name) < value; waited++) {
        assert_true (waited < S_WAIT_MS);
        zmq_poll (NULL, 0, 1);
    }
}

//  Sends the request tu_frame holds.
static TU_UNUSED void
s_send_frame (void *sock)
{
    assert_int_equal (zmq_send (sock, tu_frame.data, tu_frame.size, 0), (int) tu_frame.size);
}

#endif
