/*  hr_revoke: revoked subjects and token ids, each until a time.

    The broker keeps the list and sends it to every gateway; a gateway
    refuses new connections whose token matches and closes live ones.
    Bounded: at most max entries; expired entries are dropped first; when
    the list is full of live entries, a new one is refused. Thread-safe:
    a gateway's workers read it while its link thread adds to it.  */
#ifndef HR_REVOKE_H
#define HR_REVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HR_REVOKE_VALUE_MAX 256         //  bytes of a sub or jti

typedef enum { HR_REVOKE_SUB = 1, HR_REVOKE_JTI } hr_revoke_kind_t;

typedef struct _hr_revoke_t hr_revoke_t;

//  A new, empty list of at most max entries. Caller owns it.
hr_revoke_t *hr_revoke_new (size_t max);
void hr_revoke_destroy (hr_revoke_t **self_p);

//  Revokes kind/value until until_s (Unix seconds); a later until extends
//  an entry. Returns 0 when added or extended, 1 when nothing changed
//  (already revoked as long), -1 when full or value is empty or too long.
int hr_revoke_add (hr_revoke_t *self, hr_revoke_kind_t kind, const char *value,
                   size_t len, int64_t until_s, int64_t now_s);

//  True when sub or jti (jti may be empty) is revoked at now_s.
bool hr_revoke_matches (hr_revoke_t *self, const char *sub, size_t sub_len,
                        const char *jti, size_t jti_len, int64_t now_s);

//  Bumped by every add that changed the list: workers compare it with the
//  value they last acted on to know when to check their connections.
uint64_t hr_revoke_generation (hr_revoke_t *self);

//  Entries live at now_s, and the bytes they hold (for /metrics).
size_t hr_revoke_count (hr_revoke_t *self, int64_t now_s);
size_t hr_revoke_bytes (hr_revoke_t *self);

//  Copies the first entry live at now_s at or after position *at into
//  kind, value (HR_REVOKE_VALUE_MAX bytes), len and until_s, and moves *at
//  past it; false when there is none. Start with *at = 0. Positions are
//  stable: an entry added during a walk may be missed (the broker sends
//  it on its own), never one that stays in the list (the broker's replay).
bool hr_revoke_next (hr_revoke_t *self, size_t *at, int64_t now_s,
                     hr_revoke_kind_t *kind, char *value, size_t *len,
                     int64_t *until_s);

#endif
