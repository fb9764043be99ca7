/* date - RFC 5322 date-time, e.g. "Tue, 24 Nov 2026 14:40:04 +0000". */
#ifndef DATE_H
#define DATE_H

#include <stddef.h>
#include <time.h>

#define DATE_LEN 40	/* room for any date_rfc5322 result and its NUL */

/* date_rfc5322 - local time of t with its numeric zone, NUL-terminated */
size_t date_rfc5322(char out[DATE_LEN], time_t t);

#endif
