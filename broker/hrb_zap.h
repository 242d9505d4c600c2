/*  hrb_zap: the broker's ZAP handler (ZeroMQ RFC 27) for its CURVE sockets.

    libzmq asks it, over inproc://zeromq.zap.01 in the broker's context,
    about every client completing a CURVE handshake on PULL, ROUTER or XPUB;
    it answers 200 for a client public key in the allow-list
    (--curve-clients) and 400 for any other. libzmq then drops a refused
    client's connection: nothing it sends reaches the broker. Refusals are
    logged (rate-limited, with the key in Z85 and the peer's address) and
    counted.

    The broker's own loop serves it (hrb_server polls hrb_zap_socket): no
    thread, and the allow-list and counter belong to that loop alone. A
    handshake waits at most one turn of the loop for its answer. inproc://
    connections (the gateway of `herald run`) make no handshake and no ZAP
    request. The list is reloaded on SIGHUP (hrb_zap_reload).  */
#ifndef HRB_ZAP_H
#define HRB_ZAP_H

#include "hr_buf.h"
#include "hr_curve.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HRB_ZAP_ENDPOINT "inproc://zeromq.zap.01"
//  Frames of a request looked at (RFC 27: version, request id, domain,
//  address, routing id, mechanism, then the mechanism's credentials).
#define HRB_ZAP_FRAMES_MAX 8

//  One frame of a request; borrowed.
typedef struct {
    const void *data;
    size_t size;
} hrb_zap_frame_t;

//  The decision on one request.
typedef struct {
    const char *status;         //  "200" allowed, "400" refused, "500" malformed
    const char *text;           //  status text (static)
    bool has_key;               //  the request carried a CURVE public key
    uint8_t key [HR_CURVE_KEY_LEN];
} hrb_zap_answer_t;

//  Decides a request of count frames against keys (borrowed). Pure: no
//  I/O, no logging. Only a version "1.0" CURVE request whose credentials
//  frame is a 32-byte key in keys gets "200".
void hrb_zap_answer (const hr_curve_keys_t *keys, const hrb_zap_frame_t *frames,
                     size_t count, hrb_zap_answer_t *answer);

typedef struct _hrb_zap_t hrb_zap_t;

//  Loads the allow-list from clients (hr_curve_keys_load) and binds the
//  handler in zmq_ctx (not owned). Bind it before any CURVE server socket
//  of the context: libzmq admits every client while no handler is bound.
//  Returns NULL with a reason in err. Caller owns the handler.
hrb_zap_t *hrb_zap_new (void *zmq_ctx, const char *clients, hr_buf_t *err);

//  The handler's socket, to poll for ZMQ_POLLIN. Owned by the handler.
void *hrb_zap_socket (hrb_zap_t *self);

//  Answers the requests waiting, at most budget. Returns how many.
size_t hrb_zap_serve (hrb_zap_t *self, size_t budget);

//  Loads the allow-list again from clients (SIGHUP), in the calling thread,
//  safe from any thread; the handler answers with it from its next request
//  on (connections already admitted stay: ZAP is asked only at handshake).
//  Returns the number of keys, or -1 with a reason in err and the old list
//  kept.
int hrb_zap_reload (hrb_zap_t *self, const char *clients, hr_buf_t *err);

//  Clients refused since start.
uint64_t hrb_zap_refused (hrb_zap_t *self);

//  Client keys allowed. From the handler's thread.
size_t hrb_zap_allowed (hrb_zap_t *self);

void hrb_zap_destroy (hrb_zap_t **self_p);

#endif
