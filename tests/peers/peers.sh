# Real legacy FTP servers for the tests, on loopback, started and stopped by the test run
# (sourced by integration scripts; bash). Every server runs in the foreground as our
# child, with its own configuration in a temporary directory, on a free loopback port,
# passive data connections announced as 127.0.0.1.
#
#   peer_start KIND DIR [user|anon]   KIND: vsftpd pure-ftpd proftpd pyftpdlib
#       Serves DIR. "user" (default): login PEER_USER / PEER_PASS, read-write, chrooted to
#       DIR (the tree is chowned to PEER_USER so the session can write). "anon": anonymous
#       read-only. Sets PEER_KIND PEER_PORT PEER_PID PEER_URL (ftp://USER:PASS@127.0.0.1:PORT/
#       or ftp://127.0.0.1:PORT/) PEER_LOG PEER_CONF (its config directory).
#       PEER_TLS=CERT.pem:KEY.pem (vsftpd, pyftpdlib): explicit FTPS with that certificate;
#       PEER_URL then starts with ftpes://. (pyftpdlib's TLS data channel fails with the
#       curl/OpenSSL 3 here; vsftpd's works.)
#       PEER_DOTFILES=no (vsftpd): hide dot files from a plain LIST, as vsftpd does by
#       default (the other servers here show them).
#   peer_stop [PID]                    stops one server (default: the last started)
#   peer_cleanup                       stops all, undoes system changes (called on exit)
#   peer_fetch                         makes sure build/peers/root holds the servers
#
# vsftpd, pure-ftpd and proftpd conflict as Debian packages (each provides ftp-server), so
# their .debs are fetched with `apt-get download` into build/peers/debs (cached) and
# unpacked with `dpkg-deb -x` into build/peers/root; their shared libraries are ordinary
# Debian packages (mk/packages, kind `deb`).
#
# System changes, all undone by peer_cleanup: vsftpd authenticates local users through
# PAM only, so "user" mode for vsftpd creates the Linux user PEER_USER (no shell, home /)
# when missing; pure-ftpd serves anonymous logins from the home of the system user "ftp",
# so "anon" mode for pure-ftpd creates that user (or points its home at DIR temporarily).
# Needs root for those two cases (tests run as root).
#
# The caller's EXIT trap must call peer_cleanup: tests/integration/lib.sh's _cleanup does
# when this file is sourced; without lib.sh this file installs its own EXIT trap.

PEERS_SRC=${FERRY_SRC:-$(pwd)}
PEERS_BUILD=${PEERS_BUILD:-$PEERS_SRC/build/peers}
PEERS_ROOT=$PEERS_BUILD/root
# One Linux user per test run: runs side by side (make check -j, several engineers) would
# otherwise reset each other's password and delete the user under each other's servers.
PEER_USER=${PEER_USER:-fpeer-$$}
PEER_PASS=${PEER_PASS:-$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)}
PEER_KIND= PEER_PORT= PEER_PID= PEER_URL= PEER_LOG= PEER_CONF=
_peer_pids=
_peer_made_user=
_peer_ftp_user=         # "created" or the previous home of an existing "ftp" user
_peer_tmp=

_peer_fail() {
    echo "peers: $*" >&2
    return 1
}

_peer_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Downloads and unpacks the three conflicting servers once (cached under build/peers).
peer_fetch() {
    local debs=$PEERS_BUILD/debs pkgs="vsftpd pure-ftpd proftpd-core" p
    mkdir -p "$debs" || return 1
    [ -f "$PEERS_ROOT/.complete" ] && return 0
    (
        flock 9
        [ -f "$PEERS_ROOT/.complete" ] && exit 0
        cd "$debs" || exit 1
        for p in $pkgs; do
            ls "${p}"_*.deb >/dev/null 2>&1 && continue
            # _apt cannot write here: apt then downloads as root and says so; quiet that.
            apt-get download -q "$p" >/dev/null 2>&1 ||
                { apt-get update -q >/dev/null 2>&1 && apt-get download -q "$p" >/dev/null 2>&1; } ||
                { echo "peers: apt-get download $p failed" >&2; exit 1; }
        done
        rm -rf "$PEERS_ROOT.tmp"
        mkdir -p "$PEERS_ROOT.tmp"
        for p in $pkgs; do
            dpkg-deb -x "$(ls "${p}"_*.deb | tail -n 1)" "$PEERS_ROOT.tmp" || exit 1
        done
        touch "$PEERS_ROOT.tmp/.complete"
        rm -rf "$PEERS_ROOT"
        mv "$PEERS_ROOT.tmp" "$PEERS_ROOT"
    ) 9>"$PEERS_BUILD/.lock"
}

