//! Java `.properties` lexer with `java.util.Properties.load` semantics: `=`, `:` or whitespace
//! separators, `#`/`!` comment lines, backslash continuations and escapes. Knows nothing about MM2.
//!
//! # Rules (as `Properties.load` applies them)
//!
//! * A *natural line* ends at `\n`, `\r` or `\r\n`. Blank lines and lines whose first
//!   non-whitespace character is `#` or `!` are skipped; a backslash at the end of a comment
//!   line does **not** continue it. There are no inline comments: `a = b  # c` has the value
//!   `b  # c`.
//! * A *logical line* ends with an even number of backslashes. An odd count joins the next
//!   natural line, whose leading whitespace (space, tab, form feed) is dropped; `#` there is
//!   data, not a comment. A blank natural line ends the logical line. At end of input a pending
//!   backslash is dropped.
//! * The key ends at the first unescaped `=`, `:` or whitespace. After it, whitespace, at most
//!   one `=` or `:`, and more whitespace are skipped; the rest of the line (trailing whitespace
//!   included) is the value.
//! * Escapes in keys and values: `\t \n \r \f`, `\uXXXX` (UTF-16 code units, surrogate pairs
//!   combined), and `\x` → `x` for any other `x` (so `\=`, `\:`, `\ `, `\#` and `\\`).
//!   A malformed `\u` escape makes Java refuse the whole file; here it is kept literally and
//!   reported as a [`LexProblem`] so the caller can refuse the file too.
//!
//! Decoding bytes (Java reads an `InputStream` as ISO-8859-1) is the caller's job: this module
//! works on `&str`.

use std::fmt;

/// One `key = value` pair, in file order, with the 1-based line its key starts on.
///
/// Duplicate keys are all returned; the last one wins in Java, and `mm2.rs` decides and warns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key after escape processing.
    pub key: String,
    /// The value after escape processing; Java keeps trailing whitespace, and so do we.
    pub value: String,
    /// 1-based line number of the first natural line of the logical line.
    pub line: usize,
}

/// Something the lexer had to repair, where Java would have thrown instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexProblem {
    /// 1-based line where the logical line containing the problem starts.
    pub line: usize,
    /// What went wrong.
    pub kind: LexProblemKind,
}

/// The kinds of [`LexProblem`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LexProblemKind {
    /// `\u` not followed by four hex digits; Java throws `IllegalArgumentException` and MM2
    /// refuses to start. The text is kept literally.
    MalformedUnicodeEscape {
        /// The escape as written, e.g. `\u12G4` or `\u12` at the end of the line.
        escape: String,
    },
    /// A `\uD800`–`\uDFFF` escape that is not half of a surrogate pair; Java would keep the lone
    /// UTF-16 unit, Rust strings cannot, so it becomes U+FFFD.
    LoneSurrogate {
        /// The code unit.
        unit: u16,
    },
}

impl fmt::Display for LexProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexProblemKind::MalformedUnicodeEscape { escape } => {
                write!(f, "malformed \\uXXXX escape \"{escape}\"")
            }
            LexProblemKind::LoneSurrogate { unit } => {
                write!(f, "unpaired UTF-16 surrogate \\u{unit:04X}")
            }
        }
    }
}

/// The result of [`lex`]: entries plus the problems Java would have refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexed {
    /// All entries in file order, duplicates included.
    pub entries: Vec<Entry>,
    /// Problems found while unescaping.
    pub problems: Vec<LexProblem>,
}

/// Parses `.properties` text into entries. Never fails and never panics; see [`lex`] for the
/// problems that Java would reject.
pub fn parse(text: &str) -> Vec<Entry> {
    lex(text).entries
}

/// Parses `.properties` text into entries and reports escapes Java would reject.
pub fn lex(text: &str) -> Lexed {
    let mut out = Lexed::default();
    let mut reader = LineReader::new(text);
    while let Some((line, chars)) = reader.next_logical_line() {
        let (key_end, value_start) = split_key_value(&chars);
        let key = unescape(&chars[..key_end], line, &mut out.problems);
        let value = unescape(&chars[value_start..], line, &mut out.problems);
        out.entries.push(Entry { key, value, line });
    }
    out
}

/// Renders entries back to `.properties` text that [`parse`] reads back to the same keys and
/// values (line numbers aside). Non-ASCII characters are written as `\uXXXX` so the output
/// means the same to Java, which reads files as ISO-8859-1.
pub fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    for entry in entries {
        escape_into(&entry.key, true, &mut out);
        out.push('=');
        escape_into(&entry.value, false, &mut out);
        out.push('\n');
    }
    out
}

