//! Kafka config providers (`${provider:path:key}` references) and the rule for which values are
//! secrets and never printed.
//!
//! # Config providers, as MM2 applies them
//!
//! MM2 runs every value of its file through Kafka's `ConfigTransformer` with the providers the
//! file declares:
//!
//! ```properties
//! config.providers = file, env, secrets
//! config.providers.file.class = org.apache.kafka.common.config.provider.FileConfigProvider
//! config.providers.env.class = org.apache.kafka.common.config.provider.EnvVarConfigProvider
//! config.providers.env.param.allowlist.pattern = ^KMIRROR_
//! config.providers.secrets.class = org.apache.kafka.common.config.provider.DirectoryConfigProvider
//! us-east.ssl.truststore.password = ${file:/etc/kmirror/secrets.properties:truststore.password}
//! us-east.sasl.jaas.config = ... password="${env:KMIRROR_US_EAST_PASSWORD}";
//! us-west.ssl.key.password = ${secrets:/run/secrets:us-west-key-password}
//! ```
//!
//! * A reference is what `ConfigTransformer.DEFAULT_PATTERN`,
//!   `\$\{([^}]*?):(([^}]*?):)?([^}]*?)\}`, matches: `${provider:path:key}`, or
//!   `${provider:key}` with an empty path. The first `:` ends the provider name and the second
//!   one the path, so `${a:b:c:d}` is provider `a`, path `b`, key `c:d`. A value may hold several
//!   references and text around them; the replacement text is not scanned again.
//! * Provider names are the operator's choice; what counts is `config.providers.<name>.class`.
//!   kmirror implements the three classes Kafka ships ([`FILE_CONFIG_PROVIDER_CLASS`],
//!   [`DIRECTORY_CONFIG_PROVIDER_CLASS`], [`ENV_VAR_CONFIG_PROVIDER_CLASS`]; the simple class
//!   names, which Connect accepts as aliases, work too) with their parameters
//!   (`config.providers.<name>.param.allowed.paths` for the file and directory providers,
//!   `...param.allowlist.pattern` for the environment provider). Any other class is Java code:
//!   declaring it is a warning, referring to it an error.
//! * `FileConfigProvider`: `path` is a Java properties file (read as UTF-8, lexed by
//!   [`super::properties`]) and `key` a key in it. `DirectoryConfigProvider`: `path` is a
//!   directory and `key` the name of a regular file in it, whose whole content (trailing newline
//!   included, as Kafka keeps it) is the value. `EnvVarConfigProvider`: no path, `key` is an
//!   environment variable whose name must contain a match of `allowlist.pattern` (Java's
//!   `Pattern.asPredicate`, so unanchored; kmirror compiles it with Rust's regex engine).
//!   Relative paths are relative to the working directory, as for the JVM.
//! * Every value is expanded before the typed configuration is read, so cluster, flow and
//!   client keys all see the real value. `config.providers` and `config.providers.*` are not
//!   expanded: Kafka configures the providers from the raw values.
//! * Where Kafka leaves a reference it cannot resolve in place (an undeclared provider, a
//!   missing key or variable), MM2 would hand the literal `${...}` text to the client as a
//!   password, and fail later at authentication. kmirror reports every unresolved reference as
//!   an error naming the file, line and key that use it, the provider, path and key referenced,
//!   and why; never the secret.
//!
//! # Secrets
//!
//! [`is_sensitive`] is the one rule for keys whose values are never printed (Kafka's PASSWORD
//! settings and anything that looks like one); [`redact`] applies it. Values that came from a
//! provider are hidden too, whatever their key: `kmirror check`, warnings and errors print
//! [`HIDDEN`] in their place, as Kafka prints `[hidden]` for PASSWORD values.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use super::mm2::{self, Collector, ErrorKind, WarningKind};
use super::properties::{self, Entry, LexProblemKind};

/// What is printed in place of a secret (Kafka's `Password.HIDDEN`).
pub const HIDDEN: &str = "[hidden]";

