//! What an application sends its provider for a version: the serving specification.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{shorten, DomainError, ModelId};

/// How to call one version: the provider's model name, where, with which
/// request parameters and which system prompt. Fixed when the version is
/// registered (a change is a new version), returned with every route, so
/// that the router's answer can be acted on. lifecycle never calls the
/// provider itself.
///
/// ```
/// use lifecycle_domain::*;
/// let spec = ServingSpec::new("gpt-4o-2024-08-06")
///     .with_endpoint("https://my-resource.openai.azure.com/deployments/gpt4o-prod")
///     .with_parameter("temperature", 0.2)
///     .with_prompt(PromptRef::new("support-agent", "14"));
/// spec.validate()?;
/// assert_eq!(spec.provider_model.as_deref(), Some("gpt-4o-2024-08-06"));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServingSpec {
    /// The model name the provider's API takes (`gpt-4o-2024-08-06`,
    /// `claude-3-5-sonnet-20241022`, `anthropic.claude-3-5-sonnet-20240620-v1:0`).
    /// Registration fills in the model id when it is not given; read it with
    /// [`Self::provider_model_of`].
    #[serde(default)]
    pub provider_model: Option<String>,
    /// The endpoint URL or deployment name to send requests to, when it is
    /// not the provider's default (Azure deployments, self-hosted servers).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Request parameters sent with every call (`temperature`, `max_tokens`,
    /// `top_p`, ...): a JSON object of at most [`Self::MAX_PARAMETERS`]
    /// entries and [`Self::MAX_PARAMETERS_BYTES`] bytes, nested at most
    /// [`Self::MAX_DEPTH`] deep.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
    /// The system prompt this version ships with.
    #[serde(default)]
    pub prompt: Option<PromptRef>,
}

/// A named, versioned system prompt kept elsewhere (a prompt registry, a
/// file in the application's repository).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromptRef {
    /// Its name, such as `support-agent`.
    pub name: String,
    /// Its version: a number, a tag or a content hash.
    pub version: String,
}

impl PromptRef {
    /// A prompt reference; checked by [`ServingSpec::validate`].
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
        }
    }
}

impl ServingSpec {
    /// Longest provider model name, endpoint, prompt name or version, in bytes.
    pub const MAX_NAME_LEN: usize = 256;
    /// Longest endpoint, in bytes.
    pub const MAX_ENDPOINT_LEN: usize = 2048;
    /// Most entries in `parameters`, counted at every depth.
    pub const MAX_PARAMETERS: usize = 64;
    /// Largest `parameters`, as compact JSON.
    pub const MAX_PARAMETERS_BYTES: usize = 8192;
    /// Deepest nesting of objects and arrays inside `parameters`.
    pub const MAX_DEPTH: usize = 4;

    /// A specification naming the provider's model.
    pub fn new(provider_model: impl Into<String>) -> Self {
        Self {
            provider_model: Some(provider_model.into()),
            ..Self::default()
        }
    }

    /// The same, sent to `endpoint`.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The same, with one more request parameter.
    pub fn with_parameter(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }

    /// The same, shipping `prompt`.
    pub fn with_prompt(mut self, prompt: PromptRef) -> Self {
        self.prompt = Some(prompt);
        self
    }

    /// The provider's model name for a version of `model_id`: the one
    /// given, else the model id.
    pub fn provider_model_of<'a>(&'a self, model_id: &'a ModelId) -> &'a str {
        self.provider_model.as_deref().unwrap_or(model_id.as_str())
    }

    /// Checks every field: names of printable characters without spaces,
    /// within their lengths; parameters within their bounds.
    pub fn validate(&self) -> Result<(), DomainError> {
        if let Some(name) = &self.provider_model {
            check_name("serving.providerModel", name, Self::MAX_NAME_LEN)?;
        }
        if let Some(endpoint) = &self.endpoint {
            check_name("serving.endpoint", endpoint, Self::MAX_ENDPOINT_LEN)?;
        }
        if let Some(prompt) = &self.prompt {
            check_name("serving.prompt.name", &prompt.name, Self::MAX_NAME_LEN)?;
            check_name(
                "serving.prompt.version",
                &prompt.version,
                Self::MAX_NAME_LEN,
            )?;
        }
        self.check_parameters()
    }

