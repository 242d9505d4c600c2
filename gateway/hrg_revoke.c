/*  hrg_revoke: revocations from the broker's stream (docs/protocol.md §4.1).  */
#include "hrg_revoke.h"
#include "hrg_auth.h"
#include "hr_log.h"
#include "hr_time.h"

#include <string.h>
#include <zmq.h>

void
hrg_revoke_subscribe (hrg_worker_t *self)
{
    zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, HR_REVOKE_TOPIC, strlen (HR_REVOKE_TOPIC));
}

bool
hrg_revoke_topic (const void *topic, size_t size)
{
    return size == strlen (HR_REVOKE_TOPIC) && memcmp (topic, HR_REVOKE_TOPIC, size) == 0;
}

void
hrg_revoke_on_stream (hrg_worker_t *self, const void *body, size_t size)
{
    hr_revocation_t entries [HR_REVOKE_BATCH];
    size_t count = 0;
    hr_error_t rc = hr_revocations_decode (body, size, entries, &count);
    if (rc) {
        hr_log_limited_warn ("undecodable revocation on the broker stream",
                             "error", hr_error_code (rc));
        return;
    }
    hr_revoke_t *list = hrg_auth_revocations (self->auth);
    int64_t now = (int64_t) (hr_wall_ms () / 1000);
    for (size_t i = 0; i < count; i++)
        if (hr_revoke_add (list, entries [i].kind, entries [i].value, entries [i].len,
                           entries [i].until, now) < 0)
            hr_log_limited_warn ("revocation list full: a revocation from the broker "
                                 "is not applied", "kind",
                                 hr_revoke_kind_name (entries [i].kind));
}
