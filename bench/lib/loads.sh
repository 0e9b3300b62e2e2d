# The benchmark's loads, shared by run.sh and report.sh (sourced).

load_spec() { # NAME -> "publishers subscribers audio_only"
  case "$1" in
    fanout-50) echo "1 50 0" ;;
    fanout-100) echo "1 100 0" ;;
    fanout-200) echo "1 200 0" ;;
    meeting) echo "10 10 0" ;;
    audio-room) echo "10 300 1" ;;
    *) return 1 ;;
  esac
}
load_title() {
  case "$1" in
    fanout-50) echo "fan-out 1 → 50" ;;
    fanout-100) echo "fan-out 1 → 100" ;;
    fanout-200) echo "fan-out 1 → 200" ;;
    meeting) echo "meeting 10 × 10" ;;
    audio-room) echo "audio room 10 → 300" ;;
  esac
}
