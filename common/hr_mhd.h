/*  hr_mhd: what the gateway and the broker's --http share about
    libmicrohttpd's log lines (without linking it: common does not).

    libmicrohttpd answers a request it cannot parse or hold with a page of
    its own (0.9.75 offers no hook to replace it); the line it logs then is
    the one place that names the status, so both servers read it there to
    count the refusal like their own errors.  */
#ifndef HR_MHD_H
#define HR_MHD_H

#include "hr_error.h"

#include <stdarg.h>
#include <stddef.h>

//  Formats a line of libmicrohttpd's external logger (format and args as
//  it passes them; args is consumed) into line (size bytes, trailing
//  newlines cut). Returns the status it says libmicrohttpd answered by
//  itself ("... HTTP response code is %u ..."), or 0.
unsigned hr_mhd_log_line (char *line, size_t size, const char *format, va_list args);

//  Such a status as Herald's error: 431 and 414 headers_too_large, 413
//  body_too_large, 500 internal, anything else bad_request.
hr_error_t hr_mhd_status_error (unsigned status);

#endif
