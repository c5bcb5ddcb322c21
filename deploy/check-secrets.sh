#!/bin/sh
# Refuse to start a container whose secrets are empty or still the placeholders of
# .env.example, then run its real entrypoint:
#   check-secrets.sh NAME... -- COMMAND [ARG...]
set -eu
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    name=$1
    shift
    value=$(printenv "$name" || true)
    lowered=$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')
    case "$lowered" in
        "" | *change-me* | *changeme* | *change_me* | *replace-me* | *placeholder*)
            echo "$name: empty or still the placeholder of .env.example; set a random value" \
                 "in .env, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'" >&2
            exit 78 ;;
    esac
done
[ "$#" -gt 0 ] && shift  # the --
[ "$#" -gt 0 ] || { echo "check-secrets.sh: no command after --" >&2; exit 64; }
exec "$@"
