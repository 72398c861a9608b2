//! `kmirror check CONFIG [--connect]`: validate a file, print its flows and
//! effective settings (secrets masked); with `--connect`, list what would replicate.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::bail;

use crate::config::mm2::{self, Mm2Config};
use crate::engine::FlowPlan;
use crate::policy;

/// Renders the report for a valid config (no network). Secrets (sensitive keys and values from
/// config providers, see [`crate::config::providers`]) are printed as `[hidden]`.
pub fn report(cfg: &Mm2Config) -> String {
    let mut out = String::new();
    for w in &cfg.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(
        out,
        "clusters: {}",
        cfg.clusters
            .iter()
            .map(|c| c.alias.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let enabled: Vec<_> = cfg.enabled_flows().collect();
    let _ = writeln!(out, "flows: {}", enabled.len());
    for f in enabled {
        let _ = writeln!(out, "\nflow {}", f.name());
        for (k, (v, origin)) in &f.settings {
            let shown = cfg.shown(k, v, origin);
            let _ = writeln!(out, "  {k} = {shown}    ({origin})");
        }
    }
    out
}

/// Runs the check; returns an error (non-zero exit) when the file has errors.
pub async fn run(config: &Path, connect: bool) -> anyhow::Result<()> {
    let cfg = match mm2::load(config) {
        Ok(c) => c,
        Err(errs) => {
            for w in &errs.warnings {
                eprintln!("warning: {w}");
            }
            for e in &errs.errors {
                eprintln!("error: {e}");
            }
            bail!("{} error(s) in {}", errs.errors.len(), config.display());
        }
    };
    print!("{}", report(&cfg));
    // Client settings that only fail when used (stores, JAAS, mechanisms) are
    // tried here, so a bad truststore shows before `kmirror run`.
    let problems: Vec<String> = cfg
        .enabled_flows()
        .filter_map(|f| FlowPlan::from_config(&cfg, f).err())
        .map(|e| e.to_string())
        .collect();
    for p in &problems {
        eprintln!("error: {p}");
    }
    if !problems.is_empty() {
        bail!("{} error(s) in {}", problems.len(), config.display());
    }
    if connect {
        for f in cfg.enabled_flows() {
            let plan = FlowPlan::from_config(&cfg, f)?;
            println!("\nflow {}: topics that would be replicated", plan.name());
            let client = kmirror_protocol::client::Client::connect(
                plan.source_bootstrap.clone(),
                plan.source_client.clone(),
            )
            .await?;
            for (t, meta) in client.list_topics().await? {
                if !meta.is_internal
                    && policy::should_replicate_topic_with_heartbeats(
                        &plan.policy,
                        &plan.topic_filter,
                        &plan.target_alias,
                        &t,
                        f.heartbeats_replication_enabled,
                    )
                {
                    println!(
                        "  {t} -> {} on {} ({} partitions)",
                        plan.policy.format_remote_topic(&plan.source_alias, &t),
                        plan.target_alias,
                        meta.partitions.len()
                    );
                }
            }
            print!("{}", dry_run(&plan, f, &client).await?);
        }
    }
    Ok(())
}

/// The sync planners' dry run for one flow (`--connect`): remote topics that
/// would be created or grown, topic-config changes and ACLs that would be
/// added. Reads both clusters and changes nothing.
async fn dry_run(
    plan: &FlowPlan,
    f: &mm2::FlowConfig,
    source: &kmirror_protocol::client::Client,
) -> anyhow::Result<String> {
    use crate::sync::{acls, topics};
    let target = kmirror_protocol::client::Client::connect(
        plan.target_bootstrap.clone(),
        plan.target_client.clone(),
    )
    .await?;
    let flow_topics = topics::FlowTopics {
        source_alias: plan.source_alias.clone(),
        target_alias: plan.target_alias.clone(),
        policy: plan.policy.clone(),
        filter: plan.topic_filter.clone(),
        heartbeats_replication_enabled: f.heartbeats_replication_enabled,
    };
    let settings = topics::ConfigSyncSettings::from_flow(f)?;
    let mut lines = topics::dry_run(
        source,
        &target,
        &flow_topics,
        &settings,
        f.sync_topic_configs_enabled,
    )
    .await?;
    if f.sync_topic_acls_enabled {
        lines.extend(acls::dry_run(source, &target, &flow_topics).await?);
    } else {
        lines.push("ACL sync is disabled (sync.topic.acls.enabled=false)".to_owned());
    }
    let mut out = format!("\nflow {}: dry run, nothing is changed\n", plan.name());
    if lines.is_empty() {
        out.push_str("  nothing to create, grow, set or add\n");
    }
    for l in lines {
        let _ = writeln!(out, "  {l}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n";

    #[test]
    fn report_hides_passwords_and_jaas_lines() {
        let text = format!(
            "{BASE}A.security.protocol = SASL_SSL\nA.sasl.mechanism = PLAIN\n\
             A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"jaas-pw-1\";\n\
             B.ssl.truststore.password = trust-pw-2\nB.ssl.key.password = key-pw-3\n\
             A->B.source.consumer.ssl.keystore.password = store-pw-4\n\
             A->B.producer.override.sasl.oauthbearer.client.credentials.client.secret = oauth-5\n"
        );
        let cfg = mm2::parse_str(&text, "t.properties").expect("valid");
        let out = report(&cfg);
        for secret in [
            "jaas-pw-1",
            "trust-pw-2",
            "key-pw-3",
            "store-pw-4",
            "oauth-5",
        ] {
            assert!(!out.contains(secret), "{secret} printed:\n{out}");
        }
        assert!(
            out.contains(
                "  source.cluster.sasl.jaas.config = [hidden]    (line 7 (A.sasl.jaas.config))"
            ),
            "{out}"
        );
        assert!(
            out.contains("  target.cluster.ssl.truststore.password = [hidden]"),
            "{out}"
        );
        assert!(
            out.contains("  source.consumer.ssl.keystore.password = [hidden]    (line 10 (flow))"),
            "{out}"
        );
        // Other settings are shown.
        assert!(
            out.contains("  source.cluster.sasl.mechanism = PLAIN"),
            "{out}"
        );
        assert!(
            out.contains("  source.cluster.bootstrap.servers = a:9092"),
            "{out}"
        );
    }

    #[test]
    fn report_hides_values_from_config_providers_whatever_their_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let secrets = dir.path().join("mirror.properties");
        std::fs::write(
            &secrets,
            "topics = orders-secret-topic\nkey.password = provided-pw\n",
        )
        .expect("write secrets");
        let text = format!(
            "{BASE}config.providers = vault\n\
             config.providers.vault.class = org.apache.kafka.common.config.provider.FileConfigProvider\n\
             A->B.topics = ${{vault:{p}:topics}}\n\
             B.ssl.key.password = ${{vault:{p}:key.password}}\n\
             A->B.groups = plain-group\n",
            p = secrets.display()
        );
        let cfg = mm2::parse_str(&text, "t.properties").expect("valid");
        assert_eq!(
            cfg.flow("A", "B").expect("flow").topics,
            ["orders-secret-topic"]
        );
        let out = report(&cfg);
        assert!(!out.contains("orders-secret-topic"), "{out}");
        assert!(!out.contains("provided-pw"), "{out}");
        assert!(
            out.contains("  topics = [hidden]    (line 7 (flow))"),
            "{out}"
        );
        assert!(
            out.contains("  groups = plain-group    (line 9 (flow))"),
            "{out}"
        );
    }
}
