use std::net::{IpAddr, SocketAddr};
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use oriel_api::{AppState, BroadcastRunner, RateLimit, Recordings, RunnerSettings, Webhooks};
use oriel_net::{MediaSettings, MediaWorkers};
use oriel_store::{DatabaseUrl, Store};
use tokio::sync::watch;

use crate::handover::{self, Role};
use crate::listener::{self, Limits};
use crate::tls::{self, TlsFiles};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address of the HTTP listener: REST API, dashboard, /pluto/v1 WebSocket, /healthz.
    #[arg(long, env = "ORIEL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory holding the node's own state: the embedded SQLite database (unless
    /// --database-url), the handover locks, TURN secret, certificates and HLS recordings.
    #[arg(long, env = "ORIEL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// PostgreSQL database to keep the durable state in instead of SQLite under --data-dir
    /// (postgres://USER:PASSWORD@HOST:PORT/DATABASE), so that several nodes can share it. It
    /// is migrated at start.
    #[arg(
        long,
        env = "ORIEL_DATABASE_URL",
        hide_env_values = true,
        value_parser = crate::database_url::DatabaseUrlParser
    )]
    pub database_url: Option<DatabaseUrl>,
    /// IP address WebRTC media is received on and advertised in ICE candidates. Repeat it (or
    /// separate with commas) for several: dual stack (an IPv4 and an IPv6 address) or several
    /// NICs; each media port is bound on every one, and the embedded TURN server relays to
    /// the first.
    #[arg(
        long,
        env = "ORIEL_MEDIA_IP",
        default_value = "127.0.0.1",
        value_delimiter = ','
    )]
    pub media_ip: Vec<IpAddr>,
    /// First UDP port for media; media workers use it and the ports after it (at most 16).
    #[arg(long, env = "ORIEL_MEDIA_PORT", default_value_t = 50000)]
    pub media_port: u16,
    /// First TCP port for ICE over TCP, for browsers that cannot send UDP; media workers use
    /// it and the ports after it, as with --media-port. Default: the --media-port number;
    /// 0 turns ICE-TCP off.
    #[arg(long, env = "ORIEL_MEDIA_TCP_PORT")]
    pub media_tcp_port: Option<u16>,
    /// A space's connections share one media worker thread until it holds this many; then
    /// each new one goes to the worker holding the fewest of them, so a big space (an audio
    /// room, a town hall) uses every core. 0 keeps every space on one worker.
    #[arg(long, env = "ORIEL_SPREAD_SPACE_AFTER", default_value_t = 32)]
    pub spread_space_after: usize,
    /// The address clients reach --media-ip at, when a 1:1 NAT stands between them (a cloud
    /// VM's public IP): advertised in ICE candidates instead of the --media-ip of its family
    /// (there must be exactly one).
    #[arg(long, env = "ORIEL_PUBLIC_IP")]
    pub public_ip: Option<IpAddr>,
    /// Sustained API requests per second allowed to each access token.
    #[arg(long, env = "ORIEL_API_RATE_LIMIT", default_value = "200")]
    pub api_rate_limit: NonZeroU32,
    /// API requests an access token may make at once above its sustained rate.
    #[arg(long, env = "ORIEL_API_RATE_BURST", default_value = "400")]
    pub api_rate_burst: NonZeroU32,
    /// Seconds an HTTP connection may take to send a request head; it is closed after that
    /// when it sends nothing, idles between requests, or stalls mid-header.
    #[arg(long, env = "ORIEL_HEADER_TIMEOUT", default_value = "15", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Open HTTP and WebSocket connections allowed in total; more are answered 503 and closed.
    #[arg(long, env = "ORIEL_MAX_CONNECTIONS", default_value = "4096")]
    pub max_connections: NonZeroUsize,
    /// Open HTTP and WebSocket connections allowed from one client IP address.
    #[arg(long, env = "ORIEL_MAX_CONNECTIONS_PER_IP", default_value = "256")]
    pub max_connections_per_ip: NonZeroUsize,
    /// The compositor executable broadcasts run; by default `oriel-compositor` beside this one.
    #[arg(long, env = "ORIEL_COMPOSITOR")]
    pub compositor: Option<PathBuf>,
    /// Days a live stream's finished HLS recordings are kept (after the last write).
    #[arg(long, env = "ORIEL_HLS_RETENTION_DAYS", default_value_t = 7)]
    pub hls_retention_days: u32,
    /// Refuse webhook endpoints on loopback or private addresses (allowed by default, since
    /// self-hosted apps usually run beside Oriel); checked again at every delivery.
    #[arg(long, env = "ORIEL_WEBHOOKS_REFUSE_PRIVATE")]
    pub webhooks_refuse_private: bool,
    /// PEM certificate chain: with --tls-key, --listen serves https and wss instead of plain
    /// HTTP. The files are read again when they change (checked every 2 s).
    #[arg(long, env = "ORIEL_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, env = "ORIEL_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A public name of this node to get a certificate for automatically (ACME, proven with
    /// TLS-ALPN-01 on --listen, which the name's port 443 must reach), instead of --tls-cert
    /// and --tls-key; repeat (or separate with commas) for several names. Kept under
    /// --data-dir/acme and renewed before it expires.
    #[arg(long, env = "ORIEL_ACME_DOMAIN", value_delimiter = ',')]
    pub acme_domain: Vec<String>,
    /// An email address the CA may write to about the certificate (expiry, revocation).
    #[arg(long, env = "ORIEL_ACME_EMAIL", value_delimiter = ',')]
    pub acme_email: Vec<String>,
    /// The CA's ACME directory URL.
    #[arg(long, env = "ORIEL_ACME_DIRECTORY", default_value = crate::acme::LETS_ENCRYPT)]
    pub acme_directory: String,
    /// Extra root certificates (PEM) to trust when talking to the CA: a private CA's.
    #[arg(long, env = "ORIEL_ACME_CA_FILE")]
    pub acme_ca_file: Option<PathBuf>,
    /// A TOML file every other flag of `oriel serve` may also come from, by its long name
    /// (`listen = "0.0.0.0:443"`, `media-port = 50000`); a flag or environment variable wins.
    #[arg(long, env = "ORIEL_CONFIG")]
    pub config: Option<PathBuf>,
    /// A bearer token that `GET /metrics` requires (`Authorization: Bearer TOKEN`); without
    /// it the metrics are open to whoever reaches --listen.
    #[arg(long, env = "ORIEL_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Only check the settings (flags, environment, --config file and the TLS pair): print
    /// them and exit, without serving.
    #[arg(long)]
    pub check_config: bool,
    #[command(flatten)]
    pub turn: crate::turn::TurnArgs,
    #[command(flatten)]
    pub cluster: crate::cluster::ClusterArgs,
}