fn escape_into(s: &str, is_key: bool, out: &mut String) {
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{c}' => out.push_str("\\f"),
            '=' | ':' => {
                out.push('\\');
                out.push(c);
            }
            // Leading spaces of a value would be skipped, and any space in a key ends it.
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            // A leading `#`/`!` on the key would make the line a comment.
            '#' | '!' if is_key && i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c if (' '..='~').contains(&c) => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
}

/// Whitespace as `Properties.load` understands it (not Unicode whitespace).
fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

/// Finds the end of the key and the start of the value in one logical line
/// (`Properties.load0`).
fn split_key_value(chars: &[char]) -> (usize, usize) {
    let limit = chars.len();
    let mut key_len = 0;
    let mut value_start = limit;
    let mut has_sep = false;
    let mut preceding_backslash = false;
    while key_len < limit {
        let c = chars[key_len];
        if (c == '=' || c == ':') && !preceding_backslash {
            value_start = key_len + 1;
            has_sep = true;
            break;
        } else if is_ws(c) && !preceding_backslash {
            value_start = key_len + 1;
            break;
        }
        if c == '\\' {
            preceding_backslash = !preceding_backslash;
        } else {
            preceding_backslash = false;
        }
        key_len += 1;
    }
    while value_start < limit {
        let c = chars[value_start];
        if !is_ws(c) {
            if !has_sep && (c == '=' || c == ':') {
                has_sep = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    (key_len, value_start)
}

/// Processes escapes (`Properties.loadConvert`), combining `\u` surrogate pairs.
fn unescape(chars: &[char], line: usize, problems: &mut Vec<LexProblem>) -> String {
    let mut out = String::with_capacity(chars.len());
    let mut pending_high: Option<u16> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            flush_high(&mut pending_high, &mut out, line, problems);
            out.push(c);
            continue;
        }
        let Some(&e) = chars.get(i) else {
            // A lone trailing backslash cannot come out of the line reader; drop it like Java.
            break;
        };
        i += 1;
        if e != 'u' {
            flush_high(&mut pending_high, &mut out, line, problems);
            out.push(match e {
                't' => '\t',
                'n' => '\n',
                'r' => '\r',
                'f' => '\u{c}',
                other => other,
            });
            continue;
        }
        let digits: String = chars[i..].iter().take(4).collect();
        let unit = if digits.len() == 4 && digits.chars().all(|d| d.is_ascii_hexdigit()) {
            u16::from_str_radix(&digits, 16).ok()
        } else {
            None
        };
        let Some(unit) = unit else {
            flush_high(&mut pending_high, &mut out, line, problems);
            let escape = format!("\\u{digits}");
            problems.push(LexProblem {
                line,
                kind: LexProblemKind::MalformedUnicodeEscape {
                    escape: escape.clone(),
                },
            });
            out.push_str(&escape);
            i += digits.chars().count();
            continue;
        };
        i += 4;
        match unit {
            0xD800..=0xDBFF => {
                flush_high(&mut pending_high, &mut out, line, problems);
                pending_high = Some(unit);
            }
            0xDC00..=0xDFFF => match pending_high.take() {
                Some(high) => {
                    let scalar =
                        0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                    out.push(char::from_u32(scalar).unwrap_or('\u{FFFD}'));
                }
                None => {
                    problems.push(LexProblem {
                        line,
                        kind: LexProblemKind::LoneSurrogate { unit },
                    });
                    out.push('\u{FFFD}');
                }
            },
            _ => {
                flush_high(&mut pending_high, &mut out, line, problems);
                out.push(char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}'));
            }
        }
    }
    flush_high(&mut pending_high, &mut out, line, problems);
    out
}

fn flush_high(
    pending: &mut Option<u16>,
    out: &mut String,
    line: usize,
    problems: &mut Vec<LexProblem>,
) {
    if let Some(unit) = pending.take() {
        problems.push(LexProblem {
            line,
            kind: LexProblemKind::LoneSurrogate { unit },
        });
        out.push('\u{FFFD}');
    }
}

/// Splits text into logical lines (`Properties.LineReader`), tracking line numbers.
struct LineReader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    /// 1-based number of the natural line the next character belongs to.
    line: usize,
}

impl<'a> LineReader<'a> {
    fn new(text: &'a str) -> Self {
        LineReader {
            chars: text.chars().peekable(),
            line: 1,
        }
    }

