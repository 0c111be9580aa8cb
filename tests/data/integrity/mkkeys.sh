#!/bin/sh
# Makes, with the real tools, every key and signature the integrity tests check:
#   sh tests/data/integrity/mkkeys.sh DIR
# DIR receives data files, manifests, and for each tool a key pair, a second (wrong)
# key, and signatures over file.bin and over the manifests. Nothing here is a
# fixture checked into the tree: keys are fresh on every run.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" >/dev/null 2>&1 || { echo "mkkeys: failed: $*" >&2; "$@"; exit 1; }; }

# --- data and manifests -------------------------------------------------------------
head -c 100000 /dev/urandom > file.bin
printf 'second file\n' > other.txt
: > empty
sha256sum file.bin other.txt empty > SHA256SUMS
sha512sum file.bin other.txt > SHA512SUMS
b2sum file.bin other.txt > B2SUMS
md5sum file.bin > MD5SUMS
sha256sum --tag file.bin other.txt > SHA256          # OpenBSD style, tagged
cp SHA256SUMS SHA256SUMS.orig

# --- minisign -----------------------------------------------------------------------
quiet minisign -G -W -p m.pub -s m.key
quiet minisign -G -W -p m2.pub -s m2.key
quiet minisign -S -s m.key -m file.bin -t "ferry test file" -x file.bin.minisig
quiet minisign -S -l -s m.key -m file.bin -x file.bin.legacy.minisig
quiet minisign -S -s m.key -m SHA256SUMS -x SHA256SUMS.minisig
quiet minisign -S -s m2.key -m file.bin -x file.bin.m2.minisig

# --- signify ------------------------------------------------------------------------
quiet signify-openbsd -G -n -p s.pub -s s.sec
quiet signify-openbsd -G -n -p s2.pub -s s2.sec
quiet signify-openbsd -S -s s.sec -m file.bin -x file.bin.sig
quiet signify-openbsd -S -s s.sec -m SHA256SUMS -x SHA256SUMS.sig
quiet signify-openbsd -S -e -s s.sec -m SHA256 -x SHA256.sig     # embedded manifest

# --- OpenSSL raw signatures ---------------------------------------------------------
quiet openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem
quiet openssl pkey -in rsa.pem -pubout -out rsa.pub
quiet openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2.pem
quiet openssl pkey -in rsa2.pem -pubout -out rsa2.pub
quiet openssl dgst -sha256 -sign rsa.pem -out file.bin.rsa.sig file.bin
quiet openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sign rsa.pem -out file.bin.pss.sig file.bin
quiet openssl dgst -sha512 -sign rsa.pem -out file.bin.rsa512.sig file.bin
quiet openssl dgst -sha256 -sign rsa.pem -out SHA256SUMS.rsa.sig SHA256SUMS
quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem
quiet openssl pkey -in ec.pem -pubout -out ec.pub
quiet openssl dgst -sha256 -sign ec.pem -out file.bin.ec.sig file.bin
quiet openssl genpkey -algorithm ed25519 -out ed.pem
quiet openssl pkey -in ed.pem -pubout -out ed.pub
quiet openssl pkeyutl -sign -rawin -inkey ed.pem -in file.bin -out file.bin.ed.sig

# --- CMS / PKCS#7 detached -----------------------------------------------------------
quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.pem -subj /CN=Ferry-Test-CA -days 2
quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca2.key \
    -out ca2.pem -subj /CN=Other-CA -days 2
quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout signer.key \
    -out signer.csr -subj /CN=Ferry-Test-Signer
quiet openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out signer.crt -days 2
quiet openssl cms -sign -binary -in file.bin -signer signer.crt -inkey signer.key \
    -outform DER -out file.bin.p7s
quiet openssl cms -sign -binary -in file.bin -signer signer.crt -inkey signer.key \
    -outform PEM -out file.bin.p7s.pem
quiet openssl cms -sign -binary -in SHA256SUMS -signer signer.crt -inkey signer.key \
    -outform DER -out SHA256SUMS.p7s
# a code-signing certificate (accepted) and a TLS server one (refused as a signer)
printf 'extendedKeyUsage=codeSigning\nkeyUsage=digitalSignature\n' > codesign.ext
printf 'extendedKeyUsage=serverAuth\n' > tls.ext
quiet openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out codesign.crt -days 2 -extfile codesign.ext
quiet openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out tls.crt -days 2 -extfile tls.ext
quiet openssl cms -sign -binary -in file.bin -signer codesign.crt -inkey signer.key \
    -outform DER -out file.bin.codesign.p7s
quiet openssl cms -sign -binary -in file.bin -signer tls.crt -inkey signer.key \
    -outform DER -out file.bin.tls.p7s
quiet openssl cms -sign -binary -nodetach -in file.bin -signer signer.crt -inkey signer.key \
    -outform DER -out file.bin.attached.p7s

# --- OpenPGP (gpg makes, gpgv checks) -------------------------------------------------
GNUPGHOME=$dir/gnupg
export GNUPGHOME
mkdir -m 700 -p "$GNUPGHOME"
quiet gpg --batch --passphrase '' --quick-gen-key 'Ferry Test <ferry@example.org>' ed25519 sign never
quiet gpg --batch --passphrase '' --quick-gen-key 'Other Key <other@example.org>' ed25519 sign never
quiet gpg --batch -u ferry@example.org --detach-sign -o file.bin.gpgsig file.bin
quiet gpg --batch -u ferry@example.org --armor --detach-sign -o file.bin.asc file.bin
quiet gpg --batch -u ferry@example.org --armor --detach-sign -o SHA256SUMS.asc SHA256SUMS
quiet gpg --batch -u other@example.org --detach-sign -o file.bin.other.gpgsig file.bin
quiet gpg --batch --export -o pub.gpg ferry@example.org
quiet gpg --batch --armor --export -o pub.asc ferry@example.org
quiet gpg --batch --export -o pub2.gpg other@example.org
gpgconf --kill all >/dev/null 2>&1 || true
echo ok > done
