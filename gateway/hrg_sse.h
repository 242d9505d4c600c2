/*  hrg_sse: Server-Sent Events connections (GET /v1/sse).

    A connection starts CATCHING_UP: it waits for its channels to sync,
    replays what its cursor missed (from a channel's recent events or the
    broker's history), and then joins its subscription group. Its private
    frames (retry, replays, resets, the first id) come before the group's.
    Output goes through libmicrohttpd's content reader; an idle connection
    is suspended and resumed in batches (DESIGN.md §7).  */
#ifndef HRG_SSE_H
#define HRG_SSE_H

#include "hrg_event.h"
#include "hrg_frame.h"
#include "hrg_worker.h"
#include "hr_cursor.h"

struct _hrg_conn_t {
    hrg_worker_t *worker;
    struct MHD_Connection *mhd;
    hr_chanset_t *set;          //  owned until joining; then the group's
    hrg_channel_t **channels;   //  owned array, a reference on each channel
    //  Catching up only (NULL once live):
    hr_position_t *positions;   //  where the client is, per channel
    uint64_t *fetches;          //  history request in flight per channel, 0 if none
    uint8_t *checked;           //  per channel: broker confirmed the position exists
    bool fresh;                 //  no cursor: start at the live position
    hrg_chain_t own;            //  private frames
    hrg_reader_t own_reader;
    hrg_group_t *group;         //  NULL while catching up
    hrg_reader_t live_reader;
    hrg_conn_t *group_prev, *group_next;
    hrg_conn_t *prev, *next;    //  the worker's list of connections
    hrg_conn_t *dirty_next;
    bool dirty;
    bool suspended;
    bool closing;
    uint64_t last_frame_ms;     //  monotonic, for heartbeats while catching up
};

//  Handles GET /v1/sse: validates channels and cursor, queues the stream.
enum MHD_Result hrg_sse_handle (hrg_worker_t *worker, struct MHD_Connection *mhd);

//  Re-examines a catching-up connection after one of its channels synced
//  or advanced; joins its group once it is level.
void hrg_sse_catch_up (hrg_conn_t *self);

//  Resumes the connection if libmicrohttpd has it suspended.
void hrg_sse_wake (hrg_conn_t *self);

//  Closes the connection at the next opportunity (slow consumer, shutdown).
void hrg_sse_close (hrg_conn_t *self);

//  Wakes connections with new private frames.
void hrg_sse_wake_dirty (hrg_worker_t *worker);

//  Closes slow consumers; sends heartbeats to connections still catching up.
void hrg_sse_sweep (hrg_worker_t *worker, uint64_t now_ms);

//  Closes every connection (worker shutdown).
void hrg_sse_close_all (hrg_worker_t *worker);

//  "id: CURSOR\ndata: JSON\n\n" into out.
void hrg_sse_format_event (hr_buf_t *out, const char *cursor, size_t cursor_len,
                           const hrg_event_t *ev);

//  "event: herald-reset\nid: CURSOR\ndata: {...}\n\n" into out.
void hrg_sse_format_reset (hr_buf_t *out, const char *cursor, size_t cursor_len,
                           const char *channel, hr_reset_t reason,
                           const char *epoch, uint64_t seq);

#endif
