/* home - where this qpost instance lives: $QPOST_HOME, else conf-home.
 * A set-uid or set-gid program ignores $QPOST_HOME. */
#ifndef HOME_H
#define HOME_H

#include "str.h"

const char *home_dir(void);
/* home_path - home "/" rel, NUL-terminated; -1 on ENOMEM. */
int home_path(str *, const char *rel);
/* home_chdir - chdir to the home; -1 with errno. */
int home_chdir(void);

#endif
