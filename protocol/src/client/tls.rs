//! TLS for broker connections (rustls): trust and key stores in Kafka's
//! formats (PEM files and strings, PKCS12), hostname verification, the connector.
//!
//! # References
//! - Kafka `SslConfigs` / `DefaultSslEngineFactory`: store types, defaults
//!   (`ssl.truststore.type=JKS`, `ssl.endpoint.identification.algorithm=https`).
//! - JKS stores are refused with the `keytool` command that converts them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::sasl::Secret;
use super::transport::{ConnectFuture, Connector, TcpConnector, Transport};

/// The first four bytes of a Java KeyStore file.
const JKS_MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];

/// A trust or key store that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The store file cannot be read.
    #[error("cannot read {what} {}", path.display())]
    Read {
        /// `ssl.truststore.location` or `ssl.keystore.location`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A JKS file: no well-kept Rust crate reads it.
    #[error(
        "{what} {} is a JKS store, which kmirror cannot read; convert it once with \
         `keytool -importkeystore -srckeystore {} -srcstoretype JKS -destkeystore {}.p12 -deststoretype PKCS12` \
         and set the type to PKCS12 (or export PEM and use type PEM)",
        path.display(), path.display(), path.with_extension("").display()
    )]
    Jks {
        /// Which store.
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A PKCS12 file that does not open (wrong password or damaged).
    #[error("{what} {} does not open as PKCS12 (wrong password, or not a PKCS12 file): {reason}", path.display())]
    Pkcs12 {
        /// Which store.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the parser said (never the password).
        reason: String,
    },
    /// PEM text without the expected items.
    #[error("{what}: {problem}")]
    Pem {
        /// The key or file the text came from.
        what: String,
        /// What is missing or wrong.
        problem: String,
    },
    /// A store type kmirror does not know.
    #[error("{key}={value}: unknown store type (JKS, PKCS12 or PEM)")]
    StoreType {
        /// The config key.
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// `ssl.enabled.protocols` names no version rustls speaks.
    #[error("ssl.enabled.protocols={given}: rustls speaks only TLSv1.2 and TLSv1.3")]
    Protocols {
        /// The configured list.
        given: String,
    },
    /// rustls refused the configuration (e.g. a key that does not match the certificate).
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Kafka's store types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    /// Java KeyStore (Kafka's default type; refused with a conversion hint).
    Jks,
    /// PKCS#12 file.
    Pkcs12,
    /// PEM file or PEM text in the config.
    Pem,
}

impl StoreType {
    /// Parses `ssl.*store.type` (case-insensitive, as Java's `KeyStore.getInstance`).
    pub fn parse(key: &'static str, value: &str) -> Result<Self, TlsError> {
        match value.trim().to_ascii_uppercase().as_str() {
            "JKS" => Ok(Self::Jks),
            "PKCS12" => Ok(Self::Pkcs12),
            "PEM" => Ok(Self::Pem),
            _ => Err(TlsError::StoreType {
                key,
                value: value.to_owned(),
            }),
        }
    }
}

/// Where a store comes from.
#[derive(Debug, Clone)]
pub enum StoreSource {
    /// A file (`ssl.*store.location`) of the given type, with its password.
    File {
        /// The file.
        path: PathBuf,
        /// Its type; JKS files that turn out to be PKCS12 are read as such,
        /// as Java's keystore compatibility mode does.
        kind: StoreType,
        /// `ssl.*store.password`.
        password: Option<Secret>,
    },
    /// PEM text given in the config (`ssl.truststore.certificates`, or
    /// `ssl.keystore.certificate.chain` + `ssl.keystore.key`).
    Pem {
        /// Certificates.
        certificates: Secret,
        /// The private key (key stores only).
        key: Option<Secret>,
    },
}

/// A client certificate chain and its key.
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .field("key", &"[redacted]")
            .finish()
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

