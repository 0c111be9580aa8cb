/* Server identity kept in the state dir: the SSH host key (Ed25519, OpenSSH format,
 * STATE/ssh_host_ed25519_key) and the TLS certificate (self-signed ECDSA P-256,
 * SAN = listen address and localhost; STATE/tls.crt and STATE/tls.key, or configured
 * files). Generated on first start, stable afterwards. */
#ifndef FERRY_GATEWAY_KEYS_H
#define FERRY_GATEWAY_KEYS_H

#include <stdbool.h>

#include "gateway/config.h"
#include "gateway/limits.h"

struct gw_keys {
    char host_key_path[GW_MAX_PATH];
    char tls_cert_path[GW_MAX_PATH];
    char tls_key_path[GW_MAX_PATH];
    char host_key_fingerprint[128]; /* "SHA256:..." as OpenSSH prints it */
    char tls_fingerprint[128];      /* "SHA256:AB:CD:..." of the certificate */
};

/* Loads the keys from cfg->state, creating missing ones. *created is set when anything
 * was generated. 0 or GW_ERR_*, with a message in err. */
int gw_keys_prepare(const struct gw_config *cfg, struct gw_keys *keys, bool *created, char *err,
                    size_t errsz);

#endif
