/* ferry: one binary, subcommands. The only file that knows every front end and every
 * subcommand. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gateway/audit.h"
#include "gateway/cli.h"
#include "gateway/cmd_integrity.h"
#include "gateway/config.h"
#include "gateway/dbcmd.h"
#include "gateway/doctor.h"
#include "gateway/frontend.h"
#include "gateway/metrics.h"
#include "gateway/serve.h"
#include "gateway/users.h"
#include "ftp/fetch.h"
#include "ftp/ftpd.h"
#include "ftp/listcmd.h"
#include "ftp/vfs_ftp.h"
#include "sftp/sftpd.h"
#include "webdav/dav.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.1.0"
#endif

static const struct gw_frontend_def frontends[] = {
    {"ftp", offsetof(struct gw_config, ftp_port), &gw_ftp_frontend, "ftp", false, "ftp"},
    {"ftps", offsetof(struct gw_config, ftps_port), &gw_ftp_frontend, "ftps", true, "ftps"},
    {"sftp", offsetof(struct gw_config, sftp_port), &gw_sftp_frontend, "sftp", false, "sftp"},
    {"https", offsetof(struct gw_config, https_port), &gw_webdav_frontend, "webdav", false,
     "https"},
    {"metrics", offsetof(struct gw_config, metrics_port), &gw_metrics_frontend, "metrics", false,
     "http"},
    {"test", offsetof(struct gw_config, test_port), &gw_test_frontend, "test", false, NULL},
};

static int cmd_serve(int argc, char **argv)
{
    return gw_cmd_serve(argc, argv, frontends, sizeof frontends / sizeof frontends[0],
                        ftpc_mount_new);
}

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "run the gateway (FTP/FTPS, SFTP, WebDAV on HTTPS)"},
    {"user", auth_cmd_main, "add, delete, list users; set passwords and keys"},
    {"audit", audit_cmd_main, "query the audit log; 'audit verify' checks its chain, 'rotate'"},
    {"db", gw_db_cmd_main, "shared state in PostgreSQL: 'db migrate', 'status', 'import'"},
    {"hash", gw_cmd_hash, "print file hashes like sha256sum"},
    {"verify", gw_cmd_verify, "verify a file against a hash, manifest or signature"},
    {"doctor", gw_cmd_doctor, "check a deployment and say what to fix"},
    {"ls", ftpc_cmd_ls, "list a directory of a legacy FTP server"},
    {"get", ftpc_cmd_get, "download one file from a legacy FTP server, resuming"},
    {"mirror", ftpc_cmd_mirror, "mirror a legacy FTP tree (cron-friendly)"},
    {"parse-listing", lp_cmd_parse_listing, "parse raw LIST/MLSD output from stdin"},
    {"detect-encoding", enc_cmd_detect, "detect the charset of file names from stdin"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: ferry COMMAND [OPTION]...\n"
                 "Ferry moves legacy FTP to SFTP and WebDAV without breaking anything.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'ferry COMMAND --help' describes a command; 'man ferry' describes them all.\n"
                 "Exit status: 0 ok, 1 some items failed, 2 usage or configuration error,\n"
                 "3 verification failed or log tampered, 4 already running, 75 retry later.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return GW_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            char *sub[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (strcmp(commands[i].name, argv[2]) == 0)
                    return commands[i].run(2, sub);
        }
        usage(stdout);
        return GW_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("ferry %s\n", FERRY_VERSION);
        return GW_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ferry: unknown command '%s'\n", name);
    usage(stderr);
    return GW_EXIT_USAGE;
}
