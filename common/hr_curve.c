/*  hr_curve: CURVE on ZeroMQ sockets, certificates read with czmq.  */
#include "hr_curve.h"
#include "hr_config.h"

#include <assert.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

//  Certificate files remembered per process: a gateway's workers read the
//  same two files for each SUB and DEALER, the broker its one for three
//  sockets. More distinct files than this are read each time.
#define S_CACHE_MAX 8

typedef struct {
    char *path;
    uint8_t public_key [HR_CURVE_KEY_LEN];
    uint8_t secret_key [HR_CURVE_KEY_LEN];
    bool has_secret;
} s_cert_t;

static s_cert_t s_cache [S_CACHE_MAX];
static size_t s_cached;
static pthread_mutex_t s_cache_lock = PTHREAD_MUTEX_INITIALIZER;

//  Larger files are not certificates (zcert_save writes about 400 bytes).
#define S_FILE_MAX 65536

//  Decodes the Z85 key at name in root into key. Returns -1 when absent or
//  not 40 Z85 characters.
static int
s_key (zconfig_t *root, const char *name, uint8_t *key)
{
    const char *text = zconfig_get (root, name, NULL);
    if (!text || strlen (text) != HR_CURVE_Z85_LEN)
        return -1;
    return zmq_z85_decode (key, text)? 0: -1;
}

//  Reads a certificate file as zcert_save writes it (ZPL, parsed by czmq's
//  zconfig). Not through zcert_load: in czmq 4.2 it leaks on a file that
//  does not parse, and it reads NAME_secret instead of NAME when both exist.
static int
s_read (const char *path, s_cert_t *cert, hr_buf_t *err)
{
    FILE *file = fopen (path, "r");
    struct stat st;
    if (!file || fstat (fileno (file), &st) != 0 || !S_ISREG (st.st_mode)) {
        hr_buf_printf (err, "cannot read CURVE certificate %s: %s", path,
                       file? "not a file": strerror (errno));
        if (file)
            fclose (file);
        return -1;
    }
    char *text = hr_malloc (S_FILE_MAX + 1);
    size_t size = fread (text, 1, S_FILE_MAX + 1, file);
    fclose (file);
    text [size <= S_FILE_MAX? size: 0] = 0;
    zconfig_t *root = size <= S_FILE_MAX? zconfig_str_load (text): NULL;
    explicit_bzero (text, S_FILE_MAX + 1);      //  it may hold a secret key
    free (text);
    int rc = root? s_key (root, "curve/public-key", cert->public_key): -1;
    if (rc != 0)
        hr_buf_printf (err, "%s is not a CURVE certificate (as zcert_save or `herald keygen "
                       "--curve` write: a curve/public-key of 40 Z85 characters)", path);
    cert->has_secret = rc == 0 && s_key (root, "curve/secret-key", cert->secret_key) == 0;
    zconfig_destroy (&root);
    return rc;
}

//  The certificate at path, from the cache or read (and cached).
static int
s_load (const char *path, s_cert_t *cert, hr_buf_t *err)
{
    pthread_mutex_lock (&s_cache_lock);
    for (size_t i = 0; i < s_cached; i++)
        if (strcmp (s_cache [i].path, path) == 0) {
            *cert = s_cache [i];
            cert->path = NULL;
            pthread_mutex_unlock (&s_cache_lock);
            return 0;
        }
    int rc = s_read (path, cert, err);
    if (rc == 0 && s_cached < S_CACHE_MAX) {
        s_cache [s_cached] = *cert;
        s_cache [s_cached++].path = hr_strdup (path);
    }
    pthread_mutex_unlock (&s_cache_lock);
    cert->path = NULL;          //  the cache's, not the caller's
    return rc;
}

//  The secret certificate at path: one with a secret key.
static int
s_load_secret (const char *path, const char *option, s_cert_t *cert, hr_buf_t *err)
{
    if (s_load (path, cert, err) != 0)
        return -1;
    if (!cert->has_secret) {
        hr_buf_printf (err, "%s %s holds no secret key: give the certificate's _secret file",
                       option, path);
        return -1;
    }
    return 0;
}