/// Whether the value of `key` is a secret that must never be printed. Works on a key of any
/// scope (`us-east.ssl.key.password`, `source.cluster.sasl.jaas.config`, `ssl.keystore.key`).
///
/// Sensitive are Kafka's client settings of type PASSWORD (`ssl.key.password`,
/// `ssl.keystore.password`, `ssl.truststore.password`, `ssl.keystore.key`,
/// `ssl.keystore.certificate.chain`, `ssl.truststore.certificates`, `sasl.jaas.config`,
/// `sasl.oauthbearer.*secret*`), and any key that mentions a password, passphrase, secret or
/// JAAS, or ends in `token`.
pub fn is_sensitive(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "passphrase", "secret", "jaas"]
        .iter()
        .any(|word| k.contains(word))
        || [
            "ssl.keystore.key",
            "ssl.keystore.certificate.chain",
            "ssl.truststore.certificates",
            "token",
        ]
        .iter()
        .any(|suffix| k.ends_with(suffix))
}

/// `value` as it may be printed: [`HIDDEN`] when [`is_sensitive`]`(key)`, else unchanged.
pub fn redact<'a>(key: &str, value: &'a str) -> Cow<'a, str> {
    if is_sensitive(key) {
        Cow::Borrowed(HIDDEN)
    } else {
        Cow::Borrowed(value)
    }
}

/// `org.apache.kafka.common.config.provider.FileConfigProvider`.
pub const FILE_CONFIG_PROVIDER_CLASS: &str =
    "org.apache.kafka.common.config.provider.FileConfigProvider";
/// `org.apache.kafka.common.config.provider.DirectoryConfigProvider` (KIP-632, Kafka 2.7+).
pub const DIRECTORY_CONFIG_PROVIDER_CLASS: &str =
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
/// `org.apache.kafka.common.config.provider.EnvVarConfigProvider` (KIP-887, Kafka 3.5+).
pub const ENV_VAR_CONFIG_PROVIDER_CLASS: &str =
    "org.apache.kafka.common.config.provider.EnvVarConfigProvider";

/// `FileConfigProvider.ALLOWED_PATHS_CONFIG` / `DirectoryConfigProvider.ALLOWED_PATHS_CONFIG`
/// (KIP-993).
const ALLOWED_PATHS: &str = "allowed.paths";
/// `EnvVarConfigProviderConfig.ENV_VAR_CONFIG_PROVIDER_PATTERN_CONFIG`.
const ALLOWLIST_PATTERN: &str = "allowlist.pattern";

const IMPLEMENTED: &str =
    "kmirror implements FileConfigProvider, DirectoryConfigProvider and EnvVarConfigProvider";

/// One `${provider:path:key}` reference in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The reference as written, `${...}`.
    pub text: &'a str,
    /// Where [`Reference::text`] is in the value.
    pub span: Range<usize>,
    /// The provider name.
    pub provider: &'a str,
    /// The path; empty in `${provider:key}`.
    pub path: &'a str,
    /// The key.
    pub key: &'a str,
}

/// `ConfigTransformer.DEFAULT_PATTERN`; Rust's engine picks the same (leftmost-first) match as
/// Java's for this pattern.
static REFERENCE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"\$\{([^}]*?):(([^}]*?):)?([^}]*?)\}")
        .expect("a constant pattern that compiles")
});

/// The references in `value`, in order, as `ConfigTransformer` finds them.
pub fn references(value: &str) -> Vec<Reference<'_>> {
    REFERENCE
        .captures_iter(value)
        .filter_map(|c| {
            let all = c.get(0)?;
            Some(Reference {
                text: all.as_str(),
                span: all.range(),
                provider: c.get(1)?.as_str(),
                path: c.get(3).map_or("", |m| m.as_str()),
                key: c.get(4)?.as_str(),
            })
        })
        .collect()
}

