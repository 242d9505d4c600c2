/*  hr_b64url: strict base64url (RFC 4648 §5) for tokens and keys.

    Strict means: the whole input is the URL-safe alphabet, no padding,
    no whitespace, and unused trailing bits are zero, so every byte string
    has exactly one accepted text (no malleable tokens).  */
#ifndef HR_B64URL_H
#define HR_B64URL_H

#include "hr_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The largest number of bytes text_len characters can decode to.
#define HR_B64URL_DECODED_MAX(text_len) (((text_len) / 4) * 3 + 2)

//  Decodes text[0..len) into bin (room for bin_max bytes). Returns true
//  with the byte count in *bin_len; false when the text is not strict
//  base64url or does not fit.
bool hr_b64url_decode (uint8_t *bin, size_t bin_max, const char *text, size_t len,
                       size_t *bin_len);

//  Appends the base64url text (no padding) of data[0..size) to out.
void hr_b64url_encode (hr_buf_t *out, const void *data, size_t size);

#endif