/// How long a stopping node lets open connections finish (WebSockets complete their closing
/// handshake) before it drops them: SIGTERM ends the process in about this long at most.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// How long what is left after the drain (store writes, closing the database) may take.
const FINAL_WRITES_TIMEOUT: Duration = Duration::from_secs(2);
/// How long running compositors have to end their outputs when the node stops.
const COMPOSITORS_STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// After taking over, how long a successor waits for the old node's participants to
/// reconnect before it marks idle the spaces none of them came back to.
const RECONNECT_GRACE: Duration = Duration::from_secs(10);

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.acme_domain.is_empty() || (args.tls_cert.is_none() && args.tls_key.is_none()),
        "--acme-domain gets the certificate itself: give it or --tls-cert and --tls-key, not both"
    );
    if args.check_config {
        if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
            tls::check(&TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })?;
        } else if args.tls_cert.is_some() != args.tls_key.is_some() {
            anyhow::bail!("--tls-cert and --tls-key go together: give both or neither");
        }
        println!("{args:#?}");
        return Ok(());
    }
    listener::raise_open_files_limit();
    let store = oriel_store::open(args.database_url.as_ref(), &args.data_dir)
        .await
        .with_context(|| match &args.database_url {
            Some(url) => format!("cannot open the database {url}"),
            None => format!("cannot open the data directory {}", args.data_dir.display()),
        })?;
    let role = handover::start(&args.data_dir)
        .with_context(|| format!("cannot lock the data directory {}", args.data_dir.display()))?;
    // Set once this node is the primary on the data directory (see handover.rs).
    let primary = Arc::new(OnceLock::new());
    let clustered = args.cluster.redis_url.is_some();
    let promoted = match role {
        // In a cluster the spaces marked active are other nodes' (or left by a node that died,
        // which the cluster's janitor marks idle once nobody brought them back).
        Role::Primary(lock) if clustered => {
            let _ = primary.set(lock);
            None
        }
        Role::Primary(lock) => {
            // Alone on the data directory: no connection survived, nothing can still be active.
            let stale = store.deactivate_all_spaces().await?;
            if stale > 0 {
                tracing::info!(
                    spaces = stale,
                    "marked spaces idle that were active before a restart"
                );
            }
            let _ = primary.set(lock);
            None
        }
        Role::Successor { promoted } => {
            tracing::info!("another node serves this data directory: taking over from it");
            Some(promoted)
        }
    };
    let shared: Arc<dyn Store> = store.clone();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // The media address is advertised to browsers as our ICE candidate: it must be one they
    // can reach, never a wildcard.
    check_media_ips(&args.media_ip, args.public_ip)?;
    // TURN relays to one media address: the first, or the one --public-ip stands for.
    let turn_media_ip = args
        .media_ip
        .iter()
        .copied()
        .find(|ip| args.public_ip.is_some_and(|p| p.is_ipv4() == ip.is_ipv4()))
        .unwrap_or(args.media_ip[0]);
    let media_settings = MediaSettings {
        ips: args.media_ip.clone(),
        udp_port: args.media_port,
        tcp_port: match args.media_tcp_port {
            Some(0) => None,
            Some(port) => Some(port),
            None => Some(args.media_port),
        },
        public_ip: args.public_ip,
        workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        spread_space_after: args.spread_space_after,
    };
    let media = MediaWorkers::start(&media_settings).with_context(|| {
        format!(
            "cannot bind media ports from {} on {:?} (ICE-TCP from {:?})",
            args.media_port, args.media_ip, media_settings.tcp_port
        )
    })?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (None, None) if !args.acme_domain.is_empty() => Some(
            crate::acme::acceptor(
                &crate::acme::AcmeSettings {
                    domains: args.acme_domain.clone(),
                    contacts: args
                        .acme_email
                        .iter()
                        .map(|email| format!("mailto:{}", email.trim_start_matches("mailto:")))
                        .collect(),
                    directory: args.acme_directory.clone(),
                    ca_file: args.acme_ca_file.clone(),
                },
                &args.data_dir,
            )
            .context("cannot set up automatic certificates")?,
        ),
        (Some(cert), Some(key)) => Some(
            tls::acceptor(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })
            .context("cannot load the TLS certificate")?,
        ),
        // Only one of the pair (from a config file, where clap cannot insist on both).
        (Some(_), None) | (None, Some(_)) => {
            anyhow::bail!("--tls-cert and --tls-key go together: give both or neither")
        }
        (None, None) => None,
    };
    // Compositors join over plain ws: with TLS on, through a listener of their own on loopback
    // (the certificate is for the public name, not for 127.0.0.1).
    let internal = if tls.is_some() {
        Some(
            listener::bind(SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)))
                .context("cannot listen on loopback for the compositors")?,
        )
    } else {
        None
    };
    let signal_addr = match &internal {
        Some(internal) => internal.local_addr()?,
        None => loopback_of(args.listen),
    };
    let (turn_offer, embedded_turn) = crate::turn::start(
        &args.turn,
        crate::turn::NodeAddresses {
            data_dir: &args.data_dir,
            media_ip: turn_media_ip,
            media_port: args.media_port,
            public_ip: args.public_ip,
            // turns: with the --listen certificate.
            tls: tls.clone(),
            tls_name: match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => tls::certificate_name(&TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                _ => args.acme_domain.first().cloned(),
            },
        },
    )
    .await?;
    let mut state = AppState::new(
        shared,
        RateLimit {
            per_second: args.api_rate_limit,
            burst: args.api_rate_burst,
        },
        media,
        shutdown_rx.clone(),
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
            signal_url: format!("ws://{signal_addr}/pluto"),
        },
    )
    .with_webhooks(Webhooks::new(args.webhooks_refuse_private))
    .with_metrics(oriel_api::metrics::Metrics::new(args.metrics_token.clone()));
    if let Some(offer) = turn_offer {
        state = state.with_turn(offer);
    }
    let cluster = crate::cluster::join(
        &args.cluster,
        crate::cluster::NodeAddresses {
            listen: args.listen,
            media_ips: &args.media_ip,
            tls: tls.is_some(),
        },
    )
    .await?;
    if let Some(cluster) = cluster {
        // Other nodes' media workers reach this node's on --listen's address (the first
        // media IP for a wildcard), for spaces that span nodes.
        let link_ip = match args.media_ip.first() {
            Some(&ip) if args.listen.ip().is_unspecified() => ip,
            _ => args.listen.ip(),
        };
        cluster.start_links(&state.media, link_ip).await?;
        state = state.with_cluster(cluster);
    }
    let listener =
        listener::bind(args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
    // Compositors run on the primary only: a successor starts them once the node before it
    // has stopped its own.
    let (became_primary, is_primary) = watch::channel(primary.get().is_some());
    // In a cluster, the leader node does that work for every node.
    let is_primary = match &state.cluster {
        Some(cluster) => {
            let (leading, is_leader) = watch::channel(false);
            tokio::spawn(oriel_api::cluster::lead(
                cluster.clone(),
                leading,
                shutdown_rx.clone(),
            ));
            is_leader
        }
        None => is_primary,
    };
    let compositors = tokio::spawn(BroadcastRunner::run(state.clone(), is_primary.clone()));
    // Webhooks are delivered by the primary too, so two nodes never both send the outbox.
    let webhooks = tokio::spawn(oriel_api::deliver_webhooks(state.clone(), is_primary));
    if let Some(promoted) = promoted {
        tokio::spawn(take_over(
            promoted,
            primary.clone(),
            state.clone(),
            became_primary,
        ));
    }
    tokio::spawn(oriel_api::cluster::run(state.clone()));
    tracing::info!(
        listen = %args.listen,
        data_dir = %args.data_dir.display(),
        media_ips = ?args.media_ip,
        media_port = args.media_port,
        ice_tcp = ?media_settings.tcp_port,
        public_ip = ?args.public_ip,
        tls = tls.is_some(),
        "oriel is serving"
    );
    let limits = Limits {
        header_timeout: Duration::from_secs(args.header_timeout),
        max_connections: args.max_connections.get(),
        max_connections_per_ip: args.max_connections_per_ip.get(),
        drain_timeout: DRAIN_TIMEOUT,
    };
    let app = oriel_api::router(state.clone());
    let closing_state = state.clone();
    let internal = internal.map(|internal| {
        let mut stopping = shutdown_rx.clone();
        let stop = async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        };
        tokio::spawn(listener::serve(
            internal,
            app.clone(),
            limits,
            None,
            stop,
            || {},
        ))
    });
    let draining_state = state.clone();
    let stop = async move {
        shutdown_signal().await;
        // Before the listener closes: joins arriving meanwhile are placed on other nodes.
        if let Some(cluster) = &draining_state.cluster {
            cluster.drain(&draining_state).await;
        }
    };
    listener::serve(listener, app, limits, tls, stop, move || {
        // The listener is closed: every new connection now reaches a successor if one runs.
        // Only then are the signaling sockets closed (1001, after which the SDK reconnects).
        match primary.get() {
            // The participants reconnect to other nodes of the cluster, which take their
            // spaces on in the same sessions.
            _ if closing_state.cluster.is_some() => {
                tracing::info!("shutting down: handing this node's participants to the cluster");
                oriel_api::hand_over(&closing_state);
            }
            Some(lock) if lock.successor_waiting() => {
                tracing::info!("shutting down: handing over to the node started beside this one");
                oriel_api::hand_over(&closing_state);
            }
            Some(_) => tracing::info!("shutting down: closing connections"),
            None => {
                // Still waiting for the node before us: it, or whoever follows, owns the
                // spaces' status.
                tracing::info!("shutting down before taking over: leaving spaces' status alone");
                oriel_api::hand_over(&closing_state);
            }
        }
        let _ = shutdown_tx.send(true);
    })
    .await;
    // The runner stops every compositor (each ends its HLS and RTMP output) on shutdown.
    if tokio::time::timeout(COMPOSITORS_STOP_TIMEOUT, compositors)
        .await
        .is_err()
    {
        tracing::warn!("the compositors did not all stop in time");
    }
    webhooks.abort();
    if let Some(internal) = internal {
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, internal).await;
    }
    if let Some(turn) = embedded_turn {
        turn.stop().await;
    }
    let finished = tokio::time::timeout(FINAL_WRITES_TIMEOUT, async {
        oriel_api::shutdown(&state).await;
        store.close().await;
    })
    .await;
    if finished.is_err() {
        tracing::warn!("the final store writes did not finish in time");
    }
    tracing::info!("stopped");
    Ok(())
}

