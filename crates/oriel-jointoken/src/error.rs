/// Why a join token was refused.
///
/// `Display` gives the same sentence as [`JoinTokenError::message`]; the data
/// carried by some variants is for logs, not for the sentence.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
#[error("{}", self.message())]
pub enum JoinTokenError {
    /// Not three base64url parts, or header/payload not JSON objects.
    Malformed,
    /// `alg` is anything but `RS256` (holds the `alg` given).
    UnsupportedAlgorithm(String),
    /// No `kid` in the header nor in the claims.
    MissingKeyId,
    /// No signing key with the token's `kid` (the caller's look-up failed, or
    /// the key handed to [`crate::verify`] has another id).
    UnknownKey,
    /// The signing key's stored public key is not a usable RSA public key PEM.
    InvalidPublicKey,
    /// The signature does not match the key.
    BadSignature,
    /// `aud` is not `"rt"`.
    WrongAudience,
    /// `exp` is absent or not a number.
    MissingExpiry,
    /// `exp` lies in the past (beyond the leeway).
    Expired,
    /// `nbf` lies in the future (beyond the leeway).
    NotYetValid,
    /// `sub` is absent, empty or not a string.
    MissingSubject,
    /// The space named by `sub` is not in the signing key's environment.
    SpaceNotInEnvironment,
    /// `role` is neither `"publisher"` nor `"subscriber"` (holds the value given).
    InvalidRole(String),
    /// `participant_id` is not a non-empty string of at most 255 characters.
    InvalidParticipantId,
    /// Header `kid` and claims `kid` are both present but differ.
    KeyIdMismatch,
    /// `oriel_hidden` in a token not signed by the node's own key of the environment.
    HiddenNotAllowed,
}

impl JoinTokenError {
    /// A human sentence describing the refusal, fit for an API error message.
    pub fn message(&self) -> &'static str {
        match self {
            Self::Malformed => "join token is not a well-formed JWT",
            Self::UnsupportedAlgorithm(_) => "join token must be signed with RS256",
            Self::MissingKeyId => "join token does not name its signing key (kid)",
            Self::UnknownKey => "join token is signed with an unknown signing key",
            Self::InvalidPublicKey => "signing key has an unusable public key",
            Self::BadSignature => "join token signature is invalid",
            Self::WrongAudience => "join token audience (aud) must be \"rt\"",
            Self::MissingExpiry => "join token has no numeric expiry (exp)",
            Self::Expired => "join token has expired",
            Self::NotYetValid => "join token is not valid yet (nbf)",
            Self::MissingSubject => "join token does not name a space (sub)",
            Self::SpaceNotInEnvironment => {
                "join token names a space outside the signing key's environment"
            }
            Self::InvalidRole(_) => "join token role must be \"publisher\" or \"subscriber\"",
            Self::InvalidParticipantId => {
                "join token participant_id must be a non-empty string of at most 255 characters"
            }
            Self::KeyIdMismatch => "join token names two different signing keys (kid)",
            Self::HiddenNotAllowed => {
                "join token asks for a hidden participant, which only the server's own tokens may"
            }
        }
    }
}
