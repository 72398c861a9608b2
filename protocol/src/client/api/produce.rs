//! Produce one batch per partition, written vectored so forwarded batches are
//! never copied, with acks=all by default; returns each partition's base offset.
//!
//! # References
//! - `zero-copy-forwarding.md` §6.4 (one batch per partition, acks=-1) and §6.5
//!   (the base offset gives the exact upstream → downstream mapping).

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ProduceRequest};

use crate::client::cluster::check_code;
use crate::client::conn::PendingResponse;
use crate::client::error::{ConnError, tp_name};
use crate::client::{Client, ClientError};
use crate::codec::{ProducePart, encode_produce_vectored};

/// Where a produced batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceAck {
    /// Offset of the batch's first record on the target.
    pub base_offset: i64,
    /// Broker append time for LogAppendTime topics, else -1.
    pub log_append_time_ms: i64,
    /// Log start offset of the partition (-1 if unknown).
    pub log_start_offset: i64,
}

/// One partition's batch for [`Client::produce_to`].
#[derive(Debug, Clone)]
pub struct ProduceBatch {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The batch as chunks (one v2 batch).
    pub chunks: Vec<Bytes>,
}

/// A produce request on the wire, whose acknowledgement is awaited later.
#[derive(Debug)]
pub struct PendingProduce {
    /// The response handle.
    response: PendingResponse,
    /// Version used (to decode the answer).
    version: i16,
    /// `host:port` of the leader.
    broker: String,
    /// Partitions in the request, in order.
    partitions: Vec<(String, i32)>,
}

impl PendingProduce {
    /// Waits for the acknowledgement of every partition in the request.
    /// Cancel safe like [`PendingResponse::wait`].
    pub async fn wait(&mut self) -> Result<Vec<Result<ProduceAck, ClientError>>, ClientError> {
        let frame = self.response.wait().await?;
        let resp =
            crate::codec::decode_response::<ProduceRequest>(self.version, frame).map_err(|e| {
                ConnError::Codec {
                    broker: self.broker.clone(),
                    api: ApiKey::Produce,
                    source: std::sync::Arc::new(e),
                }
            })?;
        Ok(self
            .partitions
            .iter()
            .map(|(topic, partition)| {
                let p = resp
                    .responses
                    .iter()
                    .filter(|t| t.name.0.as_str() == topic)
                    .flat_map(|t| t.partition_responses.iter())
                    .find(|p| p.index == *partition)
                    .ok_or_else(|| ClientError::MissingInResponse {
                        api: ApiKey::Produce,
                        resource: tp_name(topic, *partition),
                    })?;
                check_code::<ProduceRequest>(
                    p.error_code,
                    &self.broker,
                    || Some(tp_name(topic, *partition)),
                    p.error_message.as_ref(),
                )?;
                Ok(ProduceAck {
                    base_offset: p.base_offset,
                    log_append_time_ms: p.log_append_time_ms,
                    log_start_offset: p.log_start_offset,
                })
            })
            .collect())
    }

    /// Waits for a single-partition request's acknowledgement (cancel safe).
    pub async fn wait_one(&mut self) -> Result<ProduceAck, ClientError> {
        let first = self
            .partitions
            .first()
            .map(|(t, p)| tp_name(t, *p))
            .unwrap_or_default();
        self.wait()
            .await?
            .into_iter()
            .next()
            .unwrap_or(Err(ClientError::MissingInResponse {
                api: ApiKey::Produce,
                resource: first,
            }))
    }
}

impl Client {
    /// Writes one Produce request (one batch per partition) to broker `broker`
    /// and returns without waiting for the answer. Requests submitted in
    /// sequence to one broker reach it in that order.
    pub async fn submit_produce(
        &self,
        broker: i32,
        acks: i16,
        timeout_ms: i32,
        batches: &[ProduceBatch],
    ) -> Result<PendingProduce, ClientError> {
        let conn = self.broker_conn(broker).await?;
        let version = conn.version_for(ApiKey::Produce)?;
        let parts: Vec<ProducePart<'_>> = batches
            .iter()
            .map(|b| ProducePart {
                topic: &b.topic,
                partition: b.partition,
                batch: &b.chunks,
            })
            .collect();
        let cid = conn.next_correlation();
        let client_id = self.config().conn.client_id.clone();
        let chunks =
            encode_produce_vectored(cid, client_id.as_deref(), version, acks, timeout_ms, &parts)
                .map_err(|e| ConnError::Codec {
                broker: conn.broker().to_owned(),
                api: ApiKey::Produce,
                source: std::sync::Arc::new(e),
            })?;
        let response = conn.submit(ApiKey::Produce, cid, chunks).await?;
        Ok(PendingProduce {
            response,
            version,
            broker: conn.broker().to_owned(),
            partitions: batches
                .iter()
                .map(|b| (b.topic.clone(), b.partition))
                .collect(),
        })
    }

    /// Sends one Produce request with one batch per partition to broker
    /// `broker` and waits. The outer error is a failed exchange; each
    /// partition's result carries its own Kafka error.
    pub async fn produce_to(
        &self,
        broker: i32,
        acks: i16,
        timeout_ms: i32,
        batches: &[ProduceBatch],
    ) -> Result<Vec<Result<ProduceAck, ClientError>>, ClientError> {
        self.submit_produce(broker, acks, timeout_ms, batches)
            .await?
            .wait()
            .await
    }

    /// Produces one batch to the leader of `topic`-`partition` (acks=all).
    /// No retry: the caller owns sequence numbers and decides.
    pub async fn produce(
        &self,
        topic: &str,
        partition: i32,
        chunks: Vec<Bytes>,
        timeout_ms: i32,
    ) -> Result<ProduceAck, ClientError> {
        let leader = self.leader(topic, partition).await?;
        let batch = ProduceBatch {
            topic: topic.to_owned(),
            partition,
            chunks,
        };
        self.submit_produce(leader, -1, timeout_ms, std::slice::from_ref(&batch))
            .await?
            .wait_one()
            .await
    }
}
