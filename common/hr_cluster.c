/*  hr_cluster: the cluster file (parsed strictly with jansson) and
    rendezvous ownership. The format and every check are in hr_cluster.h
    and docs/cluster.md, "The cluster file".  */
#include "hr_cluster.h"
#include "hr_file.h"
#include "hr_hash.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

//  The endpoint fields of a broker, in the order messages and checks use.
#define S_FIELDS 5
static const char *const s_field [S_FIELDS] = {
    "publish", "router", "stream", "peer", "http"
};

struct _hr_cluster_t {
    uint32_t fingerprint;       //  of the file's bytes
    size_t size;
    hr_cluster_node_t nodes [HR_CLUSTER_MAX];
};

//  The field of node for kind (same order as hr_cluster_kind_t).
static const char *
s_node_field (const hr_cluster_node_t *node, int kind)
{
    switch (kind) {
        case HR_CLUSTER_PUBLISH: return node->publish;
        case HR_CLUSTER_ROUTER:  return node->router;
        case HR_CLUSTER_STREAM:  return node->stream;
        case HR_CLUSTER_PEER:    return node->peer;
        default:                 return node->http;
    }
}

static const char **
s_node_slot (hr_cluster_node_t *node, int kind)
{
    switch (kind) {
        case HR_CLUSTER_PUBLISH: return &node->publish;
        case HR_CLUSTER_ROUTER:  return &node->router;
        case HR_CLUSTER_STREAM:  return &node->stream;
        case HR_CLUSTER_PEER:    return &node->peer;
        default:                 return &node->http;
    }
}

//  An id as a message may show it: printable ASCII without quotes, else
//  nothing (a file must not put control bytes in a log).
static bool
s_printable (const char *text)
{
    if (!text || !*text || strlen (text) > 64)
        return false;
    for (const char *p = text; *p; p++)
        if (*p < 0x20 || *p >= 0x7f || *p == '"')
            return false;
    return true;
}

//  Starts a message about broker index (0-based; messages count from 1):
//  "NAME: broker 2 (b2): ".
static void
s_prefix (hr_buf_t *err, const char *name, size_t index, const char *id)
{
    hr_buf_printf (err, "%s: broker %zu", name, index + 1);
    if (s_printable (id))
        hr_buf_printf (err, " (%s)", id);
    hr_buf_puts (err, ": ");
}

