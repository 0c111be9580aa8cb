/* FTP directory listing parser: turns the raw bytes of a LIST, NLST-less MLSD or MLST reply
 * into entries, whatever platform printed them.
 *
 * Pure and streaming: no I/O, no globals, no logging. Bytes are fed in chunks of any size
 * (a line may be split anywhere); complete entries are handed to a callback as soon as the
 * listing format is known. Names stay raw bytes in the server's encoding (see
 * ftp/encoding.h to decode them).
 *
 * Format detection (LP_FMT_AUTO) works like lftp: the first LP_DETECT_LINES non-blank lines
 * (or LP_DETECT_BYTES bytes) are run through every candidate line parser, each parser's
 * successes and failures are counted, and the best one is locked in; later lines are parsed
 * by the winner first and, when it fails, by the other candidates in order (a listing can
 * mix shapes), so the earlier lines act as the prior. The ambiguous mainframe formats (MVS
 * datasets and PDS members, Tandem) are only candidates when the SYST hint names their
 * system or their column header line appears. VMS entries wrapped over two lines are joined
 * (FileZilla's approach) when a lone "NAME.EXT;N" line is followed by the rest of the entry.
 *
 * Lines that are not entries (blank lines, "total 12", column headers, VMS directory and
 * total lines, anything unparseable) are skipped and counted in lp_stats.junk; they never
 * become entries. "." and ".." (and MLSD cdir/pdir) are counted in lp_stats.ignored. */