/// Why a reference cannot be resolved. Names the provider, path and key, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderProblem {
    /// `config.providers` does not list the provider.
    #[error("config provider \"{provider}\" is not declared{}; MM2 would use the text literally", declared_hint(.provider, .declared))]
    Undeclared {
        /// The provider name.
        provider: String,
        /// The names `config.providers` lists.
        declared: Vec<String>,
    },
    /// The provider is listed but `config.providers.<name>.class` is missing.
    #[error(
        "config.providers.{provider}.class is not set, so MM2 would use the text literally; set it to a provider class"
    )]
    NoClass {
        /// The provider name.
        provider: String,
    },
    /// The provider's class is Java code kmirror does not implement.
    #[error("config provider \"{provider}\" is {class}, which kmirror cannot run ({IMPLEMENTED})")]
    UnsupportedClass {
        /// The provider name.
        provider: String,
        /// `config.providers.<name>.class`.
        class: String,
    },
    /// A file or directory provider reference without a path.
    #[error("{class} needs a path: ${{{provider}:/path:key}}")]
    NoPath {
        /// The provider name.
        provider: String,
        /// The simple class name.
        class: &'static str,
    },
    /// The path is outside `config.providers.<name>.param.allowed.paths`.
    #[error("{path} is outside config.providers.{provider}.param.allowed.paths")]
    PathNotAllowed {
        /// The provider name.
        provider: String,
        /// The path as referenced.
        path: String,
    },
    /// The file cannot be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The path as referenced.
        path: String,
        /// The I/O error, as text.
        message: String,
    },
    /// The properties file has an escape Java's `Properties.load` refuses.
    #[error("{path}:{line}: malformed \\uXXXX escape; Java refuses to load the file")]
    MalformedFile {
        /// The path as referenced.
        path: String,
        /// 1-based line in that file.
        line: usize,
    },
    /// The properties file has no such key.
    #[error("{path} has no key \"{key}\"")]
    MissingKey {
        /// The path as referenced.
        path: String,
        /// The key.
        key: String,
    },
    /// A directory provider's path is not a directory.
    #[error("{path} is not a directory")]
    NotADirectory {
        /// The path as referenced.
        path: String,
    },
    /// The directory has no regular file of that name.
    #[error("{path} has no regular file \"{name}\"")]
    MissingFile {
        /// The directory as referenced.
        path: String,
        /// The file name (the reference's key).
        name: String,
    },
    /// An environment provider reference with a path.
    #[error("EnvVarConfigProvider takes no path (got \"{path}\"); write ${{{provider}:VARIABLE}}")]
    EnvWithPath {
        /// The provider name.
        provider: String,
        /// The path given.
        path: String,
    },
    /// The variable's name does not match `allowlist.pattern`.
    #[error(
        "environment variable {name} does not match config.providers.{provider}.param.allowlist.pattern \"{pattern}\""
    )]
    EnvNotAllowed {
        /// The provider name.
        provider: String,
        /// The variable name.
        name: String,
        /// The pattern.
        pattern: String,
    },
    /// The variable is not set.
    #[error("environment variable {name} is not set")]
    EnvUnset {
        /// The variable name.
        name: String,
    },
}

fn declared_hint(provider: &str, declared: &[String]) -> String {
    if declared.is_empty() {
        format!(
            " (add config.providers = {provider} and config.providers.{provider}.class = <provider class>)"
        )
    } else {
        format!(" (config.providers lists {})", declared.join(", "))
    }
}

/// Where `${env:NAME}` references are looked up: the process environment, or a fixed map in
/// tests.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment (a value that is not UTF-8 is read lossily).
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// What a declared provider does.
#[derive(Debug)]
enum Kind {
    File,
    Directory,
    Env {
        /// `allowlist.pattern` as written and compiled; `None` allows every variable.
        allowlist: Option<(String, regex::Regex)>,
    },
    Unsupported(String),
    NoClass,
    /// A parameter MM2 would refuse; already reported where it is set.
    Broken,
}

#[derive(Debug)]
struct Provider {
    kind: Kind,
    /// The class, when kmirror implements it (even if a parameter is broken).
    class: Option<&'static str>,
    /// `allowed.paths`, normalised; `None` allows every path.
    allowed_paths: Option<Vec<PathBuf>>,
}

/// The class a `config.providers.<name>.class` value names, if kmirror implements it.
fn known_class(class: &str) -> Option<&'static str> {
    [
        FILE_CONFIG_PROVIDER_CLASS,
        DIRECTORY_CONFIG_PROVIDER_CLASS,
        ENV_VAR_CONFIG_PROVIDER_CLASS,
    ]
    .into_iter()
    .find(|fq| *fq == class || fq.rsplit('.').next() == Some(class))
}

