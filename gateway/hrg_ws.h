/*  hrg_ws: the WebSocket transport (GET /v1/ws), protocol herald.v1 in
    two encodings (docs/protocol.md §11): herald.v1.json and
    herald.v1.msgpack are two transports of the fan-out core, so an `ev`
    frame is rendered once per event per encoding per worker and the same
    bytes go to every subscribed socket.

    libmicrohttpd parses the upgrade request; once it is checked
    (hrg_ws_handshake) the worker takes the socket over, like an SSE
    stream's, and serves it from its epoll loop: inbound frames through
    hrg_ws_sock (wslay), messages decoded by hrg_ws_msg, each channel a
    stream of the core (subscribe, resume, replay, reset), publishes
    through the worker's broker link. hrg_ws_session.c handles the
    messages; this file the connection.  */
#ifndef HRG_WS_H
#define HRG_WS_H

#include "hrg_stream.h"
#include "hrg_ws_msg.h"

#include <microhttpd.h>

//  Handles GET /v1/ws: checks the upgrade; on success takes the socket
//  from libmicrohttpd (returning MHD_NO so it lets go of it), answers 101
//  and sends `welcome`.
enum MHD_Result hrg_ws_handle (hrg_worker_t *worker, struct MHD_Connection *mhd);

//  A new connection on fd (taken over) whose upgrade with key was
//  accepted: the 101 head and welcome are queued and the socket watched.
//  claims (taken over; NULL: none yet) are its token's from the upgrade
//  request. Owned by the worker (freed once closed, by hrg_conn_reap). The seam
//  unit tests open connections through, on a socketpair.
hrg_conn_t *hrg_ws_open (hrg_worker_t *worker, int fd, hrg_ws_format_t format,
                         const char *key, bool protocol_offered, hr_claims_t *claims);

//  The close codes the server closes with for a reason of its own, as the
//  labels of herald_ws_closed_total.
#define HRG_WS_CLOSE_LABELS 13
extern const char *const hrg_ws_close_labels [HRG_WS_CLOSE_LABELS];

//  The err codes the server answers, as the labels of herald_ws_errors_total.
#define HRG_WS_ERROR_LABELS 10
extern const char *const hrg_ws_error_labels [HRG_WS_ERROR_LABELS];

#endif
