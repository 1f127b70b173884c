# syntax=docker/dockerfile:1
#
# One Dockerfile, one image per process:
#   docker build --target grpc   -t catalog-grpc   .
#   docker build --target api    -t catalog-api    .
#   docker build --target worker -t catalog-worker .
#
# Stages:
#   planner  copies the whole tree (minus .dockerignore) and reduces it to a "skeleton": every Cargo.toml, Cargo.lock
#            and an empty stub for every target root (lib.rs, main.rs, src/bin/*.rs, build.rs).
#            The skeleton changes only when a manifest or the set of targets changes.
#   deps     builds every dependency of the workspace from the skeleton (the slow, cached layer:
#            editing a .rs file does not invalidate it; BuildKit checksums ignore mtimes).
#   builder  copies the real sources over the skeleton and builds the three binaries. The protos
#            are compiled here by the build scripts with protox (pure Rust: no protoc needed) and
#            the migrations are embedded into every binary.
#   grpc / api / worker   distroless (glibc + libgcc, no shell, no package manager), non-root
#            UID 65532, one binary each. The migration Job runs `catalog-api migrate`.

ARG RUST_VERSION=1.95
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
WORKDIR /src
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0 \
    CARGO_NET_RETRY=5

FROM chef AS planner
COPY . .
RUN set -eu; \
    mkdir -p /skeleton; \
    cp Cargo.lock /skeleton/Cargo.lock; \
    find . -path ./target -prune -o -name Cargo.toml -print | while read -r manifest; do \
        mkdir -p "/skeleton/$(dirname "$manifest")"; \
        cp "$manifest" "/skeleton/$manifest"; \
    done; \
    find . -path ./target -prune -o -type f \( -path '*/src/lib.rs' -o -path '*/src/main.rs' \
        -o -path '*/src/bin/*.rs' -o -name build.rs \) -print | while read -r root; do \
        mkdir -p "/skeleton/$(dirname "$root")"; \
        case "$root" in \
            */src/lib.rs) : > "/skeleton/$root" ;; \
            *) echo 'fn main() {}' > "/skeleton/$root" ;; \
        esac; \
    done

FROM chef AS deps
COPY --from=planner /skeleton/ ./
# Dependencies only: the workspace crates are stubs here and are rebuilt in the next stage.
# Only the three services (other members, e.g. the load generator in bench/, stay stubs).
RUN cargo build --release --locked -p catalog-grpc -p catalog-api -p catalog-worker --bins

FROM deps AS builder
COPY Cargo.toml Cargo.lock ./
COPY proto ./proto
COPY migrations ./migrations
COPY catalog-core ./catalog-core
COPY catalog-grpc ./catalog-grpc
COPY catalog-api ./catalog-api
COPY catalog-worker ./catalog-worker
# COPY keeps the sources' mtimes, which may be older than the stub artifacts: touch them so
# cargo rebuilds the workspace crates (and reruns their build scripts) instead of reusing stubs.
RUN set -eu; \
    find proto migrations catalog-core catalog-grpc catalog-api catalog-worker -type f -exec touch {} +; \
    cargo build --release --locked -p catalog-grpc -p catalog-api -p catalog-worker --bins; \
    mkdir -p /out; \
    for bin in catalog-grpc catalog-api catalog-worker; do \
        cp "target/release/$bin" "/out/$bin"; \
        "/out/$bin" --help > /dev/null; \
    done

FROM ${RUNTIME_IMAGE} AS runtime
LABEL org.opencontainers.image.source="catalog-service" \
      org.opencontainers.image.licenses="MIT"
USER 65532:65532
WORKDIR /

FROM runtime AS grpc
COPY --from=builder /out/catalog-grpc /usr/local/bin/catalog-grpc
EXPOSE 50052 9101
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
    CMD ["/usr/local/bin/catalog-grpc", "health-check", "--addr", "http://127.0.0.1:50052"]
ENTRYPOINT ["/usr/local/bin/catalog-grpc"]
CMD ["serve"]

FROM runtime AS api
COPY --from=builder /out/catalog-api /usr/local/bin/catalog-api
EXPOSE 8002
ENTRYPOINT ["/usr/local/bin/catalog-api"]
CMD ["serve"]

FROM runtime AS worker
COPY --from=builder /out/catalog-worker /usr/local/bin/catalog-worker
EXPOSE 9102
ENTRYPOINT ["/usr/local/bin/catalog-worker"]
CMD ["serve"]
