/* Unit tests for gateway/authpool.c: the password worker pool and its per-address
 * round-robin queue. A fake verifier stands in for yescrypt: it accepts when the
 * "hash" equals the password and records the order it was called in. */
#include <check.h>
#include "tests/unit/testutil.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gateway/authpool.h"
#include "gateway/err.h"
#include "gateway/limits.h"

static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static char order[64][16];
static size_t norder;
static int delay_ms;

static bool fake_verify(const char *hash, const char *password)
{
    if (delay_ms) {
        struct timespec ts = {0, (long)delay_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&order_mu);
    if (norder < 64)
        snprintf(order[norder++], sizeof order[0], "%s", password);
    pthread_mutex_unlock(&order_mu);
    return hash && strcmp(hash, password) == 0;
}

static void reset(int delay)
{
    norder = 0;
    delay_ms = delay;
}

static bool readable(int fd, int timeout_ms)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    return poll(&pf, 1, timeout_ms) == 1;
}

/* Three addresses: a storm from a, one login from b, two from c. Workers take one job
 * per address in turn; within an address, first come first served. */
START_TEST(test_fair_order)
{
    struct gw_authpool *p = gw_authpool_new(0, 16, fake_verify);
    const char *sub[][2] = {{"a", "A1"}, {"a", "A2"}, {"a", "A3"},
                            {"b", "B1"}, {"c", "C1"}, {"c", "C2"}};
    const char *want[] = {"A1", "B1", "C1", "A2", "C2", "A3"};
    reset(0);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(gw_authpool_submit(p, sub[i][0], i, sub[i][1], sub[i][1]), 0);
    ck_assert_uint_eq(gw_authpool_queued(p), 6);
    ck_assert(!readable(gw_authpool_fd(p), 0));
    while (gw_authpool_run_one(p))
        ;
    ck_assert_uint_eq(norder, 6);
    for (size_t i = 0; i < 6; i++)
        ck_assert_str_eq(order[i], want[i]);
    /* A key that empties leaves the ring and may come back later. */
    ck_assert_int_eq(gw_authpool_submit(p, "b", 7, "B2", "B2"), 0);
    ck_assert(gw_authpool_run_one(p));
    ck_assert_str_eq(order[6], "B2");
    gw_authpool_free(p);
}
END_TEST

/* Results carry the cookie and the verdict; the eventfd is readable exactly while
 * results wait; a NULL hash (unknown user) is denied. */
START_TEST(test_results)
{
    struct gw_authpool *p = gw_authpool_new(0, 8, fake_verify);
    uint64_t cookie;
    enum gw_authpool_verdict v;
    reset(0);
    ck_assert_int_eq(gw_authpool_submit(p, "x", 41, "secret", "secret"), 0);
    ck_assert_int_eq(gw_authpool_submit(p, "x", 42, "secret", "wrong"), 0);
    ck_assert_int_eq(gw_authpool_submit(p, "y", 43, NULL, "secret"), 0);
    ck_assert(!gw_authpool_result(p, &cookie, &v));
    while (gw_authpool_run_one(p))
        ;
    ck_assert(readable(gw_authpool_fd(p), 0));
    ck_assert(gw_authpool_result(p, &cookie, &v));
    ck_assert_uint_eq(cookie, 41);
    ck_assert_int_eq(v, GW_AUTHPOOL_OK);
    ck_assert(gw_authpool_result(p, &cookie, &v));
    ck_assert_uint_eq(cookie, 43); /* y's turn came before x's second */
    ck_assert_int_eq(v, GW_AUTHPOOL_DENIED);
    ck_assert(gw_authpool_result(p, &cookie, &v));
    ck_assert_uint_eq(cookie, 42);
    ck_assert_int_eq(v, GW_AUTHPOOL_DENIED);
    ck_assert(!gw_authpool_result(p, &cookie, &v));
    ck_assert(!readable(gw_authpool_fd(p), 0));
    gw_authpool_free(p);
}
END_TEST

/* The queue is bounded (queued plus unclaimed results); a claimed result frees a slot.
 * Over-long passwords are refused before queueing. */
START_TEST(test_submit_bounds)
{
    struct gw_authpool *p = gw_authpool_new(0, 2, fake_verify);
    char longpw[GW_MAX_PASSWORD + 2];
    uint64_t cookie;
    enum gw_authpool_verdict v;
    reset(0);
    memset(longpw, 'p', sizeof longpw - 1);
    longpw[sizeof longpw - 1] = '\0';
    ck_assert_int_eq(gw_authpool_submit(p, "a", 1, "h", longpw), GW_ERR_TOOLONG);
    ck_assert_int_eq(gw_authpool_submit(p, "a", 1, "h", "pw"), 0);
    ck_assert_int_eq(gw_authpool_submit(p, "b", 2, "h", "pw"), 0);
    ck_assert_int_eq(gw_authpool_submit(p, "c", 3, "h", "pw"), GW_ERR_LIMIT);
    ck_assert(gw_authpool_run_one(p));
    ck_assert_int_eq(gw_authpool_submit(p, "c", 3, "h", "pw"), GW_ERR_LIMIT); /* unclaimed */
    ck_assert(gw_authpool_result(p, &cookie, &v));
    ck_assert_int_eq(gw_authpool_submit(p, "c", 3, "h", "pw"), 0);
    gw_authpool_free(p);
}
END_TEST

