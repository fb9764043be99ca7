/*
 * sendmail - the sendmail command line programs expect (cron, mail(1) and
 * mailx, PHP's mail(), git send-email, Debian's /usr/sbin/sendmail users),
 * mapped onto qpost's programs.  It copies nothing itself: every mode ends
 * in exec, the message on fd 0 going straight to the program that reads it.
 *
 *   sendmail [-t] [-i] [-oi] [-f sender] [-F name] [-v] [--] [rcpt ...]
 *             exec bin/inject [-f sender] [-F name] [-t] -- [rcpt ...]:
 *             without -t only the arguments are recipients; with -t the
 *             header's To/Cc/Bcc too (inject's rules); with neither, the
 *             header's (as qmail-inject)
 *   sendmail -bs   SMTP on fd 0/1: exec bin/smtpd, with RELAYCLIENT set (a
 *             local user may send anywhere through inject anyway) and
 *             TCPREMOTEIP=127.0.0.1
 *   sendmail -bp   (or as "mailq") list the queue through send's command
 *             channel: exec bin/qpost-tool queue (an ordinary user sees
 *             only the messages it submitted; "queue is empty")
 *   sendmail -q    flush: every deferred recipient is tried now, through
 *             the channel: exec bin/qpost-tool retry --all (-qXXX too);
 *             exit 111 with a message when send is not running
 *   sendmail -bi   (or as "newaliases") nothing to rebuild: aliases are
 *             alias/.qmail-* files; exits 0 for scripts that call it
 *
 * Accepted and ignored, as other MTAs' wrappers do: -i and -oi (inject
 * reads to end of file; a lone "." never ends a message), every other
 * -oX, -OX=Y, -B type, -N dsn, -R ret, -V envid, -X file, -L tag, -h hops,
 * -C file, -p proto, -A?, -d?, -n, -m, -U, -G, -bm.  -r is -f.  -v prints
 * the program about to run on fd 2.  Single-letter flags may be grouped
 * ("-ti"); option arguments may be attached or the next word.
 *
 * Environment: QPOST_HOME (ignored when set-uid), else conf-home.
 *
 * Exit codes: those of the program exec'd; otherwise 0 done, 100 usage
 * (an unknown option, -bd, -bv, -bt), 111 temporary failure (out of
 * memory), 126/127 the program could not be run.
 *
 * Privilege: none; runs as the invoking user.  Never install set-uid.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "home.h"
#include "str.h"

#define ARGS_MAX 100000		/* recipients on one command line */

static int verbose;

static noreturn void
die_usage(const char *why, const char *what)
{
	err_die(100, why, what, "; usage: sendmail [-t] [-i] [-f sender] "
	    "[-F name] [-bs|-bp|-bi|-q] [rcpt ...]", (const char *)0);
}

/* run - exec the home's bin/prog with argv (argv[0] replaced) */
static noreturn void
run(const char *prog, char **argv)
{
	str rel = STR_INIT, path = STR_INIT;
	size_t i;

	if (str_copys(&rel, "bin/") < 0 || str_puts(&rel, prog) < 0 ||
	    str_0(&rel) < 0 || home_path(&path, rel.s) < 0)
		err_nomem();
	argv[0] = path.s;
	if (verbose) {
		str line = STR_INIT;

		if (str_copys(&line, "sendmail: running") < 0)
			err_nomem();
		for (i = 0; argv[i]; i++)
			if (str_putc(&line, ' ') < 0 ||
			    str_puts(&line, argv[i]) < 0)
				err_nomem();
		if (str_putc(&line, '\n') < 0)
			err_nomem();
		(void)!write(2, line.s, line.len);
		str_free(&line);
	}
	execv(path.s, argv);
	err_diesys(errno == ENOENT ? 127 : 126, "unable to run ", path.s,
	    (const char *)0);
}

/* sender - "-f" argument: strip one pair of angle brackets */
static char *
sender(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s[n - 1] = 0;
		s++;
	}
	return s;
}