/// A successor's background task: once the node before it is gone, it is the primary, and
/// marks idle the spaces that nobody reconnected to.
async fn take_over(
    promoted: tokio::sync::oneshot::Receiver<std::io::Result<handover::Primary>>,
    primary: Arc<OnceLock<handover::Primary>>,
    state: AppState,
    became_primary: watch::Sender<bool>,
) {
    let lock = match promoted.await {
        Ok(Ok(lock)) => lock,
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot wait for the node before this one to stop");
            return;
        }
        Err(_) => return,
    };
    let _ = primary.set(lock);
    let _ = became_primary.send(true);
    tracing::info!("the node before this one has stopped: this node is now the primary");
    if state.cluster.is_some() {
        // Spaces of other nodes are active too; the cluster's janitor finds the abandoned ones.
        return;
    }
    tokio::time::sleep(RECONNECT_GRACE).await;
    match oriel_api::reconcile_spaces(&state).await {
        Ok(0) => {}
        Ok(stale) => tracing::info!(
            spaces = stale,
            "marked spaces idle that nobody reconnected to"
        ),
        Err(error) => tracing::error!(%error, "could not mark stale spaces idle"),
    }
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

/// The media addresses are advertised to browsers as ICE candidates: each must be one they can
/// reach (never a wildcard), given once; a --public-ip stands for the one media IP of its
/// family.
fn check_media_ips(media_ips: &[IpAddr], public_ip: Option<IpAddr>) -> anyhow::Result<()> {
    anyhow::ensure!(!media_ips.is_empty(), "--media-ip is needed");
    for (i, ip) in media_ips.iter().enumerate() {
        anyhow::ensure!(
            !ip.is_unspecified(),
            "--media-ip must be an address clients can reach (it is advertised in ICE candidates), not {ip}"
        );
        anyhow::ensure!(
            !media_ips[..i].contains(ip),
            "--media-ip {ip} is given twice"
        );
    }
    if let Some(public_ip) = public_ip {
        let same_family = media_ips
            .iter()
            .filter(|ip| ip.is_ipv4() == public_ip.is_ipv4())
            .count();
        anyhow::ensure!(
            !public_ip.is_unspecified() && same_family == 1,
            "--public-ip must be a reachable address standing for exactly one --media-ip of its family, not {public_ip}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_media_ips;

    fn ips(list: &[&str]) -> Vec<std::net::IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    #[test]
    fn media_ips_are_reachable_distinct_and_a_public_ip_names_one() {
        assert!(check_media_ips(&ips(&["10.0.0.5"]), None).is_ok());
        assert!(check_media_ips(&ips(&["10.0.0.5", "2001:db8::5"]), None).is_ok());
        assert!(check_media_ips(
            &ips(&["10.0.0.5", "2001:db8::5"]),
            Some("203.0.113.9".parse().unwrap())
        )
        .is_ok());
        assert!(
            check_media_ips(&ips(&["0.0.0.0"]), None).is_err(),
            "a wildcard"
        );
        assert!(
            check_media_ips(&ips(&["10.0.0.5", "10.0.0.5"]), None).is_err(),
            "twice"
        );
        assert!(
            check_media_ips(
                &ips(&["10.0.0.5", "10.0.0.6"]),
                Some("203.0.113.9".parse().unwrap())
            )
            .is_err(),
            "ambiguous"
        );
        assert!(
            check_media_ips(&ips(&["10.0.0.5"]), Some("2001:db8::9".parse().unwrap())).is_err(),
            "no IPv6 to stand for"
        );
    }
}
