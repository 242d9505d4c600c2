/*  hrg_admin: administration routes: POST /v1/admin/revoke, a revocation
    through the broker (docs/protocol.md §8, docs/security.md).  */
#ifndef HRG_ADMIN_H
#define HRG_ADMIN_H

#include "hrg_respond.h"

//  Called for every invocation of the access handler for this route.
enum MHD_Result hrg_admin_revoke_handle (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                         const char *upload_data, size_t *upload_data_size,
                                         void **con_cls);

#endif
