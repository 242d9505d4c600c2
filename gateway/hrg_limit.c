/*  hrg_limit: connections per client address and publishes per token per
    second, gateway-wide. Two hash tables of 16-byte keys (an IPv6 or
    v4-mapped address; a keyed BLAKE2b of the publish key), open addressing
    with linear probing, each behind its own mutex.  */
#include "hrg_limit.h"
#include "hr_buf.h"
#include "hr_list.h"
#include "hr_time.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_KEY 16
//  Slots of an empty table; it grows past ¾ full and shrinks under ⅛.
#define S_MIN_SLOTS 64
//  Idle buckets forgotten per publish at most: the lock is held briefly.
#define S_EVICT_STEP 16
//  The largest cost of one request, in publishes.
#define S_MAX_COUNT 1000000

//  Every entry of a table begins with its key.
typedef struct {
    uint8_t key [S_KEY];
} s_entry_t;

typedef struct {
    void **slots;               //  entries (not owned here), NULL = empty
    size_t size;                //  slots: a power of two
    size_t count;               //  entries
    unsigned char seed [crypto_shorthash_KEYBYTES];
} s_table_t;

typedef struct {
    uint8_t key [S_KEY];        //  IPv6, or IPv4 mapped (::ffff:a.b.c.d)
    uint32_t count;             //  holds: connections open from it
    hrg_limit_hold_t handle;    //  its place in handles
} s_addr_t;

typedef struct {
    uint8_t key [S_KEY];        //  keyed BLAKE2b of the publish key
    int64_t tokens;             //  thousandths of a publish; below 0: owing
    uint64_t stamp_ms;          //  tokens as of then (monotonic)
    hr_list_t node;             //  in lru, least recently used first
} s_bucket_t;

struct _hrg_limit_t {
    int64_t per_ip;             //  --max-connections-per-ip, 0 = none
    int64_t rate;               //  --publish-rate, 0 = none
    pthread_mutex_t addr_mutex;
    s_table_t addrs;            //  of s_addr_t, owned
    //  Holds are 32-bit handles (they fit a connection struct's padding):
    //  handle h is handles [h]; freed handles are reused first, so the
    //  array follows the most addresses open at once (it never shrinks)
    s_addr_t **handles;
    uint32_t handles_size;      //  allocated; [0] is never used
    uint32_t handles_used;      //  handed out at least once: [1, used)
    uint32_t *free_handles;     //  a stack, as large as handles
    uint32_t free_count;
    pthread_mutex_t bucket_mutex;
    s_table_t buckets;          //  of s_bucket_t, owned
    hr_list_t lru;
    size_t bucket_max;
    unsigned char bucket_seed [crypto_generichash_KEYBYTES];
    _Atomic size_t addr_bytes;  //  each table's bytes, stored under its mutex
    _Atomic size_t bucket_bytes;
    //  Its own shard, written under shard_mutex: shards are single-writer
    hr_metrics_shard_t *shard;
    pthread_mutex_t shard_mutex;
    int limited;                //  herald_limited_total{limit}: +0 connections, +1 publish
    int bytes;                  //  herald_limit_bytes
};

//  The socket context of a connection refused at open: never a handle.
#define S_OVER UINT32_MAX

//  --- The tables

static void
s_table_init (s_table_t *table)
{
    table->size = S_MIN_SLOTS;
    table->count = 0;
    table->slots = hr_calloc (table->size, sizeof (void *));
    randombytes_buf (table->seed, sizeof table->seed);
}

static size_t
s_home (const s_table_t *table, const uint8_t *key)
{
    //  Keyed (SipHash): clients pick the keys, and must not pick collisions
    uint64_t hash;
    crypto_shorthash ((unsigned char *) &hash, key, S_KEY, table->seed);
    return (size_t) hash & (table->size - 1);
}

static void *
s_table_find (const s_table_t *table, const uint8_t *key)
{
    size_t mask = table->size - 1;
    for (size_t i = s_home (table, key); table->slots [i]; i = (i + 1) & mask)
        if (memcmp (((s_entry_t *) table->slots [i])->key, key, S_KEY) == 0)
            return table->slots [i];
    return NULL;
}

static void
s_table_place (s_table_t *table, void *entry)
{
    size_t mask = table->size - 1;
    size_t i = s_home (table, ((s_entry_t *) entry)->key);
    while (table->slots [i])
        i = (i + 1) & mask;
    table->slots [i] = entry;
}

