//! SASL for Kafka clients: `sasl.jaas.config` parsing and the client side of
//! PLAIN and SCRAM-SHA-256/512 as a sans-io state machine (bytes in, bytes out).
//!
//! The connection drives [`SaslClient`]: [`SaslClient::initial`] gives the first
//! SaslAuthenticate payload, [`SaslClient::step`] takes each broker reply. No
//! secret is printed by any `Debug`, `Display` or error in this module.
//!
//! # References
//! - RFC 4616 (PLAIN), RFC 5802 (SCRAM), RFC 7677 (SCRAM-SHA-256), KIP-84 (SCRAM in Kafka).
//! - Kafka `org.apache.kafka.common.security.JaasConfig` (grammar, over `java.io.StreamTokenizer`)
//!   and `JaasContext.load` (exactly one login module in `sasl.jaas.config`).
//! - Kafka `ScramSaslClient` and `ScramMechanism` (minimum 4096 iterations).

use std::collections::BTreeMap;
use std::fmt;
use std::iter::Peekable;
use std::str::CharIndices;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::{FixedOutput, KeyInit, OutputSizeUser, Update};
use hmac::{Hmac, Mac};
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256, Sha512};

/// Results of this module.
pub type Result<T, E = SaslError> = std::result::Result<T, E>;

/// Kafka's login module for PLAIN.
pub const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
/// Kafka's login module for SCRAM-SHA-256 and SCRAM-SHA-512.
pub const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";
/// Fewest iterations accepted (Kafka `ScramMechanism.minIterations`, both hashes).
pub const MIN_ITERATIONS: u32 = 4096;
/// Most iterations computed, so a hostile broker cannot pin a core for hours
/// (PBKDF2 runs on the connection's task). Kafka itself stores at most 16384.
pub const MAX_ITERATIONS: u32 = 1_000_000;
/// Length of our SCRAM nonce (alphanumeric, about 190 random bits).
const NONCE_LEN: usize = 32;
/// Why the HMAC `expect`s below cannot fail.
const HMAC_ANY_KEY: &str = "HMAC accepts keys of any length";

/// A password or other secret: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that must send or use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The SASL mechanisms kmirror speaks (`sasl.mechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616): the password in clear, so only over TLS in practice.
    Plain,
    /// `SCRAM-SHA-256` (RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512` (KIP-84).
    ScramSha512,
}

impl Mechanism {
    /// Kafka's name for the mechanism, as sent in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// Parses a `sasl.mechanism` value; case-sensitive, as Kafka is.
    pub fn from_name(name: &str) -> Result<Self> {
        [Self::Plain, Self::ScramSha256, Self::ScramSha512]
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| SaslError::UnsupportedMechanism {
                name: name.to_owned(),
            })
    }

    /// The SCRAM hash, `None` for PLAIN.
    fn scram_hash(self) -> Option<ScramHash> {
        match self {
            Self::Plain => None,
            Self::ScramSha256 => Some(ScramHash::Sha256),
            Self::ScramSha512 => Some(ScramHash::Sha512),
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed SASL exchange or an unusable mechanism. Never carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// `sasl.mechanism` names a mechanism kmirror does not speak (GSSAPI, OAUTHBEARER, ...).
    #[error(
        "SASL mechanism {name} is not supported; kmirror supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512"
    )]
    UnsupportedMechanism {
        /// The name as configured.
        name: String,
    },
    /// A broker message that does not follow RFC 5802.
    #[error("malformed {what}")]
    Malformed {
        /// Which message and what is wrong with it.
        what: &'static str,
    },
    /// The broker sent a SCRAM `e=` server-error.
    #[error("the broker refused the authentication: {message}")]
    ServerError {
        /// The broker's error value (e.g. `invalid-proof`).
        message: String,
    },
    /// The broker's server signature is wrong: it does not hold the user's
    /// credentials, so it is not the broker it claims to be.
    #[error("the broker's SCRAM server signature does not verify")]
    ServerNotVerified,
    /// The broker's nonce does not extend ours (RFC 5802 §5.1).
    #[error("the broker's SCRAM nonce does not start with the client nonce")]
    NonceMismatch,
    /// The broker asks for fewer iterations than Kafka allows.
    #[error("the broker asks for {iterations} SCRAM iterations, fewer than the minimum {min}")]
    TooFewIterations {
        /// Requested.
        iterations: u32,
        /// [`MIN_ITERATIONS`].
        min: u32,
    },
    /// The broker asks for more iterations than kmirror computes.
    #[error("the broker asks for {iterations} SCRAM iterations, more than the maximum {max}")]
    TooManyIterations {
        /// Requested.
        iterations: u32,
        /// [`MAX_ITERATIONS`].
        max: u32,
    },
    /// The broker requires a SCRAM extension (`m=`), which RFC 5802 says to refuse.
    #[error("the broker requires a mandatory SCRAM extension (m=), which kmirror does not support")]
    UnsupportedExtension,
    /// [`SaslClient::step`] called before [`SaslClient::initial`], after the end or after an error.
    #[error("unexpected SASL message {when}")]
    OutOfOrder {
        /// Where the exchange was.
        when: &'static str,
    },
}

