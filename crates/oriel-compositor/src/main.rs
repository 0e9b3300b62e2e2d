//! `oriel-compositor`: composes one space into a broadcast. The node spawns it per active
//! broadcast and reads its status lines on stdout (see `status.rs`); logs go to stderr.
//!
//! ```text
//! oriel-compositor --server ws://127.0.0.1:PORT/pluto --token JWT
//!   --layout gallery|active-speaker|crop --resolution WxH [--background URL]
//!   --hls-dir DIR [--rtmp URL]...
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use clap::Parser;
use gst::prelude::*;
use oriel_client::{connect, Client, ClientEvent, ClientOptions, MediaDelivery, ReceivedPacket};
use oriel_compositor::layout::{self, parse_resolution, Layout, TileKind};
use oriel_compositor::pipeline::{is_branch_element, Codec, Compositor, Config, Rtp, Tile};
use oriel_compositor::roster::Roster;
use oriel_compositor::{background, rtmp, status};
use oriel_proto::{Participant, Track, TrackKind};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

#[derive(Parser, Debug)]
#[command(version, about = "Composes a space into H.264 + AAC: HLS and RTMP")]
struct Args {
    /// Signaling base URL: ws://127.0.0.1:PORT/pluto
    #[arg(long)]
    server: String,
    /// Join token (subscriber role) signed by the node.
    #[arg(long)]
    token: String,
    /// gallery, active-speaker or crop
    #[arg(long, default_value = "gallery")]
    layout: String,
    /// Output size, WxH.
    #[arg(long, default_value = "1920x1080")]
    resolution: String,
    /// An http(s) image drawn under the tiles (downloaded once).
    #[arg(long)]
    background: Option<String>,
    /// Where index.m3u8 and segmentNNNNN.ts are written (all kept).
    #[arg(long)]
    hls_dir: PathBuf,
    /// An RTMP URL with its stream key; repeat for several targets.
    #[arg(long)]
    rtmp: Vec<String>,
}

/// Bounds on ending: leaving the space, EOS through the pipeline.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);
const EOS_TIMEOUT: Duration = Duration::from_secs(4);
/// How often the speaker hold is re-applied and the watchers look around.
const TICK: Duration = Duration::from_millis(250);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    status::emit(status::stopped());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let layout: Layout = args.layout.parse().map_err(|e: String| anyhow!(e))?;
    let (width, height) = parse_resolution(&args.resolution).map_err(|e| anyhow!(e))?;
    gst::init().context("GStreamer does not initialise")?;
    let background = match args.background.clone() {
        Some(url) => {
            match tokio::task::spawn_blocking(move || background::load(&url, width, height)).await {
                Ok(Ok(rgba)) => Some(rgba),
                Ok(Err(error)) => {
                    tracing::warn!("{error:#}; drawing on black");
                    None
                }
                Err(error) => {
                    tracing::warn!(%error, "background loading failed; drawing on black");
                    None
                }
            }
        }
        None => None,
    };
    let compositor = Compositor::new(Config {
        width,
        height,
        layout,
        background,
        hls_dir: args.hls_dir.clone(),
        rtmp: !args.rtmp.is_empty(),
    })?;
    compositor.start()?;
    let targets = compositor
        .take_encoded()
        .map(|encoded| rtmp::start(encoded, &args.rtmp));
    let stop = Arc::new(AtomicBool::new(false));
    let (news_tx, news_rx) = mpsc::unbounded_channel();
    let keyframes = news_tx.clone();
    compositor.on_keyframe_request(move |tid| {
        let _ = keyframes.send(BusNews::KeyframeWanted(tid.to_owned()));
    });
    let watchers = [
        watch_hls(args.hls_dir.join("index.m3u8"), Arc::clone(&stop)),
        watch_bus(Arc::clone(&compositor), Arc::clone(&stop), news_tx),
    ];

    let result = in_space(&args, &compositor, news_rx).await;

    stop.store(true, Ordering::SeqCst);
    for watcher in watchers.into_iter().flatten() {
        let _ = watcher.join();
    }
    let finishing = Arc::clone(&compositor);
    let ended = tokio::task::spawn_blocking(move || finishing.finish(EOS_TIMEOUT))
        .await
        .unwrap_or(false);
    if !ended {
        tracing::warn!("the pipeline did not drain in time; the playlist may lack its end");
    }
    if let Some(targets) = targets {
        let _ = tokio::task::spawn_blocking(move || targets.finish()).await;
    }
    result
}

