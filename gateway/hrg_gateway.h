/*  hrg_gateway: the HTTP edge, a set of shared-nothing workers.

    Each worker owns an event loop, a libmicrohttpd daemon on its own
    SO_REUSEPORT listen socket, a SUB socket and a DEALER socket to the
    broker, and its connections (DESIGN.md §7). The gateway object only
    starts, stops and describes them.  */
#ifndef HRG_GATEWAY_H
#define HRG_GATEWAY_H

#include "hr_buf.h"
#include "hr_metrics.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *http;           //  HOST:PORT to listen on
    const char *broker_sub;     //  broker XPUB endpoint to connect SUB to
    const char *broker_req;     //  broker ROUTER endpoint to connect DEALER to
    const char *cors_origins;   //  "*", or comma-separated origins; "" = none
    int64_t workers;            //  0 = one per core
    int64_t max_connections;    //  per worker
    int64_t conn_memory;        //  libmicrohttpd memory per connection
    int64_t conn_timeout;       //  ms without progress before closing (not for idle SSE)
    int64_t heartbeat;          //  ms between SSE heartbeats
    int64_t sse_retry;          //  ms, the SSE retry: field
    int64_t slow_consumer_bytes;
    int64_t max_body;
    int64_t max_event;          //  bytes per publish frame: the broker's --max-event
    int64_t broker_timeout;     //  ms to wait for a broker reply
    int64_t sub_hwm;            //  SUB receive high-water mark (messages)
    int64_t recent_events;      //  events kept per channel per worker for fast resume
    int64_t recent_memory;      //  bytes of such events per worker, all channels
    int64_t held_memory;        //  bytes a channel holds while syncing or filling a gap
    int64_t catchup_memory;     //  bytes per worker held for catch-up before resumes wait
    int64_t write_interval;     //  ms: the least time between two writes to a stream
    bool demo;                  //  serve the demo page at /
} hrg_config_t;

#define HRG_CONFIG_DEFAULTS { \
    .http = "127.0.0.1:8080", .broker_sub = "tcp://127.0.0.1:5557", \
    .broker_req = "tcp://127.0.0.1:5556", .cors_origins = "", .workers = 0, \
    .max_connections = 10000, .conn_memory = 32 * 1024, .conn_timeout = 120000, \
    .heartbeat = 15000, .sse_retry = 2000, .slow_consumer_bytes = 1 << 20, \
    .max_body = 1 << 20, .max_event = 64 * 1024, .broker_timeout = 5000, .sub_hwm = 100000, \
    .recent_events = 256, .recent_memory = 64 << 20, \
    .held_memory = 16 << 20, .catchup_memory = 64 << 20, \
    .write_interval = 20, .demo = false }

typedef struct _hrg_gateway_t hrg_gateway_t;

//  Creates the workers and their listen sockets, connecting to the broker
//  in zmq_ctx (not owned). config must outlive the gateway. Returns NULL
//  with a reason in err. Caller owns the gateway.
hrg_gateway_t *hrg_gateway_new (void *zmq_ctx, const hrg_config_t *config,
                                hr_metrics_t *metrics, hr_buf_t *err);

//  Starts one thread per worker. Returns -1 if one cannot start; the ones
//  that did run until hrg_gateway_stop or hrg_gateway_destroy.
int hrg_gateway_start (hrg_gateway_t *self);

//  Closes every connection cleanly and joins the workers.
void hrg_gateway_stop (hrg_gateway_t *self);

//  "http://127.0.0.1:PORT", the address actually listened on.
const char *hrg_gateway_url (hrg_gateway_t *self);

int hrg_gateway_workers (hrg_gateway_t *self);

void hrg_gateway_destroy (hrg_gateway_t **self_p);

#endif