fn pem_certs(what: &str, text: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(text)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            what: what.to_owned(),
            problem: format!("unreadable PEM ({e})"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what: what.to_owned(),
            problem: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

fn pem_key(what: &str, text: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    if text
        .windows(b"ENCRYPTED PRIVATE KEY".len())
        .any(|w| w == b"ENCRYPTED PRIVATE KEY")
    {
        return Err(TlsError::Pem {
            what: what.to_owned(),
            problem: "the key is encrypted, which kmirror does not read; decrypt it once with \
                      `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.plain` and keep the file private"
                .into(),
        });
    }
    PrivateKeyDer::from_pem_slice(text).map_err(|e| TlsError::Pem {
        what: what.to_owned(),
        problem: format!("no usable PRIVATE KEY block ({e})"),
    })
}

/// What a store file holds once opened.
struct Opened {
    certs: Vec<CertificateDer<'static>>,
    identity: Option<Identity>,
}

fn open_file(
    what: &'static str,
    path: &Path,
    kind: StoreType,
    password: Option<&Secret>,
) -> Result<Opened, TlsError> {
    let data = read(what, path)?;
    if data.starts_with(&JKS_MAGIC) {
        return Err(TlsError::Jks {
            what,
            path: path.to_owned(),
        });
    }
    match kind {
        StoreType::Pem => {
            let certs = pem_certs(&format!("{what} {}", path.display()), &data)?;
            let identity = if what == KEYSTORE {
                Some(Identity {
                    key: pem_key(&format!("{what} {}", path.display()), &data)?,
                    chain: certs.clone(),
                })
            } else {
                None
            };
            Ok(Opened { certs, identity })
        }
        // A "JKS" file that is not JKS is read as PKCS12, as Java does.
        StoreType::Jks | StoreType::Pkcs12 => {
            let pw = password.map(Secret::expose).unwrap_or("");
            let store =
                p12_keystore::KeyStore::from_pkcs12(&data, pw).map_err(|e| TlsError::Pkcs12 {
                    what,
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
            let mut certs = Vec::new();
            for (_, entry) in store.entries() {
                if let p12_keystore::KeyStoreEntry::Certificate(c) = entry {
                    certs.push(CertificateDer::from(c.as_der().to_vec()));
                }
            }
            let identity = store.private_key_chain().map(|(_, chain)| Identity {
                chain: chain
                    .chain()
                    .iter()
                    .map(|c| CertificateDer::from(c.as_der().to_vec()))
                    .collect(),
                key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().to_vec())),
            });
            if let Some(id) = &identity {
                certs.extend(id.chain.iter().cloned());
            }
            Ok(Opened { certs, identity })
        }
    }
}

const TRUSTSTORE: &str = "truststore";
const KEYSTORE: &str = "keystore";

/// The certificates a truststore trusts.
pub fn load_trust(source: &StoreSource) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    match source {
        StoreSource::File {
            path,
            kind,
            password,
        } => {
            let certs = open_file(TRUSTSTORE, path, *kind, password.as_ref())?.certs;
            if certs.is_empty() {
                return Err(TlsError::Pem {
                    what: format!("truststore {}", path.display()),
                    problem: "holds no certificate".into(),
                });
            }
            Ok(certs)
        }
        StoreSource::Pem { certificates, .. } => pem_certs(
            "ssl.truststore.certificates",
            certificates.expose().as_bytes(),
        ),
    }
}

/// The client certificate chain and key of a keystore.
pub fn load_identity(source: &StoreSource) -> Result<Identity, TlsError> {
    match source {
        StoreSource::File {
            path,
            kind,
            password,
        } => open_file(KEYSTORE, path, *kind, password.as_ref())?
            .identity
            .ok_or_else(|| TlsError::Pem {
                what: format!("keystore {}", path.display()),
                problem: "holds no private key with its certificate".into(),
            }),
        StoreSource::Pem { certificates, key } => {
            let chain = pem_certs(
                "ssl.keystore.certificate.chain",
                certificates.expose().as_bytes(),
            )?;
            let key = key.as_ref().ok_or_else(|| TlsError::Pem {
                what: "ssl.keystore.key".into(),
                problem: "missing: a PEM keystore needs both the chain and the key".into(),
            })?;
            Ok(Identity {
                chain,
                key: pem_key("ssl.keystore.key", key.expose().as_bytes())?,
            })
        }
    }
}

/// Maps `ssl.enabled.protocols` (and `ssl.protocol`) to rustls versions;
/// names rustls lacks (TLSv1, TLSv1.1, SSL*) are dropped and returned.
pub fn protocol_versions(
    enabled: &str,
) -> Result<(Vec<&'static rustls::SupportedProtocolVersion>, Vec<String>), TlsError> {
    let mut versions = Vec::new();
    let mut dropped = Vec::new();
    for name in enabled.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match name {
            "TLSv1.3" => versions.push(&rustls::version::TLS13),
            "TLSv1.2" => versions.push(&rustls::version::TLS12),
            "TLS" => versions.extend([&rustls::version::TLS13, &rustls::version::TLS12]),
            other => dropped.push(other.to_owned()),
        }
    }
    if versions.is_empty() {
        return Err(TlsError::Protocols {
            given: enabled.to_owned(),
        });
    }
    versions.dedup();
    Ok((versions, dropped))
}

