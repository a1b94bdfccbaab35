//! Model version numbers: strict SemVer 2.0.0, where build metadata never matters.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A model version number: strict [SemVer 2.0.0](https://semver.org).
///
/// Accepts `1.0.0`, `2.1.3`, `1.0.0-beta`, `1.0.0+build.5`; rejects `latest`,
/// `v1`, `2024-01-01`, `prod`, leading zeros and anything else that is not
/// SemVer.
///
/// Two versions that differ only in build metadata (`1.0.0+a`, `1.0.0+b`) have
/// the same precedence and are **the same version** everywhere here: equality,
/// ordering, hashing, lookups and duplicate checks all ignore build metadata.
/// (The `semver` crate's own `Ord` compares build metadata; this type does not.)
/// The text given is kept for display.
///
/// ```
/// use lifecycle_domain::Version;
/// let a: Version = "1.0.0+a".parse()?;
/// let b: Version = "1.0.0+b".parse()?;
/// assert_eq!(a, b);
/// assert!("1.0.0-beta".parse::<Version>()? < "1.0.0".parse::<Version>()?);
/// assert!("latest".parse::<Version>().is_err());
/// # Ok::<(), lifecycle_domain::DomainError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version(semver::Version);

impl Version {
    /// The longest version string accepted, in bytes.
    pub const MAX_LEN: usize = 256;

    /// Parses a strict SemVer 2.0.0 version.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let refuse = |reason: String| DomainError::InvalidVersion {
            input: input.to_string(),
            reason,
        };
        if input.len() > Self::MAX_LEN {
            return Err(refuse(format!(
                "it is {} bytes long, more than {}",
                input.len(),
                Self::MAX_LEN
            )));
        }
        semver::Version::parse(input)
            .map(Self)
            .map_err(|e| refuse(e.to_string()))
    }

    /// A release version `major.minor.patch`, without pre-release or build.
    pub fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self(semver::Version::new(major, minor, patch))
    }

    /// The underlying `semver` value, build metadata included.
    pub fn as_semver(&self) -> &semver::Version {
        &self.0
    }

    /// Whether this version satisfies a requirement such as `^2.1` or `>=1.2, <2`.
    pub fn matches(&self, requirement: &semver::VersionReq) -> bool {
        requirement.matches(&self.0)
    }

    /// The version without build metadata: the same for every spelling of one
    /// version, so adapters use it as a storage key.
    pub fn canonical(&self) -> String {
        let v = &self.0;
        if v.pre.is_empty() {
            format!("{}.{}.{}", v.major, v.minor, v.patch)
        } else {
            format!("{}.{}.{}-{}", v.major, v.minor, v.patch, v.pre)
        }
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp_precedence(&other.0)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Version {
    // Must agree with `Eq`: everything but build metadata.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.major.hash(state);
        self.0.minor.hash(state);
        self.0.patch.hash(state);
        self.0.pre.hash(state);
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Version {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Version {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.0.to_string()
    }
}

impl From<semver::Version> for Version {
    fn from(v: semver::Version) -> Self {
        Self(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn the_seed_examples_parse_or_fail_as_documented() {
        for good in ["1.0.0", "2.1.3", "1.0.0-beta"] {
            assert_eq!(v(good).to_string(), good);
        }
        for bad in ["latest", "v1", "2024-01-01", "prod", "", "1.0", " 1.0.0"] {
            let err = Version::parse(bad).unwrap_err();
            assert!(matches!(err, DomainError::InvalidVersion { .. }), "{bad}");
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn build_metadata_is_ignored_for_equality_order_and_hash() {
        let (a, b) = (v("1.0.0+a"), v("1.0.0+b"));
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert_eq!(HashSet::from([a.clone(), b.clone()]).len(), 1);
        assert_eq!(a.canonical(), "1.0.0");
        assert_eq!(v("1.0.0-rc.1+x").canonical(), "1.0.0-rc.1");
        assert_eq!(a.to_string(), "1.0.0+a", "display keeps what was given");
    }

    #[test]
    fn requirements_select_compatible_versions() {
        let req = semver::VersionReq::parse("^2.1").unwrap();
        assert!(v("2.3.0").matches(&req));
        assert!(!v("3.0.0").matches(&req));
        assert!(!v("2.0.9").matches(&req));
    }

    #[test]
    fn overlong_versions_are_refused_with_their_length() {
        let long = format!("1.0.0-{}", "a".repeat(300));
        let err = Version::parse(&long).unwrap_err();
        assert!(err.to_string().contains("306 bytes"), "{err}");
    }

    #[test]
    fn json_form_is_the_plain_string() {
        let json = serde_json::to_string(&v("1.2.3-beta.1+sha.5")).unwrap();
        assert_eq!(json, "\"1.2.3-beta.1+sha.5\"");
        assert_eq!(
            serde_json::from_str::<Version>(&json).unwrap(),
            v("1.2.3-beta.1")
        );
        assert!(serde_json::from_str::<Version>("\"v1\"").is_err());
    }
}
