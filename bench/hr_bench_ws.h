/*  hr_bench_ws.h - WebSocket client framing for the load generator

    Decodes the frames a server sends (RFC 6455 §5: unmasked, possibly
    fragmented, control frames interleaved) from pieces of any size, and
    reports each complete data message. Builds the masked pong a client
    owes a ping. Only as much as a subscriber needs: no extensions.
*/
#ifndef HR_BENCH_WS_H_INCLUDED
#define HR_BENCH_WS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t head [14];          //  the frame header being read
    uint8_t head_len;
    bool in_payload;
    uint8_t opcode;             //  of the current frame
    bool fin;
    uint64_t left;              //  payload bytes of the current frame to come
    char *msg;                  //  data message being assembled
    uint32_t msg_len, msg_cap;
    char ctl [125];             //  control frame payload
    uint8_t ctl_len;
} hr_bench_ws_t;

typedef struct {
    void (*on_message) (void *arg, const char *data, size_t len);
    void (*on_ping) (void *arg, const char *data, size_t len);
} hr_bench_ws_sink_t;

//  Feeds bytes from the server. Returns 0, or -1 on a close frame or a
//  protocol error (masked frame, oversize control frame, message > 16 MiB).
int
    hr_bench_ws_feed (hr_bench_ws_t *self, const char *data, size_t len,
                      const hr_bench_ws_sink_t *sink, void *arg);

//  Frees the message buffer; self may be fed again afterwards.
void
    hr_bench_ws_reset (hr_bench_ws_t *self);

//  Writes a masked pong carrying payload (at most 125 bytes) into buf;
//  returns its length, or 0 when buf is too small.
size_t
    hr_bench_ws_pong (char *buf, size_t size, const char *payload, size_t len);

//  Self-test of the decoder; returns the number of failed checks.
int
    hr_bench_ws_test (bool verbose);

#endif
