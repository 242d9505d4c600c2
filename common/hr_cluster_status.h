/*  hr_cluster_status: the JSON of GET /v1/cluster, on brokers and gateways
    alike (docs/cluster.md, "Seeing the cluster").

        {"cluster": true,
         "view": {"number": 7, "members": ["b1", "b2"], "owners": ["b1", "b2"],
                  "handoff": []},
         "brokers": [{"id": "b1", "up": true, "member": true, "owner": true}, ...],
         "self": "b1", "lease": true,
         "channel": {"name": "orders", "owner": "b2", "backup": "b1"}}

    "self" and "lease" only on brokers; "channel" only when asked for one
    (owner and backup null when the view has none). Without a cluster file:
    {"cluster": false, "view": {"number": 0, "members": [], "owners": [],
    "handoff": []}, "brokers": []}, plus "channel" with null owner and
    backup when asked.  */
#ifndef HR_CLUSTER_STATUS_H
#define HR_CLUSTER_STATUS_H

#include "hr_buf.h"
#include "hr_cluster.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t number;            //  installed view; 0 = none yet
    hr_members_t members, owners, handoff;
    hr_members_t up;            //  brokers heard from (the writer's failure detector)
    int self;                   //  this broker's index; -1 on gateways
    bool lease;                 //  brokers: holds its majority lease
} hr_cluster_status_t;

//  Appends the JSON above to out. cluster NULL: the single-broker form.
//  channel (NUL-terminated) NULL: no "channel" member.
void hr_cluster_status_json (const hr_cluster_t *cluster, const hr_cluster_status_t *status,
                             const char *channel, hr_buf_t *out);

#endif
