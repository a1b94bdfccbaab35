//! The one error type of the domain: every rule a value can break, with what to do about it.

use crate::status::ModelStatus;

/// A value broke one of the domain's rules. Nothing was changed.
///
/// Each message says what was wrong and how to fix it, so that it can be shown
/// to a user as it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// A version string is not strict SemVer 2.0.0.
    #[error("invalid version {:?}: {reason}; use semantic versioning such as 1.0.0, 2.1.3 or 1.0.0-beta", crate::shorten(.input))]
    InvalidVersion {
        /// What was given.
        input: String,
        /// Why it was refused.
        reason: String,
    },

    /// A model id is empty, too long or holds a character providers never use.
    #[error("invalid model id {:?}: {reason}; ids may hold letters, digits and - _ . : / @ (at most {max} bytes)", crate::shorten(.input), max = crate::ModelId::MAX_LEN)]
    InvalidModelId {
        /// What was given.
        input: String,
        /// Why it was refused.
        reason: String,
    },

    /// An actor name (who did something) is unusable.
    #[error("invalid actor {:?}: {reason}; name a person or a system, e.g. \"alice\" or \"ci-pipeline\"", crate::shorten(.input))]
    InvalidActor {
        /// What was given.
        input: String,
        /// Why it was refused.
        reason: String,
    },

    /// A status change that the transition table does not allow.
    #[error("illegal transition from {from} to {to}; from {from} a version may go to: {allowed}")]
    IllegalTransition {
        /// The current status.
        from: ModelStatus,
        /// The requested status.
        to: ModelStatus,
        /// The statuses reachable from `from`, for the message.
        allowed: AllowedTargets,
    },

    /// A field holds a value outside its valid range.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// The field, as named in JSON (`costInfo.inputPer1k`).
        field: &'static str,
        /// What is wrong and what would be valid.
        reason: String,
    },
}

/// The statuses a version may move to, rendered as a comma-separated list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedTargets(pub Vec<ModelStatus>);

impl std::fmt::Display for AllowedTargets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("nothing (retired is final)");
        }
        let names: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&names.join(", "))
    }
}

impl DomainError {
    /// Shorthand for [`DomainError::InvalidField`].
    pub fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

/// A value as a message shows it: whole up to 64 characters, else its first
/// 48 and its length, so that a 10 KB input is not echoed back whole.
///
/// ```
/// use lifecycle_domain::shorten;
/// assert_eq!(shorten("gpt-4o"), "gpt-4o");
/// assert_eq!(shorten(&"x".repeat(10_000)), format!("{}... (10000 bytes)", "x".repeat(48)));
/// ```
pub fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().count() <= 64 {
        return text.into();
    }
    let head: String = text.chars().take(48).collect();
    format!("{head}... ({} bytes)", text.len()).into()
}

/// Checks that a number is a fraction in [0, 1].
pub(crate) fn fraction(field: &'static str, value: f64) -> Result<(), DomainError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(DomainError::field(
            field,
            format!("{value} is outside [0, 1]; give a fraction such as 0.05 for 5 %"),
        ))
    }
}
