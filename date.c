/* date - RFC 5322 dates, written without the locale. */
#include <stdio.h>
#include <stdlib.h>

#include "date.h"

size_t
date_rfc5322(char out[DATE_LEN], time_t t)
{
	static const char day[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off, a;
	int n;

	if (!localtime_r(&t, &tm)) {
		t = 0;
		gmtime_r(&t, &tm);
		tm.tm_gmtoff = 0;
	}
	off = tm.tm_gmtoff / 60;
	a = labs(off);
	n = snprintf(out, DATE_LEN, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    day[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', a / 60 % 100, a % 60);
	if (n < 0 || n >= DATE_LEN) {
		out[0] = 0;
		return 0;
	}
	return (size_t)n;
}
