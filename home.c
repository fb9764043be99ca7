/* home - locating the qpost home. */
#include <stdlib.h>
#include <unistd.h>

#include "home.h"

/* home_dir - whether $QPOST_HOME may count is decided once per process:
 * every control file read asks, and the four id calls are not worth
 * repeating.  The variable itself is read each time (send makes it
 * absolute after its chdir). */
const char *
home_dir(void)
{
	static int checked, setid;
	const char *h;

	if (!checked) {
		setid = getuid() != geteuid() || getgid() != getegid();
		checked = 1;
	}
	if (setid)
		return CONF_HOME;
	h = getenv("QPOST_HOME");
	return (h && *h) ? h : CONF_HOME;
}

int
home_path(str *x, const char *rel)
{
	if (str_copys(x, home_dir()) < 0 || str_putc(x, '/') < 0 ||
	    str_puts(x, rel) < 0 || str_0(x) < 0)
		return -1;
	return 0;
}

int
home_chdir(void)
{
	return chdir(home_dir());
}
