#!/bin/sh
# Serves /www on $PORT; /health answers 200. Like that team's app, it refuses to start without its
# secret, so a task definition that lost `secrets` fails the rehearsal instead of production.
set -eu
: "${PORT:=8080}"
if [ -z "${DB_PASSWORD:-}" ]; then
  echo "DB_PASSWORD is not set: refusing to start" >&2
  exit 3
fi
echo "api starting on port $PORT (APP_ENV=${APP_ENV:-unset})"
exec httpd -f -v -p "$PORT" -h /www