static void
s_table_resize (s_table_t *table, size_t size)
{
    void **old = table->slots;
    size_t old_size = table->size;
    table->slots = hr_calloc (size, sizeof (void *));
    table->size = size;
    for (size_t i = 0; i < old_size; i++)
        if (old [i])
            s_table_place (table, old [i]);
    free (old);
}

static void
s_table_insert (s_table_t *table, void *entry)
{
    if ((table->count + 1) * 4 > table->size * 3)
        s_table_resize (table, table->size * 2);
    s_table_place (table, entry);
    table->count++;
}

//  Takes entry out; the entries after it in its run move back, so that no
//  search stops early at the hole (no tombstones).
static void
s_table_remove (s_table_t *table, void *entry)
{
    size_t mask = table->size - 1;
    size_t i = s_home (table, ((s_entry_t *) entry)->key);
    while (table->slots [i] != entry) {
        assert (table->slots [i]);      //  it is in the table
        i = (i + 1) & mask;
    }
    table->slots [i] = NULL;
    table->count--;
    for (size_t j = (i + 1) & mask; table->slots [j]; j = (j + 1) & mask) {
        size_t home = s_home (table, ((s_entry_t *) table->slots [j])->key);
        //  It stays when its home lies cyclically in (i, j]
        bool stays = i <= j? (home > i && home <= j): (home > i || home <= j);
        if (!stays) {
            table->slots [i] = table->slots [j];
            table->slots [j] = NULL;
            i = j;
        }
    }
    if (table->size > S_MIN_SLOTS && table->count * 8 < table->size)
        s_table_resize (table, table->size / 2);
}

static size_t
s_table_bytes (const s_table_t *table, size_t entry_size)
{
    return table->size * sizeof (void *) + table->count * entry_size;
}

//  --- Metrics

//  Brings herald_limit_bytes up to date (a table changed).
static void
s_count_bytes (hrg_limit_t *self)
{
    pthread_mutex_lock (&self->shard_mutex);
    hr_metrics_set (self->shard, self->bytes, (int64_t) hrg_limit_bytes (self));
    pthread_mutex_unlock (&self->shard_mutex);
}

static void
s_count_limited (hrg_limit_t *self, int which)
{
    pthread_mutex_lock (&self->shard_mutex);
    hr_metrics_inc (self->shard, self->limited < 0? -1: self->limited + which);
    pthread_mutex_unlock (&self->shard_mutex);
}

hrg_limit_t *
hrg_limit_new (const hrg_config_t *config, hr_metrics_t *metrics)
{
    static const char *const labels [] = { "connections_per_ip", "publish_rate" };
    hrg_limit_t *self = hr_calloc (1, sizeof *self);
    self->per_ip = config->max_connections_per_ip;
    self->rate = config->publish_rate;
    pthread_mutex_init (&self->addr_mutex, NULL);
    pthread_mutex_init (&self->bucket_mutex, NULL);
    pthread_mutex_init (&self->shard_mutex, NULL);
    s_table_init (&self->addrs);
    s_table_init (&self->buckets);
    hr_list_init (&self->lru);
    self->bucket_max = HRG_LIMIT_BUCKETS;
    randombytes_buf (self->bucket_seed, sizeof self->bucket_seed);
    self->limited = self->bytes = -1;
    self->handles_size = 64;
    self->handles_used = 1;
    self->handles = hr_calloc (self->handles_size, sizeof (s_addr_t *));
    self->free_handles = hr_calloc (self->handles_size, sizeof (uint32_t));
    self->addr_bytes = s_table_bytes (&self->addrs, sizeof (s_addr_t))
                     + self->handles_size * (sizeof (s_addr_t *) + sizeof (uint32_t));
    self->bucket_bytes = s_table_bytes (&self->buckets, sizeof (s_bucket_t));
    if (metrics) {
        self->shard = hr_metrics_shard (metrics);
        self->limited = hr_metrics_add_labeled (metrics, "herald_limited_total",
            HR_METRIC_COUNTER, "Requests refused by a limit per client: connections from one "
            "address (--max-connections-per-ip), publishes per token (--publish-rate).",
            "limit", labels, 2);
        self->bytes = hr_metrics_add (metrics, "herald_limit_bytes", HR_METRIC_GAUGE,
            "Memory of the tables behind those limits (open addresses, publish buckets).");
    }
    s_count_bytes (self);
    return self;
}