/* Shutting down turns queued jobs into CANCELLED results, never into verdicts. */
START_TEST(test_shutdown)
{
    struct gw_authpool *p = gw_authpool_new(0, 4, fake_verify);
    uint64_t cookie;
    enum gw_authpool_verdict v;
    reset(0);
    ck_assert_int_eq(gw_authpool_submit(p, "a", 5, "pw", "pw"), 0);
    ck_assert_int_eq(gw_authpool_submit(p, "a", 6, "pw", "pw"), 0);
    gw_authpool_shutdown(p);
    ck_assert_uint_eq(norder, 0);
    ck_assert(gw_authpool_result(p, &cookie, &v));
    ck_assert_int_eq(v, GW_AUTHPOOL_CANCELLED);
    ck_assert(gw_authpool_result(p, &cookie, &v));
    ck_assert_int_eq(v, GW_AUTHPOOL_CANCELLED);
    ck_assert_int_eq(gw_authpool_submit(p, "a", 7, "pw", "pw"), GW_ERR_LIMIT);
    gw_authpool_free(p);
    gw_authpool_free(NULL);
}
END_TEST

/* Real threads: a storm of 40 slow checks from one address, then one from another. The
 * latecomer is answered within the first few results, not after the storm; every job
 * comes back exactly once with the right verdict. */
START_TEST(test_workers)
{
    struct gw_authpool *p = gw_authpool_new(2, 64, fake_verify);
    bool seen[41] = {false};
    size_t got = 0, probe_pos = 0;
    char pw[16];
    reset(10);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 40; i++) {
        snprintf(pw, sizeof pw, "s%d", i);
        ck_assert_int_eq(gw_authpool_submit(p, "10.0.0.1", (uint64_t)i, i % 2 ? pw : "x", pw), 0);
    }
    ck_assert_int_eq(gw_authpool_submit(p, "10.0.0.2", 40, "probe", "probe"), 0);
    while (got < 41) {
        uint64_t cookie;
        enum gw_authpool_verdict v;
        ck_assert(readable(gw_authpool_fd(p), 10000));
        while (gw_authpool_result(p, &cookie, &v)) {
            ck_assert_uint_lt(cookie, 41);
            ck_assert(!seen[cookie]);
            seen[cookie] = true;
            if (cookie == 40) {
                probe_pos = got;
                ck_assert_int_eq(v, GW_AUTHPOOL_OK);
            } else {
                ck_assert_int_eq(v, cookie % 2 ? GW_AUTHPOOL_OK : GW_AUTHPOOL_DENIED);
            }
            got++;
        }
    }
    /* Two workers may each have taken a storm job before the probe arrived, and one
     * more storm job precedes it in the ring. */
    ck_assert_uint_le(probe_pos, 4);
    gw_authpool_free(p);
}
END_TEST

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fork_begin waits for the running check and keeps the next one from starting until
 * fork_end. */
START_TEST(test_fork_bracket)
{
    struct gw_authpool *p = gw_authpool_new(1, 8, fake_verify);
    struct timespec ts = {0, 50 * 1000000L};
    reset(200);
    ck_assert_int_eq(gw_authpool_submit(p, "a", 1, "x", "first"), 0);
    ck_assert_int_eq(gw_authpool_submit(p, "a", 2, "x", "second"), 0);
    nanosleep(&ts, NULL); /* the worker is inside the first check */
    int64_t t0 = mono_ms();
    gw_authpool_fork_begin(p);
    ck_assert_int_ge(mono_ms() - t0, 100);
    ck_assert_uint_eq(norder, 1); /* first finished; second has not started */
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&order_mu);
    size_t held = norder;
    pthread_mutex_unlock(&order_mu);
    ck_assert_uint_eq(held, 1);
    gw_authpool_fork_end(p);
    gw_authpool_free(p); /* joins after the second check */
    ck_assert_uint_eq(norder, 2);
    gw_authpool_fork_begin(NULL);
    gw_authpool_fork_end(NULL);
}
END_TEST

Suite *gateway_authpool_suite(void)
{
    Suite *s = suite_create("gateway/authpool");
    TCase *tc = tcase_create("authpool");
    tcase_add_test(tc, test_fair_order);
    tcase_add_test(tc, test_results);
    tcase_add_test(tc, test_submit_bounds);
    tcase_add_test(tc, test_shutdown);
    tcase_add_test(tc, test_workers);
    tcase_add_test(tc, test_fork_bracket);
    suite_add_tcase(s, tc);
    return s;
}
