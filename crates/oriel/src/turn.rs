//! `oriel serve`'s TURN flags: the embedded TURN server (on by default, next to the media
//! ports) or external TURN servers (coturn with `use-auth-secret`), and what joining clients
//! are told about them.

use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;
use clap::Args;
use oriel_turn::{
    AllowedPeers, EmbeddedTurn, EmbeddedTurnSettings, TlsAcceptor, TurnOffer, TurnSecret,
};

/// The media ports a node may use (design.md: a worker per port, at most 16).
const MEDIA_PORTS: u16 = 16;
/// The embedded server's default port, counted from --media-port: next to the media range,
/// unprivileged, and clear of the 16 worker ports.
const DEFAULT_TURN_PORT_OFFSET: u16 = 100;
/// Where a node keeps the TURN secret it made itself, under --data-dir.
const SECRET_FILE: &str = "turn-secret";

#[derive(Args, Debug)]
pub struct TurnArgs {
    /// UDP and TCP port of the embedded TURN server, for browsers that reach neither the UDP
    /// nor the TCP media ports; default --media-port + 100; 0 turns it off.
    #[arg(long, env = "ORIEL_TURN_PORT")]
    pub turn_port: Option<u16>,
    /// TLS port of the embedded TURN server (turns:), served with the node's certificate
    /// when it has one; default --turn-port + 1.
    #[arg(long, env = "ORIEL_TURN_TLS_PORT")]
    pub turn_tls_port: Option<u16>,
    /// An external TURN server to hand to clients instead of the embedded one, e.g.
    /// turn:turn.example.com:3478?transport=udp (repeatable; comma-separated in the env).
    #[arg(long = "turn-url", env = "ORIEL_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,
    /// Shared secret of the TURN REST credentials (coturn's static-auth-secret); required
    /// with --turn-url. The embedded server makes one under --data-dir when not given.
    #[arg(long, env = "ORIEL_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
}

/// What `serve` needs from the TURN settings.
pub struct NodeAddresses<'a> {
    pub data_dir: &'a Path,
    pub media_ip: IpAddr,
    pub media_port: u16,
    /// The address browsers know this node by (a 1:1 NAT's public IP), if not the media IP.
    pub public_ip: Option<IpAddr>,
    /// The node's certificate for turns:, when it serves TLS.
    pub tls: Option<TlsAcceptor>,
    /// The host name that certificate is for, which turns: URLs name (else the IP).
    pub tls_name: Option<String>,
}

/// Starts the embedded TURN server unless an external one is configured or it is turned
/// off; answers what clients are told (`None`: no TURN) and the running server.
pub async fn start(
    args: &TurnArgs,
    node: NodeAddresses<'_>,
) -> anyhow::Result<(Option<TurnOffer>, Option<EmbeddedTurn>)> {
    if !args.turn_urls.is_empty() {
        for url in &args.turn_urls {
            oriel_turn::ice_servers::check_url(url)
                .map_err(|e| anyhow::anyhow!("--turn-url: {e}"))?;
        }
        let secret = args
            .turn_secret
            .as_deref()
            .filter(|s| !s.is_empty())
            .context("--turn-url needs --turn-secret (the TURN server's static-auth-secret)")?;
        tracing::info!(urls = ?args.turn_urls, "clients get the external TURN servers");
        let offer = TurnOffer {
            urls: args.turn_urls.clone(),
            secret: TurnSecret::new(secret),
        };
        return Ok((Some(offer), None));
    }
    let port = match args.turn_port {
        Some(0) => return Ok((None, None)),
        Some(port) => port,
        None => node
            .media_port
            .checked_add(DEFAULT_TURN_PORT_OFFSET)
            .context("--media-port + 100 is past 65535: give --turn-port")?,
    };
    let tls_port = match node.tls {
        Some(acceptor) => {
            let tls_port = match args.turn_tls_port {
                Some(p) => p,
                None => port
                    .checked_add(1)
                    .context("--turn-port + 1 is past 65535")?,
            };
            Some((tls_port, acceptor))
        }
        None => None,
    };
    let secret = match args.turn_secret.as_deref().filter(|s| !s.is_empty()) {
        Some(secret) => secret.to_owned(),
        None => node_secret(node.data_dir)?,
    };
    let media_ports = node.media_port..node.media_port.saturating_add(MEDIA_PORTS);
    let turn = EmbeddedTurn::start(EmbeddedTurnSettings {
        listen_ip: node.media_ip,
        port,
        tls: tls_port,
        secret: TurnSecret::new(secret.clone()),
        peers: AllowedPeers::new(node.media_ip, node.public_ip, media_ports),
    })
    .await
    .context("cannot start the embedded TURN server (--turn-port 0 turns it off)")?;
    let advertised = node.public_ip.unwrap_or(node.media_ip);
    let urls = oriel_turn::embedded_urls(
        advertised,
        turn.udp.port(),
        turn.tls.map(|a| a.port()),
        node.tls_name.as_deref(),
    );
    tracing::info!(udp = %turn.udp, tcp = %turn.tcp, tls = ?turn.tls, "embedded TURN server listening");
    let offer = TurnOffer {
        urls,
        secret: TurnSecret::new(secret),
    };
    Ok((Some(offer), Some(turn)))
}

/// The node's own TURN secret, made on first start and kept (owner-only) under --data-dir.
fn node_secret(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(secret) if !secret.trim().is_empty() => return Ok(secret.trim().to_owned()),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
    let secret = TurnSecret::generate();
    write_owner_only(&path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(secret)
}

fn write_owner_only(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}