/// A JAAS login module's control flag; irrelevant to a client, but part of the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlFlag {
    /// `required`.
    Required,
    /// `requisite`.
    Requisite,
    /// `sufficient`.
    Sufficient,
    /// `optional`.
    Optional,
}

impl ControlFlag {
    /// Case-insensitive, as Kafka's `toUpperCase(Locale.ROOT)` comparison.
    fn parse(flag: &str) -> Option<Self> {
        match flag.to_uppercase().as_str() {
            "REQUIRED" => Some(Self::Required),
            "REQUISITE" => Some(Self::Requisite),
            "SUFFICIENT" => Some(Self::Sufficient),
            "OPTIONAL" => Some(Self::Optional),
            _ => None,
        }
    }
}

/// The one login module entry of a `sasl.jaas.config` value.
#[derive(Clone, PartialEq, Eq)]
pub struct JaasConfig {
    /// The login module class name.
    pub login_module: String,
    /// Its control flag.
    pub flag: ControlFlag,
    /// `key=value` options; a repeated key keeps its last value, as Kafka's `HashMap`.
    pub options: BTreeMap<String, String>,
}

impl fmt::Debug for JaasConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Option values may be secrets; only the user name is shown.
        let options: BTreeMap<&str, &str> = self
            .options
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    if k == "username" {
                        v.as_str()
                    } else {
                        "[redacted]"
                    },
                )
            })
            .collect();
        f.debug_struct("JaasConfig")
            .field("login_module", &self.login_module)
            .field("flag", &self.flag)
            .field("options", &options)
            .finish()
    }
}

/// A user name and password from `sasl.jaas.config`.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: Secret,
}

/// An unusable `sasl.jaas.config`. Never quotes an option value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JaasError {
    /// Nothing but whitespace and comments.
    #[error("no login module; expected `<LoginModule class> required key=\"value\" ...;`")]
    NoLoginModule,
    /// More than one entry (Kafka `JaasContext.load` allows exactly one).
    #[error("{count} login modules; exactly one is allowed")]
    LoginModuleCount {
        /// How many entries.
        count: usize,
    },
    /// A token that does not fit the grammar.
    #[error("expected {what} at byte {at}, found {found}")]
    Expected {
        /// What the grammar wanted.
        what: &'static str,
        /// Byte offset in the value.
        at: usize,
        /// The kind of token found (never its text).
        found: String,
    },
    /// The control flag is not one of the four.
    #[error(
        "invalid login module control flag {flag:?}; expected required, requisite, sufficient or optional"
    )]
    BadFlag {
        /// The flag as written.
        flag: String,
    },
    /// `key=` followed by no usable value.
    #[error(
        "option {key:?} has no value at byte {at} (found {found}); a value is a \"quoted string\" or a word starting with a letter"
    )]
    MissingValue {
        /// The option name.
        key: String,
        /// Byte offset in the value.
        at: usize,
        /// The kind of token found.
        found: String,
    },
    /// The entry does not end with `;`.
    #[error("the login module entry is not terminated by ';'")]
    Unterminated,
    /// An option the mechanism needs is absent.
    #[error("{module} has no {option} option")]
    MissingOption {
        /// The login module.
        module: String,
        /// `username` or `password`.
        option: &'static str,
    },
    /// The login module is not the mechanism's.
    #[error("login module {module} does not fit sasl.mechanism={mechanism}; expected {expected}")]
    ModuleMismatch {
        /// The configured login module.
        module: String,
        /// `sasl.mechanism`.
        mechanism: Mechanism,
        /// The login module that mechanism uses.
        expected: &'static str,
    },
    /// `tokenauth=true`: delegation tokens need a SCRAM extension kmirror does not send.
    #[error("tokenauth=true (delegation tokens) is not supported")]
    TokenAuth,
}

impl JaasConfig {
    /// The credentials for `mechanism`, checking the login module fits it.
    pub fn credentials(&self, mechanism: Mechanism) -> Result<Credentials, JaasError> {
        let expected = match mechanism {
            Mechanism::Plain => PLAIN_LOGIN_MODULE,
            Mechanism::ScramSha256 | Mechanism::ScramSha512 => SCRAM_LOGIN_MODULE,
        };
        if self.login_module != expected {
            return Err(JaasError::ModuleMismatch {
                module: self.login_module.clone(),
                mechanism,
                expected,
            });
        }
        // ScramLoginModule reads it with Boolean.parseBoolean.
        if self
            .options
            .get("tokenauth")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err(JaasError::TokenAuth);
        }
        let get = |option: &'static str| {
            self.options
                .get(option)
                .ok_or_else(|| JaasError::MissingOption {
                    module: self.login_module.clone(),
                    option,
                })
        };
        Ok(Credentials {
            username: get("username")?.clone(),
            password: Secret::new(get("password")?.clone()),
        })
    }
}

/// Parses a `sasl.jaas.config` value: `<class> <flag> [key=value ...];`, with
/// Java `StreamTokenizer` lexing (quotes, escapes, `//` and `/* */` comments).
pub fn parse_jaas(text: &str) -> Result<JaasConfig, JaasError> {
    let mut tokens = Tokenizer {
        chars: text.char_indices().peekable(),
        end: text.len(),
    };
    let mut entries = Vec::new();
    while let Some(first) = tokens.next_token() {
        entries.push(parse_entry(&mut tokens, first)?);
    }
    if entries.len() > 1 {
        return Err(JaasError::LoginModuleCount {
            count: entries.len(),
        });
    }
    entries.pop().ok_or(JaasError::NoLoginModule)
}

