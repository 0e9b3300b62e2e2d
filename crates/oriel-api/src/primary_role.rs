//! Whether this node is the one that does the work done once for everyone (composing
//! broadcasts, delivering webhooks): the primary of a data directory, or the cluster's leader.
//! It can stop being it (the leader's key lost), and be it again.

use tokio::sync::watch;

/// Returns once the node's role is `primary`. A role whose sender is gone never changes
/// again: this then waits forever (the caller's other branches, shutdown, end it).
pub(crate) async fn until_primary(role: &mut watch::Receiver<bool>, primary: bool) {
    if role.wait_for(|is| *is == primary).await.is_err() {
        std::future::pending::<()>().await;
    }
}