void
hrg_limit_destroy (hrg_limit_t **self_p)
{
    hrg_limit_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->shard_mutex);
    hr_metrics_set (self->shard, self->bytes, 0);      //  the shard outlives it
    pthread_mutex_unlock (&self->shard_mutex);
    //  Holders are gone (the workers stopped): what they did not give back goes
    for (size_t i = 0; i < self->addrs.size; i++)
        free (self->addrs.slots [i]);
    for (hr_list_t *node; (node = hr_list_first (&self->lru)); ) {
        hr_list_remove (node);
        free (hr_list_entry (node, s_bucket_t, node));
    }
    free (self->addrs.slots);
    free (self->handles);
    free (self->free_handles);
    free (self->buckets.slots);
    pthread_mutex_destroy (&self->addr_mutex);
    pthread_mutex_destroy (&self->bucket_mutex);
    pthread_mutex_destroy (&self->shard_mutex);
    free (self);
    *self_p = NULL;
}

//  --- Connections per address

//  addr as a 16-byte key; false when it is not IP.
static bool
s_addr_key (const struct sockaddr *addr, uint8_t *key)
{
    if (addr && addr->sa_family == AF_INET) {
        static const uint8_t mapped [12] = { 0,0,0,0,0,0,0,0,0,0, 0xff, 0xff };
        memcpy (key, mapped, sizeof mapped);
        memcpy (key + 12, &((const struct sockaddr_in *) addr)->sin_addr, 4);
        return true;
    }
    if (addr && addr->sa_family == AF_INET6) {
        memcpy (key, &((const struct sockaddr_in6 *) addr)->sin6_addr, S_KEY);
        return true;
    }
    return false;
}

//  The table's bytes, for herald_limit_bytes (with addr_mutex held).
static void
s_addr_bytes (hrg_limit_t *self)
{
    self->addr_bytes = s_table_bytes (&self->addrs, sizeof (s_addr_t))
                     + self->handles_size * (sizeof (s_addr_t *) + sizeof (uint32_t));
}

//  A handle for entry (with addr_mutex held).
static hrg_limit_hold_t
s_handle_new (hrg_limit_t *self, s_addr_t *entry)
{
    hrg_limit_hold_t handle;
    if (self->free_count)
        handle = self->free_handles [--self->free_count];
    else {
        if (self->handles_used == self->handles_size) {
            //  Addresses are bounded by connections, far below 2^31
            assert (self->handles_size < (UINT32_MAX >> 1));
            self->handles_size *= 2;
            self->handles = realloc (self->handles, self->handles_size * sizeof (s_addr_t *));
            self->free_handles = realloc (self->free_handles,
                                          self->handles_size * sizeof (uint32_t));
            if (!self->handles || !self->free_handles)
                abort ();
        }
        handle = self->handles_used++;
    }
    self->handles [handle] = entry;
    entry->handle = handle;
    return handle;
}

hrg_limit_hold_t
hrg_limit_connect (hrg_limit_t *self, const struct sockaddr *addr, bool *over)
{
    *over = false;
    uint8_t key [S_KEY];
    if (!self || self->per_ip <= 0 || !s_addr_key (addr, key))
        return 0;
    hrg_limit_hold_t handle = 0;
    bool added = false;
    pthread_mutex_lock (&self->addr_mutex);
    s_addr_t *entry = s_table_find (&self->addrs, key);
    if (entry && entry->count >= (uint64_t) self->per_ip)
        *over = true;
    else
    if (entry) {
        entry->count++;
        handle = entry->handle;
    }
    else {
        entry = hr_calloc (1, sizeof *entry);
        memcpy (entry->key, key, S_KEY);
        entry->count = 1;
        s_table_insert (&self->addrs, entry);
        handle = s_handle_new (self, entry);
        s_addr_bytes (self);
        added = true;
    }
    pthread_mutex_unlock (&self->addr_mutex);
    if (*over)
        s_count_limited (self, 0);
    if (added)
        s_count_bytes (self);
    return handle;
}

hrg_limit_hold_t
hrg_limit_hold (hrg_limit_t *self, hrg_limit_hold_t hold)
{
    if (!self || !hold)
        return 0;
    pthread_mutex_lock (&self->addr_mutex);
    assert (hold < self->handles_used && self->handles [hold]);
    assert (self->handles [hold]->count > 0);   //  the caller holds it already
    self->handles [hold]->count++;
    pthread_mutex_unlock (&self->addr_mutex);
    return hold;
}

void
hrg_limit_release (hrg_limit_t *self, hrg_limit_hold_t *hold_p)
{
    hrg_limit_hold_t hold = *hold_p;
    if (!self || !hold)
        return;
    *hold_p = 0;
    pthread_mutex_lock (&self->addr_mutex);
    assert (hold < self->handles_used && self->handles [hold]);
    s_addr_t *entry = self->handles [hold];
    assert (entry->count > 0);
    bool last = --entry->count == 0;
    if (last) {
        s_table_remove (&self->addrs, entry);
        self->handles [hold] = NULL;
        self->free_handles [self->free_count++] = hold;
        s_addr_bytes (self);
        free (entry);
    }
    pthread_mutex_unlock (&self->addr_mutex);
    if (last)
        s_count_bytes (self);
}