/// One entry, after its first token (Kafka `JaasConfig.parseAppConfigurationEntry`).
fn parse_entry(tokens: &mut Tokenizer<'_>, first: (usize, Token)) -> Result<JaasConfig, JaasError> {
    let login_module = match first {
        (_, Token::Word(m) | Token::Quoted(m)) if !m.is_empty() => m,
        other => return Err(tokens.expected("a login module class name", Some(other))),
    };
    let flag = match tokens.next_token() {
        Some((_, Token::Word(f) | Token::Quoted(f))) => {
            ControlFlag::parse(&f).ok_or(JaasError::BadFlag { flag: f })?
        }
        other => return Err(tokens.expected("a control flag", other)),
    };
    let mut options = BTreeMap::new();
    loop {
        let key = match tokens.next_token() {
            Some((_, Token::Char(';'))) => break,
            Some((_, Token::Word(k) | Token::Quoted(k))) => k,
            None => return Err(JaasError::Unterminated),
            other => return Err(tokens.expected("an option name or ';'", other)),
        };
        match tokens.next_token() {
            Some((_, Token::Char('='))) => {}
            // The key is not quoted: it may be half of an unquoted value.
            other => return Err(tokens.expected("'=' after an option name", other)),
        }
        match tokens.next_token() {
            Some((_, Token::Word(v) | Token::Quoted(v))) => {
                options.insert(key, v);
            }
            other => {
                let (at, found) = tokens.describe(other);
                return Err(JaasError::MissingValue { key, at, found });
            }
        }
    }
    Ok(JaasConfig {
        login_module,
        flag,
        options,
    })
}

/// A `StreamTokenizer` token.
#[derive(Debug, PartialEq)]
enum Token {
    /// Starts with a letter, `_`, `$` or a char >= 160; continues with those, digits, `.` and `-`.
    Word(String),
    /// `"..."` or `'...'`.
    Quoted(String),
    /// Starts with a digit, `.` or `-`: a `TT_NUMBER`, which has no string value.
    Number,
    /// Any other single char (`=`, `;`, `,`, ...).
    Char(char),
}

/// `java.io.StreamTokenizer` as Kafka configures it: default syntax plus
/// `-`, `_`, `$` as word chars and both comment styles.
struct Tokenizer<'a> {
    /// The value's chars and their byte offsets.
    chars: Peekable<CharIndices<'a>>,
    /// Byte length, the offset reported at the end.
    end: usize,
}

impl Tokenizer<'_> {
    /// The next token and its byte offset; `None` at the end.
    fn next_token(&mut self) -> Option<(usize, Token)> {
        loop {
            let (at, c) = self.chars.next()?;
            let token = match c {
                '\0'..=' ' => continue,
                '0'..='9' | '.' | '-' => self.number(c),
                '"' | '\'' => self.quoted(c),
                '/' => {
                    self.comment();
                    continue;
                }
                c if is_word_start(c) => self.word(c),
                c => Token::Char(c),
            };
            return Some((at, token));
        }
    }

    /// Skips a number; a `-` not followed by a digit or `.` is a plain char.
    fn number(&mut self, first: char) -> Token {
        if first == '-' && !matches!(self.chars.peek(), Some((_, '0'..='9' | '.'))) {
            return Token::Char('-');
        }
        let mut seen_dot = first == '.';
        while let Some(&(_, c)) = self.chars.peek() {
            match c {
                '0'..='9' => {}
                '.' if !seen_dot => seen_dot = true,
                _ => break,
            }
            self.chars.next();
        }
        Token::Number
    }

    fn word(&mut self, first: char) -> Token {
        let mut word = String::from(first);
        while let Some((_, c)) = self
            .chars
            .next_if(|&(_, c)| is_word_start(c) || matches!(c, '0'..='9' | '.' | '-'))
        {
            word.push(c);
        }
        Token::Word(word)
    }

    /// A quoted string: ends at the matching quote, or (as in Java, silently)
    /// at a line end or the end of input. Escapes: `\a \b \f \n \r \t \v`,
    /// octal up to `\377`, and `\` before any other char is that char.
    fn quoted(&mut self, quote: char) -> Token {
        let mut text = String::new();
        while let Some((_, c)) = self.chars.next_if(|&(_, c)| c != '\n' && c != '\r') {
            if c == quote {
                break;
            }
            if c != '\\' {
                text.push(c);
                continue;
            }
            let Some((_, escaped)) = self.chars.next() else {
                break;
            };
            text.push(match escaped {
                'a' => '\x07',
                'b' => '\x08',
                'f' => '\x0c',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'v' => '\x0b',
                '0'..='7' => self.octal(escaped),
                other => other,
            });
        }
        Token::Quoted(text)
    }

    /// An octal escape after its first digit: up to three digits if the first is 0-3, else two.
    fn octal(&mut self, first: char) -> char {
        let mut value = first.to_digit(8).unwrap_or(0);
        if let Some(d) = self.octal_digit() {
            value = value * 8 + d;
            // No let-chains: rust-version is 1.85.
            if first <= '3' {
                if let Some(d) = self.octal_digit() {
                    value = value * 8 + d;
                }
            }
        }
        char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER)
    }

    fn octal_digit(&mut self) -> Option<u32> {
        let digit = self.chars.peek()?.1.to_digit(8)?;
        self.chars.next();
        Some(digit)
    }

    /// After `/`: `/* ... */`, or a line comment for `//` and also for a lone
    /// `/` (the default comment char), which skips the char after it first.
    fn comment(&mut self) {
        if self.chars.next_if(|&(_, c)| c == '*').is_some() {
            let mut prev = '\0';
            for (_, c) in self.chars.by_ref() {
                if prev == '*' && c == '/' {
                    return;
                }
                prev = c;
            }
            return;
        }
        self.chars.next();
        for (_, c) in self.chars.by_ref() {
            if c == '\n' || c == '\r' {
                return;
            }
        }
    }

    /// Offset and kind of a token, without its text.
    fn describe(&self, token: Option<(usize, Token)>) -> (usize, String) {
        match token {
            None => (self.end, "the end".into()),
            Some((at, Token::Word(_))) => (at, "a word".into()),
            Some((at, Token::Quoted(_))) => (at, "a quoted string".into()),
            Some((at, Token::Number)) => (at, "a number".into()),
            Some((at, Token::Char(c))) => (at, format!("{c:?}")),
        }
    }

    fn expected(&self, what: &'static str, token: Option<(usize, Token)>) -> JaasError {
        let (at, found) = self.describe(token);
        JaasError::Expected { what, at, found }
    }
}

