//! InitProducerId: the replicator's own idempotent producer id and epoch.
//!
//! # References
//! - `zero-copy-forwarding.md` §3.3; KIP-98; KIP-360 (epoch bump on v3+).

use kafka_protocol::messages::{InitProducerIdRequest, ProducerId};

use crate::client::cluster::check_code;
use crate::client::{Client, ClientError};

/// A producer identity from the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdentity {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
}

impl Client {
    /// Gets a new idempotent producer id, or bumps the epoch of `current`
    /// (KIP-360) when the broker supports it.
    pub async fn init_producer_id(
        &self,
        current: Option<ProducerIdentity>,
    ) -> Result<ProducerIdentity, ClientError> {
        // Epoch bumps need v3+ (KIP-360); older brokers only hand out new ids.
        let bump_ok = self
            .version_for(kafka_protocol::messages::ApiKey::InitProducerId)
            .await?
            >= 3;
        let cur = current.filter(|_| bump_ok).unwrap_or(ProducerIdentity {
            producer_id: -1,
            producer_epoch: -1,
        });
        let req = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(-1)
            .with_producer_id(ProducerId(cur.producer_id))
            .with_producer_epoch(cur.producer_epoch);
        let (broker, resp) = self.send_any(&req).await?;
        check_code::<InitProducerIdRequest>(resp.error_code, &broker, || None, None)?;
        Ok(ProducerIdentity {
            producer_id: resp.producer_id.0,
            producer_epoch: resp.producer_epoch,
        })
    }
}
