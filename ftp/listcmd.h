/* `ferry parse-listing` and `ferry detect-encoding`: the command-line faces of the listing
 * parser (ftp/listparse.h) and the encoding detector (ftp/encoding.h). Output formats are
 * the contract of DESIGN.md. */
#ifndef FERRY_FTP_LISTCMD_H
#define FERRY_FTP_LISTCMD_H

/* ferry parse-listing [--listing auto|FORMAT] [--encoding auto|NAME] [--now YYYY-MM-DDTHH:MM]
 *                     [--syst TEXT] < RAW
 * Prints one JSON object per entry per line:
 *   {"name": "...", "type": "file|dir|link|other", "size": N|null,
 *    "mtime": "YYYY-MM-DDTHH:MM"|"YYYY-MM-DD"|null, "target": "..."|null}
 * Names and targets are decoded to UTF-8; undecodable bytes appear as "%HH" (see
 * ftp/encoding.h). argv[0] is the subcommand name. Returns the exit code: 0, 1 when stdin
 * cannot be read, 2 on usage errors (--help prints the usage and returns 0). */
int lp_cmd_parse_listing(int argc, char **argv);

/* ferry detect-encoding [--hint CHARSET] [--utf8] [--candidates] < RAW
 * Prints the detected IANA charset name on the first line and the confidence (0.00-1.00)
 * on the second; --candidates adds one "NAME COST-IN-BITS" line per ranked candidate.
 * Same exit codes as lp_cmd_parse_listing. */
int enc_cmd_detect(int argc, char **argv);

#endif