void
hrg_limit_mhd_opened (hrg_limit_t *self, struct MHD_Connection *mhd, void **socket_context)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    bool over = false;
    hrg_limit_hold_t hold = hrg_limit_connect (self, info? info->client_addr: NULL, &over);
    *socket_context = (void *) (uintptr_t) (over? S_OVER: hold);
}

void
hrg_limit_mhd_closed (hrg_limit_t *self, void **socket_context)
{
    hrg_limit_hold_t hold = (hrg_limit_hold_t) (uintptr_t) *socket_context;
    if (hold != S_OVER)
        hrg_limit_release (self, &hold);
    *socket_context = NULL;
}

static hrg_limit_hold_t
s_socket_context (struct MHD_Connection *mhd)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (mhd, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info? (hrg_limit_hold_t) (uintptr_t) info->socket_context: 0;
}

bool
hrg_limit_mhd_refused (struct MHD_Connection *mhd)
{
    return s_socket_context (mhd) == S_OVER;
}

hrg_limit_hold_t
hrg_limit_mhd_hold (hrg_limit_t *self, struct MHD_Connection *mhd)
{
    hrg_limit_hold_t hold = s_socket_context (mhd);
    return hold == S_OVER? 0: hrg_limit_hold (self, hold);
}

uint32_t
hrg_limit_connections (hrg_limit_t *self, const struct sockaddr *addr)
{
    uint8_t key [S_KEY];
    if (!s_addr_key (addr, key))
        return 0;
    pthread_mutex_lock (&self->addr_mutex);
    s_addr_t *entry = s_table_find (&self->addrs, key);
    uint32_t count = entry? entry->count: 0;
    pthread_mutex_unlock (&self->addr_mutex);
    return count;
}

size_t
hrg_limit_addresses (hrg_limit_t *self)
{
    pthread_mutex_lock (&self->addr_mutex);
    size_t count = self->addrs.count;
    pthread_mutex_unlock (&self->addr_mutex);
    return count;
}

//  --- Publishes per key

size_t
hrg_limit_key (char *key, const hr_claims_t *claims, const struct sockaddr *addr)
{
    if (claims && claims->jti_len)
        return (size_t) snprintf (key, HRG_LIMIT_KEY_MAX, "jti:%.*s",
                                  (int) claims->jti_len, claims->jti);
    if (claims)
        return (size_t) snprintf (key, HRG_LIMIT_KEY_MAX, "sub:%.*s",
                                  (int) claims->sub_len, claims->sub);
    uint8_t raw [S_KEY];
    char text [INET6_ADDRSTRLEN] = "?";
    if (s_addr_key (addr, raw)) {
        if (addr->sa_family == AF_INET)
            inet_ntop (AF_INET, raw + 12, text, sizeof text);
        else
            inet_ntop (AF_INET6, raw, text, sizeof text);
    }
    return (size_t) snprintf (key, HRG_LIMIT_KEY_MAX, "addr:%s", text);
}

//  The bucket's tokens refilled up to now_ms, capped at the burst.
static int64_t
s_refill (const hrg_limit_t *self, const s_bucket_t *bucket, uint64_t now_ms)
{
    int64_t burst = self->rate * 1000;
    uint64_t elapsed = now_ms > bucket->stamp_ms? now_ms - bucket->stamp_ms: 0;
    //  rate thousandths a ms; compared first, so that a long idle cannot overflow
    if (elapsed >= (uint64_t) ((burst - bucket->tokens) / self->rate) + 1)
        return burst;
    int64_t tokens = bucket->tokens + (int64_t) elapsed * self->rate;
    return tokens < burst? tokens: burst;
}

//  Forgets buckets that refilled (a new bucket is the same), oldest first.
static void
s_evict_idle (hrg_limit_t *self, uint64_t now_ms)
{
    for (int i = 0; i < S_EVICT_STEP; i++) {
        hr_list_t *node = hr_list_first (&self->lru);
        s_bucket_t *bucket = node? hr_list_entry (node, s_bucket_t, node): NULL;
        if (!bucket || s_refill (self, bucket, now_ms) < self->rate * 1000)
            return;
        hr_list_remove (node);
        s_table_remove (&self->buckets, bucket);
        free (bucket);
    }
}

