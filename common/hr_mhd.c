/*  hr_mhd: reading libmicrohttpd's log lines (hr_mhd.h).  */
#include "hr_mhd.h"

#include <stdio.h>
#include <string.h>

unsigned
hr_mhd_log_line (char *line, size_t size, const char *format, va_list args)
{
    static const char mark [] = "HTTP response code is %u";
    const char *status_at = strstr (format, mark);
    unsigned status = 0;
    //  The status is the line's first argument only if no % comes before
    if (status_at && strchr (format, '%') == status_at + sizeof mark - 3) {
        va_list copy;
        va_copy (copy, args);
        status = va_arg (copy, unsigned);
        va_end (copy);
    }
    vsnprintf (line, size, format, args);
    size_t len = strlen (line);
    while (len && line [len - 1] == '\n')
        line [--len] = 0;
    return status;
}

hr_error_t
hr_mhd_status_error (unsigned status)
{
    switch (status) {
        case 431:               //  Request Header Fields Too Large
        case 414: return HR_E_HEADERS_TOO_LARGE;       //  URI Too Long
        case 413: return HR_E_BODY_TOO_LARGE;
        case 500: return HR_E_INTERNAL;
        default: return HR_E_BAD_REQUEST;
    }
}
