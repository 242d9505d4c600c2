/*  hr_view_msg: encodes and strictly decodes a broker's view announcement
    (hr_view_msg.h).  */
#include "hr_view_msg.h"
#include "hr_mpack.h"
#include "hr_pack.h"

#include <string.h>

static void
s_pack_ids (msgpack_packer *pk, const hr_cluster_t *cluster, hr_members_t set)
{
    size_t size = hr_cluster_size (cluster);
    size_t count = 0;
    for (size_t i = 0; i < size; i++)
        count += (set >> i) & 1;
    msgpack_pack_array (pk, count);
    for (size_t i = 0; i < size; i++)
        if ((set >> i) & 1)
            hr_pack_cstr (pk, hr_cluster_node (cluster, i)->id);
}

void
hr_view_msg_encode (hr_buf_t *out, const hr_cluster_t *cluster, const hr_view_msg_t *msg)
{
    msgpack_packer pk;
    hr_pack_init (&pk, out);
    msgpack_pack_map (&pk, 7);
    hr_pack_cstr (&pk, "t");
    hr_pack_cstr (&pk, "view");
    hr_pack_cstr (&pk, "from");
    hr_pack_cstr (&pk, hr_cluster_node (cluster, (size_t) msg->from)->id);
    hr_pack_cstr (&pk, "n");
    msgpack_pack_uint64 (&pk, msg->number);
    hr_pack_cstr (&pk, "members");
    s_pack_ids (&pk, cluster, msg->members);
    hr_pack_cstr (&pk, "owners");
    s_pack_ids (&pk, cluster, msg->owners);
    hr_pack_cstr (&pk, "handoff");
    s_pack_ids (&pk, cluster, msg->handoff);
    hr_pack_cstr (&pk, "lease");
    if (msg->lease)
        msgpack_pack_true (&pk);
    else
        msgpack_pack_false (&pk);
}

//  The keys, in the order of the bits of s_decode_t.seen.
static const char *const s_keys [] = { "t", "from", "n", "members", "owners", "handoff",
                                       "lease" };
#define S_KEYS (sizeof s_keys / sizeof s_keys [0])

typedef struct {
    const hr_cluster_t *cluster;
    hr_view_msg_t *msg;
    unsigned seen;
} s_decode_t;

//  Reads a broker id of the file: its index.
static hr_error_t
s_read_id (hr_mp_reader_t *reader, const hr_cluster_t *cluster, int *index)
{
    const char *text;
    size_t len;
    hr_error_t rc = hr_mp_read_str (reader, &text, &len);
    if (rc)
        return rc;
    char id [HR_CLUSTER_ID_MAX + 1];
    if (len == 0 || len > HR_CLUSTER_ID_MAX || memchr (text, 0, len))
        return HR_E_BAD_FIELD;
    memcpy (id, text, len);
    id [len] = 0;
    *index = hr_cluster_find (cluster, id);
    return *index < 0? HR_E_BAD_FIELD: HR_OK;
}

//  Reads an array of ids of the file, none twice, into a set.
static hr_error_t
s_read_set (hr_mp_reader_t *reader, const hr_cluster_t *cluster, hr_members_t *set)
{
    hr_mp_item_t list;
    hr_error_t rc = hr_mp_read (reader, &list);
    if (rc)
        return rc;
    if (list.kind != HR_MP_ARRAY)
        return HR_E_BAD_TYPE;
    if (list.count > hr_cluster_size (cluster))
        return HR_E_BAD_FIELD;
    *set = 0;
    for (uint32_t i = 0; i < list.count; i++) {
        int index;
        if ((rc = s_read_id (reader, cluster, &index)))
            return rc;
        hr_members_t bit = (hr_members_t) 1 << index;
        if (*set & bit)
            return HR_E_BAD_FIELD;
        *set |= bit;
    }
    return HR_OK;
}

static hr_error_t
s_field (hr_mp_reader_t *reader, const char *key, size_t key_len, void *arg)
{
    s_decode_t *decode = arg;
    size_t k = 0;
    while (k < S_KEYS && !hr_mp_str_eq (key, key_len, s_keys [k]))
        k++;
    if (k == S_KEYS)
        return HR_E_BAD_FIELD;
    if (decode->seen & (1u << k))
        return HR_E_DUPLICATE_FIELD;
    decode->seen |= 1u << k;
    hr_view_msg_t *msg = decode->msg;
    switch (k) {
        case 0: {
            const char *text;
            size_t len;
            hr_error_t rc = hr_mp_read_str (reader, &text, &len);
            return rc? rc: hr_mp_str_eq (text, len, "view")? HR_OK: HR_E_BAD_FIELD;
        }
        case 1: return s_read_id (reader, decode->cluster, &msg->from);
        case 2: return hr_mp_read_uint (reader, &msg->number);
        case 3: return s_read_set (reader, decode->cluster, &msg->members);
        case 4: return s_read_set (reader, decode->cluster, &msg->owners);
        case 5: return s_read_set (reader, decode->cluster, &msg->handoff);
        default: return hr_mp_read_bool (reader, &msg->lease);
    }
}

hr_error_t
hr_view_msg_decode (const hr_cluster_t *cluster, const void *frame, size_t size,
                    hr_view_msg_t *msg)
{
    *msg = (hr_view_msg_t) { .from = -1 };
    s_decode_t decode = { cluster, msg, 0 };
    hr_error_t rc = hr_mp_read_map (frame, size, s_field, &decode);
    if (rc == HR_OK && decode.seen != (1u << S_KEYS) - 1)
        rc = HR_E_MISSING_FIELD;
    if (rc == HR_OK && (msg->owners & ~msg->members))
        rc = HR_E_BAD_FIELD;
    return rc;
}