/// `Path.normalize()`: drops `.` and folds `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let last = out.components().next_back();
                match last {
                    Some(Component::Normal(_)) => {
                        out.pop();
                    }
                    Some(Component::RootDir | Component::Prefix(_)) => {}
                    _ => out.push(".."),
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `AllowedPaths`: a comma list (Java's `split(",")`, so trailing empty items vanish and nothing
/// is trimmed) of absolute paths that exist. Empty means no restriction.
fn parse_allowed_paths(value: &str) -> Result<Option<Vec<PathBuf>>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let mut items: Vec<&str> = value.split(',').collect();
    while items.last().is_some_and(|i| i.is_empty()) {
        items.pop();
    }
    let mut out = Vec::new();
    for item in items {
        let p = normalize(Path::new(item));
        if !p.is_absolute() {
            return Err(format!(
                "\"{item}\" is not an absolute path; MM2 refuses to start"
            ));
        }
        if !p.exists() {
            return Err(format!(
                "{} does not exist; MM2 refuses to start",
                p.display()
            ));
        }
        out.push(p);
    }
    Ok(Some(out))
}

/// An `EnvVarConfigProvider` with its `allowlist.pattern` entry, if any.
fn env_kind(pattern: Option<&Entry>, c: &mut Collector) -> Kind {
    let Some(p) = pattern else {
        return Kind::Env { allowlist: None };
    };
    match regex::Regex::new(&p.value) {
        Ok(re) => Kind::Env {
            allowlist: Some((p.value.clone(), re)),
        },
        Err(err) => {
            let text = err.to_string();
            c.error(
                Some(p.line),
                &p.key,
                ErrorKind::InvalidProviderParam {
                    value: p.value.clone(),
                    reason: format!(
                        "not a regex kmirror can compile (Rust regex syntax: no look-around or back-references): {}",
                        text.lines().last().unwrap_or_default().trim().trim_start_matches("error: ")
                    ),
                },
            );
            Kind::Broken
        }
    }
}

/// The providers a file declares, with diagnostics for their settings.
fn declare(entries: &[Entry], c: &mut Collector) -> (Vec<String>, HashMap<String, Provider>) {
    // The last value of each key wins, as in Java.
    let mut last: HashMap<&str, &Entry> = HashMap::new();
    for e in entries {
        if e.key == "config.providers" || e.key.starts_with("config.providers.") {
            last.insert(e.key.as_str(), e);
        }
    }
    let names: Vec<String> = last
        .get("config.providers")
        .map(|e| mm2::parse_list(&e.value))
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect();

    let mut providers = HashMap::new();
    for name in &names {
        let class_key = format!("config.providers.{name}.class");
        let param = |p: &str| {
            last.get(format!("config.providers.{name}.param.{p}").as_str())
                .copied()
        };
        let class_entry = last.get(class_key.as_str()).copied();
        let class = class_entry.and_then(|e| known_class(mm2::java_trim(&e.value)));
        let mut kind = match (class_entry, class) {
            (None, _) => {
                if let Some(e) = last.get("config.providers") {
                    c.warn(
                        Some(e.line),
                        &e.key,
                        WarningKind::Ineffective {
                            reason: format!(
                                "provider \"{name}\" has no {class_key}: MM2 ignores it, and kmirror reports its references as errors"
                            ),
                        },
                    );
                }
                Kind::NoClass
            }
            (Some(e), None) => {
                let class = mm2::java_trim(&e.value);
                c.warn(
                    Some(e.line),
                    &e.key,
                    WarningKind::UnsupportedByKmirror {
                        reason: format!(
                            "config provider class \"{class}\" is Java code; {IMPLEMENTED}, so references to \"{name}\" are errors"
                        ),
                    },
                );
                Kind::Unsupported(class.to_string())
            }
            (Some(_), Some(FILE_CONFIG_PROVIDER_CLASS)) => Kind::File,
            (Some(_), Some(DIRECTORY_CONFIG_PROVIDER_CLASS)) => Kind::Directory,
            (Some(_), Some(_)) => env_kind(param(ALLOWLIST_PATTERN), c),
        };
        let mut allowed_paths = None;
        if matches!(kind, Kind::File | Kind::Directory)
            && let Some(p) = param(ALLOWED_PATHS)
        {
            match parse_allowed_paths(&p.value) {
                Ok(paths) => allowed_paths = paths,
                Err(reason) => {
                    c.error(
                        Some(p.line),
                        &p.key,
                        ErrorKind::InvalidProviderParam {
                            value: p.value.clone(),
                            reason,
                        },
                    );
                    kind = Kind::Broken;
                }
            }
        }
        providers.insert(
            name.clone(),
            Provider {
                kind,
                class,
                allowed_paths,
            },
        );
    }

    // Settings of providers that are not listed, or that their class does not read.
    let mut keys: Vec<&&Entry> = last
        .values()
        .filter(|e| e.key != "config.providers")
        .collect();
    keys.sort_by_key(|e| e.line);
    for e in keys {
        let rest = &e.key["config.providers.".len()..];
        let owner = names
            .iter()
            .filter(|n| rest.len() > n.len() + 1 && rest.starts_with(n.as_str()))
            .filter(|n| rest[n.len()..].starts_with('.'))
            .max_by_key(|n| n.len());
        let Some(name) = owner else {
            let name = rest.split('.').next().unwrap_or_default();
            c.warn(
                Some(e.line),
                &e.key,
                WarningKind::Ineffective {
                    reason: format!(
                        "config.providers does not list \"{name}\", so MM2 ignores this setting"
                    ),
                },
            );
            continue;
        };
        let setting = &rest[name.len() + 1..];
        let known_params: &[&str] = match providers.get(name).map(|p| (&p.kind, p.class)) {
            Some((_, Some(ENV_VAR_CONFIG_PROVIDER_CLASS))) => &[ALLOWLIST_PATTERN],
            Some((_, Some(_))) => &[ALLOWED_PATHS],
            Some((Kind::NoClass, None)) => &[],
            // Unknown classes take parameters kmirror cannot know.
            _ => continue,
        };
        let known = setting == "class"
            || setting
                .strip_prefix("param.")
                .is_some_and(|p| known_params.contains(&p));
        if known {
            continue;
        }
        let candidates = std::iter::once("class".to_string())
            .chain(known_params.iter().map(|p| format!("param.{p}")))
            .collect::<Vec<_>>();
        match super::lint::closest(setting, candidates.iter().map(String::as_str)) {
            Some(s) => c.error(
                Some(e.line),
                &e.key,
                ErrorKind::UnknownKey {
                    suggestion: Some(format!("config.providers.{name}.{s}")),
                },
            ),
            None => c.warn(Some(e.line), &e.key, WarningKind::UnknownKey),
        }
    }
    (names, providers)
}

/// A properties file read by a file provider: its keys, or why it cannot be used.
type FileData = Result<HashMap<String, String>, ProviderProblem>;

fn read_properties(path: &str) -> FileData {
    let bytes = std::fs::read(path).map_err(|e| ProviderProblem::Read {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    // FileConfigProvider reads through a UTF-8 reader, which replaces malformed bytes.
    let text = String::from_utf8_lossy(&bytes);
    let lexed = properties::lex(&text);
    if let Some(p) = lexed
        .problems
        .iter()
        .find(|p| matches!(p.kind, LexProblemKind::MalformedUnicodeEscape { .. }))
    {
        return Err(ProviderProblem::MalformedFile {
            path: path.to_string(),
            line: p.line,
        });
    }
    Ok(lexed
        .entries
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect())
}

/// Resolves references, caching each properties file per provider and path.
struct Resolver<'a> {
    names: Vec<String>,
    providers: HashMap<String, Provider>,
    env: EnvLookup<'a>,
    files: HashMap<(String, String), FileData>,
}

impl Resolver<'_> {
    /// The value of a reference; `Ok(None)` when it is left alone (its provider's settings
    /// were already reported as errors).
    fn resolve(&mut self, r: &Reference<'_>) -> Result<Option<String>, ProviderProblem> {
        let Some(p) = self.providers.get(r.provider) else {
            return Err(ProviderProblem::Undeclared {
                provider: r.provider.to_string(),
                declared: self.names.clone(),
            });
        };
        let allowed = |class: &'static str| -> Result<(), ProviderProblem> {
            if r.path.is_empty() {
                return Err(ProviderProblem::NoPath {
                    provider: r.provider.to_string(),
                    class,
                });
            }
            if let Some(dirs) = &p.allowed_paths {
                let normalised = normalize(Path::new(r.path));
                if !dirs.iter().any(|d| normalised.starts_with(d)) {
                    return Err(ProviderProblem::PathNotAllowed {
                        provider: r.provider.to_string(),
                        path: r.path.to_string(),
                    });
                }
            }
            Ok(())
        };
        match &p.kind {
            Kind::Broken => Ok(None),
            Kind::NoClass => Err(ProviderProblem::NoClass {
                provider: r.provider.to_string(),
            }),
            Kind::Unsupported(class) => Err(ProviderProblem::UnsupportedClass {
                provider: r.provider.to_string(),
                class: class.clone(),
            }),
            Kind::File => {
                allowed("FileConfigProvider")?;
                let data = self
                    .files
                    .entry((r.provider.to_string(), r.path.to_string()))
                    .or_insert_with(|| read_properties(r.path));
                match data {
                    Err(problem) => Err(problem.clone()),
                    Ok(map) => match map.get(r.key) {
                        Some(v) => Ok(Some(v.clone())),
                        None => Err(ProviderProblem::MissingKey {
                            path: r.path.to_string(),
                            key: r.key.to_string(),
                        }),
                    },
                }
            }
            Kind::Directory => {
                allowed("DirectoryConfigProvider")?;
                let dir = Path::new(r.path);
                if !dir.is_dir() {
                    return Err(ProviderProblem::NotADirectory {
                        path: r.path.to_string(),
                    });
                }
                let missing = || ProviderProblem::MissingFile {
                    path: r.path.to_string(),
                    name: r.key.to_string(),
                };
                // Kafka lists the directory and matches file names, so a key is one name.
                if r.key.is_empty() || r.key.contains('/') || r.key == "." || r.key == ".." {
                    return Err(missing());
                }
                let file = dir.join(r.key);
                if !file.is_file() {
                    return Err(missing());
                }
                std::fs::read(&file)
                    .map(|b| Some(String::from_utf8_lossy(&b).into_owned()))
                    .map_err(|e| ProviderProblem::Read {
                        path: file.display().to_string(),
                        message: e.to_string(),
                    })
            }
            Kind::Env { allowlist } => {
                if !r.path.is_empty() {
                    return Err(ProviderProblem::EnvWithPath {
                        provider: r.provider.to_string(),
                        path: r.path.to_string(),
                    });
                }
                if let Some((pattern, re)) = allowlist
                    && !re.is_match(r.key)
                {
                    return Err(ProviderProblem::EnvNotAllowed {
                        provider: r.provider.to_string(),
                        name: r.key.to_string(),
                        pattern: pattern.clone(),
                    });
                }
                match (self.env)(r.key) {
                    Some(v) => Ok(Some(v)),
                    None => Err(ProviderProblem::EnvUnset {
                        name: r.key.to_string(),
                    }),
                }
            }
        }
    }
}