/// `StreamTokenizer` word chars (chars >= 256 are words too).
fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '_' | '$') || u32::from(c) >= 160
}

/// What [`SaslClient::step`] asks the connection to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes in the next SaslAuthenticate request.
    Respond(Vec<u8>),
    /// Authenticated (for SCRAM, the broker's signature verified).
    Done,
}

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy)]
enum ScramHash {
    Sha256,
    Sha512,
}

/// Where the exchange is.
enum State {
    /// [`SaslClient::initial`] not called yet.
    Start,
    /// PLAIN message sent; any reply ends the exchange.
    PlainSent,
    /// SCRAM client-first sent; waiting for server-first.
    FirstSent {
        hash: ScramHash,
        /// `n=<user>,r=<nonce>`, the start of the AuthMessage.
        client_first_bare: String,
    },
    /// SCRAM client-final sent; waiting for server-final.
    FinalSent {
        hash: ScramHash,
        /// HMAC(SaltedPassword, "Server Key"), to check the server signature.
        server_key: Vec<u8>,
        /// The AuthMessage both signatures sign.
        auth_message: String,
    },
    /// Authenticated.
    Done,
    /// An error ended the exchange.
    Failed,
}

/// The client side of one SASL exchange, sans-io.
pub struct SaslClient {
    /// The mechanism negotiated in SaslHandshake.
    mechanism: Mechanism,
    /// Who we are.
    credentials: Credentials,
    /// Our SCRAM nonce (unused for PLAIN).
    nonce: String,
    /// Where the exchange is.
    state: State,
}

