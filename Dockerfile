# syntax=docker/dockerfile:1
#
# relay's image: one static binary for every role (`relay edge`, `relay
# worker`, `relay serve`, `relay replay`). compose.yaml builds it once for
# the two edges and the two workers.
#
#   docker build -t relay .
#   docker run --rm -p 3000:3000 -v relay-data:/data relay      # relay serve

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
# Modules first, so this layer stays cached while only relay's code changes.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO_ENABLED=0: a static binary that needs no C library in the final stage.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/relay ./cmd/relay

FROM alpine:3.22
# ca-certificates: HTTPS upstreams; tzdata: TZ for daily limits and
# statistics; busybox's wget (in the base image) runs the health checks.
RUN apk add --no-cache ca-certificates tzdata \
    && adduser -D -H -u 10001 relay \
    && mkdir /data && chown relay:relay /data
COPY --from=build /out/relay /usr/local/bin/relay
USER relay:relay
# DATA_DIR holds the edge's spool of usage events NATS could not take yet
# (and, for `relay serve`, the embedded JetStream store and secrets): keep
# it on a volume.
ENV HOST=0.0.0.0 PORT=3000 DATA_DIR=/data
VOLUME /data
EXPOSE 3000
# /health answers for every role; compose checks edges on /ready instead.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD wget -q -O /dev/null "http://127.0.0.1:${PORT}/health" || exit 1
ENTRYPOINT ["relay"]
CMD ["serve"]