#ifndef FERRY_FTP_LISTPARSE_H
#define FERRY_FTP_LISTPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest line kept; longer lines are skipped as junk. Same value as GW_MAX_LISTING_LINE
 * (this module includes nothing else of Ferry's, so it has its own copy). */
#define LP_MAX_LINE 65536
/* Detection window: non-blank lines, and bytes, scored before a format is locked in. */
#define LP_DETECT_LINES 16
#define LP_DETECT_BYTES 65536

/* Errors. Same values as the matching GW_ERR_* codes of gateway/err.h. */
#define LP_ERR_NOMEM (-1)
#define LP_ERR_INVAL (-2)

enum lp_format {
    LP_FMT_AUTO = 0, /* detect (the default) */
    LP_FMT_UNIX,     /* ls -l, incl. Windows servers faking it and MacOS "Peter" */
    LP_FMT_DOS,      /* Windows/IIS "MM-DD-YY  HH:MMAM  <DIR> name" */
    LP_FMT_VMS,      /* OpenVMS DIRECTORY/FULL-ish: "NAME.EXT;1  4/6  17-NOV-2010 10:30:45 [G,O]
                        (RWED,...)" */
    LP_FMT_EPLF,     /* "+i8388621.48594,m825718503,r,s280,\tname" */
    LP_FMT_MLSD,     /* RFC 3659 facts "type=file;size=1;modify=20101117103045; name" */
    LP_FMT_OS2,      /* "  1234  A   11-17-10   10:30  name" */
    LP_FMT_OS400,    /* "QSYS  77824 02/23/00 15:09:55 *DIR  QOpenSys/" */
    LP_FMT_MVS,      /* MVS/z/OS catalogued datasets (Volume Unit Referred ... Dsname) */
    LP_FMT_MVS_PDS,  /* members of a partitioned dataset (source or load library, or bare names) */
    LP_FMT_NETWARE,  /* "d [RWCEAFMS] owner  512 Nov 17 10:30 name" */
    LP_FMT_TANDEM, /* Tandem/HPE NonStop Guardian "NAME  101  130 15-Feb-11 16:50:26 1,10 \"nnnn\""
                    */
    LP_FMT_COUNT
};

enum lp_type { LP_TYPE_FILE = 0, LP_TYPE_DIR, LP_TYPE_LINK, LP_TYPE_OTHER };

/* How much of a time stamp is known. */
enum lp_time_prec {
    LP_TIME_NONE = 0, /* no date at all */
    LP_TIME_DAY,      /* date only */
    LP_TIME_MINUTE,   /* date and hour:minute */
    LP_TIME_SECOND    /* date and hour:minute:second */
};

/* A calendar time as printed by the server. Fields below the precision are 0. */
struct lp_time {
    int year;           /* e.g. 2010; 0 when the listing gave none and no reference was set */
    int mon;            /* 1..12 */
    int day;            /* 1..31 */
    int hour, min, sec; /* 0..23, 0..59, 0..60 */
    enum lp_time_prec prec;
    bool year_inferred; /* the listing omitted the year (ls "Nov 17 10:30"); it was chosen
                         * from lp_options.now so the date is not in the future */
    bool utc;           /* the time is UTC (MLSD modify, EPLF, full-iso with offset);
                         * otherwise it is the server's local time, zone unknown */
};

/* Entry flags (lp_entry.flags). */
#define LP_HAVE_SIZE 0x1u   /* size is known */
#define LP_HAVE_MODE 0x2u   /* mode holds Unix permission bits */
#define LP_SIZE_APPROX 0x4u /* size derived from a block count (VMS: blocks * 512) */

/* One directory entry. Every pointer points into the parser's or the caller's line memory
 * and is valid only during the callback (or until the line buffer given to lp_parse_line
 * changes). Strings are raw bytes, not NUL-terminated; absent ones are NULL with length 0. */
struct lp_entry {
    const char *name;
    size_t name_len;
    const char *target; /* symlink target (Unix "a -> b", MLSD OS.unix=slink:) */
    size_t target_len;
    const char *owner;
    size_t owner_len;
    const char *group;
    size_t group_len;
    const char *perm_text; /* the permission field as printed ("-rw-r--r--", "(RWED,RE,,)",
                            * "[RWCEAFMS]", MLSD perm= facts) */
    size_t perm_text_len;
    uint64_t size; /* bytes, when flags & LP_HAVE_SIZE */
    unsigned mode; /* 07777 permission bits, when flags & LP_HAVE_MODE */
    unsigned flags;
    enum lp_type type;
    enum lp_format format; /* the line parser that produced the entry */
    struct lp_time mtime;
    uint64_t line; /* 1-based number of the entry's (first) line in the listing */
};

/* Options flags (lp_options.flags). */
#define LP_OPT_KEEP_VMS_VERSION 0x1u /* keep ";N" on VMS file names (default: stripped) */
#define LP_OPT_KEEP_DOTS 0x2u        /* report "." and ".." entries (default: ignored) */

struct lp_options {
    enum lp_format format; /* LP_FMT_AUTO, or force one line parser */
    /* Reference time (server local wall clock) for dates printed without a year: the year is
     * chosen so the date is not more than 2 days after it. year == 0: such dates keep year 0. */
    struct lp_time now;
    /* SYST reply text (e.g. "215 MVS is the operating system of this server."), or NULL.
     * Copied by lp_parser_new(); enables and favours the matching formats. */
    const char *syst;
    size_t syst_len;
    unsigned flags;
};

/* Counters over everything fed so far. */
struct lp_stats {
    uint64_t lines;        /* lines seen (a wrapped VMS entry counts its two lines) */
    uint64_t entries;      /* entries delivered */
    uint64_t junk;         /* lines skipped: blank, totals, headers, unparseable, too long */
    uint64_t ignored;      /* "." / ".." / MLSD cdir, pdir */
    enum lp_format format; /* the format locked in (LP_FMT_AUTO while still detecting) */
};

/* Called once per entry, in listing order. A non-zero return stops parsing: lp_feed and
 * lp_finish return that value, and every later call returns it too (the error sticks). */
typedef int (*lp_entry_fn)(void *ctx, const struct lp_entry *e);

struct lp_parser;

/* Creates a parser; opt may be NULL (all defaults). Returns NULL when out of memory or when
 * opt->format is out of range. Free with lp_parser_free(). */
struct lp_parser *lp_parser_new(const struct lp_options *opt);
/* Feeds len bytes (any split). Returns 0, LP_ERR_NOMEM, or the callback's non-zero value.
 * Entries may be held back until the detection window is full or lp_finish() is called. */
int lp_feed(struct lp_parser *p, const void *buf, size_t len, lp_entry_fn fn, void *ctx);
/* Ends the listing: parses a last unterminated line, flushes the detection window and a
 * pending wrapped VMS line. Same return values as lp_feed. Further feeds start a new
 * listing with the same options (counters keep running). */
int lp_finish(struct lp_parser *p, lp_entry_fn fn, void *ctx);
void lp_parser_free(struct lp_parser *p);
void lp_get_stats(const struct lp_parser *p, struct lp_stats *st);

/* Line-level results of lp_parse_line. */
#define LP_LINE_ENTRY 1   /* *out holds an entry */
#define LP_LINE_JUNK 0    /* not an entry of that format (or a header/summary line) */
#define LP_LINE_IGNORED 2 /* a valid "." / ".." / cdir / pdir entry, not reported */

/* Parses one complete line (no line terminator; a trailing CR is tolerated) with one
 * format, which must not be LP_FMT_AUTO. opt may be NULL. out's pointers point into line.
 * Returns LP_LINE_ENTRY, LP_LINE_JUNK, LP_LINE_IGNORED, or LP_ERR_INVAL. */
int lp_parse_line(const char *line, size_t len, enum lp_format fmt, const struct lp_options *opt,
                  struct lp_entry *out);

/* Lower-case name of a format ("unix", "dos", "vms", "eplf", "mlsd", "os2", "os400", "mvs",
 * "mvs-pds", "netware", "tandem"; "auto"). */
const char *lp_format_name(enum lp_format f);
/* Parses a format name (case-insensitive; also accepts the aliases "windows", "iis", "nt",
 * "mlst", "as400", "zos", "pds", "peter", "macos", "guardian", "nonstop"). Returns the
 * format, or -1 when unknown. */
int lp_format_from_name(const char *name);
/* The format a SYST reply suggests, or LP_FMT_AUTO when it says nothing useful. */
enum lp_format lp_syst_format(const char *syst, size_t len);

#endif
