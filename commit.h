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

#endif
