/*  hr_revoke: the revocation list (docs/security.md, Revocation).

    Entries sit in a slot array (grown by doubling up to max) so that a walk
    by position (hr_revoke_next) stays valid while the list changes; a
    chained hash over (kind, value) indexes them, so a lookup is O(1) on
    every new connection. Freed slots go to a free list. Expired entries
    stay until something needs their room or counts them: each purge is a
    full pass, but runs only once the earliest until has passed.  */
#include "hr_revoke.h"
#include "hr_buf.h"
#include "hr_hash.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define S_NONE UINT32_MAX
#define S_FIRST_BUCKETS 16

typedef struct {
    char *value;                //  NULL: a free slot
    int64_t until;              //  Unix seconds; live while now < until
    uint32_t next;              //  bucket chain, or free list
    uint16_t len;
    uint8_t kind;
} s_entry_t;

struct _hr_revoke_t {
    pthread_mutex_t mutex;
    size_t max;
    s_entry_t *entries;
    size_t slots;               //  slots ever used (entries [0..slots))
    size_t cap;                 //  slots allocated
    uint32_t *buckets;
    size_t bucket_count;        //  a power of two
    uint32_t free_head;
    size_t count;               //  entries held, expired or not
    size_t value_bytes;
    int64_t next_expiry;        //  earliest until held; INT64_MAX when none
    _Atomic uint64_t generation;
};

hr_revoke_t *
hr_revoke_new (size_t max)
{
    assert (max > 0 && max < S_NONE);
    hr_revoke_t *self = hr_calloc (1, sizeof *self);
    pthread_mutex_init (&self->mutex, NULL);
    self->max = max;
    self->bucket_count = S_FIRST_BUCKETS;
    self->buckets = hr_calloc (self->bucket_count, sizeof *self->buckets);
    memset (self->buckets, 0xff, self->bucket_count * sizeof *self->buckets);
    self->free_head = S_NONE;
    self->next_expiry = INT64_MAX;
    return self;
}

void
hr_revoke_destroy (hr_revoke_t **self_p)
{
    hr_revoke_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->slots; i++)
        free (self->entries [i].value);
    free (self->entries);
    free (self->buckets);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

static uint32_t
s_hash (hr_revoke_kind_t kind, const char *value, size_t len)
{
    uint8_t k = (uint8_t) kind;
    return hr_fnv1a (hr_fnv1a (HR_FNV1A_SEED, &k, 1), value, len);
}

static uint32_t *
s_bucket (hr_revoke_t *self, uint32_t hash)
{
    return &self->buckets [hash & (self->bucket_count - 1)];
}

//  The slot of kind/value, or S_NONE.
static uint32_t
s_find (hr_revoke_t *self, hr_revoke_kind_t kind, const char *value, size_t len)
{
    for (uint32_t at = *s_bucket (self, s_hash (kind, value, len)); at != S_NONE;
         at = self->entries [at].next) {
        s_entry_t *entry = &self->entries [at];
        if (entry->kind == kind && entry->len == len && memcmp (entry->value, value, len) == 0)
            return at;
    }
    return S_NONE;
}

static void
s_link (hr_revoke_t *self, uint32_t at)
{
    s_entry_t *entry = &self->entries [at];
    uint32_t *bucket = s_bucket (self, s_hash (entry->kind, entry->value, entry->len));
    entry->next = *bucket;
    *bucket = at;
}

//  Doubles the buckets once entries outnumber them (chains stay short).
static void
s_grow_buckets (hr_revoke_t *self)
{
    free (self->buckets);
    self->bucket_count *= 2;
    self->buckets = hr_calloc (self->bucket_count, sizeof *self->buckets);
    memset (self->buckets, 0xff, self->bucket_count * sizeof *self->buckets);
    for (size_t i = 0; i < self->slots; i++)
        if (self->entries [i].value)
            s_link (self, (uint32_t) i);
}

//  Drops every entry expired at now, when one may be.
static void
s_purge (hr_revoke_t *self, int64_t now)
{
    if (now < self->next_expiry)
        return;
    int64_t next = INT64_MAX;
    for (size_t b = 0; b < self->bucket_count; b++) {
        uint32_t *link = &self->buckets [b];
        while (*link != S_NONE) {
            s_entry_t *entry = &self->entries [*link];
            if (entry->until > now) {
                if (entry->until < next)
                    next = entry->until;
                link = &entry->next;
                continue;
            }
            uint32_t at = *link;
            *link = entry->next;
            self->value_bytes -= entry->len;
            free (entry->value);
            entry->value = NULL;
            entry->next = self->free_head;
            self->free_head = at;
            self->count--;
        }
    }
    self->next_expiry = next;
}

