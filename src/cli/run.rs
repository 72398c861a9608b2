//! `kmirror run CONFIG [--clusters ALIAS...]`: replicate every enabled flow
//! until SIGTERM or SIGINT, then stop in order and exit 0.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::mm2;
use crate::engine::{FlowEnd, FlowPlan, run_flow};
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

/// The flow's group timing: `{target}.{key}`, else the top-level `{key}`, as
/// MM2 configures the Connect worker of a target cluster.
fn group_settings(
    config: &Path,
    source: &str,
    target: &str,
) -> anyhow::Result<crate::engine::membership::GroupSettings> {
    let mut g = crate::engine::membership::GroupSettings::for_flow(source, target);
    let read = |key: &str, slot: &mut std::time::Duration| -> anyhow::Result<()> {
        let scoped = format!("{target}.{key}");
        let Some((name, v)) = file_key(config, &scoped)
            .map(|v| (scoped, v))
            .or_else(|| file_key(config, key).map(|v| (key.to_owned(), v)))
        else {
            return Ok(());
        };
        match v.parse::<u64>() {
            Ok(ms) if ms > 0 => {
                *slot = std::time::Duration::from_millis(ms);
                Ok(())
            }
            _ => bail!(
                "{}: {name} = {v}: expected a positive number of milliseconds",
                config.display()
            ),
        }
    };
    read("session.timeout.ms", &mut g.session_timeout)?;
    read("heartbeat.interval.ms", &mut g.heartbeat_interval)?;
    read("rebalance.timeout.ms", &mut g.rebalance_timeout)?;
    if g.heartbeat_interval >= g.session_timeout {
        bail!(
            "{}: heartbeat.interval.ms ({} ms) must be below session.timeout.ms ({} ms) for the group of {source}->{target}",
            config.display(),
            g.heartbeat_interval.as_millis(),
            g.session_timeout.as_millis()
        );
    }
    Ok(g)
}

/// Runs one flow; when its scale-out group leader's file differs, runs it
/// again with the leader's settings (`FlowEnd::AdoptLeaderSettings`).
async fn run_flow_adopting(
    config: std::path::PathBuf,
    mut plan: FlowPlan,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        match run_flow(plan.clone(), cancel.clone()).await? {
            FlowEnd::Stopped => return Ok(()),
            FlowEnd::AdoptLeaderSettings(leader) => {
                plan = match with_leader_settings(&config, &plan, &leader) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(flow = %plan.name(), error = %format!("{e:#}"), "cannot build this flow from the group leader's settings; running this file's");
                        let mut p = plan.clone();
                        if let Some(g) = p.group.as_mut() {
                            g.adopted_from = Some(leader);
                        }
                        p
                    }
                };
            }
        }
    }
}

/// `running`'s flow rebuilt from `config` with the group leader's settings
/// above every level of the file (connection settings and secrets excepted:
/// `group::is_local_setting`).
fn with_leader_settings(
    config: &Path,
    running: &FlowPlan,
    leader: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<FlowPlan> {
    let bytes = std::fs::read(config).with_context(|| format!("reading {}", config.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let (s, t) = (&running.source_alias, &running.target_alias);
    let merged = crate::group::with_leader_settings(&text, s, t, leader);
    let cfg = mm2::parse_str(&merged, &config.display().to_string())
        .map_err(|errs| anyhow::anyhow!("the leader's settings do not apply here:\n{errs}"))?;
    let f = cfg
        .flow(s, t)
        .with_context(|| format!("no flow {s}->{t} with the leader's settings"))?;
    let mut plan = FlowPlan::from_config(&cfg, f)?;
    plan.metrics = std::sync::Arc::clone(&running.metrics);
    let mut group = running
        .group
        .clone()
        .context("only a scale-out flow adopts a leader's settings")?;
    group.adopted_from = Some(leader.clone());
    if group.file_config_keys.is_none() {
        group.file_config_keys = running.config.as_deref().map(crate::group::config_keys);
        group.file_settings = running
            .config
            .as_deref()
            .map(crate::group::adoptable_settings);
    }
    plan.group = Some(group);
    Ok(plan)
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
        // On unless the file says `scale.out.enabled = false`: every process
        // serving a flow joins its group, as every MM2 process joins Connect's.
        if !file_key(config, "scale.out.enabled").is_some_and(|v| v.eq_ignore_ascii_case("false")) {
            plan.group = Some(group_settings(config, &f.source, &f.target)?);
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
    let metrics = Arc::new(
        Metrics::from_settings(|k| file_key(config, k))
            .with_context(|| format!("in {}", config.display()))?,
    );
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
        flows.spawn(run_flow_adopting(
            config.to_path_buf(),
            p,
            cancel.child_token(),
        ));
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
                    return Err(e);
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
    // Every step of a flow's shutdown is bounded; this bounds their sum, so
    // the process exits within 10 s of the signal whatever the clusters do.
    // A second signal exits at once. Either way nothing is lost: progress is
    // only ever saved for acknowledged records, so what was not saved is
    // re-sent by the next run (duplicates, bounded by offset.flush.interval.ms).
    let stopping = async {
        while let Some(r) = flows.join_next().await {
            if let Ok(Err(e)) = r {
                tracing::error!(error = %e, "flow failed while stopping");
            }
        }
    };
    tokio::select! {
        () = stopping => tracing::info!("stopped"),
        () = tokio::time::sleep(SHUTDOWN_DEADLINE) => {
            tracing::error!("stopping took longer than {} s; exiting without waiting further (records since the last progress save will be re-sent)", SHUTDOWN_DEADLINE.as_secs_f32());
        }
        sig = wait_for_signal() => {
            tracing::warn!(signal = sig, "second signal: exiting without waiting further (records since the last progress save will be re-sent)");
        }
    }
    Ok(())
}

/// How long `kmirror run` waits for its flows to stop after SIGTERM/SIGINT.
const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_millis(9_500);

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::group_settings;

    fn settings(text: &str) -> anyhow::Result<crate::engine::membership::GroupSettings> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("mm2.properties");
        std::fs::write(&path, text)?;
        group_settings(&path, "A", "B")
    }

    #[test]
    fn group_timing_comes_from_the_target_cluster_then_the_top_level() {
        let g = settings("session.timeout.ms = 20000\nB.heartbeat.interval.ms = 4000\nheartbeat.interval.ms = 9000\n").unwrap();
        assert_eq!(g.session_timeout, Duration::from_secs(20));
        assert_eq!(g.heartbeat_interval, Duration::from_secs(4));
        assert_eq!(g.rebalance_timeout, Duration::from_secs(30));
        assert_eq!(g.group_id, "kmirror.A->B");
        let d = settings("").unwrap();
        assert_eq!(d.session_timeout, Duration::from_secs(10));
    }

    #[test]
    fn bad_group_timing_names_the_key() {
        let e = settings("B.session.timeout.ms = soon\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("B.session.timeout.ms = soon"), "{e}");
        let e = settings("session.timeout.ms = 3000\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("heartbeat.interval.ms (3000 ms) must be below"),
            "{e}"
        );
    }
}
