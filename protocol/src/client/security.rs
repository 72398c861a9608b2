//! Kafka's client security keys (`security.protocol`, `ssl.*`, `sasl.*`)
//! turned into a connector (TCP or TLS) and SASL settings for every connection.
//!
//! # References
//! - Kafka `CommonClientConfigs`, `SslConfigs`, `SaslConfigs`: key names and defaults.

use std::path::PathBuf;
use std::sync::Arc;

use super::conn::SaslSettings;
use super::sasl::{JaasError, Mechanism, SaslError, Secret, parse_jaas};
use super::tls::{
    StoreSource, StoreType, TlsConnector, TlsError, TlsSettings, load_identity, load_trust,
    protocol_versions,
};
use super::transport::{Connector, TcpConnector};

/// `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// No TLS, no SASL (Kafka's default).
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL over TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    /// True when connections use TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// True when connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// A security setting that cannot be used; each names its key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    /// Unknown `security.protocol`.
    #[error("security.protocol={0}: unknown protocol (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)")]
    Protocol(String),
    /// A trust or key store problem.
    #[error("{key}: {source}")]
    Tls {
        /// The key that led to the store.
        key: &'static str,
        /// What failed.
        #[source]
        source: TlsError,
    },
    /// `sasl.mechanism` names a mechanism kmirror does not speak.
    #[error("sasl.mechanism: {0}")]
    Mechanism(#[source] SaslError),
    /// `sasl.jaas.config` is missing or unusable.
    #[error("sasl.jaas.config: {0}")]
    Jaas(#[source] JaasError),
    /// A key the protocol needs is not set.
    #[error("{key} is required with security.protocol={protocol}")]
    Missing {
        /// The missing key.
        key: &'static str,
        /// The protocol that needs it.
        protocol: &'static str,
    },
}

/// What a client needs to connect securely.
#[derive(Debug)]
pub struct Security {
    /// The protocol.
    pub protocol: SecurityProtocol,
    /// Opens transports (TLS when the protocol says so).
    pub connector: Arc<dyn Connector>,
    /// SASL settings for [`ConnConfig::sasl`](super::ConnConfig::sasl).
    pub sasl: Option<Arc<SaslSettings>>,
    /// Settings that work but weaken security or were adjusted (for the log
    /// and `kmirror check`); never contains a secret.
    pub warnings: Vec<String>,
}

/// Builds [`Security`] from Kafka client properties; `get` returns a key's value.
pub fn from_props<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    tcp: TcpConnector,
) -> Result<Security, SecurityError> {
    let protocol = match get("security.protocol")
        .map(|v| v.trim().to_ascii_uppercase())
        .as_deref()
    {
        None | Some("PLAINTEXT") => SecurityProtocol::Plaintext,
        Some("SSL") => SecurityProtocol::Ssl,
        Some("SASL_PLAINTEXT") => SecurityProtocol::SaslPlaintext,
        Some("SASL_SSL") => SecurityProtocol::SaslSsl,
        Some(_) => {
            return Err(SecurityError::Protocol(
                get("security.protocol").unwrap_or_default().to_owned(),
            ));
        }
    };
    let mut warnings = Vec::new();
    let connector: Arc<dyn Connector> = if protocol.uses_tls() {
        Arc::new(
            TlsConnector::new(tcp, tls_settings(&get, &mut warnings)?).map_err(|source| {
                SecurityError::Tls {
                    key: "ssl.truststore/ssl.keystore",
                    source,
                }
            })?,
        )
    } else {
        Arc::new(tcp)
    };
    let sasl = if protocol.uses_sasl() {
        // Kafka's default mechanism is GSSAPI, which kmirror does not speak.
        let mechanism = Mechanism::from_name(get("sasl.mechanism").unwrap_or("GSSAPI").trim())
            .map_err(SecurityError::Mechanism)?;
        let jaas = get("sasl.jaas.config").ok_or(SecurityError::Missing {
            key: "sasl.jaas.config",
            protocol: protocol.name(),
        })?;
        let credentials = parse_jaas(jaas)
            .and_then(|j| j.credentials(mechanism))
            .map_err(SecurityError::Jaas)?;
        Some(Arc::new(SaslSettings {
            mechanism,
            credentials,
        }))
    } else {
        None
    };
    Ok(Security {
        protocol,
        connector,
        sasl,
        warnings,
    })
}

fn secret<'a>(get: &impl Fn(&str) -> Option<&'a str>, key: &str) -> Option<Secret> {
    get(key).map(|v| Secret::new(v.to_owned()))
}

fn store_type<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    key: &'static str,
) -> Result<StoreType, SecurityError> {
    // Kafka's default store type is JKS.
    StoreType::parse(key, get(key).unwrap_or("JKS"))
        .map_err(|source| SecurityError::Tls { key, source })
}

