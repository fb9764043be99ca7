/* home - locating the qpost home. */
#include <stdlib.h>
#include <unistd.h>

#include "home.h"

const char *
home_dir(void)
{
	const char *h;

	if (getuid() != geteuid() || getgid() != getegid())
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
