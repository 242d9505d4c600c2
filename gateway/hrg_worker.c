/*  hrg_worker: what every module does with the worker's state.  */
#include "hrg_worker.h"
#include "hr_log.h"

void
hrg_worker_count_error (hrg_worker_t *self, hr_error_t error, const char *detail)
{
    hr_metrics_inc (self->shard, self->m->errors + (int) error - 1);
    if (hr_error_http_status (error) >= 500)
        hr_log_limited_warn ("request failed", "error", hr_error_code (error), "detail", detail);
    else
        hr_log_limited_info ("request rejected", "error", hr_error_code (error), "detail", detail);
}

bool
hrg_worker_ready (hrg_worker_t *self)
{
    return atomic_load (self->linked_workers) == self->worker_count;
}
