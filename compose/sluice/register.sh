#!/bin/sh
# register.sh URL CONNECTOR_FILE...: creates or updates each connector on the Connect REST API
# at URL (sluice's own worker, or Debezium's), with `sluice connectors config NAME FILE`
# (PUT /connectors/NAME/config: running it again changes nothing). Each file goes through
# deploy.sed first (compose host names, secrets from /run/secrets). A worker that has just
# started may refuse a request while it joins its group: every request is retried for a minute.
set -eu
url="$1"
shift
here="$(dirname "$0")"
for file in "$@"; do
    name="$(basename "$file" .json)"
    deployed="$(mktemp)"
    sed -f "$here/deploy.sed" "$file" > "$deployed"
    tries=0
    until sluice connectors --url "$url" config "$name" "$deployed"; do
        tries=$((tries + 1))
        if [ "$tries" -ge 30 ]; then
            echo "register.sh: $name was not accepted by $url" >&2
            exit 1
        fi
        sleep 2
    done
    rm -f "$deployed"
    echo "register.sh: $name registered on $url"
done
