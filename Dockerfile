# Shepherd's container action image: a static binary, CA certificates, nothing else.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/shepherd .

# root, as GitHub requires of container actions (the runner mounts its files owned by root)
FROM gcr.io/distroless/static-debian12
COPY --from=build /out/shepherd /shepherd
# exec form: the process is PID 1 and receives the runner's SIGTERM when a workflow is cancelled
ENTRYPOINT ["/shepherd"]
