#!/bin/sh
# Check Ferry's dependencies for the given profiles (build, test, bench, fuzz);
# install what is missing with apt-get when root, else print the exact command.
# The list lives in mk/packages.
set -u
here=$(dirname "$0")
profiles=" $* "
missing=""
while read -r profile kind what pkg; do
    case "$profile" in ''|'#'*) continue ;; esac
    case "$profiles" in *" $profile "*) ;; *) continue ;; esac
    case "$kind" in
    pkg) pkg-config --exists "$what" 2>/dev/null && continue ;;
    cmd) case "$what" in
         /*) [ -e "$what" ] && continue ;;
         *) command -v "$what" >/dev/null 2>&1 && continue ;;
         esac ;;
    py) [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import $what" 2>/dev/null && continue ;;
    deb) dpkg -s "$what" 2>/dev/null | grep -q '^Status: install ok installed' && continue ;;
    esac
    case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
done < "$here/packages"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends $missing >&2; then
        apt-get update -q >&2 && apt-get install -y -q --no-install-recommends $missing >&2 || exit 1
    fi
    exit 0
fi
echo "deps: missing Debian packages. Run as root:" >&2
echo "    apt-get install -y$missing" >&2
exit 1