/// Joins the space and follows it until SIGTERM/SIGINT, the end of signaling, or a fatal
/// pipeline error.
async fn in_space(
    args: &Args,
    compositor: &Arc<Compositor>,
    mut bus: mpsc::UnboundedReceiver<BusNews>,
) -> Result<()> {
    let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut options = ClientOptions::new(&args.server, &args.token);
    // Manual subscriptions: every publisher's tracks, not the SDK's 16 loudest.
    options.managed_subscriptions = 0;
    let sink = Arc::clone(compositor);
    options.media = MediaDelivery::Sink(Box::new(move |p: &ReceivedPacket<'_>| {
        let codec = match p.codec {
            Some(oriel_client::str0m::format::Codec::Vp8) => Some(Codec::Vp8),
            Some(oriel_client::str0m::format::Codec::H264) => Some(Codec::H264),
            Some(oriel_client::str0m::format::Codec::Opus) => Some(Codec::Opus),
            _ => None,
        };
        sink.push_rtp(
            p.tid,
            codec,
            Rtp {
                seq: p.seq as u16,
                timestamp: p.rtp_timestamp,
                marker: p.marker,
                ssrc: p.ssrc,
                payload: p.payload,
            },
        )
    }));
    let (client, mut events) = connect(options)
        .await
        .map_err(|e| anyhow!("cannot join the space at {}: {e}", args.server))?;
    status::emit(status::joined());
    tracing::info!(participant = %client.info().participant_id, "joined the space");
    let mut space = Space {
        client: &client,
        compositor,
        roster: Roster::default(),
        shown: None,
        asked_heights: HashMap::new(),
    };
    for participant in &client.info().participants {
        space.join(participant);
    }
    space.apply();
    let mut tick = tokio::time::interval(TICK);
    let result = loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(ClientEvent::Closed { code, reason }) => {
                    tracing::info!(?code, %reason, "signaling ended");
                    break Ok(());
                }
                Some(event) => space.on_event(event),
                None => break Ok(()),
            },
            _ = tick.tick() => space.roster.tick(Instant::now()),
            _ = terminate.recv() => break Ok(()),
            _ = interrupt.recv() => break Ok(()),
            news = bus.recv() => match news {
                // The new decoder starts from a keyframe.
                Some(BusNews::BranchRebuilt(tid) | BusNews::KeyframeWanted(tid)) => {
                    client.request_keyframe(&tid);
                }
                Some(BusNews::Fatal(error)) => break Err(anyhow!(error)),
                None => break Err(anyhow!("the pipeline stopped")),
            },
        }
        space.apply();
    };
    drop(space);
    let _ = tokio::time::timeout(LEAVE_TIMEOUT, client.leave()).await;
    result
}

/// The space as the compositor follows it.
struct Space<'a> {
    client: &'a Client,
    compositor: &'a Arc<Compositor>,
    roster: Roster,
    /// The scene last applied.
    shown: Option<(Vec<Tile>, Option<usize>)>,
    /// The height last asked of each video (see [`Space::fit_layers`]).
    asked_heights: HashMap<String, u32>,
}