fn tls_settings<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    warnings: &mut Vec<String>,
) -> Result<TlsSettings, SecurityError> {
    let trust_source = if let Some(pem) = secret(get, "ssl.truststore.certificates") {
        Some((
            "ssl.truststore.certificates",
            StoreSource::Pem {
                certificates: pem,
                key: None,
            },
        ))
    } else {
        match get("ssl.truststore.location") {
            Some(path) => Some((
                "ssl.truststore.location",
                StoreSource::File {
                    path: PathBuf::from(path.trim()),
                    kind: store_type(get, "ssl.truststore.type")?,
                    password: secret(get, "ssl.truststore.password"),
                },
            )),
            None => None,
        }
    };
    let trust = match trust_source {
        Some((key, source)) => {
            Some(load_trust(&source).map_err(|source| SecurityError::Tls { key, source })?)
        }
        None => None,
    };
    let identity_source = if let Some(chain) = secret(get, "ssl.keystore.certificate.chain") {
        Some((
            "ssl.keystore.certificate.chain",
            StoreSource::Pem {
                certificates: chain,
                key: secret(get, "ssl.keystore.key"),
            },
        ))
    } else {
        match get("ssl.keystore.location") {
            Some(path) => Some((
                "ssl.keystore.location",
                StoreSource::File {
                    path: PathBuf::from(path.trim()),
                    kind: store_type(get, "ssl.keystore.type")?,
                    // A PKCS12 file has one password; `ssl.key.password` is
                    // used when the store's own is not given.
                    password: secret(get, "ssl.keystore.password")
                        .or_else(|| secret(get, "ssl.key.password")),
                },
            )),
            None => None,
        }
    };
    let identity = match identity_source {
        Some((key, source)) => {
            Some(load_identity(&source).map_err(|source| SecurityError::Tls { key, source })?)
        }
        None => None,
    };
    let verify_hostname = match get("ssl.endpoint.identification.algorithm").map(str::trim) {
        None => true,
        Some("") => {
            warnings.push(
                "ssl.endpoint.identification.algorithm is empty: broker certificates are checked \
                 against the truststore but not against the broker's host name"
                    .into(),
            );
            false
        }
        Some(a) if a.eq_ignore_ascii_case("https") => true,
        Some(other) => {
            warnings.push(format!(
                "ssl.endpoint.identification.algorithm={other}: unknown; host names are verified as with https"
            ));
            true
        }
    };
    let enabled = get("ssl.enabled.protocols").unwrap_or("TLSv1.2,TLSv1.3");
    let (versions, dropped) = protocol_versions(enabled).map_err(|source| SecurityError::Tls {
        key: "ssl.enabled.protocols",
        source,
    })?;
    if !dropped.is_empty() {
        warnings.push(format!(
            "ssl.enabled.protocols: {} not offered (rustls speaks TLSv1.2 and TLSv1.3 only)",
            dropped.join(", ")
        ));
    }
    Ok(TlsSettings {
        trust,
        identity,
        verify_hostname,
        versions,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn build(pairs: &[(&str, &str)]) -> Result<Security, SecurityError> {
        let m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        from_props(|k| m.get(k).map(String::as_str), TcpConnector::default())
    }

    #[test]
    fn plaintext_is_the_default() {
        let s = build(&[]).expect("plaintext");
        assert_eq!(s.protocol, SecurityProtocol::Plaintext);
        assert!(s.sasl.is_none());
    }

    #[test]
    fn unknown_protocol_and_gssapi_default_are_named() {
        let e = build(&[("security.protocol", "TLS")]).expect_err("unknown");
        assert!(e.to_string().contains("security.protocol=TLS"), "{e}");
        let e = build(&[("security.protocol", "SASL_PLAINTEXT")]).expect_err("GSSAPI");
        assert!(e.to_string().contains("GSSAPI"), "{e}");
        let e = build(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
        ])
        .expect_err("no jaas");
        assert!(
            e.to_string().contains("sasl.jaas.config is required"),
            "{e}"
        );
    }

    #[test]
    fn sasl_scram_over_plaintext_reads_the_jaas_config() {
        let s = build(&[
            ("security.protocol", "sasl_plaintext"),
            ("sasl.mechanism", "SCRAM-SHA-256"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3cret";"#,
            ),
        ])
        .expect("sasl");
        let sasl = s.sasl.expect("sasl settings");
        assert_eq!(sasl.mechanism, Mechanism::ScramSha256);
        assert_eq!(sasl.credentials.username, "alice");
        assert!(!format!("{sasl:?}").contains("s3cret"));
    }

    #[test]
    fn empty_endpoint_identification_warns() {
        let s = build(&[
            ("security.protocol", "SSL"),
            ("ssl.endpoint.identification.algorithm", ""),
            ("ssl.enabled.protocols", "TLSv1.1,TLSv1.2"),
        ])
        .expect("ssl");
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("host name"));
        assert!(s.warnings[1].contains("TLSv1.1"));
    }

    #[test]
    fn missing_truststore_file_names_the_key() {
        let e = build(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/nonexistent/kmirror/ts.p12"),
            ("ssl.truststore.type", "PKCS12"),
            ("ssl.truststore.password", "hunter2"),
        ])
        .expect_err("missing file");
        let text = e.to_string();
        assert!(
            text.starts_with("ssl.truststore.location: cannot read truststore /nonexistent"),
            "{text}"
        );
        assert!(!text.contains("hunter2"));
    }
}
