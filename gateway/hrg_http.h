/*  hrg_http: routing: libmicrohttpd's callbacks, the route table and the
    checks every request passes first.  */
#ifndef HRG_HTTP_H
#define HRG_HTTP_H

#include "hrg_worker.h"

//  libmicrohttpd's access handler; cls is the worker.
enum MHD_Result hrg_http_access (void *cls, struct MHD_Connection *mhd, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls);

//  libmicrohttpd's accept policy; cls is the worker. Admits a connection
//  while the worker's SSE streams plus libmicrohttpd's connections are
//  under --max-connections; counts the others (overloaded) and closes them.
enum MHD_Result hrg_http_accept (void *cls, const struct sockaddr *addr, socklen_t addrlen);

//  libmicrohttpd's connection start and close; cls is the worker. Keeps
//  herald_http_connections (each such connection holds up to --conn-memory).
void hrg_http_notify_connection (void *cls, struct MHD_Connection *mhd, void **socket_context,
                                 enum MHD_ConnectionNotificationCode code);

//  libmicrohttpd's logger; cls is the worker. Counts the requests
//  libmicrohttpd refuses itself (herald_errors_total), logs the rest.
void hrg_http_mhd_log (void *cls, const char *format, va_list args);

//  libmicrohttpd's completion callback: frees the route's request state.
void hrg_http_completed (void *cls, struct MHD_Connection *mhd, void **con_cls,
                         enum MHD_RequestTerminationCode code);

#endif
