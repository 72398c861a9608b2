//! `kmirror run CONFIG [--clusters ALIAS...]`: replicate every enabled flow
//! until SIGTERM or SIGINT, then stop in order and exit 0.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::mm2;
use crate::engine::{FlowPlan, run_flow};
use crate::metrics::Metrics;

/// A kmirror top-level key read straight from the file (`metrics.addr`,
/// `scale.out.enabled`): not an MM2 key, so not part of the flow settings.
fn file_key(config: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    crate::config::properties::parse(&text)
        .into_iter()
        .rev()
        .find(|e| e.key == key)
        .map(|e| e.value.trim().to_owned())
}

/// Runs the flows of `config` whose target is in `clusters` (all when empty).
pub async fn run(
    config: &Path,
    clusters: &[String],
    metrics_addr: Option<&str>,
) -> anyhow::Result<()> {
    let cfg = match mm2::load(config) {
        Ok(c) => c,
        Err(errs) => {
            for w in &errs.warnings {
                tracing::warn!("{w}");
            }
            bail!(
                "{} has {} error(s):\n{errs}",
                config.display(),
                errs.errors.len()
            );
        }
    };
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    for c in clusters {
        if cfg.cluster(c).is_none() {
            bail!(
                "--clusters {c}: no such cluster alias in {}",
                config.display()
            );
        }
    }
    let mut plans = Vec::new();
    for f in cfg.enabled_flows() {
        if !clusters.is_empty() && !clusters.contains(&f.target) {
            continue;
        }
        let mut plan =
            FlowPlan::from_config(&cfg, f).with_context(|| format!("in {}", config.display()))?;
        if file_key(config, "scale.out.enabled").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            plan.group = Some(crate::engine::membership::GroupSettings::for_flow(
                &f.source, &f.target,
            ));
        }
        plans.push(plan);
    }
    if plans.is_empty() {
        bail!(
            "{}: no enabled flow to run (set e.g. A->B.enabled=true)",
            config.display()
        );
    }
    let cancel = CancellationToken::new();
    let metrics = Arc::new(Metrics::default());
    let addr = metrics_addr
        .map(str::to_owned)
        .or_else(|| file_key(config, "metrics.addr"));
    if let Some(addr) = addr {
        let bound = crate::metrics::http::serve(&addr, Arc::clone(&metrics), cancel.clone())
            .await
            .with_context(|| format!("cannot serve metrics on {addr}"))?;
        tracing::info!(%bound, "serving /metrics, /status and /healthz");
    }
    let mut flows = JoinSet::new();
    for mut p in plans {
        p.metrics = Arc::clone(&metrics);
        tracing::info!(flow = %p.name(), "starting flow");
        flows.spawn(run_flow(p, cancel.child_token()));
    }
    // MM2 also emits heartbeats into the target of every pair whose data flow
    // is disabled (its heartbeat-only herders), which is what lets a chain
    // show `B.A.heartbeats`.
    for f in cfg
        .flows
        .iter()
        .filter(|f| !f.enabled && f.emit_heartbeats_enabled)
    {
        if !clusters.is_empty() && !clusters.contains(&f.target) {
            continue;
        }
        let Ok(p) = FlowPlan::from_config(&cfg, f) else {
            continue;
        };
        let config = crate::sync::heartbeats::HeartbeatConfig {
            source_alias: p.source_alias.clone(),
            target_alias: p.target_alias.clone(),
            topic: p.policy.heartbeats_topic().to_owned(),
            interval: f.emit_heartbeats_interval,
            replication_factor: f.heartbeats_topic_replication_factor,
        };
        let cancel = cancel.child_token();
        flows.spawn(async move {
            if let Some(target) = crate::engine::connect_with_retry(
                &p.target_bootstrap,
                p.target_client.clone(),
                &p.target_alias,
                &cancel,
            )
            .await
            {
                crate::sync::heartbeats::run(config, target, cancel).await;
            }
            Ok(())
        });
    }
    let signal = wait_for_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            sig = &mut signal => {
                tracing::info!(signal = sig, "stopping: finishing in-flight produces and saving progress");
                cancel.cancel();
                break;
            }
            r = flows.join_next() => match r {
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    cancel.cancel();
                    while flows.join_next().await.is_some() {}
                    return Err(e.into());
                }
                Some(Err(e)) => {
                    cancel.cancel();
                    while flows.join_next().await.is_some() {}
                    bail!("flow task failed: {e}");
                }
                None => return Ok(()),
            }
        }
    }
    while let Some(r) = flows.join_next().await {
        if let Ok(Err(e)) = r {
            tracing::error!(error = %e, "flow failed while stopping");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}
