/* OpenPGP signatures, checked by running gpgv (GnuPG's verify-only tool) with the
 * given key as its only keyring, in a private temporary home directory. gpgv's
 * machine-readable status lines (--status-fd) decide the outcome, never its exit code
 * alone. */
#ifndef FERRY_INTEGRITY_GPG_H
#define FERRY_INTEGRITY_GPG_H

#include <stdbool.h>
#include <stddef.h>

#include "integrity/sig.h"

#define IG_GPG_STATUS_MAX (1u << 20) /* status output read from gpgv */

/* What gpgv's status lines say. */
struct ig_gpg_status {
    unsigned goodsig, validsig; /* GOODSIG and VALIDSIG lines */
    unsigned badsig;            /* BADSIG, EXPSIG, EXPKEYSIG, REVKEYSIG */
    unsigned errsig;            /* ERRSIG (cannot check) */
    bool no_pubkey;             /* NO_PUBKEY */
    bool nodata;                /* NODATA: no signature found */
    char fpr[64];               /* from the first VALIDSIG: primary key fingerprint */
    char uid[256];              /* from the first GOODSIG/BADSIG: user id (control bytes '?') */
    char keyid[32];             /* from the first GOODSIG/BADSIG/ERRSIG */
};

/* Parses gpgv --status-fd output (pure). Unknown lines are ignored. */
void ig_gpg_status_parse(const char *buf, size_t len, struct ig_gpg_status *st);

/* Verifies an OpenPGP detached signature (binary or armored) over data with the key
 * (binary or armored public key export, or a keybox) by running trust->gpgv (default
 * "gpgv" on PATH). IG_SIGV_ERROR with a clear reason when gpgv is not installed. */
enum ig_sig_status ig_gpg_verify(const unsigned char *sig, size_t sig_len,
                                 const struct ig_trust *trust, const struct ig_signed *data,
                                 struct ig_sig_result *res);

#endif
