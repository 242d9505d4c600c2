/*  hrg_publish: POST /v1/publish, HTTP publishing through the broker's
    acknowledged publish (docs/protocol.md §8).  */
#ifndef HRG_PUBLISH_H
#define HRG_PUBLISH_H

#include "hrg_respond.h"

//  Called for every invocation of the access handler for this route.
enum MHD_Result hrg_publish_handle (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls);

#endif
