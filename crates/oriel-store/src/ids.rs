use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;

/// Length of object ids: Mux's ids are 35 to 46 base62 characters.
const ID_LEN: usize = 40;
/// Length of access-token secrets: 64 base62 characters carry about 380 bits.
const SECRET_LEN: usize = 64;

/// A fresh, unguessable object id in Mux's base62 style.
pub fn new_id() -> String {
    Alphanumeric.sample_string(&mut OsRng, ID_LEN)
}

/// A fresh access-token secret.
pub fn new_secret() -> String {
    Alphanumeric.sample_string(&mut OsRng, SECRET_LEN)
}

/// A random (version 4) UUID, the form Mux gave webhook events and attempts.
pub fn new_uuid() -> String {
    let mut bytes: [u8; 16] = rand::Rng::gen(&mut OsRng);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_base62_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), ID_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(new_secret().len(), SECRET_LEN);
    }
}
