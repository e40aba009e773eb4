# Builds the three binaries and yields the controller image (the default,
# last target) and the nginx sidecar with proxy-gen (--target proxy).
#   docker build -t klangk-controller .
#   docker build --target proxy -t klangk-proxy .
# Where no registry is reachable, import a Debian base first and build with
# --build-arg BASE=localhost/debian:bookworm (see README).
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential pkg-config libcurl4-openssl-dev libyaml-dev \
        libjansson-dev libssl-dev libmicrohttpd-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY lib lib
COPY cli cli
COPY controller controller
COPY proxy-gen proxy-gen
RUN make all

FROM ${BASE} AS proxy
RUN apt-get update && apt-get install -y --no-install-recommends \
        libcurl4 libyaml-0-2 libjansson4 libssl3 libmicrohttpd12 nginx-light ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/bin/klangk-proxy-gen /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/klangk-proxy-gen", "--dir", "/run/klangk-nginx"]

# The default (last) target: the controller.
FROM ${BASE} AS controller
RUN apt-get update && apt-get install -y --no-install-recommends \
        libcurl4 libyaml-0-2 libjansson4 libssl3 libmicrohttpd12 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/bin/klangk-controller /src/bin/klangkc /usr/local/bin/
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/klangk-controller"]