static s_bucket_t *
s_bucket_new (hrg_limit_t *self, const uint8_t *key)
{
    if (self->buckets.count >= self->bucket_max) {
        //  Full of keys used within the last second: the least recent goes
        hr_list_t *node = hr_list_first (&self->lru);
        s_bucket_t *oldest = hr_list_entry (node, s_bucket_t, node);
        hr_list_remove (node);
        s_table_remove (&self->buckets, oldest);
        free (oldest);
    }
    s_bucket_t *bucket = hr_calloc (1, sizeof *bucket);
    memcpy (bucket->key, key, S_KEY);
    hr_list_init (&bucket->node);
    s_table_insert (&self->buckets, bucket);
    return bucket;
}

bool
hrg_limit_publish (hrg_limit_t *self, const char *key, size_t len, size_t count,
                   uint64_t now_ms, uint64_t *retry_after_ms)
{
    if (!self || self->rate <= 0 || count == 0)
        return true;
    uint8_t hash [S_KEY];
    crypto_generichash (hash, sizeof hash, (const unsigned char *) key, len,
                        self->bucket_seed, sizeof self->bucket_seed);
    int64_t burst = self->rate * 1000;
    int64_t cost = (int64_t) (count < S_MAX_COUNT? count: S_MAX_COUNT) * 1000;
    int64_t need = cost < burst? cost: burst;
    pthread_mutex_lock (&self->bucket_mutex);
    s_evict_idle (self, now_ms);
    s_bucket_t *bucket = s_table_find (&self->buckets, hash);
    int64_t tokens = bucket? s_refill (self, bucket, now_ms): burst;
    bool allowed = tokens >= need;     //  always, for a new bucket: need <= burst
    if (!bucket)
        bucket = s_bucket_new (self, hash);
    bucket->tokens = allowed? tokens - cost: tokens;
    bucket->stamp_ms = now_ms > bucket->stamp_ms? now_ms: bucket->stamp_ms;
    hr_list_remove (&bucket->node);
    hr_list_push_back (&self->lru, &bucket->node);
    size_t bytes = s_table_bytes (&self->buckets, sizeof *bucket);
    bool changed = bytes != self->bucket_bytes;
    self->bucket_bytes = bytes;
    pthread_mutex_unlock (&self->bucket_mutex);
    if (!allowed) {
        //  Whole ms, rounded up: waiting that long is always enough
        *retry_after_ms = (uint64_t) ((need - tokens + self->rate - 1) / self->rate);
        if (*retry_after_ms == 0)
            *retry_after_ms = 1;
        s_count_limited (self, 1);
    }
    if (changed)
        s_count_bytes (self);
    return allowed;
}

bool
hrg_limit_publish_mhd (hrg_limit_t *self, struct MHD_Connection *mhd,
                       const hr_claims_t *claims, size_t count, uint64_t *retry_after_ms)
{
    if (!self || self->rate <= 0)
        return true;
    const union MHD_ConnectionInfo *info = claims? NULL:
        MHD_get_connection_info (mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char key [HRG_LIMIT_KEY_MAX];
    size_t len = hrg_limit_key (key, claims, info? info->client_addr: NULL);
    return hrg_limit_publish (self, key, len, count, hr_mono_ms (), retry_after_ms);
}

bool
hrg_limit_publish_fd (hrg_limit_t *self, int fd, const hr_claims_t *claims, size_t count,
                      uint64_t *retry_after_ms)
{
    if (!self || self->rate <= 0)
        return true;
    struct sockaddr_storage peer;
    socklen_t size = sizeof peer;
    bool known = !claims && getpeername (fd, (struct sockaddr *) &peer, &size) == 0;
    char key [HRG_LIMIT_KEY_MAX];
    size_t len = hrg_limit_key (key, claims, known? (struct sockaddr *) &peer: NULL);
    return hrg_limit_publish (self, key, len, count, hr_mono_ms (), retry_after_ms);
}

size_t
hrg_limit_buckets (hrg_limit_t *self)
{
    pthread_mutex_lock (&self->bucket_mutex);
    size_t count = self->buckets.count;
    pthread_mutex_unlock (&self->bucket_mutex);
    return count;
}

size_t
hrg_limit_bytes (hrg_limit_t *self)
{
    return self->addr_bytes + self->bucket_bytes;
}

void
hrg_limit_set_bucket_max (hrg_limit_t *self, size_t max)
{
    pthread_mutex_lock (&self->bucket_mutex);
    self->bucket_max = max > 0 && max < HRG_LIMIT_BUCKETS? max: HRG_LIMIT_BUCKETS;
    pthread_mutex_unlock (&self->bucket_mutex);
}