int
main(int argc, char **argv)
{
	const char *base;
	char *from = 0, *name = 0;
	char mode = 'm';	/* m deliver, s smtp, p list, q flush, i aliases */
	int flagt = 0, i;
	char **av;
	size_t n;

	err_prog = "sendmail";
	err_help(argc, argv, "usage: sendmail [-t] [-i] [-f sender] [-F name] "
	    "[-bs|-bp|-bi|-q] [rcpt ...]");
	/* Every mode execs a program that waits for children (inject and
	 * smtpd for the queue program); an ignored SIGCHLD survives exec. */
	signal(SIGCHLD, SIG_DFL);
	base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (!strcmp(base, "mailq"))
		mode = 'p';
	else if (!strcmp(base, "newaliases"))
		mode = 'i';

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		char *a = argv[i] + 1;

		if (!strcmp(a, "-")) {
			i++;
			break;
		}
		while (*a) {
			char o = *a++;
			char *val = 0;

			switch (o) {
			case 't':
				flagt = 1;
				continue;
			case 'i': case 'v': case 'n': case 'm': case 'U':
			case 'G':
				if (o == 'v')
					verbose = 1;
				continue;
			case 'b':	/* -bX: the letter is attached */
				switch (*a) {
				case 'm': break;
				case 's': mode = 's'; break;
				case 'p': mode = 'p'; break;
				case 'i': mode = 'i'; break;
				case 'd':
					die_usage("no daemon mode: run the "
					    "smtpd service", "");
				case 0:
					die_usage("-b needs a mode", "");
				default:
					die_usage("unsupported mode -b", a);
				}
				a = "";
				continue;
			case 'q':	/* -q, -q30m, -qR...: rest ignored */
				mode = 'q';
				a = "";
				continue;
			case 'A': case 'd':	/* attached value only */
				a = "";
				continue;
			case 'f': case 'r': case 'F': case 'o': case 'O':
			case 'B': case 'N': case 'R': case 'V': case 'X':
			case 'L': case 'h': case 'C': case 'p':
				if (*a)
					val = a;
				else if (i + 1 < argc)
					val = argv[++i];
				else {
					char opt[3] = { '-', o, 0 };

					die_usage("missing argument to ", opt);
				}
				a = "";
				if (o == 'f' || o == 'r')
					from = sender(val);
				else if (o == 'F')
					name = val;
				continue;
			default: {
				char opt[3] = { '-', o, 0 };

				die_usage("unknown option ", opt);
			}
			}
		}
	}

	switch (mode) {
	case 'i':
		if (verbose)
			err_info("aliases are the alias/.qmail-* files; "
			    "nothing to rebuild", (const char *)0);
		_exit(0);
	case 'q': {
		char *qv[] = { 0, (char *)"retry", (char *)"--all", 0 };

		run("qpost-tool", qv);
	}
	case 'p': {
		char *qv[] = { 0, (char *)"queue", 0 };

		run("qpost-tool", qv);
	}
	case 's': {
		char *sv[] = { 0, 0 };

		if (setenv("RELAYCLIENT", "", 1) < 0 ||
		    setenv("TCPREMOTEIP", "127.0.0.1", 1) < 0 ||
		    setenv("TCPLOCALIP", "127.0.0.1", 1) < 0)
			err_nomem();
		run("smtpd", sv);
	}
	default:
		break;
	}

	n = (size_t)(argc - i);
	if (n > ARGS_MAX)
		die_usage("too many recipients", "");
	/* argv0, -f S, -F N, -t, --, recipients, NULL */
	av = calloc(n + 8, sizeof *av);
	if (!av)
		err_nomem();
	n = 1;
	if (from) {
		av[n++] = (char *)"-f";
		av[n++] = from;
	}
	if (name) {
		av[n++] = (char *)"-F";
		av[n++] = name;
	}
	if (flagt)
		av[n++] = (char *)"-t";
	av[n++] = (char *)"--";
	for (; i < argc; i++)
		av[n++] = argv[i];
	av[n] = 0;
	run("inject", av);
}
