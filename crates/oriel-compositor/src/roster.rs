//! Who is drawn: the space's publishers in join order, their tracks and mute states, and the
//! active speaker with a minimum hold so the active-speaker layout does not flicker.
//!
//! Pure state (time is passed in), so its rules are unit-tested.

use std::time::{Duration, Instant};

use oriel_proto::{Participant, ParticipantRole, Track, TrackKind, TrackSource};

use crate::layout::MAX_TILES;
use crate::pipeline::Tile;

/// A new speaker takes over only once the current one has been shown this long.
pub const SPEAKER_HOLD: Duration = Duration::from_millis(1500);

struct Member {
    connection_id: String,
    name: String,
    tracks: Vec<Track>,
}

/// The publishers of the space and who speaks.
#[derive(Default)]
pub struct Roster {
    members: Vec<Member>,
    /// The connection shown in active-speaker, and since when.
    speaker: Option<(String, Instant)>,
    /// The loudest connection of the last `active_speakers`, waiting for the hold to pass.
    loudest: Option<String>,
}

impl Roster {
    /// Adds (or updates) a participant; subscriber-role participants are never drawn.
    /// True when it is a publisher (whose tracks the caller should subscribe to).
    pub fn join(&mut self, participant: &Participant) -> bool {
        if participant.role != ParticipantRole::Publisher {
            return false;
        }
        match self
            .members
            .iter_mut()
            .find(|m| m.connection_id == participant.connection_id)
        {
            Some(member) => {
                member.name = participant.display_name.clone();
                member.tracks = participant.tracks.clone();
            }
            None => self.members.push(Member {
                connection_id: participant.connection_id.clone(),
                name: participant.display_name.clone(),
                tracks: participant.tracks.clone(),
            }),
        }
        true
    }

