/*  hrg_history: GET /v1/history, the polling fallback over the broker's
    history query (docs/protocol.md §8).  */
#ifndef HRG_HISTORY_H
#define HRG_HISTORY_H

#include "hrg_respond.h"

enum MHD_Result hrg_history_handle (hrg_worker_t *worker, struct MHD_Connection *mhd,
                                    void **con_cls);

#endif
