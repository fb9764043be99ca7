/* b64 - base64 (RFC 4648, the standard alphabet with '=' padding), as
 * SMTP AUTH (RFC 4954) carries its responses.  Not crypto: an encoding. */
#ifndef B64_H
#define B64_H

#include <stddef.h>

#include "str.h"

/* b64_decode - append the bytes of s (n octets of base64, padded, no
 * white space) to out: 0, -1 when s is not base64 (out then holds
 * partial bytes), -2 when out of memory. */
int b64_decode(const char *s, size_t n, str *out);

/* b64_encode - append the base64 of s (n bytes) to out: 0 or -1 ENOMEM */
int b64_encode(const char *s, size_t n, str *out);

#endif
