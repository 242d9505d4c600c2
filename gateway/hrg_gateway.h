/*  hrg_gateway: the HTTP edge, a set of shared-nothing workers.

    Each worker owns an event loop, a libmicrohttpd daemon on its own
    SO_REUSEPORT listen socket, a SUB socket and a DEALER socket to the
    broker, and its connections (docs/architecture.md §5.2). The gateway object only
    starts, stops and describes them.  */
#ifndef HRG_GATEWAY_H
#define HRG_GATEWAY_H

#include "hrg_config.h"
#include "hr_buf.h"
#include "hr_metrics.h"

#include <stdbool.h>
#include <stdint.h>

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

//  Reloads what SIGHUP reloads (the token keys). On failure the old keys
//  stay and err says why; returns -1.
int hrg_gateway_reload (hrg_gateway_t *self, hr_buf_t *err);

//  True when no token keys are configured: anyone may read and publish.
bool hrg_gateway_open (hrg_gateway_t *self);

void hrg_gateway_destroy (hrg_gateway_t **self_p);

#endif
