/*  hr_bench_ws.h - WebSocket client framing for the load generator

    Decodes the frames a server sends (RFC 6455 §5: unmasked, possibly
    fragmented, control frames interleaved) from pieces of any size, and
    reports each complete data message. Builds the masked frames a client
    sends (a pong, Herald's sub and pong messages) and tells which of
    Herald's herald.v1.json messages a text frame holds. Only as much as a
    subscriber needs: no extensions.
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

//  Opcodes of the frames a client sends.
enum { HR_BENCH_WS_OP_TEXT = 1, HR_BENCH_WS_OP_PONG = 10 };

//  Writes a masked client frame (FIN set) with the given opcode into buf;
//  returns its length, or 0 when buf is too small, the payload is over
//  65535 bytes, or a control frame's payload is over 125.
size_t
    hr_bench_ws_frame (char *buf, size_t size, int opcode, const char *payload,
                       size_t len);

//  Herald message types (herald.v1.json), as bits.
enum {
    HR_BENCH_WS_WELCOME = 1, HR_BENCH_WS_OK = 2, HR_BENCH_WS_EV = 4, HR_BENCH_WS_PING = 8,
    HR_BENCH_WS_ERR = 16, HR_BENCH_WS_BYE = 32, HR_BENCH_WS_RESET = 64
};

//  Returns the set of Herald message types in a text message (one message
//  or an array of them), found by their "t":"..." member.
unsigned
    hr_bench_ws_herald_types (const char *msg, size_t len);

//  Self-test of the decoder; returns the number of failed checks.
int
    hr_bench_ws_test (bool verbose);

#endif
