/*  hrg_query: the query arguments several endpoints share (channel lists,
    numbers, flags), parsed strictly.  */
#ifndef HRG_QUERY_H
#define HRG_QUERY_H

#include "hr_channel.h"
#include "hr_error.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

//  The request's `channel` arguments (1–64, duplicates merged) as a new
//  set, owned by the caller; NULL with *error (bad_channel,
//  too_many_channels) when there is none, one is invalid or too many.
hr_chanset_t *hrg_query_channels (struct MHD_Connection *mhd, hr_error_t *error);

//  An optional unsigned decimal argument: fallback when absent; false when
//  present but not a number that fits 64 bits.
bool hrg_query_uint (struct MHD_Connection *mhd, const char *name, uint64_t fallback,
                     uint64_t *value);

//  How many times the argument name is given (with a value or bare).
size_t hrg_query_count (struct MHD_Connection *mhd, const char *name);

//  A flag argument: true for `name=1`, `name=true`, `name=yes` or a bare
//  `name`; false otherwise or when absent.
bool hrg_query_flag (struct MHD_Connection *mhd, const char *name);

#endif