    /// The connection that publishes track `tid`.
    pub fn owner_of(&self, tid: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.tracks.iter().any(|t| t.tid == tid))
            .map(|m| m.connection_id.as_str())
    }

    /// Removes a participant; returns the ids of its tracks.
    pub fn leave(&mut self, connection_id: &str) -> Vec<String> {
        let Some(i) = self
            .members
            .iter()
            .position(|m| m.connection_id == connection_id)
        else {
            return Vec::new();
        };
        let member = self.members.remove(i);
        if self
            .speaker
            .as_ref()
            .is_some_and(|(c, _)| c == connection_id)
        {
            self.speaker = None;
        }
        member.tracks.into_iter().map(|t| t.tid).collect()
    }

    pub fn is_member(&self, connection_id: &str) -> bool {
        self.member(connection_id).is_some()
    }

    fn member(&self, connection_id: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.connection_id == connection_id)
    }

    fn member_mut(&mut self, connection_id: &str) -> Option<&mut Member> {
        self.members
            .iter_mut()
            .find(|m| m.connection_id == connection_id)
    }

    /// A track was published (false: the participant is not drawn).
    pub fn add_track(&mut self, connection_id: &str, track: &Track) -> bool {
        let Some(member) = self.member_mut(connection_id) else {
            return false;
        };
        member.tracks.retain(|t| t.tid != track.tid);
        member.tracks.push(track.clone());
        true
    }

    pub fn remove_track(&mut self, connection_id: &str, tid: &str) {
        if let Some(member) = self.member_mut(connection_id) {
            member.tracks.retain(|t| t.tid != tid);
        }
    }

    pub fn set_muted(&mut self, connection_id: &str, tid: &str, muted: bool) {
        if let Some(track) = self
            .member_mut(connection_id)
            .and_then(|m| m.tracks.iter_mut().find(|t| t.tid == tid))
        {
            track.muted = muted;
        }
    }

    pub fn rename(&mut self, connection_id: &str, name: &str) {
        if let Some(member) = self.member_mut(connection_id) {
            member.name = name.to_owned();
        }
    }

    /// The loudest speaker now (None when nobody speaks: the last one stays shown).
    pub fn speaking(&mut self, loudest: Option<&str>, now: Instant) {
        self.loudest = loudest.filter(|c| self.is_member(c)).map(str::to_owned);
        self.tick(now);
    }

    /// Re-applies the hold (called on every event and on a timer).
    pub fn tick(&mut self, now: Instant) {
        let Some(loudest) = &self.loudest else {
            return;
        };
        let switch = match &self.speaker {
            None => true,
            Some((current, since)) => {
                current != loudest && now.saturating_duration_since(*since) >= SPEAKER_HOLD
            }
        };
        if switch {
            self.speaker = Some((loudest.clone(), now));
        }
    }

    /// The tiles in join order (a camera tile per publisher, then a tile per screen share),
    /// at most [`MAX_TILES`], and the index of the active speaker's camera tile.
    pub fn scene(&self) -> (Vec<Tile>, Option<usize>) {
        let mut tiles = Vec::new();
        let mut focus = None;
        for member in &self.members {
            let camera = member
                .tracks
                .iter()
                .find(|t| t.kind == TrackKind::Video && t.source != TrackSource::Screenshare);
            if self
                .speaker
                .as_ref()
                .is_some_and(|(c, _)| *c == member.connection_id)
            {
                focus = Some(tiles.len());
            }
            tiles.push(Tile {
                // A muted camera shows the placeholder: a grey tile with the name.
                video: camera.filter(|t| !t.muted).map(|t| t.tid.clone()),
                name: member.name.clone(),
                screenshare: false,
            });
        }
        for member in &self.members {
            for share in member
                .tracks
                .iter()
                .filter(|t| t.kind == TrackKind::Video && t.source == TrackSource::Screenshare)
            {
                tiles.push(Tile {
                    video: (!share.muted).then(|| share.tid.clone()),
                    name: format!("{} (screen)", member.name),
                    screenshare: true,
                });
            }
        }
        // Screen shares first when there are too many tiles: they are the meeting's subject.
        if tiles.len() > MAX_TILES {
            let shares: Vec<Tile> = tiles.iter().filter(|t| t.screenshare).cloned().collect();
            let mut kept: Vec<Tile> = tiles.into_iter().filter(|t| !t.screenshare).collect();
            kept.truncate(MAX_TILES.saturating_sub(shares.len()));
            if focus.is_some_and(|f| f >= kept.len()) {
                focus = None;
            }
            kept.extend(shares.into_iter().take(MAX_TILES));
            kept.truncate(MAX_TILES);
            tiles = kept;
        }
        (tiles, focus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(tid: &str, kind: TrackKind, source: TrackSource) -> Track {
        Track {
            tid: tid.into(),
            kind,
            name: String::new(),
            muted: false,
            source,
            width: 0,
            height: 0,
            metadata: Default::default(),
        }
    }

    fn participant(c: &str, role: ParticipantRole, tracks: Vec<Track>) -> Participant {
        Participant {
            connection_id: c.into(),
            participant_id: c.into(),
            role,
            status: oriel_proto::ParticipantStatus::Connected,
            display_name: format!("name-{c}"),
            tracks,
        }
    }

    fn camera(tid: &str) -> Track {
        track(tid, TrackKind::Video, TrackSource::Camera)
    }

    #[test]
    fn publishers_get_tiles_subscribers_do_not() {
        let mut r = Roster::default();
        assert!(r.join(&participant(
            "a",
            ParticipantRole::Publisher,
            vec![camera("va")]
        )));
        assert!(!r.join(&participant("s", ParticipantRole::Subscriber, vec![])));
        assert!(r.join(&participant("b", ParticipantRole::Publisher, vec![])));
        let (tiles, focus) = r.scene();
        assert_eq!(tiles.len(), 2);
        assert_eq!(tiles[0].video.as_deref(), Some("va"));
        assert_eq!(tiles[0].name, "name-a");
        assert_eq!(tiles[1].video, None, "no camera: the name alone");
        assert_eq!(focus, None);
        assert!(!r.add_track("s", &camera("vs")));
        assert!(r.add_track("b", &camera("vb")));
        assert_eq!(r.scene().0[1].video.as_deref(), Some("vb"));
        assert_eq!(r.leave("a"), vec!["va".to_owned()]);
        assert_eq!(r.scene().0.len(), 1);
    }

    #[test]
    fn mute_shows_the_placeholder_and_screen_shares_get_tiles() {
        let mut r = Roster::default();
        r.join(&participant(
            "a",
            ParticipantRole::Publisher,
            vec![camera("va")],
        ));
        r.set_muted("a", "va", true);
        assert_eq!(r.scene().0[0].video, None);
        r.set_muted("a", "va", false);
        assert_eq!(r.scene().0[0].video.as_deref(), Some("va"));
        r.add_track(
            "a",
            &track("sa", TrackKind::Video, TrackSource::Screenshare),
        );
        let (tiles, _) = r.scene();
        assert_eq!(tiles.len(), 2);
        assert!(tiles[1].screenshare);
        assert_eq!(tiles[1].video.as_deref(), Some("sa"));
        r.remove_track("a", "sa");
        assert_eq!(r.scene().0.len(), 1);
    }

    #[test]
    fn at_most_ten_tiles_keeping_screen_shares() {
        let mut r = Roster::default();
        for i in 0..12 {
            r.join(&participant(
                &format!("p{i}"),
                ParticipantRole::Publisher,
                vec![camera(&format!("v{i}"))],
            ));
        }
        r.add_track(
            "p11",
            &track("s11", TrackKind::Video, TrackSource::Screenshare),
        );
        let (tiles, _) = r.scene();
        assert_eq!(tiles.len(), MAX_TILES);
        assert!(tiles.iter().any(|t| t.video.as_deref() == Some("s11")));
    }

    #[test]
    fn the_speaker_is_held_before_switching() {
        let mut r = Roster::default();
        for c in ["a", "b"] {
            r.join(&participant(c, ParticipantRole::Publisher, vec![camera(c)]));
        }
        let t0 = Instant::now();
        r.speaking(Some("b"), t0);
        assert_eq!(r.scene().1, Some(1), "the first speaker shows at once");
        r.speaking(Some("a"), t0 + Duration::from_millis(300));
        assert_eq!(r.scene().1, Some(1), "held");
        r.speaking(None, t0 + Duration::from_millis(400));
        assert_eq!(r.scene().1, Some(1), "silence keeps the last speaker");
        r.speaking(Some("a"), t0 + Duration::from_millis(500));
        r.tick(t0 + SPEAKER_HOLD + Duration::from_millis(1));
        assert_eq!(r.scene().1, Some(0), "switched after the hold");
        r.speaking(Some("zz"), t0 + Duration::from_secs(10));
        assert_eq!(r.scene().1, Some(0), "an unknown speaker is ignored");
        r.leave("a");
        assert_eq!(r.scene().1, None);
    }
}