# Creates (once) the Linux user that vsftpd's PAM login needs, with the run's password.
_peer_linux_user() {
    if ! getent passwd "$PEER_USER" >/dev/null; then
        useradd -M -d / -s /usr/sbin/nologin "$PEER_USER" || return 1
        _peer_made_user=1
    fi
    printf '%s:%s\n' "$PEER_USER" "$PEER_PASS" | chpasswd
}


# vsftpd changes into a local user's root as that user, before chroot: every ancestor of
# DIR must be searchable by others (mktemp -d makes 0700 directories). Adds o+x only.
_peer_searchable() { # DIR
    local d=$1
    while [ "$d" != / ] && [ -n "$d" ]; do
        [ -O "$d" ] && chmod o+x "$d"
        d=$(dirname "$d")
    done
}

_peer_wait() { # PID PORT: until the server greets with 220 (or 220-)
    local i=0 pid=$1 port=$2 banner
    while [ $i -lt 100 ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        banner=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -c 3 <&3" 2>/dev/null)
        [ "$banner" = 220 ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

_peer_conf_vsftpd() { # CONFDIR DIR MODE PORT
    local c=$1 dir=$2 mode=$3 port=$4
    mkdir -p "$c/empty"
    {
        echo "listen=YES"
        echo "listen_ipv6=NO"
        echo "listen_address=127.0.0.1"
        echo "listen_port=$port"
        echo "background=NO"
        echo "pasv_enable=YES"
        echo "pasv_address=127.0.0.1"
        # No network namespaces, seccomp or tcp_wrappers: not available or wanted here.
        echo "isolate=NO"
        echo "isolate_network=NO"
        echo "seccomp_sandbox=NO"
        echo "tcp_wrappers=NO"
        echo "secure_chroot_dir=$c/empty"
        echo "nopriv_user=daemon"
        echo "xferlog_enable=NO"
        echo "vsftpd_log_file=$c/vsftpd.log"
        echo "dirmessage_enable=NO"
        echo "use_localtime=NO"
        # PEER_DOTFILES=no: vsftpd's default, dot files only for "LIST -a".
        [ "${PEER_DOTFILES:-yes}" = no ] || echo "force_dot_files=YES"
        if [ -n "${PEER_TLS:-}" ]; then
            echo "ssl_enable=YES"
            echo "rsa_cert_file=${PEER_TLS%%:*}"
            echo "rsa_private_key_file=${PEER_TLS#*:}"
            echo "allow_anon_ssl=YES"
            echo "force_local_logins_ssl=NO"
            echo "force_local_data_ssl=NO"
            echo "require_ssl_reuse=NO"
            echo "ssl_ciphers=HIGH"
        fi
        if [ "$mode" = anon ]; then
            echo "anonymous_enable=YES"
            echo "local_enable=NO"
            echo "no_anon_password=YES"
            echo "anon_root=$dir"
            # The anonymous session's user must exist with an existing home.
            echo "ftp_username=daemon"
            echo "write_enable=NO"
        else
            echo "anonymous_enable=NO"
            echo "local_enable=YES"
            echo "write_enable=YES"
            echo "local_umask=022"
            echo "local_root=$dir"
            echo "chroot_local_user=YES"
            echo "allow_writeable_chroot=YES"
            # No such PAM service: PAM falls back to /etc/pam.d/other (pam_unix).
            echo "pam_service_name=ferry-peer-vsftpd"
        fi
    } >"$c/vsftpd.conf"
}

_peer_conf_proftpd() { # CONFDIR DIR MODE PORT
    local c=$1 dir=$2 mode=$3 port=$4 uid gid hash
    if [ "$mode" = anon ]; then
        printf 'ftp:*:65534:65534::%s:/bin/false\n' "$dir" >"$c/ftpd.passwd"
        printf 'nogroup:x:65534:\n' >"$c/ftpd.group"
    else
        uid=$(id -u "$PEER_USER") || return 1
        gid=$(id -g "$PEER_USER")
        hash=$(printf '%s' "$PEER_PASS" | openssl passwd -6 -stdin) || return 1
        printf '%s:%s:%s:%s::%s:/bin/false\n' "$PEER_USER" "$hash" "$uid" "$gid" "$dir" >"$c/ftpd.passwd"
        printf '%s:x:%s:\nnogroup:x:65534:\n' "$PEER_USER" "$gid" >"$c/ftpd.group"
    fi
    chmod 0600 "$c/ftpd.passwd" "$c/ftpd.group"
    cat >"$c/proftpd.conf" <<EOF
ServerType standalone
ServerName "ferry test peer"
DefaultServer on
Port $port
DefaultAddress 127.0.0.1
SocketBindTight on
UseIPv6 off
User nobody
Group nogroup
PidFile $c/proftpd.pid
ScoreboardFile $c/proftpd.scoreboard
DelayTable none
WtmpLog off
UseReverseDNS off
SystemLog $c/proftpd.log
TransferLog none
AuthPAM off
AuthOrder mod_auth_file.c
AuthUserFile $c/ftpd.passwd
AuthGroupFile $c/ftpd.group
RequireValidShell off
DefaultRoot ~
AllowOverwrite on
AllowStoreRestart on
ListOptions "-a"
TimesGMT on
MasqueradeAddress 127.0.0.1
EOF
    if [ "$mode" = anon ]; then
        cat >>"$c/proftpd.conf" <<EOF
<Limit LOGIN>
  DenyAll
</Limit>
<Anonymous $dir>
  User ftp
  Group nogroup
  UserAlias anonymous ftp
  RequireValidShell off
  <Limit LOGIN>
    AllowAll
  </Limit>
  <Limit WRITE SITE_CHMOD>
    DenyAll
  </Limit>
</Anonymous>
EOF
    fi
}

# pure-ftpd serves anonymous logins from the home directory of the system user "ftp".
_peer_ftp_user() { # DIR
    local old
    if ! getent passwd ftp >/dev/null; then
        useradd -r -M -d "$1" -s /usr/sbin/nologin ftp || return 1
        _peer_ftp_user=created
    else
        old=$(getent passwd ftp | cut -d: -f6)
        [ -n "$_peer_ftp_user" ] || _peer_ftp_user="home:$old"
        usermod -d "$1" ftp || return 1
    fi
}

peer_start() {
    local kind=$1 dir=$2 mode=${3:-user} port c pid bin
    [ -d "$dir" ] || { _peer_fail "peer_start: no directory $dir"; return 1; }
    case "$mode" in user | anon) ;; *) _peer_fail "peer_start: mode is user or anon"; return 1 ;; esac
    dir=$(cd "$dir" && pwd -P)
    case "$kind" in
    vsftpd | pure-ftpd | proftpd) peer_fetch || return 1 ;;
    pyftpdlib) ;;
    *) _peer_fail "peer_start: unknown kind $kind"; return 1 ;;
    esac
    [ -n "$_peer_tmp" ] || _peer_tmp=$(mktemp -d "${FERRY_DIR:-${FERRY_TEST_TMP:-/tmp}}/peers-XXXXXX")
    c=$(mktemp -d "$_peer_tmp/$kind-XXXXXX")
    port=$(_peer_port)
    if [ "$mode" = user ] && [ "$kind" != pyftpdlib ]; then
        # Virtual users of pure-ftpd and proftpd need a non-root uid: the peer user's.
        _peer_linux_user || return 1
        chown -R "$PEER_USER:" "$dir" || return 1
        _peer_searchable "$dir" || return 1
    fi
    # Listings in UTC whatever the machine's zone (pure-ftpd prints local time).
    case "$kind" in
    vsftpd)
        _peer_conf_vsftpd "$c" "$dir" "$mode" "$port"
        TZ=UTC "$PEERS_ROOT/usr/sbin/vsftpd" "$c/vsftpd.conf" >"$c/out.log" 2>&1 &
        ;;
    pure-ftpd)
        bin=$PEERS_ROOT/usr/sbin/pure-ftpd
        if [ "$mode" = anon ]; then
            _peer_ftp_user "$dir" || return 1
            # -e anonymous only, -i anonymous cannot upload, -D show dot files, -H no DNS,
            # -P the address announced in PASV replies.
            TZ=UTC "$bin" -S "127.0.0.1,$port" -e -i -D -H -P 127.0.0.1 -U 133:022 \
                >"$c/out.log" 2>&1 &
        else
            printf '%s\n%s\n' "$PEER_PASS" "$PEER_PASS" |
                "$PEERS_ROOT/usr/bin/pure-pw" useradd "$PEER_USER" -u "$(id -u "$PEER_USER")" \
                    -g "$(id -g "$PEER_USER")" -d "$dir" -f "$c/pureftpd.passwd" -m \
                    -F "$c/pureftpd.pdb" >/dev/null || return 1
            # -E no anonymous, -A chroot everyone, -l puredb virtual users.
            TZ=UTC "$bin" -S "127.0.0.1,$port" -E -A -D -H -P 127.0.0.1 -U 133:022 \
                -l "puredb:$c/pureftpd.pdb" >"$c/out.log" 2>&1 &
        fi
        ;;
    proftpd)
        _peer_conf_proftpd "$c" "$dir" "$mode" "$port" || return 1
        TZ=UTC "$PEERS_ROOT/usr/sbin/proftpd" -n -c "$c/proftpd.conf" >"$c/out.log" 2>&1 &
        ;;
    pyftpdlib)
        if [ "$mode" = anon ]; then
            set -- --anonymous --read-only
        else
            set -- --user "$PEER_USER:$PEER_PASS"
        fi
        [ -n "${PEER_TLS:-}" ] && set -- "$@" --tls "$PEER_TLS"
        TZ=UTC /usr/bin/python3 "$PEERS_SRC/tests/peers/pyftpd.py" --dir "$dir" --port "$port" "$@" \
            >"$c/out.log" 2>&1 &
        ;;
    esac
    pid=$!
    _peer_pids="$_peer_pids $pid"
    if ! _peer_wait "$pid" "$port"; then
        echo "peers: $kind did not start on port $port; its output:" >&2
        cat "$c/out.log" "$c"/*.log 2>/dev/null | tail -n 30 >&2
        peer_stop "$pid"
        return 1
    fi
    PEER_KIND=$kind PEER_PORT=$port PEER_PID=$pid PEER_CONF=$c PEER_LOG=$c/out.log
    local scheme=ftp
    case "$kind" in pyftpdlib | vsftpd) [ -n "${PEER_TLS:-}" ] && scheme=ftpes ;; esac
    if [ "$mode" = anon ]; then
        PEER_URL=$scheme://127.0.0.1:$port/
    else
        PEER_URL=$scheme://$PEER_USER:$PEER_PASS@127.0.0.1:$port/
    fi
    return 0
}

peer_stop() {
    local pid=${1:-$PEER_PID} p rest=
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    for p in $_peer_pids; do [ "$p" = "$pid" ] || rest="$rest $p"; done
    _peer_pids=$rest
    [ "$pid" = "$PEER_PID" ] && PEER_PID=
    return 0
}

peer_cleanup() {
    local p
    for p in $_peer_pids; do kill -TERM "$p" 2>/dev/null; done
    for p in $_peer_pids; do wait "$p" 2>/dev/null; done
    _peer_pids=
    case "$_peer_ftp_user" in
    created) userdel ftp 2>/dev/null ;;
    home:*) usermod -d "${_peer_ftp_user#home:}" ftp 2>/dev/null ;;
    esac
    _peer_ftp_user=
    [ -n "$_peer_made_user" ] && userdel "$PEER_USER" 2>/dev/null
    _peer_made_user=
    [ -n "$_peer_tmp" ] && [ -z "${FERRY_KEEP:-}" ] && rm -rf "$_peer_tmp"
    _peer_tmp=
    return 0
}

# Without tests/integration/lib.sh (whose _cleanup calls peer_cleanup), clean up here.
if ! declare -F _cleanup >/dev/null; then
    trap peer_cleanup EXIT
fi