impl Space<'_> {
    fn join(&mut self, participant: &Participant) {
        if !self.roster.join(participant) {
            return;
        }
        let tids: Vec<String> = participant
            .tracks
            .iter()
            .filter(|t| self.add_branch(t))
            .map(|t| t.tid.clone())
            .collect();
        if !tids.is_empty() {
            // A plain subscription drops the height asked before: ask it again.
            for tid in &tids {
                self.asked_heights.remove(tid);
            }
            self.client
                .subscribe_tracks(&participant.connection_id, tids);
        }
    }

    /// The branch of a track: VP8 for video until its packets say otherwise (what browsers
    /// publish most; an H.264 publisher's branch is rebuilt on its first packet).
    fn add_branch(&self, track: &Track) -> bool {
        let codec = match track.kind {
            TrackKind::Video => Codec::Vp8,
            TrackKind::Audio => Codec::Opus,
        };
        match self.compositor.add_track(&track.tid, codec) {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(tid = %track.tid, "{error:#}");
                false
            }
        }
    }

    fn on_event(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::ParticipantJoined(participant) => self.join(&participant),
            ClientEvent::ParticipantLeft { connection_id } => {
                for tid in self.roster.leave(&connection_id) {
                    self.compositor.remove_track(&tid);
                    self.asked_heights.remove(&tid);
                }
            }
            ClientEvent::TrackAdded {
                connection_id,
                track,
            } if self.roster.add_track(&connection_id, &track) && self.add_branch(&track) => {
                self.asked_heights.remove(&track.tid);
                self.client
                    .subscribe_tracks(&connection_id, vec![track.tid.clone()]);
            }
            ClientEvent::TrackRemoved { connection_id, tid } => {
                self.roster.remove_track(&connection_id, &tid);
                self.compositor.remove_track(&tid);
                self.asked_heights.remove(&tid);
            }
            ClientEvent::TrackMuted {
                connection_id,
                tid,
                muted,
            } => self.roster.set_muted(&connection_id, &tid, muted),
            ClientEvent::DisplayNameChanged {
                connection_id,
                display_name,
            } => self.roster.rename(&connection_id, &display_name),
            ClientEvent::ActiveSpeakers(speakers) => self.roster.speaking(
                speakers.first().map(|s| s.connection_id.as_str()),
                Instant::now(),
            ),
            ClientEvent::SubscriptionReply {
                failures,
                subscribe: true,
                ..
            } if !failures.is_empty() => {
                tracing::warn!(?failures, "subscriptions refused");
            }
            ClientEvent::ServerError(error) => tracing::warn!(?error, "server error"),
            _ => {}
        }
    }

    /// Hands the scene to the pipeline when it changed.
    fn apply(&mut self) {
        let scene = self.roster.scene();
        self.fit_layers(&scene.0, scene.1);
        if self.shown.as_ref() != Some(&scene) {
            self.compositor.set_scene(&scene.0, scene.1);
            self.shown = Some(scene);
        }
    }

    /// Asks the SFU for the simulcast layer of each video that fills its tile (the lowest for
    /// one not shown, as the active-speaker layout's others): four publishers in a 720p gallery
    /// are decoded at 360p rather than 720p, a quarter of the decoding and scaling.
    fn fit_layers(&mut self, tiles: &[Tile], focus: Option<usize>) {
        let config = self.compositor.config();
        let kinds: Vec<TileKind> = tiles
            .iter()
            .map(|t| TileKind {
                screenshare: t.screenshare,
            })
            .collect();
        let rects = layout::arrange(config.layout, &kinds, focus, config.width, config.height);
        for (tile, rect) in tiles.iter().zip(rects) {
            let Some(tid) = &tile.video else {
                continue;
            };
            let height = rect.map_or(1, |r| layout::wanted_height(config.layout, r).max(1));
            if self.asked_heights.get(tid) == Some(&height) {
                continue;
            }
            if let Some(connection_id) = self.roster.owner_of(tid) {
                self.client
                    .subscribe_tracks_fitting(connection_id, vec![tid.clone()], height);
                self.asked_heights.insert(tid.clone(), height);
            }
        }
    }
}

/// Reports HLS playing once the first segment is in the playlist.
fn watch_hls(playlist: PathBuf, stop: Arc<AtomicBool>) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("hls-watch".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let written =
                    std::fs::read_to_string(&playlist).is_ok_and(|text| text.contains(".ts"));
                if written {
                    status::emit(status::hls_playing());
                    return;
                }
                std::thread::sleep(TICK);
            }
        })
        .ok()
}

/// What the pipeline tells the space loop.
enum BusNews {
    /// A track's decoder lost its footing (a lost or broken frame) and waits for a keyframe.
    KeyframeWanted(String),
    /// A track's branch failed and was rebuilt: its decoder needs a keyframe.
    BranchRebuilt(String),
    /// The mix or an output failed: the compositor ends (the node starts another).
    Fatal(String),
}

/// Rebuilds a track's branch that failed; reports any other pipeline error as fatal.
fn watch_bus(
    compositor: Arc<Compositor>,
    stop: Arc<AtomicBool>,
    news: mpsc::UnboundedSender<BusNews>,
) -> Option<JoinHandle<()>> {
    let bus = compositor.pipeline().bus()?;
    std::thread::Builder::new()
        .name("bus-watch".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let Some(message) = bus.timed_pop_filtered(
                    gst::ClockTime::from_mseconds(TICK.as_millis() as u64),
                    &[gst::MessageType::Error, gst::MessageType::Warning],
                ) else {
                    continue;
                };
                let source = message
                    .src()
                    .map(|s| s.name().to_string())
                    .unwrap_or_default();
                match message.view() {
                    gst::MessageView::Error(e) if is_branch_element(&source) => {
                        tracing::warn!(%source, error = %e.error(), "a track's branch failed");
                        if let Some(tid) = compositor.rebuild_failed_branch(&source) {
                            tracing::info!(%tid, "the track's branch was rebuilt");
                            let _ = news.send(BusNews::BranchRebuilt(tid));
                        }
                    }
                    gst::MessageView::Error(e) => {
                        let _ = news.send(BusNews::Fatal(format!(
                            "pipeline error in {source}: {} ({:?})",
                            e.error(),
                            e.debug()
                        )));
                        return;
                    }
                    gst::MessageView::Warning(w) => {
                        tracing::warn!(%source, warning = %w.error(), "pipeline warning");
                    }
                    _ => {}
                }
            }
        })
        .ok()
}
