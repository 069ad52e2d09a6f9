# syntax=docker/dockerfile:1
#
# The sluice image: `docker build -t sluice .` from the repository root.
#
#   docker run --rm sluice --version
#   docker run -e SLUICE_BOOTSTRAP_SERVERS=kafka:9092 -p 8083:8083 sluice      # a worker, REST on :8083
#   docker run -v $PWD/worker.properties:/etc/sluice/worker.properties:ro sluice   # your worker file
#
# Build arguments (all optional):
#   RUST_VERSION       Rust toolchain of the builder stage (1.95: the toolchain the tests run on).
#   DEBIAN_RELEASE     Debian release of BOTH stages (bookworm). They must match: the binary links
#                      the builder's OpenSSL (libssl3) and glibc, which the runtime stage provides.
#   SLUICE_GIT_COMMIT  The commit `sluice --version`, the sluice_build_info metric and the status
#                      report show. .git is not sent to the build (.dockerignore), so build.rs
#                      would say "unknown": pass --build-arg SLUICE_GIT_COMMIT=$(git rev-parse --short=12 HEAD).
#   SLUICE_VERSION     The image's org.opencontainers.image.version label (the crate's version).
#   SLUICE_UID         The uid/gid of the non-root user the image runs as (10001).
#
# librdkafka is built from source by rdkafka-sys (features in Cargo.toml: ssl, zstd, and libz by
# default; not cmake-build): its ./configure + make needs a C toolchain, make, pkg-config, the
# OpenSSL and zlib headers; zstd is compiled from the bundled sources. jemalloc (the binary's
# allocator, tikv-jemalloc-sys) is built from its bundled sources with the same toolchain and
# make. sqlx and the schema registry client use the system OpenSSL too (native-tls). Everything
# else is pure Rust.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# --- builder --------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder

# Debian package versions are not pinned: the release is pinned by DEBIAN_RELEASE, and its
# security updates are wanted.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what the build reads (benches/: Cargo.toml declares the bench target; the demo embeds one
# recording with include_str!), so editing deployment files does not rebuild the binary.
COPY Cargo.toml Cargo.lock build.rs ./
COPY src/ src/
COPY benches/ benches/
COPY tests/data/corpus/inventory/default.json-schemas.jsonl tests/data/corpus/inventory/

ARG SLUICE_GIT_COMMIT=
# The cargo registry, git checkouts and target directory live in BuildKit cache mounts, so a
# rebuild after a source change only recompiles sluice itself. The target directory is a cache
# mount (gone after this step), so the binary is copied out in the same step.
# `cargo build --release --locked --bin sluice` is the command the tests build the binary with.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    SLUICE_GIT_COMMIT="${SLUICE_GIT_COMMIT}" cargo build --release --locked --bin sluice \
 && install -D -m 0755 target/release/sluice /out/sluice

# --- runtime --------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim

ARG SLUICE_VERSION=0.1.0
ARG SLUICE_GIT_COMMIT=
ARG SLUICE_UID=10001
LABEL org.opencontainers.image.title="sluice" \
      org.opencontainers.image.description="Exactly-once Debezium change-data-capture sink: Kafka topics to SQL targets, with a Kafka Connect-compatible worker and REST API" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${SLUICE_VERSION}" \
      org.opencontainers.image.revision="${SLUICE_GIT_COMMIT}"

# Runtime libraries only: OpenSSL 3 (librdkafka, sqlx, the registry client; zlib and glibc are
# already in the base image), the CA bundle (TLS to brokers, databases and registries), and
# curl for the HEALTHCHECK below (sluice has no HTTP client command for its own probes).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl libssl3 \
 && rm -rf /var/lib/apt/lists/*

# A non-root user with a fixed numeric id (Kubernetes' runAsNonRoot can only check a number).
# /var/lib/sluice is its working directory (SQLite targets, the demo's database).
RUN groupadd --system --gid "${SLUICE_UID}" sluice \
 && useradd --system --uid "${SLUICE_UID}" --gid sluice --home-dir /var/lib/sluice \
            --no-create-home --shell /usr/sbin/nologin sluice \
 && install -d -o sluice -g sluice -m 0750 /var/lib/sluice \
 && install -d -m 0755 /etc/sluice

# A default worker file, so `docker run -e SLUICE_BOOTSTRAP_SERVERS=... sluice` works as it is:
# the REST API (and /health, /ready, /metrics) on every interface of the container, not on
# loopback (sluice's default, useless behind a port mapping). Compose and Kubernetes mount their
# own file over it; SLUICE_BOOTSTRAP_SERVERS and the other SLUICE_* variables override it.
RUN printf '%s\n' \
      '# Default worker file of the sluice image; mount your own at /etc/sluice/worker.properties.' \
      'listeners=http://0.0.0.0:8083' \
      'group.id=sluice' \
      'config.storage.topic=connect-configs' \
      'status.storage.topic=connect-status' \
      > /etc/sluice/worker.properties

COPY --from=builder /out/sluice /usr/local/bin/sluice
# The topic definitions of this version (`sluice topics apply /etc/sluice/topics`: the
# Kubernetes Job runs it; compose mounts the work tree's topics/ over it).
COPY topics/ /etc/sluice/topics/

USER ${SLUICE_UID}:${SLUICE_UID}
WORKDIR /var/lib/sluice
# JSON log lines for log collectors (SLUICE_LOG_FORMAT=text for people).
ENV SLUICE_LOG_FORMAT=json
EXPOSE 8083

# Liveness: /health answers 503 only when every connector has FAILED. The worker serves it on
# its REST listener (8083 above); for `sluice run`, set SLUICE_HEALTH_URL to the
# sluice.metrics.address listener, e.g. http://127.0.0.1:9464/health.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "curl -fsS -o /dev/null \"${SLUICE_HEALTH_URL:-http://127.0.0.1:8083/health}\" || exit 1"]

# SIGTERM (docker stop, Kubernetes) commits or rolls back each connector's in-flight batch
# within sluice.shutdown.timeout.ms (default 10 s) and leaves the group: give the container
# more than that (docker stop -t 30, compose stop_grace_period, terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["sluice"]
CMD ["worker", "--worker", "/etc/sluice/worker.properties"]