/// Replaces every `${provider:path:key}` reference in the effective value of each key (the last
/// one, as Java keeps it) with what its provider returns. Values without references are not
/// touched; `config.providers*` keys are not expanded. Unresolvable references are errors on
/// the line that uses them, and the value keeps its text.
///
/// Returns the lines whose value now holds provider data; their keys are marked in `c` so that
/// diagnostics never quote those values.
pub(crate) fn expand(
    entries: &mut [Entry],
    env: EnvLookup<'_>,
    c: &mut Collector,
) -> BTreeSet<usize> {
    let (names, providers) = declare(entries, c);
    let mut resolver = Resolver {
        names,
        providers,
        env,
        files: HashMap::new(),
    };
    let mut winner: HashMap<&str, usize> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        winner.insert(e.key.as_str(), i);
    }
    let mut winners: Vec<usize> = winner.into_values().collect();
    winners.sort_unstable();

    let mut provided = BTreeSet::new();
    for i in winners {
        let e = &mut entries[i];
        if e.key == "config.providers" || e.key.starts_with("config.providers.") {
            continue;
        }
        let refs = references(&e.value);
        if refs.is_empty() {
            continue;
        }
        let mut out = String::with_capacity(e.value.len());
        let mut at = 0;
        let mut replaced = false;
        for r in &refs {
            out.push_str(&e.value[at..r.span.start]);
            match resolver.resolve(r) {
                Ok(Some(v)) => {
                    out.push_str(&v);
                    replaced = true;
                }
                Ok(None) => out.push_str(r.text),
                Err(problem) => {
                    out.push_str(r.text);
                    c.error(
                        Some(e.line),
                        &e.key,
                        ErrorKind::UnresolvedReference {
                            reference: r.text.to_string(),
                            problem,
                        },
                    );
                }
            }
            at = r.span.end;
        }
        out.push_str(&e.value[at..]);
        if replaced {
            e.value = out;
            c.mark_provided(&e.key);
            provided.insert(e.line);
        }
    }
    provided
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> (&str, &str, &str) {
        let refs = references(value);
        assert_eq!(refs.len(), 1, "{value}: {refs:?}");
        (refs[0].provider, refs[0].path, refs[0].key)
    }

    #[test]
    fn references_follow_kafkas_pattern() {
        assert_eq!(
            one("${file:/etc/kafka/secrets.properties:jaas}"),
            ("file", "/etc/kafka/secrets.properties", "jaas")
        );
        assert_eq!(one("${env:HOME}"), ("env", "", "HOME"));
        assert_eq!(one("${env::HOME}"), ("env", "", "HOME"));
        // The second colon ends the path; the key takes the rest.
        assert_eq!(one("${a:b:c:d}"), ("a", "b", "c:d"));
        // No colon, no reference; `}` cannot be inside one.
        assert!(references("${nothing}").is_empty());
        assert!(references("plain text").is_empty());
        let refs = references("user=\"${env:U}\" password=\"${file:/s.properties:pw}\";");
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].text, "${env:U}");
        assert_eq!(refs[1].key, "pw");
        let v = "x ${b} ${env:A}";
        let refs = references(v);
        assert_eq!(refs.len(), 1);
        assert_eq!(&v[refs[0].span.clone()], "${env:A}");
    }

    #[test]
    fn sensitive_keys_are_recognised() {
        for key in [
            "us-east.ssl.truststore.password",
            "ssl.keystore.password",
            "ssl.key.password",
            "source.cluster.sasl.jaas.config",
            "A->B.source.consumer.sasl.jaas.config",
            "us-east.ssl.keystore.key",
            "ssl.keystore.certificate.chain",
            "ssl.truststore.certificates",
            "sasl.oauthbearer.client.credentials.client.secret",
            "SASL.JAAS.CONFIG",
            "config.providers.vault.param.vault.token",
        ] {
            assert!(is_sensitive(key), "{key}");
        }
        for key in [
            "topics",
            "bootstrap.servers",
            "ssl.keystore.location",
            "ssl.truststore.type",
            "sasl.mechanism",
            "sasl.oauthbearer.token.endpoint.url",
        ] {
            assert!(!is_sensitive(key), "{key}");
        }
        assert_eq!(redact("us-east.ssl.key.password", "hunter2"), HIDDEN);
        assert_eq!(redact("topics", "a.*"), "a.*");
    }

    #[test]
    fn simple_class_names_are_accepted_as_aliases() {
        assert_eq!(
            known_class("FileConfigProvider"),
            Some(FILE_CONFIG_PROVIDER_CLASS)
        );
        assert_eq!(
            known_class(ENV_VAR_CONFIG_PROVIDER_CLASS),
            Some(ENV_VAR_CONFIG_PROVIDER_CLASS)
        );
        assert_eq!(known_class("com.example.VaultConfigProvider"), None);
    }

    #[test]
    fn paths_are_normalised_lexically() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../etc")), PathBuf::from("/etc"));
        assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("../b"));
        assert!(!normalize(Path::new("/a/b/../../etc/passwd")).starts_with("/a"));
    }

    #[test]
    fn allowed_paths_must_be_absolute_and_exist() {
        assert_eq!(parse_allowed_paths(""), Ok(None));
        assert_eq!(
            parse_allowed_paths("/,"),
            Ok(Some(vec![PathBuf::from("/")]))
        );
        assert!(parse_allowed_paths("relative/dir").is_err());
        // Java splits without trimming: " /tmp" is relative.
        assert!(parse_allowed_paths("/, /tmp").is_err());
        assert!(parse_allowed_paths("/kmirror-no-such-directory-for-tests").is_err());
    }
}
