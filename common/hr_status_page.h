/*  hr_status_page: the live status page, common/status.html, embedded at
    build time (cmake/embed.cmake). The gateway (`herald run`, `herald
    gateway`) and a broker's --http both serve it at GET /status; it reads
    /metrics and /v1/cluster of the server that sent it (docs/operations.md,
    "Status page").  */
#ifndef HR_STATUS_PAGE_H
#define HR_STATUS_PAGE_H

#include <stddef.h>

//  The page's bytes, NUL-terminated; hr_status_page_size excludes the NUL.
extern const unsigned char hr_status_page [];
extern const size_t hr_status_page_size;

#define HR_STATUS_PAGE_TYPE "text/html; charset=utf-8"

#endif