/// Everything a TLS connection needs.
#[derive(Debug)]
pub struct TlsSettings {
    /// Trusted CAs; `None` uses the system's (as Java uses its `cacerts`).
    pub trust: Option<Vec<CertificateDer<'static>>>,
    /// Client certificate for mutual TLS.
    pub identity: Option<Identity>,
    /// `ssl.endpoint.identification.algorithm=https` (Kafka's default).
    pub verify_hostname: bool,
    /// Allowed TLS versions.
    pub versions: Vec<&'static rustls::SupportedProtocolVersion>,
}

impl TlsSettings {
    /// The rustls client configuration.
    pub fn client_config(self) -> Result<rustls::ClientConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        match self.trust {
            Some(certs) => {
                for c in certs {
                    roots.add(c)?;
                }
            }
            None => {
                for c in rustls_native_certs::load_native_certs().certs {
                    // A broken system certificate is skipped, as Java skips it.
                    let _ = roots.add(c);
                }
            }
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let verifier: Arc<dyn ServerCertVerifier> = if self.verify_hostname {
            webpki
        } else {
            Arc::new(AnyName(webpki))
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&self.versions)?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        Ok(match self.identity {
            Some(id) => builder.with_client_auth_cert(id.chain, id.key)?,
            None => builder.with_no_client_auth(),
        })
    }
}

/// Full chain verification that accepts any host name on a valid certificate
/// (`ssl.endpoint.identification.algorithm=` empty).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// TCP wrapped in TLS; the server name is the broker's host (name or IP).
#[derive(Clone)]
pub struct TlsConnector {
    tcp: TcpConnector,
    tls: tokio_rustls::TlsConnector,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("tcp", &self.tcp)
            .finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// A connector from settings.
    pub fn new(tcp: TcpConnector, settings: TlsSettings) -> Result<Self, TlsError> {
        Ok(Self {
            tcp,
            tls: tokio_rustls::TlsConnector::from(Arc::new(settings.client_config()?)),
        })
    }
}

