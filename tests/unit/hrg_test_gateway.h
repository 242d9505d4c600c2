/*  hrg_test_gateway: a whole gateway (gateway/hrg_gateway) on a fake broker
    (hrg_fake_broker.h) over inproc://, listening on an ephemeral port of
    127.0.0.1. Made, not started: the test swaps what it needs (thread
    creation, epoll) first, then calls hrg_gateway_start.  */
#ifndef HRG_TEST_GATEWAY_H
#define HRG_TEST_GATEWAY_H

#include "hrg_gateway.h"
#include "hrg_fake_broker.h"
#include "support.h"

#include <zmq.h>

typedef struct {
    void *ctx;
    tfb_broker_t broker;
    hrg_config_t config;
    hr_metrics_t *metrics;
    hr_buf_t err;
    hrg_gateway_t *gateway;     //  the test may destroy it first (then NULL)
} tg_t;

//  A gateway of `workers` workers, not started. Caller frees with
//  tg_destroy.
static TU_UNUSED tg_t *
tg_new (int workers)
{
    tg_t *self = calloc (1, sizeof *self);
    self->ctx = zmq_ctx_new ();
    tfb_start (&self->broker, self->ctx);
    self->config = (hrg_config_t) HRG_CONFIG_DEFAULTS;
    self->config.http = "127.0.0.1:0";
    self->config.workers = workers;
    self->config.broker_sub = self->broker.sub_endpoint;
    self->config.broker_req = self->broker.req_endpoint;
    self->metrics = hr_metrics_new ();
    self->err = (hr_buf_t) HR_BUF_INIT;
    self->gateway = hrg_gateway_new (self->ctx, &self->config, self->metrics, &self->err);
    assert_non_null (self->gateway);
    return self;
}

//  Stops and frees the gateway (if the test has not), then the rest.
static TU_UNUSED void
tg_destroy (tg_t **self_p)
{
    tg_t *self = *self_p;
    if (self->gateway)
        hrg_gateway_destroy (&self->gateway);
    hr_metrics_destroy (&self->metrics);
    hr_buf_free (&self->err);
    tfb_stop (&self->broker);
    zmq_ctx_term (self->ctx);
    free (self);
    *self_p = NULL;
}

#endif