static bool
s_id_valid (const char *id, size_t len)
{
    if (len == 0 || len > HR_CLUSTER_ID_MAX || strlen (id) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id [i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

//  Checks HOST:PORT (the part after tcp://, or an http address). NULL when
//  fine, else why not.
static const char *
s_check_host_port (const char *text)
{
    const char *colon = strrchr (text, ':');
    if (!colon)
        return "has no port (HOST:PORT)";
    size_t host_len = (size_t) (colon - text);
    const char *port = colon + 1;
    if (host_len == 0)
        return "has no host (HOST:PORT)";
    for (const char *p = text; p < colon; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == ';' || *p == '/')
            return "has a host with spaces, ';', '/' or non-ASCII characters";
    //  What a listener binds to but nobody can connect to
    static const char *const wildcards [] = { "*", "0.0.0.0", "[::]", "::", "[*]" };
    for (size_t i = 0; i < sizeof wildcards / sizeof wildcards [0]; i++)
        if (host_len == strlen (wildcards [i]) && !memcmp (text, wildcards [i], host_len))
            return "has a wildcard host: other brokers must be able to connect to it";
    if (!strcmp (port, "*") || !strcmp (port, "0"))
        return "has a wildcard port: other brokers must be able to connect to it";
    size_t digits = strspn (port, "0123456789");
    if (digits == 0 || digits > 5 || port [digits] || atoi (port) > 65535 || atoi (port) < 1)
        return "has no valid port (1 to 65535)";
    return NULL;
}

//  Checks a ZeroMQ endpoint another process can reach. NULL when fine.
static const char *
s_check_endpoint (const char *text)
{
    if (!strncmp (text, "tcp://", 6))
        return s_check_host_port (text + 6);
    if (!strncmp (text, "ipc://", 6)) {
        const char *path = text + 6;
        if (!*path)
            return "has no path (ipc://PATH)";
        if (!strcmp (path, "*"))
            return "is a wildcard ipc path: other brokers must be able to connect to it";
        return NULL;
    }
    if (!strncmp (text, "inproc://", 9))
        return "is inproc://, which only one process can reach (tcp:// or ipc://)";
    return "is not tcp://HOST:PORT or ipc://PATH";
}

//  The address an endpoint occupies: tcp://H:P and an http H:P are the
//  same port, so both compare as "H:P".
static const char *
s_address (const char *endpoint)
{
    return strncmp (endpoint, "tcp://", 6)? endpoint: endpoint + 6;
}

//  Reads broker index from item into node; false with the reason in err.
static bool
s_parse_node (hr_cluster_node_t *node, json_t *item, const char *name, size_t index,
              hr_buf_t *err)
{
    if (!json_is_object (item)) {
        s_prefix (err, name, index, NULL);
        hr_buf_puts (err, "not a JSON object");
        return false;
    }
    json_t *id = json_object_get (item, "id");
    const char *id_text = json_string_value (id);
    //  Unknown keys first: a typo explains a "missing" field below
    const char *key;
    json_t *value;
    json_object_foreach (item, key, value) {
        bool known = !strcmp (key, "id");
        for (int f = 0; f < S_FIELDS; f++)
            known = known || !strcmp (key, s_field [f]);
        if (!known) {
            s_prefix (err, name, index, id_text);
            hr_buf_puts (err, "unknown key ");
            if (s_printable (key))
                hr_buf_printf (err, "\"%s\" ", key);
            hr_buf_puts (err, "(the keys are id, publish, router, stream, peer, http)");
            return false;
        }
    }
    if (!json_is_string (id)) {
        s_prefix (err, name, index, NULL);
        hr_buf_puts (err, id? "id: not a string": "id: missing");
        return false;
    }
    if (!s_id_valid (id_text, json_string_length (id))) {
        s_prefix (err, name, index, NULL);
        hr_buf_puts (err, "id: ");
        if (s_printable (id_text) && strlen (id_text) == json_string_length (id))
            hr_buf_printf (err, "\"%s\" ", id_text);
        hr_buf_printf (err, "is not 1 to %d characters of [A-Za-z0-9_.-]", HR_CLUSTER_ID_MAX);
        return false;
    }
    node->id = hr_strdup (id_text);
    for (int f = 0; f < S_FIELDS; f++) {
        value = json_object_get (item, s_field [f]);
        bool optional = f == HR_CLUSTER_HTTP;
        if (!value && optional) {
            *s_node_slot (node, f) = hr_strdup ("");
            continue;
        }
        const char *text = json_string_value (value);
        const char *why = !value? "missing"
                        : !text? "not a string"
                        : strlen (text) != json_string_length (value)? "holds a NUL character"
                        : optional? s_check_host_port (text)
                        : s_check_endpoint (text);
        if (why) {
            s_prefix (err, name, index, node->id);
            hr_buf_printf (err, "%s: ", s_field [f]);
            if (text && s_printable (text))
                hr_buf_printf (err, "%s ", text);
            hr_buf_puts (err, why);
            return false;
        }
        *s_node_slot (node, f) = hr_strdup (text);
    }
    return true;
}

//  Ids and endpoints unique across the file; false with the reason in err.
static bool
s_check_unique (const hr_cluster_t *self, const char *name, hr_buf_t *err)
{
    for (size_t i = 0; i < self->size; i++) {
        const hr_cluster_node_t *node = &self->nodes [i];
        for (size_t j = 0; j < i; j++)
            if (!strcmp (node->id, self->nodes [j].id)) {
                s_prefix (err, name, i, node->id);
                hr_buf_printf (err, "id: %s is also broker %zu's id", node->id, j + 1);
                return false;
            }
        for (int f = 0; f < S_FIELDS; f++) {
            const char *mine = s_node_field (node, f);
            if (!*mine)
                continue;
            //  Every earlier (broker, field), and this broker's earlier fields
            for (size_t j = 0; j <= i; j++)
                for (int g = 0; g < (j == i? f: S_FIELDS); g++) {
                    const char *other = s_node_field (&self->nodes [j], g);
                    if (*other && !strcmp (s_address (mine), s_address (other))) {
                        s_prefix (err, name, i, node->id);
                        hr_buf_printf (err, "%s: %s is also broker %zu (%s)'s %s",
                                       s_field [f], mine, j + 1, self->nodes [j].id,
                                       s_field [g]);
                        return false;
                    }
                }
        }
    }
    return true;
}

hr_cluster_t *
hr_cluster_parse (const char *name, const char *text, size_t len, hr_buf_t *err)
{
    if (len > HR_CLUSTER_FILE_MAX) {
        hr_buf_printf (err, "%s: the file is %zu bytes or more, at most %d are allowed",
                       name, len, HR_CLUSTER_FILE_MAX);
        return NULL;
    }
    json_error_t error;
    json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        hr_buf_printf (err, "%s: not valid JSON (line %d: %s)", name, error.line, error.text);
        return NULL;
    }
    hr_cluster_t *self = NULL;
    json_t *brokers = json_object_get (root, "brokers");
    if (!json_is_object (root) || json_object_size (root) != 1 || !json_is_array (brokers)) {
        hr_buf_printf (err, "%s: the file must be {\"brokers\": [...]} and nothing else", name);
        goto done;
    }
    size_t size = json_array_size (brokers);
    if (size == 0 || size > HR_CLUSTER_MAX) {
        hr_buf_printf (err, "%s: brokers: %zu listed, 1 to %d are allowed",
                       name, size, HR_CLUSTER_MAX);
        goto done;
    }
    self = hr_calloc (1, sizeof (hr_cluster_t));
    for (size_t i = 0; i < size; i++) {
        self->size = i + 1;     //  so destroy frees what this broker got
        if (!s_parse_node (&self->nodes [i], json_array_get (brokers, i), name, i, err)) {
            hr_cluster_destroy (&self);
            goto done;
        }
    }
    if (!s_check_unique (self, name, err))
        hr_cluster_destroy (&self);
    else
        self->fingerprint = hr_fnv1a (HR_FNV1A_SEED, text, len);
done:
    json_decref (root);
    return self;
}

hr_cluster_t *
hr_cluster_load (const char *path, hr_buf_t *err)
{
    size_t size = 0;
    char *text = hr_file_read (path, HR_CLUSTER_FILE_MAX, &size, err);
    hr_cluster_t *self = text? hr_cluster_parse (path, text, size, err): NULL;
    free (text);
    return self;
}

void
hr_cluster_destroy (hr_cluster_t **self_p)
{
    hr_cluster_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    for (size_t i = 0; i < self->size; i++) {
        free ((char *) self->nodes [i].id);
        for (int f = 0; f < S_FIELDS; f++)
            free ((char *) s_node_field (&self->nodes [i], f));
    }
    free (self);
}

uint32_t
hr_cluster_fingerprint (const hr_cluster_t *self)
{
    return self->fingerprint;
}

size_t
hr_cluster_size (const hr_cluster_t *self)
{
    return self->size;
}

hr_members_t
hr_cluster_all (const hr_cluster_t *self)
{
    return self->size >= 32? ~(hr_members_t) 0: ((hr_members_t) 1 << self->size) - 1;
}

size_t
hr_cluster_majority (const hr_cluster_t *self)
{
    return self->size / 2 + 1;
}

const hr_cluster_node_t *
hr_cluster_node (const hr_cluster_t *self, size_t index)
{
    return index < self->size? &self->nodes [index]: NULL;
}

int
hr_cluster_find (const hr_cluster_t *self, const char *id)
{
    for (size_t i = 0; i < self->size; i++)
        if (!strcmp (self->nodes [i].id, id))
            return (int) i;
    return -1;
}

char *
hr_cluster_endpoints (const hr_cluster_t *self, hr_cluster_kind_t kind,
                      hr_members_t members)
{
    hr_buf_t out = HR_BUF_INIT;
    for (size_t i = 0; i < self->size; i++) {
        const char *endpoint = s_node_field (&self->nodes [i], kind);
        if (!(members & ((hr_members_t) 1 << i)) || !*endpoint)
            continue;
        if (out.size)
            hr_buf_putc (&out, ',');
        hr_buf_puts (&out, endpoint);
    }
    return hr_buf_detach (&out);
}

//  FNV-1a 64 of bytes, then the splitmix64 finaliser of the two hashes
//  XORed: docs/cluster.md, "Ownership", gives this function for other
//  clients to copy.
uint64_t
hr_cluster_weight (const char *id, const char *ch, size_t len)
{
    uint64_t x = hr_fnv1a64 (HR_FNV1A64_SEED, id, strlen (id))
               ^ hr_fnv1a64 (HR_FNV1A64_SEED, ch, len);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

size_t
hr_cluster_order (const hr_cluster_t *self, const char *ch, size_t len,
                  hr_members_t members, int order [HR_CLUSTER_MAX])
{
    uint64_t weight [HR_CLUSTER_MAX];
    size_t count = 0;
    for (size_t i = 0; i < self->size; i++) {
        if (!(members & ((hr_members_t) 1 << i)))
            continue;
        uint64_t w = hr_cluster_weight (self->nodes [i].id, ch, len);
        //  Insertion by falling weight; equal weights keep index order
        size_t at = count;
        while (at > 0 && weight [at - 1] < w) {
            weight [at] = weight [at - 1];
            order [at] = order [at - 1];
            at--;
        }
        weight [at] = w;
        order [at] = (int) i;
        count++;
    }
    return count;
}

int
hr_cluster_owner (const hr_cluster_t *self, const char *ch, size_t len,
                  hr_members_t members)
{
    int order [HR_CLUSTER_MAX];
    return hr_cluster_order (self, ch, len, members, order)? order [0]: -1;
}