//  A free slot (the list is under max).
static uint32_t
s_take_slot (hr_revoke_t *self)
{
    if (self->free_head != S_NONE) {
        uint32_t at = self->free_head;
        self->free_head = self->entries [at].next;
        return at;
    }
    if (self->slots == self->cap) {
        size_t cap = self->cap? self->cap * 2: 16;
        if (cap > self->max)
            cap = self->max;
        s_entry_t *entries = realloc (self->entries, cap * sizeof *entries);
        if (!entries)
            abort ();
        self->entries = entries;
        self->cap = cap;
    }
    return (uint32_t) self->slots++;
}

int
hr_revoke_add (hr_revoke_t *self, hr_revoke_kind_t kind, const char *value, size_t len,
               int64_t until_s, int64_t now_s)
{
    if (len == 0 || len > HR_REVOKE_VALUE_MAX
    ||  (kind != HR_REVOKE_SUB && kind != HR_REVOKE_JTI))
        return -1;
    pthread_mutex_lock (&self->mutex);
    int rc = 1;
    uint32_t at = s_find (self, kind, value, len);
    if (at != S_NONE) {
        s_entry_t *entry = &self->entries [at];
        if (until_s > entry->until) {
            entry->until = until_s;
            rc = 0;
        }
    }
    else
    if (until_s > now_s) {              //  an expired revocation changes nothing
        if (self->count == self->max)
            s_purge (self, now_s);
        if (self->count == self->max)
            rc = -1;
        else {
            at = s_take_slot (self);
            s_entry_t *entry = &self->entries [at];
            *entry = (s_entry_t) {
                .value = hr_calloc (1, len), .until = until_s,
                .len = (uint16_t) len, .kind = (uint8_t) kind,
            };
            memcpy (entry->value, value, len);
            s_link (self, at);
            self->count++;
            self->value_bytes += len;
            if (until_s < self->next_expiry)
                self->next_expiry = until_s;
            if (self->count > self->bucket_count)
                s_grow_buckets (self);
            rc = 0;
        }
    }
    if (rc == 0)
        atomic_fetch_add (&self->generation, 1);
    pthread_mutex_unlock (&self->mutex);
    return rc;
}

//  True when kind/value is held live at now. Under the lock.
static bool
s_live (hr_revoke_t *self, hr_revoke_kind_t kind, const char *value, size_t len, int64_t now)
{
    if (len == 0 || len > HR_REVOKE_VALUE_MAX)
        return false;
    uint32_t at = s_find (self, kind, value, len);
    return at != S_NONE && self->entries [at].until > now;
}

bool
hr_revoke_matches (hr_revoke_t *self, const char *sub, size_t sub_len, const char *jti,
                   size_t jti_len, int64_t now_s)
{
    pthread_mutex_lock (&self->mutex);
    bool match = (sub && s_live (self, HR_REVOKE_SUB, sub, sub_len, now_s))
              || (jti && s_live (self, HR_REVOKE_JTI, jti, jti_len, now_s));
    pthread_mutex_unlock (&self->mutex);
    return match;
}

uint64_t
hr_revoke_generation (hr_revoke_t *self)
{
    return atomic_load (&self->generation);
}

size_t
hr_revoke_count (hr_revoke_t *self, int64_t now_s)
{
    pthread_mutex_lock (&self->mutex);
    s_purge (self, now_s);
    size_t count = self->count;
    pthread_mutex_unlock (&self->mutex);
    return count;
}

size_t
hr_revoke_bytes (hr_revoke_t *self)
{
    pthread_mutex_lock (&self->mutex);
    size_t bytes = sizeof *self + self->cap * sizeof (s_entry_t)
                 + self->bucket_count * sizeof (uint32_t) + self->value_bytes;
    pthread_mutex_unlock (&self->mutex);
    return bytes;
}

bool
hr_revoke_next (hr_revoke_t *self, size_t *at, int64_t now_s, hr_revoke_kind_t *kind,
                char *value, size_t *len, int64_t *until_s)
{
    pthread_mutex_lock (&self->mutex);
    bool found = false;
    size_t i = *at;
    for (; i < self->slots && !found; i++) {
        s_entry_t *entry = &self->entries [i];
        if (!entry->value || entry->until <= now_s)
            continue;
        *kind = (hr_revoke_kind_t) entry->kind;
        memcpy (value, entry->value, entry->len);
        *len = entry->len;
        *until_s = entry->until;
        found = true;
    }
    *at = i;
    pthread_mutex_unlock (&self->mutex);
    return found;
}
