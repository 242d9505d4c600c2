/*  hrg_test_worker: a gateway worker built by hand for unit tests.

    Only what the gateway's modules touch on a worker: config (defaults),
    metrics (every id registered), channels and groups tables, an epoll
    set, and a real SUB socket and hrg_link connected to a fake broker
    (hrg_fake_broker.h) over inproc://. No thread, no libmicrohttpd: the
    test drives the worker's modules and the fake in turn. Change config
    before the code under test reads it.  */
#ifndef HRG_TEST_WORKER_H
#define HRG_TEST_WORKER_H

#include "hrg_fake_broker.h"
#include "hrg_link.h"
#include "hrg_worker.h"
#include "hrg_ws.h"
#include "support.h"

#include <sys/epoll.h>
#include <unistd.h>
#include <zmq.h>

typedef struct {
    void *ctx;
    tfb_broker_t broker;
    hrg_config_t config;
    hr_metrics_t *metrics;
    hrg_metric_ids_t ids;
    hrg_worker_t worker;
} tw_t;

//  Registers every metric id: plain ones as gauges named m<i>, then resets,
//  errors and the WebSocket closes and errors labeled (their ids are
//  consecutive per label).
static TU_UNUSED void
tw_register (hrg_metric_ids_t *ids, hr_metrics_t *metrics)
{
    static char names [64][16];
    const char *reasons [HR_RESET_COUNT], *codes [HR_E_COUNT];
    for (int i = 0; i < HR_RESET_COUNT; i++)
        reasons [i] = hr_reset_name ((hr_reset_t) i);
    for (int i = 0; i < HR_E_COUNT; i++)
        codes [i] = hr_error_code ((hr_error_t) i);
    int *all = (int *) ids;
    size_t count = sizeof *ids / sizeof (int);
    assert_true (count <= 64);
    for (size_t i = 0; i < count; i++) {
        snprintf (names [i], sizeof names [i], "m%zu", i);
        all [i] = hr_metrics_add (metrics, names [i], HR_METRIC_GAUGE, "");
    }
    ids->resets = hr_metrics_add_labeled (metrics, "resets", HR_METRIC_COUNTER, "", "reason",
                                          reasons + 1, HR_RESET_COUNT - 1);
    ids->errors = hr_metrics_add_labeled (metrics, "errors", HR_METRIC_COUNTER, "", "code",
                                          codes + 1, HR_E_COUNT - 1);
    //  Counted per label too (base + label index): one gauge would spill
    ids->ws_closes = hr_metrics_add_labeled (metrics, "ws_closes", HR_METRIC_COUNTER, "",
                                             "code", hrg_ws_close_labels,
                                             HRG_WS_CLOSE_LABELS);
    ids->ws_errors = hr_metrics_add_labeled (metrics, "ws_errors", HR_METRIC_COUNTER, "",
                                             "code", hrg_ws_error_labels,
                                             HRG_WS_ERROR_LABELS);
}

static TU_UNUSED int64_t
tw_metric (tw_t *self, int id)
{
    return hr_metrics_value (self->metrics, id);
}

//  Makes self (zeroed, e.g. embedded in a test's fixture) a worker on a
//  new fake broker; link_id must be unique in the process (it names the
//  link's monitor endpoint). Undo with tw_fini.
static TU_UNUSED void
tw_init (tw_t *self, int link_id)
{
    self->ctx = zmq_ctx_new ();
    tfb_start (&self->broker, self->ctx);
    self->config = (hrg_config_t) HRG_CONFIG_DEFAULTS;
    self->config.broker_timeout = 1000;
    self->metrics = hr_metrics_new ();
    tw_register (&self->ids, self->metrics);
    hrg_worker_t *w = &self->worker;
    hrg_worker_lists_init (w);
    w->config = &self->config;
    w->metrics = self->metrics;
    w->m = &self->ids;
    w->shard = hr_metrics_shard (self->metrics);
    w->channels = zhashx_new ();
    w->groups = zhashx_new ();
    w->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    w->sub = zmq_socket (self->ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt (w->sub, ZMQ_SNDHWM, &zero, sizeof zero);     //  as hrg_worker.c
    zmq_setsockopt (w->sub, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal (zmq_connect (w->sub, self->broker.sub_endpoint), 0);
    hr_buf_t err = HR_BUF_INIT;
    w->link = hrg_link_new (self->ctx, self->broker.req_endpoint, "", "",
                            (uint64_t) self->config.broker_timeout, link_id, &err);
    assert_non_null (w->link);
    hr_buf_free (&err);
    w->linked = true;
}

//  Frees what tw_init made; the test has released every channel and
//  connection first.
static TU_UNUSED void
tw_fini (tw_t *self)
{
    hrg_worker_t *w = &self->worker;
    hrg_link_destroy (&w->link);
    zmq_close (w->sub);
    close (w->epoll_fd);
    zhashx_destroy (&w->channels);
    zhashx_destroy (&w->groups);
    hr_buf_free (&w->scratch);
    hr_buf_free (&w->cursor);
    tfb_stop (&self->broker);
    zmq_ctx_term (self->ctx);
    hr_metrics_destroy (&self->metrics);
}

//  A new worker on a new fake broker (see tw_init). Caller frees with
//  tw_destroy.
static TU_UNUSED tw_t *
tw_new (int link_id)
{
    tw_t *self = calloc (1, sizeof *self);
    tw_init (self, link_id);
    return self;
}

static TU_UNUSED void
tw_destroy (tw_t **self_p)
{
    tw_fini (*self_p);
    free (*self_p);
    *self_p = NULL;
}

#endif