impl fmt::Debug for SaslClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Start => "start",
            State::PlainSent => "plain sent",
            State::FirstSent { .. } => "client-first sent",
            State::FinalSent { .. } => "client-final sent",
            State::Done => "done",
            State::Failed => "failed",
        };
        f.debug_struct("SaslClient")
            .field("mechanism", &self.mechanism)
            .field("username", &self.credentials.username)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl SaslClient {
    /// A client with a fresh random nonce.
    pub fn new(mechanism: Mechanism, credentials: Credentials) -> Self {
        let nonce = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(NONCE_LEN)
            .map(char::from)
            .collect();
        Self::with_nonce(mechanism, credentials, nonce)
    }

    /// A client with a given nonce: for test vectors only, a nonce must be unpredictable.
    fn with_nonce(mechanism: Mechanism, credentials: Credentials, nonce: String) -> Self {
        Self {
            mechanism,
            credentials,
            nonce,
            state: State::Start,
        }
    }

    /// The first client message; calling it again restarts the exchange.
    pub fn initial(&mut self) -> Vec<u8> {
        let user = &self.credentials.username;
        match self.mechanism.scram_hash() {
            None => {
                self.state = State::PlainSent;
                // authzid (empty) NUL authcid NUL passwd.
                let password = self.credentials.password.expose();
                let mut message = Vec::with_capacity(2 + user.len() + password.len());
                message.push(0);
                message.extend_from_slice(user.as_bytes());
                message.push(0);
                message.extend_from_slice(password.as_bytes());
                message
            }
            Some(hash) => {
                // Kafka escapes but does not SASLprep the name (ScramFormatter.saslName).
                let name = user.replace('=', "=3D").replace(',', "=2C");
                let client_first_bare = format!("n={name},r={}", self.nonce);
                let message = format!("n,,{client_first_bare}").into_bytes();
                self.state = State::FirstSent {
                    hash,
                    client_first_bare,
                };
                message
            }
        }
    }

    /// Takes the broker's reply to our last message.
    pub fn step(&mut self, server: &[u8]) -> Result<Step> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Start => Err(SaslError::OutOfOrder {
                when: "before the initial message",
            }),
            State::Done => Err(SaslError::OutOfOrder {
                when: "after the exchange ended",
            }),
            State::Failed => Err(SaslError::OutOfOrder {
                when: "after a failed exchange",
            }),
            State::PlainSent => {
                self.state = State::Done;
                Ok(Step::Done)
            }
            State::FirstSent {
                hash,
                client_first_bare,
            } => {
                let (message, next) = self.client_final(hash, &client_first_bare, server)?;
                self.state = next;
                Ok(Step::Respond(message))
            }
            State::FinalSent {
                hash,
                server_key,
                auth_message,
            } => {
                verify_server_final(hash, &server_key, &auth_message, server)?;
                self.state = State::Done;
                Ok(Step::Done)
            }
        }
    }

    /// Reads server-first and builds client-final (RFC 5802 §3, §5.1).
    fn client_final(
        &self,
        hash: ScramHash,
        client_first_bare: &str,
        server: &[u8],
    ) -> Result<(Vec<u8>, State)> {
        let server_first = std::str::from_utf8(server).map_err(|_| SaslError::Malformed {
            what: "server-first-message: not UTF-8",
        })?;
        let mut attributes = server_first.split(',');
        let first = attributes.next().unwrap_or_default();
        if first.starts_with("m=") {
            return Err(SaslError::UnsupportedExtension);
        }
        if let Some(message) = first.strip_prefix("e=") {
            return Err(SaslError::ServerError {
                message: message.to_owned(),
            });
        }
        let nonce = first.strip_prefix("r=").ok_or(SaslError::Malformed {
            what: "server-first-message: no nonce (r=)",
        })?;
        if !nonce.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SaslError::Malformed {
                what: "server-first-message: nonce not printable",
            });
        }
        if !nonce.starts_with(&self.nonce) {
            return Err(SaslError::NonceMismatch);
        }
        let salt = attributes
            .next()
            .and_then(|a| a.strip_prefix("s="))
            .and_then(|s| BASE64.decode(s).ok())
            .ok_or(SaslError::Malformed {
                what: "server-first-message: no base64 salt (s=)",
            })?;
        let iterations = attributes
            .next()
            .and_then(|a| a.strip_prefix("i="))
            .filter(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|i| i.parse::<u32>().ok())
            .ok_or(SaslError::Malformed {
                what: "server-first-message: no iteration count (i=)",
            })?;
        // Any further attributes are extensions, which a client ignores.
        if iterations < MIN_ITERATIONS {
            return Err(SaslError::TooFewIterations {
                iterations,
                min: MIN_ITERATIONS,
            });
        }
        if iterations > MAX_ITERATIONS {
            return Err(SaslError::TooManyIterations {
                iterations,
                max: MAX_ITERATIONS,
            });
        }
        // c=biws is base64("n,,"): no channel binding, no authzid.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let password = self.credentials.password.expose().as_bytes();
        let (proof, server_key) = match hash {
            ScramHash::Sha256 => {
                scram_keys::<Sha256, Hmac<Sha256>>(password, &salt, iterations, &auth_message)
            }
            ScramHash::Sha512 => {
                scram_keys::<Sha512, Hmac<Sha512>>(password, &salt, iterations, &auth_message)
            }
        };
        let message = format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes();
        let next = State::FinalSent {
            hash,
            server_key,
            auth_message,
        };
        Ok((message, next))
    }
}

/// ClientProof and ServerKey (RFC 5802 §3).
fn scram_keys<D, M>(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    auth_message: &str,
) -> (Vec<u8>, Vec<u8>)
where
    D: Digest,
    M: Mac + KeyInit + Update + FixedOutput + Clone + Sync,
{
    let mut salted = vec![0; <M as OutputSizeUser>::output_size()];
    pbkdf2::pbkdf2::<M>(password, salt, iterations, &mut salted).expect(HMAC_ANY_KEY);
    let client_key = hmac::<M>(&salted, b"Client Key");
    let stored_key = D::digest(&client_key);
    let client_signature = hmac::<M>(&stored_key, auth_message.as_bytes());
    let proof = client_key
        .iter()
        .zip(&client_signature)
        .map(|(k, s)| k ^ s)
        .collect();
    (proof, hmac::<M>(&salted, b"Server Key"))
}

fn hmac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect(HMAC_ANY_KEY);
    Mac::update(&mut mac, data);
    mac.finalize().into_bytes().to_vec()
}

