/*  hrb_revoke: revocations on the broker: the list, the live broadcast
    and the replay that brings a gateway that (re)connects up to date.  */
#include "hrb_revoke.h"
#include "hr_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _hrb_revokes_t {
    hr_revoke_t *list;
    bool pending;               //  a replay is asked for
    bool running;               //  a replay is under way, at position at
    size_t at;
    uint64_t next_full_ms;      //  wall clock of the next periodic replay
    hr_buf_t body;
    hr_revocation_t batch [HR_REVOKE_BATCH];
    char values [HR_REVOKE_BATCH][HR_REVOKE_VALUE_MAX];
};

hrb_revokes_t *
hrb_revokes_new (size_t max)
{
    hrb_revokes_t *self = hr_calloc (1, sizeof *self);
    self->list = hr_revoke_new (max);
    return self;
}

void
hrb_revokes_destroy (hrb_revokes_t **self_p)
{
    hrb_revokes_t *self = *self_p;
    if (!self)
        return;
    hr_revoke_destroy (&self->list);
    hr_buf_free (&self->body);
    free (self);
    *self_p = NULL;
}

hr_error_t
hrb_revokes_add (hrb_revokes_t *self, const hr_request_t *req, int64_t now_s,
                 hrb_revokes_send_fn *send, void *arg, const char **message)
{
    if (req->until <= now_s) {
        *message = "until is not in the future: nothing to revoke";
        return HR_E_BAD_FIELD;
    }
    if (hr_revoke_add (self->list, req->kind, req->value, req->value_len, req->until,
                       now_s) < 0) {
        *message = "the broker keeps --revoke-max revocations, all live: "
                   "wait for some to expire or raise --revoke-max";
        return HR_E_OVERLOADED;
    }
    char until [24];
    snprintf (until, sizeof until, "%lld", (long long) req->until);
    hr_log_limited_info ("revocation", "kind", hr_revoke_kind_name (req->kind), "until", until);
    hr_revocation_t entry = { req->kind, req->value, req->value_len, req->until };
    hr_buf_reset (&self->body);
    hr_revocations_encode (&self->body, &entry, 1);
    send (arg, &self->body);
    return HR_OK;
}

void
hrb_revokes_subscribed (hrb_revokes_t *self)
{
    self->pending = true;
}

bool
hrb_revokes_replay (hrb_revokes_t *self, int64_t now_s, uint64_t now_ms, size_t budget,
                    hrb_revokes_send_fn *send, void *arg)
{
    if (now_ms >= self->next_full_ms)
        self->pending = true;
    if (!self->running) {
        if (!self->pending)
            return false;
        self->pending = false;
        self->running = true;
        self->at = 0;
        self->next_full_ms = now_ms + HRB_REVOKE_REPLAY_MS;
    }
    for (size_t sent = 0; sent < budget; ) {
        size_t count = 0;
        while (count < HR_REVOKE_BATCH) {
            hr_revocation_t *entry = &self->batch [count];
            if (!hr_revoke_next (self->list, &self->at, now_s, &entry->kind,
                                 self->values [count], &entry->len, &entry->until))
                break;
            entry->value = self->values [count++];
        }
        if (count) {
            hr_buf_reset (&self->body);
            hr_revocations_encode (&self->body, self->batch, count);
            send (arg, &self->body);
        }
        sent += count;
        if (count < HR_REVOKE_BATCH) {
            self->running = false;
            return self->pending;       //  asked for again meanwhile: go round once more
        }
    }
    return true;
}

hr_revoke_t *
hrb_revokes_list (hrb_revokes_t *self)
{
    return self->list;
}
