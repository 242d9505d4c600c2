/*  hrg_ws_sock: the inbound side of one server WebSocket connection, framed
    by libwslay's event API (RFC 6455 §5). No socket and no clock: the
    connection code reads the fd and feeds the bytes here; what must go back
    (pongs, the close frame) is handed to it to queue.

    An idle connection costs only this small struct (hrg_ws_sock_memory):
    wslay's context, with its two 4 KB buffers, exists only while a frame or
    a fragmented message is partly received, and is freed as soon as every
    byte fed belongs to complete frames and no message is in progress.

    What is checked, and the close code each failure gets: client frames
    unmasked, RSV bits set, unknown opcodes, control frames over 125 bytes
    or fragmented, a continuation without a start or a new message inside a
    fragmented one, a length not in its shortest form, a close frame with a
    1-byte payload or an invalid status code: 1002. A text message that is
    not UTF-8 (checked across fragments as they arrive), or a close reason
    that is not: 1007. A message over max_message: 1009. Out of memory:
    1011.  */
#ifndef HRG_WS_SOCK_H
#define HRG_WS_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _hrg_ws_sock_t hrg_ws_sock_t;

//  Both callbacks are called only from inside hrg_ws_sock_feed, and must not
//  call hrg_ws_sock_feed or hrg_ws_sock_destroy on the same socket (they may
//  call hrg_ws_sock_stop).
typedef struct {
    //  A complete data message (fragments reassembled): opcode 1 text (UTF-8
    //  already validated) or 2 binary. data is valid only during the call
    //  (never NULL, even when size is 0).
    void (*on_message) (void *arg, int opcode, const uint8_t *data, size_t size);
    //  Bytes that must go to the peer (a pong answering a ping, the close
    //  frame): whole unmasked frames, one or more per call. The caller
    //  appends them to its own outbound queue, in order, after whatever it
    //  queued before. data is valid only during the call.
    void (*send) (void *arg, const uint8_t *data, size_t size);
} hrg_ws_sock_ops_t;

//  max_message bounds a reassembled message (and so a single frame's
//  payload); below 125 it is raised to 125, as wslay applies it to control
//  frames too and those may carry 125 bytes. ops is borrowed and must outlive the socket (a
//  static table); arg is passed to its callbacks. Caller owns the result
//  (never NULL: running out of memory aborts, as in hr_buf).
hrg_ws_sock_t *hrg_ws_sock_new (size_t max_message, const hrg_ws_sock_ops_t *ops, void *arg);

//  Frees the socket and anything it holds; sets *self_p to NULL.
void hrg_ws_sock_destroy (hrg_ws_sock_t **self_p);

//  Feeds bytes read from the socket, split anywhere; data is borrowed for
//  the call. Complete messages go to ops->on_message, in order, during the
//  call. Returns 0 to go on, or a close code once the connection must end:
//  the peer's code (1000 when its close frame had none) after the peer's
//  close frame was answered with a close frame; else 1002, 1007, 1009 or
//  1011 as listed above. In every case the close frame has already been
//  passed to ops->send when it returns, so the caller writes it and
//  closes. After a non-zero return, further feeds do nothing and return the
//  same code.
int hrg_ws_sock_feed (hrg_ws_sock_t *self, const uint8_t *data, size_t size);

//  Ends the connection for a reason of the caller's (a bad message, a
//  rate limit), also from inside on_message: from then on no on_message or
//  send call comes, not even for the rest of the bytes being fed, and feed
//  returns code (non-zero). The caller sends its own close frame.
void hrg_ws_sock_stop (hrg_ws_sock_t *self, int code);

//  Control frames (ping, pong, close) received since the socket was made:
//  a rate limit counts them with the messages.
uint64_t hrg_ws_sock_controls (const hrg_ws_sock_t *self);

//  True while a frame or a fragmented message is partly received (wslay's
//  context is alive).
bool hrg_ws_sock_busy (const hrg_ws_sock_t *self);

//  Bytes this socket holds now: its struct, plus wslay's context and the
//  message being reassembled while busy (for /metrics).
size_t hrg_ws_sock_memory (const hrg_ws_sock_t *self);

#endif
