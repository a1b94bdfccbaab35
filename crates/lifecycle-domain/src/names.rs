//! Validated names: model ids as providers spell them, and actors who change things.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Checks the rules shared by every name: not empty, at most `max_len` bytes,
/// and every character accepted by `allowed`. Returns the reason on failure.
fn check_name(input: &str, max_len: usize, allowed: fn(char) -> bool) -> Result<(), String> {
    if input.is_empty() {
        return Err("it is empty".into());
    }
    if input.len() > max_len {
        return Err(format!("it is {} bytes long", input.len()));
    }
    match input.char_indices().find(|&(_, c)| !allowed(c)) {
        Some((at, c)) => Err(format!("character {c:?} at byte {at} is not allowed")),
        None => Ok(()),
    }
}

/// The id of a model as providers and gateways spell it: `gpt-4-turbo`,
/// `azure/gpt-4o-2024-08-06`, `bedrock/anthropic.claude-3-sonnet-20240229-v1:0`,
/// `ft:gpt-3.5-turbo:acme::8abc`.
///
/// ASCII letters, digits and `- _ . : / @`, 1 to 256 bytes.
///
/// ```
/// use lifecycle_domain::ModelId;
/// let id: ModelId = "azure/gpt-4o-2024-08-06".parse()?;
/// assert_eq!(id.as_str(), "azure/gpt-4o-2024-08-06");
/// assert!("gpt 4".parse::<ModelId>().is_err());
/// # Ok::<(), lifecycle_domain::DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelId(String);

impl ModelId {
    /// The longest id accepted, in bytes.
    pub const MAX_LEN: usize = 256;

    /// Validates and wraps an id.
    pub fn new(id: impl Into<String>) -> Result<Self, DomainError> {
        let id = id.into();
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.:/@".contains(c);
        match check_name(&id, Self::MAX_LEN, allowed) {
            Ok(()) => Ok(Self(id)),
            Err(reason) => Err(DomainError::InvalidModelId { input: id, reason }),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who did something: a person, a pipeline, or the system itself
/// (`auto-rollback`, `maintenance`). Recorded in every audit entry.
///
/// Any printable text of 1 to 128 bytes; no control characters, no leading or
/// trailing whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Actor(String);

impl Actor {
    /// The longest actor name accepted, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Validates and wraps an actor name.
    pub fn new(name: impl Into<String>) -> Result<Self, DomainError> {
        let name = name.into();
        let checked = check_name(&name, Self::MAX_LEN, |c| !c.is_control()).and_then(|()| {
            if name.trim() == name {
                Ok(())
            } else {
                Err("it has leading or trailing whitespace".into())
            }
        });
        match checked {
            Ok(()) => Ok(Self(name)),
            Err(reason) => Err(DomainError::InvalidActor {
                input: name,
                reason,
            }),
        }
    }

    /// The actor that the system itself uses for automatic actions of `what`
    /// (`system:maintenance`). Always valid for ASCII `what`.
    pub fn system(what: &str) -> Result<Self, DomainError> {
        Self::new(format!("system:{what}"))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! text_conversions {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl FromStr for $ty {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }
        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.0
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_conversions!(ModelId);

// Lets maps keyed by `ModelId` be searched with a `&str` (hash and equality
// are the inner string's, as `Borrow` requires).
impl std::borrow::Borrow<str> for ModelId {
    fn borrow(&self) -> &str {
        &self.0
    }
}
text_conversions!(Actor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_provider_ids_are_accepted() {
        for id in [
            "gpt-4-turbo",
            "azure/gpt-4o-2024-08-06",
            "bedrock/anthropic.claude-3-sonnet-20240229-v1:0",
            "ft:gpt-3.5-turbo:acme::8abc",
            "vertex_ai/gemini-1.5-pro@001",
            "a",
        ] {
            assert_eq!(ModelId::new(id).map(|m| m.to_string()), Ok(id.to_string()));
        }
        assert!(ModelId::new("x".repeat(256)).is_ok());
    }

    #[test]
    fn bad_ids_are_typed_errors_naming_the_problem() {
        let cases = [
            ("", "empty"),
            ("gpt 4", "' '"),
            ("gpt-4\n", "'\\n'"),
            ("gpt\t4", "'\\t'"),
            ("gpt-4\u{7f}", "'\\u{7f}'"),
            ("modèle", "'è'"),
            ("a+b", "'+'"),
        ];
        for (input, needle) in cases {
            match ModelId::new(input) {
                Err(DomainError::InvalidModelId { input: got, reason }) => {
                    assert_eq!(got, input);
                    assert!(reason.contains(needle), "{reason} lacks {needle}");
                }
                other => panic!("{input:?} gave {other:?}"),
            }
        }
        let long = ModelId::new("x".repeat(257)).unwrap_err();
        assert!(long.to_string().contains("257 bytes"), "{long}");
    }

    #[test]
    fn ids_round_trip_through_json_and_reject_bad_ones() {
        let id = ModelId::new("ft:gpt-3.5-turbo:acme::8abc").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"ft:gpt-3.5-turbo:acme::8abc\"");
        assert_eq!(serde_json::from_str::<ModelId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<ModelId>("\"has space\"").is_err());
    }

    #[test]
    fn actors_accept_names_and_reject_blank_or_control_text() {
        assert_eq!(Actor::new("Alice Smith").unwrap().as_str(), "Alice Smith");
        assert_eq!(
            Actor::system("maintenance").unwrap().as_str(),
            "system:maintenance"
        );
        for bad in ["", " alice", "bob ", "eve\u{0}", "x\ny"] {
            assert!(
                matches!(Actor::new(bad), Err(DomainError::InvalidActor { .. })),
                "{bad:?}"
            );
        }
        assert!(Actor::new("a".repeat(129)).is_err());
    }
}
