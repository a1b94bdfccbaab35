//! One rule for every JSON input: files, stdin, result lines, configs.
//!
//! Errors name the source, the line and the column once, say "empty input"
//! for nothing, name a UTF-8 byte order mark and an array where an object
//! belongs, and cut long values so that a 10 KB field is not echoed whole.
//! Unknown fields are refused by the types themselves (`deny_unknown_fields`).

use lifecycle::domain::shorten;
use serde::de::DeserializeOwned;

use crate::failure::{Failure, Outcome};

/// Parses one JSON object `what` (such as "a model version") from `text`,
/// read from `source`; `line` is the line number of `text` within the
/// source when it is one line of many (NDJSON), else `None`.
pub fn parse_object<T: DeserializeOwned>(
    text: &str,
    source: &str,
    line: Option<usize>,
    what: &str,
) -> Outcome<T> {
    let place = |line_no: usize, column: usize| match line {
        Some(n) => format!("{source}, line {n}, column {column}"),
        None => format!("{source}, line {line_no}, column {column}"),
    };
    let fail = |at: String, message: String| Failure::error(format!("{at}: {message}"));
    if text.starts_with('\u{feff}') {
        return Err(fail(
            place(1, 1),
            "starts with a UTF-8 byte order mark; save the file as UTF-8 without one".into(),
        ));
    }
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        let at = match line {
            Some(n) => format!("{source}, line {n}"),
            None => source.to_string(),
        };
        return Err(fail(
            at,
            format!("empty input; expected {what} (a JSON object)"),
        ));
    }
    if !trimmed.starts_with('{') {
        let found = match trimmed.as_bytes()[0] {
            b'[' => "an array",
            b'"' => "a string",
            b'0'..=b'9' | b'-' => "a number",
            b't' | b'f' => "a boolean",
            b'n' => "null",
            _ => "something that is not JSON",
        };
        let offset = text.len() - trimmed.len();
        let line_no = text[..offset].matches('\n').count() + 1;
        let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
        return Err(fail(
            place(line_no, column),
            format!("expected an object ({what}), found {found}"),
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        // serde_json ends its message with " at line L column C": said once, in front.
        let message = full
            .rfind(" at line ")
            .map_or(full.as_str(), |cut| &full[..cut]);
        fail(place(e.line(), e.column()), shorten_quoted(message))
    })
}

/// Cuts every value serde quotes in `message` (between backticks or double
/// quotes) to a readable length.
fn shorten_quoted(message: &str) -> String {
    shorten_between(&shorten_between(message, '`'), '"')
}

fn shorten_between(text: &str, quote: char) -> String {
    let pieces: Vec<&str> = text.split(quote).collect();
    let mut out = String::with_capacity(text.len().min(512));
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            out.push(quote);
        }
        // Odd pieces lie between a pair of quotes, unless the last is unpaired.
        if i % 2 == 1 && i + 1 < pieces.len() {
            out.push_str(&shorten(piece));
        } else {
            out.push_str(piece);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Thing {
        name: String,
    }

    fn error(text: &str, line: Option<usize>) -> String {
        match parse_object::<Thing>(text, "x.json", line, "a thing") {
            Ok(thing) => format!("parsed {thing:?}"),
            Err(failure) => failure.message,
        }
    }

    #[test]
    fn each_kind_of_bad_input_is_named_with_one_place() {
        assert_eq!(
            error("", None),
            "x.json: empty input; expected a thing (a JSON object)"
        );
        assert_eq!(
            error("  \n ", Some(4)),
            "x.json, line 4: empty input; expected a thing (a JSON object)"
        );
        assert!(error("\u{feff}{}", None).contains("byte order mark"));
        assert_eq!(
            error("\n  [1, 2]", None),
            "x.json, line 2, column 3: expected an object (a thing), found an array"
        );
        let typo = error("{\"name\": \"a\",\n \"nmae\": 1}", None);
        assert!(typo.starts_with("x.json, line 2, column"), "{typo}");
        assert!(typo.contains("unknown field `nmae`"), "{typo}");
        assert_eq!(typo.matches("line").count(), 1, "{typo}");
        let line = error("{\"name\": 5}", Some(7));
        assert!(line.starts_with("x.json, line 7, column"), "{line}");
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "y".repeat(10_000);
        let message = error(&format!("{{\"{long}\": 1}}"), None);
        assert!(message.len() < 400, "{} bytes: {message}", message.len());
        assert!(message.contains("(10000 bytes)"), "{message}");
    }
}
