use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock unix seconds: what `created_at` and JWT `exp` are measured in.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}
