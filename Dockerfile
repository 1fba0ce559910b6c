# syntax=docker/dockerfile:1
# Build: a static, cgo-free binary (the SQLite driver is pure Go).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
# The verifier module the service builds through a replace (go.mod).
COPY api/verify/go.mod api/verify/go.sum ./api/verify/
RUN go mod download
COPY . .
ARG VERSION=docker
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatehouse ./cmd/gatehouse \
 && mkdir -p /out/data

# Run: distroless static, non-root (uid 65532). No shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/gatehouse /app/gatehouse
COPY --from=build --chown=65532:65532 /out/data /app/data
COPY configs/config.yaml /app/configs/config.yaml
USER 65532:65532
ENV HTTP_ADDR=:3000
EXPOSE 3000
ENTRYPOINT ["/app/gatehouse"]