int
hr_curve_client (void *socket, const char *server_key_file, const char *secret_file,
                 hr_buf_t *err)
{
    if (!server_key_file || !*server_key_file)
        return 0;
    if (!secret_file || !*secret_file) {
        hr_buf_printf (err, "--curve-server-key needs --curve-secret (this client's "
                       "certificate, whose public key the broker allows in --curve-clients)");
        return -1;
    }
    s_cert_t server, own;
    if (s_load (server_key_file, &server, err) != 0
    ||  s_load_secret (secret_file, "--curve-secret", &own, err) != 0)
        return -1;
    int rc = zmq_setsockopt (socket, ZMQ_CURVE_SERVERKEY, server.public_key, HR_CURVE_KEY_LEN)
          || zmq_setsockopt (socket, ZMQ_CURVE_PUBLICKEY, own.public_key, HR_CURVE_KEY_LEN)
          || zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, own.secret_key, HR_CURVE_KEY_LEN)? -1: 0;
    if (rc)
        hr_buf_printf (err, "cannot set CURVE keys: %s", zmq_strerror (zmq_errno ()));
    explicit_bzero (&own, sizeof own);     //  the socket and the cache keep it
    return rc;
}

int
hr_curve_server (void *socket, const char *secret_file, hr_buf_t *err)
{
    s_cert_t own;
    if (s_load_secret (secret_file, "--curve-secret", &own, err) != 0)
        return -1;
    int server = 1;
    int rc = zmq_setsockopt (socket, ZMQ_CURVE_SERVER, &server, sizeof server)
          || zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, own.secret_key, HR_CURVE_KEY_LEN)
          || zmq_setsockopt (socket, ZMQ_ZAP_DOMAIN, HR_CURVE_DOMAIN,
                             strlen (HR_CURVE_DOMAIN))? -1: 0;
    if (rc)
        hr_buf_printf (err, "cannot make a CURVE server: %s", zmq_strerror (zmq_errno ()));
    explicit_bzero (&own, sizeof own);
    return rc;
}

int
hr_curve_public_key (const char *file, uint8_t key [HR_CURVE_KEY_LEN], hr_buf_t *err)
{
    s_cert_t cert;
    if (s_load (file, &cert, err) != 0)
        return -1;
    memcpy (key, cert.public_key, HR_CURVE_KEY_LEN);
    return 0;
}

void
hr_curve_z85 (const uint8_t key [HR_CURVE_KEY_LEN], char text [HR_CURVE_Z85_LEN + 1])
{
    zmq_z85_encode (text, key, HR_CURVE_KEY_LEN);
}

//  True for a transport other machines can reach (an endpoint of another
//  transport cannot be bound at all, and zmq_bind says so).
static bool
s_network_transport (const char *endpoint)
{
    static const char *const schemes [] = {
        "tcp://", "ws://", "wss://", "pgm://", "epgm://", "norm://", "udp://", "tipc://",
        "vmci://", NULL
    };
    for (int i = 0; schemes [i]; i++)
        if (strncmp (endpoint, schemes [i], strlen (schemes [i])) == 0)
            return true;
    return false;
}

int
hr_curve_check_exposure (const char *what, const char *endpoints, bool curve,
                         bool insecure, hr_buf_t *err)
{
    if (curve || insecure)
        return 0;
    char *list = hr_strdup (endpoints);
    char *save = NULL;
    int rc = 0;
    for (char *ep = strtok_r (list, ",", &save); ep && rc == 0; ep = strtok_r (NULL, ",", &save))
        if (s_network_transport (ep) && !hr_endpoint_loopback (ep)) {
            hr_buf_printf (err, "%s %s is reachable from other machines and anyone there "
                           "could publish and subscribe: give --curve-secret and "
                           "--curve-clients (docs/security.md, CURVE), or --insecure",
                           what, ep);
            rc = -1;
        }
    free (list);
    return rc;
}

