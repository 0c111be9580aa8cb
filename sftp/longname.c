/* `ls -l` style long names for SFTP READDIR replies (see sftp/longname.h). */
#include "sftp/longname.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gateway/err.h"

void sftpd_mode_string(uint32_t mode, char out[11])
{
    char t;
    switch (mode & S_IFMT) {
    case S_IFDIR:
        t = 'd';
        break;
    case S_IFLNK:
        t = 'l';
        break;
    case S_IFIFO:
        t = 'p';
        break;
    case S_IFSOCK:
        t = 's';
        break;
    case S_IFCHR:
        t = 'c';
        break;
    case S_IFBLK:
        t = 'b';
        break;
    default:
        t = '-';
        break;
    }
    out[0] = t;
    static const char rwx[] = "rwxrwxrwx";
    for (int i = 0; i < 9; i++)
        out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
    if (mode & S_ISUID)
        out[3] = (mode & S_IXUSR) ? 's' : 'S';
    if (mode & S_ISGID)
        out[6] = (mode & S_IXGRP) ? 's' : 'S';
    if (mode & S_ISVTX)
        out[9] = (mode & S_IXOTH) ? 't' : 'T';
    out[10] = '\0';
}

int sftpd_longname(char *out, size_t outsz, const char *name, const struct vfs_stat *st,
                   const char *owner, const char *group, int64_t now)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char mode[11], date[64];
    struct tm tm;
    time_t t = (time_t)st->mtime;

    sftpd_mode_string(st->mode, mode);
    if (!gmtime_r(&t, &tm)) {
        memset(&tm, 0, sizeof tm);
        tm.tm_mday = 1;
        tm.tm_year = 70;
    }
    /* Like ls(1): the time of day for recent files, the year otherwise. */
    const int64_t half_year = 365 * 86400 / 2;
    if (st->mtime > now - half_year && st->mtime < now + half_year)
        snprintf(date, sizeof date, "%.3s %2d %02d:%02d", months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
                 tm.tm_min);
    else
        snprintf(date, sizeof date, "%.3s %2d  %4d", months[tm.tm_mon], tm.tm_mday,
                 tm.tm_year + 1900);

    int n = snprintf(out, outsz, "%s %4u %-8s %-8s %8llu %s %s", mode, (unsigned)st->nlink, owner,
                     group, (unsigned long long)st->size, date, name);
    if (n < 0 || (size_t)n >= outsz) {
        if (outsz > 0)
            out[0] = '\0';
        return GW_ERR_TOOLONG;
    }
    return n;
}