/// The host part of `host:port` (IPv6 in brackets allowed).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl Connector for TlsConnector {
    fn connect<'a>(&'a self, addr: &'a str) -> ConnectFuture<'a> {
        Box::pin(async move {
            let name = ServerName::try_from(host_of(addr).to_owned()).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{addr}: not a valid TLS server name ({e})"),
                )
            })?;
            let tcp = self.tcp.open(addr).await?;
            let tls =
                self.tls.connect(name, tcp).await.map_err(|e| {
                    std::io::Error::new(e.kind(), format!("TLS handshake failed: {e}"))
                })?;
            Ok(Box::new(tls) as Box<dyn Transport>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_strips_port_and_brackets() {
        assert_eq!(host_of("broker-1.example.com:9093"), "broker-1.example.com");
        assert_eq!(host_of("127.0.0.1:9093"), "127.0.0.1");
        assert_eq!(host_of("[::1]:9093"), "::1");
    }

    #[test]
    fn protocols_map_to_rustls_and_old_ones_are_dropped() {
        let (v, dropped) = protocol_versions("TLSv1.2,TLSv1.3,TLSv1.1").expect("versions");
        assert_eq!(v.len(), 2);
        assert_eq!(dropped, vec!["TLSv1.1".to_owned()]);
        let err = protocol_versions("TLSv1,TLSv1.1").expect_err("nothing rustls speaks");
        assert!(err.to_string().contains("TLSv1.2 and TLSv1.3"), "{err}");
    }

    #[test]
    fn jks_file_gets_the_conversion_command() {
        let dir = std::env::temp_dir().join(format!("kmirror-jks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("truststore.jks");
        std::fs::write(&path, [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]).expect("write");
        let err = load_trust(&StoreSource::File {
            path: path.clone(),
            kind: StoreType::Jks,
            password: Some(Secret::new("changeit".into())),
        })
        .expect_err("JKS refused");
        let text = err.to_string();
        assert!(text.contains("keytool -importkeystore"), "{text}");
        assert!(text.contains("truststore.p12"), "{text}");
        assert!(!text.contains("changeit"), "{text}");
    }

    #[test]
    fn pem_strings_load_and_encrypted_keys_are_refused_with_a_hint() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let trust = load_trust(&StoreSource::Pem {
            certificates: Secret::new(cert.pem()),
            key: None,
        })
        .expect("trust");
        assert_eq!(trust.len(), 1);
        let id = load_identity(&StoreSource::Pem {
            certificates: Secret::new(cert.pem()),
            key: Some(Secret::new(key.serialize_pem())),
        })
        .expect("identity");
        assert_eq!(id.chain.len(), 1);
        assert!(!format!("{id:?}").contains("PRIVATE"));
        let err = load_identity(&StoreSource::Pem {
            certificates: Secret::new(cert.pem()),
            key: Some(Secret::new(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
                    .into(),
            )),
        })
        .expect_err("encrypted");
        assert!(err.to_string().contains("openssl pkcs8"), "{err}");
        let err = load_trust(&StoreSource::Pem {
            certificates: Secret::new("not pem".into()),
            key: None,
        })
        .expect_err("no certificate");
        assert!(
            err.to_string().contains("ssl.truststore.certificates"),
            "{err}"
        );
    }

    #[test]
    fn wrong_pkcs12_password_is_named() {
        let dir = std::env::temp_dir().join(format!("kmirror-p12-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let mut store = p12_keystore::KeyStore::new();
        let chain = p12_keystore::PrivateKeyChain::new(
            key.serialize_der(),
            [1u8; 20],
            vec![p12_keystore::Certificate::from_der(cert.der()).expect("cert der")],
        );
        store.add_entry(
            "client",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
        );
        let path = dir.join("client.p12");
        std::fs::write(&path, store.writer("right").write().expect("p12")).expect("write");
        let source = |pw: &str| StoreSource::File {
            path: path.clone(),
            kind: StoreType::Pkcs12,
            password: Some(Secret::new(pw.into())),
        };
        let id = load_identity(&source("right")).expect("opens");
        assert_eq!(id.chain.len(), 1);
        let err = load_identity(&source("wrong")).expect_err("wrong password");
        assert!(err.to_string().contains("wrong password"), "{err}");
        assert!(!err.to_string().contains("wrong\""), "{err}");
    }
}
