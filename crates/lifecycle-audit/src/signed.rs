//! Signed checkpoints of the audit chain's head, as Certificate Transparency
//! anchors its logs: proof, kept outside the store, that the chain reached
//! a given entry with a given hash.
//!
//! [`ModelAuditLog::sign_head`] signs the current head with an ed25519 key
//! kept outside the store, records the checkpoint in the log itself (so
//! every backup carries it) and returns it to be kept elsewhere.
//! [`ModelAuditLog::verify_against`] proves the current chain extends an
//! earlier signed head: the chain verifies, the entry at the checkpoint's
//! sequence still has the signed hash, and the signature is the key's.
//!
//! What this protects against: anyone who can only write the store's files
//! (or a backup) cannot truncate the log below, or rewrite it up to, a
//! checkpoint kept outside, even recomputing every hash; every such edit
//! fails `verify_against`. What it does not: a holder of the signing key can
//! sign anything; entries after the last kept checkpoint are protected only
//! by the chain and the state replay until the next one is signed; a
//! checkpoint that was never kept outside proves nothing.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use lifecycle_domain::chrono::{DateTime, SecondsFormat, Utc};
use lifecycle_domain::{Actor, AuditEvent, AuditEventKind, AuditHash, ChainHead};
use lifecycle_store::{AuditQuery, Commit};
use serde::{Deserialize, Serialize};

use crate::{AuditError, ModelAuditLog};

/// A signed statement that the chain's entry `sequence` had hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedCheckpoint {
    /// The entry signed.
    pub sequence: u64,
    /// Its hash.
    pub hash: AuditHash,
    /// When it was signed.
    pub signed_at: DateTime<Utc>,
    /// The ed25519 public key that signed it, hex.
    pub public_key: String,
    /// The signature of [`SignedCheckpoint::message`], hex.
    pub signature: String,
}

impl SignedCheckpoint {
    /// The exact bytes signed.
    pub fn message(sequence: u64, hash: &AuditHash, signed_at: DateTime<Utc>) -> Vec<u8> {
        format!(
            "lifecycle-audit-checkpoint\n{sequence}\n{hash}\n{}",
            signed_at.to_rfc3339_opts(SecondsFormat::Nanos, true)
        )
        .into_bytes()
    }

    /// Signs `head` at `now` with `key`.
    pub fn sign(head: ChainHead, now: DateTime<Utc>, key: &SigningKey) -> Self {
        let signature = key.sign(&Self::message(head.sequence, &head.hash, now));
        Self {
            sequence: head.sequence,
            hash: head.hash,
            signed_at: now,
            public_key: hex::encode(key.verifying_key().as_bytes()),
            signature: hex::encode(signature.to_bytes()),
        }
    }

    /// Whether the signature is `public_key`'s over this checkpoint.
    pub fn signature_holds(&self, public_key: &VerifyingKey) -> bool {
        let Some(bytes) = unhex::<64>(&self.signature) else {
            return false;
        };
        hex::encode(public_key.as_bytes()) == self.public_key
            && public_key
                .verify(
                    &Self::message(self.sequence, &self.hash, self.signed_at),
                    &Signature::from_bytes(&bytes),
                )
                .is_ok()
    }
}

/// A signing key from its 32-byte seed written as 64 hex digits (what
/// `lifecycle audit keygen` writes); surrounding whitespace is ignored.
pub fn signing_key(text: &str) -> Result<SigningKey, String> {
    unhex::<32>(text.trim())
        .map(|seed| SigningKey::from_bytes(&seed))
        .ok_or_else(|| "a signing key is 64 hex digits (an ed25519 seed); make one with `lifecycle audit keygen`".to_string())
}

/// A public key from 64 hex digits.
pub fn verifying_key(text: &str) -> Result<VerifyingKey, String> {
    unhex::<32>(text.trim())
        .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
        .ok_or_else(|| "a public key is 64 hex digits (an ed25519 key)".to_string())
}

/// What [`ModelAuditLog::verify_against`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtendsCheckpoint {
    /// The checkpoint's entry.
    pub sequence: u64,
    /// Entries after it in the current chain.
    pub entries_since: u64,
    /// Why the chain does not extend it; `None` when it does.
    pub problem: Option<String>,
}

impl ModelAuditLog {
    /// Signs the current head with `key`, records the checkpoint as an
    /// audit entry (so backups carry it) and returns it, to be kept outside
    /// the store. `None` when the log is empty.
    pub async fn sign_head(
        &self,
        key: &SigningKey,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<SignedCheckpoint>, AuditError> {
        let Some(head) = self.store.audit_head().await? else {
            return Ok(None);
        };
        let checkpoint = SignedCheckpoint::sign(head, now, key);
        let event = AuditEvent::new(
            AuditEventKind::ConfigurationChanged,
            actor,
            format!(
                "signed checkpoint of the audit chain at entry {}",
                head.sequence
            ),
            now,
        )
        .with_detail("checkpointSequence", checkpoint.sequence)
        .with_detail("checkpointHash", checkpoint.hash)
        .with_detail("publicKey", &checkpoint.public_key)
        .with_detail("signature", &checkpoint.signature)
        .with_detail("signedAt", now.to_rfc3339_opts(SecondsFormat::Nanos, true));
        self.store.commit(Commit::audit_only().audit(event)).await?;
        Ok(Some(checkpoint))
    }

    /// Whether the current chain extends `checkpoint`, signed by
    /// `public_key`: the signature holds, the whole chain verifies, and its
    /// entry at the checkpoint's sequence has the signed hash.
    pub async fn verify_against(
        &self,
        checkpoint: &SignedCheckpoint,
        public_key: &VerifyingKey,
    ) -> Result<ExtendsCheckpoint, AuditError> {
        let mut found = ExtendsCheckpoint {
            sequence: checkpoint.sequence,
            entries_since: 0,
            problem: None,
        };
        let fail = |mut found: ExtendsCheckpoint, why: String| {
            found.problem = Some(why);
            Ok(found)
        };
        if !checkpoint.signature_holds(public_key) {
            return fail(found, "its signature is not this key's over this checkpoint: it was forged or altered, or another key signed it".into());
        }
        let report = self.verify().await?;
        if let Some(broken) = report.broken {
            return fail(found, format!("the chain itself is broken: {broken}"));
        }
        let head = report.verified_head.map_or(0, |h| h.sequence);
        if head < checkpoint.sequence {
            return fail(
                found,
                format!(
                    "the log ends at entry {head}, before the signed entry {}: it was truncated",
                    checkpoint.sequence
                ),
            );
        }
        let at = AuditQuery::all().sequences(checkpoint.sequence..=checkpoint.sequence);
        let entry = self.store.audit(&at).await?.into_iter().next();
        match entry {
            None => fail(
                found,
                format!(
                    "entry {} was pruned; verify against a later checkpoint",
                    checkpoint.sequence
                ),
            ),
            Some(entry) if entry.hash != checkpoint.hash => fail(
                found,
                format!(
                    "entry {} has hash {}, not the signed {}: the log was rewritten",
                    checkpoint.sequence, entry.hash, checkpoint.hash
                ),
            ),
            Some(_) => {
                found.entries_since = head - checkpoint.sequence;
                Ok(found)
            }
        }
    }
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}
