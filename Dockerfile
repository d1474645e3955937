# syntax=docker/dockerfile:1
#
# pg2kafka container image: a static binary on distroless, running as an
# unprivileged user.
#
#   docker build -t pg2kafka .
#   docker run --rm -v $PWD/pg2kafka.yaml:/etc/pg2kafka/pg2kafka.yaml:ro \
#     -e PG2KAFKA_CONFIG=/etc/pg2kafka/pg2kafka.yaml pg2kafka
#
# The default command is `run`; pass another to override it, e.g.
# `docker run ... pg2kafka check`.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
# go.mod may ask for a newer patch release than the image has.
ENV GOTOOLCHAIN=auto CGO_ENABLED=0 GOFLAGS=-buildvcs=false
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/pg2kafka ./cmd/pg2kafka

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pg2kafka /pg2kafka
# distroless' nonroot user (65532).
USER nonroot:nonroot
ENTRYPOINT ["/pg2kafka"]
CMD ["run"]
