/* The integrity subcommands: `ferry hash` (sha256sum & co., byte for byte) and
 * `ferry verify` (digests, manifests, signatures; exit 0 verified, 3 not, 2 usage,
 * 1 could not check). Both take argv with argv[0] = the subcommand's name. */
#ifndef FERRY_GATEWAY_CMD_INTEGRITY_H
#define FERRY_GATEWAY_CMD_INTEGRITY_H

/* ferry hash [--algo A] [--tag] [--binary] [--check] [FILE]... */
int gw_cmd_hash(int argc, char **argv);
/* ferry verify FILE [--sha256 HEX]... [--manifest SUMS [--name N]] [--sig SIG] [--key K]
 *              [--ca CAFILE] [--sig-type T] [--gpgv PROG] [--json] [--quiet] */
int gw_cmd_verify(int argc, char **argv);

#endif