//  The set: keys kept sorted, so lookup is a binary search.
struct _hr_curve_keys_t {
    uint8_t (*keys) [HR_CURVE_KEY_LEN];
    size_t count, cap;
};

hr_curve_keys_t *
hr_curve_keys_new (void)
{
    return hr_calloc (1, sizeof (hr_curve_keys_t));
}

//  Index of key, or where it belongs (*found false).
static size_t
s_find (const hr_curve_keys_t *self, const uint8_t *key, bool *found)
{
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = memcmp (self->keys [mid], key, HR_CURVE_KEY_LEN);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

void
hr_curve_keys_add (hr_curve_keys_t *self, const uint8_t key [HR_CURVE_KEY_LEN])
{
    bool found;
    size_t at = s_find (self, key, &found);
    if (found)
        return;
    if (self->count == self->cap) {
        self->cap = self->cap? self->cap * 2: 8;
        self->keys = realloc (self->keys, self->cap * HR_CURVE_KEY_LEN);
        assert (self->keys);
    }
    memmove (self->keys [at + 1], self->keys [at], (self->count - at) * HR_CURVE_KEY_LEN);
    memcpy (self->keys [at], key, HR_CURVE_KEY_LEN);
    self->count++;
}

bool
hr_curve_keys_has (const hr_curve_keys_t *self, const uint8_t key [HR_CURVE_KEY_LEN])
{
    bool found;
    s_find (self, key, &found);
    return found;
}

size_t
hr_curve_keys_count (const hr_curve_keys_t *self)
{
    return self->count;
}

void
hr_curve_keys_destroy (hr_curve_keys_t **self_p)
{
    hr_curve_keys_t *self = *self_p;
    if (!self)
        return;
    free (self->keys);
    free (self);
    *self_p = NULL;
}

static bool
s_ends_with (const char *name, const char *suffix)
{
    size_t len = strlen (name), suffix_len = strlen (suffix);
    return len >= suffix_len && strcmp (name + len - suffix_len, suffix) == 0;
}

//  Adds the key of each certificate in directory path. Read directly, not
//  through the cache: an allow-list is read once, by the broker.
static int
s_load_dir (hr_curve_keys_t *self, const char *path, hr_buf_t *err)
{
    DIR *dir = opendir (path);
    if (!dir) {
        hr_buf_printf (err, "cannot read --curve-clients %s: %s", path, strerror (errno));
        return -1;
    }
    int rc = 0;
    hr_buf_t file = HR_BUF_INIT;
    struct dirent *entry;
    while (rc == 0 && (entry = readdir (dir))) {
        if (entry->d_name [0] == '.' || s_ends_with (entry->d_name, "_secret"))
            continue;
        hr_buf_reset (&file);
        hr_buf_printf (&file, "%s/%s", path, entry->d_name);
        s_cert_t cert;
        if ((rc = s_read (file.data, &cert, err)) == 0)
            hr_curve_keys_add (self, cert.public_key);
    }
    closedir (dir);
    hr_buf_free (&file);
    return rc;
}

hr_curve_keys_t *
hr_curve_keys_load (const char *path, hr_buf_t *err)
{
    hr_curve_keys_t *self = hr_curve_keys_new ();
    struct stat st;
    s_cert_t cert;
    int rc;
    if (stat (path, &st) != 0) {
        hr_buf_printf (err, "cannot read --curve-clients %s: %s", path, strerror (errno));
        rc = -1;
    }
    else
    if (S_ISDIR (st.st_mode))
        rc = s_load_dir (self, path, err);
    else
    if ((rc = s_read (path, &cert, err)) == 0)
        hr_curve_keys_add (self, cert.public_key);
    if (rc == 0 && self->count == 0) {
        hr_buf_printf (err, "--curve-clients %s holds no public certificate: no client "
                       "could connect", path);
        rc = -1;
    }
    if (rc != 0)
        hr_curve_keys_destroy (&self);
    return self;
}
