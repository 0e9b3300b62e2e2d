use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use oriel_api::{AppState, BroadcastRunner, RateLimit, Recordings, RunnerSettings};
use oriel_net::MediaWorkers;
use oriel_store::{SqliteStore, Store};
use tokio::sync::watch;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address of the HTTP listener: REST API, dashboard, /pluto/v1 WebSocket, /healthz.
    #[arg(long, env = "ORIEL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory holding all durable state (the embedded SQLite database).
    #[arg(long, env = "ORIEL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// IP address WebRTC media is received on and advertised in ICE candidates.
    #[arg(long, env = "ORIEL_MEDIA_IP", default_value = "127.0.0.1")]
    pub media_ip: IpAddr,
    /// First UDP port for media; media workers use it and the ports after it (at most 16).
    #[arg(long, env = "ORIEL_MEDIA_PORT", default_value_t = 50000)]
    pub media_port: u16,
    /// Sustained API requests per second allowed to each access token.
    #[arg(long, env = "ORIEL_API_RATE_LIMIT", default_value = "200")]
    pub api_rate_limit: NonZeroU32,
    /// API requests an access token may make at once above its sustained rate.
    #[arg(long, env = "ORIEL_API_RATE_BURST", default_value = "400")]
    pub api_rate_burst: NonZeroU32,
    /// The compositor executable broadcasts run; by default `oriel-compositor` beside this one.
    #[arg(long, env = "ORIEL_COMPOSITOR")]
    pub compositor: Option<PathBuf>,
    /// Days a live stream's finished HLS recordings are kept (after the last write).
    #[arg(long, env = "ORIEL_HLS_RETENTION_DAYS", default_value_t = 7)]
    pub hls_retention_days: u32,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = SqliteStore::open(&args.data_dir)
        .await
        .with_context(|| format!("cannot open the data directory {}", args.data_dir.display()))?;
    // No connection survives a restart of a single node, so nothing can still be active.
    let stale = store.deactivate_all_spaces().await?;
    if stale > 0 {
        tracing::info!(
            spaces = stale,
            "marked spaces idle that were active before a restart"
        );
    }
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // The media address is advertised to browsers as our ICE candidate: it must be one they
    // can reach, never a wildcard.
    anyhow::ensure!(
        !args.media_ip.is_unspecified(),
        "--media-ip must be an address clients can reach (it is advertised in ICE candidates), not {}",
        args.media_ip
    );
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let media =
        MediaWorkers::start(args.media_ip, args.media_port, workers).with_context(|| {
            format!(
                "cannot bind media ports from {}:{}",
                args.media_ip, args.media_port
            )
        })?;
    let state = AppState::new(
        shared,
        RateLimit {
            per_second: args.api_rate_limit,
            burst: args.api_rate_burst,
        },
        media,
        shutdown_rx,
        Recordings::new(
            &args.data_dir,
            Duration::from_secs(u64::from(args.hls_retention_days) * 24 * 3600),
        ),
        RunnerSettings {
            compositor: match &args.compositor {
                Some(path) => path.clone(),
                None => std::env::current_exe()
                    .context("cannot find this executable's directory")?
                    .with_file_name("oriel-compositor"),
            },
            signal_url: format!("ws://{}/pluto", loopback_of(args.listen)),
        },
    );
    let compositors = tokio::spawn(BroadcastRunner::run(state.clone()));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(
        listen = %args.listen,
        data_dir = %args.data_dir.display(),
        media = %SocketAddr::new(args.media_ip, args.media_port),
        "oriel is serving"
    );
    let app = oriel_api::router(state.clone());
    // Client addresses key the limits on failed credential checks.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: closing connections");
        let _ = shutdown_tx.send(true);
    })
    .await
    .context("the HTTP server failed")?;
    // The runner stops every compositor (each finishes its HLS and RTMP output) on shutdown.
    if tokio::time::timeout(Duration::from_secs(10), compositors)
        .await
        .is_err()
    {
        tracing::warn!("compositors did not all stop in time");
    }
    oriel_api::shutdown(&state).await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The address a process on this host reaches the listener at: a wildcard listen address is
/// reached on loopback.
fn loopback_of(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), listen.port())
        }
        _ => listen,
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the node");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
