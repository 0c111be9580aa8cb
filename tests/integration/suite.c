/* The integration suite: one Check test per tests/integration/t_*.sh script, then one
 * per tests/cluster/c_*.sh script (several nodes behind HAProxy sharing PostgreSQL:
 * about a minute and a half in all, so they run here as well as in make cluster-test).
 * Each script starts build/dbg/ferry on free loopback ports in its own temporary
 * directory, drives it with real clients (curl, lftp, ftplib, sftp, ...), asserts
 * what it sees, and cleans up every process it started (tests/integration/lib.sh).
 * A script passes when it exits 0; its output is kept in build/tmp/logs/NAME.log and
 * its tail is printed when it fails. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/unit/testutil.h"

#define MAX_SCRIPTS 128
#define SCRIPT_TIMEOUT 600

static char *scripts[MAX_SCRIPTS];
static int nscripts;

static const char *src_dir(void)
{
    const char *s = getenv("FERRY_SRC");
    return s && *s ? s : ".";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds "SUB/NAME" for every NAME in tests/SUB that starts with prefix and ends in .sh,
 * sorted by name. */
static void find_in(const char *sub, const char *prefix)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/%s", src_dir(), sub);
    DIR *d = opendir(dir);
    if (!d)
        return;
    int first = nscripts;
    struct dirent *e;
    while ((e = readdir(d)) && nscripts < MAX_SCRIPTS) {
        size_t n = strlen(e->d_name), pl = strlen(prefix);
        if (strncmp(e->d_name, prefix, pl) == 0 && n > pl + 3 &&
            strcmp(e->d_name + n - 3, ".sh") == 0) {
            size_t len = strlen(sub) + 1 + n + 1;
            char *path = malloc(len);
            if (!path)
                break;
            snprintf(path, len, "%s/%s", sub, e->d_name);
            scripts[nscripts++] = path;
        }
    }
    closedir(d);
    qsort(scripts + first, (size_t)(nscripts - first), sizeof *scripts, by_name);
}

static void find_scripts(void)
{
    find_in("integration", "t_");
    find_in("cluster", "c_");
}

START_TEST(run_script)
{
    const char *path = scripts[_i], *name = strrchr(path, '/') + 1;
    const char *tmp = getenv("FERRY_TEST_TMP");
    char logdir[4096];
    snprintf(logdir, sizeof logdir, "%s/logs", tmp && *tmp ? tmp : "/tmp/ferry-tests");
    tu_sh("mkdir -p '%s'", logdir);
    int rc = tu_sh("cd '%s' && timeout -k 10 %d bash tests/%s > '%s/%s.log' 2>&1", src_dir(),
                   SCRIPT_TIMEOUT - 20, path, logdir, name);
    if (rc != 0) {
        fprintf(stderr, "---- %s failed (exit %d); last lines of %s/%s.log:\n", name, rc, logdir,
                name);
        tu_sh("tail -n 60 '%s/%s.log' >&2", logdir, name);
    }
    ck_assert_msg(rc == 0, "%s exited %d (log: %s/%s.log)", name, rc, logdir, name);
}
END_TEST

Suite *integration_suite(void)
{
    Suite *s = suite_create("integration");
    TCase *tc = tcase_create("scripts");
    find_scripts();
    tcase_set_timeout(tc, SCRIPT_TIMEOUT);
    if (nscripts > 0)
        tcase_add_loop_test(tc, run_script, 0, nscripts);
    suite_add_tcase(s, tc);
    return s;
}
