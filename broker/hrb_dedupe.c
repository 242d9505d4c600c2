/*  hrb_dedupe: a hash table of recent (channel, id) keys with a FIFO for
    expiry. Keys are "channel\nid": neither part can contain '\n'.  */
#include "hrb_dedupe.h"
#include "hr_buf.h"
#include "hr_channel.h"

#include <czmq.h>
#include <string.h>

typedef struct _s_entry_t s_entry_t;
struct _s_entry_t {
    s_entry_t *next;            //  FIFO, oldest first
    size_t bytes;               //  counted against max_bytes
    uint64_t seq;
    uint64_t born_ms;
    char epoch [HR_EPOCH_LEN + 1];
    char key [];
};

struct _hrb_dedupe_t {
    zhashx_t *by_key;           //  key -> entry (not owning; the FIFO owns)
    s_entry_t *oldest, *newest;
    uint64_t window_ms;
    size_t max_keys;
    size_t max_bytes;
    size_t bytes;
    uint64_t dropped;
};

hrb_dedupe_t *
hrb_dedupe_new (uint64_t window_ms, size_t max_keys, size_t max_bytes)
{
    hrb_dedupe_t *self = hr_calloc (1, sizeof *self);
    self->by_key = zhashx_new ();
    //  The table keys on each entry's own copy (counted once, in its bytes)
    zhashx_set_key_duplicator (self->by_key, NULL);
    zhashx_set_key_destructor (self->by_key, NULL);
    self->window_ms = window_ms;
    self->max_keys = max_keys;
    self->max_bytes = max_bytes;
    return self;
}

static void
s_forget_oldest (hrb_dedupe_t *self)
{
    s_entry_t *entry = self->oldest;
    self->oldest = entry->next;
    if (!self->oldest)
        self->newest = NULL;
    //  A key re-inserted after expiry maps to a newer entry: keep that one
    if (zhashx_lookup (self->by_key, entry->key) == entry)
        zhashx_delete (self->by_key, entry->key);
    self->bytes -= entry->bytes;
    free (entry);
}

void
hrb_dedupe_destroy (hrb_dedupe_t **self_p)
{
    hrb_dedupe_t *self = *self_p;
    if (!self)
        return;
    while (self->oldest)
        s_forget_oldest (self);
    zhashx_destroy (&self->by_key);
    free (self);
    *self_p = NULL;
}

static size_t
s_key (char *key, const char *ch, size_t ch_len, const char *id, size_t id_len)
{
    memcpy (key, ch, ch_len);
    key [ch_len] = '\n';
    memcpy (key + ch_len + 1, id, id_len);
    key [ch_len + 1 + id_len] = 0;
    return ch_len + 1 + id_len;
}

bool
hrb_dedupe_find (hrb_dedupe_t *self, const char *ch, size_t ch_len,
                 const char *id, size_t id_len, uint64_t now_ms,
                 uint64_t *seq, char epoch [HR_EPOCH_LEN + 1])
{
    char key [HR_CHANNEL_MAX + 1 + HR_ID_MAX + 1];
    if (ch_len > HR_CHANNEL_MAX || id_len > HR_ID_MAX)
        return false;
    s_key (key, ch, ch_len, id, id_len);
    s_entry_t *entry = zhashx_lookup (self->by_key, key);
    if (!entry || entry->born_ms + self->window_ms < now_ms)
        return false;
    *seq = entry->seq;
    memcpy (epoch, entry->epoch, HR_EPOCH_LEN + 1);
    return true;
}

void
hrb_dedupe_insert (hrb_dedupe_t *self, const char *ch, size_t ch_len,
                   const char *id, size_t id_len, uint64_t now_ms,
                   uint64_t seq, const char *epoch)
{
    size_t bytes = HRB_DEDUPE_KEY_OVERHEAD + ch_len + id_len;
    if (self->max_keys == 0 || bytes > self->max_bytes
    ||  ch_len > HR_CHANNEL_MAX || id_len > HR_ID_MAX)
        return;
    s_entry_t *entry = hr_malloc (sizeof *entry + ch_len + id_len + 2);
    s_key (entry->key, ch, ch_len, id, id_len);
    entry->next = NULL;
    entry->bytes = bytes;
    self->bytes += bytes;
    entry->seq = seq;
    entry->born_ms = now_ms;
    snprintf (entry->epoch, sizeof entry->epoch, "%s", epoch);
    if (self->newest)
        self->newest->next = entry;
    else
        self->oldest = entry;
    self->newest = entry;
    //  An older entry of the key (past its window) keeps its FIFO place but
    //  not the table's: the table's key is the newest entry's copy
    zhashx_delete (self->by_key, entry->key);
    zhashx_insert (self->by_key, entry->key, entry);
    //  Entries, not table keys: a key re-inserted after its window leaves
    //  its old entry in the FIFO until that one's turn, and it is counted
    while ((zhashx_size (self->by_key) > self->max_keys || self->bytes > self->max_bytes)
    &&     self->oldest) {
        if (self->oldest->born_ms + self->window_ms >= now_ms)
            self->dropped++;
        s_forget_oldest (self);
    }
}

void
hrb_dedupe_forget (hrb_dedupe_t *self, const char *ch, size_t ch_len, const char *id,
                   size_t id_len)
{
    char key [HR_CHANNEL_MAX + 1 + HR_ID_MAX + 1];
    if (ch_len > HR_CHANNEL_MAX || id_len > HR_ID_MAX)
        return;
    s_key (key, ch, ch_len, id, id_len);
    //  The entry keeps its FIFO place (and bytes) until its turn, like an
    //  entry replaced by a newer one of its key (s_forget_oldest)
    zhashx_delete (self->by_key, key);
}

size_t
hrb_dedupe_expire (hrb_dedupe_t *self, uint64_t now_ms, size_t budget)
{
    size_t forgotten = 0;
    while (forgotten < budget && self->oldest
    &&     self->oldest->born_ms + self->window_ms < now_ms) {
        s_forget_oldest (self);
        forgotten++;
    }
    return forgotten;
}

size_t
hrb_dedupe_keys (hrb_dedupe_t *self)
{
    return zhashx_size (self->by_key);
}

size_t
hrb_dedupe_bytes (hrb_dedupe_t *self)
{
    return self->bytes;
}

uint64_t
hrb_dedupe_dropped (hrb_dedupe_t *self)
{
    return self->dropped;
}

void
hrb_dedupe_visit (hrb_dedupe_t *self, uint64_t now_ms, hrb_dedupe_visit_fn *visit, void *arg)
{
    for (s_entry_t *entry = self->oldest; entry; entry = entry->next) {
        //  A key re-inserted later maps to its newer entry: visit that one
        if (entry->born_ms + self->window_ms < now_ms
        ||  zhashx_lookup (self->by_key, entry->key) != entry)
            continue;
        const char *id = strchr (entry->key, '\n');
        visit (arg, entry->key, (size_t) (id - entry->key), id + 1, strlen (id + 1),
               entry->seq, entry->epoch);
    }
}
