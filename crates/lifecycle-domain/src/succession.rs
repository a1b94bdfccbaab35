//! What a deployment does to the version it displaces: a rule the policy
//! engine decides (from its settings) and the registry applies, so the
//! registry holds no policy of its own.

/// What becomes of the active version when another takes its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Displaced {
    /// Deprecated, with the new version as its replacement and the default
    /// grace period before its end of life.
    Deprecated,
    /// Deactivated: inactive, with no end of life.
    Deactivated,
}

/// The rules for succession the registry is given: what becomes of a
/// displaced active version, and the grace period a deprecation gets when
/// no one names one (a rollback's, a deprecation without `grace_days`).
///
/// ```
/// use lifecycle_domain::{Displaced, Succession};
/// let rules = Succession::default();
/// assert_eq!((rules.displaced, rules.default_grace_period_days), (Displaced::Deprecated, 90));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Succession {
    /// What becomes of the displaced active version.
    pub displaced: Displaced,
    /// Days between deprecation and end of life unless given.
    pub default_grace_period_days: u32,
}

impl Default for Succession {
    /// The default policy's: deprecate, 90 days of grace.
    fn default() -> Self {
        Self {
            displaced: Displaced::Deprecated,
            default_grace_period_days: 90,
        }
    }
}
