// Plays a live stream's HLS (hls.js: Chromium on Linux has no native HLS; Safari does).
import Hls from 'hls.js';
import { useEffect, useRef, useState } from 'preact/hooks';

export function Player({ src }: { src: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    const element = video.current;
    if (!element) return undefined;
    setProblem(null);
    if (element.canPlayType('application/vnd.apple.mpegurl')) {
      element.src = src;
      return () => { element.removeAttribute('src'); element.load(); };
    }
    if (!Hls.isSupported()) {
      setProblem('This browser cannot play HLS.');
      return undefined;
    }
    // No worker: the dashboard's content security policy allows scripts from this origin only.
    const hls = new Hls({ enableWorker: false, liveSyncDurationCount: 2 });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) setProblem(`Playback stopped: ${data.details}. Is the live stream active?`);
    });
    hls.loadSource(src);
    hls.attachMedia(element);
    return () => hls.destroy();
  }, [src]);
  return (
    <div class="player">
      <video ref={video} controls muted autoPlay playsInline aria-label="Live stream player" />
      {problem && <p class="muted" role="status">{problem}</p>}
    </div>
  );
}
