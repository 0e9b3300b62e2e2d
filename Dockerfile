# Oriel as a container image: `docker build -t oriel .`, then
#   docker run --network host -v oriel-data:/var/lib/oriel oriel \
#     serve --listen 0.0.0.0:8080 --data-dir /var/lib/oriel --media-ip PUBLIC_IP --media-port 50000
# Host networking keeps WebRTC's UDP ports as they are (no per-port mapping, no NAT to advertise
# around). scripts/check-deploy.sh builds it where a Docker daemon runs, and checks its steps
# otherwise.

FROM rust:1-bookworm AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY vendor ./vendor
COPY dashboard/dist ./dashboard/dist
COPY sdk/web/dist ./sdk/web/dist
COPY sdk/web/demo ./sdk/web/demo
RUN cargo build --release --locked -p oriel -p oriel-compositor

FROM debian:bookworm-slim
# The compositor's GStreamer elements (compositor, audiomixer, textoverlay, vp8dec, avdec_h264,
# x264enc, avenc_aac, hlssink2, rtmp2sink) and CA certificates for webhooks over https.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
      gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/oriel /src/target/release/oriel-compositor /usr/local/bin/
RUN useradd --system --home /var/lib/oriel --create-home oriel
USER oriel
VOLUME /var/lib/oriel
EXPOSE 8080/tcp 50000-50015/udp 50000-50015/tcp 50100/udp 50100/tcp 50101/tcp
ENTRYPOINT ["/usr/local/bin/oriel"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/oriel"]
