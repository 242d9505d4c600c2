/*  hrg_fetch: pages of a channel's history fetched from the broker for
    catch-up (resumes, GET /v1/history), shared and bounded.

    A page is the broker's answer to "events of channel ch after seq since
    in epoch": everyone on the worker who asks for the same (ch, epoch,
    since) while the page is in flight or still held shares it, so one
    broker request serves them all. A page keeps the events it decoded,
    at most about the byte budget it was asked with (at least one event).

    Memory held for catch-up (pages, and what owners report with
    hrg_fetch_hold) is counted per worker in herald_catchup_bytes. Over
    --catchup-memory, catch-ups that need a new page wait in a FIFO
    (herald_catchup_waiting) until memory is released: they are not
    refused.  */
#ifndef HRG_FETCH_H
#define HRG_FETCH_H

#include "hrg_event.h"
#include "hrg_worker.h"

typedef struct _hrg_page_t hrg_page_t;

//  Called once when the page is ready (reply, timeout or shutdown). The
//  caller still holds its reference and releases it when done.
typedef void (hrg_page_fn) (void *arg, hrg_page_t *page);

//  The page of ch after since in epoch (NULL: whatever the broker has) of
//  at most limit events and about budget bytes, with a new reference for
//  the caller. If the page is not ready yet, fn (arg, page) is called once
//  when it is, unless the caller releases it first; if it is ready, fn is
//  never called. Returns NULL when no broker is connected (nothing to
//  release, fn never called).
hrg_page_t *hrg_page_get (hrg_worker_t *worker, const char *ch, const char *epoch,
                          uint64_t since, uint64_t limit, uint64_t budget,
                          hrg_page_fn *fn, void *arg);

//  Drops the caller's reference (and its callback, if the page is still in
//  flight); the last one frees the page and cancels its broker request.
//  arg must be the one given to hrg_page_get. Accepts *page_p NULL.
void hrg_page_release (hrg_page_t **page_p, void *arg);

//  True when hrg_page_get (with this limit: 0 is a probe) would share a
//  page already in flight or held.
bool hrg_page_exists (hrg_worker_t *worker, const char *ch, const char *epoch,
                      uint64_t since, uint64_t limit);

bool hrg_page_ready (const hrg_page_t *self);

//  Ready pages only. HR_RESET_UNAVAILABLE when the broker did not answer or
//  answered with an error; HR_RESET_NONE for events.
hr_reset_t hrg_page_reset (const hrg_page_t *self);

//  Ready pages only: the broker answered from an epoch older than the one
//  asked for (it lags behind another broker). Its reset is unavailable and
//  it is not shared: asking again gets a new page.
bool hrg_page_stale (const hrg_page_t *self);

//  How many stale answers in a row a catch-up or a gap fill asks past
//  before it gives up with `unavailable`.
#define HRG_STALE_RETRIES 3

//  The reply's epoch ("" when the broker has no such channel), borrowed.
const char *hrg_page_epoch (const hrg_page_t *self);
uint64_t hrg_page_since (const hrg_page_t *self);
uint64_t hrg_page_first (const hrg_page_t *self);
uint64_t hrg_page_head (const hrg_page_t *self);

//  Events (never head markers), in the broker's order, all of the reply's
//  epoch; borrowed, valid while the caller holds its reference.
size_t hrg_page_count (const hrg_page_t *self);
hrg_event_t *hrg_page_event (const hrg_page_t *self, size_t index);

//  Bytes the page's events take (what it counts in herald_catchup_bytes).
uint64_t hrg_page_bytes (const hrg_page_t *self);

//  How many events to ask for: about budget bytes at avg bytes per event
//  (0: not known yet), at most remaining and HR_HISTORY_LIMIT_MAX, at least 1.
uint64_t hrg_fetch_limit (uint64_t budget, uint64_t avg, uint64_t remaining);

//  Bytes one catch-up (a resuming connection, a history response) keeps
//  queued or rendered before it waits for its socket: half of
//  --slow-consumer-bytes, so catch-up alone never makes a slow consumer.
uint64_t hrg_fetch_budget (hrg_worker_t *worker);

//  Adds delta (may be negative) to the worker's bytes held for catch-up:
//  what a catch-up keeps besides pages (queued replays, rendered history).
void hrg_fetch_hold (hrg_worker_t *worker, int64_t delta);

//  True when the worker holds --catchup-memory or more for catch-up.
bool hrg_fetch_over_cap (hrg_worker_t *worker);

//  A catch-up waiting for memory. fn (arg) is called once when admitted;
//  admitted stays true until the owner clears it, so its next page goes
//  ahead even if memory is over the cap again by then.
typedef struct _hrg_waiter_t hrg_waiter_t;
struct _hrg_waiter_t {
    hr_list_t node;             //  in the worker's waiting, while queued
    bool queued;
    bool admitted;
    void (*fn) (void *arg);
    void *arg;
};

//  Queues self (its fn and arg set) at the end of the worker's FIFO; does
//  nothing when it is already queued.
void hrg_fetch_wait (hrg_worker_t *worker, hrg_waiter_t *self);

//  Leaves the FIFO (a waiter that goes away); no-op when not queued.
void hrg_fetch_unwait (hrg_worker_t *worker, hrg_waiter_t *self);

//  Admits the first waiter while under the cap (one per call, so each
//  admitted catch-up can take its page before the next is let in).
void hrg_fetch_admit (hrg_worker_t *worker);

//  True when a catch-up waits and memory is under the cap: the worker's
//  loop must not sleep before hrg_fetch_admit runs.
bool hrg_fetch_admittable (hrg_worker_t *worker);

//  Admits every waiter whatever the cap (the worker is stopping).
void hrg_fetch_admit_all (hrg_worker_t *worker);

#endif