    fn check_parameters(&self) -> Result<(), DomainError> {
        const FIELD: &str = "serving.parameters";
        let mut entries = 0;
        for (key, value) in &self.parameters {
            check_key(key)?;
            entries += 1 + count(key, value, 1)?;
        }
        if entries > Self::MAX_PARAMETERS {
            return Err(DomainError::field(
                FIELD,
                format!(
                    "holds {entries} entries (nested ones counted); at most {} are kept",
                    Self::MAX_PARAMETERS
                ),
            ));
        }
        let bytes = serde_json::to_vec(&self.parameters).map_or(usize::MAX, |b| b.len());
        if bytes > Self::MAX_PARAMETERS_BYTES {
            return Err(DomainError::field(
                FIELD,
                format!(
                    "is {bytes} bytes of JSON; at most {} are kept (keep prompts and long texts elsewhere, \
                     and name them with serving.prompt)",
                    Self::MAX_PARAMETERS_BYTES
                ),
            ));
        }
        Ok(())
    }
}

/// How many entries `value` (under `key`, at `depth`) holds below itself.
fn count(key: &str, value: &Value, depth: usize) -> Result<usize, DomainError> {
    let children: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => {
            for inner in map.keys() {
                check_key(inner)?;
            }
            map.values().collect()
        }
        Value::String(text) => {
            check_value_text(key, text)?;
            return Ok(0);
        }
        _ => return Ok(0),
    };
    if depth > ServingSpec::MAX_DEPTH {
        return Err(DomainError::field(
            "serving.parameters",
            format!(
                "{:?} nests deeper than {} levels",
                shorten(key),
                ServingSpec::MAX_DEPTH
            ),
        ));
    }
    let mut total = 0;
    for child in children {
        total += 1 + count(key, child, depth + 1)?;
    }
    Ok(total)
}

fn check_key(key: &str) -> Result<(), DomainError> {
    if key.is_empty() || key.len() > 64 || key.chars().any(|c| c.is_control()) {
        return Err(DomainError::field(
            "serving.parameters",
            format!(
                "{:?} is not a parameter name; use 1 to 64 printable characters, such as temperature",
                shorten(key)
            ),
        ));
    }
    Ok(())
}

fn check_value_text(key: &str, text: &str) -> Result<(), DomainError> {
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(DomainError::field(
            "serving.parameters",
            format!("{:?} holds control characters", shorten(key)),
        ));
    }
    Ok(())
}

fn check_name(field: &'static str, name: &str, max: usize) -> Result<(), DomainError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(DomainError::field(
            field,
            format!(
                "{:?} is not usable; give 1 to {max} bytes without spaces or control characters",
                shorten(name)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_id_is_the_default_provider_model() {
        let id = ModelId::new("gpt-4o").unwrap();
        assert_eq!(ServingSpec::default().provider_model_of(&id), "gpt-4o");
        let spec = ServingSpec::new("gpt-4o-2024-08-06");
        assert_eq!(spec.provider_model_of(&id), "gpt-4o-2024-08-06");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: [(ServingSpec, &str); 7] = [
            (ServingSpec::new(""), "serving.providerModel"),
            (ServingSpec::new("gpt 4"), "serving.providerModel"),
            (
                ServingSpec::new("m").with_endpoint("x".repeat(3000)),
                "serving.endpoint",
            ),
            (
                ServingSpec::new("m").with_prompt(PromptRef::new("p", "")),
                "serving.prompt.version",
            ),
            (
                ServingSpec::new("m").with_parameter("", 1),
                "serving.parameters",
            ),
            (
                ServingSpec::new("m").with_parameter("stop", "a\u{7}b"),
                "serving.parameters",
            ),
            (
                ServingSpec::new("m").with_parameter("x", serde_json::json!([[[[[1]]]]])),
                "serving.parameters",
            ),
        ];
        for (spec, field) in cases {
            let err = spec.validate().unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn parameters_are_bounded_in_entries_and_bytes() {
        let mut many = ServingSpec::new("m");
        for i in 0..=ServingSpec::MAX_PARAMETERS {
            many = many.with_parameter(format!("p{i}"), i);
        }
        assert!(many
            .validate()
            .unwrap_err()
            .to_string()
            .contains("65 entries"));
        let nested = ServingSpec::new("m").with_parameter("stop", vec!["a"; 64]);
        assert!(nested.validate().is_err(), "nested entries count");
        let big = ServingSpec::new("m").with_parameter("logit_bias", "x".repeat(9000));
        assert!(big
            .validate()
            .unwrap_err()
            .to_string()
            .contains("bytes of JSON"));
        let fine = ServingSpec::new("m")
            .with_parameter("temperature", 0.2)
            .with_parameter("max_tokens", 1024)
            .with_parameter("stop", vec!["\n\n"])
            .with_parameter(
                "response_format",
                serde_json::json!({"type": "json_object"}),
            );
        fine.validate().unwrap();
        let text = serde_json::to_string(&fine).unwrap();
        let back: ServingSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, fine);
    }
}