    /// Consumes one character, counting `\n`, `\r` and `\r\n` as one line break each.
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
        } else if c == '\r' {
            if self.chars.peek() == Some(&'\n') {
                self.chars.next();
            }
            self.line += 1;
            // Report `\r\n` as a single `\n`.
            return Some('\n');
        }
        Some(c)
    }

    /// Returns the next logical line (without escapes processed) and the line it starts on.
    fn next_logical_line(&mut self) -> Option<(usize, Vec<char>)> {
        let mut buf: Vec<char> = Vec::new();
        let mut start_line = self.line;
        let mut skip_ws = true;
        let mut appended_line_begin = false;
        let mut is_new_line = true;
        let mut is_comment = false;
        let mut preceding_backslash = false;
        loop {
            let line_before = self.line;
            let Some(c) = self.bump() else {
                if buf.is_empty() || is_comment {
                    return None;
                }
                if preceding_backslash {
                    buf.pop();
                }
                return Some((start_line, buf));
            };
            if skip_ws {
                if is_ws(c) {
                    continue;
                }
                if !appended_line_begin && c == '\n' {
                    continue;
                }
                skip_ws = false;
                appended_line_begin = false;
            }
            if is_new_line {
                is_new_line = false;
                start_line = line_before;
                if c == '#' || c == '!' {
                    is_comment = true;
                    // Skip the rest of the comment line, whatever it ends with.
                    while let Some(&n) = self.chars.peek() {
                        if n == '\n' || n == '\r' {
                            break;
                        }
                        self.chars.next();
                    }
                    continue;
                }
            }
            if c != '\n' {
                buf.push(c);
                if c == '\\' {
                    preceding_backslash = !preceding_backslash;
                } else {
                    preceding_backslash = false;
                }
                continue;
            }
            // End of a natural line.
            if is_comment || buf.is_empty() {
                is_comment = false;
                is_new_line = true;
                skip_ws = true;
                buf.clear();
                continue;
            }
            if preceding_backslash {
                buf.pop();
                skip_ws = true;
                appended_line_begin = true;
                preceding_backslash = false;
                continue;
            }
            return Some((start_line, buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String)> {
        parse(text).into_iter().map(|e| (e.key, e.value)).collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn separators_equals_colon_and_whitespace() {
        assert_eq!(
            kv("a=1\nb:2\nc 3\nd = 4\ne : 5\nf\t\t6\n"),
            vec![
                pair("a", "1"),
                pair("b", "2"),
                pair("c", "3"),
                pair("d", "4"),
                pair("e", "5"),
                pair("f", "6"),
            ]
        );
    }

    #[test]
    fn only_one_separator_is_consumed() {
        assert_eq!(kv("a = = b\n"), vec![pair("a", "= b")]);
        assert_eq!(kv("a  :=b\n"), vec![pair("a", "=b")]);
        assert_eq!(kv("a b=c\n"), vec![pair("a", "b=c")]);
    }

    #[test]
    fn key_without_value_has_empty_value() {
        assert_eq!(
            kv("lonely\nempty=\nspaced =   \n"),
            vec![pair("lonely", ""), pair("empty", ""), pair("spaced", "")]
        );
    }

    #[test]
    fn trailing_whitespace_is_kept_in_value() {
        assert_eq!(kv("sep = _  \n"), vec![pair("sep", "_  ")]);
    }

    #[test]
    fn hash_and_bang_comment_lines_are_skipped() {
        assert_eq!(kv("# c1\n! c2\n   # indented\na=1\n"), vec![pair("a", "1")]);
    }

    #[test]
    fn inline_hash_is_part_of_the_value() {
        assert_eq!(
            kv("clusters = a, b   # defines cluster aliases\n"),
            vec![pair("clusters", "a, b   # defines cluster aliases")]
        );
    }

    #[test]
    fn backslash_continuation_drops_leading_whitespace() {
        assert_eq!(
            kv("topics = foo, \\\n        bar, \\\n\tbaz\n"),
            vec![pair("topics", "foo, bar, baz")]
        );
    }

    #[test]
    fn continuation_line_starting_with_hash_is_data() {
        assert_eq!(
            kv("a = x\\\n  # not a comment\n"),
            vec![pair("a", "x# not a comment")]
        );
    }

    #[test]
    fn comment_line_ending_in_backslash_does_not_continue() {
        assert_eq!(kv("# comment \\\na=1\n"), vec![pair("a", "1")]);
    }

    #[test]
    fn blank_line_after_continuation_ends_the_logical_line() {
        assert_eq!(kv("a = x\\\n\nb=2\n"), vec![pair("a", "x"), pair("b", "2")]);
    }

    #[test]
    fn even_backslashes_do_not_continue() {
        assert_eq!(
            kv("a = x\\\\\nb=2\n"),
            vec![pair("a", "x\\"), pair("b", "2")]
        );
    }

    #[test]
    fn trailing_backslash_at_end_of_input_is_dropped() {
        assert_eq!(kv("a = x\\"), vec![pair("a", "x")]);
    }

    #[test]
    fn escapes_are_processed() {
        assert_eq!(
            kv("a = \\t\\n\\r\\f\\u0041\\b\\\\\\z\n"),
            vec![pair("a", "\t\n\r\u{c}Ab\\z")]
        );
    }

    #[test]
    fn escaped_separators_stay_in_key() {
        assert_eq!(kv("a\\=b\\:c\\ d = v\n"), vec![pair("a=b:c d", "v")]);
    }

    #[test]
    fn flow_keys_with_arrow_are_plain_keys() {
        assert_eq!(
            kv("A->B.enabled = true\n"),
            vec![pair("A->B.enabled", "true")]
        );
    }

    #[test]
    fn surrogate_pair_escapes_combine() {
        let lexed = lex("k = \\uD83D\\uDE00\n");
        assert_eq!(lexed.entries[0].value, "😀");
        assert!(lexed.problems.is_empty());
    }

    #[test]
    fn lone_surrogate_becomes_replacement_and_is_reported() {
        let lexed = lex("k = \\uD83Dx\n");
        assert_eq!(lexed.entries[0].value, "\u{FFFD}x");
        assert_eq!(
            lexed.problems,
            vec![LexProblem {
                line: 1,
                kind: LexProblemKind::LoneSurrogate { unit: 0xD83D }
            }]
        );
    }

    #[test]
    fn malformed_unicode_escape_is_kept_and_reported() {
        let lexed = lex("a=1\nk = x\\u12G4y\nz = \\u12");
        assert_eq!(lexed.entries[1].value, "x\\u12G4y");
        assert_eq!(lexed.entries[2].value, "\\u12");
        assert_eq!(lexed.problems.len(), 2);
        assert_eq!(lexed.problems[0].line, 2);
        assert_eq!(lexed.problems[1].line, 3);
    }

    #[test]
    fn line_numbers_count_crlf_cr_and_lf_once_each() {
        let entries = parse("a=1\r\nb=2\rc=3\n\n# x\nd=4\\\n  5\ne=6");
        let lines: Vec<(String, usize)> = entries.into_iter().map(|e| (e.key, e.line)).collect();
        assert_eq!(
            lines,
            vec![
                ("a".into(), 1),
                ("b".into(), 2),
                ("c".into(), 3),
                ("d".into(), 6),
                ("e".into(), 8),
            ]
        );
    }

    #[test]
    fn line_number_is_where_the_key_starts_after_blank_lines() {
        let entries = parse("\n\n   \n  key = v\n");
        assert_eq!(entries[0].line, 4);
    }

    #[test]
    fn duplicate_keys_are_all_returned_in_order() {
        assert_eq!(kv("a=1\na=2\n"), vec![pair("a", "1"), pair("a", "2")]);
    }

    #[test]
    fn empty_and_whitespace_only_input_give_no_entries() {
        assert!(parse("").is_empty());
        assert!(parse(" \t\n\r\n\u{c}").is_empty());
        assert!(parse("# only a comment").is_empty());
    }

    #[test]
    fn render_then_parse_round_trips() {
        let cases = [
            ("plain", "value"),
            ("with space", " leading and trailing "),
            ("#hash", "!bang"),
            ("a=b:c", "x=y:z"),
            ("tab\tkey", "new\nline\rret\u{c}ff"),
            ("back\\slash", "ends with \\"),
            ("üñí", "código 😀"),
            ("", ""),
        ];
        let entries: Vec<Entry> = cases
            .iter()
            .map(|(k, v)| Entry {
                key: k.to_string(),
                value: v.to_string(),
                line: 0,
            })
            .collect();
        let text = render(&entries);
        assert!(text.is_ascii());
        let back: Vec<(String, String)> = kv(&text);
        let want: Vec<(String, String)> = cases.iter().map(|(k, v)| pair(k, v)).collect();
        // An empty key with an empty value renders as a blank `=` line, which Java reads as
        // key "" and value "": same as ours.
        assert_eq!(back, want);
    }

    /// Deterministic pseudo-random inputs (xorshift), standing in for the `properties_parse`
    /// fuzz target on stable: no panic, and rendering what was parsed parses to the same thing.
    #[test]
    fn arbitrary_input_never_panics_and_rerenders_stably() {
        const ALPHABET: &[char] = &[
            'a', 'b', '=', ':', ' ', '\t', '\u{c}', '\\', 'u', 'D', '8', '0', 'F', '#', '!', '\n',
            '\r', 'é', '😀', '-', '>', '.',
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            let len = (state % 40) as usize;
            let mut text = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
            }
            let first = parse(&text);
            let again = parse(&render(&first));
            let strip = |v: Vec<Entry>| -> Vec<(String, String)> {
                v.into_iter().map(|e| (e.key, e.value)).collect()
            };
            assert_eq!(strip(again), strip(first), "input {text:?}");
        }
    }
}
