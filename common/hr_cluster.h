/*  hr_cluster: the cluster file, and who owns a channel.

    One JSON file, the same on every node, lists the brokers of a cluster
    in a fixed order (docs/cluster.md, "The cluster file"):

        {"brokers": [
          {"id": "b1", "publish": "tcp://10.0.0.1:5555", "router": "tcp://10.0.0.1:5556",
           "stream": "tcp://10.0.0.1:5557", "peer": "tcp://10.0.0.1:5558",
           "http": "10.0.0.1:8081"},
          ...]}

    publish is the broker's PULL, router its ROUTER (acknowledged publishes,
    history), stream its XPUB, peer the ROUTER other brokers talk to (views,
    forwarding, replication, handoff); http (optional) its --http address.
    Loading checks everything a node needs before it starts: 1 to
    HR_CLUSTER_MAX brokers, ids of 1 to HR_CLUSTER_ID_MAX characters of
    [A-Za-z0-9_.-], unique ids, every endpoint tcp://HOST:PORT or
    ipc://PATH (what another process can reach: no inproc://, no wildcard
    host or port), no endpoint used twice anywhere in the file, no unknown
    keys (a typo is an error, not a silent default).

    Ownership is rendezvous hashing (highest random weight): each broker's
    weight for a channel is a hash of the two; a channel's order is the
    brokers by falling weight. Its owner is the first member of the
    installed view in that order, its backup the second (docs/cluster.md, "Ownership").
    Every node computes the same order, and a broker leaving moves only
    the channels it owned.

    Ownership: a cluster is immutable once loaded and owned by its loader;
    every string it hands out lives as long as it does.  */
#ifndef HR_CLUSTER_H
#define HR_CLUSTER_H

#include "hr_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HR_CLUSTER_MAX 16
#define HR_CLUSTER_ID_MAX 32
//  Largest cluster file read.
#define HR_CLUSTER_FILE_MAX (64 * 1024)

//  A set of brokers by index in the file: bit i is broker i.
typedef uint32_t hr_members_t;

typedef struct {
    const char *id;
    const char *publish;        //  PULL
    const char *router;         //  ROUTER
    const char *stream;         //  XPUB
    const char *peer;           //  broker-to-broker ROUTER
    const char *http;           //  --http HOST:PORT; "" when not given
} hr_cluster_node_t;

typedef struct _hr_cluster_t hr_cluster_t;

//  Reads and checks a cluster file. NULL with a message naming the file,
//  the broker (by index and id) and the field in err. Caller owns it.
hr_cluster_t *hr_cluster_load (const char *path, hr_buf_t *err);

//  Same, from text in memory (len bytes); name is used in messages.
hr_cluster_t *hr_cluster_parse (const char *name, const char *text, size_t len,
                                hr_buf_t *err);

void hr_cluster_destroy (hr_cluster_t **self_p);

//  FNV-1a 32 (hr_fnv1a from HR_FNV1A_SEED) of the file's bytes as read:
//  brokers send it with every peer message ("cf") and refuse a peer whose
//  file differs, even by a space.
uint32_t hr_cluster_fingerprint (const hr_cluster_t *self);

//  Brokers in the file (1..HR_CLUSTER_MAX).
size_t hr_cluster_size (const hr_cluster_t *self);

//  Every broker of the file as a set.
hr_members_t hr_cluster_all (const hr_cluster_t *self);

//  Smallest majority of the file: size / 2 + 1.
size_t hr_cluster_majority (const hr_cluster_t *self);

//  Broker index (0-based, file order). Borrowed.
const hr_cluster_node_t *hr_cluster_node (const hr_cluster_t *self, size_t index);

//  The index of the broker with this id, or -1.
int hr_cluster_find (const hr_cluster_t *self, const char *id);

//  Which endpoint of each broker hr_cluster_endpoints lists.
typedef enum {
    HR_CLUSTER_PUBLISH, HR_CLUSTER_ROUTER, HR_CLUSTER_STREAM, HR_CLUSTER_PEER,
    HR_CLUSTER_HTTP
} hr_cluster_kind_t;

//  The endpoints of one kind of every broker of members, comma-separated
//  in file order (brokers without an http address are left out). Caller
//  frees the string.
char *hr_cluster_endpoints (const hr_cluster_t *self, hr_cluster_kind_t kind,
                            hr_members_t members);

//  A broker's rendezvous weight for a channel (len bytes): a 64-bit hash of
//  the broker's id and the channel name, the same on every node and every
//  version (docs/cluster.md gives the function).
uint64_t hr_cluster_weight (const char *id, const char *ch, size_t len);

//  Writes the brokers of members into order by falling weight for channel
//  ch (ties by index); returns how many (popcount of members, at most
//  HR_CLUSTER_MAX). order [0] is the owner, order [1] the backup.
size_t hr_cluster_order (const hr_cluster_t *self, const char *ch, size_t len,
                         hr_members_t members, int order [HR_CLUSTER_MAX]);

//  The owner of ch among members: order [0], or -1 when members is empty.
int hr_cluster_owner (const hr_cluster_t *self, const char *ch, size_t len,
                      hr_members_t members);

#endif