/// Checks server-final `v=<ServerSignature>` in constant time, or reports `e=`.
fn verify_server_final(
    hash: ScramHash,
    server_key: &[u8],
    auth_message: &str,
    server: &[u8],
) -> Result<()> {
    let malformed = SaslError::Malformed {
        what: "server-final-message: neither v= nor e=",
    };
    let server_final = std::str::from_utf8(server).map_err(|_| SaslError::Malformed {
        what: "server-final-message: not UTF-8",
    })?;
    let first = server_final.split(',').next().unwrap_or_default();
    if let Some(message) = first.strip_prefix("e=") {
        return Err(SaslError::ServerError {
            message: message.to_owned(),
        });
    }
    let signature = first
        .strip_prefix("v=")
        .and_then(|v| BASE64.decode(v).ok())
        .ok_or(malformed)?;
    let verified = match hash {
        ScramHash::Sha256 => verify::<Hmac<Sha256>>(server_key, auth_message, &signature),
        ScramHash::Sha512 => verify::<Hmac<Sha512>>(server_key, auth_message, &signature),
    };
    if verified {
        Ok(())
    } else {
        Err(SaslError::ServerNotVerified)
    }
}

fn verify<M: Mac + KeyInit>(key: &[u8], data: &str, signature: &[u8]) -> bool {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect(HMAC_ANY_KEY);
    Mac::update(&mut mac, data.as_bytes());
    mac.verify_slice(signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn creds(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.into(),
            password: Secret::new(password.into()),
        }
    }

    fn client(mechanism: Mechanism, user: &str, password: &str, nonce: &str) -> SaslClient {
        SaslClient::with_nonce(mechanism, creds(user, password), nonce.into())
    }

    /// Runs a whole SCRAM exchange and checks every message.
    fn exchange(mechanism: Mechanism, user: &str, password: &str, nonce: &str, script: [&str; 4]) {
        let [client_first, server_first, client_final, server_final] = script;
        let mut c = client(mechanism, user, password, nonce);
        assert_eq!(String::from_utf8(c.initial()).unwrap(), client_first);
        let Step::Respond(sent) = c.step(server_first.as_bytes()).unwrap() else {
            panic!("expected client-final");
        };
        assert_eq!(String::from_utf8(sent).unwrap(), client_final);
        assert_eq!(c.step(server_final.as_bytes()).unwrap(), Step::Done);
    }

    const SERVER_FIRST_256: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    /// RFC 7677 §3.
    #[test]
    fn scram_sha256_matches_rfc7677_vector() {
        exchange(
            Mechanism::ScramSha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
            [
                "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
                SERVER_FIRST_256,
                "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
            ],
        );
    }

    /// Computed independently with Python 3 `hashlib.pbkdf2_hmac("sha512", ...)`,
    /// `hmac.new(..., hashlib.sha512)` and `base64`, following RFC 5802 §3 on the
    /// RFC 7677 inputs (the same script reproduces the RFC 7677 SHA-256 values).
    #[test]
    fn scram_sha512_matches_independent_vector() {
        exchange(
            Mechanism::ScramSha512,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
            [
                "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
                SERVER_FIRST_256,
                "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==",
                "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==",
            ],
        );
    }

    /// Same Python method: user `a=b,c` (escaped in the AuthMessage too), a
    /// non-ASCII password (UTF-8, no SASLprep, as Kafka), 8192 iterations.
    #[test]
    fn scram_sha512_escapes_user_name_and_hashes_utf8_password() {
        exchange(
            Mechanism::ScramSha512,
            "a=b,c",
            "pässwörd",
            "fyko+d2lbbFgONRv9qkxdawL",
            [
                "n,,n=a=3Db=2Cc,r=fyko+d2lbbFgONRv9qkxdawL",
                "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=8192",
                "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=uZQKgmEFu+imE8OwD6ksA4SyaXhyngO7MlsXNZ5czxvWlyHNifbhZ62QlGOuvMUxN9Q35aDwMn4mPtwVAobTmg==",
                "v=/EDGipEyqZxjy6wmGPp3gKhZ4snVLLcnOBihyvIPNPjiwqWNsUaDBaCW9i+goWZRYv+8kxINL3SBK2SPBbV/FQ==",
            ],
        );
    }

    /// A SHA-256 client past client-final.
    fn after_client_final() -> SaslClient {
        let mut c = client(
            Mechanism::ScramSha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
        );
        c.initial();
        assert!(matches!(
            c.step(SERVER_FIRST_256.as_bytes()),
            Ok(Step::Respond(_))
        ));
        c
    }

    #[test]
    fn wrong_server_signature_is_not_verified() {
        let mut c = after_client_final();
        let e = c
            .step(b"v=AAAAZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap_err();
        assert!(matches!(e, SaslError::ServerNotVerified), "{e}");
        assert!(matches!(c.step(b"v=x"), Err(SaslError::OutOfOrder { .. })));
    }

    #[test]
    fn server_error_in_server_final_is_reported() {
        let e = after_client_final().step(b"e=invalid-proof").unwrap_err();
        assert!(matches!(&e, SaslError::ServerError { message } if message == "invalid-proof"));
        assert_eq!(
            e.to_string(),
            "the broker refused the authentication: invalid-proof"
        );
    }

    #[test]
    fn bad_server_first_messages_are_rejected() {
        const SALT: &str = "s=W22ZaJ0SNY7soEsUEjb6gQ==";
        // (server-first, start of the expected error's Debug form)
        let cases = [
            (format!("r=someoneelse,{SALT},i=4096"), "NonceMismatch"),
            (
                format!("r=rOprNGfwEbeRWgbNEkqOx,{SALT},i=4095"),
                "TooFewIterations { iterations: 4095, min: 4096 }",
            ),
            (
                format!("r=rOprNGfwEbeRWgbNEkqOx,{SALT},i=4294967295"),
                "TooManyIterations",
            ),
            (
                format!("r=rOprNGfwEbeRWgbNEkqOx,{SALT},i=99999999999"),
                "Malformed",
            ),
            (
                format!("r=rOprNGfwEbeRWgbNEkqOx,{SALT},i=+4096"),
                "Malformed",
            ),
            (format!("r=rOprNGfwEbeRWgbNEkqOx,{SALT}"), "Malformed"),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=not base64!,i=4096".into(),
                "Malformed",
            ),
            (
                format!("m=ext,r=rOprNGfwEbeRWgbNEkqOx,{SALT},i=4096"),
                "UnsupportedExtension",
            ),
            ("e=unknown-user".into(), "ServerError"),
            (String::new(), "Malformed"),
        ];
        for (server_first, want) in cases {
            let mut c = client(
                Mechanism::ScramSha256,
                "user",
                "pencil",
                "rOprNGfwEbeRWgbNEkqO",
            );
            c.initial();
            let e = c.step(server_first.as_bytes()).unwrap_err();
            assert!(
                format!("{e:?}").starts_with(want),
                "{server_first:?}: {e:?}"
            );
            assert!(!e.to_string().contains("pencil"));
        }
    }

    #[test]
    fn plain_sends_empty_authzid_user_and_password_then_any_reply_ends_it() {
        let mut c = client(Mechanism::Plain, "alice", "alice-secret", "unused");
        assert_eq!(c.initial(), b"\0alice\0alice-secret");
        assert_eq!(c.step(b"").unwrap(), Step::Done);
        assert!(matches!(c.step(b""), Err(SaslError::OutOfOrder { .. })));
    }

    #[test]
    fn step_before_initial_is_out_of_order() {
        let mut c = client(Mechanism::ScramSha512, "u", "p", "n");
        assert!(matches!(
            c.step(b"r=n1,s=,i=4096"),
            Err(SaslError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn random_nonces_are_alphanumeric_and_fresh() {
        let first = |c: &mut SaslClient| String::from_utf8(c.initial()).unwrap();
        let a = first(&mut SaslClient::new(
            Mechanism::ScramSha256,
            creds("u", "p"),
        ));
        let b = first(&mut SaslClient::new(
            Mechanism::ScramSha256,
            creds("u", "p"),
        ));
        let nonce = a.strip_prefix("n,,n=u,r=").unwrap();
        assert_eq!(nonce.len(), NONCE_LEN);
        assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn secrets_and_clients_print_redacted() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        let c = after_client_final();
        assert!(!format!("{c:?}").contains("pencil"));
        let j = parse_jaas(&format!(
            r#"{PLAIN_LOGIN_MODULE} required username="u" password="hunter2";"#
        ))
        .unwrap();
        assert!(!format!("{j:?} {:?}", j.credentials(Mechanism::Plain)).contains("hunter2"));
    }

    #[test]
    fn mechanism_names_are_kafkas_and_case_sensitive() {
        for m in [
            Mechanism::Plain,
            Mechanism::ScramSha256,
            Mechanism::ScramSha512,
        ] {
            assert_eq!(Mechanism::from_name(m.name()).unwrap(), m);
        }
        for name in ["GSSAPI", "OAUTHBEARER", "plain", "SCRAM-SHA-1"] {
            let e = Mechanism::from_name(name).unwrap_err().to_string();
            assert!(
                e.contains(name) && e.contains("PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512"),
                "{e}"
            );
        }
    }

    #[test]
    fn jaas_scram_entry_gives_credentials() {
        let j = parse_jaas(
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";"#,
        )
        .unwrap();
        assert_eq!(j.flag, ControlFlag::Required);
        let c = j.credentials(Mechanism::ScramSha512).unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.expose()),
            ("alice", "alice-secret")
        );
    }

    #[test]
    fn jaas_spans_lines_with_comments_bare_words_and_any_flag_case() {
        let j = parse_jaas(
            "  org.apache.kafka.common.security.plain.PlainLoginModule\n\tOPTIONAL // a comment\n\
             username = bob-1.x /* block\n comment */ password\n=\n'it\\'s'\r\n extra=\"\" ;  ",
        )
        .unwrap();
        assert_eq!(j.login_module, PLAIN_LOGIN_MODULE);
        assert_eq!(j.flag, ControlFlag::Optional);
        let want = [("extra", ""), ("password", "it's"), ("username", "bob-1.x")];
        let got: Vec<_> = j
            .options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            parse_jaas("m Sufficient;").unwrap().flag,
            ControlFlag::Sufficient
        );
        assert_eq!(
            parse_jaas("m requisite;").unwrap().flag,
            ControlFlag::Requisite
        );
    }

    #[test]
    fn jaas_quoted_values_take_java_escapes() {
        let j = parse_jaas(
            r#"m required a="q\"b\\s\n\t\101\0a\x" b='d"q' c="ends at line end
            d=x;"#,
        )
        .unwrap();
        assert_eq!(j.options["a"], "q\"b\\s\n\tA\0ax");
        assert_eq!(j.options["b"], "d\"q");
        // As StreamTokenizer: an unclosed quote ends at the line end.
        assert_eq!(j.options["c"], "ends at line end");
        assert_eq!(j.options["d"], "x");
    }

    #[test]
    fn jaas_errors_name_the_problem() {
        let err = |text: &str| parse_jaas(text).unwrap_err();
        assert!(matches!(err(""), JaasError::NoLoginModule));
        assert!(matches!(
            err(" /* only */ // comments"),
            JaasError::NoLoginModule
        ));
        assert!(matches!(err("m required a=\"b\""), JaasError::Unterminated));
        assert!(matches!(
            err("m required; n required;"),
            JaasError::LoginModuleCount { count: 2 }
        ));
        assert!(matches!(err("m mandatory;"), JaasError::BadFlag { flag } if flag == "mandatory"));
        assert!(matches!(
            err("m ;"),
            JaasError::Expected {
                what: "a control flag",
                ..
            }
        ));
        assert!(matches!(
            err("m"),
            JaasError::Expected {
                what: "a control flag",
                ..
            }
        ));
        assert!(matches!(err("= required;"), JaasError::Expected { .. }));
        assert_eq!(
            err(r#"m required a="1", b="2";"#).to_string(),
            "expected an option name or ';' at byte 16, found ','"
        );
        assert!(matches!(
            err("m required a;"),
            JaasError::Expected { at: 12, .. }
        ));
        let e = err("m required port=9092;");
        assert!(
            matches!(&e, JaasError::MissingValue { key, at: 16, .. } if key == "port"),
            "{e}"
        );
        assert!(e.to_string().contains("found a number"), "{e}");
    }

    #[test]
    fn jaas_credentials_check_module_and_options() {
        let scram =
            |opts: &str| parse_jaas(&format!("{SCRAM_LOGIN_MODULE} required {opts};")).unwrap();
        let e = scram(r#"username="u" password="p""#)
            .credentials(Mechanism::Plain)
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(SCRAM_LOGIN_MODULE) && text.contains(PLAIN_LOGIN_MODULE),
            "{text}"
        );
        assert!(text.contains("sasl.mechanism=PLAIN"), "{text}");
        let e = scram(r#"username="u""#)
            .credentials(Mechanism::ScramSha256)
            .unwrap_err();
        assert!(matches!(
            e,
            JaasError::MissingOption {
                option: "password",
                ..
            }
        ));
        let e = scram(r#"password="p""#)
            .credentials(Mechanism::ScramSha256)
            .unwrap_err();
        assert!(matches!(
            e,
            JaasError::MissingOption {
                option: "username",
                ..
            }
        ));
        let e = scram(r#"username="u" password="p" tokenauth="TRUE""#)
            .credentials(Mechanism::ScramSha256);
        assert!(matches!(e, Err(JaasError::TokenAuth)));
    }

    #[test]
    fn jaas_errors_never_contain_the_password() {
        let m = SCRAM_LOGIN_MODULE;
        for text in [
            format!(r#"{m} required username="u" password="Pw-s3cret""#),
            format!(r#"{m} required username="u" password="Pw-s3cret"; {m} required;"#),
            format!(r#"{m} required username="u" password="Pw-s3cret", x=y;"#),
            format!(r#"{m} required username="u" password=Pw-s3cret x;"#),
            format!(r#"{m} wrong username="u" password="Pw-s3cret";"#),
            format!(r#"{m} required password=Pw-s3cret username=;"#),
        ] {
            let e = parse_jaas(&text).unwrap_err();
            assert!(!format!("{e} {e:?}").contains("s3cret"), "{text}: {e}");
        }
        let j = parse_jaas(&format!(
            r#"{m} required username="u" password="Pw-s3cret";"#
        ))
        .unwrap();
        let e = j.credentials(Mechanism::Plain).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("s3cret"));
    }

    proptest! {
        #[test]
        fn parse_jaas_never_panics(text in ".*") {
            let _ = parse_jaas(&text);
        }

        #[test]
        fn quoted_values_round_trip(value in "[^\n\r]*") {
            let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
            let j = parse_jaas(&format!("m required k=\"{quoted}\";")).unwrap();
            prop_assert_eq!(&j.options["k"], &value);
        }

        #[test]
        fn step_never_panics_on_garbage(
            first in prop_oneof![
                any::<Vec<u8>>(),
                "(r=rOprNGfwEbeRWgbNEkqO)?[rsiemv=,A-Za-z0-9+/]{0,40}".prop_map(String::into_bytes),
            ],
            last in any::<Vec<u8>>(),
        ) {
            for mechanism in [Mechanism::Plain, Mechanism::ScramSha256, Mechanism::ScramSha512] {
                let mut c = client(mechanism, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
                c.initial();
                let _ = c.step(&first);
                let _ = c.step(&last);
            }
            // Straight to server-final, without a PBKDF2 per case.
            let mut c = client(Mechanism::ScramSha512, "user", "pencil", "n");
            c.state = State::FinalSent {
                hash: ScramHash::Sha512,
                server_key: vec![7; 64],
                auth_message: "n=user,r=n,r=n1,s=,i=4096,c=biws,r=n1".into(),
            };
            prop_assert!(c.step(&last).is_err());
        }
    }
}
