/* commit - the atomic replacement of a file (a compiled cdb, say): the
 * new contents are complete in tmp, open on fd; commit_file fsyncs and
 * closes fd, renames tmp over dst and fsyncs dir, so that after a crash
 * dst is either the old file or the whole new one.  With dir 0 the
 * directory is not synced: the caller's next commit_file into the same
 * directory does it for both. */
#ifndef COMMIT_H
#define COMMIT_H

/* commit_file - 0, or -1 with errno and *step naming what failed:
 * "write", "rename" or "sync" */
int commit_file(int fd, const char *tmp, const char *dst, const char *dir,
    const char **step);
/* commit_sync - fsync the directory dir: 0, or -1 with errno */
int commit_sync(const char *dir);

/* commit_unnamed - a new file without a name in the directory dir
 * (O_TMPFILE, open for writing with mode), to be named by commit_link
 * once it is whole and synced: its fsync then writes no directory (on
 * ext4 the fsync of a file just created under a name writes that
 * directory too), and a crash leaves nothing of it.  -1 where the
 * kernel or the file system has no such file, or /proc is not there to
 * name it (looked at once a process: a long-lived local -W asks it once;
 * should /proc go later, commit_link fails): the caller makes a named
 * file instead (its errors tell). */
int commit_unnamed(const char *dir, int mode);
/* commit_link - give fd, from commit_unnamed, the name dst (linkat of
 * /proc/self/fd/N): 0, or -1 with errno (EEXIST: dst exists) */
int commit_link(int fd, const char *dst);

#endif
