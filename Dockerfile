# Builds the binaries and yields the controller image (the default, last
# target), the nginx sidecar with proxy-gen (--target proxy), the gateway
# (--target gateway); and
# Debian's etcd (--target etcd) for compose where no registry image of etcd
# is at hand.
#   docker build -t klangk-controller .
#   docker build --target proxy -t klangk-proxy .
#   docker build --target gateway -t klangk-gateway .
# Where no registry is reachable, `make images` (scripts/images.sh) imports
# a Debian base made by debootstrap and builds with
# --build-arg BASE=localhost/debian:bookworm-slim --network host.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential pkg-config libcurl4-openssl-dev libyaml-dev \
        libjansson-dev libssl-dev libmicrohttpd-dev libarchive-dev \
        nodejs \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY lib lib
COPY cli cli
COPY controller controller
COPY proxy-gen proxy-gen
COPY gateway gateway
# The terminal page's xterm.js comes in the context as the host's
# `npm ci` fetched it from gateway/web/package-lock.json (make, or
# scripts/images.sh, does that first): a build needs no npm registry,
# whose TLS chain a build container may not trust.  The touch keeps make
# from running npm ci again when COPY changed the files' times.
RUN test -f gateway/web/node_modules/.package-lock.json || { \
        echo "gateway/web/node_modules is missing: run make (or npm ci --prefix gateway/web) before building the images" >&2; \
        exit 1; } \
    && touch gateway/web/node_modules/.package-lock.json \
    && make all

# What the binaries link, shared by the proxy and controller images.
FROM ${BASE} AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends \
        libcurl4 libyaml-0-2 libjansson4 libssl3 libmicrohttpd12 libarchive13 \
        ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# The nginx sidecar: proxy-gen and nginx in one image.  By default proxy-gen
# runs nginx as its supervised child (--supervise) under tini, which reaps
# what nginx's master leaves.  The same image runs the split layout too: a
# container with `nginx -g 'daemon off;' ...` (see README) and one with
# proxy-gen --no-start, sharing /run/klangk-nginx (a volume: never a
# single-file bind mount, the file is replaced by rename) and the PID
# namespace.  The workspaces' ports are published on the host's loopback:
# run it with the host's network.
FROM runtime AS proxy
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light tini \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/bin/klangk-proxy-gen /usr/local/bin/
VOLUME /run/klangk-nginx
ENV KLANGK_NGINX_DIR=/run/klangk-nginx
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/klangk-proxy-gen"]
CMD ["--supervise"]

# etcd from Debian's package, as manifests/compose/ runs it (any etcd 3.4+
# image does: KLANGK_ETCD_IMAGE).
FROM ${BASE} AS etcd
RUN apt-get update && apt-get install -y --no-install-recommends etcd-server \
    && rm -rf /var/lib/apt/lists/*
# The package's etcd user owns /var/lib/etcd (mode 700); a named volume
# mounted there starts with that ownership.
USER etcd
WORKDIR /var/lib/etcd
VOLUME /var/lib/etcd
ENTRYPOINT ["/usr/bin/etcd"]

# The gateway: terminals, logs, top and archives for tenants, as their own
# etcd users.  Like the controller it holds the engine socket (run it with
# the socket's group); it has no etcd user of its own.
FROM runtime AS gateway
COPY --from=build /src/bin/klangk-gateway /usr/local/bin/
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/klangk-gateway"]

# The default (last) target: the controller.
# nftables: the workspaces' egress table (docs/security.md); the controller
# needs root with CAP_NET_ADMIN in the host's network namespace for it
# (manifests/compose/), or KLANGK_EGRESS_FIREWALL=off.
FROM runtime AS controller
RUN apt-get update && apt-get install -y --no-install-recommends nftables \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/bin/klangk-controller /src/bin/klangkc /usr/local/bin/
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/klangk-controller"]
